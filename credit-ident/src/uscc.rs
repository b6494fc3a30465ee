//! Unified social credit code, GB 32100-2015.

use std::fmt;

use serde::Serialize;

use super::codebook::Codebook;
use super::{IdError, IdWarning, Validated, org_code};

/// The 31 symbols of the code; a character's value is its index.
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// 3^i mod 31 for positions 1–17.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A validated unified social credit code, e.g. `91110000600037341L`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc(String);

/// The parts of a code, with names from the reference tables where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsccParts {
    pub authority: char,
    pub authority_name: Option<String>,
    pub category: char,
    pub category_name: Option<String>,
    pub division: String,
    pub division_name: Option<String>,
    pub org_code: String,
    pub check: char,
}

impl Uscc {
    /// Validates an already normalised value against the given reference tables.
    pub fn parse_normalized(code: &str, book: &Codebook) -> Result<Validated<Uscc>, Vec<IdError>> {
        let count = code.chars().count();
        if count != 18 {
            return Err(vec![IdError::Length { expected: "18", found: count }]);
        }
        let chars: [char; 18] = {
            let mut out = ['\0'; 18];
            for (slot, c) in out.iter_mut().zip(code.chars()) {
                *slot = c;
            }
            out
        };
        let mut values = [0u32; 18];
        let mut errors = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            match symbol_value(c) {
                Some(v) => values[i] = v,
                None => errors.push(IdError::Alphabet {
                    position: i + 1,
                    expected: "one of 0-9 A-H J-N P-R T U W-Y",
                    found: c,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let org_expected = org_code::check_character(&chars[8..16]).expect("the 31 symbols are base-36 digits");
        if org_expected != chars[16] {
            errors.push(IdError::OrgCodeCheck { expected: org_expected, found: chars[16] });
        }
        let expected = check_for_values(&values[..17]);
        if expected != chars[17] {
            errors.push(IdError::Check { expected, found: chars[17] });
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut warnings = Vec::new();
        let (authority, category) = (chars[0], chars[1]);
        if book.categories.category_name(authority, category).is_none() {
            warnings.push(IdWarning::UnknownAuthorityCategory { authority, category });
        }
        let division = &code[2..8];
        if !division.bytes().all(|b| b.is_ascii_digit()) {
            warnings.push(IdWarning::DivisionNotDigits { found: division.to_string() });
        } else if book.divisions.get(division).is_none() {
            warnings.push(IdWarning::UnknownDivision {
                code: division.to_string(),
                revision: book.divisions.revision().to_string(),
            });
        }
        Ok(Validated { value: Uscc(code.to_string()), warnings })
    }

    /// Builds a valid code from its parts: authority and category characters, a 6-digit division and an
    /// 8-character organisation-code body from the 31 symbols. Both check characters are computed.
    pub fn build(authority: char, category: char, division: &str, org_body: &str) -> Option<Uscc> {
        let org = org_code::OrgCode::build(org_body)?;
        let first17: String = [authority, category].iter().collect::<String>() + division + org.as_str();
        if first17.chars().count() != 17 {
            return None;
        }
        let values: Option<Vec<u32>> = first17.chars().map(symbol_value).collect();
        let check = check_for_values(&values?);
        Some(Uscc(format!("{first17}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The embedded GB 11714 organisation code (positions 9–17).
    pub fn org_code(&self) -> &str {
        &self.0[8..17]
    }

    pub fn division(&self) -> &str {
        &self.0[2..8]
    }

    pub fn parts(&self, book: &Codebook) -> UsccParts {
        let b = self.0.as_bytes();
        let (authority, category) = (b[0] as char, b[1] as char);
        UsccParts {
            authority,
            authority_name: book.categories.authority_name(authority).map(str::to_string),
            category,
            category_name: book.categories.category_name(authority, category).map(str::to_string),
            division: self.division().to_string(),
            division_name: book.divisions.full_name(self.division()),
            org_code: self.org_code().to_string(),
            check: b[17] as char,
        }
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The symbol's value, by table: this sits on the hot path of every validation.
fn symbol_value(c: char) -> Option<u32> {
    const TABLE: [u8; 128] = {
        let mut table = [u8::MAX; 128];
        let alphabet = ALPHABET.as_bytes();
        let mut i = 0;
        while i < alphabet.len() {
            table[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    let value = *TABLE.get(c as usize)?;
    (value != u8::MAX).then_some(u32::from(value))
}

/// `ALPHABET[(31 - sum mod 31) mod 31]`; the outer `mod 31` turns a sum divisible by 31 into `0`.
fn check_for_values(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let index = (31 - sum % 31) % 31;
    ALPHABET.as_bytes()[index as usize] as char
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(code: &str) -> Result<Validated<Uscc>, Vec<IdError>> {
        Uscc::parse_normalized(code, Codebook::builtin())
    }

    #[test]
    fn real_public_codes_validate() {
        for code in [
            "91110000600037341L",
            "121200004013590816",
            "911522010783762860",
            "9115220107837757XE",
            "91310115MA1K3BTP2B",
            "92340602MA2PBMEM24",
            "91620105L015101280",
        ] {
            let v = parse(code).unwrap_or_else(|e| panic!("{code}: {e:?}"));
            assert!(v.warnings.is_empty(), "{code}: {:?}", v.warnings);
        }
    }

    #[test]
    fn wrong_check_character_names_expected() {
        let err = parse("91110000600037341N").unwrap_err();
        assert_eq!(err, vec![IdError::Check { expected: 'L', found: 'N' }]);
        assert_eq!(err[0].to_string(), "check character: expected L, found N");
    }

    #[test]
    fn forbidden_letters_are_each_named() {
        let err = parse("9111000060003IOZSV").unwrap_err();
        let positions: Vec<usize> = err
            .iter()
            .map(|e| match e {
                IdError::Alphabet { position, .. } => *position,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(positions, vec![14, 15, 16, 17, 18]);
    }

    #[test]
    fn length_is_checked_first() {
        assert_eq!(parse("12345").unwrap_err(), vec![IdError::Length { expected: "18", found: 5 }]);
    }

    #[test]
    fn org_code_check_is_verified_inside_the_code() {
        // 600037341 → 600037351 breaks the org check; recompute the final check so only it fails.
        let bad = Uscc::build('9', '1', "110000", "60003735").unwrap();
        let mut s = bad.as_str().to_string();
        s.replace_range(16..17, "2");
        let values: Vec<u32> = s[..17].chars().map(|c| symbol_value(c).unwrap()).collect();
        s.replace_range(17..18, &check_for_values(&values).to_string());
        let err = parse(&s).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].code(), "org_code_check");
    }

    #[test]
    fn a_n_y_authorities_are_accepted() {
        for authority in ['A', 'N', 'Y'] {
            let code = Uscc::build(authority, '1', "110105", "MA01B2C3").unwrap();
            let v = parse(code.as_str()).unwrap();
            assert!(v.warnings.is_empty(), "{code}: {:?}", v.warnings);
        }
    }

    #[test]
    fn unknown_pair_and_division_are_warnings() {
        let code = Uscc::build('9', '9', "999999", "MA01B2C3").unwrap();
        let v = parse(code.as_str()).unwrap();
        let codes: Vec<_> = v.warnings.iter().map(IdWarning::code).collect();
        assert_eq!(codes, vec!["unknown_authority_category", "unknown_division"]);
    }

    #[test]
    fn sum_divisible_by_31_gives_check_zero() {
        assert_eq!(check_for_values(&[0; 17]), '0');
        assert_eq!(parse("911522010783762860").unwrap().value.as_str().as_bytes()[17], b'0');
    }

    #[test]
    fn parts_carry_names() {
        let v = parse("92340602MA2PBMEM24").unwrap().value;
        let p = v.parts(Codebook::builtin());
        assert_eq!(p.authority_name.as_deref(), Some("工商/市场监管"));
        assert_eq!(p.category_name.as_deref(), Some("个体工商户"));
        assert_eq!(p.division_name.as_deref(), Some("安徽省淮北市杜集区"));
        assert_eq!(p.org_code, "MA2PBMEM2");
    }
}
