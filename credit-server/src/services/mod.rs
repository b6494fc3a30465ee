//! gRPC service implementations, one module per `credit.v1` service, over one shared [`Context`].
//!
//! Every call passes the [`Gate`] first (who is calling, and within their rate limit?), then runs its
//! store and index work on the blocking pool through [`Context::blocking`], admitted under the global
//! cap on work in flight.

mod admin;
mod audit;
mod cases;
mod checks;
mod evaluation;
mod feed;
mod identifier;
mod imports;
mod records;
mod reports;
mod search;
mod subject;

use std::sync::Arc;

use chrono::NaiveDate;
use credit_core::audit::Actor;
pub use credit_core::platform::UseCase;
use credit_core::report::Issuer;
use credit_core::view::View;
use credit_proto::v1 as pb;
use tonic::service::Interceptor;
use tonic::{Request, Status};

pub use admin::AdminApi;
pub(crate) use admin::private_dir as private_data_dir;
pub use audit::AuditApi;
pub use cases::CaseApi;
pub use checks::{JointCheckApi, MAX_BATCH_CHECKS};
pub use evaluation::{EvaluationApi, MAX_BATCH_EVALUATIONS, StatisticsApi};
pub use feed::FeedApi;
pub use identifier::IdentifierApi;
pub use imports::{ImportApi, MAX_UPLOAD_BYTES};
pub use records::RecordApi;
pub use reports::ReportApi;
pub use search::SearchApi;
pub use subject::SubjectApi;

use crate::auth::{Caller, KeyRing, Refusal, Role};
use crate::error::{ApiError, ErrorCode};
use crate::limits::{Abandoned, Admission, RateLimits};
use credit_core::cancel::Cancel;

/// What every service shares: the store, its search index and the rules, behind cheap clones.
#[derive(Debug, Clone)]
pub struct Context {
    /// The use cases: every read, check and search goes through it (and is audited by it).
    pub platform: Arc<credit_core::Platform>,
    pub admission: Admission,
    pub limits: Arc<RateLimits>,
    /// The key reports and audit checkpoints are signed with, and the keys published to verify them.
    pub signing: Arc<crate::signing::Signing>,
    /// Platform name and report validity.
    pub issuer: Issuer,
    /// The data directory (uploads are spooled to `uploads/` in it).
    pub data_dir: std::path::PathBuf,
    /// Bounds on uploads: slots, idle timeout, daily bytes, spool disk.
    pub uploads: Arc<crate::uploads::UploadGate>,
    /// Departments whose subject rows are authoritative (config `registration_departments`).
    pub registration_departments: Arc<[String]>,
    /// Where `Backup` writes (config `backup_dir`); callers name a directory under it, nothing else.
    pub backup_dir: std::path::PathBuf,
    /// The API keys in force (admins create and revoke keys through it).
    pub keys: Arc<KeyRing>,
    /// Turns `true` when the server begins to stop: long streams end then, so shutdown need not wait.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Inside [`Context::blocking`]: raised when the caller is gone, so long work (searches, batch
    /// checks) stops at its next step. Elsewhere a flag nobody raises.
    pub cancel: Cancel,
}

impl Context {
    /// Runs `work` on the blocking pool, so RocksDB and tantivy never stall the async executor. The
    /// admission permit travels with the work: a call its client abandoned still counts until the
    /// work ends, and shutdown waits for it before closing the store. When the caller is gone (its
    /// deadline passed, or it hung up), work no thread has taken up yet is skipped, and work under way
    /// sees `context.cancel` raised and stops at its next step (searches and batch checks poll it).
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Context) -> Result<T, ApiError> + Send + 'static,
    {
        let permit = self.admission.admit()?;
        let waiting = CallerGone(Cancel::new(), false);
        let context = Context { cancel: waiting.0.clone(), ..self.clone() };
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            if context.cancel.is_cancelled() {
                context.admission.abandoned(Abandoned::Queued);
                return Err(ApiError::from(credit_core::cancel::Cancelled));
            }
            let result = span.in_scope(|| work(&context));
            if result.as_ref().is_err_and(|e| e.code == ErrorCode::DeadlineExceeded) && context.cancel.is_cancelled() {
                context.admission.abandoned(Abandoned::Running);
            }
            result
        })
        .await;
        waiting.disarm();
        result.map_err(|join| ApiError::internal(&join))?
    }
}

/// Raises its flag when the future waiting for blocking work is dropped before the work finished.
#[derive(Debug)]
struct CallerGone(Cancel, bool);

impl CallerGone {
    fn disarm(mut self) {
        self.1 = true;
    }
}

impl Drop for CallerGone {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancel();
        }
    }
}

/// How the audit log names a caller.
pub fn actor(caller: &Caller) -> Actor {
    caller.actor()
}

/// The caller the gate established for this request.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"request reached a service without passing the gate"))
}

/// Refuses a caller whose role may not reach `use_case`, before its request takes a worker: the
/// platform's own table ([`credit_core::platform::permit`]), which the use case consults again.
pub fn permit(caller: &Caller, use_case: UseCase) -> Result<(), ApiError> {
    Ok(credit_core::platform::permit(&caller.actor(), use_case)?)
}

/// Reading the past or the future (`as_of`, `known_at`, `in_force_on`) is for regulators and admins: the
/// public and providers see today's public view only, so expired, repaired and revoked records stay
/// out of their reach. `asked`: the field was set.
/// The platform's rule ([`credit_core::platform::refuse_time_travel`]), for filters only a door has.
pub fn refuse_time_travel(caller: &Caller, field: &'static str, asked: bool) -> Result<(), ApiError> {
    Ok(credit_core::platform::refuse_time_travel(&caller.actor(), field, asked)?)
}

/// The view a request gets: the widest its role allows unless it asks for less.
pub fn resolve_view(caller: &Caller, requested: i32) -> Result<View, ApiError> {
    let widest = if caller.role.is_regulator() { View::Regulator } else { View::Public };
    match pb::View::try_from(requested) {
        Ok(pb::View::Unspecified) => Ok(widest),
        Ok(pb::View::Public) => Ok(View::Public),
        Ok(pb::View::Regulator) => {
            permit(caller, UseCase::RegulatorView)?;
            Ok(View::Regulator)
        }
        Err(_) => Err(ApiError::invalid("view", format!("unknown view {requested}"))),
    }
}

/// As [`resolve_view`], for reads of one subject's records: a `subject` key may ask for the full view
/// of its own subject (the platform refuses it for any other).
pub fn resolve_own_view(caller: &Caller, requested: i32) -> Result<View, ApiError> {
    if caller.role == credit_core::Role::Subject && requested == pb::View::Regulator as i32 {
        return Ok(View::Regulator);
    }
    resolve_view(caller, requested)
}

pub use crate::convert::view as view_to_proto;

/// The stated purpose of a read: the request field, else the `x-credit-purpose` header.
pub fn purpose<T>(request: &Request<T>, field: &str) -> Option<String> {
    let field = field.trim();
    if !field.is_empty() {
        return Some(field.to_string());
    }
    let header = request.metadata().get("x-credit-purpose")?.to_str().ok()?.trim();
    (!header.is_empty()).then(|| header.to_string())
}

/// `YYYY-MM-DD`, or `None` for an empty field.
pub fn parse_date(field: &str, value: &str) -> Result<Option<NaiveDate>, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ApiError::invalid(field, format!("{value:?} is not a date (YYYY-MM-DD)")))
}

/// A required text field, trimmed.
pub fn required(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Ok(value.to_string())
}

/// An optional protobuf timestamp as a UTC instant.
pub fn parse_instant(
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    value.map(|t| crate::convert::from_timestamp(t).ok_or_else(|| ApiError::invalid(field, "out of range"))).transpose()
}

/// A page size: `0` means `default`, above `max` is refused.
pub fn page_size(value: u32, default: usize, max: usize) -> Result<usize, ApiError> {
    match value as usize {
        0 => Ok(default),
        n if n > max => Err(ApiError::invalid("page_size", format!("at most {max}, found {n}"))),
        n => Ok(n),
    }
}

/// Runs before every call: establishes the [`Caller`] from the bearer token (anonymous without
/// one), and charges one request to the caller's rate limit, then to the limit of all callers. A call
/// with a bad token is charged to its address's bucket before it is refused, so guessing keys costs
/// what any call costs. Cheap and non-blocking: a hash of the token and a hash-map lookup.
#[derive(Debug, Clone)]
pub struct Gate {
    pub keys: Arc<KeyRing>,
    pub limits: Arc<RateLimits>,
    /// Proxies whose `x-forwarded-for` is believed (config `trusted_proxies`).
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Roles whose keys count only over a connection with a verified client certificate.
    pub client_cert_roles: Arc<[Role]>,
}

impl Gate {
    /// The client's address: the peer's, or the last `x-forwarded-for` entry when the peer is a trusted
    /// proxy.
    fn client_ip<T>(&self, request: &Request<T>) -> Option<std::net::IpAddr> {
        let peer = request.remote_addr().map(|addr| addr.ip());
        if !peer.is_some_and(|ip| self.trusted_proxies.contains(&ip)) {
            return peer;
        }
        let forwarded = request.metadata().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        forwarded.and_then(|v| v.rsplit(',').next()).and_then(|ip| ip.trim().parse().ok()).or(peer)
    }

    fn authenticate(
        &self,
        value: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Caller, ApiError> {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "authorization: expected `Bearer <token>`"))?;
        let entry = self.keys.authenticate(token).map_err(|refusal| {
            let message = match refusal {
                Refusal::Malformed => "authorization: not an API key of this platform",
                Refusal::Unknown => "authorization: unknown API key",
                Refusal::Revoked => "authorization: this API key was revoked",
            };
            ApiError::new(ErrorCode::Unauthenticated, message)
        })?;
        Ok(Caller { key_id: Some(entry.id), role: entry.role, dept: entry.dept, subject_code: entry.subject_code, ip })
    }
}

impl Interceptor for Gate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let ip = self.client_ip(&request);
        let caller = match request.metadata().get("authorization") {
            None => Caller::anonymous(ip),
            Some(value) => match self.authenticate(value, ip) {
                Ok(caller) => caller,
                Err(refused) => {
                    self.limits.charge(&Caller::anonymous(ip), 1)?;
                    return Err(refused.into());
                }
            },
        };
        tracing::Span::current().record("caller", caller.label());
        self.limits.charge(&caller, 1)?;
        self.limits.charge_global()?;
        if self.client_cert_roles.contains(&caller.role) && request.peer_certs().is_none_or(|certs| certs.is_empty()) {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                format!("keys of the {} role need a client certificate of this platform's CA", caller.role.as_str()),
            )
            .into());
        }
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The gate of health checks and reflection: no key needed, one call charged to the address's probe
/// bucket.
#[derive(Debug, Clone)]
pub struct ProbeGate(pub Gate);

impl Interceptor for ProbeGate {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let caller = Caller::anonymous(self.0.client_ip(&request));
        self.0.limits.charge_probe(&caller)?;
        Ok(request)
    }
}
