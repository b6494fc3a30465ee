//! What a use case can refuse or fail with. The variants above `Store` are the actor's doing (they go
//! back as they are); the rest are the platform's (logged in full, answered generically).

use crate::actor::Role;
use crate::audit::AuditError;
use crate::cancel::Cancelled;
use crate::cases::CaseError;
use crate::checks::CheckError;
use crate::import::ImportError;
use crate::search::SearchError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The public asked for what needs a key.
    #[error("{what} needs an API key")]
    Unauthenticated { what: &'static str },
    #[error("{what} is not allowed for the {} role", role.as_str())]
    Forbidden { what: &'static str, role: Role },
    #[error("the {} role sees today's view only; {field} is for regulators", role.as_str())]
    TimeTravel { field: &'static str, role: Role },
    #[error("reading a natural person in the regulator view needs a stated purpose")]
    PurposeRequired,
    #[error("no subject with identifier {0:?}")]
    NoSubject(String),
    #[error("no record {}", .0.0)]
    NoRecord(crate::model::RecordId),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Check(CheckError),
    #[error(transparent)]
    Search(SearchError),
    /// A repair or objection step the case or its record does not allow now, or no such case.
    #[error(transparent)]
    Case(CaseError),
    /// A file the import could not read as a whole (each bad row is a reject, not an error).
    #[error(transparent)]
    Import(ImportError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    #[error("this platform has no search index")]
    NoIndex,
    #[error("issuing the report: {0}")]
    Report(String),
    #[error("writing the backup: {0}")]
    Backup(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The write landed here but its command did not reach the replication transport.
    #[error(transparent)]
    Publish(#[from] crate::model::PublishError),
    /// Another store's commands could not be applied here (out of order, or not as they were there).
    #[error("replaying batch {batch}: {reason}")]
    Replay { batch: u64, reason: String },
    /// An evaluation run that failed inside (a panic); its batch was rolled back whole.
    #[error("the evaluation run failed and was rolled back: {0}")]
    RunFailed(String),
}

impl PlatformError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> PlatformError {
        PlatformError::Invalid { field, reason: reason.into() }
    }

    /// The actor's doing (returned as is) rather than the platform's (logged).
    pub fn is_user_error(&self) -> bool {
        match self {
            PlatformError::Check(e) => e.is_user_error(),
            PlatformError::Search(e) => e.is_user_error(),
            PlatformError::Case(e) => !matches!(e, CaseError::Store(_)),
            PlatformError::Import(e) => !matches!(e, ImportError::Panicked(_) | ImportError::Frames(_)),
            PlatformError::Cancelled(_)
            | PlatformError::NoIndex
            | PlatformError::RunFailed(_)
            | PlatformError::Backup(_)
            | PlatformError::Report(_)
            | PlatformError::Store(_)
            | PlatformError::Audit(_)
            | PlatformError::Publish(_)
            | PlatformError::Replay { .. } => false,
            _ => true,
        }
    }
}

/// A check's storage failure and cancellation are the platform's, whatever module raised them.
impl From<CheckError> for PlatformError {
    fn from(error: CheckError) -> PlatformError {
        match error {
            CheckError::Store(e) => PlatformError::Store(e),
            CheckError::Cancelled(c) => PlatformError::Cancelled(c),
            e => PlatformError::Check(e),
        }
    }
}

impl From<SearchError> for PlatformError {
    fn from(error: SearchError) -> PlatformError {
        match error {
            SearchError::Store(e) => PlatformError::Store(e),
            SearchError::Cancelled(c) => PlatformError::Cancelled(c),
            e => PlatformError::Search(e),
        }
    }
}

impl From<ImportError> for PlatformError {
    fn from(error: ImportError) -> PlatformError {
        match error {
            ImportError::Store(e) => PlatformError::Store(e),
            ImportError::Publish(e) => PlatformError::Publish(e),
            e => PlatformError::Import(e),
        }
    }
}

impl From<CaseError> for PlatformError {
    fn from(error: CaseError) -> PlatformError {
        match error {
            CaseError::Store(e) => PlatformError::Store(e),
            e => PlatformError::Case(e),
        }
    }
}
