use super::*;
use crate::model::RecordStatus;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub(crate) fn penalty(decided: &str, types: &[&str], fine_wan: Option<&str>) -> RecordContent {
    let mut content = crate::model::tests::list_entry(decided, None, None);
    content.subject_name = "北京腾跃科技有限公司".into();
    content.document_number = Some("京朝市监罚〔2026〕1号".into());
    content.decision_date = Some(d(decided));
    content.details = RecordDetails::Penalty {
        violation_type: None,
        facts: None,
        legal_basis: None,
        penalty_types: types.iter().map(|t| t.to_string()).collect(),
        content: None,
        fine: fine_wan.map(|f| AmountWan::parse(f).expect("amount")),
        confiscated: None,
        licence_affected: None,
    };
    content
}

fn listed(list_type: &str, on: &str) -> RecordContent {
    let mut content = penalty(on, &[], None);
    content.details = RecordDetails::ListEntry {
        list_type: list_type.into(),
        list_name: None,
        listed_on: d(on),
        planned_removal: None,
        removed_on: None,
    };
    content
}

fn window(rules: &DisclosureRules, content: &RecordContent) -> Window {
    match rules.disclosure(content) {
        Disclosure::Windowed(w) => w,
        other => panic!("expected a window, got {other:?}"),
    }
}

#[test]
fn tiers_follow_the_classification_table() {
    let rules = DisclosureRules::builtin();
    let tier = |c: &RecordContent| rules.tier(c);
    assert_eq!(tier(&penalty("2026-01-05", &["警告"], None)), Some(Tier::Minor));
    assert_eq!(tier(&penalty("2026-01-05", &["警告", "通报批评"], None)), Some(Tier::Minor));
    assert_eq!(tier(&penalty("2026-01-05", &["警告", "罚款"], Some("0.5"))), Some(Tier::General), "not only warnings");
    assert_eq!(tier(&penalty("2026-01-05", &["罚款"], Some("99.99"))), Some(Tier::General));
    assert_eq!(tier(&penalty("2026-01-05", &["罚款"], Some("100"))), Some(Tier::Serious), "amount threshold");
    assert_eq!(tier(&penalty("2026-01-05", &["吊销许可证件"], None)), Some(Tier::Serious));
    assert_eq!(tier(&penalty("2026-01-05", &["警告", "吊销营业执照"], None)), Some(Tier::Serious), "contains 吊销");
    assert_eq!(tier(&penalty("2026-01-05", &["责令关闭"], None)), Some(Tier::Serious));
    assert_eq!(tier(&penalty("2026-01-05", &[], None)), Some(Tier::General), "default tier");
    assert_eq!(tier(&listed("COURT_DISHONEST_DEBTOR", "2026-01-05")), Some(Tier::Serious));
    assert_eq!(tier(&listed("ABNORMAL_OPERATION", "2026-01-05")), Some(Tier::General));
    assert_eq!(tier(&listed("TAX_A_GRADE", "2026-01-05")), None, "red lists are not negative");
    assert_eq!(rules.disclosure(&listed("CUSTOMS_AEO", "2026-01-05")), Disclosure::NotNegative);
}

#[test]
fn each_record_follows_the_rule_set_in_force_at_its_decision() {
    let rules = DisclosureRules::builtin();
    // Serious: minimum 6 months under 2019, 12 months from 2021 on.
    let w = window(&rules, &penalty("2020-06-15", &["责令关闭"], None));
    assert_eq!((w.rule_set.as_str(), w.repairable_from, w.public_until), ("2019", d("2020-12-15"), d("2023-06-15")));
    let w = window(&rules, &penalty("2021-01-01", &["责令关闭"], None));
    assert_eq!((w.rule_set.as_str(), w.repairable_from), ("2021", d("2022-01-01")));
    // Minor: three months under 2021, not disclosed at all from 2023-03-01.
    let w = window(&rules, &penalty("2023-02-28", &["警告"], None));
    assert_eq!((w.rule_set.as_str(), w.start, w.public_until), ("2021", d("2023-02-28"), d("2023-05-28")));
    let w = window(&rules, &penalty("2023-03-01", &["警告"], None));
    assert_eq!((w.rule_set.as_str(), w.public_until), ("2023", d("2023-03-01")), "never shown");
    // General: 12 months until 2025, 6 months from 2026.
    assert_eq!(window(&rules, &penalty("2025-12-31", &["罚款"], Some("1"))).public_until, d("2026-12-31"));
    assert_eq!(window(&rules, &penalty("2026-01-01", &["罚款"], Some("1"))).public_until, d("2026-07-01"));
    // Before the first rule set: the oldest rules.
    assert_eq!(window(&rules, &penalty("2016-03-01", &["罚款"], None)).rule_set, "2019");
    // Month ends clamp.
    assert_eq!(window(&rules, &penalty("2025-05-31", &["罚款"], None)).repairable_from, d("2025-08-31"));
    assert_eq!(window(&rules, &penalty("2025-11-30", &["罚款"], None)).repairable_from, d("2026-02-28"));
}

#[test]
fn a_disclosure_deadline_ends_the_window_early_but_never_extends_it() {
    let rules = DisclosureRules::builtin();
    let mut content = penalty("2025-06-01", &["罚款"], Some("2"));
    content.disclosure_deadline = Some(d("2025-12-31"));
    let w = window(&rules, &content);
    assert_eq!((w.public_until, w.ended_by_deadline), (d("2026-01-01"), true), "the deadline day is still shown");
    assert!(rules.public_on(&content, d("2025-12-31")));
    assert!(!rules.public_on(&content, d("2026-01-01")));
    content.disclosure_deadline = Some(d("2030-01-01"));
    let w = window(&rules, &content);
    assert_eq!((w.public_until, w.ended_by_deadline), (d("2026-06-01"), false), "capped by the tier's maximum");
}

#[test]
fn public_on_is_computed_for_any_date() {
    let rules = DisclosureRules::builtin();
    let mut content = penalty("2025-06-01", &["罚款"], Some("2"));
    assert!(!rules.public_on(&content, d("2025-05-31")), "not before the decision");
    assert!(rules.public_on(&content, d("2025-06-01")));
    assert!(rules.public_on(&content, d("2026-05-31")));
    assert!(!rules.public_on(&content, d("2026-06-01")), "window ended without any job running");
    content.status = RecordStatus::Repaired;
    content.status_since = Some(d("2025-10-01"));
    assert!(rules.public_on(&content, d("2025-09-30")), "shown until the repair takes effect");
    assert!(!rules.public_on(&content, d("2025-10-01")));
    let mut undated = penalty("2025-06-01", &["罚款"], None);
    undated.decision_date = None;
    assert_eq!(rules.disclosure(&undated), Disclosure::Undated { tier: Tier::General });
    assert!(!rules.public_on(&undated, d("2025-07-01")));
    let licence = {
        let mut c = penalty("2025-06-01", &[], None);
        c.details = RecordDetails::Other { description: None };
        c
    };
    assert!(rules.public_on(&licence, d("2030-01-01")), "positive records have no window");
}

#[test]
fn bad_rule_files_name_the_line_and_field() {
    let good = BUILTIN_TOML;
    let cases = [
        (good.replacen("effective_from = \"2021-01-01\"", "effective_from = \"2018-01-01\"", 1), "effective_from"),
        (good.replacen("effective_from = \"2019-07-01\"", "effective_from = \"July 2019\"", 1), "effective_from"),
        (
            good.replacen(
                "serious = { min_months = 6, max_months = 36 }",
                "serious = { min_months = 40, max_months = 36 }",
                1,
            ),
            "serious",
        ),
        (good.replacen("tier = \"minor\"", "tier = \"tiny\"", 1), "tier"),
        (good.replacen("fine_at_least_wan = \"100\"", "fine_at_least_wan = \"lots\"", 1), "fine_at_least_wan"),
        (
            good.replacen("default_penalty_tier = \"general\"", "default_penalty_tier = \"grave\"", 1),
            "default_penalty_tier",
        ),
        (
            good.replacen("minor = { min_months = 0, max_months = 3 }", "minor = { min_months = 0, maximum = 3 }", 1),
            "toml",
        ),
    ];
    for (text, field) in cases {
        assert_ne!(text, good, "the case for {field} changed nothing");
        let error = DisclosureRules::from_toml(&text, "rules.toml").expect_err(field);
        assert_eq!(error.field, field, "{error}");
        assert!(error.line > 0, "{error}");
        assert!(error.to_string().starts_with("rules.toml:"), "{error}");
    }
    let both = "default_penalty_tier = \"general\"\n[[rule_set]]\nid = \"a\"\neffective_from = \"2020-01-01\"\n\
                legal_basis = \"x\"\nminor = { min_months = 0, max_months = 0 }\n\
                general = { min_months = 3, max_months = 12 }\nserious = { min_months = 12, max_months = 36 }\n\
                [[classify]]\ntier = \"serious\"\nlist_types = [\"X\"]\nfine_at_least_wan = \"1\"\n";
    assert_eq!(DisclosureRules::from_toml(both, "r.toml").expect_err("mixed").line, 9);
}
