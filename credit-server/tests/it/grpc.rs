//! The real server on a real socket (`127.0.0.1:0`), called through the SDK.

use std::net::SocketAddr;

use credit_client::{ClientConfig, CreditClient};
use tokio::sync::oneshot;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), credit_server::ServeError>>,
}

async fn start() -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, server) = credit_server::serve("127.0.0.1:0".parse().expect("address"), async {
        let _ = stopped.await;
    })
    .await
    .expect("server binds");
    Running { addr, stop: Some(stop), handle: tokio::spawn(server) }
}

impl Running {
    async fn shutdown(mut self) {
        self.stop.take().expect("not stopped yet").send(()).expect("server listening for stop");
        self.handle.await.expect("server task").expect("clean shutdown");
    }
}

#[tokio::test]
async fn identifiers_are_checked_over_grpc() {
    let server = start().await;
    let client = CreditClient::connect(ClientConfig::new(server.addr.to_string())).await.expect("connects");
    let results = client
        .check_identifiers(vec![
            "９１１１００００６０００３７３４１Ｌ".into(),
            "91110000600037341N".into(),
            "110105491231002".into(),
        ])
        .await
        .expect("call succeeds");
    assert_eq!(results.len(), 3);
    assert!(results[0].valid);
    assert_eq!(results[0].kind, "uscc");
    assert_eq!(results[0].normalized, "91110000600037341L");
    assert!(results[0].parts_json.contains("\"org_code\":\"600037341\""));
    assert!(!results[1].valid);
    assert_eq!(results[1].errors[0].code, "check");
    assert_eq!(results[2].normalized, "11010519491231002X");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_batches_are_refused_with_invalid_argument() {
    let server = start().await;
    let client = CreditClient::connect(ClientConfig::new(server.addr.to_string())).await.expect("connects");
    let err = client.check_identifiers(vec!["x".into(); 1001]).await.expect_err("too many values");
    match err {
        credit_client::ClientError::Call(status) => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with("values:"));
        }
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn health_reports_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let server = start().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .expect("valid uri")
        .connect()
        .await
        .expect("connects");
    let mut health = HealthClient::new(channel);
    for service in ["", "credit.v1.IdentifierService"] {
        let status = health
            .check(HealthCheckRequest { service: service.into() })
            .await
            .expect("health answers")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
    server.shutdown().await;
}
