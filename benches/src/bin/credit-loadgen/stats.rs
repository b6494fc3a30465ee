//! What a run measured: latencies of OK responses in an HDR histogram, and a count per status code.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies from 1 µs to 60 s, to three significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

#[derive(Debug, Clone)]
pub struct Stats {
    /// Microseconds, OK responses only: a refusal's speed says nothing of the service's.
    latency: Histogram<u64>,
    codes: BTreeMap<&'static str, u64>,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats { latency: histogram(), codes: BTreeMap::new() }
    }
}

impl Stats {
    pub fn record(&mut self, code: tonic::Code, latency: Duration) {
        *self.codes.entry(code_name(code)).or_default() += 1;
        if code == tonic::Code::Ok {
            self.latency.saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1));
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        for (code, count) in &other.codes {
            *self.codes.entry(code).or_default() += count;
        }
    }

    pub fn ok(&self) -> u64 {
        self.codes.get("OK").copied().unwrap_or(0)
    }

    pub fn requests(&self) -> u64 {
        self.codes.values().sum()
    }

    /// The figures of a run that took `elapsed`; `items_per_call` counts the entries of a batch.
    pub fn summary(&self, elapsed: Duration, items_per_call: u64) -> Summary {
        let ms = |quantile: f64| self.latency.value_at_quantile(quantile) as f64 / 1000.0;
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let rps = self.ok() as f64 / seconds;
        Summary {
            seconds: round(seconds, 3),
            requests: self.requests(),
            ok: self.ok(),
            rps: round(rps, 1),
            items_per_second: (items_per_call > 1).then(|| round(rps * items_per_call as f64, 1)),
            p50_ms: round(ms(0.50), 3),
            p90_ms: round(ms(0.90), 3),
            p99_ms: round(ms(0.99), 3),
            p999_ms: round(ms(0.999), 3),
            max_ms: round(self.latency.max() as f64 / 1000.0, 3),
            mean_ms: round(self.latency.mean() / 1000.0, 3),
            codes: self.codes.iter().map(|(code, count)| (code.to_string(), *count)).collect(),
        }
    }
}

/// The figures `--json` prints (with the run's settings beside them).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seconds: f64,
    pub requests: u64,
    pub ok: u64,
    /// OK responses per second.
    pub rps: f64,
    /// Batch workloads: entries answered per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_per_second: Option<f64>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Responses per gRPC status code name (`OK`, `RESOURCE_EXHAUSTED`, …).
    pub codes: BTreeMap<String, u64>,
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// The canonical gRPC name of a status code, as the gRPC specification spells it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_count_ok_responses_and_codes_count_all() {
        let mut stats = Stats::default();
        for ms in 1..=100u64 {
            stats.record(tonic::Code::Ok, Duration::from_millis(ms));
        }
        stats.record(tonic::Code::ResourceExhausted, Duration::from_micros(5));
        let mut other = Stats::default();
        other.record(tonic::Code::Ok, Duration::from_millis(1000));
        stats.merge(&other);
        let summary = stats.summary(Duration::from_secs(2), 1);
        assert_eq!((summary.requests, summary.ok), (102, 101));
        assert_eq!(summary.rps, 50.5, "OK responses only");
        assert!((summary.p50_ms - 51.0).abs() < 0.1, "{summary:?}");
        assert!((summary.p99_ms - 100.0).abs() < 0.1, "{summary:?}");
        assert!((summary.max_ms - 1000.0).abs() < 1.0, "{summary:?}");
        assert_eq!(summary.codes["RESOURCE_EXHAUSTED"], 1);
        assert_eq!(summary.items_per_second, None);
        assert_eq!(stats.summary(Duration::from_secs(1), 1000).items_per_second, Some(101_000.0));
    }

    #[test]
    fn code_names_are_the_specification_s() {
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::Unauthenticated), "UNAUTHENTICATED");
        assert_eq!(code_name(tonic::Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
    }
}
