//! Typed async client for the `credit.v1` API, for approval systems and the `credit` tool.

use std::time::Duration;

use credit_proto::v1::audit_service_client::AuditServiceClient;
use credit_proto::v1::identifier_service_client::IdentifierServiceClient;
use credit_proto::v1::report_service_client::ReportServiceClient;
use credit_proto::v1::{CheckIdentifiersRequest, IdentifierCheck};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

pub use credit_proto::v1 as proto;
/// Offline report verification: no server needed, only the published keys.
pub use credit_sign::{KeySet, VerifiedReport, VerifyError, verify_report};

/// What can go wrong talking to the service.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid endpoint {endpoint:?}: {source}")]
    Endpoint { endpoint: String, source: tonic::transport::Error },
    #[error("connecting to {endpoint}: {source}")]
    Connect { endpoint: String, source: tonic::transport::Error },
    /// The gRPC status code and the server's message (once: the status is not chained as a source).
    #[error("call failed: {:?}: {}", .0.code(), .0.message())]
    Call(tonic::Status),
    #[error("the token is not a valid header value")]
    Token,
    #[error("the server published an invalid key set: {0}")]
    KeySet(#[from] credit_sign::KeyError),
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> ClientError {
        ClientError::Call(status)
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` or `host:port`.
    pub endpoint: String,
    /// An API key (`credit_…`); anonymous (public view) without one.
    pub token: Option<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(endpoint: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            token: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One connection (HTTP/2 channel) to the service; cheap to clone.
#[derive(Debug, Clone)]
pub struct CreditClient {
    channel: Channel,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl CreditClient {
    pub async fn connect(config: ClientConfig) -> Result<CreditClient, ClientError> {
        let uri = normalize_endpoint(&config.endpoint);
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|source| ClientError::Endpoint { endpoint: config.endpoint.clone(), source })?
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout);
        let authorization = match &config.token {
            Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| ClientError::Token)?),
            None => None,
        };
        let channel = endpoint.connect().await.map_err(|source| ClientError::Connect { endpoint: uri, source })?;
        Ok(CreditClient { channel, authorization })
    }

    /// A request carrying the caller's token.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        request
    }

    /// Checks identifiers on the server; results come back in the order given.
    pub async fn check_identifiers(&self, values: Vec<String>) -> Result<Vec<IdentifierCheck>, ClientError> {
        let mut client = IdentifierServiceClient::new(self.channel.clone());
        let response = client.check_identifiers(self.request(CheckIdentifiersRequest { values })).await?;
        Ok(response.into_inner().results)
    }

    /// A signed credit report; verify it with [`verify_report`] and [`CreditClient::verifying_keys`].
    pub async fn report(&self, request: proto::GetReportRequest) -> Result<proto::GetReportResponse, ClientError> {
        let mut client = ReportServiceClient::new(self.channel.clone());
        Ok(client.get_report(self.request(request)).await?.into_inner())
    }

    /// The verifying keys the platform publishes, checked (each id matches its key).
    pub async fn verifying_keys(&self) -> Result<KeySet, ClientError> {
        let mut client = ReportServiceClient::new(self.channel.clone());
        let response = client.list_verifying_keys(self.request(proto::ListVerifyingKeysRequest {})).await?;
        Ok(KeySet::from_json(&response.into_inner().key_set_json, "the published keys")?)
    }

    /// Entries of the audit log (admin keys only).
    pub async fn audit_log(
        &self,
        request: proto::QueryAuditLogRequest,
    ) -> Result<proto::QueryAuditLogResponse, ClientError> {
        let mut client = AuditServiceClient::new(self.channel.clone());
        Ok(client.query_audit_log(self.request(request)).await?.into_inner())
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
