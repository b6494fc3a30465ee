//! The audit log's values: what was done ([`Operation`]), by whom ([`Actor`]), to whom and how it
//! ended ([`AuditEvent`]), and the chain's entries and signed checkpoints as stored. The chain itself
//! (appending, querying, verifying) is a key space of the store: [`crate::store::audit_chain`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::SubjectId;

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The default name of the file every checkpoint is mirrored to, in the data directory.
pub const CHECKPOINT_FILE: &str = "audit-checkpoints.jsonl";

/// What the checkpoint signatures sign, besides the checkpoint's fields.
pub const CHECKPOINT_FORMAT: &str = "credit-audit-checkpoint/1";

pub use crate::actor::Actor;

/// What was done: the closed vocabulary of the audit log. Every entry written from now on names one of
/// these, spelled by [`Operation::name`]; entries already in the log keep the names they were written
/// with (the log is append-only and hash-chained), and queries match names as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A subject page read in the regulator view (recorded for natural persons, with the purpose).
    SubjectRead,
    /// A page of a subject's records read in the regulator view (natural persons, with the purpose).
    RecordsList,
    /// Every version of one record read in the regulator view (natural persons, with the purpose).
    RecordHistory,
    Check,
    Feedback,
    ReportIssue,
    Import,
    /// A repair or objection step; the kind is unknown (`case.…`) when a step common to both was
    /// refused before its case was found.
    Case(Option<super::case::CaseKind>, super::case::Action),
    FeedFollow,
    Reindex,
    Backup,
    Restore,
    SigningInit,
    SigningRotate,
    ApiKeyCreate,
    ApiKeyRevoke,
    /// Write commands of another store applied here ([`crate::command`]).
    Replay,
    /// An evaluation run (full or incremental) that stored evaluations.
    Evaluate,
    /// A random inspection plan drawn (its seed, ratios and subjects in the details).
    InspectionPlan,
}

impl Operation {
    /// The name the audit log writes.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        let name = match self {
            Operation::SubjectRead => "subject.read",
            Operation::RecordsList => "records.list",
            Operation::RecordHistory => "record.history",
            Operation::Check => "check",
            Operation::Feedback => "feedback",
            Operation::ReportIssue => "report.issue",
            Operation::Import => "import",
            Operation::Case(kind, action) => {
                return format!("{}.{}", kind.map_or("case", |k| k.as_str()), action.as_str()).into();
            }
            Operation::FeedFollow => "feed.follow",
            Operation::Reindex => "reindex",
            Operation::Backup => "backup",
            Operation::Restore => "restore",
            Operation::SigningInit => "signing.init",
            Operation::SigningRotate => "signing.rotate",
            Operation::ApiKeyCreate => "api_key.create",
            Operation::ApiKeyRevoke => "api_key.revoke",
            Operation::Replay => "replay",
            Operation::Evaluate => "evaluate",
            Operation::InspectionPlan => "inspection.plan",
        };
        name.into()
    }
}

/// One thing to write down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    #[serde(flatten)]
    pub actor: Actor,
    /// Dotted name: `subject.read`, `check`, `report.issue`, `import`, `repair.approve`, `keys.create`, …
    pub operation: String,
    /// Whom it was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<SubjectId>,
    /// The stated purpose (required for regulator reads of natural persons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// `ok`, or what went wrong.
    pub result: String,
    /// Operation-specific facts (item checked, report number, batch, record, case …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

impl AuditEvent {
    pub fn new(actor: Actor, operation: Operation) -> AuditEvent {
        AuditEvent {
            actor,
            operation: operation.name().into_owned(),
            subject: None,
            purpose: None,
            result: "ok".into(),
            detail: BTreeMap::new(),
        }
    }

    pub fn subject(mut self, subject: SubjectId) -> AuditEvent {
        self.subject = Some(subject);
        self
    }

    pub fn purpose(mut self, purpose: Option<&str>) -> AuditEvent {
        self.purpose = purpose.map(str::to_string);
        self
    }

    pub fn detail(mut self, name: &str, value: impl ToString) -> AuditEvent {
        self.detail.insert(name.to_string(), value.to_string());
        self
    }

    /// The result of `outcome`: `ok`, or its error's message.
    pub fn result_of<T, E: std::fmt::Display>(mut self, outcome: &Result<T, E>) -> AuditEvent {
        self.result = match outcome {
            Ok(_) => "ok".into(),
            Err(e) => format!("failed: {e}"),
        };
        self
    }
}

/// An entry as stored: its place in the chain, and the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// BLAKE3 of the stored bytes of entry `seq - 1` ([`GENESIS`] for the first).
    pub prev: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// An entry with its bytes exactly as stored (what the next entry's `prev` hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub entry: AuditEntry,
    pub stored: Vec<u8>,
}

/// A signed statement that the chain up to `seq` ended in `head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub head: String,
    pub at: DateTime<Utc>,
    pub key_id: String,
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes: `JCS({"at", "format", "head", "key_id", "seq"})`.
    pub fn signed_bytes(seq: u64, head: &str, at: &DateTime<Utc>, key_id: &str) -> Vec<u8> {
        let value = json!({ "format": CHECKPOINT_FORMAT, "seq": seq, "head": head, "at": at, "key_id": key_id });
        credit_sign::jcs::canonical(&value).expect("checkpoints hold integers below 2^53 and strings").into_bytes()
    }
}
