//! `credit-loadgen` and `credit-echo-server` as processes, against a real `credit-server` on a real socket
//! (127.0.0.1:0) with the demo data.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// A real server with the demo data (and the signing key `--demo` creates), served from a thread of its
/// own until dropped.
struct DemoServer {
    addr: std::net::SocketAddr,
    token: String,
    _server: credit_server::ServerThread,
    _dir: tempfile::TempDir,
}

fn demo_server() -> DemoServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = credit_server::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().join("data"),
        ..credit_server::Config::default()
    };
    let server =
        credit_server::ServerThread::start(credit_server::ServeOptions { config, demo: true }).expect("starts");
    let token = std::fs::read_to_string(server.data_dir.join("demo-token")).expect("demo token").trim().to_string();
    DemoServer { addr: server.addr, token, _server: server, _dir: dir }
}

/// `credit-echo-server` on a free loopback port; killed when dropped.
struct EchoServer {
    child: Child,
    addr: String,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn echo_server() -> EchoServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_credit-echo-server"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("echo server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("address line");
    let announced: Value = serde_json::from_str(&line).expect("one JSON object");
    let addr = announced["listen"].as_str().expect("listen").to_string();
    EchoServer { child, addr }
}

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credit-loadgen"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("CREDIT_TOKEN")
        .output()
        .expect("credit-loadgen runs")
}

/// The JSON object on the last line of stdout.
fn report(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last =
        stdout.lines().last().unwrap_or_else(|| panic!("no output: {}", String::from_utf8_lossy(&output.stderr)));
    serde_json::from_str(last).expect("the last line is one JSON object")
}

fn assert_figures(report: &Value) {
    for key in ["rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "ok", "codes"] {
        assert!(report.get(key).is_some(), "{key} missing: {report}");
    }
    let (p50, p99) = (report["p50_ms"].as_f64().expect("p50"), report["p99_ms"].as_f64().expect("p99"));
    assert!(p50 > 0.0 && p50 <= p99, "{report}");
}

#[test]
fn echo_closed_and_open_loop() {
    let echo = echo_server();
    let out = loadgen(&["--target", &echo.addr, "--workload", "echo", "--requests", "300", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let closed = report(&out);
    assert_figures(&closed);
    assert_eq!((closed["ok"].as_u64(), closed["requests"].as_u64()), (Some(300), Some(300)), "{closed}");
    assert_eq!(closed["codes"], serde_json::json!({ "OK": 300 }));
    assert_eq!(closed["mode"], "closed");
    assert!(closed["rps"].as_f64().expect("rps") > 0.0);

    // Open loop: 200 calls a second for one second, scheduled, not as fast as possible.
    let out = loadgen(&["--target", &echo.addr, "--workload", "echo", "--rate", "200", "--duration", "1", "--json"]);
    let open = report(&out);
    assert_eq!(open["mode"], "open");
    let sent = open["requests"].as_u64().expect("requests");
    assert!((190..=200).contains(&sent), "{open}");
    assert!(open["rps"].as_f64().expect("rps") < 260.0, "paced at the rate: {open}");

    let text = loadgen(&["--target", &format!("http://{}", echo.addr), "--workload", "echo", "--requests", "20"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("OK/s") && text.contains("p99.9") && text.contains("status codes: OK 20"), "{text}");
}

#[test]
fn every_service_workload_runs_against_the_server() {
    let server = demo_server();
    let target = server.addr.to_string();
    let token = server.token.as_str();
    for (workload, extra) in [
        ("get-subject", &[][..]),
        ("search", &[][..]),
        ("check", &[][..]),
        ("batch-check", &["--batch-size", "10"][..]),
        ("report", &[][..]),
        ("health", &[][..]),
    ] {
        let args =
            // Within the server's cap on calls in flight (twice its blocking threads): beyond it, calls are
            // shed by design (UNAVAILABLE), which this test is not about.
            [
                &["--target", &target, "--workload", workload, "--requests", "40", "--concurrency", "4", "--token", token, "--json"][..],
                extra,
            ]
            .concat();
        let out = loadgen(&args);
        assert_eq!(out.status.code(), Some(0), "{workload}: {}", String::from_utf8_lossy(&out.stderr));
        let figures = report(&out);
        assert_figures(&figures);
        assert_eq!(figures["codes"], serde_json::json!({ "OK": 40 }), "{workload}: {figures}");
        assert_eq!(figures["workload"], workload);
        if workload == "batch-check" {
            let (rps, entries) =
                (figures["rps"].as_f64().unwrap_or(0.0), figures["items_per_second"].as_f64().unwrap_or(0.0));
            assert!((entries - rps * 10.0).abs() < 1.0, "{figures}");
        }
    }
}

#[test]
fn refusals_are_counted_by_code_and_rps_counts_ok_only() {
    let server = demo_server();
    let target = server.addr.to_string();
    // A check without a key is refused as such (before the anonymous bucket below is spent).
    let out = loadgen(&["--target", &target, "--workload", "check", "--requests", "5", "--json"]);
    assert_eq!(out.status.code(), Some(1), "no OK response at all");
    assert_eq!(report(&out)["codes"], serde_json::json!({ "UNAUTHENTICATED": 5 }));

    // Anonymous callers may make 20 calls a second (a burst of 40): most of 300 quick ones are refused.
    let out = loadgen(&[
        "--target",
        &target,
        "--workload",
        "get-subject",
        "--requests",
        "300",
        "--concurrency",
        "4",
        "--json",
    ]);
    let figures = report(&out);
    let (ok, refused) =
        (figures["ok"].as_u64().unwrap_or(0), figures["codes"]["RESOURCE_EXHAUSTED"].as_u64().unwrap_or(0));
    assert!(ok >= 1 && refused >= 200 && ok + refused == 300, "{figures}");
    let seconds = figures["seconds"].as_f64().expect("seconds");
    let rps = figures["rps"].as_f64().expect("rps");
    assert!((rps - ok as f64 / seconds).abs() / rps < 0.02, "OK calls only: {figures}");
}

#[test]
fn a_generated_dataset_is_drawn_from() {
    let server = demo_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/demo/subjects.csv")).expect("demo");
    let head: Vec<&str> = demo.lines().take(4).collect();
    std::fs::write(dir.path().join("subjects.csv"), head.join("\n") + "\n").expect("write");
    let dataset = dir.path().to_str().expect("path");
    let args =
        ["--target", &server.addr.to_string(), "--workload", "get-subject", "--requests", "30", "--dataset", dataset];
    let out = loadgen(&[&args[..], &["--token", &server.token, "--json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 subjects to draw from"));

    let missing = loadgen(&["--target", &server.addr.to_string(), "--workload", "search", "--dataset", "/nonexistent"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/subjects.csv"));
}

#[test]
fn usage_errors_exit_2_and_nothing_off_this_machine_is_targeted() {
    for args in [
        &["--target", "10.1.2.3:50051", "--workload", "echo"][..],
        &["--target", "192.168.0.10:50051", "--workload", "echo", "--requests", "1"][..],
        &["--target", "127.0.0.1:50051", "--workload", "echo", "--duration", "0"][..],
        &["--target", "127.0.0.1:50051", "--workload", "echo", "--duration", "100000"][..],
        &["--target", "127.0.0.1:50051", "--workload", "echo", "--rate", "-5"][..],
        &["--target", "127.0.0.1:50051", "--workload", "nonsense"][..],
        &["--workload", "echo"][..],
    ] {
        let out = loadgen(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let outside = loadgen(&["--target", "10.1.2.3:50051", "--workload", "echo"]);
    assert!(String::from_utf8_lossy(&outside.stderr).contains("not a loopback address"));

    let echo =
        Command::new(env!("CARGO_BIN_EXE_credit-echo-server")).args(["--listen", "0.0.0.0:0"]).output().expect("runs");
    assert_eq!(echo.status.code(), Some(2), "the echo server binds loopback only");
}
