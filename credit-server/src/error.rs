//! The one place library errors become gRPC statuses. Caller errors go back verbatim with google.rpc
//! details (`ErrorInfo` with a stable reason, `BadRequest` naming the field, `RetryInfo`); platform
//! errors are logged in full and answered with a generic message.

use std::time::Duration;

use credit_core::checks::CheckError;
use credit_core::search::SearchError;
use credit_core::store::StoreError;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of every error this service returns.
pub const ERROR_DOMAIN: &str = "credit.v1";

/// Stable reason codes (`ErrorInfo.reason`); clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    InvalidIdentifier,
    UnknownItem,
    PurposeRequired,
    NotFound,
    Unauthenticated,
    PermissionDenied,
    RateLimited,
    BatchTooLarge,
    Overloaded,
    /// Reports need a signing key, and none is configured.
    SigningUnavailable,
    /// A repair or objection step the case or its record does not allow now.
    CaseRefused,
    /// A page token this service did not issue for this request, altered, or out of range.
    InvalidPageToken,
    /// `as_of` / `known_at` / `in_force_on` asked by a caller whose role sees today's view only.
    TimeTravelNotAllowed,
    /// The call ran past its deadline (the server's `request_timeout_ms` or the client's, the shorter).
    DeadlineExceeded,
    Internal,
}

impl ErrorCode {
    pub fn reason(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::InvalidIdentifier => "INVALID_IDENTIFIER",
            ErrorCode::UnknownItem => "UNKNOWN_ITEM",
            ErrorCode::PurposeRequired => "PURPOSE_REQUIRED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::BatchTooLarge => "BATCH_TOO_LARGE",
            ErrorCode::Overloaded => "OVERLOADED",
            ErrorCode::SigningUnavailable => "SIGNING_UNAVAILABLE",
            ErrorCode::CaseRefused => "CASE_REFUSED",
            ErrorCode::InvalidPageToken => "INVALID_PAGE_TOKEN",
            ErrorCode::TimeTravelNotAllowed => "TIME_TRAVEL_NOT_ALLOWED",
            ErrorCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    pub fn grpc_code(self) -> Code {
        match self {
            ErrorCode::InvalidArgument
            | ErrorCode::InvalidIdentifier
            | ErrorCode::UnknownItem
            | ErrorCode::PurposeRequired
            | ErrorCode::BatchTooLarge
            | ErrorCode::InvalidPageToken => Code::InvalidArgument,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::PermissionDenied | ErrorCode::TimeTravelNotAllowed => Code::PermissionDenied,
            ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorCode::RateLimited => Code::ResourceExhausted,
            ErrorCode::Overloaded => Code::Unavailable,
            ErrorCode::SigningUnavailable | ErrorCode::CaseRefused => Code::FailedPrecondition,
            ErrorCode::Internal => Code::Internal,
        }
    }
}

/// An error on its way to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault (`BadRequest` field violation).
    pub field: Option<String>,
    pub retry_after: Option<Duration>,
    /// `ErrorInfo.metadata`: further stable names (a case refusal's reason).
    pub metadata: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), field: None, retry_after: None, metadata: Vec::new() }
    }

    /// A bad request field: the message starts with the field's name.
    pub fn field(code: ErrorCode, field: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError {
            code,
            message: format!("{field}: {reason}"),
            field: Some(field.into()),
            retry_after: None,
            metadata: Vec::new(),
        }
    }

    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::field(ErrorCode::InvalidArgument, field, reason)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn retry_after(mut self, wait: Duration) -> ApiError {
        self.retry_after = Some(wait);
        self
    }

    /// A platform failure: logged here with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(ErrorCode::Internal, "internal error; the platform logged the cause")
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let mut details = ErrorDetails::new();
        let info: std::collections::HashMap<String, String> =
            error.metadata.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        details.set_error_info(error.code.reason(), ERROR_DOMAIN, info);
        if let Some(field) = &error.field {
            details.add_bad_request_violation(field.clone(), error.message.clone());
        }
        let mut metadata = MetadataMap::new();
        if let Some(wait) = error.retry_after {
            details.set_retry_info(Some(wait));
            // Whole seconds, rounded up, as HTTP's Retry-After.
            let seconds = wait.as_millis().div_ceil(1000).max(1);
            if let Ok(value) = MetadataValue::try_from(seconds.to_string()) {
                metadata.insert("retry-after", value);
            }
        }
        Status::with_error_details_and_metadata(error.code.grpc_code(), error.message, details, metadata)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::internal(&error)
    }
}

impl From<CheckError> for ApiError {
    fn from(error: CheckError) -> ApiError {
        match &error {
            CheckError::InvalidIdentifier { .. } => {
                ApiError::field(ErrorCode::InvalidIdentifier, "identifier", strip_field(&error, "identifier"))
            }
            CheckError::UnknownItem(_) => ApiError::field(ErrorCode::UnknownItem, "item", error.to_string()),
            CheckError::UnknownCheck(_) => ApiError::field(ErrorCode::NotFound, "check_id", error.to_string()),
            CheckError::MeasureNotInCheck { .. } => ApiError::invalid("measure_id", error.to_string()),
            CheckError::InvalidFeedback { field, reason } => ApiError::invalid(field, reason),
            CheckError::Store(_) => ApiError::internal(&error),
            CheckError::Cancelled(cancelled) => (*cancelled).into(),
        }
    }
}

impl From<credit_core::cases::CaseError> for ApiError {
    fn from(error: credit_core::cases::CaseError) -> ApiError {
        use credit_core::cases::CaseError;
        match &error {
            CaseError::Store(_) => ApiError::internal(&error),
            CaseError::Invalid { field, reason } => ApiError::invalid(field, reason),
            CaseError::NoRecord(_) | CaseError::NoCase(_) => ApiError::not_found(error.to_string()),
            _ => {
                let mut refused = ApiError::new(ErrorCode::CaseRefused, error.to_string());
                refused.metadata.extend(error.refusal().map(|name| ("refusal", name.to_string())));
                refused
            }
        }
    }
}

/// Work abandoned because its caller is gone: the caller's deadline passed or it hung up, so the
/// answer (if anyone still reads it) is the deadline's.
impl From<credit_core::cancel::Cancelled> for ApiError {
    fn from(error: credit_core::cancel::Cancelled) -> ApiError {
        ApiError::new(ErrorCode::DeadlineExceeded, error.to_string())
    }
}

impl From<credit_core::PlatformError> for ApiError {
    fn from(error: credit_core::PlatformError) -> ApiError {
        use credit_core::PlatformError as E;
        match error {
            E::Unauthenticated { what } => {
                ApiError::new(ErrorCode::Unauthenticated, format!("{what} needs an API key (authorization: Bearer …)"))
            }
            E::Forbidden { .. } => ApiError::new(ErrorCode::PermissionDenied, error.to_string()),
            E::TimeTravel { field, .. } => ApiError::field(ErrorCode::TimeTravelNotAllowed, field, error.to_string()),
            E::PurposeRequired => ApiError::field(ErrorCode::PurposeRequired, "purpose", error.to_string()),
            E::NoSubject(_) | E::NoRecord(_) => ApiError::not_found(error.to_string()),
            E::Invalid { field, reason } => ApiError::invalid(field, reason),
            E::Check(error) => error.into(),
            E::Search(error) => error.into(),
            E::Case(error) => error.into(),
            E::Import(credit_core::import::ImportError::Panicked(_) | credit_core::import::ImportError::Frames(_)) => {
                ApiError::internal(&error)
            }
            E::Import(error) => ApiError::invalid("data", error.to_string()),
            E::Cancelled(cancelled) => cancelled.into(),
            E::NoIndex
            | E::Backup(_)
            | E::Report(_)
            | E::Store(_)
            | E::Audit(_)
            | E::Publish(_)
            | E::Replay { .. }
            | E::RunFailed(_) => ApiError::internal(&error),
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> ApiError {
        match &error {
            SearchError::BadCursor(reason) => ApiError::field(ErrorCode::InvalidPageToken, "page_token", reason),
            SearchError::BadFilter { field, reason } => ApiError::invalid(field, reason),
            SearchError::QueryTooLong { .. } => ApiError::invalid("query", error.to_string()),
            SearchError::Cancelled(cancelled) => (*cancelled).into(),
            _ => ApiError::internal(&error),
        }
    }
}

/// The error's text without a leading "field " its message may already carry.
fn strip_field(error: &dyn std::fmt::Display, field: &str) -> String {
    let text = error.to_string();
    text.strip_prefix(field).map(|rest| rest.trim_start().to_string()).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_reason_field_and_retry_details() {
        let status: Status = ApiError::invalid("as_of", "not a date").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "as_of: not a date");
        let details = status.get_error_details();
        assert_eq!(details.error_info().expect("error info").reason, "INVALID_ARGUMENT");
        assert_eq!(details.bad_request().expect("bad request").field_violations[0].field, "as_of");

        let status: Status =
            ApiError::new(ErrorCode::RateLimited, "slow down").retry_after(Duration::from_millis(1200)).into();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.metadata().get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
        let retry = status.get_error_details().retry_info().expect("retry info").retry_delay;
        assert_eq!(retry, Some(Duration::from_millis(1200)));
    }

    #[test]
    fn library_errors_map_once() {
        let e: ApiError = CheckError::UnknownItem("X".into()).into();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::UnknownItem, Some("item")));
        let e: ApiError = CheckError::InvalidFeedback { field: "amount", reason: "not a number".into() }.into();
        assert_eq!(e.message, "amount: not a number");
        let e: ApiError = SearchError::BadCursor("garbled".into()).into();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidPageToken, Some("page_token")));
        let e: ApiError = SearchError::QueryTooLong { chars: 201, max: 200 }.into();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidArgument, Some("query")));
        let e: ApiError = StoreError::Corrupt("secret detail".into()).into();
        assert_eq!(e.code, ErrorCode::Internal);
        assert!(!e.message.contains("secret"), "internal causes stay in the log");
    }
}
