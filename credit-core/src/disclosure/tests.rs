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
        procedure: None,
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

fn listed_until(list_type: &str, on: &str, removed: Option<&str>) -> RecordContent {
    let mut content = listed(list_type, on);
    if let RecordDetails::ListEntry { removed_on, .. } = &mut content.details {
        *removed_on = removed.map(d);
    }
    content
}

fn simple(decided: &str, types: &[&str], fine_wan: Option<&str>) -> RecordContent {
    let mut content = penalty(decided, types, fine_wan);
    if let RecordDetails::Penalty { procedure, .. } = &mut content.details {
        *procedure = Some(Procedure::Simple);
    }
    content
}

#[test]
fn only_the_published_rule_sets_exist_and_every_window_quotes_its_text() {
    let rules = DisclosureRules::builtin();
    let ids: Vec<(&str, &str, NaiveDate)> =
        rules.rule_sets().iter().map(|r| (r.id.as_str(), r.track.as_str(), r.effective_from)).collect();
    assert_eq!(
        ids,
        vec![
            ("ndrc-2019-527", "general", d("2019-07-01")),
            ("ndrc-order-58", "general", d("2023-05-01")),
            ("samr-order-107", "market_regulation", d("2025-12-25")),
            ("ndrc-order-36", "general", d("2026-04-01")),
        ]
    );
    for set in rules.rule_sets() {
        assert!(!set.document.is_empty() && !set.title.is_empty(), "{}", set.id);
        for window in [&set.minor, &set.general, &set.serious].into_iter().flatten() {
            assert!(!window.quote.trim().is_empty(), "{}", set.id);
        }
    }
    let samr = &rules.rule_sets()[2];
    assert!(samr.minor.is_none() && samr.general.is_none() && samr.serious.is_none(), "nothing unchecked encoded");
    for c in rules.classifiers() {
        assert!(c.fine_at_least.is_none(), "no amount threshold could be checked");
        assert!(!c.source.is_empty());
    }
}

#[test]
fn tiers_follow_the_classification_table() {
    let rules = DisclosureRules::builtin();
    let tier = |c: &RecordContent| rules.tier(c);
    assert_eq!(tier(&penalty("2026-05-05", &["警告"], None)), Some(Tier::Minor));
    assert_eq!(tier(&penalty("2026-05-05", &["警告", "通报批评"], None)), Some(Tier::Minor));
    assert_eq!(tier(&penalty("2026-05-05", &["通报批评"], None)), Some(Tier::Minor));
    assert_eq!(tier(&penalty("2026-05-05", &["警告", "罚款"], Some("0.5"))), Some(Tier::General), "not only warnings");
    assert_eq!(tier(&simple("2026-05-05", &["罚款"], Some("0.02"))), Some(Tier::Minor), "simple procedure");
    assert_eq!(tier(&simple("2026-05-05", &["吊销许可证件"], None)), Some(Tier::Serious), "serious first");
    assert_eq!(tier(&penalty("2026-05-05", &["罚款"], Some("500"))), Some(Tier::General), "no threshold encoded");
    assert_eq!(tier(&penalty("2026-05-05", &["没收违法所得"], None)), Some(Tier::General));
    assert_eq!(tier(&penalty("2026-05-05", &["吊销许可证件"], None)), Some(Tier::Serious));
    assert_eq!(tier(&penalty("2026-05-05", &["警告", "吊销营业执照"], None)), Some(Tier::Serious), "contains 吊销");
    assert_eq!(tier(&penalty("2026-05-05", &["限制从业"], None)), Some(Tier::Serious));
    assert_eq!(tier(&penalty("2026-05-05", &["责令关闭"], None)), Some(Tier::General), "no checked rule says serious");
    assert_eq!(tier(&penalty("2026-05-05", &[], None)), Some(Tier::General), "default tier");
    assert_eq!(tier(&listed("COURT_DISHONEST_DEBTOR", "2026-01-05")), Some(Tier::Serious));
    assert_eq!(tier(&listed("ABNORMAL_OPERATION", "2026-01-05")), Some(Tier::General));
    assert_eq!(tier(&listed("TAX_A_GRADE", "2026-01-05")), None, "red lists are not negative");
    assert_eq!(rules.disclosure(&listed("CUSTOMS_AEO", "2026-01-05")), Disclosure::NotNegative);
}

#[test]
fn records_stored_before_the_procedure_field_are_re_tiered_from_their_kept_column() {
    let rules = DisclosureRules::builtin();
    let mut stored = penalty("2026-05-05", &["罚款"], Some("0.02"));
    assert_eq!(rules.tier(&stored), Some(Tier::General));
    stored.extra.insert("处罚程序".into(), "简易程序".into());
    assert_eq!(rules.tier(&stored), Some(Tier::Minor), "the kept column decides");
    stored.extra.insert("处罚程序".into(), "普通程序".into());
    assert_eq!(rules.tier(&stored), Some(Tier::General));
    stored.extra.insert("处罚程序".into(), "不明".into());
    assert_eq!(rules.tier(&stored), Some(Tier::General), "an unknown value decides nothing");
}

#[test]
fn decisions_at_the_boundaries_of_the_rule_sets() {
    let rules = DisclosureRules::builtin();
    let fine = |on: &str| window(&rules, &penalty(on, &["罚款"], Some("1")));
    // 2023-04-30: 527号, general 3 months – 1 year.
    let w = fine("2023-04-30");
    assert_eq!(
        (w.rule_set.as_str(), w.repairable_from, w.public_until),
        ("ndrc-2019-527", d("2023-07-30"), d("2024-04-30"))
    );
    assert_eq!(w.shortened_by, None);
    // 2023-05-01: Order 58, 3 months – 3 years; Order 36 ends it on 2026-04-01 (its 1 year had passed).
    let w = fine("2023-05-01");
    assert_eq!(
        (w.rule_set.as_str(), w.repairable_from, w.public_until),
        ("ndrc-order-58", d("2023-08-01"), d("2026-04-01"))
    );
    assert_eq!(w.shortened_by.as_deref(), Some("ndrc-order-36"));
    assert!(w.basis.contains("国家发展改革委令第58号") && w.basis.contains("国家发展改革委令第36号"), "{}", w.basis);
    // 2026-03-31: Order 58, shortened to Order 36's year from the decision.
    let w = fine("2026-03-31");
    assert_eq!(
        (w.rule_set.as_str(), w.repairable_from, w.public_until),
        ("ndrc-order-58", d("2026-06-30"), d("2027-03-31"))
    );
    // 2026-04-01: Order 36.
    let w = fine("2026-04-01");
    assert_eq!(
        (w.rule_set.as_str(), w.repairable_from, w.public_until),
        ("ndrc-order-36", d("2026-07-01"), d("2027-04-01"))
    );
    assert_eq!(w.shortened_by, None);
    assert!(w.basis.contains("一般失信信息的最短公示期为3个月"), "{}", w.basis);

    let serious = |on: &str| window(&rules, &penalty(on, &["吊销许可证件"], None));
    let w = serious("2023-04-30");
    assert_eq!((w.repairable_from, w.public_until), (d("2023-10-30"), d("2026-04-30")), "527号: 6 months – 3 years");
    let w = serious("2023-05-01");
    assert_eq!((w.repairable_from, w.public_until), (d("2023-08-01"), d("2026-05-01")), "Order 58: one window");
    let w = serious("2026-04-01");
    assert_eq!((w.repairable_from, w.public_until), (d("2027-04-01"), d("2029-04-01")), "Order 36: 1 – 3 years");

    // Warnings: general under 527号, published under Order 58 until Order 36 took effect, never after.
    let warning = |on: &str| penalty(on, &["警告"], None);
    assert_eq!(window(&rules, &warning("2023-04-30")).public_until, d("2024-04-30"));
    let w = window(&rules, &warning("2026-03-31"));
    assert_eq!((w.tier, w.public_until), (Tier::Minor, d("2026-04-01")), "shown on the 31st only");
    assert!(rules.public_on(&warning("2026-03-31"), d("2026-03-31")));
    assert!(!rules.public_on(&warning("2026-03-31"), d("2026-04-01")));
    let w = window(&rules, &warning("2026-04-01"));
    assert_eq!(
        (w.rule_set.as_str(), w.public_until, w.repairable_from),
        ("ndrc-order-36", d("2026-04-01"), d("2026-04-01"))
    );
    assert!(!rules.public_on(&warning("2026-04-01"), d("2026-04-01")), "minor: not published");
    // Simple procedure: minor whatever the penalty.
    assert!(!rules.public_on(&simple("2026-06-01", &["罚款"], Some("0.02")), d("2026-06-01")));
    assert!(rules.public_on(&penalty("2026-06-01", &["罚款"], Some("0.02")), d("2026-06-01")));

    // Before the first rule set: the oldest rules. Month ends clamp.
    assert_eq!(fine("2016-03-01").rule_set, "ndrc-2019-527");
    assert_eq!(fine("2026-05-31").repairable_from, d("2026-08-31"));
    assert_eq!(fine("2026-11-30").repairable_from, d("2027-02-28"));
}

#[test]
fn order_58_keeps_food_drug_equipment_safety_and_fire_penalties_a_year() {
    let rules = DisclosureRules::builtin();
    let mut content = penalty("2024-01-10", &["罚款"], Some("2"));
    assert_eq!(window(&rules, &content).repairable_from, d("2024-04-10"));
    if let RecordDetails::Penalty { legal_basis, .. } = &mut content.details {
        *legal_basis = Some("《中华人民共和国食品安全法》第一百二十四条".into());
    }
    assert_eq!(window(&rules, &content).repairable_from, d("2025-01-10"), "food: one year");
    content.decision_date = Some(d("2026-05-01"));
    assert_eq!(window(&rules, &content).repairable_from, d("2026-08-01"), "Order 36 has no field minimum");
}

#[test]
fn market_regulation_records_take_their_track_where_it_has_a_window() {
    let rules = DisclosureRules::builtin();
    let mut content = penalty("2026-01-10", &["罚款"], Some("2"));
    content.authority = Some("北京市朝阳区市场监督管理局".into());
    assert_eq!(rules.track(&content), Track::MarketRegulation);
    let w = window(&rules, &content);
    assert_eq!((w.track, w.rule_set.as_str()), (Track::General, "ndrc-order-58"), "Order 107 encodes no window");
    let configured = BUILTIN_TOML.replace(
        "# Its windows could not be checked against its text here, so none is encoded",
        "[rule_set.general]\nmin_months = 6\nmax_months = 24\nquote = \"test value\"\n#",
    );
    let configured = DisclosureRules::from_toml(&configured, "configured.toml").expect("valid");
    let w = window(&configured, &content);
    assert_eq!(
        (w.track, w.rule_set.as_str(), w.public_until),
        (Track::MarketRegulation, "samr-order-107", d("2028-01-10"))
    );
    content.authority = Some("北京市朝阳区税务局".into());
    assert_eq!(window(&configured, &content).rule_set, "ndrc-order-58", "other records stay on the general track");
}

#[test]
fn list_entries_are_public_from_listing_until_removal_whatever_their_age() {
    let rules = DisclosureRules::builtin();
    let today = d("2026-12-04");
    let old = listed("COURT_DISHONEST_DEBTOR", "2022-11-01");
    assert!(rules.public_on(&old, today), "listed four years ago and still listed");
    assert!(matches!(rules.disclosure(&old), Disclosure::Listed(Listing { repairable: false, .. })));
    let removed = listed_until("ABNORMAL_OPERATION", "2025-06-01", Some("2026-12-03"));
    assert!(rules.public_on(&removed, d("2026-12-02")));
    assert!(!rules.public_on(&removed, today), "removed yesterday");
    let mut ended = listed("SERIOUS_VIOLATION", "2020-01-01");
    if let RecordDetails::ListEntry { planned_removal, .. } = &mut ended.details {
        *planned_removal = Some(d("2026-12-04"));
    }
    assert!(rules.public_on(&ended, d("2026-12-03")));
    assert!(!rules.public_on(&ended, today), "the end date the authority set");
    assert!(!rules.public_on(&old, d("2022-10-31")), "not before listing");
    assert!(matches!(
        rules.disclosure(&listed("ABNORMAL_OPERATION", "2026-01-01")),
        Disclosure::Listed(Listing { repairable: true, .. })
    ));
}

#[test]
fn a_disclosure_deadline_ends_the_window_early_but_never_extends_it() {
    let rules = DisclosureRules::builtin();
    let mut content = penalty("2026-06-01", &["罚款"], Some("2"));
    content.disclosure_deadline = Some(d("2026-12-31"));
    let w = window(&rules, &content);
    assert_eq!((w.public_until, w.ended_by_deadline), (d("2027-01-01"), true), "the deadline day is still shown");
    assert!(rules.public_on(&content, d("2026-12-31")));
    assert!(!rules.public_on(&content, d("2027-01-01")));
    content.disclosure_deadline = Some(d("2030-01-01"));
    let w = window(&rules, &content);
    assert_eq!((w.public_until, w.ended_by_deadline), (d("2027-06-01"), false), "capped by the tier's maximum");
}

#[test]
fn public_on_is_computed_for_any_date() {
    let rules = DisclosureRules::builtin();
    let mut content = penalty("2026-06-01", &["罚款"], Some("2"));
    assert!(!rules.public_on(&content, d("2026-05-31")), "not before the decision");
    assert!(rules.public_on(&content, d("2026-06-01")));
    assert!(rules.public_on(&content, d("2027-05-31")));
    assert!(!rules.public_on(&content, d("2027-06-01")), "window ended without any job running");
    content.status = RecordStatus::Repaired;
    content.status_since = Some(d("2026-10-01"));
    assert!(rules.public_on(&content, d("2026-09-30")), "shown until the repair takes effect");
    assert!(!rules.public_on(&content, d("2026-10-01")));
    let mut undated = penalty("2026-06-01", &["罚款"], None);
    undated.decision_date = None;
    assert_eq!(rules.disclosure(&undated), Disclosure::Undated { tier: Tier::General });
    assert!(!rules.public_on(&undated, d("2026-07-01")));
    let other = {
        let mut c = penalty("2026-06-01", &[], None);
        c.details = RecordDetails::Other { description: None };
        c
    };
    assert!(rules.public_on(&other, d("2030-01-01")), "positive records have no window");
}

#[test]
fn bad_rule_files_name_the_line_and_field() {
    let good = BUILTIN_TOML;
    let cases = [
        (good.replacen("effective_from = \"2023-05-01\"", "effective_from = \"2018-01-01\"", 1), "effective_from"),
        (good.replacen("effective_from = \"2019-07-01\"", "effective_from = \"July 2019\"", 1), "effective_from"),
        (good.replacen("min_months = 6\nmax_months = 36", "min_months = 40\nmax_months = 36", 1), "serious"),
        (good.replacen("tier = \"minor\"", "tier = \"tiny\"", 1), "tier"),
        (good.replacen("procedure = \"simple\"", "procedure = \"quick\"", 1), "procedure"),
        (good.replacen("track = \"general\"", "track = \"provincial\"", 1), "track"),
        (good.replacen("minor_as = \"general\"", "minor_as = \"minor\"", 1), "minor_as"),
        (good.replacen("fields = [\"food\",", "fields = [\"toys\",", 1), "field_minimum"),
        (
            good.replacen("default_penalty_tier = \"general\"", "default_penalty_tier = \"grave\"", 1),
            "default_penalty_tier",
        ),
        (good.replacen("min_months = 3\nmax_months = 12", "min_months = 3\nmaximum = 12", 1), "toml"),
        (good.replacen("source = \"国家发展改革委令第36号 第四条\"", "source = \"\"", 1), "source"),
        (good.replacen("#   deadlines = { accept = 3, decide = 10 }", "deadlines = { review = 3 }", 1), "deadlines"),
    ];
    for (text, field) in cases {
        assert_ne!(text, good, "the case for {field} changed nothing");
        let error = DisclosureRules::from_toml(&text, "rules.toml").expect_err(field);
        assert_eq!(error.field, field, "{error}");
        assert!(error.line > 0, "{error}");
        assert!(error.to_string().starts_with("rules.toml:"), "{error}");
    }
    let threshold = format!("{good}\n[[classify]]\ntier = \"serious\"\nfine_at_least_wan = \"100\"\nsource = \"x\"\n");
    assert_eq!(DisclosureRules::from_toml(&threshold, "r.toml").expect_err("no fields").field, "fields");
    let per_field = format!(
        "{good}\n[[classify]]\ntier = \"serious\"\nfine_at_least_wan = \"100\"\nfields = [\"fire\"]\nsource = \"x\"\n"
    );
    let rules = DisclosureRules::from_toml(&per_field, "r.toml").expect("a per-field threshold");
    let mut fire = penalty("2026-05-01", &["罚款"], Some("100"));
    if let RecordDetails::Penalty { legal_basis, .. } = &mut fire.details {
        *legal_basis = Some("《中华人民共和国消防法》第六十条".into());
    }
    assert_eq!(rules.tier(&fire), Some(Tier::Serious));
    assert_eq!(rules.tier(&penalty("2026-05-01", &["罚款"], Some("100"))), Some(Tier::General), "other fields");
    let deadlines =
        good.replacen("#   deadlines = { accept = 3, decide = 10 }", "deadlines = { accept = 3, decide = 10 }", 1);
    let rules = DisclosureRules::from_toml(&deadlines, "r.toml").expect("deadlines");
    assert_eq!((rules.repair().deadline("accept"), rules.repair().deadline("decide")), (Some(3), Some(10)));
}

mod fuzz {
    //! A rules file is configuration an operator may get wrong in any way: any edit of the built-in
    //! file is read or refused naming a line, and never panics; what is read classifies any penalty.
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn any_edit_of_the_rules_file_is_read_or_refused(at in 0usize..20_000, cut in 0usize..40, insert in "[a-z0-9_=\\[\\]\" \n.-]{0,12}") {
            let edited = crate::test_support::spliced(BUILTIN_TOML, at, cut, &insert);
            match DisclosureRules::from_toml(&edited, "edited.toml") {
                Ok(rules) => {
                    for on in ["2016-01-01", "2023-05-01", "2026-04-01"] {
                        let content = penalty(on, &["罚款"], Some("1"));
                        let _ = rules.disclosure(&content);
                        let _ = rules.public_on(&content, d("2026-12-04"));
                    }
                }
                Err(error) => prop_assert!(error.to_string().starts_with("edited.toml:"), "{error}"),
            }
        }
    }
}
