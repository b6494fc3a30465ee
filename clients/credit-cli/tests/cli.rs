//! The `credit` binary, run as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn credit(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_credit"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("credit starts");
    let mut input = child.stdin.take().expect("stdin");
    let text = stdin.unwrap_or("").to_string();
    // Fed from a thread: the child fills its stdout pipe while we are still writing.
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let output = child.wait_with_output().expect("credit finishes");
    feeder.join().expect("feeder thread");
    output
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn real_codes_are_valid_with_parts() {
    let codes = [
        "91110000600037341L",
        "121200004013590816",
        "911522010783762860",
        "9115220107837757XE",
        "91310115MA1K3BTP2B",
        "92340602MA2PBMEM24",
        "91620105L015101280",
    ];
    let out = credit(&[&["id", "check"][..], &codes[..]].concat(), None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let reports = lines(&out);
    assert_eq!(reports.len(), codes.len());
    for (report, code) in reports.iter().zip(codes) {
        assert_eq!(report["input"], code);
        assert_eq!(report["valid"], true);
        assert_eq!(report["kind"], "uscc");
        assert_eq!(report["normalized"], code);
        assert_eq!(report["errors"], Value::Array(vec![]));
        assert_eq!(report["parts"]["org_code"], &code[8..17]);
    }
    assert_eq!(reports[5]["parts"]["category_name"], "个体工商户");
}

#[test]
fn invalid_inputs_exit_1_and_name_the_reason() {
    let out = credit(&["id", "check", "91110000600037341N", "9111000060003IOZSV", "12345", "91110000600037341L"], None);
    assert_eq!(out.status.code(), Some(1));
    let r = lines(&out);
    assert_eq!(r.len(), 4);
    assert_eq!(r[0]["valid"], false);
    assert_eq!(r[0]["kind"], Value::Null);
    assert_eq!(r[0]["errors"][0]["code"], "check");
    assert_eq!(r[0]["errors"][0]["message"], "check character: expected L, found N");
    assert_eq!(r[1]["errors"][0]["code"], "alphabet");
    assert_eq!(r[2]["errors"][0]["code"], "length");
    assert_eq!(r[3]["valid"], true);
}

#[test]
fn resident_ids_and_legacy_numbers() {
    let out =
        credit(&["id", "check", "11010519491231002x", "110105491231002", "360426199113010079", "60003734-1"], None);
    let r = lines(&out);
    assert_eq!(r[0]["kind"], "ric");
    assert_eq!(r[0]["normalized"], "11010519491231002X");
    assert_eq!(r[0]["parts"]["sex"], "female");
    assert_eq!(r[0]["parts"]["birth_date"], "1949-12-31");
    assert_eq!(r[1]["valid"], true);
    assert_eq!(r[1]["normalized"], "11010519491231002X");
    assert_eq!(r[2]["valid"], false);
    assert_eq!(r[2]["errors"][0]["code"], "birth_date");
    assert_eq!(r[3]["kind"], "org_code");
}

#[test]
fn stdin_lines_keep_input_order() {
    let input = "91110000600037341L\r\n\n１２１２００００４０１３５９０８１６\n11010519491231002X\n";
    let out = credit(&["id", "check", "-"], Some(input));
    let r = lines(&out);
    assert_eq!(r.len(), 4, "an empty line is an input too");
    assert_eq!(r[0]["valid"], true);
    assert_eq!(r[1]["errors"][0]["code"], "empty");
    assert_eq!(r[2]["normalized"], "121200004013590816");
    assert_eq!(r[3]["kind"], "ric");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(credit(&["id", "check"], None).status.code(), Some(2));
    assert_eq!(credit(&["id", "nonsense"], None).status.code(), Some(2));
    assert_eq!(credit(&["id", "check", "--no-such-flag", "x"], None).status.code(), Some(2));
}

#[test]
fn many_lines_from_stdin() {
    let input: String =
        (0..20_000).map(|i| if i % 2 == 0 { "91310115MA1K3BTP2B\n" } else { "360426199101010071\n" }).collect();
    let out = credit(&["id", "check", "-"], Some(&input));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), 20_000);
}

#[test]
fn division_table_can_be_overridden() {
    let dir = std::env::temp_dir().join(format!("credit-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let table = dir.join("divisions.tsv");
    std::fs::write(&table, "# revision: test-rev\ncode\tname\tlevel\tparent\n110000\t北京市\t1\t\n").expect("write");
    let out = credit(
        &[
            "id",
            "check",
            "--divisions",
            table.to_str().expect("utf-8 path"),
            "91110000600037341L",
            "91310115MA1K3BTP2B",
        ],
        None,
    );
    let r = lines(&out);
    assert_eq!(r[0]["parts"]["division_name"], "北京市");
    assert_eq!(r[1]["valid"], true);
    assert_eq!(r[1]["warnings"][0]["code"], "unknown_division");
    assert!(r[1]["warnings"][0]["message"].as_str().expect("message").contains("test-rev"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_public_real_code_is_valid() {
    let list =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../credit-ident/testdata/uscc_valid.txt"))
            .expect("test vectors");
    let codes: String = list.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    let out = credit(&["id", "check", "-"], Some(&codes));
    let reports = lines(&out);
    assert!(reports.len() > 380);
    let invalid: Vec<&Value> = reports.iter().filter(|r| r["valid"] != true).collect();
    assert!(invalid.is_empty(), "{invalid:?}");
    assert_eq!(out.status.code(), Some(0));
}

/// A real server on 127.0.0.1:0 with the demo data (and the signing key `--demo` creates), served from
/// a thread of its own until dropped.
struct DemoServer {
    addr: std::net::SocketAddr,
    data: std::path::PathBuf,
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
    DemoServer { addr: server.addr, data: server.data_dir.clone(), _server: server, _dir: dir }
}

const COMPANY: &str = "91140302749578410B";
const PERSON: &str = "640104196408306204";

#[test]
fn reports_are_fetched_verified_and_refused_when_altered() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.json");
    let file_arg = file.to_str().expect("utf-8 path");

    let got = credit(&["report", "--endpoint", &endpoint, "get", COMPANY, "--out", file_arg], None);
    assert_eq!(got.status.code(), Some(0), "{}", String::from_utf8_lossy(&got.stderr));
    let summary = &lines(&got)[0];
    assert!(summary["report_number"].as_str().expect("number").starts_with("CR"));

    // Without --keys, the published keys come from the endpoint.
    let verified = credit(&["report", "--endpoint", &endpoint, "verify", file_arg, "--json"], None);
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stderr));
    let verdict = &lines(&verified)[0];
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["view"], "public");
    assert_eq!(verdict["verification_code"], summary["verification_code"]);

    // Offline, with the key set `credit report keys` prints.
    let keys = credit(&["report", "--endpoint", &endpoint, "keys"], None);
    assert_eq!(keys.status.code(), Some(0));
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, &keys.stdout).expect("write keys");
    let keys_arg = keys_file.to_str().expect("utf-8 path");
    let offline = credit(&["report", "--endpoint", "127.0.0.1:1", "verify", file_arg, "--keys", keys_arg], None);
    assert_eq!(offline.status.code(), Some(0), "{}", String::from_utf8_lossy(&offline.stderr));
    assert!(String::from_utf8_lossy(&offline.stdout).starts_with("valid: report CR"));

    let original = std::fs::read(&file).expect("read report");
    let mut altered = original.clone();
    let position = altered.windows(4).position(|w| w == b"\"CR2").expect("report number") + 3;
    altered[position] = b'9';
    std::fs::write(&file, &altered).expect("write");
    let refused = credit(&["report", "verify", file_arg, "--keys", keys_arg, "--json"], None);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(lines(&refused)[0]["reason"], "digest_mismatch");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("digest mismatch"));

    std::fs::write(&file, &original).expect("write");
    let stranger = dir.path().join("stranger.json");
    std::fs::write(&stranger, r#"{"keys":[]}"#).expect("write");
    let unknown = credit(&["report", "verify", file_arg, "--keys", stranger.to_str().expect("path")], None);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unknown key"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    let missing = credit(&["report", "verify", "/nonexistent/report.json", "--keys", keys_arg], None);
    assert_eq!(missing.status.code(), Some(2));
    let usage = credit(&["report", "verify"], None);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn report_get_uses_the_token_and_reports_failed_calls() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let token = std::fs::read_to_string(server.data.join("demo-token")).expect("demo token").trim().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("person.json");
    let file_arg = file.to_str().expect("utf-8 path");

    let refused =
        credit(&["report", "--endpoint", &endpoint, "--token", &token, "get", PERSON, "--out", file_arg], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("purpose"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let args = [
        "report",
        "--endpoint",
        &endpoint,
        "--token",
        &token,
        "get",
        PERSON,
        "--out",
        file_arg,
        "--purpose",
        "行政许可审查",
    ];
    let got = credit(&args, None);
    assert_eq!(got.status.code(), Some(0), "{}", String::from_utf8_lossy(&got.stderr));
    let verified = credit(&["report", "--endpoint", &endpoint, "verify", file_arg, "--json"], None);
    assert_eq!(lines(&verified)[0]["view"], "regulator");

    let unknown = credit(&["report", "--endpoint", &endpoint, "get", "91110000600037341L", "--out", file_arg], None);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

#[test]
fn watch_follows_the_feed_and_ends_after_limit() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let token = std::fs::read_to_string(server.data.join("demo-token")).expect("demo token").trim().to_string();

    let out = credit(&["watch", "--endpoint", &endpoint, "--token", &token, "--limit", "3", "--json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let events = lines(&out);
    assert_eq!(events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(events.iter().all(|e| e["kind"].is_string() && e["subject"].is_u64() && e["record"].is_u64()));

    let text = credit(&["watch", "--endpoint", &endpoint, "--token", &token, "--from", "7", "--limit", "2"], None);
    assert_eq!(text.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&text.stdout).to_string();
    let first: Vec<&str> = shown.lines().map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    assert_eq!(first, vec!["7", "8"], "{shown}");

    let anonymous = credit(&["watch", "--endpoint", &endpoint, "--limit", "1"], None);
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("Unauthenticated"),
        "{}",
        String::from_utf8_lossy(&anonymous.stderr)
    );
}

#[test]
fn import_uploads_and_case_steps_go_through_the_service() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let regulator = std::fs::read_to_string(server.data.join("demo-token")).expect("demo token").trim().to_string();
    let provider = key_of(&server, credit_server::auth::Role::Provider, Some("市场监管局"));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("penalties.csv");
    std::fs::write(
        &file,
        format!(
            "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG,CF_SJLY\n\
             阳泉市隆合餐饮管理有限公司,{COMPANY},阳市监罚〔2026〕91号,罚款,1.2,2026-10-08,阳泉市市场监督管理局,市场监管局\n\
             阳泉市隆合餐饮管理有限公司,{COMPANY},阳税罚〔2026〕9号,罚款,0.3,2026-10-09,阳泉市税务局,市税务局\n"
        ),
    )
    .expect("write");
    let rejects = dir.path().join("rejects.csv");
    let (file_arg, rejects_arg) = (file.to_str().expect("path"), rejects.to_str().expect("path"));
    let args = [
        "import",
        "--endpoint",
        &endpoint,
        "--token",
        &provider,
        "--kind",
        "penalty",
        "--rejects",
        rejects_arg,
        file_arg,
    ];
    let imported = credit(&args, None);
    assert_eq!(imported.status.code(), Some(0), "{}", String::from_utf8_lossy(&imported.stderr));
    let summary = &lines(&imported)[0];
    assert_eq!((summary["accepted"].as_u64(), summary["rejected"].as_u64()), (Some(1), Some(1)), "{summary}");
    assert_eq!(summary["rejects_file"], rejects_arg);
    let written = std::fs::read_to_string(&rejects).expect("rejects file");
    assert!(written.lines().nth(1).expect("one reject").contains("source_dept"), "{written}");
    let strict = credit(&[&args[..], &["--strict"]].concat(), None);
    assert_eq!(strict.status.code(), Some(1), "a strict upload with a bad row lands nothing");

    let filed = credit(
        &["objection", "--endpoint", &endpoint, "--token", &provider, "file", "--record", "1", "--reason", "金额有误"],
        None,
    );
    assert_eq!(filed.status.code(), Some(0), "{}", String::from_utf8_lossy(&filed.stderr));
    let case = lines(&filed)[0]["id"].as_u64().expect("case id").to_string();
    let accepted =
        credit(&["objection", "--endpoint", &endpoint, "--token", &regulator, "accept", "--case", &case], None);
    assert_eq!(lines(&accepted)[0]["state"], "accepted");
    let refused =
        credit(&["objection", "--endpoint", &endpoint, "--token", &regulator, "dismiss", "--case", &case], None);
    assert_eq!(refused.status.code(), Some(1), "dismissing is the record's department's");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PermissionDenied"));
    let shown = credit(&["objection", "--endpoint", &endpoint, "--token", &regulator, "show", "--case", &case], None);
    let shown = &lines(&shown)[0];
    assert_eq!((shown["state"].as_str(), shown["steps"].as_array().map(Vec::len)), (Some("accepted"), Some(2)));
    let by_record =
        credit(&["objection", "--endpoint", &endpoint, "--token", &regulator, "show", "--record", "1"], None);
    assert_eq!(lines(&by_record).len(), 1);
}

#[test]
fn check_and_feedback_print_what_the_embedded_commands_print() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let token = std::fs::read_to_string(server.data.join("demo-token")).expect("demo token").trim().to_string();
    let args = [
        "check",
        "--endpoint",
        &endpoint,
        "--token",
        &token,
        "--item",
        "GOV_PROCUREMENT",
        "--department",
        "市财政局",
        "--json",
        COMPANY,
    ];
    let checked = credit(&args, None);
    assert_eq!(checked.status.code(), Some(0), "{}", String::from_utf8_lossy(&checked.stderr));
    let result = &lines(&checked)[0];
    assert_eq!(result["verdict"], "BLOCK");
    assert_eq!(result["item"], "GOV_PROCUREMENT");
    let measure = result["measures"][0]["measure_id"].as_str().expect("a measure").to_string();
    let check_id = result["check_id"].as_u64().expect("check id").to_string();
    // The core CheckResult's JSON, as `credit-server check --json` writes it: keys of the library type.
    assert!(result["hits"][0]["listed_subject"].is_object() && result["checked_at"].is_string(), "{result}");

    let args = [
        "feedback",
        "--endpoint",
        &endpoint,
        "--token",
        &token,
        "--check-id",
        &check_id,
        "--measure",
        &measure,
        "--outcome",
        "applied",
        "--department",
        "市财政局",
    ];
    let fed = credit(&args, None);
    assert_eq!(fed.status.code(), Some(0), "{}", String::from_utf8_lossy(&fed.stderr));
    let stored = &lines(&fed)[0];
    assert_eq!((stored["check_id"].as_u64(), stored["outcome"].as_str()), (check_id.parse().ok(), Some("applied")));

    let text =
        credit(&["check", "--endpoint", &endpoint, "--token", &token, "--item", "GOV_PROCUREMENT", COMPANY], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains("BLOCK"));
    let anonymous = credit(&["check", "--endpoint", &endpoint, "--item", "GOV_PROCUREMENT", COMPANY], None);
    assert_eq!(anonymous.status.code(), Some(1));
}

#[test]
fn search_prints_what_the_embedded_search_prints() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let found = credit(&["search", "--endpoint", &endpoint, "--json", "--limit", "3", "隆合餐饮"], None);
    assert_eq!(found.status.code(), Some(0), "{}", String::from_utf8_lossy(&found.stderr));
    let hits = lines(&found);
    assert!(!hits.is_empty() && hits.len() <= 3);
    assert_eq!(hits[0]["code"], COMPANY);
    for key in ["code", "name", "type", "score", "subject_id", "highlight", "cursor"] {
        assert!(hits[0].get(key).is_some(), "{key} missing: {}", hits[0]);
    }
    let text = credit(&["search", "--endpoint", &endpoint, "longhe"], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains(COMPANY), "pinyin finds it");
}

fn token(server: &DemoServer) -> String {
    std::fs::read_to_string(server.data.join("demo-token")).expect("demo token").trim().to_string()
}

/// A key of `role` made in the server's keys file, in force once the server has reloaded it.
fn key_of(server: &DemoServer, role: credit_server::auth::Role, dept: Option<&str>) -> String {
    let keys = credit_server::auth::KeyFile::in_dir(&server.data);
    let token = keys.create(role, dept.map(str::to_string), None).expect("key").token;
    std::thread::sleep(std::time::Duration::from_millis(1500)); // the server picks new keys up within a second
    token
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn get_prints_the_view_the_caller_may_see() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let regulator = token(&server);

    let public = credit(&["get", "--endpoint", &endpoint, "--json", COMPANY], None);
    assert_eq!(public.status.code(), Some(0), "{}", stderr(&public));
    let page = &lines(&public)[0];
    for key in ["view", "as_of", "subject", "masked", "records"] {
        assert!(page.get(key).is_some(), "{key} missing: {page}");
    }
    assert_eq!(page["view"], "public");
    assert_eq!(page["subject"]["identifiers"][0]["value"], COMPANY);
    let records = page["records"].as_array().expect("records");
    assert!(!records.is_empty(), "the demo company has public records");
    assert!(records.iter().all(|r| r["current"]["content"].is_object() && r.get("disclosure").is_none()));

    // A person in the public view: masked ID number, no address.
    let person = credit(&["get", "--endpoint", &endpoint, "--json", PERSON], None);
    let person = &lines(&person)[0];
    assert_eq!(person["masked"], true);
    let shown = person["subject"]["identifiers"][0]["value"].as_str().expect("masked id");
    assert!(shown.contains('*') && shown != PERSON, "{shown}");
    assert!(person["subject"].get("address").is_none_or(Value::is_null), "{person}");

    // The regulator view of a person needs a purpose, then shows everything with each record's window.
    let args = ["get", "--endpoint", &endpoint, "--token", &regulator, "--view", "regulator", "--json", PERSON];
    let refused = credit(&args, None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("purpose"), "{}", stderr(&refused));
    let full = credit(&[&args[..], &["--purpose", "行政许可审查"]].concat(), None);
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let full = &lines(&full)[0];
    assert_eq!((full["view"].as_str(), full["masked"].as_bool()), (Some("regulator"), Some(false)));
    assert_eq!(full["subject"]["identifiers"][0]["value"], PERSON);
    assert!(full["records"].as_array().expect("records").iter().all(|r| r["disclosure"].is_object()));

    // The public may not ask for the regulator view; unknown subjects are NotFound.
    let anonymous = credit(&["get", "--endpoint", &endpoint, "--view", "regulator", COMPANY], None);
    assert_eq!(anonymous.status.code(), Some(1));
    let unknown = credit(&["get", "--endpoint", &endpoint, "91110000600037341L"], None);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("NotFound"), "{}", stderr(&unknown));

    let text = credit(&["get", "--endpoint", &endpoint, COMPANY], None);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.starts_with(COMPANY) && text.contains("records: "), "{text}");
    assert_eq!(
        credit(&["get", "--endpoint", &endpoint, "--as-of", "2026-13-01", COMPANY], None).status.code(),
        Some(2)
    );
}

#[test]
fn history_lists_every_version_of_the_subject_and_its_records() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let regulator = token(&server);

    let out = credit(&["history", "--endpoint", &endpoint, "--token", &regulator, "--json", COMPANY], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = &lines(&out)[0];
    assert_eq!(page["view"], "regulator");
    let subject_versions = page["subject_history"].as_array().expect("subject history");
    assert!(!subject_versions.is_empty());
    assert_eq!(subject_versions[0]["version"], 1);
    let versions: u64 =
        page["records"].as_array().expect("records").iter().map(|r| r["versions"].as_u64().unwrap_or(0)).sum();
    let history = page["record_history"].as_array().expect("record history");
    assert_eq!(history.len() as u64, versions, "every version of every record shown");
    assert!(history.iter().all(|v| v["hash"].is_string() && v["recorded_at"].is_string()), "{page}");

    let text = credit(&["history", "--endpoint", &endpoint, "--token", &regulator, COMPANY], None);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("subject versions: ") && text.contains("  v1 "), "{text}");

    let anonymous = credit(&["history", "--endpoint", &endpoint, COMPANY], None);
    assert_eq!(anonymous.status.code(), Some(1), "history is the regulator's");
}

#[test]
fn keys_are_created_listed_and_revoked_by_an_admin() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let admin = key_of(&server, credit_server::auth::Role::Admin, None);
    let keys =
        |args: &[&str]| credit(&[&["keys", "--endpoint", &endpoint, "--token", &admin][..], args].concat(), None);

    let created = keys(&["create", "--role", "regulator", "--label", "审批系统", "--json"]);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let key = &lines(&created)[0];
    let (id, new_token) = (key["id"].as_str().expect("id"), key["token"].as_str().expect("token"));
    assert_eq!((key["role"].as_str(), key["label"].as_str()), (Some("regulator"), Some("审批系统")));
    assert!(key["hash"].is_string() && key.get("revoked_at").is_none(), "{key}");

    // In force at once: the new regulator key follows the feed.
    let watch = ["watch", "--endpoint", &endpoint, "--token", new_token, "--limit", "1", "--json"];
    assert_eq!(credit(&watch, None).status.code(), Some(0));

    let listed = keys(&["list", "--json"]);
    let listed = lines(&listed);
    let entry = listed.iter().find(|k| k["id"] == id).expect("the new key is listed");
    assert!(entry.get("token").is_none(), "a listing never shows a token: {entry}");

    let revoked = keys(&["revoke", id, "--json"]);
    assert_eq!(revoked.status.code(), Some(0), "{}", stderr(&revoked));
    assert!(lines(&revoked)[0]["revoked_at"].is_string());
    let refused = credit(&watch, None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("Unauthenticated"), "{}", stderr(&refused));

    let text = keys(&["list"]);
    assert!(String::from_utf8_lossy(&text.stdout).lines().any(|l| l.starts_with(id) && l.contains("revoked")));
    let no_dept = keys(&["create", "--role", "provider"]);
    assert_eq!(no_dept.status.code(), Some(1));
    assert!(stderr(&no_dept).contains("dept"), "{}", stderr(&no_dept));
    let regulator = token(&server);
    let not_admin = credit(&["keys", "--endpoint", &endpoint, "--token", &regulator, "list"], None);
    assert_eq!(not_admin.status.code(), Some(1));
    assert!(stderr(&not_admin).contains("PermissionDenied"), "{}", stderr(&not_admin));
    assert_eq!(keys(&["create"]).status.code(), Some(2), "--role is required");
}

#[test]
fn repair_steps_go_through_the_service() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let regulator = token(&server);
    let provider = key_of(&server, credit_server::auth::Role::Provider, Some("市场监管局"));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("penalty.csv");
    std::fs::write(
        &file,
        format!(
            "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG,CF_SJLY\n\
             阳泉市隆合餐饮管理有限公司,{COMPANY},阳市监罚〔2026〕77号,罚款,1.5,2026-09-01,阳泉市市场监督管理局,市场监管局\n"
        ),
    )
    .expect("write");
    let file_arg = file.to_str().expect("path");
    let imported =
        credit(&["import", "--endpoint", &endpoint, "--token", &provider, "--kind", "penalty", file_arg], None);
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));

    let got = credit(
        &["get", "--endpoint", &endpoint, "--token", &regulator, "--view", "regulator", "--json", COMPANY],
        None,
    );
    let page = &lines(&got)[0];
    let record = page["records"]
        .as_array()
        .expect("records")
        .iter()
        .find(|r| r["current"]["content"]["document_number"] == "阳市监罚〔2026〕77号")
        .expect("the uploaded penalty");
    let repairable = record["disclosure"]["repairable_from"].as_str().expect("repairable from").to_string();
    let record = record["id"].as_u64().expect("record id");
    let record_id = record.to_string();

    let step = |token: &str, args: &[&str]| {
        let out = credit(&[&["repair", "--endpoint", &endpoint, "--token", token][..], args].concat(), None);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        lines(&out).remove(0)
    };
    let early = credit(
        &[
            "repair",
            "--endpoint",
            &endpoint,
            "--token",
            &provider,
            "apply",
            "--record",
            &record_id,
            "--reason",
            "已整改",
            "--on",
            "2026-09-02",
        ],
        None,
    );
    assert_eq!(early.status.code(), Some(1), "too early to repair");
    assert!(stderr(&early).contains(&repairable), "{}", stderr(&early));

    let apply = ["apply", "--record", &record_id, "--reason", "已整改并缴纳罚款", "--on", &repairable];
    let bare = credit(&[&["repair", "--endpoint", &endpoint, "--token", &provider][..], &apply[..]].concat(), None);
    assert_eq!(bare.status.code(), Some(1), "no evidence, no commitment");
    assert!(stderr(&bare).contains("needs proof"), "{}", stderr(&bare));
    let complete =
        ["--evidence", "阳财缴〔2026〕5号", "--commitment", "本公司承诺所提交材料真实有效，愿意承担违反承诺的责任。"];
    let applied = step(&provider, &[&apply[..], &complete[..]].concat());
    assert!(applied["commitment_record"].as_u64().is_some(), "{applied}");
    let case = applied["id"].as_u64().expect("case id").to_string();
    assert_eq!(step(&regulator, &["accept", "--case", &case, "--on", &repairable])["state"], "accepted");
    let approved = step(&provider, &["approve", "--case", &case, "--on", &repairable]);
    assert_eq!(approved["state"], "approved");
    let shown = step(&regulator, &["show", "--case", &case]);
    assert_eq!(shown["steps"].as_array().map(Vec::len), Some(3));
    let overdue = credit(&["repair", "--endpoint", &endpoint, "--token", &regulator, "overdue"], None);
    assert_eq!(overdue.status.code(), Some(0), "{}", stderr(&overdue));
    assert!(lines(&overdue).is_empty(), "no deadlines are configured by default");

    let history = credit(&["history", "--endpoint", &endpoint, "--token", &regulator, "--json", COMPANY], None);
    let page = &lines(&history)[0];
    let versions: Vec<&Value> = page["record_history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|v| v["record"].as_u64() == Some(record))
        .collect();
    assert_eq!(versions.len(), 2, "the approval wrote a version: {page}");
    assert_eq!(versions[1]["content"]["status"], "repaired");
}

#[test]
fn evaluations_through_the_service_by_role() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let regulator = token(&server);
    let public = credit(&["evaluation", "--endpoint", &endpoint, "get", "--json", COMPANY], None);
    assert_eq!(public.status.code(), Some(0), "{}", stderr(&public));
    let shown = &lines(&public)[0];
    assert_eq!(shown["grade_only"], true, "{shown}");
    assert!(shown.get("indicators").is_none() && shown.get("score").is_none(), "{shown}");
    let full = credit(&["evaluation", "--endpoint", &endpoint, "--token", &regulator, "get", "--json", COMPANY], None);
    let explained = &lines(&full)[0];
    assert!(explained["score"].is_i64() && explained["indicators"].is_array(), "{explained}");
    assert_eq!(explained["grade"], shown["grade"]);
    let text = credit(&["evaluation", "--endpoint", &endpoint, "--token", &regulator, "get", COMPANY], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains("risk class"), "{}", String::from_utf8_lossy(&text.stdout));
    let refused = credit(&["evaluation", "--endpoint", &endpoint, "distribution"], None);
    assert_eq!(refused.status.code(), Some(1), "the distribution is for regulators");
    let distribution =
        credit(&["evaluation", "--endpoint", &endpoint, "--token", &regulator, "distribution", "--json"], None);
    assert_eq!(distribution.status.code(), Some(0), "{}", stderr(&distribution));
}

#[test]
fn the_credit_map_suppresses_small_counts_for_anyone() {
    let server = demo_server();
    let endpoint = server.addr.to_string();
    let stats = credit(&["stats", "--endpoint", &endpoint, "--level", "2", "--json"], None);
    assert_eq!(stats.status.code(), Some(0), "{}", stderr(&stats));
    let map = &lines(&stats)[0];
    let cells = map["cells"].as_array().expect("cells");
    assert!(!cells.is_empty(), "{map}");
    let mut shown = 0;
    for cell in cells {
        match cell["subjects"].as_u64() {
            Some(n) => {
                assert!(n >= 5, "{cell}");
                shown += 1;
            }
            None => assert!(cell["subjects"].is_null(), "{cell}"),
        }
    }
    assert!(shown > 0, "some province has five subjects or more: {map}");
    let text = credit(&["stats", "--endpoint", &endpoint, "--level", "2"], None);
    assert!(String::from_utf8_lossy(&text.stdout).lines().count() == cells.len());
    let bad = credit(&["stats", "--endpoint", &endpoint, "--by", "colour"], None);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
}
