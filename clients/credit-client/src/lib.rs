//! Typed async client for the `credit.v1` API, for approval systems and the `credit` tool.

use std::time::Duration;

use credit_proto::v1::identifier_service_client::IdentifierServiceClient;
use credit_proto::v1::{CheckIdentifiersRequest, IdentifierCheck};
use tonic::transport::{Channel, Endpoint};

pub use credit_proto::v1 as proto;

/// What can go wrong talking to the service.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid endpoint {endpoint:?}: {source}")]
    Endpoint { endpoint: String, source: tonic::transport::Error },
    #[error("connecting to {endpoint}: {source}")]
    Connect { endpoint: String, source: tonic::transport::Error },
    #[error("call failed: {0}")]
    Call(#[from] tonic::Status),
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` or `host:port`.
    pub endpoint: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(endpoint: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One connection (HTTP/2 channel) to the service; cheap to clone.
#[derive(Debug, Clone)]
pub struct CreditClient {
    identifiers: IdentifierServiceClient<Channel>,
}

impl CreditClient {
    pub async fn connect(config: ClientConfig) -> Result<CreditClient, ClientError> {
        let uri = normalize_endpoint(&config.endpoint);
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|source| ClientError::Endpoint { endpoint: config.endpoint.clone(), source })?
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout);
        let channel = endpoint.connect().await.map_err(|source| ClientError::Connect { endpoint: uri, source })?;
        Ok(CreditClient { identifiers: IdentifierServiceClient::new(channel) })
    }

    /// Checks identifiers on the server; results come back in the order given.
    pub async fn check_identifiers(&self, values: Vec<String>) -> Result<Vec<IdentifierCheck>, ClientError> {
        let response = self.identifiers.clone().check_identifiers(CheckIdentifiersRequest { values }).await?;
        Ok(response.into_inner().results)
    }
}

/// Accepts `host:port` as well as a full URI.
pub fn normalize_endpoint(endpoint: &str) -> String {
    if endpoint.contains("://") { endpoint.to_string() } else { format!("http://{endpoint}") }
}

#[cfg(test)]
mod tests {
    use super::normalize_endpoint;

    #[test]
    fn bare_host_port_gets_a_scheme() {
        assert_eq!(normalize_endpoint("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(normalize_endpoint("https://credit.example:443"), "https://credit.example:443");
    }
}
