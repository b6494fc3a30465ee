//! `credit-loadgen`: a bounded load generator for `credit-server` and `credit-echo-server` on this
//! machine. Closed loop (`--concurrency` calls in flight, each sent when the previous one answered) or
//! open loop (`--rate` calls per second on a fixed schedule, latency counted from when each call was
//! due, so a stalled server is not hidden). Targets loopback addresses only; stops after `--duration`
//! seconds or `--requests` calls, whichever comes first.
//!
//! Prints throughput (OK responses per second), latency percentiles of OK responses (HDR histogram),
//! and a count per gRPC status code; `--json`: one JSON object on the last line of stdout.

mod stats;
mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Serialize;
use tonic::transport::Endpoint;

use crate::stats::{Stats, Summary};
use crate::workload::{Caller, Pool, Workload, mix};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The longest run allowed: load loops here are bounded.
const MAX_SECONDS: u64 = 3600;

#[derive(Debug, Parser)]
#[command(name = "credit-loadgen", about = "Bounded gRPC load generator for credit-server (loopback only)")]
struct Args {
    /// The server: `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT` or `http://127.0.0.1:PORT`.
    #[arg(long)]
    target: String,
    #[arg(long, value_enum)]
    workload: Workload,
    /// Stop after this many seconds (default 10 when --requests is not given either).
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many calls.
    #[arg(long)]
    requests: Option<u64>,
    /// HTTP/2 connections (channels) to open.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Calls in flight at once (closed loop), or at most in flight (open loop).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open loop: calls per second, on a fixed schedule. Without it: closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of load before measuring (connections warm, caches filled).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Draw subjects from DIR/subjects.csv (`credit-fixtures --out DIR`) instead of the demo fixtures.
    #[arg(long, value_name = "DIR")]
    dataset: Option<PathBuf>,
    /// API key for the role to call as (a regulator key for check and batch-check); anonymous without.
    #[arg(long, env = "CREDIT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Approval item of check and batch-check.
    #[arg(long, default_value = "GOV_PROCUREMENT")]
    item: String,
    /// Requesting department of check and batch-check (empty: the key's own).
    #[arg(long, default_value = "市财政局")]
    department: String,
    /// Entries per batch-check call.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Bytes of payload per echo call (an identifier's length by default).
    #[arg(long, default_value_t = 18)]
    payload_bytes: usize,
    /// Per-call deadline in milliseconds; calls past it count as DEADLINE_EXCEEDED.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// One JSON object on the last line of stdout instead of text.
    #[arg(long)]
    json: bool,
    /// `get-subject`, `check` and `batch-check`: ask for the typed answer only (`omit_json`), not the
    /// JSON copy of the page or result.
    #[arg(long)]
    omit_json: bool,
}

/// What `--json` prints: the run's settings and its figures.
#[derive(Debug, Serialize)]
struct Report {
    workload: &'static str,
    target: String,
    mode: &'static str,
    connections: usize,
    concurrency: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
    #[serde(flatten)]
    summary: Summary,
}

/// When a run stops: at a deadline, after a number of calls, or both.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    until: Instant,
    requests: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (target, bounds) = match check_args(&args) {
        Ok(checked) => checked,
        Err(error) => {
            eprintln!("credit-loadgen: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("credit-loadgen: error: starting the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&args, target, bounds)) {
        Ok(report) => {
            print(&args, &report);
            if report.summary.ok == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Err(error) => {
            eprintln!("credit-loadgen: error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Usage errors: a target off this machine, no bound, nonsense numbers. The target's address and the
/// run's bounds (seconds, calls) otherwise.
fn check_args(args: &Args) -> Result<(SocketAddr, (f64, u64))> {
    let target = loopback_target(&args.target)?;
    if args.connections == 0 || args.concurrency == 0 || args.batch_size == 0 {
        bail!("--connections, --concurrency and --batch-size must be at least 1");
    }
    if let Some(rate) = args.rate
        && !(rate > 0.0 && rate.is_finite())
    {
        bail!("--rate: {rate} is not a positive number of calls per second");
    }
    let seconds = match (args.duration, args.requests) {
        (None, None) => 10.0,
        (Some(d), _) => d,
        (None, Some(_)) => MAX_SECONDS as f64,
    };
    let valid_duration = seconds > 0.0 && seconds <= MAX_SECONDS as f64;
    let valid_warmup = (0.0..=MAX_SECONDS as f64).contains(&args.warmup);
    if !(valid_duration && valid_warmup) {
        bail!("--duration and --warmup: between 0 and {MAX_SECONDS} seconds");
    }
    Ok((target, (seconds, args.requests.unwrap_or(u64::MAX))))
}

/// The target's socket address, refused unless every address it names is a loopback one.
fn loopback_target(target: &str) -> Result<SocketAddr> {
    let host_port = target.strip_prefix("http://").unwrap_or(target).trim_end_matches('/');
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .with_context(|| format!("--target {target:?}: not host:port"))?
        .collect();
    match addrs.iter().find(|a| !a.ip().is_loopback()) {
        Some(outside) => bail!(
            "--target {target}: {outside} is not a loopback address; the load generator only targets this machine"
        ),
        None => addrs.first().copied().with_context(|| format!("--target {target:?}: no address")),
    }
}

async fn run(args: &Args, target: SocketAddr, (seconds, requests): (f64, u64)) -> Result<Report> {
    let pool = Arc::new(match args.workload {
        Workload::Echo | Workload::Health => Pool::load(None)?,
        _ => Pool::load(args.dataset.as_deref())?,
    });
    let callers = connect(args, target).await?;
    eprintln!(
        "credit-loadgen: {} against {target}: {} connections, {} in flight, {} subjects to draw from",
        args.workload.name(),
        callers.len(),
        args.concurrency,
        pool.len()
    );
    if args.warmup > 0.0 {
        let until = Instant::now() + Duration::from_secs_f64(args.warmup);
        closed_loop(&callers, &pool, args.concurrency, Bounds { until, requests: u64::MAX }, 1).await;
    }
    let started = Instant::now();
    let bounds = Bounds { until: started + Duration::from_secs_f64(seconds), requests };
    let stats = match args.rate {
        None => closed_loop(&callers, &pool, args.concurrency, bounds, 2).await,
        Some(rate) => open_loop(&callers, &pool, args.concurrency, bounds, rate).await,
    };
    let items = if args.workload == Workload::BatchCheck { args.batch_size as u64 } else { 1 };
    Ok(Report {
        workload: args.workload.name(),
        target: target.to_string(),
        mode: if args.rate.is_some() { "open" } else { "closed" },
        connections: args.connections,
        concurrency: args.concurrency,
        rate: args.rate,
        summary: stats.summary(started.elapsed(), items),
    })
}

async fn connect(args: &Args, target: SocketAddr) -> Result<Vec<Arc<Caller>>> {
    let authorization = match args.token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => Some(format!("Bearer {token}").parse().context("--token: not a valid header value")?),
        None => None,
    };
    let mut callers = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let channel = Endpoint::from_shared(format!("http://{target}"))?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("connecting to {target}"))?;
        callers.push(Arc::new(Caller {
            channel,
            authorization: authorization.clone(),
            workload: args.workload,
            item: args.item.clone(),
            department: args.department.clone(),
            batch_size: args.batch_size,
            payload: vec![b'x'; args.payload_bytes],
            timeout: Duration::from_millis(args.timeout_ms),
            omit_json: args.omit_json,
        }));
    }
    Ok(callers)
}

/// `concurrency` workers, each sending its next call when the last one answered.
async fn closed_loop(
    callers: &[Arc<Caller>],
    pool: &Arc<Pool>,
    concurrency: usize,
    bounds: Bounds,
    seed: u64,
) -> Stats {
    let issued = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let caller = callers[worker % callers.len()].clone();
        let (pool, issued) = (pool.clone(), issued.clone());
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            while Instant::now() < bounds.until {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= bounds.requests {
                    break;
                }
                let sent = Instant::now();
                let code = caller.call(&pool, mix(seed, n)).await;
                stats.record(code, sent.elapsed());
            }
            stats
        }));
    }
    let mut total = Stats::default();
    for worker in workers {
        if let Ok(stats) = worker.await {
            total.merge(&stats);
        }
    }
    total
}

/// Calls due every `1/rate` seconds, at most `concurrency` in flight; a call that had to wait for a free
/// slot counts its wait in its latency.
async fn open_loop(callers: &[Arc<Caller>], pool: &Arc<Pool>, concurrency: usize, bounds: Bounds, rate: f64) -> Stats {
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let start = tokio::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..bounds.requests {
        let due = start + Duration::from_secs_f64(n as f64 / rate);
        if due.into_std() >= bounds.until {
            break;
        }
        tokio::time::sleep_until(due).await;
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        let caller = callers[(n as usize) % callers.len()].clone();
        let (pool, stats) = (pool.clone(), stats.clone());
        calls.spawn(async move {
            let code = caller.call(&pool, mix(3, n)).await;
            let latency = due.elapsed();
            drop(slot);
            stats.lock().unwrap_or_else(|e| e.into_inner()).record(code, latency);
        });
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
    stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn print(args: &Args, report: &Report) {
    if args.json {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
        return;
    }
    let s = &report.summary;
    println!(
        "{} ({} loop{}) against {}: {} calls in {:.2} s, {} OK: {:.1} OK/s",
        report.workload,
        report.mode,
        report.rate.map(|r| format!(" at {r}/s")).unwrap_or_default(),
        report.target,
        s.requests,
        s.seconds,
        s.ok,
        s.rps
    );
    if let Some(items) = s.items_per_second {
        println!("  {items:.1} entries/s");
    }
    println!(
        "  latency of OK calls (ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}",
        s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms
    );
    let codes: Vec<String> = s.codes.iter().map(|(code, count)| format!("{code} {count}")).collect();
    println!("  status codes: {}", codes.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(loopback_target("127.0.0.1:50051").is_ok());
        assert!(loopback_target("http://127.0.0.1:50051").is_ok());
        assert!(loopback_target("[::1]:50051").is_ok());
        for outside in ["10.0.0.1:50051", "192.168.1.1:80", "8.8.8.8:53", "0.0.0.0:50051"] {
            let error = loopback_target(outside).expect_err(outside);
            assert!(error.to_string().contains("not a loopback address"), "{error}");
        }
        assert!(loopback_target("no-port").is_err());
    }
}
