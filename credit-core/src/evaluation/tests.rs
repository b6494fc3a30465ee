use chrono::{DateTime, Utc};

use super::*;
use crate::model::{BatchId, RecordContent, RecordStatus, Subject};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn company(established: &str) -> Subject {
    let mut s = Subject::provisional(SubjectId(1), SubjectType::Enterprise, "某某科技有限公司", Vec::new(), None);
    s.established = Some(d(established));
    s
}

fn version(id: u64, content: RecordContent) -> RecordVersion {
    RecordVersion {
        record: RecordId(id),
        version: 1,
        recorded_at: DateTime::<Utc>::UNIX_EPOCH,
        batch: BatchId(1),
        source_dept: None,
        hash: String::new(),
        content,
    }
}

fn penalty(id: u64, decided: &str, types: &[&str]) -> RecordVersion {
    let mut content = crate::model::tests::list_entry(decided, None, None);
    content.decision_date = Some(d(decided));
    content.details = RecordDetails::Penalty {
        violation_type: None,
        facts: None,
        legal_basis: None,
        penalty_types: types.iter().map(|t| t.to_string()).collect(),
        content: None,
        fine: None,
        confiscated: None,
        licence_affected: None,
        procedure: None,
    };
    version(id, content)
}

fn listed(id: u64, list_type: &str, on: &str, removed: Option<&str>) -> RecordVersion {
    let mut content = crate::model::tests::list_entry(on, None, removed);
    if let RecordDetails::ListEntry { list_type: t, .. } = &mut content.details {
        *t = list_type.into();
    }
    version(id, content)
}

fn evaluate(records: &[RecordVersion], on: &str) -> Evaluation {
    EvaluationModel::builtin()
        .evaluate(&DisclosureRules::builtin(), &company("2016-06-01"), records, d(on))
        .expect("an enterprise is evaluated")
}

fn points(e: &Evaluation, id: &str) -> Option<(i64, i64, Vec<RecordId>)> {
    e.indicators.iter().find(|i| i.id == id).map(|i| (i.count, i.points, i.records.clone()))
}

#[test]
fn the_builtin_model_marks_every_value_local() {
    let model = EvaluationModel::builtin();
    assert!(model.indicators.iter().all(|i| i.local));
    assert!(model.grades.iter().all(|g| g.local) && model.overrides.iter().all(|o| o.local));
    assert!(model.risk_classes.iter().all(|r| r.local));
    assert_eq!(model.grades.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), vec!["A", "B", "C", "D"]);
    assert!(BUILTIN_TOML.contains("GB/T 45255-2025"));
}

#[test]
fn a_clean_company_scores_its_base_plus_its_years() {
    let e = evaluate(&[], "2026-12-04");
    assert_eq!(points(&e, "years_established"), Some((10, 10, vec![])), "ten whole years, capped at 10");
    assert_eq!((e.score, e.grade.as_str(), e.risk_class.as_deref()), (90, "B", Some("B")));
    let young = EvaluationModel::builtin()
        .evaluate(&DisclosureRules::builtin(), &company("2024-12-05"), &[] as &[RecordVersion], d("2026-12-04"))
        .expect("evaluated");
    assert_eq!(points(&young, "years_established"), Some((1, 1, vec![])), "the anniversary is tomorrow");
}

#[test]
fn penalties_count_by_tier_and_age_and_stop_counting_when_repaired() {
    let fine = penalty(7, "2026-06-01", &["罚款"]);
    let revoked = penalty(8, "2026-01-10", &["吊销许可证件"]);
    let old = penalty(9, "2025-01-10", &["罚款"]);
    let e = evaluate(&[fine.clone(), revoked.clone(), old.clone()], "2026-12-04");
    assert_eq!(points(&e, "general_penalties"), Some((1, -5, vec![RecordId(7)])), "the old fine is over a year");
    assert_eq!(points(&e, "serious_penalties"), Some((1, -20, vec![RecordId(8)])));
    assert_eq!(e.score, 80 + 10 - 25);
    assert_eq!(e.grade, "C");
    let mut repaired = fine;
    repaired.content.status = RecordStatus::Repaired;
    repaired.content.status_since = Some(d("2026-10-01"));
    let e = evaluate(&[repaired.clone(), revoked, old], "2026-12-04");
    assert_eq!(points(&e, "general_penalties"), None, "a repaired record no longer counts");
    let before = evaluate(&[repaired], "2026-09-30");
    assert_eq!(points(&before, "general_penalties"), Some((1, -5, vec![RecordId(7)])), "it did until then");
    let many: Vec<RecordVersion> = (0..20).map(|i| penalty(100 + i, "2026-06-01", &["罚款"])).collect();
    assert_eq!(points(&evaluate(&many, "2026-12-04"), "general_penalties").map(|p| p.1), Some(-30), "capped");
}

#[test]
fn a_serious_list_entry_caps_the_grade_and_red_lists_add_points() {
    let aeo = listed(3, "CUSTOMS_AEO", "2025-01-01", None);
    let tax = listed(4, "TAX_A_GRADE", "2025-04-01", None);
    let e = evaluate(&[aeo.clone(), tax.clone()], "2026-12-04");
    assert_eq!((e.score, e.grade.as_str(), e.capped_by.as_ref()), (110, "A", None));
    let court = listed(5, "COURT_DISHONEST_DEBTOR", "2026-03-01", None);
    let e = evaluate(&[aeo.clone(), tax.clone(), court], "2026-12-04");
    assert_eq!((e.score, e.grade.as_str(), e.risk_class.as_deref()), (110, "D", Some("D")));
    assert_eq!(e.capped_by, Some(OverrideHit { id: "serious_dishonesty".into(), records: vec![RecordId(5)] }));
    let removed = listed(5, "COURT_DISHONEST_DEBTOR", "2026-03-01", Some("2026-11-01"));
    assert_eq!(evaluate(&[aeo, tax, removed], "2026-12-04").grade, "A", "a removed entry caps nothing");
}

#[test]
fn subjects_outside_the_scope_are_not_evaluated() {
    let mut person = company("2000-01-01");
    person.subject_type = SubjectType::NaturalPerson;
    assert!(
        EvaluationModel::builtin()
            .evaluate(&DisclosureRules::builtin(), &person, &[] as &[RecordVersion], d("2026-12-04"))
            .is_none()
    );
}

#[test]
fn bad_models_name_the_line_and_field() {
    let good = BUILTIN_TOML;
    let cases = [
        (good.replacen("points = -20\ncap = -60", "points = -20\ncap = 60", 1), "cap"),
        (
            good.replacen("category = \"penalty\", tier = \"serious\"", "category = \"fine\", tier = \"serious\"", 1),
            "category",
        ),
        (good.replacen("tier = \"serious\"", "tier = \"grave\"", 1), "tier"),
        (good.replacen("grade_at_most = \"D\"", "grade_at_most = \"E\"", 1), "grade_at_most"),
        (good.replacen("min_score = 80\nlocal", "min_score = 100\nlocal", 1), "min_score"),
        (good.replacen("inspection_ratio = \"0.05\"", "inspection_ratio = \"1.5\"", 1), "inspection_ratio"),
        (good.replacen("grades = [\"B\"]", "grades = [\"Q\"]", 1), "grades"),
        (good.replacen("years_established = true\n", "", 1), "records"),
        (good.replacen("base = 80", "base = 800", 1), "base"),
        (good.replacen("version = \"local-2026.1\"", "version = 1", 1), "toml"),
    ];
    for (text, field) in cases {
        assert_ne!(text, good, "the case for {field} changed nothing");
        let error = EvaluationModel::from_toml(&text, "model.toml").expect_err(field);
        assert_eq!(error.field, field, "{error}");
        assert!(error.to_string().starts_with("model.toml:"), "{error}");
    }
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// Any edit of the model file is read or refused naming the file, never a panic; what is read
        /// evaluates any subject within its score bounds.
        #[test]
        fn any_edit_of_the_model_is_read_or_refused(at in 0usize..8_000, cut in 0usize..40, insert in "[a-z0-9_=\\[\\]\" \n.-]{0,12}") {
            let edited = crate::test_support::spliced(BUILTIN_TOML, at, cut, &insert);
            match EvaluationModel::from_toml(&edited, "edited.toml") {
                Ok(model) => {
                    let records = [penalty(1, "2026-06-01", &["罚款"]), listed(2, "SERIOUS_VIOLATION", "2026-01-01", None)];
                    if let Some(e) = model.evaluate(&DisclosureRules::builtin(), &company("2010-01-01"), &records, d("2026-12-04")) {
                        prop_assert!(model.min_score <= e.score && e.score <= model.max_score);
                    }
                }
                Err(error) => prop_assert!(error.to_string().starts_with("edited.toml:"), "{error}"),
            }
        }
    }
}
