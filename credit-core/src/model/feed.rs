//! The events of the change feed, as stored and as followers read them. Who writes them, and when,
//! is [`crate::feed`]'s; the store only gives them their sequence numbers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{BatchId, RecordCategory, RecordId, SubjectId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A list entry arrived.
    Listed,
    /// A list entry ended: removed by its department, or its planned removal date came.
    Removed,
    /// A record other than a list entry arrived.
    Published,
    /// A record got a new version that changes its content (a correction, a department's update).
    Corrected,
    /// A repair took effect: no more display, sharing or joint measures from `effective` on.
    Repaired,
    /// The record was revoked (wrong from the start, or annulled) from `effective` on.
    Revoked,
    /// The public window ended on `effective`; the record stays in the regulator view.
    WindowEnded,
    /// The subject's evaluation grade changed (`grade`); `record` is 0: no one record made it.
    GradeChanged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Listed => "listed",
            ChangeKind::Removed => "removed",
            ChangeKind::Published => "published",
            ChangeKind::Corrected => "corrected",
            ChangeKind::Repaired => "repaired",
            ChangeKind::Revoked => "revoked",
            ChangeKind::WindowEnded => "window_ended",
            ChangeKind::GradeChanged => "grade_changed",
        }
    }
}

/// One change to one record of one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub subject: SubjectId,
    /// The subject's code as the record names it (unified code first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub record: RecordId,
    pub version: u32,
    pub category: RecordCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_type: Option<String>,
    /// The day the change takes effect (listing, removal, repair, revocation, window end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<NaiveDate>,
    /// The repair or objection case that made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<u64>,
    /// For `grade_changed`: the grade before and after, under which model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<GradeChange>,
}

/// A subject's grade moving from one evaluation to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeChange {
    pub from: String,
    pub to: String,
    pub score: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_class: Option<String>,
    pub model_version: String,
}

/// A change as the feed holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEvent {
    #[serde(rename = "seq")]
    pub sequence: u64,
    pub at: DateTime<Utc>,
    pub batch: BatchId,
    #[serde(flatten)]
    pub change: Change,
}
