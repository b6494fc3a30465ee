//! The JSON object `credit id check` prints for one input; the gRPC service reports the same fields.

use serde::Serialize;

use super::{Codebook, Identifier, IdentifierKind, Issue, Parts, Recognition};

/// One input's verdict: `{"input","valid","kind","normalized","errors","warnings","parts",…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdCheckReport {
    pub input: String,
    pub valid: bool,
    pub kind: Option<IdentifierKind>,
    pub normalized: String,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub parts: Option<Parts>,
    /// Other kinds the value also validates as, with their canonical form.
    pub alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alternative {
    pub kind: IdentifierKind,
    pub value: String,
}

impl IdCheckReport {
    pub fn new(recognition: &Recognition, book: &Codebook) -> IdCheckReport {
        match &recognition.result {
            Ok(found) => IdCheckReport {
                input: recognition.input.clone(),
                valid: true,
                kind: Some(found.identifier.kind()),
                // A 15-digit resident ID is reported in its upgraded 18-digit form.
                normalized: found.identifier.as_str().to_string(),
                errors: Vec::new(),
                warnings: found.warnings.iter().map(Issue::from).collect(),
                parts: Some(found.identifier.parts(book)),
                alternatives: found.alternatives.iter().map(Alternative::from).collect(),
            },
            Err(rejected) => {
                let mut warnings = Vec::new();
                if rejected.tax_shape {
                    warnings.push(Issue::from(&super::IdWarning::TaxShapeOnly));
                }
                IdCheckReport {
                    input: recognition.input.clone(),
                    valid: false,
                    kind: None,
                    normalized: rejected.normalized.clone(),
                    errors: rejected.errors().iter().map(Issue::from).collect(),
                    warnings,
                    parts: None,
                    alternatives: Vec::new(),
                }
            }
        }
    }
}

impl From<&Identifier> for Alternative {
    fn from(id: &Identifier) -> Self {
        Alternative { kind: id.kind(), value: id.as_str().to_string() }
    }
}
