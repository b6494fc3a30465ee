//! Credit repair and objection cases as stored: their kinds, states, steps and operators, below the
//! store (which keeps them) and the audit vocabulary (which names them). The workflow itself is [`crate::cases`]'.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{RecordId, SubjectId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    Repair,
    Objection,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Repair => "repair",
            CaseKind::Objection => "objection",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Apply,
    File,
    Accept,
    Reject,
    Approve,
    Deny,
    Correct,
    Revoke,
    Dismiss,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::Apply,
        Action::File,
        Action::Accept,
        Action::Reject,
        Action::Approve,
        Action::Deny,
        Action::Correct,
        Action::Revoke,
        Action::Dismiss,
    ];

    /// The steps that decide an open case (all but opening one).
    pub const DECISIONS: [Action; 7] = [
        Action::Accept,
        Action::Reject,
        Action::Approve,
        Action::Deny,
        Action::Correct,
        Action::Revoke,
        Action::Dismiss,
    ];

    pub fn parse(value: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::File => "file",
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Correct => "correct",
            Action::Revoke => "revoke",
            Action::Dismiss => "dismiss",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Applied for (repair) or filed (objection); waiting to be accepted.
    Applied,
    /// Accepted; under review by the identifying department.
    Accepted,
    Rejected,
    Approved,
    Denied,
    Corrected,
    Revoked,
    Dismissed,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Applied => "applied",
            CaseState::Accepted => "accepted",
            CaseState::Rejected => "rejected",
            CaseState::Approved => "approved",
            CaseState::Denied => "denied",
            CaseState::Corrected => "corrected",
            CaseState::Revoked => "revoked",
            CaseState::Dismissed => "dismissed",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, CaseState::Applied | CaseState::Accepted)
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who took a step: a person, in a role, for a department, through an API key when there was one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// A case as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: u64,
    pub kind: CaseKind,
    pub record: RecordId,
    pub subject: SubjectId,
    pub state: CaseState,
    /// Number of steps so far (the application is step 1).
    pub version: u32,
    /// The day the application or objection was made.
    pub opened_on: NaiveDate,
    pub reason: String,
    pub updated_at: DateTime<Utc>,
    /// The record version the case's outcome wrote, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_version: Option<u32>,
    /// The day the outcome takes effect on the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<NaiveDate>,
    /// A repair's proof that the act was corrected and the obligations fulfilled: document references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The subject's public credit commitment, kept as a record of the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_record: Option<RecordId>,
    /// Who a regulator applied for, when it applied on the subject's behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_for: Option<String>,
    /// The last day the current step may be taken, when the rules set a deadline for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
}

impl Case {
    /// Whether the case is open past its step's deadline on `today`.
    pub fn overdue_on(&self, today: NaiveDate) -> bool {
        self.state.is_open() && self.due.is_some_and(|due| due < today)
    }
}

/// What a repair application carries besides its reason (Order 36's conditions: the act corrected and
/// the obligations fulfilled, with proof; a public credit commitment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairApplication {
    /// References to the documents that prove fulfilment (receipts, decisions, certificates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<CommitmentText>,
    /// A regulator applying for the subject names whom it acts for (the subject's representative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_for: Option<String>,
}

/// A public credit commitment as the applicant made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentText {
    pub text: String,
    pub made_on: NaiveDate,
}

/// One step of a case: its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseStep {
    pub case: u64,
    pub version: u32,
    pub action: Action,
    pub state: CaseState,
    pub operator: Operator,
    /// The day the step was taken (the decision's date).
    pub on: NaiveDate,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
