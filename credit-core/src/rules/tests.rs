use std::path::PathBuf;

use super::*;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rules")
}

fn builtin_with(replace: &str, text: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> =
        RuleSet::builtin_files().iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
    match files.iter_mut().find(|(p, _)| p == replace) {
        Some(file) => file.1 = text.to_string(),
        None => files.push((replace.to_string(), text.to_string())),
    }
    files
}

fn errors_of(files: &[(String, String)]) -> Vec<RuleError> {
    RuleSet::from_files(files).expect_err("the rule set is invalid").errors
}

const MEMO: &str = r#"id = "MEMO-T"
title = "t"
document_number = "d"
kind = "punishment"
list_types = ["SERIOUS_VIOLATION"]
identifying_department = "x"
scope = ["entity"]
valid_from = 2020-01-01

[[measures]]
id = "T-1"
text = "t"
implementing_department = "x"
legal_basis = "b"
mandatory = true
items = ["GOV_PROCUREMENT"]
"#;

#[test]
fn the_builtin_rule_set_has_the_starter_memoranda() {
    let rules = RuleSet::builtin();
    assert_eq!(rules.memoranda.len(), 7);
    for list_type in [
        "COURT_DISHONEST_DEBTOR",
        "MAJOR_TAX_VIOLATION",
        "SERIOUS_VIOLATION",
        "GOV_PROCUREMENT_BLACKLIST",
        "ABNORMAL_OPERATION",
        "TAX_A_GRADE",
        "CUSTOMS_AEO",
    ] {
        assert_eq!(rules.memoranda_for(list_type).count(), 1, "{list_type}");
    }
    // By Chinese name too.
    assert_eq!(rules.memoranda_for("失信被执行人").next().unwrap().id, "MEMO-COURT-DISHONEST-DEBTOR");
    for item in ["GOV_PROCUREMENT", "BIDDING", "HIGH_CONSUMPTION"] {
        let court = rules.memoranda_for("COURT_DISHONEST_DEBTOR").next().unwrap();
        let measure = court.measures.iter().find(|m| m.items.iter().any(|i| i == item)).unwrap();
        assert!(measure.mandatory, "{item}");
        assert!(measure.scope.contains(&Scope::LegalRepresentative), "{item}");
    }
    let tax = rules.memoranda_for("MAJOR_TAX_VIOLATION").next().unwrap();
    assert!(tax.measures.iter().any(|m| m.items.iter().any(|i| i == "GOV_PROCUREMENT")));
    let a_grade = rules.memoranda_for("TAX_A_GRADE").next().unwrap();
    assert_eq!(a_grade.kind, MeasureKind::Reward);
    assert!(a_grade.measures.iter().any(|m| m.items.iter().any(|i| i == "LICENCE_APPROVAL")));
    assert_eq!(rules.colour("CUSTOMS_AEO"), Some(Colour::Red));
    assert_eq!(rules.measure("GP-BAN").unwrap().0.id, "MEMO-GOV-PROCUREMENT-BLACKLIST");
}

#[test]
fn every_file_in_fixtures_rules_is_compiled_in_and_reads_the_same_from_disk() {
    let from_disk = RuleSet::load_dir(&rules_dir()).unwrap();
    let builtin = RuleSet::builtin();
    assert_eq!(from_disk.memoranda, builtin.memoranda);
    assert_eq!(from_disk.list_types, builtin.list_types);
    assert_eq!(from_disk.items, builtin.items);
    assert_eq!(from_disk.version, builtin.version);
}

#[test]
fn an_unknown_item_names_file_line_and_field() {
    let memo = MEMO.replace(r#"items = ["GOV_PROCUREMENT"]"#, r#"items = ["GOV_PROCUREMENT", "TELEPORTATION"]"#);
    let errors = errors_of(&builtin_with("memoranda/t.toml", &memo));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].file, "memoranda/t.toml");
    assert_eq!(errors[0].line, 16);
    assert_eq!(errors[0].field, "measures.items");
    assert!(errors[0].reason.contains("TELEPORTATION"));
}

#[test]
fn syntax_errors_missing_fields_and_typos_are_reported_with_lines() {
    let broken = MEMO.replace("mandatory = true", "mandatory = yes");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &broken));
    assert_eq!((errors[0].file.as_str(), errors[0].line), ("memoranda/t.toml", 15), "{errors:?}");

    let missing = MEMO.replace("kind = \"punishment\"\n", "");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &missing));
    assert_eq!(errors[0].field, "kind", "{errors:?}");

    let typo = MEMO.replace("scope = [\"entity\"]", "scoop = [\"entity\"]");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &typo));
    assert_eq!((errors[0].line, errors[0].field.as_str()), (7, "scoop"), "{errors:?}");
}

#[test]
fn semantic_errors_are_all_reported_together() {
    let memo = MEMO
        .replace("SERIOUS_VIOLATION", "NO_SUCH_LIST")
        .replace("scope = [\"entity\"]", "scope = [\"entity\", \"cousin\"]")
        .replace("valid_from = 2020-01-01", "valid_from = 2020-01-01\nvalid_to = 2019-12-31");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &memo));
    let fields: Vec<(&str, usize)> = errors.iter().map(|e| (e.field.as_str(), e.line)).collect();
    assert_eq!(fields, vec![("list_types", 5), ("scope", 7), ("valid_to", 9)], "{errors:?}");
    let message = RulesError { errors }.to_string();
    assert!(message.starts_with("invalid rule set (3 errors)"), "{message}");
}

#[test]
fn duplicate_ids_wrong_colours_and_wide_measure_scopes_are_refused() {
    let dup = MEMO.replace("T-1", "GP-BAN");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &dup));
    assert!(errors.iter().any(|e| e.field == "measures.id" && e.reason.contains("GP-BAN")), "{errors:?}");

    let red = MEMO.replace("SERIOUS_VIOLATION", "TAX_A_GRADE");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &red));
    assert!(errors[0].reason.contains("punishment memorandum cannot apply"), "{errors:?}");

    let wide =
        MEMO.replace("items = [\"GOV_PROCUREMENT\"]", "items = [\"GOV_PROCUREMENT\"]\nscope = [\"actual_controller\"]");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &wide));
    assert_eq!((errors[0].field.as_str(), errors[0].line), ("measures.scope", 17), "{errors:?}");

    let bad_date = MEMO.replace("valid_from = 2020-01-01", "valid_from = 2020-01-01T08:00:00");
    let errors = errors_of(&builtin_with("memoranda/t.toml", &bad_date));
    assert_eq!(errors[0].field, "valid_from", "{errors:?}");
}

#[test]
fn a_rules_directory_without_memoranda_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ruleset.toml"), "version = \"x\"\neffective = 2026-01-01\n").unwrap();
    let error = RuleSet::load_dir(dir.path()).unwrap_err();
    assert!(error.errors[0].file.ends_with("memoranda"), "{error}");
}

#[test]
fn memoranda_are_valid_only_between_their_dates() {
    let memo = MEMO.replace("valid_from = 2020-01-01", "valid_from = 2020-01-01\nvalid_to = 2021-12-31");
    let rules = RuleSet::from_files(&builtin_with("memoranda/t.toml", &memo)).unwrap();
    let m = rules.memoranda.iter().find(|m| m.id == "MEMO-T").unwrap();
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    assert!(!m.valid_on(date("2019-12-31")));
    assert!(m.valid_on(date("2020-01-01")));
    assert!(m.valid_on(date("2021-12-31")));
    assert!(!m.valid_on(date("2022-01-01")));
}
