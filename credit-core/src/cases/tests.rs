//! Repairs, objections and the feed over a store filled by real imports (in memory), with the
//! compiled-in joint-check and disclosure rules.

use super::*;
use crate::checks::{CheckRequest, Checker, Verdict};
use crate::engine::MemoryEngine;
use crate::feed::{ChangeKind, FeedEvent, sweep};
use crate::ident::Codebook;
use crate::import::{ImportKind, ImportOptions, ImportTables, Quiet, import_files};
use crate::model::RecordDetails;

const DEBTOR: &str = "11010519491231002X";
const SHOP: &str = "92340602MA2PBMEM24";
const TRADER: &str = "91440300568520498A";

use crate::checks::tests::SUBJECTS;

const LISTS: &str = "MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,RDYJ,LRRQ,YCRQ,ZT\n\
失信被执行人,张三,,11010519491231002X,北京市朝阳区人民法院,（2023）京0105执123号,2024-01-01,2027-01-01,有效\n\
SERIOUS_VIOLATION,杜集区李记五金店,92340602MA2PBMEM24,,淮北市市场监督管理局,淮市监严〔2024〕1号,2024-02-01,,有效\n\
TAX_A_GRADE,深圳市某某贸易有限公司,91440300568520498A,,国家税务总局深圳市税务局,深税A〔2024〕8号,2024-04-01,2025-04-01,有效\n";

/// A fine of the shop decided under NDRC Order No. 36 (general: three months to a year).
const PENALTIES: &str = "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG,CF_ZT\n\
杜集区李记五金店,92340602MA2PBMEM24,淮杜应急罚〔2026〕3号,罚款,0.5,2026-04-15,淮北市杜集区应急管理局,有效\n";

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn store() -> Store<MemoryEngine> {
    imported(&[(ImportKind::Subject, "s.csv", SUBJECTS), (ImportKind::List, "l.csv", LISTS)])
}

/// [`store`] with the shop's fine.
fn store_with_fine() -> Store<MemoryEngine> {
    imported(&[
        (ImportKind::Subject, "s.csv", SUBJECTS),
        (ImportKind::List, "l.csv", LISTS),
        (ImportKind::Penalty, "p.csv", PENALTIES),
    ])
}

fn imported(files: &[(ImportKind, &str, &str)]) -> Store<MemoryEngine> {
    let store = Store::open(MemoryEngine::new()).expect("store");
    let dir = tempfile::tempdir().expect("dir");
    for &(kind, name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let options = ImportOptions { strict: true, ..ImportOptions::new(kind, date("2026-11-23")) };
        let summary = import_files(&store, &[path], &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet)
            .expect("import");
        assert_eq!(summary.rejected, 0);
    }
    store
}

/// The list entry of type `list_type` of the subject with `code`.
fn entry(store: &Store<MemoryEngine>, code: &str, list_type: &str) -> RecordId {
    let subject = store.find_subject_id(code).expect("read").expect("subject");
    let entries = store.list_entries_of(subject).expect("entries");
    entries.iter().find(|e| e.list_type == list_type).map(|e| e.record).expect("entry")
}

fn listed_on_check(store: &Store<MemoryEngine>, code: &str, on: &str) -> bool {
    let request = CheckRequest {
        identifier: code.into(),
        item: "GOV_PROCUREMENT".into(),
        as_of: date(on),
        department: Some("市财政局".into()),
    };
    let result = Checker::new(store, crate::rules::RuleSet::builtin()).evaluate(&request).expect("check");
    result.verdict == Verdict::Block
}

fn clerk(name: &str) -> Operator {
    Operator {
        name: name.into(),
        role: Some("regulator".into()),
        department: Some("淮北市市场监督管理局".into()),
        key_id: None,
    }
}

fn decision(action: Action, on: &str) -> Decision {
    Decision { action, operator: clerk("王审核"), note: None, on: date(on), effective: None, correction: None }
}

/// A complete application: fulfilment evidence and the subject's commitment, made on `on`.
fn application(on: &str) -> RepairApplication {
    RepairApplication {
        evidence: vec!["淮财缴〔2026〕118号 罚款缴纳凭证".into()],
        commitment: Some(CommitmentText {
            text: "本店承诺所提交材料真实有效，如有违反愿意承担相应责任。".into(),
            made_on: date(on),
        }),
        acting_for: None,
    }
}

fn apply(flow: &Workflow<'_, MemoryEngine>, record: RecordId, reason: &str, on: &str) -> Result<Case, CaseError> {
    flow.apply(record, clerk("李四"), reason, date(on), application(on))
}

/// The shop's fine.
fn fine(store: &Store<MemoryEngine>) -> RecordId {
    let subject = store.find_subject_id(SHOP).expect("read").expect("subject");
    let records = store.records_of(subject, None).expect("records");
    records.iter().find(|r| r.category == crate::model::RecordCategory::Penalty).map(|r| r.id).expect("fine")
}

fn feed(store: &Store<MemoryEngine>) -> Vec<FeedEvent> {
    store.feed(0, usize::MAX).expect("feed")
}

#[test]
fn a_repair_runs_apply_accept_approve_and_ends_the_measures_from_its_effective_date() {
    let store = store();
    let rules = DisclosureRules::builtin();
    let flow = Workflow::new(&store, &rules);
    let record = entry(&store, SHOP, "SERIOUS_VIOLATION");

    // A list entry has no minimum window: its listing authority decides. But the application needs
    // evidence and a commitment (Order 36's conditions 二 and 三).
    let bare = flow.open(Action::Apply, record, clerk("李四"), "fine paid, rectified", date("2025-02-01"));
    assert!(matches!(bare, Err(CaseError::NoEvidence { .. })), "{bare:?}");
    let no_commitment = RepairApplication { commitment: None, ..application("2025-02-01") };
    let refused = flow.apply(record, clerk("李四"), "rectified", date("2025-02-01"), no_commitment);
    assert!(matches!(&refused, Err(e @ CaseError::NoCommitment { .. }) if e.refusal() == Some("no_credit_commitment")));
    let later = application("2025-02-02");
    let refused = flow.apply(record, clerk("李四"), "rectified", date("2025-02-01"), later);
    assert!(matches!(refused, Err(CaseError::NoCommitment { .. })), "a commitment dated after the application");
    let blank = RepairApplication { evidence: vec![" ".into()], ..application("2025-02-01") };
    let refused = flow.apply(record, clerk("李四"), "rectified", date("2025-02-01"), blank);
    assert!(matches!(refused, Err(CaseError::NoEvidence { .. })), "blank evidence is none");
    assert!(flow.cases_of(record).expect("cases").is_empty(), "refusals open nothing");

    let case = apply(&flow, record, "fine paid, rectified", "2025-02-01").expect("apply");
    assert_eq!((case.kind, case.state, case.version), (CaseKind::Repair, CaseState::Applied, 1));
    assert_eq!(case.evidence, vec!["淮财缴〔2026〕118号 罚款缴纳凭证".to_string()]);
    let commitment = case.commitment_record.expect("the commitment is a record");
    let kept = store.record_version(commitment, 1).expect("read").expect("version");
    assert!(matches!(
        &kept.content.details,
        RecordDetails::Commitment { about_record: Some(r), case: Some(c), .. } if *r == record && *c == case.id
    ));
    assert!(rules.public_on(&kept.content, date("2025-02-01")), "the commitment is shown publicly");
    let told = feed(&store).pop().expect("event");
    assert_eq!(told.change.record, commitment, "followers hear of the commitment");
    let again = apply(&flow, record, "again", "2025-02-02").expect_err("open");
    assert!(matches!(again, CaseError::AlreadyOpen { case: id, .. } if id == case.id), "{again}");

    let skipped = flow.decide(case.id, decision(Action::Approve, "2025-02-03")).expect_err("not reviewed yet");
    assert_eq!(
        skipped.to_string(),
        format!("repair case {} is applied: cannot approve (allowed now: accept, reject)", case.id)
    );

    flow.decide(case.id, decision(Action::Accept, "2025-02-05")).expect("accept");
    let approve = Decision {
        effective: Some(date("2025-03-01")),
        note: Some("核查属实".into()),
        ..decision(Action::Approve, "2025-02-20")
    };
    let case = flow.decide(case.id, approve).expect("approve");
    assert_eq!((case.state, case.version, case.effective), (CaseState::Approved, 3, Some(date("2025-03-01"))));

    let current = store.record_version(record, case.outcome_version.expect("outcome")).expect("read").expect("version");
    assert_eq!(
        (current.content.status, current.content.status_since),
        (RecordStatus::Repaired, Some(date("2025-03-01")))
    );
    assert_eq!(store.record_history(record).expect("history").len(), 2, "the listed version stays in the history");

    assert!(listed_on_check(&store, SHOP, "2025-02-28"), "the measures apply until the repair takes effect");
    assert!(!listed_on_check(&store, SHOP, "2025-03-01"), "and no longer from then on");

    let closed = flow.decide(case.id, decision(Action::Deny, "2025-03-02")).expect_err("closed");
    assert!(closed.to_string().ends_with("is approved: cannot deny (the case is closed)"), "{closed}");

    let steps = flow.steps(case.id).expect("steps");
    let actions: Vec<(Action, CaseState, &str)> =
        steps.iter().map(|s| (s.action, s.state, s.operator.name.as_str())).collect();
    assert_eq!(
        actions,
        vec![
            (Action::Apply, CaseState::Applied, "李四"),
            (Action::Accept, CaseState::Accepted, "王审核"),
            (Action::Approve, CaseState::Approved, "王审核"),
        ]
    );
    assert_eq!(steps[2].note.as_deref(), Some("核查属实"));

    let last = feed(&store).pop().expect("event");
    assert_eq!((last.change.kind, last.change.record, last.change.case), (ChangeKind::Repaired, record, Some(case.id)));
    assert_eq!(last.change.effective, Some(date("2025-03-01")));

    let repeat = apply(&flow, record, "again", "2025-04-01").expect_err("repaired");
    assert!(repeat.to_string().contains("already repaired"), "{repeat}");
}

#[test]
fn rejected_and_denied_repairs_change_nothing_on_the_record() {
    let store = store();
    let rules = DisclosureRules::builtin();
    let flow = Workflow::new(&store, &rules);
    let record = entry(&store, SHOP, "SERIOUS_VIOLATION");
    let events = feed(&store).len();

    let case = apply(&flow, record, "please", "2025-06-01").expect("apply");
    let case = flow.decide(case.id, decision(Action::Reject, "2025-06-02")).expect("reject");
    assert_eq!(case.state, CaseState::Rejected);
    let accept = flow.decide(case.id, decision(Action::Accept, "2025-06-03")).expect_err("closed");
    assert!(matches!(accept, CaseError::InvalidTransition { state: CaseState::Rejected, .. }), "{accept}");

    let case = apply(&flow, record, "please, again", "2025-07-01").expect("reapply");
    flow.decide(case.id, decision(Action::Accept, "2025-07-02")).expect("accept");
    let case = flow.decide(case.id, decision(Action::Deny, "2025-07-03")).expect("deny");
    assert_eq!(case.state, CaseState::Denied);
    assert_eq!(case.outcome_version, None);
    assert_eq!(store.record_history(record).expect("history").len(), 1);
    assert!(listed_on_check(&store, SHOP, "2025-08-01"));
    assert_eq!(feed(&store).len(), events + 2, "only the two commitments: nothing changed for checks");
    assert_eq!(flow.cases_of(record).expect("cases").len(), 2);
}

#[test]
fn only_negative_dated_records_can_be_repaired_and_operators_must_be_named() {
    let store = store_with_fine();
    let rules = DisclosureRules::builtin();
    let flow = Workflow::new(&store, &rules);
    let red = entry(&store, TRADER, "TAX_A_GRADE");
    let error = flow.open(Action::Apply, red, clerk("王五"), "x", date("2026-01-01")).expect_err("red list");
    assert!(matches!(error, CaseError::NotNegative { .. }), "{error}");
    // A court dishonest-debtor entry ends by the court's removal, not by platform repair.
    let court = entry(&store, DEBTOR, "COURT_DISHONEST_DEBTOR");
    let error =
        flow.apply(court, clerk("王五"), "paid", date("2026-01-01"), application("2026-01-01")).expect_err("court");
    assert!(matches!(error, CaseError::ListNotRepairable { .. }), "{error}");
    assert_eq!(error.refusal(), Some("list_not_repairable"));
    // A fine decided 2026-04-15: repairable from 2026-07-15 (Order 36, general), with evidence and commitment.
    let fine = fine(&store);
    let error = apply(&flow, fine, "paid", "2026-07-14").expect_err("too early");
    assert_eq!(error.refusal(), Some("minimum_period_not_reached"));
    let message = error.to_string();
    assert!(
        message.contains("from 2026-07-15") && message.contains("general") && message.contains("ndrc-order-36"),
        "{message}"
    );
    apply(&flow, fine, "paid", "2026-07-15").expect("the minimum has passed");
    let error = flow.open(Action::Apply, RecordId(999), clerk("王五"), "x", date("2026-01-01")).expect_err("none");
    assert_eq!(error.to_string(), "no record R999");
    let shop = entry(&store, SHOP, "SERIOUS_VIOLATION");
    let error = flow.open(Action::Apply, shop, clerk(" "), "x", date("2026-01-01")).expect_err("anonymous");
    assert!(matches!(error, CaseError::Invalid { field: "operator", .. }), "{error}");
    let error = flow.open(Action::Apply, shop, clerk("李四"), "", date("2026-01-01")).expect_err("no reason");
    assert!(matches!(error, CaseError::Invalid { field: "reason", .. }), "{error}");
    let error = flow.open(Action::Approve, shop, clerk("李四"), "x", date("2026-01-01")).expect_err("not an opening");
    assert!(matches!(error, CaseError::Invalid { field: "action", .. }), "{error}");
    assert!(flow.decide(42, decision(Action::Accept, "2026-01-01")).is_err_and(|e| e.to_string() == "no case 42"));
}

#[test]
fn an_objection_corrects_a_record_with_a_new_version() {
    let store = store();
    let rules = DisclosureRules::builtin();
    let flow = Workflow::new(&store, &rules);
    let record = entry(&store, DEBTOR, "COURT_DISHONEST_DEBTOR");

    let case =
        flow.open(Action::File, record, clerk("张三"), "wrong document number", date("2024-03-01")).expect("file");
    assert_eq!(case.kind, CaseKind::Objection);
    let early = Decision {
        correction: Some(serde_json::json!({"document_number": "x"})),
        ..decision(Action::Correct, "2024-03-02")
    };
    assert!(matches!(flow.decide(case.id, early).expect_err("not accepted"), CaseError::InvalidTransition { .. }));
    flow.decide(case.id, decision(Action::Accept, "2024-03-02")).expect("accept");

    for (patch, expected) in [
        (serde_json::json!("x"), "a JSON object"),
        (serde_json::json!({"details": {"category": "penalty"}}), "cannot change the category"),
        (serde_json::json!({"document_number": "（2023）京0105执123号"}), "changes nothing"),
        (serde_json::json!({"decision_date": "soon"}), "not valid"),
    ] {
        let bad = Decision { correction: Some(patch), ..decision(Action::Correct, "2024-03-03") };
        let error = flow.decide(case.id, bad).expect_err("bad correction");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let without = flow.decide(case.id, decision(Action::Correct, "2024-03-03")).expect_err("no patch");
    assert!(matches!(without, CaseError::Invalid { field: "correction", .. }), "{without}");

    let fix = Decision {
        correction: Some(serde_json::json!({"document_number": "（2023）京0105执124号"})),
        ..decision(Action::Correct, "2024-03-03")
    };
    let case = flow.decide(case.id, fix).expect("correct");
    assert_eq!(case.state, CaseState::Corrected);
    let history = store.record_history(record).expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].content.document_number.as_deref(), Some("（2023）京0105执123号"), "old version kept");
    assert_eq!(history[1].content.document_number.as_deref(), Some("（2023）京0105执124号"));
    assert_eq!(history[1].content.status, RecordStatus::Corrected);
    assert!(listed_on_check(&store, DEBTOR, "2024-06-01"), "a corrected entry still counts");
    assert_eq!(feed(&store).last().map(|e| e.change.kind), Some(ChangeKind::Corrected));
}

#[test]
fn an_objection_can_revoke_a_record_or_be_dismissed() {
    let store = store();
    let rules = DisclosureRules::builtin();
    let flow = Workflow::new(&store, &rules);
    let record = entry(&store, DEBTOR, "COURT_DISHONEST_DEBTOR");

    let case = flow.open(Action::File, record, clerk("张三"), "not me", date("2024-05-01")).expect("file");
    flow.decide(case.id, decision(Action::Accept, "2024-05-02")).expect("accept");
    let case = flow.decide(case.id, decision(Action::Dismiss, "2024-05-03")).expect("dismiss");
    assert_eq!((case.state, case.outcome_version), (CaseState::Dismissed, None));

    let case = flow.open(Action::File, record, clerk("张三"), "court annulled it", date("2024-06-01")).expect("file");
    flow.decide(case.id, decision(Action::Accept, "2024-06-02")).expect("accept");
    let revoke = Decision { effective: Some(date("2024-06-10")), ..decision(Action::Revoke, "2024-06-05") };
    let case = flow.decide(case.id, revoke).expect("revoke");
    assert_eq!(case.state, CaseState::Revoked);
    assert!(listed_on_check(&store, DEBTOR, "2024-06-09"));
    assert!(!listed_on_check(&store, DEBTOR, "2024-06-10"), "revoked from its effective date");
    let event = feed(&store).pop().expect("event");
    assert_eq!((event.change.kind, event.change.effective), (ChangeKind::Revoked, Some(date("2024-06-10"))));
    let again = flow.open(Action::File, record, clerk("张三"), "x", date("2024-07-01")).expect_err("revoked");
    assert!(again.to_string().contains("already revoked"), "{again}");
}

#[test]
fn the_feed_is_ordered_resumable_and_only_shows_committed_batches() {
    let store = store();
    let events = feed(&store);
    let kinds: Vec<ChangeKind> = events.iter().map(|e| e.change.kind).collect();
    assert_eq!(kinds, vec![ChangeKind::Listed; 3], "one event per imported list entry");
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3]);
    assert_eq!(store.feed_end().expect("end"), 4);
    assert_eq!(store.feed(2, 10).expect("from 2").iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(store.feed(2, 1).expect("limit").len(), 1);
    assert!(store.feed(4, 10).expect("at the end").is_empty());

    // A batch that never commits leaves no event behind, and its sequence numbers are used again.
    let mut guard = store.begin_batch("test", Vec::new(), None, chrono::Utc::now()).expect("batch");
    let change = events[0].change.clone();
    assert_eq!(guard.emit(change.clone()).expect("emit"), 4);
    assert!(store.feed(4, 10).expect("uncommitted").is_empty(), "not readable before the commit");
    guard.abort().expect("abort");
    assert!(store.feed(4, 10).expect("aborted").is_empty());
    let mut guard = store.begin_batch("test", Vec::new(), None, chrono::Utc::now()).expect("batch");
    assert_eq!(guard.emit(change).expect("emit"), 4);
    guard.commit().expect("commit");
    assert_eq!(store.feed(4, 10).expect("committed").len(), 1);

    // A changed list row (removal) is one more event, after the others.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("removed.csv");
    // With the status 已移出, YCRQ is the day the entry was removed.
    let removed =
        LISTS.lines().take(2).collect::<Vec<_>>().join("\n").replace(",2027-01-01,有效", ",2024-09-01,已移出");
    std::fs::write(&path, removed + "\n").expect("write");
    let options = ImportOptions {
        kind: ImportKind::List,
        source_dept: None,
        only_dept: None,
        registration: true,
        strict: true,
        today: date("2026-11-23"),
        at: chrono::Utc::now(),
    };
    import_files(&store, &[path], &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet).expect("import");
    let last = store.feed(5, 10).expect("after");
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!((last[0].change.kind, last[0].change.effective), (ChangeKind::Removed, Some(date("2024-09-01"))));
}

#[test]
fn the_sweep_tells_of_ended_windows_and_planned_removals_once() {
    let store = store_with_fine();
    let rules = DisclosureRules::builtin();
    let before = store.feed_end().expect("end");
    // The first sweep covers its own day only.
    let first = sweep(&store, &rules, date("2026-12-31")).expect("sweep");
    assert_eq!((first.window_ended, first.removed), (0, 0));
    // The debtor's entry is due for removal on 2027-01-01 (lists have no window: they end with the
    // entry); the shop's fine (2026-04-15, general under Order 36) leaves the public view on 2027-04-15.
    let second = sweep(&store, &rules, date("2027-04-15")).expect("sweep");
    assert_eq!((second.after, second.window_ended, second.removed), (Some(date("2026-12-31")), 1, 1), "{second:?}");
    let events = store.feed(before, 10).expect("feed");
    let seen: Vec<(ChangeKind, NaiveDate)> =
        events.iter().map(|e| (e.change.kind, e.change.effective.expect("effective"))).collect();
    assert!(seen.contains(&(ChangeKind::Removed, date("2027-01-01"))), "{seen:?}");
    assert!(seen.contains(&(ChangeKind::WindowEnded, date("2027-04-15"))), "{seen:?}");
    let again = sweep(&store, &rules, date("2027-04-15")).expect("sweep");
    assert_eq!((again.window_ended, again.removed), (0, 0), "each day is swept once");
    assert_eq!(store.feed_end().expect("end"), second.feed_end);
    let record = entry(&store, SHOP, "SERIOUS_VIOLATION");
    let content = store.record_version(record, 1).expect("read").expect("version").content;
    assert!(matches!(content.details, RecordDetails::ListEntry { .. }));
}

#[test]
fn every_transition_from_every_state_is_taken_or_refused_naming_the_state() {
    use CaseKind::{Objection, Repair};
    use CaseState::*;
    // The workflow as DOMAIN.md §5 describes it, written out independently of the implementation's table.
    let valid = [
        (Repair, Applied, Action::Accept, Accepted),
        (Repair, Applied, Action::Reject, Rejected),
        (Repair, Accepted, Action::Approve, Approved),
        (Repair, Accepted, Action::Deny, Denied),
        (Objection, Applied, Action::Accept, Accepted),
        (Objection, Applied, Action::Reject, Rejected),
        (Objection, Accepted, Action::Correct, Corrected),
        (Objection, Accepted, Action::Revoke, Revoked),
        (Objection, Accepted, Action::Dismiss, Dismissed),
    ];
    let path = |state: CaseState| -> Vec<Action> {
        match state {
            Applied => vec![],
            Accepted => vec![Action::Accept],
            Rejected => vec![Action::Reject],
            Approved => vec![Action::Accept, Action::Approve],
            Denied => vec![Action::Accept, Action::Deny],
            Corrected => vec![Action::Accept, Action::Correct],
            Revoked => vec![Action::Accept, Action::Revoke],
            Dismissed => vec![Action::Accept, Action::Dismiss],
        }
    };
    let step = |action: Action| Decision {
        correction: (action == Action::Correct).then(|| serde_json::json!({"document_number": "更正〔2025〕1号"})),
        ..decision(action, "2025-06-02")
    };
    let actions = Action::DECISIONS;
    let states = |kind: CaseKind| match kind {
        Repair => vec![Applied, Accepted, Rejected, Approved, Denied],
        Objection => vec![Applied, Accepted, Rejected, Corrected, Revoked, Dismissed],
    };
    let mut taken = 0;
    for kind in [Repair, Objection] {
        for state in states(kind) {
            for action in actions {
                let store = store();
                let rules = DisclosureRules::builtin();
                let flow = Workflow::new(&store, &rules);
                let record = entry(&store, SHOP, "SERIOUS_VIOLATION");
                let case = match kind {
                    Repair => apply(&flow, record, "reason", "2025-06-01"),
                    Objection => flow.open(Action::File, record, clerk("李四"), "reason", date("2025-06-01")),
                }
                .expect("open");
                for earlier in path(state) {
                    flow.decide(case.id, step(earlier)).expect("path");
                }
                let expected = valid.iter().find(|(k, s, a, _)| *k == kind && *s == state && *a == action);
                match (flow.decide(case.id, step(action)), expected) {
                    (Ok(after), Some((_, _, _, next))) => {
                        assert_eq!(after.state, *next, "{kind} {state} {action}");
                        assert_eq!(flow.steps(case.id).expect("steps").last().map(|s| s.action), Some(action));
                        taken += 1;
                    }
                    (Err(CaseError::InvalidTransition { state: named, .. }), None) => {
                        assert_eq!(named, state, "{kind} {action}");
                        assert_eq!(flow.case(case.id).expect("read").map(|c| c.state), Some(state), "unchanged");
                    }
                    (outcome, expected) => panic!("{kind} {state} {action}: {outcome:?}, expected {expected:?}"),
                }
            }
        }
    }
    assert_eq!(taken, valid.len());
}

mod fuzz {
    //! Corrections as a decision may carry them: any JSON merge patch over any kind of record. Applying
    //! one never panics; it is a corrected record or an `Invalid` error naming the correction.
    use proptest::prelude::*;

    use super::*;

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z_]{0,12}".prop_map(serde_json::Value::from),
            proptest::sample::select(vec![
                "penalty",
                "list_entry",
                "licence",
                "2024-01-01",
                "1.5",
                "active",
                "revoked"
            ])
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    proptest::sample::select(vec![
                        "details",
                        "category",
                        "kind",
                        "fine",
                        "status",
                        "decision_date",
                        "document_number",
                        "list_type",
                        "listed_on",
                        "usage_scope",
                        "subject_identifiers",
                        "extra",
                        "x",
                    ]),
                    inner,
                    0..4,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_patch_over_any_record_is_applied_or_refused(patch in json(), which in 0usize..2) {
            let content = match which {
                0 => crate::model::tests::list_entry("2024-01-01", Some("2026-01-01"), None),
                _ => crate::model::tests::list_entry("2023-05-01", None, Some("2024-05-01")),
            };
            match corrected(&content, &patch) {
                Ok(after) => prop_assert_eq!(after.category(), content.category()),
                Err(CaseError::Invalid { field, .. }) => prop_assert_eq!(field, "correction"),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }
    }
}

#[test]
fn deadlines_per_step_list_overdue_cases() {
    let store = store();
    let text = crate::disclosure::BUILTIN_TOML.replacen(
        "#   deadlines = { accept = 3, decide = 10 }",
        "deadlines = { accept = 3, decide = 10 }",
        1,
    );
    let rules = DisclosureRules::from_toml(&text, "rules.toml").expect("rules");
    let flow = Workflow::new(&store, &rules);
    let shop = entry(&store, SHOP, "SERIOUS_VIOLATION");
    let case = apply(&flow, shop, "rectified", "2025-06-01").expect("apply");
    assert_eq!(case.due, Some(date("2025-06-04")));
    let objection = flow
        .open(
            Action::File,
            entry(&store, DEBTOR, "COURT_DISHONEST_DEBTOR"),
            clerk("张三"),
            "not me",
            date("2025-06-03"),
        )
        .expect("file");
    let overdue =
        |on: &str| -> Vec<u64> { flow.overdue(date(on), 100).expect("overdue").iter().map(|c| c.id).collect() };
    assert!(overdue("2025-06-04").is_empty(), "due day itself is not late");
    assert_eq!(overdue("2025-06-05"), vec![case.id]);
    assert_eq!(overdue("2025-06-07"), vec![case.id, objection.id]);
    assert_eq!(flow.overdue(date("2025-06-07"), 1).expect("limited").len(), 1, "the limit holds");
    let accepted = flow.decide(case.id, decision(Action::Accept, "2025-06-05")).expect("accept, late");
    assert_eq!(accepted.due, Some(date("2025-06-15")), "the review's own deadline");
    assert_eq!(overdue("2025-06-15"), vec![objection.id]);
    assert_eq!(overdue("2025-06-16"), vec![case.id, objection.id]);
    let closed = flow.decide(case.id, decision(Action::Deny, "2025-06-20")).expect("deny");
    assert_eq!(closed.due, None);
    assert_eq!(overdue("2030-01-01"), vec![objection.id], "closed cases are never overdue");
    // Without configured deadlines nothing is ever overdue.
    let plain = DisclosureRules::builtin();
    assert!(
        Workflow::new(&store, &plain).overdue(date("2030-01-01"), 100).expect("none").len() == 1,
        "stored due stays"
    );
}

#[test]
fn an_application_beyond_its_bounds_is_refused_naming_the_field() {
    let store = store();
    let rules = DisclosureRules::builtin();
    let flow = Workflow::new(&store, &rules);
    let shop = entry(&store, SHOP, "SERIOUS_VIOLATION");
    let refused = |application: RepairApplication| match flow.apply(
        shop,
        clerk("李四"),
        "rectified",
        date("2025-06-01"),
        application,
    ) {
        Err(CaseError::Invalid { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let many = RepairApplication { evidence: vec!["凭证".into(); MAX_EVIDENCE + 1], ..application("2025-06-01") };
    assert_eq!(refused(many), "evidence");
    let long = RepairApplication { evidence: vec!["证".repeat(MAX_TEXT + 1)], ..application("2025-06-01") };
    assert_eq!(refused(long), "evidence");
    let mut wordy = application("2025-06-01");
    wordy.commitment.as_mut().expect("commitment").text = "诺".repeat(MAX_COMMITMENT + 1);
    assert_eq!(refused(wordy), "commitment");
    for acting_for in [" ".to_string(), "人".repeat(MAX_TEXT + 1)] {
        assert_eq!(
            refused(RepairApplication { acting_for: Some(acting_for), ..application("2025-06-01") }),
            "acting_for"
        );
    }
    let objection = CaseCommand::Open {
        action: Action::File,
        record: shop,
        operator: clerk("张三"),
        reason: "wrong".into(),
        on: date("2025-06-01"),
        application: application("2025-06-01"),
    };
    assert!(matches!(flow.run(objection, None), Err(CaseError::Invalid { field: "commitment", .. })));
    let at_the_bounds = RepairApplication {
        evidence: vec!["证".repeat(MAX_TEXT); MAX_EVIDENCE],
        acting_for: Some("人".repeat(MAX_TEXT)),
        ..application("2025-06-01")
    };
    flow.apply(shop, clerk("李四"), "rectified", date("2025-06-01"), at_the_bounds).expect("at the bounds is accepted");
    assert!(flow.cases_of(shop).expect("cases").len() == 1, "only the one within bounds was opened");
}
