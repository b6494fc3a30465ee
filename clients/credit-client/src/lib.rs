//! Typed async client for the `credit.v1` API, for approval systems and the `credit` tool.

use std::time::Duration;

use credit_proto::v1::audit_service_client::AuditServiceClient;
use credit_proto::v1::feed_service_client::FeedServiceClient;
use credit_proto::v1::identifier_service_client::IdentifierServiceClient;
use credit_proto::v1::report_service_client::ReportServiceClient;
use credit_proto::v1::{CheckIdentifiersRequest, IdentifierCheck};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic_types::StatusExt;

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

impl ClientError {
    /// The stable reason the server gave (`ErrorInfo.reason`: `INVALID_PAGE_TOKEN`, `RATE_LIMITED`,
    /// `TIME_TRAVEL_NOT_ALLOWED`, …): branch on this, never on messages. `None` for errors that did not
    /// come from the server, or a status without one.
    pub fn reason(&self) -> Option<String> {
        use tonic_types::StatusExt;
        let ClientError::Call(status) = self else { return None };
        status.get_error_details().error_info().map(|info| info.reason.clone())
    }

    /// The request field the server named as wrong (`BadRequest`), if any.
    pub fn field(&self) -> Option<String> {
        use tonic_types::StatusExt;
        let ClientError::Call(status) = self else { return None };
        let details = status.get_error_details();
        details.bad_request().and_then(|bad| bad.field_violations.first()).map(|v| v.field.clone())
    }

    /// How long the server asked to wait before retrying (`RetryInfo`), if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        use tonic_types::StatusExt;
        let ClientError::Call(status) = self else { return None };
        status.get_error_details().retry_info().and_then(|info| info.retry_delay)
    }
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
    /// Further attempts of a call refused as overloaded or rate-limited (`UNAVAILABLE`,
    /// `RESOURCE_EXHAUSTED`), each after the wait the server's `RetryInfo` asks for.
    pub retries: u32,
    /// The longest single wait between attempts.
    pub max_retry_wait: Duration,
    /// CA certificates (PEM) the server's certificate is verified against; setting it (or an
    /// `https://` endpoint) makes the connection TLS.
    pub ca_pem: Option<Vec<u8>>,
    /// This client's certificate chain and private key (PEM), for servers that ask departments for one.
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// The name the server's certificate must carry; default: the endpoint's host.
    pub tls_domain: Option<String>,
}

impl ClientConfig {
    pub fn new(endpoint: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            token: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retries: 3,
            max_retry_wait: Duration::from_secs(10),
            ca_pem: None,
            identity_pem: None,
            tls_domain: None,
        }
    }
}

/// One connection (HTTP/2 channel) to the service; cheap to clone.
#[derive(Debug, Clone)]
pub struct CreditClient {
    channel: Channel,
    /// Without the per-request timeout: a feed stream lasts as long as its follower.
    streaming: Channel,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    retries: u32,
    max_retry_wait: Duration,
}

impl CreditClient {
    pub async fn connect(config: ClientConfig) -> Result<CreditClient, ClientError> {
        let tls = config.ca_pem.is_some() || config.identity_pem.is_some();
        let uri = if tls && !config.endpoint.contains("://") {
            format!("https://{}", config.endpoint)
        } else {
            normalize_endpoint(&config.endpoint)
        };
        let invalid = |source| ClientError::Endpoint { endpoint: config.endpoint.clone(), source };
        let mut endpoint = Endpoint::from_shared(uri.clone()).map_err(invalid)?.connect_timeout(config.connect_timeout);
        if uri.starts_with("https://") {
            let mut settings = tonic::transport::ClientTlsConfig::new();
            if let Some(ca) = &config.ca_pem {
                settings = settings.ca_certificate(tonic::transport::Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &config.identity_pem {
                settings = settings.identity(tonic::transport::Identity::from_pem(cert, key));
            }
            if let Some(domain) = &config.tls_domain {
                settings = settings.domain_name(domain.clone());
            }
            endpoint = endpoint.tls_config(settings).map_err(invalid)?;
        }
        let streaming = endpoint.connect_lazy();
        let endpoint = endpoint.timeout(config.request_timeout);
        let authorization = match &config.token {
            Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| ClientError::Token)?),
            None => None,
        };
        let channel = endpoint.connect().await.map_err(|source| ClientError::Connect { endpoint: uri, source })?;
        Ok(CreditClient {
            channel,
            streaming,
            authorization,
            retries: config.retries,
            max_retry_wait: config.max_retry_wait,
        })
    }

    /// A request carrying the caller's token.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        request
    }

    /// Runs a unary call, again after the server's `RetryInfo` wait (or a doubling backoff) while it is
    /// refused as overloaded or rate-limited, at most `retries` more times.
    async fn with_retries<T, F, Fut>(&self, mut call: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut backoff = Duration::from_millis(100);
        for attempt in 0.. {
            let status = match call().await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) => status,
            };
            let again = matches!(status.code(), tonic::Code::ResourceExhausted | tonic::Code::Unavailable);
            if !again || attempt >= self.retries {
                return Err(ClientError::Call(status));
            }
            let asked = status.get_details_retry_info().and_then(|info| info.retry_delay);
            tokio::time::sleep(asked.unwrap_or(backoff).min(self.max_retry_wait)).await;
            backoff *= 2;
        }
        unreachable!("the loop returns")
    }

    /// Checks identifiers on the server; results come back in the order given.
    pub async fn check_identifiers(&self, values: Vec<String>) -> Result<Vec<IdentifierCheck>, ClientError> {
        let response = self
            .with_retries(|| {
                let mut client = IdentifierServiceClient::new(self.channel.clone());
                let request = self.request(CheckIdentifiersRequest { values: values.clone() });
                async move { client.check_identifiers(request).await }
            })
            .await?;
        Ok(response.results)
    }

    /// A subject and the records the view shows (public without a key; regulators may state a purpose).
    pub async fn get_subject(
        &self,
        request: proto::GetSubjectRequest,
    ) -> Result<proto::GetSubjectResponse, ClientError> {
        self.with_retries(|| {
            let mut client = credit_proto::v1::subject_service_client::SubjectServiceClient::new(self.channel.clone());
            let request = self.request(request.clone());
            async move { client.get_subject(request).await }
        })
        .await
    }

    /// Subjects by name (any script, pinyin, initials), code or its prefix, ID number, document number.
    pub async fn search(&self, request: proto::SearchRequest) -> Result<proto::SearchResponse, ClientError> {
        self.with_retries(|| {
            let mut client = credit_proto::v1::search_service_client::SearchServiceClient::new(self.channel.clone());
            let request = self.request(request.clone());
            async move { client.search(request).await }
        })
        .await
    }

    /// A joint check (regulator keys): the verdict and the measures for one approval item. The check is
    /// recorded (its `check_id` is what feedback cites), so it is not retried.
    pub async fn check(&self, request: proto::CheckRequest) -> Result<proto::CheckResult, ClientError> {
        let mut client =
            credit_proto::v1::joint_check_service_client::JointCheckServiceClient::new(self.channel.clone());
        let response = client.check(self.request(request)).await?.into_inner();
        response.result.ok_or_else(|| ClientError::Call(tonic::Status::internal("a check response without a result")))
    }

    /// What the department did about a measure of a recorded check.
    pub async fn submit_feedback(
        &self,
        request: proto::SubmitFeedbackRequest,
    ) -> Result<proto::SubmitFeedbackResponse, ClientError> {
        let mut client =
            credit_proto::v1::joint_check_service_client::JointCheckServiceClient::new(self.channel.clone());
        Ok(client.submit_feedback(self.request(request)).await?.into_inner())
    }

    /// A signed credit report; verify it with [`verify_report`] and [`CreditClient::verifying_keys`].
    pub async fn report(&self, request: proto::GetReportRequest) -> Result<proto::GetReportResponse, ClientError> {
        self.with_retries(|| {
            let mut client = ReportServiceClient::new(self.channel.clone());
            let request = self.request(request.clone());
            async move { client.get_report(request).await }
        })
        .await
    }

    /// The verifying keys the platform publishes, checked (each id matches its key).
    pub async fn verifying_keys(&self) -> Result<KeySet, ClientError> {
        let response = self
            .with_retries(|| {
                let mut client = ReportServiceClient::new(self.channel.clone());
                let request = self.request(proto::ListVerifyingKeysRequest {});
                async move { client.list_verifying_keys(request).await }
            })
            .await?;
        Ok(KeySet::from_json(&response.key_set_json, "the published keys")?)
    }

    /// Follows the change feed from sequence number `from` (regulator keys): every event in order, then
    /// new ones as they come. A dropped connection or a restarting server is retried with backoff and
    /// resumed after the last event received, so nothing is missed or repeated; refusals (bad key,
    /// wrong role) end the follower with the error.
    pub fn follow_feed(&self, from: u64) -> FeedFollower {
        let (sender, receiver) = tokio::sync::mpsc::channel(256);
        let client = self.clone();
        let task = tokio::spawn(async move { client.follow_into(from.max(1), sender).await });
        FeedFollower { receiver, task }
    }

    async fn follow_into(
        &self,
        mut next: u64,
        sender: tokio::sync::mpsc::Sender<Result<proto::FeedEvent, ClientError>>,
    ) {
        const FIRST_WAIT: Duration = Duration::from_millis(100);
        let mut wait = FIRST_WAIT;
        loop {
            let mut client = FeedServiceClient::new(self.streaming.clone());
            let request = self.request(proto::FollowRequest { from_seq: next, limit: 0, ..Default::default() });
            let failure = match client.follow(request).await {
                Ok(response) => {
                    let mut stream = response.into_inner();
                    loop {
                        match stream.message().await {
                            Ok(Some(event)) => {
                                wait = FIRST_WAIT;
                                next = event.seq + 1;
                                if sender.send(Ok(event)).await.is_err() {
                                    return;
                                }
                            }
                            // The server ended the stream (it is stopping): resume elsewhere or later.
                            Ok(None) => break None,
                            Err(status) => break Some(status),
                        }
                    }
                }
                Err(status) => Some(status),
            };
            if let Some(status) = failure
                && !retryable(status.code())
            {
                let _ = sender.send(Err(ClientError::Call(status))).await;
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = sender.closed() => return,
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Uploads one department file (provider or admin keys) and returns the import's summary and rejects.
    /// Not retried: an upload is a write.
    pub async fn upload(
        &self,
        header: proto::UploadHeader,
        bytes: Vec<u8>,
    ) -> Result<proto::UploadResponse, ClientError> {
        const CHUNK: usize = 1 << 20;
        let mut chunks: Vec<proto::UploadChunk> =
            bytes.chunks(CHUNK).map(|c| proto::UploadChunk { header: None, data: c.to_vec() }).collect();
        if chunks.is_empty() {
            chunks.push(proto::UploadChunk::default());
        }
        chunks[0].header = Some(header);
        let mut client = credit_proto::v1::import_service_client::ImportServiceClient::new(self.streaming.clone());
        Ok(client.upload(self.request(tokio_stream::iter(chunks))).await?.into_inner())
    }

    /// Opens a repair case (`apply`) or an objection (`file`).
    pub async fn open_case(&self, request: proto::OpenCaseRequest) -> Result<proto::Case, ClientError> {
        let mut client = credit_proto::v1::case_service_client::CaseServiceClient::new(self.channel.clone());
        Ok(client.open_case(self.request(request)).await?.into_inner())
    }

    /// Takes the next step of a case.
    pub async fn decide_case(&self, request: proto::DecideCaseRequest) -> Result<proto::Case, ClientError> {
        let mut client = credit_proto::v1::case_service_client::CaseServiceClient::new(self.channel.clone());
        Ok(client.decide_case(self.request(request)).await?.into_inner())
    }

    /// A case with its steps.
    pub async fn case(&self, case_id: u64) -> Result<proto::GetCaseResponse, ClientError> {
        self.with_retries(|| {
            let mut client = credit_proto::v1::case_service_client::CaseServiceClient::new(self.channel.clone());
            let request = self.request(proto::GetCaseRequest { case_id });
            async move { client.get_case(request).await }
        })
        .await
    }

    /// The cases about one record.
    pub async fn cases_of(&self, record_id: u64) -> Result<Vec<proto::Case>, ClientError> {
        let response = self
            .with_retries(|| {
                let mut client = credit_proto::v1::case_service_client::CaseServiceClient::new(self.channel.clone());
                let request = self.request(proto::ListCasesRequest { record_id });
                async move { client.list_cases(request).await }
            })
            .await?;
        Ok(response.cases)
    }

    /// Open cases past the deadline of their current step on `on` (`YYYY-MM-DD`, empty for today;
    /// regulators and admins).
    pub async fn overdue_cases(&self, on: &str) -> Result<Vec<proto::Case>, ClientError> {
        let response = self
            .with_retries(|| {
                let mut client = credit_proto::v1::case_service_client::CaseServiceClient::new(self.channel.clone());
                let request = self.request(proto::ListOverdueCasesRequest { on: on.to_string(), limit: 0 });
                async move { client.list_overdue_cases(request).await }
            })
            .await?;
        Ok(response.cases)
    }

    /// One subject's evaluation on `as_of` (`YYYY-MM-DD`, empty for today).
    pub async fn evaluation(&self, identifier: &str, as_of: &str) -> Result<proto::Evaluation, ClientError> {
        self.with_retries(|| {
            let mut client =
                credit_proto::v1::evaluation_service_client::EvaluationServiceClient::new(self.channel.clone());
            let request = self
                .request(proto::GetEvaluationRequest { identifier: identifier.to_string(), as_of: as_of.to_string() });
            async move { client.get_evaluation(request).await }
        })
        .await
    }

    /// Credit statistics per division or industry, small counts suppressed (-1); anyone.
    pub async fn credit_statistics(
        &self,
        request: proto::GetCreditStatisticsRequest,
    ) -> Result<proto::CreditStatistics, ClientError> {
        self.with_retries(|| {
            let mut client =
                credit_proto::v1::statistics_service_client::StatisticsServiceClient::new(self.channel.clone());
            let request = self.request(request.clone());
            async move { client.get_credit_statistics(request).await }
        })
        .await
    }

    /// The distribution of the stored grades and risk classes (regulators).
    pub async fn grade_distribution(&self) -> Result<proto::GradeDistribution, ClientError> {
        self.with_retries(|| {
            let mut client =
                credit_proto::v1::evaluation_service_client::EvaluationServiceClient::new(self.channel.clone());
            let request = self.request(proto::GetGradeDistributionRequest {});
            async move { client.get_grade_distribution(request).await }
        })
        .await
    }

    /// Every version of one record the caller's view shows, oldest first (callers with a key).
    pub async fn record_history(
        &self,
        request: proto::GetRecordHistoryRequest,
    ) -> Result<proto::GetRecordHistoryResponse, ClientError> {
        self.with_retries(|| {
            let mut client = credit_proto::v1::record_service_client::RecordServiceClient::new(self.channel.clone());
            let request = self.request(request.clone());
            async move { client.get_record_history(request).await }
        })
        .await
    }

    /// Creates an API key (admin keys only); the token is in this answer only. Not retried: a retry
    /// after a lost answer would create a second key.
    pub async fn create_api_key(
        &self,
        request: proto::CreateApiKeyRequest,
    ) -> Result<proto::CreateApiKeyResponse, ClientError> {
        Ok(self.admin().create_api_key(self.request(request)).await?.into_inner())
    }

    /// Every API key, revoked ones included (admin keys only).
    pub async fn list_api_keys(&self) -> Result<Vec<proto::ApiKey>, ClientError> {
        let response = self
            .with_retries(|| {
                let mut client = self.admin();
                let request = self.request(proto::ListApiKeysRequest {});
                async move { client.list_api_keys(request).await }
            })
            .await?;
        Ok(response.keys)
    }

    /// Revokes an API key (admin keys only). Not retried: a write.
    pub async fn revoke_api_key(&self, id: &str) -> Result<proto::ApiKey, ClientError> {
        let request = self.request(proto::RevokeApiKeyRequest { id: id.to_string() });
        Ok(self.admin().revoke_api_key(request).await?.into_inner())
    }

    /// Rebuilds the search index from the store (admin keys only).
    pub async fn reindex(&self) -> Result<proto::ReindexResponse, ClientError> {
        Ok(self.admin().reindex(self.request(proto::ReindexRequest {})).await?.into_inner())
    }

    /// Writes a consistent copy of the store into `to`, a new directory on the server (admin keys only).
    pub async fn backup(&self, to: &str) -> Result<proto::BackupResponse, ClientError> {
        Ok(self.admin().backup(self.request(proto::BackupRequest { to: to.to_string() })).await?.into_inner())
    }

    fn admin(&self) -> credit_proto::v1::admin_service_client::AdminServiceClient<Channel> {
        credit_proto::v1::admin_service_client::AdminServiceClient::new(self.channel.clone())
    }

    /// Entries of the audit log (admin keys only).
    pub async fn audit_log(
        &self,
        request: proto::QueryAuditLogRequest,
    ) -> Result<proto::QueryAuditLogResponse, ClientError> {
        self.with_retries(|| {
            let mut client = AuditServiceClient::new(self.channel.clone());
            let request = self.request(request.clone());
            async move { client.query_audit_log(request).await }
        })
        .await
    }
}

/// The change feed as [`CreditClient::follow_feed`] follows it. Dropping it stops following.
#[derive(Debug)]
pub struct FeedFollower {
    receiver: tokio::sync::mpsc::Receiver<Result<proto::FeedEvent, ClientError>>,
    task: tokio::task::JoinHandle<()>,
}

impl FeedFollower {
    /// The next event; `Err` once when the server refused to go on (the follower ends after it).
    pub async fn next(&mut self) -> Option<Result<proto::FeedEvent, ClientError>> {
        self.receiver.recv().await
    }
}

impl Drop for FeedFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Failures worth another attempt: the server is away, stopping, overloaded or briefly refusing.
fn retryable(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(
        code,
        Code::Unavailable
            | Code::Cancelled
            | Code::Unknown
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
    )
}

/// Accepts `host:port` as well as a full URI.
pub fn normalize_endpoint(endpoint: &str) -> String {
    if endpoint.contains("://") { endpoint.to_string() } else { format!("http://{endpoint}") }
}

#[cfg(test)]
mod tests {
    use super::{ClientError, normalize_endpoint};

    #[test]
    fn bare_host_port_gets_a_scheme() {
        assert_eq!(normalize_endpoint("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(normalize_endpoint("https://credit.example:443"), "https://credit.example:443");
    }

    #[test]
    fn errors_expose_the_server_s_reason_field_and_wait() {
        use tonic_types::{ErrorDetails, StatusExt};
        let mut details = ErrorDetails::with_error_info("INVALID_PAGE_TOKEN", "credit.v1", []);
        details.add_bad_request_violation("page_token", "not a token this service issued");
        details.set_retry_info(Some(std::time::Duration::from_millis(50)));
        let status = tonic::Status::with_error_details(tonic::Code::InvalidArgument, "bad token", details);
        let error = ClientError::from(status);
        assert_eq!(error.reason().as_deref(), Some("INVALID_PAGE_TOKEN"));
        assert_eq!(error.field().as_deref(), Some("page_token"));
        assert_eq!(error.retry_after(), Some(std::time::Duration::from_millis(50)));
        let plain = ClientError::from(tonic::Status::unavailable("down"));
        assert_eq!((plain.reason(), plain.field(), plain.retry_after()), (None, None, None));
        assert_eq!(ClientError::Token.reason(), None);
    }
}
