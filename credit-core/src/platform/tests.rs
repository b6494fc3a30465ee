//! The use cases as an approval system embedding the library meets them: every one decides what its
//! actor may do and leaves the audit entry a gRPC call of it leaves.

use std::sync::Arc;

use super::*;
use crate::audit::AuditQuery;
use crate::checks::tests::store as checks_store;
use crate::engine::MemoryEngine;

const COMPANY: &str = "91110000600037341L";
const DEBTOR: &str = "11010519491231002X";

fn platform() -> Platform<MemoryEngine> {
    Platform::new(Arc::new(checks_store()), RuleSet::builtin(), DisclosureRules::builtin())
}

fn actor(role: Role) -> Actor {
    Actor {
        key_id: (role != Role::Public).then(|| format!("{}-key", role.as_str())),
        role,
        department: Some("市财政局".into()),
        name: Some("approval-system".into()),
        subject_code: None,
    }
}

fn check_request() -> CheckRequest {
    CheckRequest {
        identifier: COMPANY.into(),
        item: "GOV_PROCUREMENT".into(),
        as_of: NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date"),
        department: Some("市财政局".into()),
    }
}

fn entries(platform: &Platform<MemoryEngine>, operation: &str) -> Vec<crate::audit::AuditEvent> {
    let query = AuditQuery { operation: Some(operation.into()), limit: 100, ..AuditQuery::default() };
    platform.store().audit().query(&query).unwrap().into_iter().map(|e| e.entry.event).collect()
}

#[test]
fn an_embedded_check_is_audited_like_any_other() {
    let platform = platform();
    let regulator = actor(Role::Regulator);
    let result = platform.check(&regulator, &check_request()).unwrap();
    let logged = entries(&platform, "check");
    assert_eq!(logged, vec![AuditEvent::check(regulator.clone(), &result)]);
    assert_eq!(logged[0].detail["verdict"], result.verdict.as_str());
    assert_eq!(logged[0].actor.name.as_deref(), Some("approval-system"));

    let batch = platform.check_batch(&regulator, &[check_request(), check_request()], &Cancel::never()).unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(entries(&platform, "check").len(), 3, "one entry per answered check of the batch");
}

#[test]
fn checks_are_for_regulators_only() {
    let platform = platform();
    let public = platform.check(&Actor::anonymous(), &check_request()).unwrap_err();
    assert!(matches!(public, PlatformError::Unauthenticated { what: "Check" }), "{public}");
    let provider = platform.check(&actor(Role::Provider), &check_request()).unwrap_err();
    assert!(matches!(provider, PlatformError::Forbidden { role: Role::Provider, .. }), "{provider}");
    let batch = platform.check_batch(&actor(Role::Provider), &[check_request()], &Cancel::never()).unwrap_err();
    assert!(matches!(batch, PlatformError::Forbidden { .. }), "{batch}");
    assert!(entries(&platform, "check").is_empty());
}

#[test]
fn a_cancelled_batch_is_neither_recorded_nor_audited() {
    let platform = platform();
    let cancel = Cancel::new();
    cancel.cancel();
    let stopped = platform.check_batch(&actor(Role::Regulator), &[check_request()], &cancel).unwrap_err();
    assert!(matches!(stopped, PlatformError::Cancelled(_)) && !stopped.is_user_error(), "{stopped}");
    assert!(entries(&platform, "check").is_empty());
}

#[test]
fn reading_a_person_as_a_regulator_needs_a_purpose_and_is_audited() {
    let platform = platform();
    let regulator = actor(Role::Regulator);
    let mut query = SubjectQuery { identifier: DEBTOR.into(), view: View::Regulator, ..SubjectQuery::default() };
    let refused = platform.read_subject(&regulator, &query, false).unwrap_err();
    assert!(matches!(refused, PlatformError::PurposeRequired), "{refused}");
    assert!(entries(&platform, "subject.read").is_empty());

    query.purpose = Some("行政许可审查".into());
    let page = platform.read_subject(&regulator, &query, true).unwrap();
    assert!(!page.records.is_empty() && page.subject_history.is_some());
    let logged = entries(&platform, "subject.read");
    assert_eq!(logged.len(), 1);
    assert_eq!((logged[0].subject, logged[0].purpose.as_deref()), (Some(page.subject.id), Some("行政许可审查")));
    assert_eq!(logged[0].actor, regulator);

    // A company needs no purpose, and its read is not written down.
    let company = SubjectQuery { identifier: COMPANY.into(), view: View::Regulator, ..SubjectQuery::default() };
    platform.read_subject(&regulator, &company, false).unwrap();
    assert_eq!(entries(&platform, "subject.read").len(), 1);
}

#[test]
fn the_public_reads_today_only_and_never_the_regulator_view() {
    let platform = platform();
    let public = Actor::anonymous();
    let past = SubjectQuery {
        identifier: COMPANY.into(),
        as_of: NaiveDate::from_ymd_opt(2024, 6, 1),
        ..SubjectQuery::default()
    };
    let refused = platform.read_subject(&public, &past, false).unwrap_err();
    assert!(matches!(refused, PlatformError::TimeTravel { field: "as_of", role: Role::Public }), "{refused}");
    let known_at = SubjectQuery { identifier: COMPANY.into(), known_at: Some(Utc::now()), ..SubjectQuery::default() };
    let refused = platform.read_subject(&actor(Role::Provider), &known_at, false).unwrap_err();
    assert!(matches!(refused, PlatformError::TimeTravel { field: "known_at", .. }), "{refused}");
    let regulator_view = SubjectQuery { identifier: COMPANY.into(), view: View::Regulator, ..SubjectQuery::default() };
    let refused = platform.read_subject(&public, &regulator_view, false).unwrap_err();
    assert!(matches!(refused, PlatformError::Unauthenticated { .. }), "{refused}");
    let history = SubjectQuery { identifier: COMPANY.into(), ..SubjectQuery::default() };
    let refused = platform.read_subject(&public, &history, true).unwrap_err();
    assert!(matches!(refused, PlatformError::Invalid { field: "include_history", .. }), "{refused}");

    let page = platform.read_subject(&public, &history, false).unwrap();
    assert_eq!(page.view, View::Public);
    let missing = SubjectQuery { identifier: "91350100M000100Y43".into(), ..SubjectQuery::default() };
    assert!(matches!(platform.read_subject(&public, &missing, false), Err(PlatformError::NoSubject(_))));
}

#[test]
fn administrative_acts_are_recorded_for_admins_only() {
    use crate::platform::AdminAct;
    let platform = platform();
    let act =
        AdminAct::ApiKeyCreated { id: "k1".into(), role: Role::Provider, dept: Some("市市场监管局".into()) };
    for role in [Role::Public, Role::Provider, Role::Regulator] {
        let actor = Actor { key_id: Some("x".into()), role, department: None, name: None, subject_code: None };
        assert!(platform.record_admin(&actor, std::slice::from_ref(&act)).is_err(), "{role:?} may not");
    }
    let rotate = AdminAct::SigningRotate { retired_key_id: "a".into(), key_id: "b".into() };
    platform.record_admin(&Actor::console(None), &[act, rotate]).unwrap();
    let entries = platform.store().audit().query(&AuditQuery { limit: 10, ..AuditQuery::default() }).unwrap();
    let operations: Vec<_> = entries.iter().map(|e| e.entry.event.operation.as_str()).collect();
    assert_eq!(operations, ["api_key.create", "signing.rotate"], "{entries:?}");
    assert_eq!(entries[0].entry.event.detail.get("dept").map(String::as_str), Some("市市场监管局"));
}

mod replication {
    //! Writes as commands: what one platform applied, carried as JSON and replayed on a fresh store,
    //! makes the same store.
    use super::*;
    use crate::audit::AuditQuery;
    use crate::cases::{Action, CaseError, Decision, Operator};
    use crate::command::{Command, Recorder, Replayed};
    use crate::engine::{Cf, collect_prefix};
    use crate::import::{ImportFrame, ImportKind, ImportOptions, Quiet};
    use crate::model::RecordCategory;
    use crate::model::feed::ChangeKind;
    use crate::view::View;

    const PENALTIES: &str = "CF_XDR_MC,CF_XDR_SHXYM,CF_XDR_ZJHM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG,CF_ZT\n\
北京某某科技有限公司,91110000600037341L,,京市监罚〔2024〕1号,罚款,2.5,2024-03-01,北京市市场监督管理局,\n\
深圳市未知贸易有限公司,91440300568520498A,,深市监罚〔2024〕9号,罚款,1,2024-03-02,深圳市市场监督管理局,\n";

    pub(super) fn repair_application(on: NaiveDate) -> crate::cases::RepairApplication {
        crate::cases::RepairApplication {
            evidence: vec!["京财缴〔2024〕77号 罚款缴纳凭证".into()],
            commitment: Some(crate::cases::CommitmentText {
                text: "本公司承诺所提交材料真实有效，如有违反愿意承担相应责任。".into(),
                made_on: on,
            }),
            acting_for: None,
        }
    }

    #[test]
    fn applicants_are_bound_to_the_subject_of_the_record() {
        let platform = fresh();
        let dir = tempfile::tempdir().unwrap();
        import(&platform, &dir, ImportKind::Subject, crate::checks::tests::SUBJECTS, false);
        import(&platform, &dir, ImportKind::Penalty, PENALTIES, false);
        let penalty_of = |code: &str| {
            let subject = platform.store().find_subject_id(code).unwrap().unwrap();
            platform.store().records_of(subject, None).unwrap()[0].id
        };
        let (own, other) = (penalty_of("91110000600037341L"), penalty_of("91440300568520498A"));
        let on = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let subject = Actor {
            key_id: Some("subject-key".into()),
            role: Role::Subject,
            department: None,
            name: None,
            subject_code: Some("91110000600037341L".into()),
        };
        let apply = |actor: &Actor, record, application| {
            platform.apply_for_repair(actor, record, operator(), "已缴清罚款", on, application)
        };
        let refused = apply(&subject, other, repair_application(on)).unwrap_err();
        assert!(matches!(refused, PlatformError::Case(CaseError::NoRecord(r)) if r == other), "{refused}");
        let refused = platform.open_case(&subject, Action::File, other, operator(), "not ours", on).unwrap_err();
        assert!(matches!(refused, PlatformError::Case(CaseError::NoRecord(_))), "objections too: {refused}");
        let case = apply(&subject, own, repair_application(on)).expect("its own record");
        assert_eq!(platform.case(&subject, case.id).unwrap().case.id, case.id, "it reads its own case");

        let regulator = actor(Role::Regulator);
        let refused = apply(&regulator, other, repair_application(on)).unwrap_err();
        assert!(matches!(refused, PlatformError::Forbidden { role: Role::Regulator, .. }), "{refused}");
        let acting = crate::cases::RepairApplication {
            acting_for: Some("深圳市某某贸易有限公司".into()),
            ..repair_application(on)
        };
        assert_eq!(
            apply(&regulator, other, acting).expect("acting for the subject").acting_for.as_deref(),
            Some("深圳市某某贸易有限公司")
        );

        let stranger = Actor { department: Some("北京市市场监督管理局".into()), ..actor(Role::Provider) };
        let refused = apply(&stranger, other, repair_application(on)).unwrap_err();
        assert!(
            matches!(refused, PlatformError::Forbidden { role: Role::Provider, .. }),
            "another department: {refused}"
        );

        // Its own full record, and nobody else's.
        let query =
            |code: &str| SubjectQuery { identifier: code.into(), view: View::Regulator, ..SubjectQuery::default() };
        let page = platform.read_subject(&subject, &query("91110000600037341L"), false).expect("own full view");
        assert!(page.records.iter().all(|r| r.disclosure.is_some()), "the full view shows each record's rule");
        let refused = platform.read_subject(&subject, &query("91440300568520498A"), false).unwrap_err();
        assert!(matches!(refused, PlatformError::Forbidden { .. }), "{refused}");
        let refused = platform.record_history(&subject, other, View::Regulator, None).unwrap_err();
        assert!(matches!(refused, PlatformError::Forbidden { .. }), "{refused}");
        let audited = platform.store().audit().query(&AuditQuery::default()).unwrap();
        assert!(audited.iter().any(|e| e.entry.event.result != "ok"), "refused applications are audited");
    }

    fn fresh() -> Platform<MemoryEngine> {
        let store = Store::open(MemoryEngine::new()).unwrap();
        Platform::new(Arc::new(store), RuleSet::builtin(), DisclosureRules::builtin())
    }

    fn import(
        platform: &Platform<MemoryEngine>,
        dir: &tempfile::TempDir,
        kind: ImportKind,
        text: &str,
        strict: bool,
    ) -> crate::import::ImportSummary {
        let path = dir.path().join(format!("{}-{}.csv", kind.as_str(), text.len()));
        std::fs::write(&path, text).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let options = ImportOptions { strict, ..ImportOptions::new(kind, today) };
        platform.import(&Actor::console(None), &[path], &options, "test", &mut Quiet).unwrap()
    }

    #[test]
    fn full_and_incremental_evaluation_runs_agree_and_grade_changes_reach_the_feed() {
        let platform = fresh();
        let dir = tempfile::tempdir().unwrap();
        import(&platform, &dir, ImportKind::Subject, crate::checks::tests::SUBJECTS, false);
        import(&platform, &dir, ImportKind::Penalty, PENALTIES, false);
        let console = Actor::console(None);
        let on = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let refused = platform.evaluate_all(&actor(Role::Regulator), on).unwrap_err();
        assert!(matches!(refused, PlatformError::Forbidden { .. }), "{refused}");

        let first = platform.evaluate_all(&console, on).unwrap();
        assert_eq!((first.kind, first.evaluated, first.grade_changed), ("full", 3, 0), "{first:?}");
        let company = platform.store().find_subject_id("91110000600037341L").unwrap().unwrap();
        let stored = platform.stored_evaluation(company).unwrap().expect("stored");
        let live = platform.evaluate_subject(&actor(Role::Regulator), "91110000600037341L", None).unwrap();
        let Some(crate::platform::ShownEvaluation::Full(live)) = live else { panic!("a regulator sees it all") };
        assert_eq!((&live.grade, live.score), (&stored.grade, stored.score));
        let public = platform.evaluate_subject(&Actor::anonymous(), "91110000600037341L", None).unwrap();
        assert!(
            matches!(&public, Some(crate::platform::ShownEvaluation::GradeOnly { grade, .. }) if *grade == stored.grade),
            "the public sees the grade alone: {public:?}"
        );
        let refused = platform.evaluate_subject(&Actor::anonymous(), "91110000600037341L", Some(on)).unwrap_err();
        assert!(matches!(refused, PlatformError::TimeTravel { .. }), "{refused}");
        let shop = platform.evaluate_subject(&Actor::anonymous(), "92340602MA2PBMEM24", None).unwrap_err();
        assert!(matches!(shop, PlatformError::NoSubject(_)), "individual businesses are not in the public scope");
        assert!(stored.grade != "D", "{stored:?}");
        let unchanged = platform.evaluate_changed(&console, on).unwrap();
        assert_eq!((unchanged.kind, unchanged.evaluated), ("incremental", 0), "nothing changed since");

        // The company goes on the serious-violation list: only it is re-evaluated, and its grade falls.
        let listed = "MD_LX,XDR_MC,XDR_SHXYM,RDBM,RDYJ,LRRQ,ZT
                      SERIOUS_VIOLATION,北京某某科技有限公司,91110000600037341L,北京市市场监督管理局,京市监严〔2026〕3号,2026-11-01,有效
";
        import(&platform, &dir, ImportKind::List, listed, false);
        let feed_before = platform.store().feed_end().unwrap();
        let second = platform.evaluate_changed(&console, on).unwrap();
        cube_matches_scan(&platform, on);
        assert_eq!((second.kind, second.evaluated, second.grade_changed), ("incremental", 1, 1), "{second:?}");
        let events = platform.store().feed(feed_before, 10).unwrap();
        assert_eq!(events.len(), 1);
        let change = events[0].change.grade.clone().expect("a grade change");
        assert_eq!(
            (events[0].change.kind, change.from.as_str(), change.to.as_str()),
            (ChangeKind::GradeChanged, stored.grade.as_str(), "D")
        );
        assert_eq!(events[0].change.subject, company);
        assert_eq!(events[0].change.code.as_deref(), Some("91110000600037341L"), "followers know it by its code");

        // Checks report the stored grade and risk class.
        let request = CheckRequest { identifier: "91110000600037341L".into(), ..check_request() };
        let checked = platform.check(&actor(Role::Regulator), &request).unwrap();
        let grade = checked.evaluation.expect("the check reports the grade");
        assert_eq!((grade.grade.as_str(), grade.risk_class.as_deref(), grade.as_of), ("D", Some("D"), on));

        // A full run now finds nothing to change: the incremental one left what a full one makes.
        let full = platform.evaluate_all(&console, on).unwrap();
        assert_eq!((full.evaluated, full.grade_changed), (3, 0), "{full:?}");
        cube_matches_scan(&platform, on);
        let distribution = platform.grade_distribution(&actor(Role::Regulator)).unwrap();
        assert_eq!(distribution, platform.grade_distribution_scanned().unwrap(), "the cube's counts are the store's");
        assert_eq!(distribution.total, 3);
        assert_eq!(distribution.grades.get("D"), Some(&1));
        assert_eq!(distribution.risk_classes.values().sum::<u64>(), 3);
        // An organisation registered without a division is in no cell of the credit map, yet counted.
        // (Known by its organisation code alone: a unified code would give the division; the default
        // model leaves such organisations out, so the cube's own test covers a graded one.)
        let nowhere = "ZZJGDM,JGMC,ZCDZXZQHDM,CLRQ,ZT\n867247399,唐山市荣远房地产开发有限公司,,2012-01-01,存续\n";
        import(&platform, &dir, ImportKind::Subject, nowhere, false);
        let unplaced = platform.store().find_subject_id("867247399").unwrap().unwrap();
        assert_eq!(platform.store().subject(unplaced).unwrap().unwrap().division, None);
        let changed = platform.evaluate_changed(&console, on).unwrap();
        assert_eq!((changed.kind, changed.evaluated, changed.out_of_scope), ("incremental", 0, 1), "{changed:?}");
        let cube = platform.current_cube().unwrap().expect("kept");
        assert_eq!(cube.unplaced.as_ref().map(|u| u.subjects), Some(1), "{cube:?}");
        let distribution = platform.grade_distribution(&actor(Role::Regulator)).unwrap();
        assert_eq!(distribution, platform.grade_distribution_scanned().unwrap());
        assert_eq!(distribution.total, 3);
        let audited = platform.store().audit().query(&AuditQuery::default()).unwrap();
        assert_eq!(
            audited.iter().filter(|e| e.entry.event.operation == "evaluate").count(),
            4,
            "every run that evaluated something (or found it out of scope) is audited"
        );
        // Another day is a full run: records age with the day.
        let next_day = on.succ_opt().unwrap();
        let tomorrow = platform.evaluate_changed(&console, next_day).unwrap();
        assert_eq!(tomorrow.kind, "full");
        // Evaluations that did not change are not written again, yet read as of the new day.
        let kept = platform.stored_evaluation(company).unwrap().expect("stored");
        assert_eq!((kept.as_of, kept.grade.as_str()), (next_day, "D"));
        let checked = platform.check(&actor(Role::Regulator), &request).unwrap();
        assert_eq!(checked.evaluation.map(|g| g.as_of), Some(next_day));
    }

    /// The statistics the last run's cube gives equal those read from every subject, for every cut.
    fn cube_matches_scan(platform: &Platform<MemoryEngine>, on: NaiveDate) {
        let anyone = Actor::anonymous();
        for division in ["", "11", "1101", "34"] {
            for by in [
                crate::platform::StatsBy::Division { level: 2 },
                crate::platform::StatsBy::Division { level: 4 },
                crate::platform::StatsBy::Division { level: 6 },
                crate::platform::StatsBy::Industry,
            ] {
                let request =
                    crate::platform::StatsRequest { division: division.into(), by, as_of: Some(on), min_count: 1 };
                let kept = platform.credit_statistics(&anyone, &request).unwrap();
                let read = platform.credit_statistics_scanned(&request).unwrap();
                assert_eq!(kept, read, "{division:?} by {by:?}");
            }
        }
    }

    /// 60 enterprises in 南京市玄武区 (320102) and 20 in 苏州 (320505), all clean (grade B), evaluated on
    /// 2026-12-04 after `listed` of the first ones went on the serious-violation list.
    fn eighty_enterprises(listed: &[u32]) -> Platform<MemoryEngine> {
        let platform = fresh();
        let dir = tempfile::tempdir().unwrap();
        let code = |i: u32| {
            let division = if i < 60 { "320102" } else { "320505" };
            crate::ident::Uscc::build('9', '1', division, &format!("{:08}", 10_000_000 + i)).unwrap()
        };
        let mut subjects = String::from("TYSHXYDM,JGMC,ZCDZXZQHDM,CLRQ,JJHYDM\n");
        for i in 0..80u32 {
            let division = if i < 60 { "320102" } else { "320505" };
            let industry = if i % 2 == 0 { "C1311" } else { "F5123" };
            subjects.push_str(&format!("{},测试企业{i}有限公司,{division},2016-01-01,{industry}\n", code(i).as_str()));
        }
        import(&platform, &dir, ImportKind::Subject, &subjects, true);
        if !listed.is_empty() {
            let mut lists = String::from("MD_LX,XDR_MC,XDR_SHXYM,RDBM,RDYJ,LRRQ,ZT\n");
            for i in listed {
                lists.push_str(&format!(
                    "SERIOUS_VIOLATION,测试企业{i}有限公司,{},南京市市场监督管理局,宁市监严〔2026〕{i}号,2026-06-01,有效\n",
                    code(*i).as_str()
                ));
            }
            import(&platform, &dir, ImportKind::List, &lists, true);
        }
        platform.evaluate_all(&Actor::console(None), NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()).unwrap();
        platform
    }

    #[test]
    fn statistics_count_by_division_and_industry_and_suppress_small_cells() {
        let platform = eighty_enterprises(&[0, 1, 2]);
        let on = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let ask = |division: &str, by, min_count| crate::platform::StatsRequest {
            division: division.into(),
            by,
            as_of: Some(on),
            min_count,
        };
        let anyone = Actor::anonymous();
        let county = crate::platform::StatsBy::Division { level: 6 };
        let stats = platform.credit_statistics(&anyone, &ask("", county, 5)).unwrap();
        let cells: Vec<(&str, Option<u64>)> = stats.cells.iter().map(|c| (c.key.as_str(), c.subjects)).collect();
        assert_eq!(cells, vec![("320102", Some(60)), ("320505", Some(20))]);
        let xuanwu = &stats.cells[0];
        assert_eq!(xuanwu.name.as_deref(), Some("玄武区"));
        assert_eq!(xuanwu.grades.get("D"), Some(&None), "three D grades: suppressed");
        assert_eq!(xuanwu.grades.get("B"), Some(&None), "60 enterprises − 57 B would give the 3 D away: withheld too");
        assert_eq!(xuanwu.by_type.get("enterprise"), Some(&Some(60)));
        assert_eq!(xuanwu.lists_in_force.get("SERIOUS_VIOLATION"), Some(&None), "three entries: suppressed");
        let open = platform.credit_statistics(&anyone, &ask("", county, 1)).unwrap();
        assert_eq!(open.cells[0].lists_in_force.get("SERIOUS_VIOLATION"), Some(&Some(3)));
        let city = platform
            .credit_statistics(&anyone, &ask("32", crate::platform::StatsBy::Division { level: 4 }, 5))
            .unwrap();
        let keys: Vec<&str> = city.cells.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, vec!["320100", "320500"]);
        let strict = platform.credit_statistics(&anyone, &ask("3205", county, 25)).unwrap();
        assert_eq!((strict.cells.len(), strict.cells[0].subjects), (1, None), "20 under 25: suppressed");
        let industry = platform.credit_statistics(&anyone, &ask("", crate::platform::StatsBy::Industry, 5)).unwrap();
        let by: Vec<(&str, Option<u64>)> = industry.cells.iter().map(|c| (c.key.as_str(), c.subjects)).collect();
        assert_eq!(by, vec![("C", Some(40)), ("F", Some(40))]);
        for (bad, field) in [
            (ask("南京", county, 5), "division"),
            (ask("", crate::platform::StatsBy::Division { level: 3 }, 5), "level"),
            (ask("", county, 0), "min_count"),
        ] {
            let refused = platform.credit_statistics(&anyone, &bad).unwrap_err();
            assert!(matches!(refused, PlatformError::Invalid { field: f, .. } if f == field), "{refused}");
        }
    }

    #[test]
    fn a_full_run_that_fails_part_way_leaves_the_last_run_as_it_was() {
        let platform = eighty_enterprises(&[]);
        let on = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let store = platform.store();
        let (mark, cube) = (store.evaluated_through().unwrap(), store.stats_cube().unwrap());
        let first = store.find_subject_id(crate::ident::Uscc::build('9', '1', "320102", "10000000").unwrap().as_str());
        let first = first.unwrap().unwrap();
        let before = store.stored_evaluation(first).unwrap();
        // A new day would rewrite every evaluation; the last subject's current value is unreadable, so
        // the run fails after it has written several chunks.
        let last = store.find_subject_id(crate::ident::Uscc::build('9', '1', "320505", "10000079").unwrap().as_str());
        let mut corrupt = crate::engine::WriteBatch::new();
        corrupt.put(crate::engine::Cf::Current, crate::store::keys::subject(last.unwrap().unwrap()), b"?".to_vec());
        store.engine().write(corrupt).unwrap();
        let failed = platform.evaluate_all(&Actor::console(None), on.succ_opt().unwrap());
        assert!(failed.is_err(), "{failed:?}");
        assert_eq!(store.evaluated_through().unwrap(), mark, "the mark is the last run's");
        assert_eq!(store.stats_cube().unwrap(), cube, "so are the statistics");
        assert_eq!(store.stored_evaluation(first).unwrap(), before, "the chunks written were rolled back");
    }

    #[test]
    fn an_item_may_ask_for_caution_by_risk_class() {
        let platform = eighty_enterprises(&[]);
        let code = crate::ident::Uscc::build('9', '1', "320102", "10000000").unwrap();
        let request = CheckRequest {
            identifier: code.as_str().into(),
            item: "SUBSIDY".into(),
            as_of: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
            department: None,
        };
        let regulator = actor(Role::Regulator);
        let plain = platform.check(&regulator, &request).unwrap();
        assert_eq!(plain.verdict, crate::checks::Verdict::Clear, "no grade rule in the compiled-in items");
        let files: Vec<(String, String)> = crate::rules::RuleSet::builtin_files()
            .iter()
            .map(|(name, text)| {
                let text = match *name {
                    "items.toml" => text.replacen(
                        "code = \"SUBSIDY\"\nname = \"财政补贴与政策支持\"",
                        "code = \"SUBSIDY\"\nname = \"财政补贴与政策支持\"\ncaution_risk_classes = [\"B\", \"C\", \"D\"]",
                        1,
                    ),
                    _ => text.to_string(),
                };
                (name.to_string(), text)
            })
            .collect();
        let rules = Arc::new(crate::rules::RuleSet::from_files(&files).unwrap());
        assert_eq!(rules.items["SUBSIDY"].caution_risk_classes, vec!["B", "C", "D"], "the edit took");
        let graded = platform.with_rules(rules);
        let checked = graded.check(&regulator, &request).unwrap();
        assert_eq!(checked.verdict, crate::checks::Verdict::Caution, "{:?}", checked.reasons);
        assert!(checked.reasons.iter().any(|r| r.contains("risk class B")), "{:?}", checked.reasons);
        let other = CheckRequest { item: "BIDDING".into(), ..request };
        assert_eq!(graded.check(&regulator, &other).unwrap().verdict, crate::checks::Verdict::Clear, "other items");
    }

    /// The compiled-in rule files with `extra` added (relative path, text).
    fn rules_with(extra: &[(&str, &str)]) -> Result<crate::rules::RuleSet, crate::rules::RulesError> {
        let mut files: Vec<(String, String)> =
            crate::rules::RuleSet::builtin_files().iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        files.extend(extra.iter().map(|(n, t)| (n.to_string(), t.to_string())));
        crate::rules::RuleSet::from_files(&files)
    }

    const BY_CLASS: &str = r#"
id = "MEMO-BY-CLASS"
title = "按信用风险分类的监管措施（测试）"
document_number = "测试文件"
kind = "punishment"
risk_classes = ["B", "D"]
identifying_department = "市场监督管理部门"
scope = ["entity"]
valid_from = 2026-01-01

[[measures]]
id = "BY-CLASS-INSPECTION"
text = "提高抽查比例和频次"
implementing_department = "市场监督管理部门"
legal_basis = "测试依据"
mandatory = false
items = ["INSPECTION"]
"#;

    #[test]
    fn a_memorandum_may_attach_measures_to_a_risk_class() {
        let platform = eighty_enterprises(&[]);
        let code = crate::ident::Uscc::build('9', '1', "320102", "10000000").unwrap();
        let request = CheckRequest {
            identifier: code.as_str().into(),
            item: "INSPECTION".into(),
            as_of: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
            department: None,
        };
        let regulator = actor(Role::Regulator);
        let plain = platform.check(&regulator, &request).unwrap();
        assert_eq!(plain.verdict, crate::checks::Verdict::Clear, "no memorandum by class is compiled in");
        assert_eq!(plain.evaluation.as_ref().and_then(|e| e.risk_class.as_deref()), Some("B"));

        let rules = Arc::new(rules_with(&[("memoranda/by_class.toml", BY_CLASS)]).unwrap());
        assert!(platform.evaluation_model().unknown_risk_classes(&rules).is_empty(), "B and D are model classes");
        let graded = platform.with_rules(rules);
        let checked = graded.check(&regulator, &request).unwrap();
        assert_eq!(checked.verdict, crate::checks::Verdict::Restrict, "{:?}", checked.reasons);
        let measure = &checked.measures[0];
        assert_eq!((measure.measure_id.as_str(), measure.risk_class.as_deref()), ("BY-CLASS-INSPECTION", Some("B")));
        assert!(measure.hits.is_empty(), "no list entry brings it");
        assert!(checked.reasons[0].contains("supervision risk class B"), "{:?}", checked.reasons);
        let other = CheckRequest { item: "BIDDING".into(), ..request.clone() };
        assert_eq!(graded.check(&regulator, &other).unwrap().verdict, crate::checks::Verdict::Clear, "other items");
        let before = CheckRequest { as_of: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(), ..request.clone() };
        assert_eq!(graded.check(&regulator, &before).unwrap().verdict, crate::checks::Verdict::Clear, "not yet valid");

        // Another class does not reach it.
        let d_only = BY_CLASS.replace(r#"risk_classes = ["B", "D"]"#, r#"risk_classes = ["D"]"#);
        let graded = graded.with_rules(Arc::new(rules_with(&[("memoranda/by_class.toml", &d_only)]).unwrap()));
        assert_eq!(graded.check(&regulator, &request).unwrap().verdict, crate::checks::Verdict::Clear, "class D only");
    }

    #[test]
    fn rules_that_name_risk_classes_are_checked_against_the_model() {
        let platform = eighty_enterprises(&[]);
        let unknown = BY_CLASS.replace(r#"risk_classes = ["B", "D"]"#, r#"risk_classes = ["B", "Z"]"#);
        let rules = rules_with(&[("memoranda/by_class.toml", &unknown)]).unwrap();
        let misfit = platform.evaluation_model().unknown_risk_classes(&rules);
        assert_eq!(misfit.len(), 1, "{misfit:?}");
        assert!(misfit[0].starts_with("memoranda/by_class.toml: risk class \"Z\""), "{misfit:?}");
        for (bad, reason) in [
            (BY_CLASS.replace(r#"risk_classes = ["B", "D"]"#, ""), "at least one list type or risk class"),
            (BY_CLASS.replace(r#"risk_classes = ["B", "D"]"#, r#"risk_classes = []"#), "at least one list type"),
            (BY_CLASS.replace(r#"risk_classes = ["B", "D"]"#, r#"risk_classes = ["B", "B"]"#), "named twice"),
            (BY_CLASS.replace(r#"risk_classes = ["B", "D"]"#, r#"risk_classes = [" "]"#), "1 to 32 characters"),
        ] {
            let refused = rules_with(&[("memoranda/by_class.toml", &bad)]).unwrap_err();
            let error = &refused.errors[0];
            assert_eq!(error.file, "memoranda/by_class.toml");
            assert!(error.line > 0 && error.reason.contains(reason), "{error:?}");
        }
    }

    #[test]
    fn inspection_plans_draw_reproducibly_per_risk_class_at_the_ratios() {
        let platform = eighty_enterprises(&[]);
        let request = crate::platform::PlanRequest {
            item: "企业年报抽查".into(),
            department: "南京市市场监督管理局".into(),
            division: "3201".into(),
            seed: "2026-12-抽签-1".into(),
        };
        let regulator = actor(Role::Regulator);
        let plan = platform.inspection_plan(&regulator, &request).unwrap();
        let b = plan.classes.iter().find(|c| c.risk_class == "B").unwrap();
        assert_eq!((b.population, b.drawn.len()), (60, 3), "5 % of 60, rounded up");
        assert!(plan.classes.iter().filter(|c| c.risk_class != "B").all(|c| c.population == 0 && c.drawn.is_empty()));
        assert!(b.drawn.iter().all(|d| d.code.as_deref().is_some_and(|c| &c[2..8] == "320102")), "only the division");
        let again = platform.inspection_plan(&regulator, &request).unwrap();
        assert_eq!(again, plan, "the same seed draws the same subjects");
        let other = crate::platform::PlanRequest { seed: "another".into(), ..request.clone() };
        let redrawn = platform.inspection_plan(&regulator, &other).unwrap();
        assert_ne!(redrawn.classes, plan.classes, "another seed draws others");
        let audited = entries(&platform, "inspection.plan");
        assert_eq!(audited.len(), 3);
        assert_eq!(audited[0].detail.get("seed").map(String::as_str), Some("2026-12-抽签-1"));
        assert!(audited[0].detail["ratios"].contains("B=0.05"), "{:?}", audited[0].detail);
        let drawn: Vec<String> = b.drawn.iter().map(|d| d.subject.0.to_string()).collect();
        assert_eq!(audited[0].detail["subjects"], drawn.join(","));
        let refused = platform.inspection_plan(&actor(Role::Provider), &request).unwrap_err();
        assert!(matches!(refused, PlatformError::Forbidden { .. }), "{refused}");
        let bad = crate::platform::PlanRequest { division: "南京".into(), ..request };
        assert!(matches!(
            platform.inspection_plan(&regulator, &bad),
            Err(PlatformError::Invalid { field: "division", .. })
        ));
    }

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    /// Every family but the node's own records (the check log and the audit chain, and their
    /// counters in `meta`), key by key.
    fn dump(platform: &Platform<MemoryEngine>) -> Vec<(&'static str, Pairs)> {
        let local: [&[u8]; 3] = [b"next_check", b"audit_head", b"next_report"];
        Cf::ALL
            .iter()
            .filter(|cf| !matches!(cf, Cf::Checks | Cf::Audit))
            .map(|cf| {
                let mut pairs = collect_prefix(platform.store().engine(), *cf, b"").unwrap();
                pairs.retain(|(key, _)| *cf != Cf::Meta || !local.contains(&key.as_slice()));
                (cf.name(), pairs)
            })
            .collect()
    }

    fn operator() -> Operator {
        Operator { name: "王审核".into(), role: Some("regulator".into()), department: None, key_id: None }
    }

    /// An origin that imported, rolled back a strict import, took case steps (one refused), received
    /// feedback and swept; the commands it published, through JSON.
    fn origin() -> (Platform<MemoryEngine>, Vec<Command>) {
        let recorder = Arc::new(Recorder::new());
        let origin = fresh().with_command_sink(recorder.clone());
        let dir = tempfile::tempdir().unwrap();
        import(&origin, &dir, ImportKind::Subject, crate::checks::tests::SUBJECTS, false);
        import(&origin, &dir, ImportKind::List, crate::checks::tests::LISTS, false);
        import(&origin, &dir, ImportKind::Penalty, PENALTIES, false);
        let rolled_back = import(&origin, &dir, ImportKind::Penalty, &format!("{PENALTIES}x,,,,,,,,\n"), true);
        assert!(!rolled_back.committed && rolled_back.rejected == 1);
        import(&origin, &dir, ImportKind::Penalty, &PENALTIES.replace("2.5", "3"), false);

        let mut penalty = None;
        origin
            .store()
            .scan_record_heads(&mut |head| {
                if head.category == RecordCategory::Penalty {
                    penalty = Some(head.id);
                }
                penalty.is_none()
            })
            .unwrap();
        let regulator = actor(Role::Regulator);
        let on = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let application = crate::cases::RepairApplication {
            acting_for: Some("北京某某科技有限公司（法定代表人张三）".into()),
            ..repair_application(on)
        };
        let case = origin
            .apply_for_repair(&regulator, penalty.unwrap(), operator(), "已整改并缴清罚款", on, application)
            .unwrap();
        assert!(case.commitment_record.is_some() && case.acting_for.is_some());
        let decide =
            |action| Decision { action, operator: operator(), note: None, on, effective: None, correction: None };
        assert!(origin.decide_case(&regulator, case.id + 7, decide(Action::Accept)).is_err(), "no such case");
        origin.decide_case(&regulator, case.id, decide(Action::Accept)).unwrap();
        origin.decide_case(&actor(Role::Admin), case.id, decide(Action::Approve)).unwrap();

        let checked = origin.check(&regulator, &check_request()).unwrap();
        let measure = checked.measures.first().expect("a blocked company has measures");
        let input = FeedbackInput {
            check_id: checked.check_id,
            measure_id: measure.measure_id.clone(),
            outcome: crate::checks::Outcome::Applied,
            reason: None,
            amount: Some("12.5".into()),
            department: "市财政局".into(),
            division: None,
            item: None,
            time: None,
            operator: "李采购".into(),
        };
        origin.submit_feedback(&regulator, input).unwrap();
        let swept = origin.sweep(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()).unwrap();
        assert!(swept.batch.is_some());

        // A full evaluation run, then the company goes on a serious list and an incremental run lowers
        // its grade (a grade_changed event on the feed).
        let (console, day) = (Actor::console(None), NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        assert_eq!(origin.evaluate_all(&console, day).unwrap().kind, "full");
        let listed = "MD_LX,XDR_MC,XDR_SHXYM,RDBM,RDYJ,LRRQ,ZT
SERIOUS_VIOLATION,北京某某科技有限公司,91110000600037341L,北京市市场监督管理局,京市监严〔2026〕3号,2026-11-01,有效
";
        import(&origin, &dir, ImportKind::List, listed, false);
        let incremental = origin.evaluate_changed(&console, day).unwrap();
        assert_eq!((incremental.kind, incremental.grade_changed), ("incremental", 1), "{incremental:?}");
        assert_eq!(origin.evaluate_changed(&console, day).unwrap().batch, None, "nothing changed: nothing published");

        let commands = recorder.take();
        let carried: Vec<Command> =
            commands.iter().map(|c| serde_json::from_str(&serde_json::to_string(c).unwrap()).unwrap()).collect();
        assert_eq!(carried, commands, "commands survive the trip as JSON");
        (origin, carried)
    }

    #[test]
    fn the_commands_of_one_store_make_the_same_store_elsewhere() {
        let (origin, commands) = origin();
        let kinds: Vec<&str> = commands.iter().map(Command::kind).collect();
        for kind in ["import", "case", "feedback", "sweep", "evaluate"] {
            assert!(kinds.contains(&kind), "{kind} is published: {kinds:?}");
        }
        let ends: Vec<bool> = commands
            .iter()
            .filter_map(|c| match c {
                Command::Import { frame: ImportFrame::End { committed, .. } } => Some(*committed),
                _ => None,
            })
            .collect();
        assert_eq!(ends, [true, true, true, false, true, true], "the strict import's end says it rolled back");

        let dir = tempfile::tempdir().unwrap();
        let index = crate::search::SearchIndex::open(dir.path()).unwrap();
        let replica = fresh().with_index(Arc::new(std::sync::RwLock::new(index)));
        let replayed = replica.replay(&Actor::console(None), &mut commands.clone().into_iter()).unwrap();
        assert!(replayed.iter().all(|r| !matches!(r, Replayed::Skipped(_))), "{replayed:?}");
        let (a, b) = (dump(&origin), dump(&replica));
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert!(x == y, "family {name} differs between the origin and its replica");
        }
        assert!(a.iter().any(|(name, pairs)| *name == "feedback" && pairs.len() == 1));
        assert_eq!(replica.indexed_subjects(), origin.store().counters().unwrap().subjects);

        // Delivered twice: nothing changes. The batch that rolled back runs (and rolls back) again.
        let commands_again = commands.clone();
        let again = replica.replay(&Actor::console(None), &mut commands.into_iter()).unwrap();
        let rerun = |r: &Replayed| matches!(r, Replayed::Import(summary) if !summary.committed);
        assert!(again.iter().all(|r| matches!(r, Replayed::Skipped(_)) || rerun(r)), "{again:?}");
        assert_eq!(again.iter().filter(|r| rerun(r)).count(), 1);
        assert!(dump(&replica) == b);
        let logged = entries(&replica, "replay");
        assert_eq!(logged.len(), 2);
        assert_eq!((logged[0].detail["applied"].as_str(), logged[1].detail["applied"].as_str()), ("13", "1"));

        // A node under another evaluation model cannot take the origin's runs.
        let text = crate::evaluation::BUILTIN_TOML.replace("version = \"local-2026.1\"", "version = \"other-1\"");
        let other = crate::evaluation::EvaluationModel::from_toml(&text, "other.toml").unwrap();
        let misfit = fresh().with_evaluation_model(Arc::new(other));
        let refused = misfit.replay(&Actor::console(None), &mut commands_again.into_iter()).unwrap_err();
        assert!(refused.to_string().contains("model local-2026.1, this node has other-1"), "{refused}");
    }

    #[test]
    fn a_broken_off_import_lands_nothing_and_lands_whole_when_sent_again() {
        let (origin, commands) = origin();
        let replica = fresh();
        // The first import's begin and rows, without its end.
        let cut: Vec<Command> = commands
            .iter()
            .take_while(|c| !matches!(c, Command::Import { frame: ImportFrame::End { .. } }))
            .cloned()
            .collect();
        assert!(cut.len() >= 2);
        let broken = replica.replay(&Actor::console(None), &mut cut.into_iter()).unwrap_err();
        assert!(matches!(broken, PlatformError::Replay { batch: 1, .. }), "{broken}");
        assert_eq!(replica.store().counters().unwrap().subjects, 0, "nothing of the batch landed");

        replica.replay(&Actor::console(None), &mut commands.into_iter()).unwrap();
        let (a, b) = (dump(&origin), dump(&replica));
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert!(x == y, "family {name} differs after the import was sent again");
        }
    }

    #[test]
    fn only_admins_replay_and_a_diverged_store_is_refused() {
        let (_, commands) = origin();
        let replica = fresh();
        let refused = replica.replay(&actor(Role::Regulator), &mut commands.clone().into_iter()).unwrap_err();
        assert!(matches!(refused, PlatformError::Forbidden { .. }), "{refused}");
        // Without the imports, the case step finds no record: the replica has diverged.
        let mut rest = commands.into_iter().filter(|c| !matches!(c, Command::Import { .. }));
        let diverged = replica.replay(&Actor::console(None), &mut rest).unwrap_err();
        assert!(matches!(diverged, PlatformError::Replay { .. }) && !diverged.is_user_error(), "{diverged}");
        // A frame without its begin is refused too.
        let (_, commands) = origin();
        let mut rows =
            commands.into_iter().filter(|c| matches!(c, Command::Import { frame: ImportFrame::Rows { .. } }));
        assert!(matches!(fresh().replay(&Actor::console(None), &mut rows), Err(PlatformError::Replay { .. })));
    }
}
