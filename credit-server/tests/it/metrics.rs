//! Scrapes of the Prometheus endpoint: calls by method and code, latencies, rate-limit rejections, sizes.

use std::collections::HashMap;

use credit_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::grpc::{COMPANY, call, start_with};

/// One HTTP/1.1 request on its own connection: the status line and the body.
pub(super) async fn scrape(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// `name{labels} value` lines, keyed by everything before the value.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn scrapes_count_calls_codes_latencies_rejections_and_sizes() {
    let server = start_with(|config| {
        config.metrics_listen = "127.0.0.1:0".into();
        config.limits.public.per_second = 1;
        config.limits.public.burst = 3;
    })
    .await;
    let metrics_addr = server.metrics_addr.expect("metrics endpoint bound");
    let mut subjects = credit_proto::v1::subject_service_client::SubjectServiceClient::new(server.channel.clone());
    let get = |identifier: &str| pb::GetSubjectRequest { identifier: identifier.into(), ..Default::default() };
    subjects.get_subject(call(get(COMPANY), None)).await.unwrap();
    subjects.get_subject(call(get(COMPANY), None)).await.unwrap();
    subjects.get_subject(call(get("91110000600037341L"), None)).await.unwrap_err();
    let limited = subjects.get_subject(call(get(COMPANY), None)).await.unwrap_err();
    assert_eq!(limited.code(), tonic::Code::ResourceExhausted);

    let (status, body) = scrape(metrics_addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.ends_with("# EOF\n"), "a whole OpenMetrics exposition:\n{body}");
    assert!(!body.contains(".."), "help texts end once:\n{body}");
    let values = samples(&body);
    let method = "/credit.v1.SubjectService/GetSubject";
    let value = |key: String| *values.get(&key).unwrap_or_else(|| panic!("no {key} in\n{body}"));
    assert_eq!(value(format!("credit_rpc_calls_total{{method=\"{method}\",code=\"Ok\"}}")), 2.0);
    assert_eq!(value(format!("credit_rpc_calls_total{{method=\"{method}\",code=\"NotFound\"}}")), 1.0);
    assert_eq!(value(format!("credit_rpc_calls_total{{method=\"{method}\",code=\"ResourceExhausted\"}}")), 1.0);
    assert_eq!(value(format!("credit_rpc_duration_seconds_count{{method=\"{method}\"}}")), 4.0);
    assert_eq!(value(format!("credit_rpc_duration_seconds_bucket{{le=\"+Inf\",method=\"{method}\"}}")), 4.0);
    assert!(value(format!("credit_rpc_duration_seconds_sum{{method=\"{method}\"}}")) > 0.0);
    assert_eq!(value("credit_rate_limited_total{role=\"public\"}".into()), 1.0);
    assert_eq!(value("credit_rate_limited_total{role=\"regulator\"}".into()), 0.0);
    assert!(value("credit_store_size_bytes".into()) > 0.0);
    assert!(value("credit_index_documents".into()) >= 2000.0);
    assert!(value("credit_feed_end".into()) > 1.0);

    let (status, _) = scrape(metrics_addr, "/other").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    server.shutdown().await;
}
