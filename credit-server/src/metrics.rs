//! Prometheus metrics: calls by method and status code, latencies, rate-limit rejections, and the sizes
//! of the store and the index, served as text on `metrics_listen` (`GET /metrics`).
//!
//! Calls are counted by a tower layer around every service. A call's status is the `grpc-status`
//! header when the server answered with an error before any message (how tonic answers refusals and
//! handler errors); otherwise the `grpc-status` trailer at the end of the response body (a stream that
//! fails midway counts with its error), `Cancelled` when the body is dropped before its trailers (the
//! client went away). Latency is measured until the response headers: for unary calls, the whole
//! handler.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic::codegen::http;

use crate::services::Context;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Debug, Default)]
pub struct Metrics {
    calls: Mutex<BTreeMap<(String, String), u64>>,
    latencies: Mutex<BTreeMap<String, Histogram>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Metrics {
    /// Counts one call of `method` that ended with `code`.
    pub fn count(&self, path: &str, code: tonic::Code) {
        // Paths are client input: only the methods this server has get a label of their own.
        let method = crate::methods::Methods::get().label(path);
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method.into(), format!("{code:?}")))
            .or_default() += 1;
    }

    /// Records the time `method` took until its response headers.
    pub fn time(&self, path: &str, seconds: f64) {
        let method = crate::methods::Methods::get().label(path);
        let mut latencies = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        let histogram = latencies.entry(method.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[i] += 1;
            }
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// The exposition text: counters and histograms, then the gauges read now from `context`.
    pub fn render(&self, context: &Context) -> String {
        let mut out = String::new();
        out.push_str("# HELP credit_rpc_calls_total Calls answered, by method and gRPC status code.\n");
        out.push_str("# TYPE credit_rpc_calls_total counter\n");
        for ((method, code), count) in self.calls.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let (method, code) = (escape(method), escape(code));
            let _ = writeln!(out, "credit_rpc_calls_total{{method=\"{method}\",code=\"{code}\"}} {count}");
        }
        out.push_str("# HELP credit_rpc_duration_seconds Time to the response headers, by method.\n");
        out.push_str("# TYPE credit_rpc_duration_seconds histogram\n");
        for (method, histogram) in self.latencies.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let method = escape(method);
            for (bound, count) in BUCKETS.iter().zip(histogram.counts) {
                let _ =
                    writeln!(out, "credit_rpc_duration_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "credit_rpc_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(out, "credit_rpc_duration_seconds_sum{{method=\"{method}\"}} {}", histogram.sum);
            let _ = writeln!(out, "credit_rpc_duration_seconds_count{{method=\"{method}\"}} {}", histogram.count);
        }
        out.push_str("# HELP credit_rate_limited_total Calls refused by the per-caller rate limits, by role.\n");
        out.push_str("# TYPE credit_rate_limited_total counter\n");
        for (role, count) in context.limits.rejections() {
            let _ = writeln!(out, "credit_rate_limited_total{{role=\"{role}\"}} {count}");
        }
        out.push_str("# HELP credit_work_abandoned_total Admitted work dropped because its caller was gone (deadline passed or hung up), by when: queued (never ran) or running (stopped at its next step).\n");
        out.push_str("# TYPE credit_work_abandoned_total counter\n");
        for (when, count) in context.admission.abandoned_counts() {
            let _ = writeln!(out, "credit_work_abandoned_total{{when=\"{}\"}} {count}", when.as_str());
        }
        use credit_core::engine::Engine;
        let gauges = [
            (
                "credit_store_size_bytes",
                "Size of the store's files on disk.",
                context.platform.store().engine().size_on_disk(),
            ),
            ("credit_index_documents", "Subjects in the search index.", context.platform.indexed_subjects()),
            (
                "credit_feed_end",
                "The sequence number the next change-feed event will get.",
                context.platform.store().feed_end().unwrap_or(0),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

/// A label value in the exposition format: backslash, double quote and line feed escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Serves `GET /metrics` on `listener` until the task is aborted. One short HTTP/1.1 exchange per
/// connection; the rendering (RocksDB properties, an index lock) runs on the blocking pool.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, context: Context) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else { continue };
        let (metrics, context) = (metrics.clone(), context.clone());
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut request)).await;
            let Ok(Ok(length)) = read else { return };
            let wanted = request[..length].starts_with(b"GET /metrics ");
            let (status, body) = if wanted {
                match tokio::task::spawn_blocking(move || metrics.render(&context)).await {
                    Ok(body) => ("200 OK", body),
                    Err(_) => ("500 Internal Server Error", String::new()),
                }
            } else {
                ("404 Not Found", "try GET /metrics\n".to_string())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// The tower layer that counts every call.
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
        let calls = metrics.calls.lock().expect("lock");
        let method = "/credit.v1.FeedService/Follow".to_string();
        for code in ["Internal", "Ok", "Cancelled"] {
            assert_eq!(calls.get(&(method.clone(), code.to_string())), Some(&1), "{code}: {calls:?}");
        }
        assert_eq!(calls.len(), 3, "each call counted once: {calls:?}");
    }

    #[test]
    fn labels_come_from_the_method_list_and_are_escaped() {
        let metrics = Metrics::default();
        metrics.count("/credit.v1.SubjectService/GetSubject", tonic::Code::Ok);
        for hostile in ["/credit.v1.X\"} 1\nevil", "/a", "/credit.v1.SubjectService/GetSubject2"] {
            metrics.count(hostile, tonic::Code::Unimplemented);
        }
        let calls = metrics.calls.lock().expect("lock");
        let labels: Vec<&str> = calls.keys().map(|(m, _)| m.as_str()).collect();
        assert_eq!(labels, ["/credit.v1.SubjectService/GetSubject", "unknown"]);
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
