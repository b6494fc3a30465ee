//! The gRPC service over `credit-core`. The binary (`src/main.rs`) is a thin shell over [`serve`] so
//! integration tests start the very same server on `127.0.0.1:0`.

pub mod auth;
pub mod config;
mod convert;
pub mod deadline;
pub mod demo;
pub mod error;
pub mod limits;
pub mod methods;
pub mod metrics;
pub mod services;
mod shutdown;
pub mod signing;
mod tasks;
pub mod uploads;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use credit_core::disclosure::DisclosureRules;
use credit_core::rules::RuleSet;
use credit_core::search::SearchIndex;
use credit_core::store::Store;
use credit_proto::v1::admin_service_server::AdminServiceServer;
use credit_proto::v1::audit_service_server::AuditServiceServer;
use credit_proto::v1::case_service_server::CaseServiceServer;
use credit_proto::v1::evaluation_service_server::EvaluationServiceServer;
use credit_proto::v1::feed_service_server::FeedServiceServer;
use credit_proto::v1::identifier_service_server::IdentifierServiceServer;
use credit_proto::v1::import_service_server::ImportServiceServer;
use credit_proto::v1::joint_check_service_server::JointCheckServiceServer;
use credit_proto::v1::record_service_server::RecordServiceServer;
use credit_proto::v1::report_service_server::ReportServiceServer;
use credit_proto::v1::search_service_server::SearchServiceServer;
use credit_proto::v1::statistics_service_server::StatisticsServiceServer;
use credit_proto::v1::subject_service_server::SubjectServiceServer;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;

pub use config::Config;

use crate::auth::{KeyFile, KeyRing};
use crate::limits::{Admission, RateLimits};
use crate::services::{Context, Gate};

/// Threads for store and index work (`spawn_blocking`). Reads are short and CPU-bound: more threads than
/// a few per core only add context switches, and every new thread starts an allocator heap of its own
/// (measured: 64 calls in flight on the default pool of up to 512 threads spent a quarter of the CPU
/// zeroing fresh pages, and the server's resident memory grew past 2 GiB on a small store).
const BLOCKING_THREADS_PER_CORE: usize = 4;

/// Threads of the blocking pool: store and index work runs there.
pub fn blocking_threads() -> usize {
    BLOCKING_THREADS_PER_CORE * std::thread::available_parallelism().map_or(2, usize::from)
}

/// The async runtime the service runs on. `credit-echo-server` runs on the same, so the ceiling it
/// measures is the one this service could reach.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(blocking_threads())
        // Kept rather than rebuilt between bursts of calls.
        .thread_keep_alive(Duration::from_secs(300))
        .build()
}

/// How the service takes connections: without Nagle's algorithm, which would hold small responses back
/// until the client's delayed acknowledgement. `credit-echo-server` takes them the same way.
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("creating the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("opening the store: {0}")]
    Store(#[from] credit_core::store::StoreError),
    #[error("opening the search index: {0}")]
    Index(#[from] credit_core::search::SearchError),
    #[error("loading the disclosure rules: {0}")]
    Disclosure(#[from] credit_core::disclosure::DisclosureError),
    #[error("loading the evaluation model: {0}")]
    Evaluation(#[from] credit_core::evaluation::ModelError),
    #[error("loading the rules in {path}: {source}")]
    Rules { path: PathBuf, source: credit_core::rules::RulesError },
    #[error("the rules and the evaluation model do not fit: {0}")]
    RulesModel(String),
    #[error("api keys: {0}")]
    Keys(#[from] auth::KeyError),
    #[error("audit log: {0}")]
    Audit(String),
    #[error("signing key: {0}")]
    Signing(#[from] credit_sign::KeyError),
    #[error("demo data: {0}")]
    Demo(#[from] demo::DemoError),
    #[error("tls: {0}")]
    Tls(String),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("building the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serving: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("startup task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub config: Config,
    /// Load the demo fixtures into an empty store and write `DIR/demo-token`.
    pub demo: bool,
}

/// A server that has bound its port: where it listens, and the future that serves until shutdown.
pub struct Running<F> {
    pub addr: SocketAddr,
    /// Where `GET /metrics` answers, when `metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub serving: F,
}

impl<F> std::fmt::Debug for Running<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// A server on a thread and runtime of its own, for programs and tests that are not async themselves:
/// it serves until this value is dropped, then shuts down as on SIGTERM.
#[derive(Debug)]
pub struct ServerThread {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Starts the server and returns once it listens (or failed to start).
    pub fn start(options: ServeOptions) -> Result<ServerThread, ServeError> {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match runtime() {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = started_tx.send(Err(ServeError::Runtime(error)));
                    return;
                }
            };
            runtime.block_on(async move {
                let shutdown = async move {
                    let _ = tokio::task::spawn_blocking(move || stopped.recv()).await;
                };
                match serve(options, shutdown).await {
                    Ok(running) => {
                        let _ = started_tx.send(Ok((running.addr, running.data_dir.clone())));
                        if let Err(error) = running.serving.await {
                            tracing::error!(%error, "the server stopped with an error");
                        }
                    }
                    Err(error) => {
                        let _ = started_tx.send(Err(error));
                    }
                }
            });
        });
        let (addr, data_dir) = started_rx
            .recv()
            .map_err(|_| ServeError::Runtime(std::io::Error::other("the server thread ended before it started")))??;
        Ok(ServerThread { addr, data_dir, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens the store and the index (catching the index up), loads rules and keys, and only then binds
/// the port. The returned future serves until `shutdown` resolves, then stops accepting, lets calls
/// in flight finish (up to the configured grace), makes every write durable and closes the store.
/// Reports each `Server<Api>` SERVING on `health` and adds it to `router` behind `gate`, with `max` as
/// its message limit: one list for both, so a service cannot be mounted and forgotten by health.
macro_rules! services {
    ($router:expr, $health:expr, $gate:expr, $max:expr; $($server:ident<$api:ty> = $value:expr),+ $(,)?) => {{
        $( $health.set_serving::<$server<$api>>().await; )+
        $router $(
            .add_service(InterceptedService::new(
                $server::new($value).max_decoding_message_size($max).max_encoding_message_size($max),
                $gate.clone(),
            ))
        )+
    }};
}

pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running<impl Future<Output = Result<(), ServeError>>>, ServeError> {
    let config = options.config;
    config.validate()?;
    let data_dir = config.data_dir();
    // Personal data: the owner alone may enter the data directory.
    services::private_data_dir(&data_dir).map_err(|source| ServeError::DataDir { path: data_dir.clone(), source })?;

    let keys = KeyFile::in_dir(&data_dir);
    let disclosure = DisclosureRules::load(
        Some(&config.disclosure_rules).filter(|p| !p.as_os_str().is_empty()).map(|p| p.as_path()),
    )?;
    let evaluation = credit_core::evaluation::EvaluationModel::load(
        Some(&config.evaluation_model).filter(|p| !p.as_os_str().is_empty()).map(|p| p.as_path()),
    )?;
    let (store, index, rules) = {
        let data_dir = data_dir.clone();
        let config = config.clone();
        let keys = keys.clone();
        tokio::task::spawn_blocking(move || open_data(&data_dir, &config, options.demo, &keys)).await??
    };
    let unknown = evaluation.unknown_risk_classes(&rules);
    if !unknown.is_empty() {
        return Err(ServeError::RulesModel(unknown.join("; ")));
    }
    let signing = Arc::new(signing::Signing::load(&signing::KeyPaths::of(&config, &data_dir), options.demo)?);
    match &signing.key {
        Some(key) => tracing::info!(key_id = key.id(), "reports and audit checkpoints are signed"),
        None => tracing::warn!("no signing key: reports are unavailable and the audit log is not checkpointed"),
    }
    let ring = KeyRing::load(keys)?;
    let limits = Arc::new(RateLimits::new(&config.limits));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let index = Arc::new(RwLock::new(index));
    let platform = credit_core::Platform::new(store.clone(), rules, disclosure)
        .with_index(index)
        .with_evaluation_model(evaluation);
    let platform = Arc::new(platform);
    if options.demo {
        // The demo shows its grades and credit map from the first call, not after the first sweep.
        let evaluating = platform.clone();
        let run = tokio::task::spawn_blocking(move || {
            evaluating.evaluate_changed(&credit_core::Actor::console(None), credit_core::time::today_cst())
        })
        .await?
        .map_err(|error| ServeError::Demo(demo::DemoError::Evaluate(error.to_string())))?;
        tracing::info!(kind = run.kind, evaluated = run.evaluated, "demo data evaluated");
    }
    let context = Context {
        platform,
        admission: Admission::new(config.max_in_flight()),
        limits: limits.clone(),
        signing: signing.clone(),
        issuer: credit_core::report::Issuer {
            platform: config.platform_name.clone(),
            validity: chrono::Duration::days(i64::from(config.report_validity_days)),
        },
        stopping: stopping.clone(),
        keys: ring.clone(),
        backup_dir: config.backup_dir(),
        registration_departments: config.registration_departments.clone().into(),
        uploads: Arc::new(uploads::UploadGate::new(&config.uploads)),
        data_dir: data_dir.clone(),
        cancel: credit_core::cancel::Cancel::never(),
    };
    let tls = tls_config(&config)?;
    let gate = Gate {
        keys: ring.clone(),
        limits: limits.clone(),
        trusted_proxies: config.trusted_proxies.clone().into(),
        client_cert_roles: config.client_cert_roles.iter().filter_map(|r| auth::Role::parse(r)).collect(),
    };
    let probe = services::ProbeGate(gate.clone());

    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.listen, source })?;

    let (health, health_service) = tonic_health::server::health_reporter();
    let (reflection_v1, reflection_v1alpha) = reflection()?;

    let metrics = Arc::new(metrics::Metrics::new(Some(context.clone())));
    let metrics_server = metrics_listener(&config, metrics.clone()).await?;
    let metrics_addr = metrics_server.as_ref().map(|(addr, _)| *addr);

    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let router = builder
        .trace_fn(request_span)
        .layer(metrics::MetricsLayer(metrics))
        .layer(deadline::DeadlineLayer { limit: Duration::from_millis(config.request_timeout_ms) })
        .add_service(InterceptedService::new(health_service, probe.clone()))
        .add_service(InterceptedService::new(reflection_v1, probe.clone()))
        .add_service(InterceptedService::new(reflection_v1alpha, probe));
    // Every service once: reported SERVING by health, mounted behind the gate with the message limits.
    let max = config.max_message_bytes;
    let router = services!(router, health, gate, max;
        IdentifierServiceServer<services::IdentifierApi> = services::IdentifierApi,
        SubjectServiceServer<services::SubjectApi> = services::SubjectApi { context: context.clone() },
        RecordServiceServer<services::RecordApi> = services::RecordApi { context: context.clone() },
        SearchServiceServer<services::SearchApi> = services::SearchApi { context: context.clone() },
        JointCheckServiceServer<services::JointCheckApi> = services::JointCheckApi { context: context.clone() },
        ReportServiceServer<services::ReportApi> = services::ReportApi { context: context.clone() },
        AuditServiceServer<services::AuditApi> = services::AuditApi { context: context.clone() },
        FeedServiceServer<services::FeedApi> = services::FeedApi { context: context.clone() },
        CaseServiceServer<services::CaseApi> = services::CaseApi { context: context.clone() },
        EvaluationServiceServer<services::EvaluationApi> = services::EvaluationApi { context: context.clone() },
        StatisticsServiceServer<services::StatisticsApi> =
            services::StatisticsApi { context: context.clone(), min_cell: config.statistics_min_cell },
        AdminServiceServer<services::AdminApi> = services::AdminApi { context: context.clone() },
        ImportServiceServer<services::ImportApi> = services::ImportApi { context: context.clone() },
    );

    let background = tasks::Background::start(&context, &config, limits, metrics_server.map(|(_, task)| task));
    let drain = shutdown::Drain {
        grace: Duration::from_secs(config.shutdown_grace_seconds),
        background,
        admission: context.admission.clone(),
        max_in_flight: config.max_in_flight(),
        store,
        signing,
    };
    drop(context);
    let (stopping, stop_begun) = shutdown::signal(shutdown, health, stop);
    let graceful = router.serve_with_incoming_shutdown(incoming(listener), stopping);
    let serving = shutdown::serve_then_drain(graceful, stop_begun, drain);
    Ok(Running { addr, metrics_addr, data_dir, serving })
}

/// Reflection, both versions, over this API and health.
#[allow(clippy::type_complexity)]
fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    ServeError,
> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(credit_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

/// The metrics listener on `metrics_listen`, when it is an address: where it listens, and its task.
async fn metrics_listener(
    config: &Config,
    metrics: Arc<metrics::Metrics>,
) -> Result<Option<(SocketAddr, tokio::task::JoinHandle<()>)>, ServeError> {
    let Ok(addr) = config.metrics_listen.parse::<SocketAddr>() else { return Ok(None) };
    let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    Ok(Some((bound, tokio::spawn(metrics::serve(listener, metrics)))))
}

/// The server's TLS settings, when `tls_cert` and `tls_key` are set: the key must be its owner's alone.
fn tls_config(config: &Config) -> Result<Option<tonic::transport::ServerTlsConfig>, ServeError> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    if !config.tls() {
        return Ok(None);
    }
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| ServeError::Tls(format!("reading {}: {e}", path.display())))
    };
    let key_mode = std::fs::metadata(&config.tls_key)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", config.tls_key.display())))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = key_mode.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ServeError::Tls(format!(
                "{} is readable by others (mode {mode:o}); chmod 600 it",
                config.tls_key.display()
            )));
        }
    }
    let identity = Identity::from_pem(read(&config.tls_cert)?, read(&config.tls_key)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if !config.tls_client_ca.as_os_str().is_empty() {
        // Optional at the handshake: which roles need one is the gate's to say.
        tls = tls.client_ca_root(Certificate::from_pem(read(&config.tls_client_ca)?)).client_auth_optional(true);
    }
    Ok(Some(tls))
}

type Opened = (Arc<Store<credit_core::engine::RocksEngine>>, SearchIndex, Arc<RuleSet>);

fn open_data(data_dir: &std::path::Path, config: &Config, demo: bool, keys: &KeyFile) -> Result<Opened, ServeError> {
    let rules = if config.rules_dir.as_os_str().is_empty() {
        RuleSet::builtin()
    } else {
        let loaded = RuleSet::load_dir(&config.rules_dir)
            .map_err(|source| ServeError::Rules { path: config.rules_dir.clone(), source })?;
        Arc::new(loaded)
    };
    let rocks = credit_core::engine::RocksConfig {
        block_cache_bytes: config.block_cache_bytes,
        ..credit_core::engine::RocksConfig::default()
    };
    let mut store = Store::open_dir_with(data_dir, &rocks)?.with_subject_cache_bytes(config.subject_cache_bytes);
    if !config.audit_checkpoint_file.as_os_str().is_empty() {
        store = store.with_checkpoint_mirror(Some(config.audit_checkpoint_file.clone()));
    }
    if demo {
        demo::load_if_empty(&store, data_dir)?;
        demo::ensure_token(data_dir, keys)?;
    }
    let mut index = SearchIndex::open(&credit_core::search::default_dir(data_dir))?;
    let caught_up = index.catch_up(&store)?;
    tracing::info!(
        data_dir = %data_dir.display(),
        rebuilt = caught_up.rebuilt,
        indexed = caught_up.subjects_indexed,
        "store and search index open"
    );
    Ok((Arc::new(store), index, rules))
}

/// One span per call, with the caller's `x-request-id` or one of ours; the gate records the caller.
fn request_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let request_id = match request.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
        Some(id) => id.chars().take(64).collect::<String>(),
        None => format!("r{}", NEXT.fetch_add(1, Ordering::Relaxed)),
    };
    tracing::info_span!("rpc", method = %request.uri().path(), request_id = %request_id, caller = tracing::field::Empty)
}
