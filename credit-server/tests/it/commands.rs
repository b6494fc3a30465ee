//! The embedded commands, run as processes on a real RocksDB store in a temporary directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_credit-server"));
    command.current_dir(std::env::temp_dir()).env_remove("CREDIT_DATA_DIR");
    command
}

pub(crate) fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("credit-server runs")
}

pub(crate) fn last_json(output: &Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).expect("utf-8");
    let line = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output; stderr: {}", String::from_utf8_lossy(&output.stderr)));
    serde_json::from_str(line).expect("the last line is one JSON object")
}

pub(crate) fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

pub(crate) fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo")
}

fn import(data: &Path, kind: &str, files: &[PathBuf], extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["import", "--data-dir", data.to_str().unwrap(), "--kind", kind];
    args.extend_from_slice(extra);
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(files.iter().map(String::as_str));
    let out = run(&args);
    let summary = last_json(&out);
    (out, summary)
}

fn stats(data: &Path) -> Value {
    let out = run(&["stats", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    last_json(&out)
}

/// Loads the committed demo data the way `make demo` does.
pub(crate) fn load_demo(data: &Path) {
    let d = demo();
    for (kind, files) in [
        ("subject", vec![d.join("persons.csv"), d.join("subjects.csv")]),
        ("penalty", vec![d.join("penalties.csv"), d.join("penalties_2016_gb18030.csv")]),
        ("licence", vec![d.join("licences.csv"), d.join("licences_health.jsonl")]),
        ("list", vec![d.join("lists.csv")]),
    ] {
        let (out, summary) = import(data, kind, &files, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(summary["rejected"], 0, "{kind}: {summary}");
    }
}

#[test]
fn demo_data_imports_in_every_format_and_reimport_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load_demo(&data);
    let manifest: Value = serde_json::from_slice(&std::fs::read(demo().join("manifest.json")).unwrap()).unwrap();
    let before = stats(&data);
    assert_eq!(before["subjects"], manifest["subjects"]);
    assert_eq!(before["records"], manifest["records"]);
    assert_eq!(before["provisional_subjects"], 0);
    assert_eq!(before["versions"], before["records"]);
    assert!(before["list_entries_active"].as_u64().unwrap() > 0);
    assert!(before["records_by_category"]["penalty"].as_u64().unwrap() > 100);

    let (_, again) = import(&data, "penalty", &[demo().join("penalties_2016_gb18030.csv")], &[]);
    assert_eq!((again["new_records"].as_u64(), again["new_versions"].as_u64()), (Some(0), Some(0)));
    assert_eq!(again["unchanged"], again["accepted"]);
    let after = stats(&data);
    assert_eq!(before["records"], after["records"]);
    assert_eq!(before["versions"], after["versions"]);
}

#[test]
fn get_finds_a_subject_by_any_identifier_and_by_known_at() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = dir.path();
    std::fs::write(
        files.join("s.csv"),
        "TYSHXYDM,JGMC,FDDBRXM,FDDBRZJHM\n91110000600037341L,北京某某科技有限公司,张三,11010519491231002X\n",
    )
    .unwrap();
    std::fs::write(files.join("p1.csv"), "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_JDRQ,CF_NR_FK\n北京某某科技有限公司,91110000600037341L,罚〔2024〕1号,2024-03-01,1.5\n").unwrap();
    import(&data, "subject", &[files.join("s.csv")], &[]);
    import(&data, "penalty", &[files.join("p1.csv")], &[]);
    let between = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(files.join("p2.csv"), "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_JDRQ,CF_NR_FK\n北京某某科技有限公司,91110000600037341L,罚〔2024〕1号,2024-03-01,2.5\n").unwrap();
    let (_, s) = import(&data, "penalty", &[files.join("p2.csv")], &[]);
    assert_eq!(s["new_versions"], 1);

    let d = data.to_str().unwrap();
    for identifier in ["91110000600037341L", "６０００３７３４－１", "91110000600037341l"] {
        let out = run(&["get", "--data-dir", d, "--view", "regulator", identifier]);
        assert!(out.status.success(), "{identifier}: {}", String::from_utf8_lossy(&out.stderr));
        let got = last_json(&out);
        assert_eq!(got["subject"]["name"], "北京某某科技有限公司");
        assert_eq!(got["records"][0]["current"]["content"]["details"]["fine"], "2.5");
        assert_eq!(got["records"][0]["versions"], 2);
    }
    let then =
        last_json(&run(&["get", "--data-dir", d, "--view", "regulator", "--known-at", &between, "91110000600037341L"]));
    assert_eq!(then["records"][0]["current"]["content"]["details"]["fine"], "1.5");
    let history = last_json(&run(&["get", "--data-dir", d, "--view", "regulator", "--history", "91110000600037341L"]));
    assert_eq!(history["record_history"].as_array().unwrap().len(), 2);
    assert_eq!(history["subject_history"].as_array().unwrap().len(), 1);
    let person = last_json(&run(&["get", "--data-dir", d, "11010519491231002X"]));
    assert_eq!(person["subject"]["subject_type"], "natural_person");
    let missing = run(&["get", "--data-dir", d, "91310115MA1K3BTP2B"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no subject"));
}

#[test]
fn rejects_file_and_strict_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("p.csv");
    std::fs::write(
        &file,
        "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_JDRQ\n甲,91110000600037341L,罚1,2024-03-01\n乙,91110000600037341N,罚2,2024-03-01\n丙,91110000600037341L,罚3,2019-02-30\n",
    )
    .unwrap();
    let rejects = dir.path().join("rejects.csv");
    let (out, strict) =
        import(&data, "penalty", std::slice::from_ref(&file), &["--strict", "--rejects", rejects.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "strict with rejects: nothing lands");
    assert_eq!(strict["committed"], false);
    assert_eq!(stats(&data)["records"], 0);

    let (out, s) = import(&data, "penalty", std::slice::from_ref(&file), &["--rejects", rejects.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "rejected rows do not fail a normal import");
    assert_eq!((s["rows"].as_u64(), s["accepted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(1), Some(2)));
    assert_eq!(s["rejects_file"], rejects.display().to_string());
    let mut reader = csv::Reader::from_path(&rejects).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][1], "3");
    assert_eq!(&rows[0][2], "CF_XDR_SHXYM");
    assert!(rows[0][3].contains("expected L, found N"));
    let original: Value = serde_json::from_str(&rows[0][4]).unwrap();
    assert_eq!(original["CF_XDR_MC"], "乙");
    assert_eq!((&rows[1][1], &rows[1][2]), ("4", "CF_JDRQ"));
}

#[test]
fn a_second_process_on_the_same_directory_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let big = write_big_licence_file(dir.path(), 60_000);
    let mut first = bin()
        .args(["import", "--data-dir", data.to_str().unwrap(), "--kind", "licence", big.to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_progress(&mut first);
    let second = run(&["stats", "--data-dir", data.to_str().unwrap()]);
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[test]
fn kill_9_mid_import_leaves_the_batch_whole_or_absent_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let small = dir.path().join("small.csv");
    std::fs::write(&small, "XK_XDR_MC,XK_XDR_SHXYM,XK_WSH,XK_JDRQ\n甲,91110000600037341L,许1,2024-03-01\n乙,91310115MA1K3BTP2B,许2,2024-03-02\n").unwrap();
    let (out, _) = import(&data, "licence", &[small], &[]);
    assert!(out.status.success());
    let acknowledged = stats(&data)["records"].as_u64().unwrap();
    assert_eq!(acknowledged, 2);

    let rows = 120_000;
    let big = write_big_licence_file(dir.path(), rows);
    let mut child = bin()
        .args(["import", "--data-dir", data.to_str().unwrap(), "--kind", "licence", big.to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Rows are read; chunks of the batch are already on disk, uncommitted.
    wait_for_progress(&mut child);
    // SIGKILL: no destructor, no flush, no clean-up runs.
    child.kill().unwrap();
    child.wait().unwrap();

    let after = stats(&data);
    let records = after["records"].as_u64().unwrap();
    assert!(records == acknowledged || records == acknowledged + rows, "half a batch landed: {records}");
    assert_eq!(after["versions"], after["records"]);
    let subjects = after["subjects"].as_u64().unwrap();
    assert!(subjects == 2 || subjects == 2 + rows, "subjects of half a batch: {subjects}");

    // The store is usable, and the same file imports whole afterwards.
    let (out, summary) = import(&data, "licence", &[big], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary["rejected"], 0);
    assert_eq!(stats(&data)["records"].as_u64().unwrap(), acknowledged + rows);
}

#[test]
fn backup_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load_demo(&data);
    let backup = dir.path().join("backup");
    let out = run(&["backup", "--data-dir", data.to_str().unwrap(), "--to", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = run(&["backup", "--data-dir", data.to_str().unwrap(), "--to", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "a backup never overwrites");

    let restored = dir.path().join("restored");
    let out = run(&["restore", "--from", backup.to_str().unwrap(), "--data-dir", restored.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (a, b) = (stats(&data), stats(&restored));
    assert_eq!(a["records"], b["records"]);
    assert_eq!(a["subjects"], b["subjects"]);
    let into_existing = run(&["restore", "--from", backup.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    assert_eq!(into_existing.status.code(), Some(1), "restore refuses a non-empty directory");
}

/// A licence file of `rows` distinct subjects and records, generated with valid codes.
fn write_big_licence_file(dir: &Path, rows: u64) -> PathBuf {
    use credit_core::ident::Uscc;
    let path = dir.join(format!("big-{rows}.csv"));
    let mut text = String::from("XK_XDR_MC,XK_XDR_SHXYM,XK_WSH,XK_XKBH,XK_JDRQ,XK_XKJG\n");
    for i in 0..rows {
        let code = Uscc::build('9', '1', "440305", &format!("{:08}", i)).unwrap();
        text.push_str(&format!(
            "深圳市测试{i}有限公司,{code},深南市监许〔2024〕{i}号,JY{i:010},2024-03-01,深圳市南山区市场监督管理局\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until the import reports progress on stderr (10,000 rows read: chunks have been flushed).
fn wait_for_progress(child: &mut std::process::Child) {
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("rows read") => break,
            Some(Ok(_)) => continue,
            other => panic!("import ended before reporting progress: {other:?}"),
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
}

#[test]
fn audit_heads_are_exported_and_verified_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load_demo(&data);
    let d = data.to_str().unwrap();
    let none = run(&["audit", "export-head", "--data-dir", d]);
    assert_eq!(none.status.code(), Some(1), "no checkpoint yet");
    assert!(run(&["signing", "init", "--data-dir", d]).status.success());
    // An audited read, checkpointed by the embedded command (the data directory has a key now).
    let read = run(&["get", "--data-dir", d, "--view", "regulator", "--purpose", "核查", "640104196408306204"]);
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let head = run(&["audit", "export-head", "--data-dir", d]);
    assert!(head.status.success(), "{}", String::from_utf8_lossy(&head.stderr));
    let checkpoint = last_json(&head);
    assert!(checkpoint["seq"].as_u64().unwrap() >= 1 && checkpoint["signature"].is_string(), "{checkpoint}");
    // Kept elsewhere, it is what verify checks the store against.
    let elsewhere = dir.path().join("heads.jsonl");
    std::fs::write(&elsewhere, String::from_utf8_lossy(&head.stdout).as_bytes()).unwrap();
    let verified = run(&["audit", "verify", "--data-dir", d, "--checkpoints", elsewhere.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    assert_eq!(last_json(&verified)["intact"], true);
    // An altered head (a later sequence number under the old signature) is refused, not believed; the cut
    // tail itself is `audit::tests::a_tail_cut_off_with_its_checkpoints_is_caught_by_the_mirror`.
    let mut ahead = checkpoint.clone();
    ahead["seq"] = serde_json::json!(checkpoint["seq"].as_u64().unwrap() + 5);
    std::fs::write(&elsewhere, format!("{ahead}\n")).unwrap();
    let refused = run(&["audit", "verify", "--data-dir", d, "--checkpoints", elsewhere.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stdout));
    assert_eq!(last_json(&refused)["intact"], false);
}
