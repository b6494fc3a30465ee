//! The 15-digit business registration number (工商注册号) of older records: ISO 7064 MOD 11,10.

use std::fmt;

use serde::Serialize;

use super::codebook::Codebook;
use super::{IdError, IdWarning, Validated};

/// A validated 15-digit registration number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegNo15(String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegNo15Parts {
    /// Code of the registering authority's division (positions 1–6).
    pub division: String,
    pub division_name: Option<String>,
    pub sequence: String,
    pub check: char,
}

impl RegNo15 {
    pub fn parse_normalized(no: &str, book: &Codebook) -> Result<Validated<RegNo15>, Vec<IdError>> {
        super::fifteen_digits(no)?;
        let bytes = no.as_bytes();
        let expected = check_digit(&bytes[..14]);
        if expected != bytes[14] as char {
            return Err(vec![IdError::Check { expected, found: bytes[14] as char }]);
        }
        let mut warnings = Vec::new();
        // National (100000) and provincial authorities use codes that end in zeros; all are table lookups.
        if book.divisions.get(&no[..6]).is_none() && &no[..6] != "100000" {
            warnings.push(IdWarning::UnknownDivision {
                code: no[..6].to_string(),
                revision: book.divisions.revision().to_string(),
            });
        }
        Ok(Validated { value: RegNo15(no.to_string()), warnings })
    }

    /// Builds a valid number from its first 14 digits.
    pub fn build(first14: &str) -> Option<RegNo15> {
        if first14.len() != 14 || !first14.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(RegNo15(format!("{first14}{}", check_digit(first14.as_bytes()))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parts(&self, book: &Codebook) -> RegNo15Parts {
        RegNo15Parts {
            division: self.0[..6].to_string(),
            division_name: book.divisions.full_name(&self.0[..6]),
            sequence: self.0[6..14].to_string(),
            check: self.0.as_bytes()[14] as char,
        }
    }
}

impl fmt::Display for RegNo15 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 7064 MOD 11,10: `p = 10`; for each digit `s = (p + d) mod 10` (0 → 10), `p = 2s mod 11`; the check
/// `c` makes `(p + c) mod 10 = 1`.
fn check_digit(digits: &[u8]) -> char {
    let mut p = 10u32;
    for &b in digits {
        let mut s = (p + u32::from(b - b'0')) % 10;
        if s == 0 {
            s = 10;
        }
        p = (2 * s) % 11;
    }
    let c = (11 - p) % 10;
    char::from_digit(c, 10).expect("c is below 10")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the whole number through the MOD 11,10 recurrence: a valid number ends with p's step giving 1.
    fn passes_full_recurrence(no: &str) -> bool {
        let mut p = 10u32;
        for (i, b) in no.bytes().enumerate() {
            let mut s = (p + u32::from(b - b'0')) % 10;
            if i == 14 {
                return s == 1;
            }
            if s == 0 {
                s = 10;
            }
            p = (2 * s) % 11;
        }
        false
    }

    #[test]
    fn built_numbers_satisfy_the_standard_recurrence() {
        for first14 in ["11010800000000", "44030110234567", "31011500999999", "00000000000000"] {
            let no = RegNo15::build(first14).unwrap();
            assert!(passes_full_recurrence(no.as_str()), "{no}");
            assert!(RegNo15::parse_normalized(no.as_str(), Codebook::builtin()).is_ok());
        }
    }

    #[test]
    fn exactly_one_check_digit_fits() {
        let first14 = "44030110234567";
        let fits: Vec<u8> = (0..10).filter(|d| passes_full_recurrence(&format!("{first14}{d}"))).collect();
        assert_eq!(fits.len(), 1);
        let no = RegNo15::build(first14).unwrap();
        assert_eq!(no.as_str().as_bytes()[14] - b'0', fits[0]);
    }

    #[test]
    fn wrong_digit_is_rejected() {
        let no = RegNo15::build("11010800000000").unwrap();
        let mut bad = no.as_str().to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == '9' { '0' } else { (last as u8 + 1) as char });
        assert_eq!(RegNo15::parse_normalized(&bad, Codebook::builtin()).unwrap_err()[0].code(), "check");
    }
}
