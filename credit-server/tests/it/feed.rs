//! The change feed as a stream: followed through the SDK across a server restart without missing or
//! repeating an event; limits; only regulators may follow.

use std::net::SocketAddr;
use std::path::Path;

use credit_client::{ClientConfig, CreditClient};
use credit_proto::v1 as pb;
use credit_proto::v1::feed_service_client::FeedServiceClient;
use credit_server::{Config, ServeOptions};
use tonic::Code;

use super::grpc::{PERSON, call, start_with};

/// A server on `addr` over `data`, stopped by sending on the returned channel.
async fn serve_on(
    addr: SocketAddr,
    data: &Path,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), credit_server::ServeError>>) {
    let config = Config { listen: addr, data_dir: data.to_path_buf(), ..Config::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = credit_server::serve(ServeOptions { config, demo: false }, async {
        let _ = stopped.await;
    })
    .await
    .expect("server starts again on the same address");
    (stop, tokio::spawn(running.serving))
}

#[tokio::test]
async fn a_follower_resumes_across_a_restart_without_gaps_or_repeats() {
    let server = start_with(|_| {}).await;
    let (addr, data) = (server.addr, server.data.clone());
    let mut config = ClientConfig::new(addr.to_string());
    config.token = Some(server.tokens.regulator.clone());
    let client = CreditClient::connect(config).await.unwrap();
    let mut follower = client.follow_feed(1);
    let mut seqs = Vec::new();
    while seqs.len() < 300 {
        let event = follower.next().await.unwrap().unwrap();
        if seqs.is_empty() {
            let json: serde_json::Value = serde_json::from_str(&event.json).unwrap();
            assert_eq!(json["seq"], 1);
            assert_eq!(json["kind"], event.kind.as_str());
        }
        seqs.push(event.seq);
    }
    let dir = server.shutdown().await;

    // The follower keeps trying while the server is down, and resumes where it stopped.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (stop, handle) = serve_on(addr, &data).await;
    while seqs.len() < 600 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(20), follower.next())
            .await
            .expect("events arrive after the restart")
            .unwrap()
            .unwrap();
        seqs.push(event.seq);
    }
    assert_eq!(seqs, (1..=600).collect::<Vec<u64>>(), "every event once, in order");
    drop(follower);
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    drop(dir);
}

#[tokio::test]
async fn follow_honours_limit_and_roles() {
    let server = start_with(|_| {}).await;
    let mut feed = FeedServiceClient::new(server.channel.clone());
    let regulator = Some(server.tokens.regulator.as_str());
    let mut stream = feed
        .follow(call(pb::FollowRequest { from_seq: 10, limit: 5, ..Default::default() }, regulator))
        .await
        .unwrap()
        .into_inner();
    let mut seqs = Vec::new();
    while let Some(event) = stream.message().await.unwrap() {
        seqs.push(event.seq);
    }
    assert_eq!(seqs, vec![10, 11, 12, 13, 14], "the stream ends after `limit` events");

    let anonymous = feed.follow(call(pb::FollowRequest::default(), None)).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let provider = Some(server.tokens.provider.as_str());
    let refused = feed.follow(call(pb::FollowRequest::default(), provider)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Persons' ID numbers come masked, unless the follow states a purpose, which is audited.
    let codes = |purpose: &str| {
        let mut feed = feed.clone();
        let request = pb::FollowRequest { from_seq: 1, limit: 0, purpose: purpose.into() };
        async move {
            let mut stream = feed.follow(call(request, regulator)).await.unwrap().into_inner();
            let mut codes = Vec::new();
            while let Ok(Ok(Some(event))) =
                tokio::time::timeout(std::time::Duration::from_millis(1500), stream.message()).await
            {
                let json: serde_json::Value = serde_json::from_str(&event.json).unwrap();
                assert_eq!(json["code"].as_str().unwrap_or(""), event.code, "json and field agree");
                codes.push(event.code);
            }
            codes
        }
    };
    let masked = codes("").await;
    assert!(masked.iter().any(|c| c == "640104********6204"), "the legal representative's entry, masked");
    assert!(!masked.iter().any(|c| c == PERSON), "no full ID number without a purpose");
    let full = codes("失信联合惩戒核查").await;
    assert!(full.iter().any(|c| c == PERSON));
    let mut config = ClientConfig::new(server.addr.to_string());
    config.token = Some(server.tokens.admin.clone());
    let admin = CreditClient::connect(config).await.unwrap();
    let query = pb::QueryAuditLogRequest { operation: "feed.follow".into(), ..Default::default() };
    let entries = admin.audit_log(query).await.unwrap().entries;
    assert_eq!(entries.len(), 1, "only the follow with a purpose reads full numbers: {entries:?}");
    assert_eq!(entries[0].purpose, "失信联合惩戒核查");

    // A follower with a refused key gets the error once, then nothing.
    let mut config = ClientConfig::new(server.addr.to_string());
    config.token = Some(server.tokens.provider.clone());
    let client = CreditClient::connect(config).await.unwrap();
    let mut follower = client.follow_feed(1);
    assert!(follower.next().await.unwrap().is_err());
    assert!(follower.next().await.is_none());
    server.shutdown().await;
}
