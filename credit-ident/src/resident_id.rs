//! Resident identity number, GB 11643-1999: the natural person's unified code.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::codebook::Codebook;
use super::{IdError, IdWarning, Validated};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECKS: &[u8; 11] = b"10X98765432";

/// A validated 18-character resident identity number (15-digit numbers are upgraded on parse).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

/// Who the number was issued to, read from the address code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    Mainland,
    HongKongResidencePermit,
    MacauResidencePermit,
    TaiwanResidencePermit,
    ForeignPermanentResident,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResidentIdParts {
    pub division: String,
    pub division_name: Option<String>,
    pub birth_date: NaiveDate,
    pub sequence: String,
    pub sex: Sex,
    pub check: char,
    pub holder: Holder,
    /// The 15-digit input this number was upgraded from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgraded_from: Option<String>,
}

impl ResidentId {
    /// Validates an 18-character normalised value; `today` (China Standard Time) bounds the birth date.
    pub fn parse_normalized(
        id: &str,
        book: &Codebook,
        today: NaiveDate,
    ) -> Result<Validated<ResidentId>, Vec<IdError>> {
        let bytes = id.as_bytes();
        let count = id.chars().count();
        if count != 18 {
            return Err(vec![IdError::Length { expected: "18", found: count }]);
        }
        let mut errors = Vec::new();
        for (i, &b) in bytes[..17].iter().enumerate() {
            if !b.is_ascii_digit() {
                errors.push(IdError::Alphabet { position: i + 1, expected: "a digit", found: b as char });
            }
        }
        if !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            errors.push(IdError::Alphabet { position: 18, expected: "a digit or X", found: bytes[17] as char });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        check_birth_date(&id[6..14], today, &mut errors);
        let expected = check_character(&bytes[..17]);
        if expected != bytes[17] as char {
            errors.push(IdError::Check { expected, found: bytes[17] as char });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let value = ResidentId(id.to_string());
        let mut warnings = Vec::new();
        if value.holder() == Holder::Mainland && book.divisions.get(value.division()).is_none() {
            warnings.push(IdWarning::UnknownAddressCode {
                code: value.division().to_string(),
                revision: book.divisions.revision().to_string(),
            });
        }
        Ok(Validated { value, warnings })
    }

    /// Validates a 15-digit number (`AAAAAA YYMMDD SSS`, no check) and upgrades it to 18 characters by
    /// inserting `19` and appending the check character.
    pub fn parse_15_normalized(
        id: &str,
        book: &Codebook,
        today: NaiveDate,
    ) -> Result<Validated<ResidentId>, Vec<IdError>> {
        super::fifteen_digits(id)?;
        let first17 = format!("{}19{}", &id[..6], &id[6..]);
        let upgraded = format!("{first17}{}", check_character(first17.as_bytes()));
        let mut validated = ResidentId::parse_normalized(&upgraded, book, today)?;
        validated.warnings.push(IdWarning::UpgradedFrom15 { upgraded });
        Ok(validated)
    }

    /// Builds a valid number from a 6-digit address code, a birth date and a 3-digit sequence.
    pub fn build(division: &str, birth_date: NaiveDate, sequence: u16) -> Option<ResidentId> {
        if division.len() != 6 || !division.bytes().all(|b| b.is_ascii_digit()) || sequence > 999 {
            return None;
        }
        let first17 = format!("{division}{}{sequence:03}", birth_date.format("%Y%m%d"));
        if first17.len() != 17 {
            return None;
        }
        let check = check_character(first17.as_bytes());
        Some(ResidentId(format!("{first17}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn division(&self) -> &str {
        &self.0[..6]
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("validated on parse")
    }

    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
    }

    pub fn holder(&self) -> Holder {
        match &self.0[..2] {
            "81" => Holder::HongKongResidencePermit,
            "82" => Holder::MacauResidencePermit,
            "83" => Holder::TaiwanResidencePermit,
            p if p.starts_with('9') => Holder::ForeignPermanentResident,
            _ => Holder::Mainland,
        }
    }

    pub fn parts(&self, book: &Codebook) -> ResidentIdParts {
        ResidentIdParts {
            division: self.division().to_string(),
            division_name: book.divisions.full_name(self.division()),
            birth_date: self.birth_date(),
            sequence: self.0[14..17].to_string(),
            sex: self.sex(),
            check: self.0.as_bytes()[17] as char,
            holder: self.holder(),
            upgraded_from: None,
        }
    }

    /// The public form: first 6 and last 4 characters shown, e.g. `110105********002X`.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_birth_date(yyyymmdd: &str, today: NaiveDate, errors: &mut Vec<IdError>) {
    match NaiveDate::parse_from_str(yyyymmdd, "%Y%m%d") {
        Ok(date) if date > today => errors.push(IdError::BirthDateInFuture { found: date.to_string() }),
        // Nobody registered today was born before the Qing dynasty ended; older dates are typos.
        Ok(date) if date.year() < 1850 => errors.push(IdError::BirthDate { found: yyyymmdd.to_string() }),
        Ok(_) => {}
        Err(_) => errors.push(IdError::BirthDate { found: yyyymmdd.to_string() }),
    }
}

/// `"10X98765432"[sum mod 11]` over 17 ASCII digits.
fn check_character(digits: &[u8]) -> char {
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECKS[(sum % 11) as usize] as char
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn parse(id: &str) -> Result<Validated<ResidentId>, Vec<IdError>> {
        ResidentId::parse_normalized(id, Codebook::builtin(), today())
    }

    #[test]
    fn known_valid_numbers() {
        for id in ["11010519491231002X", "360426199101010071", "440524188001010014"] {
            assert!(parse(id).is_ok(), "{id}: {:?}", parse(id));
        }
    }

    #[test]
    fn bad_check_and_impossible_month() {
        assert_eq!(parse("36042619910102009X").unwrap_err()[0].code(), "check");
        let err = parse("360426199113010079").unwrap_err();
        assert_eq!(err[0].code(), "birth_date");
        assert!(err[0].to_string().contains("19911301"));
    }

    #[test]
    fn future_birth_date_is_rejected() {
        let id = ResidentId::build("110105", NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(), 1).unwrap();
        assert_eq!(parse(id.as_str()).unwrap_err()[0].code(), "birth_date_future");
    }

    #[test]
    fn fifteen_digits_upgrade() {
        let v = ResidentId::parse_15_normalized("110105491231002", Codebook::builtin(), today()).unwrap();
        assert_eq!(v.value.as_str(), "11010519491231002X");
        assert!(matches!(v.warnings.last(), Some(IdWarning::UpgradedFrom15 { .. })));
    }

    #[test]
    fn abolished_address_code_is_a_warning_not_an_error() {
        let v = parse("440524188001010014").unwrap();
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(v.warnings[0].code(), "unknown_address_code");
    }

    #[test]
    fn permits_use_the_same_check() {
        let date = NaiveDate::from_ymd_opt(1990, 5, 17).unwrap();
        for (division, holder) in [
            ("810000", Holder::HongKongResidencePermit),
            ("820000", Holder::MacauResidencePermit),
            ("830000", Holder::TaiwanResidencePermit),
            ("933020", Holder::ForeignPermanentResident),
        ] {
            let id = ResidentId::build(division, date, 3).unwrap();
            let v = parse(id.as_str()).unwrap();
            assert_eq!(v.value.holder(), holder);
            assert!(v.warnings.is_empty(), "{id}: {:?}", v.warnings);
        }
    }

    #[test]
    fn sex_and_mask() {
        let v = parse("11010519491231002X").unwrap().value;
        assert_eq!(v.sex(), Sex::Female);
        assert_eq!(v.masked(), "110105********002X");
        assert_eq!(parse("360426199101010071").unwrap().value.sex(), Sex::Male);
    }
}
