//! `credit-server serve --demo` and `credit-server keys`, as processes: what `make demo` runs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use credit_proto::v1 as pb;
use credit_proto::v1::subject_service_client::SubjectServiceClient;
use serde_json::Value;
use tonic::{Code, Request};

use crate::commands::{last_json, run};

const COMPANY: &str = "91140302749578410B";

struct Process {
    child: Child,
    addr: String,
    logs: mpsc::Receiver<String>,
}

/// Starts `serve` with JSON logs and waits for the line that says where it listens.
fn serve(data: &Path, extra: &[&str]) -> Process {
    let mut args = vec!["--log-json", "serve", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_credit-server"))
        .args(&args)
        .current_dir(std::env::temp_dir())
        .env_remove("CREDIT_DATA_DIR")
        .env_remove("CREDIT_LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("credit-server starts");
    let stderr = child.stderr.take().unwrap();
    let (send, logs) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let Ok(line) = logs.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server never logged its address");
        };
        let Ok(entry) = serde_json::from_str::<Value>(&line) else { continue };
        if entry["fields"]["message"].as_str().is_some_and(|m| m.starts_with("serving")) {
            let addr = entry["fields"]["addr"].as_str().unwrap().to_string();
            return Process { child, addr, logs };
        }
    }
}

impl Process {
    /// SIGTERM, then the exit status and every remaining log line.
    fn terminate(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        (exit, self.logs.try_iter().collect())
    }
}

/// A failed test must not leave a server running.
impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn get_subject(addr: &str, token: Option<&str>, view: pb::View) -> Result<pb::GetSubjectResponse, tonic::Status> {
    let mut client = SubjectServiceClient::connect(format!("http://{addr}")).await.unwrap();
    let mut request =
        Request::new(pb::GetSubjectRequest { identifier: COMPANY.into(), view: view as i32, ..Default::default() });
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    client.get_subject(request).await.map(tonic::Response::into_inner)
}

fn keys(data: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["keys", "--data-dir", data.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&all)
}

// Several threads: the clients' connections must keep running while the test waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serve_keys_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("not-yet-there");

    let mut server = serve(&data, &["--demo"]);
    let token_file = data.join("demo-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(data.join("keys.json")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let demo_token = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    let got = get_subject(&server.addr, Some(&demo_token), pb::View::Regulator).await.unwrap();
    assert_eq!(got.subject.unwrap().code, COMPANY);
    let public = get_subject(&server.addr, None, pb::View::Unspecified).await.unwrap();
    assert_eq!(public.view, pb::View::Public as i32);

    // A key created while the server runs works within the reload interval; revoked, it stops.
    let created = keys(&data, &["create", "--role", "regulator", "--label", "integration test"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let created = last_json(&created);
    let token = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["role"], "regulator");
    let mut accepted = false;
    for _ in 0..50 {
        if get_subject(&server.addr, Some(&token), pb::View::Regulator).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted, "a new key is picked up by the running server");
    let listed = keys(&data, &["list"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(listed.lines().count(), 2, "the demo key and the new one");
    assert!(!listed.contains(&token) && !listed.contains(&demo_token) && !listed.contains("\"token\""));
    assert!(keys(&data, &["revoke", &id]).status.success());
    let mut refused = None;
    for _ in 0..50 {
        if let Err(status) = get_subject(&server.addr, Some(&token), pb::View::Regulator).await {
            refused = Some(status.code());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused, Some(Code::Unauthenticated));
    let usage = keys(&data, &["create", "--role", "provider"]);
    assert_eq!(usage.status.code(), Some(1), "a provider key needs --dept");
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--dept"));

    let (exit, logs) = server.terminate();
    assert!(exit.success(), "SIGTERM is a clean stop: {exit:?} {logs:?}");
    assert!(logs.iter().any(|l| l.contains("store closed")), "{logs:?}");
    let first = last_json(&run(&["stats", "--data-dir", data.to_str().unwrap()]));
    assert!(first["batches"].as_u64().unwrap() >= 4, "one batch per kind of demo file (and the day's sweep)");

    // Started again: the data is not loaded twice and the demo token still works.
    let mut server = serve(&data, &["--demo"]);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), demo_token);
    get_subject(&server.addr, Some(&demo_token), pb::View::Regulator).await.unwrap();
    let (exit, _) = server.terminate();
    assert!(exit.success());
    let stats = run(&["stats", "--data-dir", data.to_str().unwrap()]);
    let second = last_json(&stats);
    assert_eq!(second["records"], first["records"], "the demo data is loaded once");
    assert_eq!(second["batches"], first["batches"], "and nothing else was written: the day is swept once");
}

#[test]
fn serve_refuses_a_bad_config_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "request_timeout_ms = 0\n").unwrap();
    let out = run(&["serve", "--config", config.to_str().unwrap(), "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("request_timeout_ms"), "{stderr}");
}

#[test]
fn subject_keys_are_bound_to_one_valid_unified_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created = keys(&data, &["create", "--role", "subject", "--code", "91140302749578410b", "--label", "隆合餐饮"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let created = last_json(&created);
    assert_eq!((created["role"].as_str(), created["subject_code"].as_str()), (Some("subject"), Some(COMPANY)));
    for (args, needle) in [
        (vec!["create", "--role", "subject"], "--code"),
        (vec!["create", "--role", "subject", "--code", "91140302749578410C"], "check"),
        (vec!["create", "--role", "regulator", "--code", COMPANY], "only a subject key"),
    ] {
        let refused = keys(&data, &args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let listed = String::from_utf8(keys(&data, &["list"]).stdout).unwrap();
    assert_eq!(listed.lines().count(), 1, "refused keys are not written: {listed}");
}
