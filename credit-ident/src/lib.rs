//! Identifier codecs: the one place that decides what a code is and whether it is valid. A crate of
//! its own, with the GB/T 2260 division table and the platform's calendar day, so that offline tools
//! (the `credit` command) need neither the store nor the search index; `credit-core` re-exports it as
//! `credit_core::ident`, `credit_core::division` and `credit_core::time`.
//!
//! Each kind validates a *normalised* value ([`normalize_code`]); [`Identifier::parse`] normalises, tries
//! every kind whose shape fits, and reports which validated. Shapes overlap (18 digits can be a unified
//! code or a resident ID; 15 digits a registration number or an old resident ID), so the winner is chosen
//! by a fixed preference and the other kinds that also validated are kept as alternatives.

mod codebook;
pub mod division;
mod error;
mod normalize;
mod org_code;
#[cfg(test)]
mod proptests;
mod reg_no;
mod report;
mod resident_id;
mod tax;
pub mod time;
mod uscc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use codebook::{CategoryTable, Codebook};
pub use error::{IdError, IdWarning, Issue};
pub use normalize::{normalize_code, to_half_width};
pub use org_code::{OrgCode, OrgCodeParts};
pub use reg_no::{RegNo15, RegNo15Parts};
pub use report::{Alternative, IdCheckReport};
pub use resident_id::{Holder, ResidentId, ResidentIdParts, Sex};
pub use tax::has_tax_number_shape;
pub use uscc::{ALPHABET as USCC_ALPHABET, Uscc, UsccParts};

/// A value that passed validation, with what is worth knowing about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated<T> {
    pub value: T,
    pub warnings: Vec<IdWarning>,
}

/// Kinds of identifier a subject can be known by: the four the codecs validate, and tax numbers,
/// which are recognised by shape and stored, never claimed valid (there is no public check). The one
/// name for the concept, from parsing to storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// Unified social credit code, GB 32100.
    Uscc,
    /// Organisation code, GB 11714.
    OrgCode,
    /// 15-digit business registration number.
    Gs15,
    /// Resident identity number, GB 11643 (incl. residence permits and foreigners' permanent residence).
    Ric,
    /// Tax registration number: stored as delivered, never validated.
    Tax,
}

impl IdentifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Uscc => "uscc",
            IdentifierKind::OrgCode => "org_code",
            IdentifierKind::Gs15 => "gs15",
            IdentifierKind::Ric => "ric",
            IdentifierKind::Tax => "tax",
        }
    }

    /// The order in which kinds are preferred when a value fails every one equally (reports list the
    /// candidates in it): the unified code, then a resident ID, an organisation code, a registration
    /// number.
    fn preference(self) -> u8 {
        match self {
            IdentifierKind::Uscc => 0,
            IdentifierKind::Ric => 1,
            IdentifierKind::OrgCode => 2,
            IdentifierKind::Gs15 => 3,
            IdentifierKind::Tax => 4,
        }
    }
}

/// A validated identifier of any kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    Uscc(Uscc),
    Ric(ResidentId),
    OrgCode(OrgCode),
    Gs15(RegNo15),
}

/// The parts of an identifier, as JSON output shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Parts {
    Uscc(UsccParts),
    Ric(ResidentIdParts),
    OrgCode(OrgCodeParts),
    Gs15(RegNo15Parts),
}

/// What [`Identifier::parse`] found: the winning kind, its warnings, and any other kinds that validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    pub identifier: Identifier,
    pub warnings: Vec<IdWarning>,
    pub alternatives: Vec<Identifier>,
}

/// Why a value is not a valid identifier: the errors of every kind whose shape it could have had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct Unrecognised {
    pub normalized: String,
    /// Per candidate kind, in order of preference, the errors that kind reported.
    pub candidates: Vec<(IdentifierKind, Vec<IdError>)>,
    /// The value has the shape of a tax registration number (stored, never validated).
    pub tax_shape: bool,
}

impl Unrecognised {
    /// The errors worth showing: those of the most plausible candidate.
    pub fn errors(&self) -> &[IdError] {
        self.candidates.first().map(|(_, e)| e.as_slice()).unwrap_or(&[])
    }

    fn summary(&self) -> String {
        match self.candidates.first() {
            Some((kind, errors)) => {
                let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
                format!("not a valid {}: {}", kind.as_str(), messages.join("; "))
            }
            None => "not a valid identifier".to_string(),
        }
    }
}

/// Full result of recognising one input, as `credit id check` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognition {
    pub input: String,
    pub normalized: String,
    pub result: Result<Recognised, Unrecognised>,
}

impl Identifier {
    /// Normalises and recognises a value with the compiled-in tables and today's date.
    pub fn parse(input: &str) -> Result<Recognised, Unrecognised> {
        Identifier::parse_with(input, Codebook::builtin(), crate::time::today_cst())
    }

    /// Normalises and recognises a value. Preference among kinds that validate: the unified code over the
    /// 18-digit resident ID, and the 15-digit resident ID over the registration number (a real YYMMDD date
    /// is stronger evidence than a check digit that one value in ten passes by chance).
    pub fn parse_with(input: &str, book: &Codebook, today: NaiveDate) -> Result<Recognised, Unrecognised> {
        let normalized = normalize_code(input);
        let len = normalized.chars().count();
        let mut found: Vec<(Identifier, Vec<IdWarning>)> = Vec::new();
        let mut candidates: Vec<(IdentifierKind, Vec<IdError>)> = Vec::new();
        let mut record =
            |kind: IdentifierKind, outcome: Result<(Identifier, Vec<IdWarning>), Vec<IdError>>| match outcome {
                Ok(ok) => found.push(ok),
                Err(errors) => candidates.push((kind, errors)),
            };
        match len {
            0 => {
                return Err(Unrecognised {
                    normalized,
                    candidates: vec![(IdentifierKind::Uscc, vec![IdError::Empty])],
                    tax_shape: false,
                });
            }
            18 => {
                record(
                    IdentifierKind::Uscc,
                    Uscc::parse_normalized(&normalized, book).map(|v| (Identifier::Uscc(v.value), v.warnings)),
                );
                // Tried for every 18-character value: when both fail, its errors compete with the unified
                // code's ("character 1: expected a digit" explains `T6042…` better than a check failure).
                record(
                    IdentifierKind::Ric,
                    ResidentId::parse_normalized(&normalized, book, today)
                        .map(|v| (Identifier::Ric(v.value), v.warnings)),
                );
            }
            9 => record(
                IdentifierKind::OrgCode,
                OrgCode::parse_normalized(&normalized).map(|v| (Identifier::OrgCode(v), Vec::new())),
            ),
            15 => {
                record(
                    IdentifierKind::Ric,
                    ResidentId::parse_15_normalized(&normalized, book, today)
                        .map(|v| (Identifier::Ric(v.value), v.warnings)),
                );
                record(
                    IdentifierKind::Gs15,
                    RegNo15::parse_normalized(&normalized, book).map(|v| (Identifier::Gs15(v.value), v.warnings)),
                );
            }
            _ => {
                // Say what lengths would have fitted, against the most common kind.
                candidates.push((
                    IdentifierKind::Uscc,
                    vec![IdError::Length { expected: "18 (unified code or resident ID), 15 or 9", found: len }],
                ));
            }
        }
        if found.is_empty() {
            let ric_shaped = looks_like_ric18(&normalized) || normalized.bytes().all(|b| b.is_ascii_digit());
            candidates.sort_by_key(|(kind, errors)| {
                let tie_break = if ric_shaped && *kind == IdentifierKind::Ric { 0 } else { 1 };
                (implausibility(errors), tie_break, kind.preference())
            });
            let tax_shape = has_tax_number_shape(&normalized);
            return Err(Unrecognised { normalized, candidates, tax_shape });
        }
        let mut found = found.into_iter();
        let (identifier, warnings) = found.next().expect("not empty");
        Ok(Recognised { identifier, warnings, alternatives: found.map(|(id, _)| id).collect() })
    }

    /// Recognises a value and keeps the input and its normal form, for reports.
    pub fn recognise(input: &str, book: &Codebook, today: NaiveDate) -> Recognition {
        Recognition {
            input: input.to_string(),
            normalized: normalize_code(input),
            result: Identifier::parse_with(input, book, today),
        }
    }

    pub fn kind(&self) -> IdentifierKind {
        match self {
            Identifier::Uscc(_) => IdentifierKind::Uscc,
            Identifier::Ric(_) => IdentifierKind::Ric,
            Identifier::OrgCode(_) => IdentifierKind::OrgCode,
            Identifier::Gs15(_) => IdentifierKind::Gs15,
        }
    }

    /// The canonical string form (a 15-digit resident ID appears upgraded to 18).
    pub fn as_str(&self) -> &str {
        match self {
            Identifier::Uscc(v) => v.as_str(),
            Identifier::Ric(v) => v.as_str(),
            Identifier::OrgCode(v) => v.as_str(),
            Identifier::Gs15(v) => v.as_str(),
        }
    }

    pub fn parts(&self, book: &Codebook) -> Parts {
        match self {
            Identifier::Uscc(v) => Parts::Uscc(v.parts(book)),
            Identifier::Ric(v) => Parts::Ric(v.parts(book)),
            Identifier::OrgCode(v) => Parts::OrgCode(v.parts()),
            Identifier::Gs15(v) => Parts::Gs15(v.parts(book)),
        }
    }
}

/// 17 digits and a final digit or X: the only values worth trying as an 18-character resident ID.
/// Whether `value` is fifteen ASCII digits, the shape of a registration number and of a first-generation
/// resident ID number: the length error, or one error per character that is not a digit.
fn fifteen_digits(value: &str) -> Result<(), Vec<IdError>> {
    let count = value.chars().count();
    if count != 15 {
        return Err(vec![IdError::Length { expected: "15", found: count }]);
    }
    let errors: Vec<IdError> = value
        .bytes()
        .enumerate()
        .filter(|(_, b)| !b.is_ascii_digit())
        .map(|(i, b)| IdError::Alphabet { position: i + 1, expected: "a digit", found: b as char })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn looks_like_ric18(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X')
}

/// How much evidence the errors give that the value was *not* meant as this kind; lower is more plausible.
/// A wrong check character is one typo; an impossible birth date is a typo inside an otherwise fitting
/// value; characters outside the alphabet and wrong lengths say it is another kind altogether.
fn implausibility(errors: &[IdError]) -> u32 {
    errors
        .iter()
        .map(|e| match e {
            IdError::BirthDate { .. } | IdError::BirthDateInFuture { .. } => 1,
            IdError::Check { .. } | IdError::OrgCodeCheck { .. } => 2,
            IdError::Alphabet { .. } => 3,
            IdError::Length { .. } | IdError::Empty => 5,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn parse(s: &str) -> Result<Recognised, Unrecognised> {
        Identifier::parse_with(s, Codebook::builtin(), today())
    }

    #[test]
    fn each_kind_is_recognised() {
        assert_eq!(parse("91110000600037341L").unwrap().identifier.kind(), IdentifierKind::Uscc);
        assert_eq!(parse("11010519491231002x").unwrap().identifier.kind(), IdentifierKind::Ric);
        assert_eq!(parse("60003734-1").unwrap().identifier.kind(), IdentifierKind::OrgCode);
        let old = parse("110105491231002").unwrap();
        assert_eq!(old.identifier.as_str(), "11010519491231002X");
        // The same digits also pass the registration number's MOD 11,10 check: reported as an alternative.
        assert_eq!(old.alternatives[0].kind(), IdentifierKind::Gs15);
    }

    #[test]
    fn unified_code_wins_over_resident_id_when_both_validate() {
        // Search for an 18-digit value that is both: a resident ID whose digits also pass the USCC checks.
        let start = NaiveDate::from_ymd_opt(1985, 3, 9).unwrap();
        let both = (0..365)
            .flat_map(|day| (0..1000u16).map(move |seq| (start + chrono::Days::new(day), seq)))
            .filter_map(|(date, seq)| ResidentId::build("110105", date, seq))
            .find(|id| Uscc::parse_normalized(id.as_str(), Codebook::builtin()).is_ok())
            .expect("about one in 341 numbers passes both checks");
        let r = parse(both.as_str()).unwrap();
        assert_eq!(r.identifier.kind(), IdentifierKind::Uscc);
        assert_eq!(r.alternatives.len(), 1);
        assert_eq!(r.alternatives[0].kind(), IdentifierKind::Ric);
    }

    #[test]
    fn rejection_reports_most_plausible_kind() {
        let err = parse("36042619910102009X").unwrap_err();
        assert_eq!(err.candidates[0].0, IdentifierKind::Ric);
        assert_eq!(err.errors()[0].code(), "check");
        let err = parse("360426199113010079").unwrap_err();
        assert_eq!(err.candidates[0].0, IdentifierKind::Ric);
        assert_eq!(err.errors()[0].code(), "birth_date");
        let err = parse("91110000600037341N").unwrap_err();
        assert_eq!(err.candidates[0].0, IdentifierKind::Uscc);
        assert_eq!(err.to_string(), "not a valid uscc: check character: expected L, found N");
    }

    /// Public test suites' real codes (python-stdnum) and DOMAIN.md's examples, with the verdict expected.
    #[test]
    fn public_test_vectors() {
        let codes = include_str!("../testdata/uscc_valid.txt");
        let mut count = 0;
        for code in codes.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let r = parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(r.identifier.kind(), IdentifierKind::Uscc, "{code}");
            // Old registrations keep abolished division codes (120224, 宝坻县 until 2001): warnings only.
            assert!(r.warnings.iter().all(|w| w.code() == "unknown_division"), "{code}: {:?}", r.warnings);
            count += 1;
        }
        assert!(count > 380, "only {count} codes read");

        let verdicts = include_str!("../testdata/verdicts.tsv");
        for line in verdicts.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split('\t').collect();
            let [value, valid, expected] = fields[..] else { panic!("bad line {line:?}") };
            match parse(value) {
                Ok(r) => {
                    assert_eq!(valid, "true", "{value} accepted as {:?}", r.identifier.kind());
                    assert_eq!(r.identifier.kind().as_str(), expected, "{value}");
                }
                Err(e) => {
                    assert_eq!(valid, "false", "{value} rejected: {e}");
                    assert_eq!(e.errors()[0].code(), expected, "{value}: {e}");
                }
            }
        }
    }

    #[test]
    fn tax_shapes_are_flagged_but_not_valid() {
        let err = parse("11010519491231002X01").unwrap_err();
        assert!(err.tax_shape);
        assert_eq!(parse("").unwrap_err().errors()[0].code(), "empty");
    }
}
