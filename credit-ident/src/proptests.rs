//! Property tests: round trips for every kind, single-substitution detection, and normalisation.

use chrono::{Days, NaiveDate};
use proptest::prelude::*;

use super::*;

fn book() -> &'static Codebook {
    Codebook::builtin()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date")
}

fn symbol() -> impl Strategy<Value = char> {
    prop::sample::select(USCC_ALPHABET.chars().collect::<Vec<_>>())
}

fn division() -> impl Strategy<Value = String> {
    let mut codes: Vec<String> = book().divisions.iter().map(|d| d.code.clone()).collect();
    codes.sort();
    prop::sample::select(codes)
}

fn uscc() -> impl Strategy<Value = Uscc> {
    let pairs = book().categories.pairs();
    (prop::sample::select(pairs), division(), prop::collection::vec(symbol(), 8)).prop_map(|((a, c), d, body)| {
        Uscc::build(a, c, &d, &body.into_iter().collect::<String>()).expect("valid parts")
    })
}

fn birth_date() -> impl Strategy<Value = NaiveDate> {
    let start = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
    (0u64..(today() - start).num_days() as u64).prop_map(move |d| start + Days::new(d))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn uscc_round_trips(code in uscc()) {
        let v = Uscc::parse_normalized(code.as_str(), book()).expect("built codes validate");
        prop_assert_eq!(v.value, code.clone());
        prop_assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        let r = Identifier::parse_with(code.as_str(), book(), today()).expect("recognised");
        prop_assert_eq!(r.identifier.kind(), IdentifierKind::Uscc);
    }

    /// Mod-31 weights are all non-zero mod 31, so any single change of one symbol moves the sum.
    #[test]
    fn every_single_substitution_of_a_uscc_is_rejected(code in uscc(), position in 0usize..18, replacement in any::<char>()) {
        let mut chars: Vec<char> = code.as_str().chars().collect();
        prop_assume!(chars[position] != replacement);
        chars[position] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assume!(normalize_code(&changed) != code.as_str());
        prop_assert!(Uscc::parse_normalized(&normalize_code(&changed), book()).is_err(), "{} accepted", changed);
    }

    #[test]
    fn every_symbol_substitution_is_rejected(code in uscc(), position in 0usize..18, replacement in symbol()) {
        let mut chars: Vec<char> = code.as_str().chars().collect();
        prop_assume!(chars[position] != replacement);
        chars[position] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(Uscc::parse_normalized(&changed, book()).is_err(), "{} accepted", changed);
    }

    #[test]
    fn org_code_round_trips(body in "[0-9A-Z]{8}") {
        let code = OrgCode::build(&body).expect("valid body");
        prop_assert_eq!(OrgCode::parse_normalized(code.as_str()).expect("validates"), code.clone());
        let r = Identifier::parse_with(code.as_str(), book(), today()).expect("recognised");
        prop_assert_eq!(r.identifier.kind(), IdentifierKind::OrgCode);
    }

    #[test]
    fn resident_id_round_trips(d in division(), date in birth_date(), seq in 0u16..1000) {
        let id = ResidentId::build(&d, date, seq).expect("valid parts");
        let v = ResidentId::parse_normalized(id.as_str(), book(), today()).expect("validates");
        prop_assert_eq!(v.value.birth_date(), date);
        prop_assert_eq!(v.value.sex() == Sex::Male, seq % 2 == 1);
        let r = Identifier::parse_with(&id.as_str().to_lowercase(), book(), today()).expect("recognised");
        prop_assert!(r.identifier == Identifier::Ric(id.clone()) || r.alternatives.contains(&Identifier::Ric(id.clone())));
    }

    #[test]
    fn fifteen_digit_ids_upgrade_to_the_same_person(d in division(), days in 0u64..36_000, seq in 0u16..1000) {
        let date = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") + Days::new(days);
        let id = ResidentId::build(&d, date, seq).expect("valid parts");
        let old = format!("{}{}", &id.as_str()[..6], &id.as_str()[8..17]);
        let v = ResidentId::parse_15_normalized(&old, book(), today()).expect("validates");
        prop_assert_eq!(v.value, id);
    }

    #[test]
    fn reg_no_round_trips(first14 in "[0-9]{14}") {
        let no = RegNo15::build(&first14).expect("valid digits");
        let v = RegNo15::parse_normalized(no.as_str(), book()).expect("validates");
        prop_assert_eq!(v.value, no);
    }

    #[test]
    fn resident_id_single_digit_change_is_rejected(d in division(), date in birth_date(), seq in 0u16..1000, position in 0usize..18, digit in 0u8..10) {
        let id = ResidentId::build(&d, date, seq).expect("valid parts");
        let mut bytes = id.as_str().as_bytes().to_vec();
        let replacement = b'0' + digit;
        prop_assume!(bytes[position] != replacement);
        bytes[position] = replacement;
        let changed = String::from_utf8(bytes).expect("ascii");
        prop_assert!(ResidentId::parse_normalized(&changed, book(), today()).is_err(), "{} accepted", changed);
    }

    #[test]
    fn normalisation_is_idempotent(s in any::<String>()) {
        let once = normalize_code(&s);
        prop_assert_eq!(normalize_code(&once), once);
    }

    #[test]
    fn typed_forms_normalise_to_the_code(code in uscc(), spaced in any::<bool>()) {
        let full_width: String = code.as_str().chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)).collect();
        let lower = code.as_str().to_lowercase();
        let typed = if spaced { format!(" {}-{} ", &lower[..8], &lower[8..]) } else { full_width };
        prop_assert_eq!(normalize_code(&typed), code.as_str());
    }

    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = Identifier::parse_with(&s, book(), today());
    }
}
