//! Where the service is and who calls it: `--endpoint` and `--token` (or `CREDIT_ENDPOINT`,
//! `CREDIT_TOKEN`), shared by every subcommand that calls the service.

use anyhow::Result;
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
}

impl Connection {
    pub async fn connect(&self) -> Result<CreditClient> {
        let mut config = ClientConfig::new(&self.endpoint);
        config.token = self.token.clone().filter(|t| !t.is_empty());
        Ok(CreditClient::connect(config).await?)
    }
}

/// Runs one subcommand's calls on a runtime of its own: the tool makes a few calls and exits.
pub fn block_on<F: std::future::Future<Output = Result<std::process::ExitCode>>>(
    calls: F,
) -> Result<std::process::ExitCode> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(calls)
}
