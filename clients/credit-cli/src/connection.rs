//! Where the service is and who calls it: `--endpoint` and `--token` (or `CREDIT_ENDPOINT`,
//! `CREDIT_TOKEN`), and for TLS `--ca` (and `--cert`/`--key` where the service asks for a client
//! certificate), shared by every subcommand that calls the service.

use anyhow::{Context, Result};
use credit_client::{ClientConfig, CreditClient};

/// Where the service is, and who calls it.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The service: `host:port` or `http://host:port`.
    #[arg(long, env = "CREDIT_ENDPOINT", default_value = "127.0.0.1:50051", global = true)]
    pub endpoint: String,
    /// An API key; anonymous (the public view) without one.
    #[arg(long, env = "CREDIT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// CA certificates (PEM) to verify the service's certificate; implies TLS (as does `https://`).
    #[arg(long, env = "CREDIT_CA", value_name = "FILE", global = true)]
    pub ca: Option<std::path::PathBuf>,
    /// This client's certificate (PEM), for services that ask departments for one; with `--key`.
    #[arg(long, env = "CREDIT_CERT", value_name = "FILE", global = true, requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// The private key of `--cert` (PEM).
    #[arg(long, env = "CREDIT_KEY", value_name = "FILE", global = true, requires = "cert")]
    pub key: Option<std::path::PathBuf>,
}

impl Connection {
    pub async fn connect(&self) -> Result<CreditClient> {
        let mut config = ClientConfig::new(&self.endpoint);
        config.token = self.token.clone().filter(|t| !t.is_empty());
        let read = |path: &std::path::Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
        if let Some(ca) = &self.ca {
            config.ca_pem = Some(read(ca)?);
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            config.identity_pem = Some((read(cert)?, read(key)?));
        }
        Ok(CreditClient::connect(config).await?)
    }
}

/// Runs one subcommand's calls on a runtime of its own: the tool makes a few calls and exits.
pub fn block_on<F: std::future::Future<Output = Result<std::process::ExitCode>>>(
    calls: F,
) -> Result<std::process::ExitCode> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(calls)
}
