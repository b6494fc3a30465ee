//! Prometheus metrics: calls by method and status code, latencies, rate-limit rejections, abandoned work,
//! and the sizes of the store and the index, encoded by `prometheus-client` (OpenMetrics text) and
//! served by `axum` on `metrics_listen` (`GET /metrics`).
//!
//! Calls are counted by a tower layer around every service. A call's status is the `grpc-status`
//! header when the server answered with an error before any message (how tonic answers refusals and
//! handler errors); otherwise the `grpc-status` trailer at the end of the response body (a stream that
//! fails midway counts with its error), `Cancelled` when the body is dropped before its trailers (the
//! client went away). Latency is measured until the response headers: for unary calls, the whole
//! handler. Figures kept elsewhere (rejections, abandoned work, sizes) are read at each scrape.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tonic::codegen::http;

use crate::services::Context;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    method: &'static str,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Method {
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabel {
    role: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WhenLabel {
    when: &'static str,
}

type Latencies = Family<Method, Histogram, fn() -> Histogram>;

/// The registry and the families the layer updates.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    calls: Family<Call, Counter>,
    latencies: Latencies,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new(None)
    }
}

impl Metrics {
    /// The metrics of a server; `live`: where the figures read at each scrape come from (none in unit
    /// tests of the layer).
    pub fn new(live: Option<Context>) -> Metrics {
        let mut registry = Registry::default();
        let calls = Family::<Call, Counter>::default();
        // Registered without `_total` and without a full stop: the encoder adds both.
        registry.register("credit_rpc_calls", "Calls answered, by method and gRPC status code", calls.clone());
        let latencies: Latencies = Family::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register("credit_rpc_duration_seconds", "Time to the response headers, by method", latencies.clone());
        if let Some(context) = live {
            registry.register_collector(Box::new(Live(context)));
        }
        Metrics { registry, calls, latencies }
    }

    pub fn count(&self, path: &str, code: tonic::Code) {
        let method = crate::methods::Methods::get().label(path);
        self.calls.get_or_create(&Call { method, code: format!("{code:?}") }).inc();
    }

    pub fn time(&self, path: &str, seconds: f64) {
        let method = crate::methods::Methods::get().label(path);
        self.latencies.get_or_create(&Method { method }).observe(seconds);
    }

    /// The exposition, as scraped.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Figures read from the server at each scrape.
#[derive(Debug)]
struct Live(Context);

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let context = &self.0;
        let mut family = encoder.encode_descriptor(
            "credit_rate_limited",
            "Calls refused by the per-caller rate limits, by role.",
            None,
            MetricType::Counter,
        )?;
        for (role, count) in context.limits.rejections() {
            ConstCounter::new(count).encode(family.encode_family(&RoleLabel { role })?)?;
        }
        let mut family = encoder.encode_descriptor(
            "credit_work_abandoned",
            "Admitted work dropped because its caller was gone (deadline passed or hung up), by when: queued \
             (never ran) or running (stopped at its next step).",
            None,
            MetricType::Counter,
        )?;
        for (when, count) in context.admission.abandoned_counts() {
            ConstCounter::new(count).encode(family.encode_family(&WhenLabel { when: when.as_str() })?)?;
        }
        use credit_core::engine::Engine;
        let platform = &context.platform;
        let gauges = [
            ("credit_store_size_bytes", "Size of the store's files on disk.", platform.store().engine().size_on_disk()),
            ("credit_index_documents", "Subjects in the search index.", platform.indexed_subjects()),
            (
                "credit_feed_end",
                "The sequence number the next change-feed event will get.",
                platform.store().feed_end().unwrap_or(0),
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

/// Serves `GET /metrics` on `listener` until the task is aborted; anything else is 404.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let scrape = move || {
        let metrics = metrics.clone();
        async move {
            // Reading the sizes touches the store: off the executor.
            match tokio::task::spawn_blocking(move || metrics.render()).await {
                Ok(Ok(body)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
                _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
    };
    let router = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "try GET /metrics\n") });
    if let Err(error) = axum::serve(listener, router).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

#[derive(Debug, Clone)]
pub struct MetricsLayer(pub Arc<Metrics>);

impl<S> tower_layer::Layer<S> for MetricsLayer {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted { inner, metrics: self.0.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for Counted<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: http_body::Body + Unpin,
{
    type Response = http::Response<CountedBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_string();
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await;
            metrics.time(&method, started.elapsed().as_secs_f64());
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    metrics.count(&method, tonic::Code::Unknown);
                    return Err(error);
                }
            };
            // Answered with a status in the headers (a refusal, a handler's error): counted now.
            // Otherwise the status comes in the trailers, at the end of the body.
            let pending = match status_of(response.headers()) {
                Some(code) => {
                    metrics.count(&method, code);
                    None
                }
                None => Some(Pending { metrics, method }),
            };
            Ok(response.map(|inner| CountedBody { inner, pending }))
        })
    }
}

/// The `grpc-status` a header map carries, if any.
fn status_of(headers: &http::HeaderMap) -> Option<tonic::Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
    Some(tonic::Code::from(value))
}

/// A call whose status is not known yet.
#[derive(Debug)]
struct Pending {
    metrics: Arc<Metrics>,
    method: String,
}

/// A response body that counts its call when the status arrives in the trailers; a body dropped
/// before them (the client went away mid-stream) counts as `Cancelled`, one that ends without them as
/// `Ok`.
#[derive(Debug)]
pub struct CountedBody<B> {
    inner: B,
    pending: Option<Pending>,
}

impl<B> CountedBody<B> {
    fn finish(&mut self, code: tonic::Code) {
        if let Some(pending) = self.pending.take() {
            pending.metrics.count(&pending.method, code);
        }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = status_of(trailers).unwrap_or(tonic::Code::Ok);
                    self.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(tonic::Code::Unknown),
            Poll::Ready(None) => self.finish(tonic::Code::Ok),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for CountedBody<B> {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames of a response body, for polling by hand.
    struct Frames(Vec<http_body::Frame<&'static [u8]>>);

    impl http_body::Body for Frames {
        type Data = &'static [u8];
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut TaskContext<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            Poll::Ready(if self.0.is_empty() { None } else { Some(Ok(self.0.remove(0))) })
        }
    }

    fn counted(metrics: &Arc<Metrics>, frames: Vec<http_body::Frame<&'static [u8]>>) -> CountedBody<Frames> {
        let pending = Pending { metrics: metrics.clone(), method: "/credit.v1.FeedService/Follow".into() };
        CountedBody { inner: Frames(frames), pending: Some(pending) }
    }

    fn drain(body: &mut CountedBody<Frames>) {
        use http_body::Body;
        let mut cx = TaskContext::from_waker(std::task::Waker::noop());
        while let Poll::Ready(Some(_)) = Pin::new(&mut *body).poll_frame(&mut cx) {}
    }

    #[test]
    fn statuses_in_trailers_are_counted_and_a_dropped_stream_is_cancelled() {
        let metrics = Arc::new(Metrics::default());
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("13"));
        let mut failed =
            counted(&metrics, vec![http_body::Frame::data(&b"event"[..]), http_body::Frame::trailers(trailers)]);
        drain(&mut failed);
        drop(failed);
        let mut ok = http::HeaderMap::new();
        ok.insert("grpc-status", http::HeaderValue::from_static("0"));
        let mut done = counted(&metrics, vec![http_body::Frame::trailers(ok)]);
        drain(&mut done);
        drop(done);
        drop(counted(&metrics, vec![http_body::Frame::data(&b"event"[..])]));
        let body = metrics.render().expect("render");
        for code in ["Internal", "Ok", "Cancelled"] {
            let line = format!("credit_rpc_calls_total{{method=\"/credit.v1.FeedService/Follow\",code=\"{code}\"}} 1");
            assert!(body.lines().any(|l| l == line), "{line} in\n{body}");
        }
        assert_eq!(
            body.lines().filter(|l| l.starts_with("credit_rpc_calls_total")).count(),
            3,
            "each call counted once"
        );
    }

    #[test]
    fn labels_come_from_the_method_list_and_are_escaped() {
        let metrics = Metrics::default();
        metrics.count("/credit.v1.SubjectService/GetSubject", tonic::Code::Ok);
        for hostile in ["/credit.v1.X\"} 1\nevil", "/a", "/credit.v1.SubjectService/GetSubject2"] {
            metrics.count(hostile, tonic::Code::Unimplemented);
        }
        let body = metrics.render().expect("render");
        let mut labels: Vec<&str> = body
            .lines()
            .filter_map(|l| l.strip_prefix("credit_rpc_calls_total{method=\""))
            .filter_map(|l| l.split('"').next())
            .collect();
        labels.sort_unstable();
        assert_eq!(labels, ["/credit.v1.SubjectService/GetSubject", "unknown"], "{body}");
        assert!(!body.contains("evil"), "{body}");
    }
}
