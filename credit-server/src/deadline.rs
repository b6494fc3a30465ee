//! The per-call deadline: every unary call ends within `request_timeout_ms`, or the client's own
//! `grpc-timeout` when that is shorter, with DEADLINE_EXCEEDED. Streaming calls (uploads, the feed,
//! health watches, reflection) run as long as their client keeps them, and are bounded elsewhere; so do
//! an admin's reindex and backup ([`Methods::long_running`]).
//!
//! The layer drops the handler's future at the deadline; work the handler had handed to the blocking
//! pool and that has not started yet is then skipped ([`crate::services::Context::blocking`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tonic::codegen::http;

use crate::error::{ApiError, ErrorCode};
use crate::methods::Methods;

#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    pub limit: Duration,
}

impl<S> tower_layer::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline { inner, limit: self.limit }
    }
}

#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for Deadline<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let unbounded = Methods::get().streams(path).unwrap_or(false) || Methods::long_running(path);
        let client = request.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(parse_grpc_timeout);
        let limit = client.map_or(self.limit, |c| c.min(self.limit));
        let answer = self.inner.call(request);
        if unbounded {
            return Box::pin(answer);
        }
        Box::pin(async move {
            match tokio::time::timeout(limit, answer).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::debug!(limit_ms = limit.as_millis() as u64, "call ran past its deadline");
                    let status: tonic::Status = ApiError::new(
                        ErrorCode::DeadlineExceeded,
                        format!("the call did not finish within its deadline of {} ms", limit.as_millis()),
                    )
                    .into();
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// gRPC's `grpc-timeout` header: at most 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_and_garbage_does_not() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "m", "123456789m", "12x", "-1m", "1.5S", "１m"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
