//! The kinds and steps of credit repair and objection cases: values the audit vocabulary names, so
//! they live below the store. The workflow itself is [`crate::cases`]'.

use serde::{Deserialize, Serialize};

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
