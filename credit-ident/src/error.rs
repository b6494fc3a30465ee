//! What can be wrong with an identifier, and what is merely worth knowing.

use serde::Serialize;

/// A reason an identifier is invalid. Messages say what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("empty value")]
    Empty,
    #[error("length: expected {expected} characters, found {found}")]
    Length { expected: &'static str, found: usize },
    #[error("character {position}: expected {expected}, found {found:?}")]
    Alphabet {
        /// 1-based position in the normalised value.
        position: usize,
        expected: &'static str,
        found: char,
    },
    #[error("organisation code check character: expected {expected}, found {found}")]
    OrgCodeCheck { expected: char, found: char },
    #[error("check character: expected {expected}, found {found}")]
    Check { expected: char, found: char },
    #[error("birth date: {found} is not a calendar date")]
    BirthDate { found: String },
    #[error("birth date: {found} lies in the future")]
    BirthDateInFuture { found: String },
}

impl IdError {
    /// A stable, machine-readable code for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Empty => "empty",
            IdError::Length { .. } => "length",
            IdError::Alphabet { .. } => "alphabet",
            IdError::OrgCodeCheck { .. } => "org_code_check",
            IdError::Check { .. } => "check",
            IdError::BirthDate { .. } => "birth_date",
            IdError::BirthDateInFuture { .. } => "birth_date_future",
        }
    }
}

/// Something worth knowing about an identifier that does not make it invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdWarning {
    #[error("registration authority {authority} with organisation category {category} is not in the category table")]
    UnknownAuthorityCategory { authority: char, category: char },
    #[error("division {code} is not in the division table ({revision}); codes are created and abolished over time")]
    UnknownDivision { code: String, revision: String },
    #[error(
        "address code {code} is not in the current division table ({revision}); an ID keeps the code of the place of first registration, which may since have been abolished"
    )]
    UnknownAddressCode { code: String, revision: String },
    #[error("division {found:?} of a unified code should be 6 digits")]
    DivisionNotDigits { found: String },
    #[error("15-digit resident identity number upgraded to 18 digits: {upgraded}")]
    UpgradedFrom15 { upgraded: String },
    #[error("shaped like a tax registration number, which has no public check algorithm: stored, not validated")]
    TaxShapeOnly,
}

impl IdWarning {
    pub fn code(&self) -> &'static str {
        match self {
            IdWarning::UnknownAuthorityCategory { .. } => "unknown_authority_category",
            IdWarning::UnknownDivision { .. } => "unknown_division",
            IdWarning::UnknownAddressCode { .. } => "unknown_address_code",
            IdWarning::DivisionNotDigits { .. } => "division_not_digits",
            IdWarning::UpgradedFrom15 { .. } => "upgraded_from_15",
            IdWarning::TaxShapeOnly => "tax_shape_only",
        }
    }
}

/// `{"code":…, "message":…}`, the form both errors and warnings take in JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub code: &'static str,
    pub message: String,
}

impl From<&IdError> for Issue {
    fn from(e: &IdError) -> Self {
        Issue { code: e.code(), message: e.to_string() }
    }
}

impl From<&IdWarning> for Issue {
    fn from(w: &IdWarning) -> Self {
        Issue { code: w.code(), message: w.to_string() }
    }
}
