//! Organisation code, GB 11714: eight body characters and a MOD 11 check character.

use std::fmt;

use serde::Serialize;

use super::IdError;

const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A validated organisation code, e.g. `600037341`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgCode(String);

/// The parts shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgCodeParts {
    pub body: String,
    pub check: char,
}

impl OrgCode {
    /// Validates an already normalised value.
    pub fn parse_normalized(code: &str) -> Result<OrgCode, Vec<IdError>> {
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 9 {
            return Err(vec![IdError::Length { expected: "9", found: chars.len() }]);
        }
        let mut errors = Vec::new();
        for (i, &c) in chars[..8].iter().enumerate() {
            if base36_value(c).is_none() {
                errors.push(IdError::Alphabet { position: i + 1, expected: "a digit or a letter A-Z", found: c });
            }
        }
        let found = chars[8];
        if !(found.is_ascii_digit() || found == 'X') {
            errors.push(IdError::Alphabet { position: 9, expected: "a digit or X", found });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let expected = check_character(&chars[..8]).expect("body characters were checked");
        if expected != found {
            return Err(vec![IdError::Check { expected, found }]);
        }
        Ok(OrgCode(code.to_string()))
    }

    /// Builds a valid code from an 8-character body of digits and capital letters.
    pub fn build(body: &str) -> Option<OrgCode> {
        let chars: Vec<char> = body.chars().collect();
        if chars.len() != 8 {
            return None;
        }
        let check = check_character(&chars)?;
        Some(OrgCode(format!("{body}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parts(&self) -> OrgCodeParts {
        OrgCodeParts { body: self.0[..8].to_string(), check: self.0.as_bytes()[8] as char }
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check character for eight body characters, or `None` when one is not `0-9A-Z`.
///
/// Values are base-36 (`A` = 10 … `Z` = 35), not the 31-symbol index of the unified code.
pub fn check_character(body: &[char]) -> Option<char> {
    let mut sum = 0;
    for (&c, w) in body.iter().zip(WEIGHTS) {
        sum += base36_value(c)? * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        r => char::from_digit(r, 10).expect("r is below 10"),
    })
}

fn base36_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' | 'A'..='Z' => c.to_digit(36),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        for code in ["600037341", "401359081", "078376286", "07837757X", "MA1K3BTP2", "MA2PBMEM2", "L01510128"] {
            assert!(OrgCode::parse_normalized(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn wrong_check_names_expected_and_found() {
        let err = OrgCode::parse_normalized("600037342").unwrap_err();
        assert_eq!(err, vec![IdError::Check { expected: '1', found: '2' }]);
        assert_eq!(err[0].to_string(), "check character: expected 1, found 2");
    }

    #[test]
    fn remainder_zero_gives_check_zero_and_ten_gives_x() {
        // A body whose weighted sum is a multiple of 11 must take check character 0, not "11".
        assert_eq!(check_character(&['0'; 8]), Some('0'));
        assert_eq!(OrgCode::build("00000000").unwrap().as_str(), "000000000");
        assert_eq!(OrgCode::build("07837757").unwrap().as_str(), "07837757X");
    }

    #[test]
    fn bad_characters_are_named() {
        let err = OrgCode::parse_normalized("6000_7341").unwrap_err();
        assert_eq!(err[0].code(), "alphabet");
        assert!(err[0].to_string().contains("character 5"));
        assert_eq!(OrgCode::parse_normalized("6000373").unwrap_err()[0].code(), "length");
    }
}
