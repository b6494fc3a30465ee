//! Checks over a store filled by real imports (in memory), with the compiled-in rules.

use super::*;
use crate::engine::MemoryEngine;
use crate::ident::Codebook;
use crate::import::{ImportKind, ImportOptions, ImportTables, Quiet, import_files};
use crate::model::Reach;

const COMPANY: &str = "91110000600037341L"; // legal representative 张三, a dishonest judgment debtor
const DEBTOR: &str = "11010519491231002X";
pub(crate) const SHOP: &str = "92340602MA2PBMEM24"; // on the serious-violation list; legal representative 李四
const SHOP_OWNER: &str = "360426199101010071";
pub(crate) const TRADER: &str = "91440300568520498A"; // A-grade taxpayer

pub(crate) const SUBJECTS: &str = "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM,CLRQ,ZT\n\
91110000600037341L,北京某某科技有限公司,110105,张三,11010519491231002X,2001-05-01,存续\n\
92340602MA2PBMEM24,杜集区李记五金店,340602,李四,360426199101010071,2016-03-02,存续\n\
91440300568520498A,深圳市某某贸易有限公司,440300,王五,440301198001010018,2010-01-01,存续\n";

pub(crate) const LISTS: &str = "MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,RDYJ,LRRQ,YCRQ,ZT\n\
失信被执行人,张三,,11010519491231002X,北京市朝阳区人民法院,（2023）京0105执123号,2024-01-01,2026-01-01,有效\n\
SERIOUS_VIOLATION,杜集区李记五金店,92340602MA2PBMEM24,,淮北市市场监督管理局,淮市监严〔2024〕1号,2024-02-01,,有效\n\
TAX_A_GRADE,深圳市某某贸易有限公司,91440300568520498A,,国家税务总局深圳市税务局,深税A〔2024〕8号,2024-04-01,2025-04-01,有效\n\
ABNORMAL_OPERATION,深圳市某某贸易有限公司,91440300568520498A,,深圳市市场监督管理局,深市监异〔2025〕2号,2025-01-01,2025-03-01,有效\n\
NEW_LIST,杜集区李记五金店,92340602MA2PBMEM24,,某部门,某文件,2020-01-01,,有效\n";

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(crate) fn store() -> Store<MemoryEngine> {
    let store = Store::open(MemoryEngine::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (kind, name, text) in [(ImportKind::Subject, "s.csv", SUBJECTS), (ImportKind::List, "l.csv", LISTS)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let options = ImportOptions { strict: true, ..ImportOptions::new(kind, date("2026-11-23")) };
        let summary =
            import_files(&store, &[path], &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet).unwrap();
        assert_eq!(summary.rejected, 0);
    }
    store
}

fn request(identifier: &str, item: &str, as_of: &str) -> CheckRequest {
    CheckRequest {
        identifier: identifier.to_string(),
        item: item.to_string(),
        as_of: date(as_of),
        department: Some("市财政局".to_string()),
    }
}

fn evaluate(store: &Store<MemoryEngine>, identifier: &str, item: &str, as_of: &str) -> CheckResult {
    Checker::new(store, RuleSet::builtin()).evaluate(&request(identifier, item, as_of)).unwrap()
}

fn measure_ids(result: &CheckResult) -> Vec<&str> {
    result.measures.iter().map(|m| m.measure_id.as_str()).collect()
}

#[test]
fn a_dishonest_legal_representative_blocks_the_company() {
    let store = store();
    for item in ["GOV_PROCUREMENT", "BIDDING", "HIGH_CONSUMPTION"] {
        let result = evaluate(&store, COMPANY, item, "2025-06-01");
        assert_eq!(result.verdict, Verdict::Block, "{item}: {:?}", result.reasons);
        assert_eq!(result.hits.len(), 1);
        let hit = &result.hits[0];
        assert_eq!(hit.list_type, "COURT_DISHONEST_DEBTOR");
        assert_eq!(hit.path, Link::RelatedPerson { role: RelatedRole::LegalRepresentative });
        assert_eq!(hit.listed_subject.code.as_deref(), Some("110105********002X"), "ID numbers are masked");
        assert_eq!(hit.basis_document.as_deref(), Some("（2023）京0105执123号"));
        assert!(result.measures.iter().all(|m| m.mandatory && m.kind == MeasureKind::Punishment));
        assert!(result.reasons[0].contains("legal representative"), "{:?}", result.reasons);
    }
    let procurement = evaluate(&store, COMPANY, "GOV_PROCUREMENT", "2025-06-01");
    assert_eq!(measure_ids(&procurement), vec!["COURT-GOV-PROCUREMENT"]);
    assert_eq!(procurement.measures[0].implementing_department, "财政部");
    assert!(!procurement.measures[0].legal_basis.is_empty());
}

#[test]
fn the_debtor_is_blocked_as_a_natural_person() {
    let store = store();
    let result = evaluate(&store, DEBTOR, "HIGH_CONSUMPTION", "2025-06-01");
    assert_eq!(result.verdict, Verdict::Block);
    assert_eq!(result.hits[0].path, Link::Listed);
    assert_eq!(result.subject.as_ref().unwrap().code.as_deref(), Some("110105********002X"));
    // The entity-only bond measure does not reach a person.
    assert_eq!(evaluate(&store, DEBTOR, "BOND_ISSUE", "2025-06-01").verdict, Verdict::Caution);
}

#[test]
fn a_listed_company_reaches_its_legal_representative_where_the_scope_says_so() {
    let store = store();
    let result = evaluate(&store, SHOP_OWNER, "BIDDING", "2025-06-01");
    assert_eq!(result.verdict, Verdict::Block, "{:?}", result.reasons);
    assert_eq!(result.hits.len(), 1, "the unknown list reaches no one through a role: {:?}", result.hits);
    assert_eq!(result.hits[0].path, Link::Organisation { role: RelatedRole::LegalRepresentative });
    assert_eq!(result.hits[0].listed_subject.code.as_deref(), Some(SHOP));
    // The A-grade reward (scope: the entity) does not pass to 王五.
    assert_eq!(evaluate(&store, "440301198001010018", "LICENCE_APPROVAL", "2024-06-01").verdict, Verdict::Clear);
}

#[test]
fn as_of_dates_around_listing_and_removal() {
    let store = store();
    let verdict = |as_of: &str| evaluate(&store, COMPANY, "GOV_PROCUREMENT", as_of).verdict;
    assert_eq!(verdict("2023-12-31"), Verdict::Clear);
    assert_eq!(verdict("2024-01-01"), Verdict::Block, "in force from the listing date");
    assert_eq!(verdict("2025-12-31"), Verdict::Block);
    assert_eq!(verdict("2026-01-01"), Verdict::Clear, "out of force on the removal date");
}

#[test]
fn advisory_measures_restrict_and_unnamed_items_caution() {
    let store = store();
    let restrict = evaluate(&store, TRADER, "GOV_PROCUREMENT", "2025-02-01");
    assert_eq!(restrict.verdict, Verdict::Restrict, "{:?}", restrict.reasons);
    assert_eq!(measure_ids(&restrict), vec!["TAXA-HONOURS", "ABNORMAL-PROCUREMENT"]);
    assert!(restrict.measures[0].suppressed, "the A-grade reward is outranked by the black-list entry");

    let caution = evaluate(&store, TRADER, "BOND_ISSUE", "2025-02-01");
    assert_eq!(caution.verdict, Verdict::Caution);
    assert!(caution.measures.is_empty());

    // A list type the rules do not know is not ignored.
    let unknown = evaluate(&store, SHOP, "SUBSIDY", "2025-06-01");
    assert_eq!(unknown.verdict, Verdict::Caution);
    assert!(
        unknown.reasons.iter().any(|r| r.contains("NEW_LIST") && r.contains("do not know")),
        "{:?}",
        unknown.reasons
    );
}

#[test]
fn rewards_give_priority_unless_a_black_list_entry_outranks_them() {
    let store = store();
    let priority = evaluate(&store, TRADER, "LICENCE_APPROVAL", "2024-06-01");
    assert_eq!(priority.verdict, Verdict::Priority, "{:?}", priority.reasons);
    assert_eq!(measure_ids(&priority), vec!["TAXA-GREEN-CHANNEL"]);
    assert!(!priority.measures[0].suppressed);

    // 2025-02-01: still A-grade, but also on the abnormal-operations list.
    let outranked = evaluate(&store, TRADER, "LICENCE_APPROVAL", "2025-02-01");
    assert_eq!(outranked.verdict, Verdict::Caution, "{:?}", outranked.reasons);
    assert!(outranked.measures[0].suppressed);
    assert!(outranked.reasons.iter().any(|r| r.contains("outranked")));

    // A red entry with no reward for the item is clear.
    assert_eq!(evaluate(&store, TRADER, "BOND_ISSUE", "2024-06-01").verdict, Verdict::Clear);
}

#[test]
fn memoranda_apply_only_while_valid() {
    let store = store();
    let rules = RuleSet::builtin();
    let court = rules.memoranda_for("COURT_DISHONEST_DEBTOR").next().unwrap();
    let mut early = (*rules).clone();
    let index = early.memoranda.iter().position(|m| m.id == court.id).unwrap();
    early.memoranda[index].valid_from = date("2025-01-01");
    let checker = Checker::new(&store, Arc::new(early));
    let before = checker.evaluate(&request(DEBTOR, "HIGH_CONSUMPTION", "2024-06-01")).unwrap();
    assert_eq!(before.verdict, Verdict::Caution, "listed, but the memorandum was not in force yet");
    let company = checker.evaluate(&request(COMPANY, "HIGH_CONSUMPTION", "2024-06-01")).unwrap();
    assert_eq!(company.verdict, Verdict::Clear, "no memorandum carried the entry across the link then");
}

#[test]
fn unknown_subjects_invalid_identifiers_and_unknown_items() {
    let store = store();
    let unknown = evaluate(&store, "91350100M000100Y43", "GOV_PROCUREMENT", "2025-06-01");
    assert_eq!((unknown.verdict, unknown.subject.is_none()), (Verdict::Clear, true));
    let checker = Checker::new(&store, RuleSet::builtin());
    let invalid = checker.evaluate(&request("91110000600037341X", "GOV_PROCUREMENT", "2025-06-01")).unwrap_err();
    assert!(matches!(invalid, CheckError::InvalidIdentifier { .. }) && invalid.is_user_error(), "{invalid}");
    let item = checker.evaluate(&request(COMPANY, "TIME_TRAVEL", "2025-06-01")).unwrap_err();
    assert!(matches!(item, CheckError::UnknownItem(_)), "{item}");
}

#[test]
fn a_cancelled_batch_stops_and_records_nothing() {
    let store = store();
    let cancel = crate::cancel::Cancel::new();
    let checker = Checker::new(&store, RuleSet::builtin()).with_cancel(cancel.clone());
    let requests = vec![request(COMPANY, "GOV_PROCUREMENT", "2025-06-01"); 50];
    cancel.cancel();
    let stopped = checker.check_batch(&requests).unwrap_err();
    assert!(matches!(stopped, CheckError::Cancelled(_)) && !stopped.is_user_error(), "{stopped}");
    // The next check is the log's first: the stopped batch left nothing behind.
    let next = Checker::new(&store, RuleSet::builtin()).check(&requests[0]).unwrap();
    assert_eq!(next.check_id, 1);
    // Statistics read the whole log: with no feedback yet, the check log's scan sees the flag.
    let stopped = checker.statistics(&StatsFilter::default()).unwrap_err();
    assert!(matches!(stopped, CheckError::Cancelled(_)), "{stopped}");
    assert_eq!(Checker::new(&store, RuleSet::builtin()).statistics(&StatsFilter::default()).unwrap().checks, 1);
}

#[test]
fn checks_are_recorded_and_feedback_feeds_the_statistics() {
    let store = store();
    let checker = Checker::new(&store, RuleSet::builtin());
    let requests = [
        request(COMPANY, "GOV_PROCUREMENT", "2025-06-01"),
        request(SHOP, "BIDDING", "2025-06-01"),
        request("91110000600037341X", "BIDDING", "2025-06-01"),
        request(TRADER, "LICENCE_APPROVAL", "2024-06-01"),
    ];
    let answers = checker.check_batch(&requests).unwrap();
    assert!(answers[2].is_err());
    let ids: Vec<u64> = answers.iter().flatten().map(|a| a.check_id).collect();
    assert_eq!(ids, vec![1, 2, 3], "ids are consecutive and skip the failed request");
    let single = checker.check(&request(COMPANY, "BIDDING", "2025-06-01")).unwrap();
    assert_eq!(single.check_id, 4);
    assert_eq!(checker.recorded_check(2).unwrap().unwrap().measures[0].measure_id, "SERIOUS-BIDDING");

    let feedback = |check_id, measure: &str, outcome, reason: Option<&str>| FeedbackInput {
        check_id,
        measure_id: measure.to_string(),
        outcome,
        reason: reason.map(str::to_string),
        amount: Some("120.5".to_string()),
        department: "市财政局".to_string(),
        division: None,
        item: None,
        time: None,
        operator: "op-7".to_string(),
    };
    let stored = checker.submit_feedback(feedback(1, "COURT-GOV-PROCUREMENT", Outcome::Applied, None)).unwrap();
    assert_eq!((stored.division.as_deref(), stored.item.as_str()), (Some("110105"), "GOV_PROCUREMENT"));
    let error = checker.submit_feedback(feedback(2, "SERIOUS-BIDDING", Outcome::NotApplied, None)).unwrap_err();
    assert!(matches!(error, CheckError::InvalidFeedback { field: "reason", .. }), "{error}");
    checker.submit_feedback(feedback(2, "SERIOUS-BIDDING", Outcome::Applied, None)).unwrap();
    let corrected =
        checker.submit_feedback(feedback(2, "SERIOUS-BIDDING", Outcome::NotApplied, Some("已信用修复"))).unwrap();
    assert_eq!(corrected.sequence, 1);
    assert!(matches!(
        checker.submit_feedback(feedback(1, "SERIOUS-BIDDING", Outcome::Applied, None)).unwrap_err(),
        CheckError::MeasureNotInCheck { .. }
    ));
    assert!(matches!(
        checker.submit_feedback(feedback(99, "SERIOUS-BIDDING", Outcome::Applied, None)).unwrap_err(),
        CheckError::UnknownCheck(99)
    ));
    let mut bad_amount = feedback(1, "COURT-GOV-PROCUREMENT", Outcome::Applied, None);
    bad_amount.amount = Some("一百".to_string());
    assert!(matches!(
        checker.submit_feedback(bad_amount).unwrap_err(),
        CheckError::InvalidFeedback { field: "amount", .. }
    ));
    assert_eq!(checker.feedback_of(2).unwrap().len(), 2);

    let stats = checker.statistics(&StatsFilter::default()).unwrap();
    assert_eq!(stats.checks, 4);
    assert_eq!(stats.verdicts["BLOCK"], 3);
    assert_eq!(stats.verdicts["PRIORITY"], 1);
    // Hits: COURT-GOV-PROCUREMENT, SERIOUS-BIDDING, TAXA-GREEN-CHANNEL, COURT-BIDDING.
    assert_eq!((stats.total.measure_hits, stats.total.with_feedback), (4, 2));
    assert_eq!(stats.total.feedback_share, 0.5);
    assert_eq!((stats.total.applied, stats.total.not_applied), (1, 1), "the latest report counts");
    let court = stats.by_memorandum.iter().find(|g| g.key == "MEMO-COURT-DISHONEST-DEBTOR").unwrap();
    assert_eq!((court.measure_hits, court.with_feedback), (2, 1));
    let beijing = stats.by_division.iter().find(|g| g.key == "110105").unwrap();
    assert_eq!(beijing.measure_hits, 2);
    assert_eq!(stats.by_department[0].key, "市财政局");
    assert_eq!(stats.by_period.len(), 1);

    let only_beijing = StatsFilter { division: Some("110000".to_string()), ..StatsFilter::default() };
    let stats = checker.statistics(&only_beijing).unwrap();
    assert_eq!((stats.checks, stats.total.measure_hits), (2, 2));
    let tomorrow = crate::time::today_cst().succ_opt().unwrap();
    let future = StatsFilter { from: Some(tomorrow), ..StatsFilter::default() };
    assert_eq!(checker.statistics(&future).unwrap().checks, 0);
    // A caller gone: the feedback's scan stops first.
    let cancel = crate::cancel::Cancel::new();
    cancel.cancel();
    let stopped =
        Checker::new(&store, RuleSet::builtin()).with_cancel(cancel).statistics(&StatsFilter::default()).unwrap_err();
    assert!(matches!(stopped, CheckError::Cancelled(_)), "{stopped}");
}

#[test]
fn managers_and_controllers_carry_measures_where_the_scope_names_their_role() {
    let store = store();
    let dir = tempfile::tempdir().unwrap();
    let rows = "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM,ZYGLRYXM,ZYGLRYZJHM,SJKZRXM,SJKZRZJHM\n\
91350100M000100Y43,福州某某有限公司,350100,赵六,,孙八;钱七,;110105194912310038,张三,11010519491231002X\n\
91350100M000100Y43,福州某某有限公司,350100,赵六,,钱七,11010519491231002Y,,\n";
    let path = dir.path().join("s.csv");
    std::fs::write(&path, rows).unwrap();
    let mut rejects = Vec::new();
    struct Rejects<'a>(&'a mut Vec<String>);
    impl crate::import::ImportObserver for Rejects<'_> {
        fn reject(&mut self, r: &crate::import::Reject) {
            self.0.push(format!("{:?}: {}", r.column, r.reason));
        }
    }
    let options = ImportOptions {
        kind: ImportKind::Subject,
        source_dept: None,
        only_dept: None,
        registration: true,
        strict: false,
        today: date("2026-11-23"),
        at: chrono::Utc::now(),
    };
    import_files(&store, &[path], &options, ImportTables::builtin(), Codebook::builtin(), &mut Rejects(&mut rejects))
        .unwrap();
    assert_eq!(rejects.len(), 1, "an invalid manager ID number rejects the row: {rejects:?}");
    assert!(rejects[0].contains("ZYGLRYZJHM"), "{rejects:?}");

    let subject = store.find_subject("91350100M000100Y43").unwrap().unwrap();
    let roles: Vec<RelatedRole> = subject.related.iter().map(|r| r.role).collect();
    assert_eq!(
        roles,
        vec![
            RelatedRole::LegalRepresentative,
            RelatedRole::PrincipalManager,
            RelatedRole::PrincipalManager,
            RelatedRole::ActualController
        ]
    );
    let result = evaluate(&store, "91350100M000100Y43", "GOV_PROCUREMENT", "2025-06-01");
    assert_eq!(result.verdict, Verdict::Block, "{:?}", result.reasons);
    assert_eq!(result.hits[0].path, Link::RelatedPerson { role: RelatedRole::ActualController });
    // The debtor now reaches the organisation they control, from their side too.
    let debtor = evaluate(&store, DEBTOR, "GOV_PROCUREMENT", "2025-06-01");
    assert_eq!(debtor.hits.len(), 1, "only their own entry: the organisations they are linked to are not listed");
}

/// Every subject's stored reach, and each as built from the store now.
fn reaches(store: &Store<MemoryEngine>) -> (Vec<Option<Reach>>, Vec<Option<Reach>>) {
    let mut ids = Vec::new();
    store
        .scan_subjects(&mut |s| {
            ids.push(s.id);
            true
        })
        .unwrap();
    ids.iter().map(|id| (store.reach(*id).unwrap(), store.reach_rebuilt(*id).unwrap())).unzip()
}

fn import_text(
    store: &Store<MemoryEngine>,
    kind: ImportKind,
    text: &str,
    strict: bool,
) -> crate::import::ImportSummary {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.csv");
    std::fs::write(&path, text).unwrap();
    let options = ImportOptions { strict, ..ImportOptions::new(kind, date("2026-11-23")) };
    import_files(store, &[path], &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet).unwrap()
}

#[test]
fn each_subjects_reach_stays_what_its_entries_and_links_make_through_every_kind_of_change() {
    let store = store();
    let hits = |identifier: &str, as_of: &str| -> Vec<(Link, String)> {
        let result = evaluate(&store, identifier, "GOV_PROCUREMENT", as_of);
        result.hits.iter().map(|h| (h.path, h.listed_subject.name.clone())).collect()
    };
    let holds = |step: &str| {
        let (stored, rebuilt) = reaches(&store);
        assert_eq!(stored, rebuilt, "after {step}");
        stored
    };
    let start = holds("the first imports");
    assert_eq!(start.iter().flatten().count(), 6, "the three listed and the three linked to one: {start:?}");

    // A new company whose legal representative (made long ago) is a debtor; a listed shop renamed.
    let summary = import_text(
        &store,
        ImportKind::Subject,
        "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM,CLRQ,ZT\n\
91350100M000100Y43,福州某某有限公司,350100,张三,11010519491231002X,2020-01-01,存续\n\
92340602MA2PBMEM24,杜集区李记五金商行,340602,李四,360426199101010071,2016-03-02,存续\n",
        true,
    );
    assert_eq!(summary.rejected, 0);
    holds("a new company and a rename");
    let legal_rep = Link::RelatedPerson { role: RelatedRole::LegalRepresentative };
    assert_eq!(hits("91350100M000100Y43", "2025-06-01"), [(legal_rep, "张三".to_string())]);
    let shop = Link::Organisation { role: RelatedRole::LegalRepresentative };
    assert_eq!(evaluate(&store, SHOP_OWNER, "BIDDING", "2025-06-01").hits[0].listed_subject.name, "杜集区李记五金商行");
    assert_eq!(evaluate(&store, SHOP_OWNER, "BIDDING", "2025-06-01").hits[0].path, shop);

    // The first company changes its legal representative: the debtor no longer reaches it.
    import_text(
        &store,
        ImportKind::Subject,
        "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM,CLRQ,ZT\n\
91110000600037341L,北京某某科技有限公司,110105,王五,440301198001010018,2001-05-01,存续\n",
        true,
    );
    holds("a new legal representative");
    assert!(hits(COMPANY, "2025-06-01").is_empty());

    // The debtor's entry ends earlier; a person the platform did not know yet is listed.
    import_text(
        &store,
        ImportKind::List,
        "MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,RDYJ,LRRQ,YCRQ,ZT\n\
失信被执行人,张三,,11010519491231002X,北京市朝阳区人民法院,（2023）京0105执123号,2024-01-01,2025-01-01,有效\n\
失信被执行人,赵六,,110105194912310038,北京市朝阳区人民法院,（2024）京0105执9号,2024-06-01,,有效\n",
        true,
    );
    holds("a changed entry and a new person's");
    assert!(hits("91350100M000100Y43", "2025-06-01").is_empty(), "the entry ended on 2025-01-01");
    assert_eq!(hits("91350100M000100Y43", "2024-06-01"), [(legal_rep, "张三".to_string())]);

    // A new company of that person, controlled by the debtor.
    import_text(
        &store,
        ImportKind::Subject,
        "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM,SJKZRXM,SJKZRZJHM\n\
91310115MA1K3BTP2B,上海某某有限公司,310115,赵六,110105194912310038,张三,11010519491231002X\n",
        true,
    );
    holds("a company of a listed person");
    let controller = Link::RelatedPerson { role: RelatedRole::ActualController };
    assert_eq!(
        hits("91310115MA1K3BTP2B", "2024-06-01"),
        [(legal_rep, "赵六".to_string()), (controller, "张三".to_string())]
    );

    // A strict import with a bad row lands nothing, reaches included.
    let before = holds("the last batch");
    let summary = import_text(
        &store,
        ImportKind::List,
        "MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,RDYJ,LRRQ,YCRQ,ZT\n\
失信被执行人,王五,,440301198001010018,北京市朝阳区人民法院,（2024）京0105执10号,2024-06-01,,有效\n\
失信被执行人,无证号,,,北京市朝阳区人民法院,（2024）京0105执11号,2024-06-01,,有效\n",
        true,
    );
    assert!(summary.rejected > 0, "{summary:?}");
    assert_eq!(holds("a rolled-back batch"), before);
    assert!(hits(COMPANY, "2025-06-01").is_empty(), "王五's entry was rolled back");
}

#[test]
fn a_store_of_schema_7_gains_every_subjects_reach() {
    use crate::engine::{Cf, WriteBatch};
    let store = store();
    let (reaches_before, _) = reaches(&store);
    let answers = |store: &Store<MemoryEngine>| -> Vec<CheckResult> {
        [COMPANY, DEBTOR, SHOP, SHOP_OWNER, TRADER]
            .iter()
            .map(|id| {
                let mut answer = evaluate(store, id, "GOV_PROCUREMENT", "2025-02-01");
                answer.checked_at = chrono::DateTime::UNIX_EPOCH;
                answer
            })
            .collect()
    };
    let before = answers(&store);
    assert!(before.iter().filter(|a| !a.hits.is_empty()).count() >= 4, "{before:?}");
    // Schema 7 kept no reaches, and a store written before then no subject in `current`.
    let engine = store.into_engine();
    let mut old = WriteBatch::new();
    for (key, _) in crate::engine::collect_prefix(&engine, Cf::Current, b"").unwrap() {
        if key.len() < keys::SUBJECT_RECORD_KEY_BYTES {
            old.delete(Cf::Current, key);
        }
    }
    old.put(Cf::Meta, keys::SCHEMA_VERSION, "7");
    engine.write(old).unwrap();
    let reopened = Store::open(engine).unwrap();
    assert_eq!(reaches(&reopened).0, reaches_before);
    assert_eq!(answers(&reopened), before);
}

#[test]
fn check_ids_go_on_from_where_the_log_ended_after_a_reopen() {
    let store = store();
    let checker = Checker::new(&store, RuleSet::builtin());
    let ids: Vec<u64> =
        (0..3).map(|_| checker.check(&request(COMPANY, "GOV_PROCUREMENT", "2025-06-01")).unwrap().check_id).collect();
    assert_eq!(ids, [1, 2, 3], "kept in memory after the first, one after another");
    let reopened = Store::open(store.into_engine()).unwrap();
    let next = Checker::new(&reopened, RuleSet::builtin()).check(&request(DEBTOR, "BIDDING", "2025-06-01")).unwrap();
    assert_eq!(next.check_id, 4);
    assert!(reopened.check_entry(3).unwrap().is_some() && reopened.check_entry(4).unwrap().is_some());
}
