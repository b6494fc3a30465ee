//! Signed reports and the audit log through the real server: reports verify with the published keys
//! (also in an independent implementation, Python's `cryptography` and `blake3`), keys rotate without
//! breaking old reports, every audited call lands in the log, and tampering with the log's RocksDB
//! files is found at the right entry.

use std::path::{Path, PathBuf};
use std::process::Command;

use credit_client::{ClientConfig, CreditClient, KeySet, verify_report};
use credit_core::engine::{Cf, Engine, WriteBatch};
use credit_proto::v1 as pb;
use credit_proto::v1::audit_service_client::AuditServiceClient;
use credit_proto::v1::report_service_client::ReportServiceClient;
use credit_server::signing::SIGNING_KEY_FILE;
use credit_sign::SigningKey;
use serde_json::Value;
use tonic::Code;

use super::grpc::{COMPANY, PERSON, Server, call, reason, start_with};

/// A server whose data directory has a signing key.
async fn start_signing() -> Server {
    start_with(|config| {
        SigningKey::generate().unwrap().write_new(&config.data_dir.join(SIGNING_KEY_FILE)).unwrap();
    })
    .await
}

async fn client(server: &Server, token: Option<&str>) -> CreditClient {
    let mut config = ClientConfig::new(server.addr.to_string());
    config.token = token.map(str::to_string);
    CreditClient::connect(config).await.unwrap()
}

fn report_request(identifier: &str, view: pb::View, purpose: &str) -> pb::GetReportRequest {
    pb::GetReportRequest { identifier: identifier.into(), view: view as i32, purpose: purpose.into() }
}

fn server_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_credit-server"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs the reference verifier of docs/reports.md, which uses no code of ours.
fn python_verify(file: &Path, keys: &Path) -> std::process::Output {
    let output = Command::new("python3")
        .arg(repo_root().join("scripts/verify-report.py"))
        .arg(file)
        .arg(keys)
        .output()
        .expect("python3 runs (make test installs it with its packages)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the independent verifier needs `pip install cryptography blake3` (make test does it): {stderr}"
    );
    output
}

#[tokio::test]
async fn reports_verify_offline_and_in_an_independent_implementation() {
    let server = start_signing().await;
    let anonymous = client(&server, None).await;
    let report = anonymous.report(report_request(COMPANY, pb::View::Unspecified, "")).await.unwrap();
    assert_eq!(report.view, pb::View::Public as i32, "anonymous callers get the public view");
    let keys = anonymous.verifying_keys().await.unwrap();
    let verified = verify_report(&report.file, &keys, chrono::Utc::now()).unwrap();
    assert_eq!(verified.key_id, report.key_id);
    assert_eq!(verified.verification_code, report.verification_code);
    assert_eq!(verified.report["report_number"], report.report_number.as_str());
    assert_eq!(verified.report["subject"]["name"], super::grpc::COMPANY_NAME);
    let black = verified.report["black_lists"].as_array().unwrap();
    assert!(black.is_empty(), "the company itself is on no list: {black:?}");
    let evaluation = &verified.report["evaluation"];
    assert_eq!(evaluation["grade_only"], true, "the public report shows the grade alone: {evaluation}");
    assert!(evaluation["grade"].is_string() && evaluation.get("indicators").is_none(), "{evaluation}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&file, &report.file).unwrap();
    std::fs::write(&keys_file, keys.to_json()).unwrap();
    let output = python_verify(&file, &keys_file);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&report.report_number));

    // One changed character of the report: both implementations refuse it.
    let altered = String::from_utf8(report.file.clone()).unwrap().replacen(
        super::grpc::COMPANY_NAME,
        "阳泉市隆合餐饮管理有限公顷",
        1,
    );
    std::fs::write(&file, &altered).unwrap();
    assert_eq!(verify_report(altered.as_bytes(), &keys, chrono::Utc::now()).unwrap_err().kind(), "digest_mismatch");
    let output = python_verify(&file, &keys_file);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("digest"), "{}", String::from_utf8_lossy(&output.stderr));
    server.shutdown().await;
}

#[tokio::test]
async fn reports_respect_views_purposes_and_a_missing_key() {
    let server = start_signing().await;
    let mut reports = ReportServiceClient::new(server.channel.clone());
    let regulator = Some(server.tokens.regulator.as_str());

    let refused =
        reports.get_report(call(report_request(PERSON, pb::View::Regulator, ""), regulator)).await.unwrap_err();
    assert_eq!(reason(&refused), "PURPOSE_REQUIRED");
    let denied = reports.get_report(call(report_request(COMPANY, pb::View::Regulator, ""), None)).await.unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);

    let person = reports
        .get_report(call(report_request(PERSON, pb::View::Regulator, "行政许可审查"), regulator))
        .await
        .unwrap()
        .into_inner();
    let value: Value = serde_json::from_slice(&person.file).unwrap();
    assert_eq!(value["report"]["view"], "regulator");
    assert_eq!(value["report"]["subject"]["identifiers"][0]["value"], PERSON, "regulators see the ID number");
    let listed = value["report"]["black_lists"].as_array().unwrap();
    assert!(!listed.is_empty() && !listed[0]["measures"].as_array().unwrap().is_empty(), "{listed:?}");
    assert!(value["report"].get("evaluation").is_none(), "natural persons are outside the model's scope");
    let company = reports
        .get_report(call(report_request(COMPANY, pb::View::Regulator, ""), regulator))
        .await
        .unwrap()
        .into_inner();
    let value: Value = serde_json::from_slice(&company.file).unwrap();
    let evaluation = &value["report"]["evaluation"];
    assert!(
        evaluation["score"].is_i64() && evaluation["indicators"].is_array(),
        "the regulator's in full: {evaluation}"
    );

    let public =
        reports.get_report(call(report_request(PERSON, pb::View::Public, ""), None)).await.unwrap().into_inner();
    let value: Value = serde_json::from_slice(&public.file).unwrap();
    assert_ne!(value["report"]["subject"]["identifiers"][0]["value"], PERSON, "masked in the public view");
    server.shutdown().await;

    let unsigned = start_with(|_| {}).await;
    let mut reports = ReportServiceClient::new(unsigned.channel.clone());
    let status = reports.get_report(call(report_request(COMPANY, pb::View::Public, ""), None)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "SIGNING_UNAVAILABLE"));
    unsigned.shutdown().await;
}

/// Regulator reads of persons, checks, reports and key changes are in the log, queryable by admins
/// only, chained as stored.
#[tokio::test]
async fn audited_calls_are_in_the_log_for_admins() {
    let server = start_signing().await;
    let regulator = Some(server.tokens.regulator.as_str());
    let mut subjects = credit_proto::v1::subject_service_client::SubjectServiceClient::new(server.channel.clone());
    let mut read =
        pb::GetSubjectRequest { identifier: PERSON.into(), view: pb::View::Regulator as i32, ..Default::default() };
    read.purpose = "失信联合惩戒核查".into();
    subjects.get_subject(call(read, regulator)).await.unwrap();
    let mut checks = credit_proto::v1::joint_check_service_client::JointCheckServiceClient::new(server.channel.clone());
    let check = pb::CheckRequest {
        identifier: COMPANY.into(),
        item: "GOV_PROCUREMENT".into(),
        as_of: "2026-06-01".into(),
        ..Default::default()
    };
    let checked = checks.check(call(check, regulator)).await.unwrap().into_inner().result.unwrap();
    let mut reports = ReportServiceClient::new(server.channel.clone());
    let issued =
        reports.get_report(call(report_request(COMPANY, pb::View::Public, ""), None)).await.unwrap().into_inner();

    let admin = client(&server, Some(&server.tokens.admin)).await;
    let about_person = admin
        .audit_log(pb::QueryAuditLogRequest { subject: PERSON.into(), ..Default::default() })
        .await
        .unwrap()
        .entries;
    assert_eq!(about_person.len(), 1, "{about_person:?}");
    let entry = &about_person[0];
    assert_eq!(
        (entry.operation.as_str(), entry.role.as_str(), entry.department.as_str()),
        ("subject.read", "regulator", "市财政局")
    );
    assert_eq!(entry.purpose, "失信联合惩戒核查");
    assert_eq!(entry.result, "ok");

    let check_entries = admin
        .audit_log(pb::QueryAuditLogRequest { operation: "check".into(), ..Default::default() })
        .await
        .unwrap()
        .entries;
    assert_eq!(check_entries.len(), 1);
    assert_eq!(check_entries[0].detail["item"], "GOV_PROCUREMENT");
    assert_eq!(check_entries[0].detail["check_id"], checked.check_id.to_string());
    assert_eq!(check_entries[0].detail["verdict"], "BLOCK");

    let all = admin.audit_log(pb::QueryAuditLogRequest::default()).await.unwrap().entries;
    let report_entry = all.iter().find(|e| e.operation == "report.issue").expect("the report is in the log");
    assert_eq!(report_entry.detail["report_number"], issued.report_number);
    assert_eq!(report_entry.role, "public");
    assert_eq!(report_entry.detail["peer"], "127.0.0.1", "an anonymous caller is known by its address");
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev, blake3::hash(pair[0].stored_json.as_bytes()).to_hex().to_string());
    }
    let page = admin.audit_log(pb::QueryAuditLogRequest { page_size: 1, ..Default::default() }).await.unwrap();
    assert_eq!((page.entries.len(), page.next_after), (1, page.entries[0].seq));

    let mut audit = AuditServiceClient::new(server.channel.clone());
    let denied = audit.query_audit_log(call(pb::QueryAuditLogRequest::default(), regulator)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // A key created while the server runs is written down when the server picks it up.
    let created = server_bin()
        .args(["keys", "create", "--role", "regulator", "--dept", "市税务局", "--data-dir"])
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key_id = serde_json::from_slice::<Value>(&created.stdout).unwrap()["id"].as_str().unwrap().to_string();
    let mut found = Vec::new();
    for _ in 0..50 {
        found = admin
            .audit_log(pb::QueryAuditLogRequest { operation: "api_key.create".into(), ..Default::default() })
            .await
            .unwrap()
            .entries;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "the reload writes the new key down");
    assert_eq!(found[0].detail["api_key"], key_id);

    let data = server.data.clone();
    let dir = server.shutdown().await;
    let verify = server_bin().args(["audit", "verify", "--data-dir"]).arg(&data).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let intact: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(intact["log"]["unsigned_tail"], 0, "shutdown signs the head: {intact}");
    drop(dir);
}

/// Tampering with the RocksDB files: the verify command names the entry and exits 1.
#[tokio::test]
async fn audit_verify_names_the_tampered_entry() {
    let server = start_signing().await;
    let regulator = Some(server.tokens.regulator.as_str());
    let mut checks = credit_proto::v1::joint_check_service_client::JointCheckServiceClient::new(server.channel.clone());
    for _ in 0..5 {
        let check = pb::CheckRequest { identifier: COMPANY.into(), item: "BIDDING".into(), ..Default::default() };
        checks.check(call(check, regulator)).await.unwrap();
    }
    let data = server.data.clone();
    let _dir = server.shutdown().await;

    let store = credit_core::store::Store::open_dir(&data).unwrap();
    let key = credit_core::store::keys::audit_entry(3);
    let entry = store.engine().get(Cf::Audit, &key).unwrap().unwrap();
    let changed = String::from_utf8(entry).unwrap().replace("BIDDING", "NOTHING");
    let mut write = WriteBatch::new();
    write.put(Cf::Audit, key, changed.into_bytes());
    store.engine().write(write).unwrap();
    drop(store);

    let verify = server_bin().args(["audit", "verify", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(stderr.contains("audit entry 3 was changed"), "{stderr}");
    let verdict: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!((verdict["break"]["seq"].as_u64(), verdict["break"]["kind"].as_str()), (Some(3), Some("changed")));
}

/// After `signing rotate`, reports of the old key verify with the published set, and new reports
/// are signed with the new key.
#[tokio::test]
async fn a_rotated_out_key_still_verifies_its_reports() {
    let server = start_signing().await;
    let old = client(&server, None).await.report(report_request(COMPANY, pb::View::Public, "")).await.unwrap();
    let data = server.data.clone();
    let _dir = server.shutdown().await;

    let rotated = server_bin().args(["signing", "rotate", "--data-dir"]).arg(&data).output().unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let ids: Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_eq!(ids["retired_key_id"], old.key_id.as_str());

    let published = server_bin().args(["signing", "keys", "--data-dir"]).arg(&data).output().unwrap();
    let keys = KeySet::from_json(std::str::from_utf8(&published.stdout).unwrap(), "stdout").unwrap();
    assert_eq!(keys.keys.len(), 2);
    assert_eq!(keys.get(&old.key_id).unwrap().status, credit_sign::KeyStatus::Retired);
    verify_report(&old.file, &keys, chrono::Utc::now()).expect("the old report still verifies");
    let new_id = ids["key_id"].as_str().unwrap();
    assert_ne!(new_id, old.key_id);
    assert!(keys.get(new_id).is_some());

    let audit = server_bin()
        .args(["audit", "query", "--operation", "signing.rotate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let entry: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(entry["detail"]["retired_key_id"], old.key_id.as_str());
    let verify = server_bin().args(["audit", "verify", "--data-dir"]).arg(&data).output().unwrap();
    assert!(
        verify.status.success(),
        "checkpoints of the old key verify after rotation: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// A signing key that others may read is refused at start, naming the file and the fix; `--demo`
/// creates a private one.
#[tokio::test]
async fn the_server_refuses_a_readable_signing_key_and_demo_creates_a_private_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let path = data.join(SIGNING_KEY_FILE);
    SigningKey::generate().unwrap().write_new(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let config = credit_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.clone(),
        ..credit_server::Config::default()
    };
    let options = credit_server::ServeOptions { config: config.clone(), demo: false };
    let error = credit_server::serve(options, async {}).await.expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("signing.key") && message.contains("chmod 600"), "{message}");

    let fresh = dir.path().join("demo");
    let options =
        credit_server::ServeOptions { config: credit_server::Config { data_dir: fresh.clone(), ..config }, demo: true };
    let running = credit_server::serve(options, async {}).await.expect("demo starts");
    running.serving.await.unwrap();
    let mode = std::fs::metadata(fresh.join(SIGNING_KEY_FILE)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// A subject key bound to the company: its own full report with the evaluation explained, nobody
/// else's full report.
#[tokio::test]
async fn a_subject_key_gets_its_own_full_report_and_no_other() {
    let mut token = String::new();
    let server = start_with(|config| {
        SigningKey::generate().unwrap().write_new(&config.data_dir.join(SIGNING_KEY_FILE)).unwrap();
        let keys = credit_server::auth::KeyFile::in_dir(&config.data_dir);
        let role = credit_server::auth::Role::Subject;
        token = keys.create_bound(role, None, Some("本公司".into()), Some(COMPANY.into())).unwrap().token;
    })
    .await;
    let mut reports = ReportServiceClient::new(server.channel.clone());
    let own = Some(token.as_str());
    let report = reports
        .get_report(call(report_request(COMPANY, pb::View::Regulator, ""), own))
        .await
        .expect("its own full report")
        .into_inner();
    assert_eq!(report.view, pb::View::Regulator as i32);
    let value: Value = serde_json::from_slice(&report.file).unwrap();
    assert_eq!(value["report"]["view"], "regulator");
    let evaluation = &value["report"]["evaluation"];
    assert!(evaluation["score"].is_i64() && evaluation["indicators"].is_array(), "explained: {evaluation}");
    let other =
        reports.get_report(call(report_request("914690307314943315", pb::View::Regulator, ""), own)).await.unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied, "{other:?}");
    let person = reports.get_report(call(report_request(PERSON, pb::View::Regulator, "核查"), own)).await.unwrap_err();
    assert_eq!(person.code(), Code::PermissionDenied, "a purpose opens nothing for a subject key: {person:?}");
    reports
        .get_report(call(report_request("914690307314943315", pb::View::Public, ""), own))
        .await
        .expect("anyone's public report");
    server.shutdown().await;
}
