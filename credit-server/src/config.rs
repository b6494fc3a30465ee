//! The server's configuration: one TOML file, `CREDIT_*` environment variables over it, flags over
//! both. Every key has a compiled-in default, so the server starts from any directory with no file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The documented example; a test keeps it equal to [`Config::default`].
/// The smallest block cache a server runs with: below it, the pinned index and filter blocks of a
/// store of a few hundred thousand subjects would crowd out every data block.
const MIN_BLOCK_CACHE_BYTES: usize = 16 << 20;

pub const EXAMPLE: &str = include_str!("../../credit-server.example.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("environment variable {name}: {reason}")]
    Env { name: String, reason: String },
    #[error("invalid configuration: {key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// Calls admitted per blocking thread when `max_concurrency` is 0: one running, seven waiting (about 7 ms
/// of queue at ~1 ms a call). Measured (BENCHMARKS.md, "Hardening"): at 2 per thread, a closed loop of 64
/// calls in flight that never backs off had a quarter of its OK calls displaced by the cost of refusing
/// the rest.
pub const IN_FLIGHT_PER_THREAD: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the gRPC service listens on.
    pub listen: SocketAddr,
    /// The store and its search index; empty: `$XDG_DATA_HOME/credit` (or `~/.local/share/credit`).
    pub data_dir: PathBuf,
    /// Joint reward and punishment rules (layout of fixtures/rules/); empty: the compiled-in set.
    pub rules_dir: PathBuf,
    /// Disclosure windows and tier classification (layout of fixtures/disclosure/rules.toml); empty:
    /// the compiled-in rules.
    pub disclosure_rules: PathBuf,
    /// The evaluation model (layout of fixtures/evaluation/model.toml); empty: the compiled-in model.
    pub evaluation_model: PathBuf,
    /// Whether each sweep also brings the stored evaluations up to date (incremental; a full run when
    /// the day or the model changed).
    pub evaluate_on_sweep: bool,
    /// Credit statistics: the smallest count shown; smaller ones are suppressed (at least 1).
    pub statistics_min_cell: u64,
    /// How often the change feed is swept for public windows and planned list removals that ended, in
    /// seconds; 0: never (run `credit-server sweep` instead).
    pub sweep_interval_seconds: u64,
    /// The server's certificate chain (PEM); with `tls_key`, the service speaks TLS only.
    pub tls_cert: PathBuf,
    /// The certificate's private key (PEM, mode 0600: refused when others can read it).
    pub tls_key: PathBuf,
    /// CA certificates (PEM) that client certificates are verified against; empty: none asked.
    pub tls_client_ca: PathBuf,
    /// Roles whose keys are accepted only over a connection with a client certificate the CA verified
    /// (e.g. `["provider"]`: a department's key alone is not enough).
    pub client_cert_roles: Vec<String>,
    /// Serve without TLS on an address other than loopback (refused otherwise).
    pub allow_plaintext: bool,
    /// Where Prometheus scrapes `GET /metrics` (plain HTTP); empty: no metrics endpoint.
    pub metrics_listen: String,
    /// Logs as JSON lines (on stderr) instead of text.
    pub log_json: bool,
    /// Store and index calls in flight at once; calls beyond it are shed with UNAVAILABLE. 0: eight per
    /// blocking thread (so at most seven wait for each).
    pub max_concurrency: usize,
    /// Longest a unary call may take, in milliseconds (a client's shorter `grpc-timeout` wins); past it,
    /// DEADLINE_EXCEEDED.
    pub request_timeout_ms: u64,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Memory for decoded current subjects, in bytes.
    pub subject_cache_bytes: u64,
    /// RocksDB's block cache (uncompressed table blocks, with the index and filter blocks pinned in
    /// it), in bytes: the larger share of the server's memory.
    pub block_cache_bytes: usize,
    /// How often the API keys file is re-read for keys created or revoked meanwhile, in seconds.
    pub keys_reload_seconds: u64,
    /// How long a shutdown waits for calls in flight before closing the store anyway, in seconds.
    pub shutdown_grace_seconds: u64,
    /// The platform's ed25519 signing key (PKCS#8 PEM, mode 0600) for reports and audit checkpoints;
    /// empty: `signing.key` in the data directory (`serve --demo` creates it when missing).
    pub signing_key: PathBuf,
    /// Retired verifying keys still published, so reports they signed stay verifiable (a key set,
    /// JSON); empty: `verifying-keys.json` in the data directory, if there is one.
    pub verifying_keys: PathBuf,
    /// The issuing platform's name, printed on every report.
    pub platform_name: String,
    /// How long a report is valid after issue, in days.
    pub report_validity_days: u32,
    /// How often the audit log's head is signed (a synced write), in seconds: the durability window of
    /// audit entries against power loss, and how long the newest entries rest on the hash chain alone.
    pub audit_checkpoint_seconds: u64,
    /// The departments whose subject rows are authoritative (registration authorities: market
    /// regulation, civil affairs, …), as API keys name them. Subject rows any other provider uploads only
    /// create provisional subjects, and are refused for a subject already known.
    pub registration_departments: Vec<String>,
    /// The only directory `AdminService.Backup` writes into (callers name a new directory under it);
    /// empty: `backups` in the data directory.
    pub backup_dir: PathBuf,
    /// Proxies whose `x-forwarded-for` header is believed: a call from one of these addresses is charged
    /// to the client address the header's last entry names. Empty (the default): the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where every audit checkpoint is also appended (JSON lines, synced), outside the store so that
    /// truncating the log is detected; empty: `audit-checkpoints.jsonl` in the data directory.
    pub audit_checkpoint_file: PathBuf,
    /// Requests per second and burst, per caller (key, or client IP for anonymous callers).
    pub limits: Limits,
    /// Bounds on department uploads.
    pub uploads: UploadLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadLimits {
    /// Uploads running at once; more are refused with UNAVAILABLE.
    pub max_concurrent: usize,
    /// Longest wait for a client's next message mid-upload, in seconds; then DEADLINE_EXCEEDED.
    pub idle_timeout_seconds: u64,
    /// Bytes one department (or key) may deliver per day (China Standard Time).
    pub daily_bytes: u64,
    /// Free space the spool's disk keeps: uploads are refused below it.
    pub min_free_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> UploadLimits {
        UploadLimits { max_concurrent: 2, idle_timeout_seconds: 30, daily_bytes: 2 << 30, min_free_bytes: 1 << 30 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub public: Quota,
    pub provider: Quota,
    pub regulator: Quota,
    pub admin: Quota,
    /// Health checks and reflection, per client IP: cheap calls, but calls all the same.
    pub probe: Quota,
    /// Every call of every caller together, after each caller's own limit.
    pub global: Quota,
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::new(),
            rules_dir: PathBuf::new(),
            disclosure_rules: PathBuf::new(),
            evaluation_model: PathBuf::new(),
            evaluate_on_sweep: true,
            statistics_min_cell: 5,
            sweep_interval_seconds: 3600,
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            tls_client_ca: PathBuf::new(),
            client_cert_roles: Vec::new(),
            allow_plaintext: false,
            metrics_listen: String::new(),
            log_json: false,
            max_concurrency: 0,
            request_timeout_ms: 2_000,
            max_message_bytes: 4 << 20,
            subject_cache_bytes: credit_core::store::DEFAULT_SUBJECT_CACHE_BYTES,
            block_cache_bytes: credit_core::engine::RocksConfig::default().block_cache_bytes,
            keys_reload_seconds: 1,
            shutdown_grace_seconds: 10,
            signing_key: PathBuf::new(),
            verifying_keys: PathBuf::new(),
            platform_name: "城市公共信用信息平台".into(),
            report_validity_days: 30,
            audit_checkpoint_seconds: 10,
            registration_departments: vec!["市场监管局".into()],
            backup_dir: PathBuf::new(),
            trusted_proxies: Vec::new(),
            audit_checkpoint_file: PathBuf::new(),
            limits: Limits::default(),
            uploads: UploadLimits::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            public: Quota { per_second: 20, burst: 40 },
            provider: Quota { per_second: 200, burst: 400 },
            // A batch check of 1,000 counts 1,000: the burst must hold one.
            regulator: Quota { per_second: 2_000, burst: 4_000 },
            admin: Quota { per_second: 2_000, burst: 4_000 },
            probe: Quota { per_second: 20, burst: 40 },
            global: Quota { per_second: 50_000, burst: 50_000 },
        }
    }
}

impl Config {
    /// The file's settings (defaults when `file` is `None`), then `CREDIT_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid { key: "(defaults)".into(), reason: e.to_string() })?;
        // The file over the defaults, key by key, so a section may set only some of its keys.
        let mut tree = defaults.clone();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
            let from_file = text
                .parse::<toml::Table>()
                .map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source })?;
            merge(&mut tree, from_file);
        }
        let env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with("CREDIT_")).collect();
        apply_env(&mut tree, &defaults, "CREDIT", &env)?;
        let source = file.map_or_else(|| PathBuf::from("(environment)"), Path::to_path_buf);
        let config: Config = toml::Value::Table(tree)
            .try_into()
            .map_err(|source_error| ConfigError::Parse { path: source, source: source_error })?;
        Ok(config)
    }

    /// Checks what serde cannot: ranges, and settings that only make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| Err(ConfigError::Invalid { key: key.into(), reason: reason.into() });
        if self.uploads.max_concurrent == 0 || self.uploads.idle_timeout_seconds == 0 {
            return invalid("uploads", "max_concurrent and idle_timeout_seconds must be at least 1");
        }
        if self.statistics_min_cell == 0 {
            return invalid("statistics_min_cell", "at least 1");
        }
        if self.tls_cert.as_os_str().is_empty() != self.tls_key.as_os_str().is_empty() {
            return invalid("tls_cert", "tls_cert and tls_key go together");
        }
        if !self.tls() && !self.tls_client_ca.as_os_str().is_empty() {
            return invalid("tls_client_ca", "client certificates need tls_cert and tls_key");
        }
        if let Some(role) = self.client_cert_roles.iter().find(|r| crate::auth::Role::parse(r).is_none()) {
            return invalid("client_cert_roles", &format!("{role:?} is not one of public, provider, regulator, admin"));
        }
        if !self.client_cert_roles.is_empty() && self.tls_client_ca.as_os_str().is_empty() {
            return invalid("client_cert_roles", "needs tls_client_ca to verify client certificates against");
        }
        if !self.tls() && !self.listen.ip().is_loopback() && !self.allow_plaintext {
            return invalid(
                "listen",
                "a non-loopback address without TLS (set tls_cert and tls_key, or allow_plaintext = true)",
            );
        }
        if self.request_timeout_ms == 0 {
            return invalid("request_timeout_ms", "must be at least 1");
        }
        if self.max_message_bytes < 1024 {
            return invalid("max_message_bytes", "must be at least 1024");
        }
        if self.block_cache_bytes < MIN_BLOCK_CACHE_BYTES {
            return invalid(
                "block_cache_bytes",
                "must be at least 16777216 (16 MiB): the pinned index and filter blocks live there",
            );
        }
        if !self.metrics_listen.is_empty() && self.metrics_listen.parse::<SocketAddr>().is_err() {
            return invalid("metrics_listen", "not an address (host:port), e.g. 127.0.0.1:9464");
        }
        if self.report_validity_days == 0 {
            return invalid("report_validity_days", "must be at least 1");
        }
        if self.audit_checkpoint_seconds == 0 {
            return invalid("audit_checkpoint_seconds", "must be at least 1");
        }
        if self.platform_name.trim().is_empty() {
            return invalid("platform_name", "must not be empty");
        }
        if self.keys_reload_seconds == 0 {
            return invalid("keys_reload_seconds", "must be at least 1");
        }
        for (role, quota) in self.limits.all() {
            if quota.per_second == 0 || quota.burst == 0 {
                return invalid(&format!("limits.{role}"), "per_second and burst must be at least 1");
            }
        }
        if self.limits.regulator.burst < crate::services::MAX_BATCH_CHECKS as u32 {
            return invalid("limits.regulator.burst", "must hold one full batch check (1000)");
        }
        Ok(())
    }

    /// Whether the service speaks TLS.
    pub fn tls(&self) -> bool {
        !self.tls_cert.as_os_str().is_empty()
    }

    /// The cap on calls in flight: `max_concurrency`, or [`IN_FLIGHT_PER_THREAD`] per blocking thread.
    pub fn max_in_flight(&self) -> usize {
        if self.max_concurrency > 0 { self.max_concurrency } else { IN_FLIGHT_PER_THREAD * crate::blocking_threads() }
    }

    /// `backup_dir`, or `backups` in the data directory when it is empty.
    pub fn backup_dir(&self) -> PathBuf {
        if self.backup_dir.as_os_str().is_empty() { self.data_dir().join("backups") } else { self.backup_dir.clone() }
    }

    /// `data_dir`, or the per-user default when it is empty.
    pub fn data_dir(&self) -> PathBuf {
        if !self.data_dir.as_os_str().is_empty() {
            return self.data_dir.clone();
        }
        default_data_dir()
    }
}

impl Limits {
    pub fn by_role(&self) -> [(&'static str, Quota); 4] {
        [("public", self.public), ("provider", self.provider), ("regulator", self.regulator), ("admin", self.admin)]
    }

    /// Every quota, by its key under `limits`.
    pub fn all(&self) -> [(&'static str, Quota); 6] {
        let [a, b, c, d] = self.by_role();
        [a, b, c, d, ("probe", self.probe), ("global", self.global)]
    }
}

/// `$XDG_DATA_HOME/credit`, else `~/.local/share/credit`, else `./credit-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("credit");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/share/credit");
    }
    PathBuf::from("credit-data")
}

/// `over`'s keys replace `base`'s, tables merged recursively.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over_inner)) => merge(inner, over_inner),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Every leaf of the defaults can be set as `CREDIT_<PATH>` (`CREDIT_LIMITS_PUBLIC_PER_SECOND`), parsed
/// as the type of the default value.
fn apply_env(
    tree: &mut toml::Table,
    defaults: &toml::Table,
    prefix: &str,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    for (key, default) in defaults {
        let name = format!("{prefix}_{}", key.to_ascii_uppercase());
        if let toml::Value::Table(inner_defaults) = default {
            let Some(toml::Value::Table(inner)) = tree.get_mut(key) else {
                continue; // the file gave a non-table here: serde reports it
            };
            apply_env(inner, inner_defaults, &name, env)?;
            continue;
        }
        let Some((_, raw)) = env.iter().find(|(k, _)| *k == name) else {
            continue;
        };
        let bad = |reason: &str| ConfigError::Env { name: name.clone(), reason: reason.into() };
        let value = match default {
            toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().map_err(|_| bad("not an integer"))?),
            toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" | "" => false,
                _ => return Err(bad("not a boolean (true or false)")),
            }),
            _ => toml::Value::String(raw.clone()),
        };
        tree.insert(key.clone(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_example_file_documents_exactly_the_defaults() {
        let example: toml::Table = EXAMPLE.parse().expect("example parses");
        let defaults = toml::Table::try_from(Config::default()).expect("defaults serialise");
        assert_eq!(example, defaults, "credit-server.example.toml must list every key with its default");
        let parsed: Config = toml::from_str(EXAMPLE).expect("example is a valid config");
        assert_eq!(parsed, Config::default());
        parsed.validate().expect("defaults are valid");
    }

    #[test]
    fn environment_overrides_the_file_and_nested_keys_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:7000\"\nmax_concurrency = 8\n[limits.public]\nper_second = 5\n")
            .expect("write");
        let config = Config::load(
            Some(&file),
            env(&[("CREDIT_MAX_CONCURRENCY", "16"), ("CREDIT_LIMITS_PUBLIC_BURST", "11"), ("CREDIT_LOG_JSON", "true")]),
        )
        .expect("loads");
        assert_eq!(config.listen, "127.0.0.1:7000".parse::<SocketAddr>().expect("addr"));
        assert_eq!(config.max_concurrency, 16);
        assert_eq!(config.limits.public, Quota { per_second: 5, burst: 11 });
        assert_eq!(config.limits.regulator, Limits::default().regulator);
        assert!(config.log_json);
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Config::load(None, env(&[("CREDIT_MAX_CONCURRENCY", "many")])).expect_err("not a number");
        assert!(err.to_string().contains("CREDIT_MAX_CONCURRENCY"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "max_concurency = 3\n").expect("write");
        let err = Config::load(Some(&file), env(&[])).expect_err("unknown key");
        assert!(err.to_string().contains("max_concurency"), "{err}");

        let config = Config { request_timeout_ms: 0, ..Config::default() };
        let err = config.validate().expect_err("zero");
        assert!(err.to_string().contains("request_timeout_ms"), "{err}");
        let config = Config { block_cache_bytes: MIN_BLOCK_CACHE_BYTES - 1, ..Config::default() };
        assert!(config.validate().expect_err("tiny cache").to_string().contains("block_cache_bytes"));
        Config { block_cache_bytes: MIN_BLOCK_CACHE_BYTES, ..Config::default() }.validate().expect("smallest allowed");
        assert_eq!(Config::default().max_in_flight(), IN_FLIGHT_PER_THREAD * crate::blocking_threads(), "derived");
        assert_eq!(Config { max_concurrency: 3, ..Config::default() }.max_in_flight(), 3);
        let mut config = Config::default();
        config.limits.regulator.burst = 10;
        assert!(config.validate().expect_err("small burst").to_string().contains("limits.regulator.burst"));
    }
}
