//! Disclosure windows, the public and regulator views, credit repair, objections and the change feed,
//! through the embedded commands on a real RocksDB store.

use std::path::Path;

use serde_json::Value;

use crate::commands::{json_lines, last_json, run};

const COMPANY: &str = "91110000600037341L";
const PERSON: &str = "11010519491231002X";
/// A trading company on market regulation's serious-violation list.
const TRADER: &str = "91310115MA1K3BTP2B";

fn ok(args: &[&str]) -> Value {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    last_json(&out)
}

/// Exit status and stderr of a command expected to be refused.
fn refused(args: &[&str]) -> (i32, String) {
    let out = run(args);
    (out.status.code().expect("exit code"), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A company whose legal representative is a natural person on the court's list, penalties of the
/// company (general ones and a warning, decided under Order 58 in March 2026) and a penalty of the person;
/// a trading company on the serious-violation list since 2025-06-01.
fn load(data: &Path, files: &Path) {
    let d = data.to_str().unwrap();
    let write = |name: &str, text: &str| {
        let path = files.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let subjects = write(
        "s.csv",
        "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM\n91110000600037341L,北京某某科技有限公司,110105,张三,11010519491231002X\n\
         91310115MA1K3BTP2B,上海某某贸易有限公司,310115,,\n",
    );
    let penalties = write(
        "p.csv",
        "CF_XDR_MC,CF_XDR_SHXYM,CF_XDR_ZJHM,CF_WSH,CF_JDRQ,CF_CFLB,CF_NR_FK,CF_GSJZQ\n\
         北京某某科技有限公司,91110000600037341L,,京朝市监罚〔2026〕1号,2026-03-01,罚款,2,\n\
         北京某某科技有限公司,91110000600037341L,,京朝市监罚〔2026〕2号,2026-03-02,警告,,\n\
         北京某某科技有限公司,91110000600037341L,,京朝市监罚〔2026〕3号,2026-03-03,罚款,1,2026-04-30\n\
         张三,,11010519491231002X,京朝公罚〔2026〕4号,2026-03-04,罚款,0.2,\n",
    );
    let lists = write(
        "l.csv",
        "MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,RDYJ,LRRQ,YCRQ,ZT\n\
         失信被执行人,张三,,11010519491231002X,北京市朝阳区人民法院,（2025）京0105执9号,2025-06-01,2028-06-01,有效\n\
         严重违法失信名单,上海某某贸易有限公司,91310115MA1K3BTP2B,,上海市浦东新区市场监督管理局,沪浦市监严〔2025〕5号,2025-06-01,,有效\n",
    );
    for (kind, file) in [("subject", subjects), ("penalty", penalties), ("list", lists)] {
        let summary = ok(&["import", "--data-dir", d, "--kind", kind, &file]);
        assert_eq!(summary["rejected"], 0, "{kind}: {summary}");
    }
}

/// A regulator states why it reads (a natural person's page is refused without it).
fn get(data: &Path, view: &str, as_of: &str, identifier: &str) -> Value {
    ok(&[
        "get",
        "--data-dir",
        data.to_str().unwrap(),
        "--view",
        view,
        "--as-of",
        as_of,
        "--purpose",
        "披露核对",
        identifier,
    ])
}

/// What the public view shows today (it has no other day).
fn public_today(data: &Path, identifier: &str) -> Value {
    ok(&["get", "--data-dir", data.to_str().unwrap(), "--view", "public", identifier])
}

/// The records the public sees on `as_of`, as the regulator view says of each record in force then.
fn public_on(data: &Path, as_of: &str, identifier: &str) -> Value {
    let mut page = get(data, "regulator", as_of, identifier);
    let records = page["records"].as_array().unwrap().iter().filter(|r| r["public"] == true).cloned().collect();
    page["records"] = Value::Array(records);
    page
}

fn documents(got: &Value) -> Vec<String> {
    got["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["current"]["content"]["document_number"].as_str().unwrap_or("").to_string())
        .collect()
}

fn blocked(data: &Path, as_of: &str, code: &str) -> bool {
    let d = data.to_str().unwrap();
    let out = run(&["check", "--data-dir", d, "--item", "GOV_PROCUREMENT", "--as-of", as_of, "--json", code]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    last_json(&out)["verdict"] == "BLOCK"
}

#[test]
fn views_follow_windows_and_mask_persons() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load(&data, dir.path());

    // Decided under Order 58 (three months to three years), shortened by Order 36 to a year for general
    // penalties; the warning (minor) was public until Order 36 took effect on 2026-04-01; a deadline ends
    // a window early.
    assert_eq!(
        documents(&public_on(&data, "2026-03-31", COMPANY)),
        vec!["京朝市监罚〔2026〕3号", "京朝市监罚〔2026〕2号", "京朝市监罚〔2026〕1号"]
    );
    assert_eq!(
        documents(&public_on(&data, "2026-04-15", COMPANY)),
        vec!["京朝市监罚〔2026〕3号", "京朝市监罚〔2026〕1号"]
    );
    let company = public_today(&data, COMPANY);
    assert_eq!(company["view"], "public");
    assert_eq!(company["subject"]["related"][0]["id_number"], "110105********002X");
    assert!(company["records"].as_array().unwrap().iter().all(|r| r.get("disclosure").is_none()));
    assert_eq!(documents(&public_on(&data, "2026-05-01", COMPANY)), vec!["京朝市监罚〔2026〕1号"]);
    assert_eq!(documents(&public_on(&data, "2027-02-28", COMPANY)), vec!["京朝市监罚〔2026〕1号"]);
    assert!(documents(&public_on(&data, "2027-03-01", COMPANY)).is_empty(), "the window ended by itself");
    assert!(documents(&public_on(&data, "2026-02-28", COMPANY)).is_empty(), "nothing before its decision");
    // The public view has no other day than today, embedded as over the service.
    for flag in [["--as-of", "2026-04-15"], ["--known-at", "2026-01-01T00:00:00Z"]] {
        let (code, stderr) =
            refused(&["get", "--data-dir", data.to_str().unwrap(), "--view", "public", flag[0], flag[1], COMPANY]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("regulator view"), "{stderr}");
    }

    let regulator = get(&data, "regulator", "2027-03-01", COMPANY);
    assert_eq!(regulator["records"].as_array().unwrap().len(), 3, "regulators see every record");
    let general = &regulator["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["current"]["content"]["document_number"] == "京朝市监罚〔2026〕1号")
        .unwrap()
        .clone();
    assert_eq!(general["disclosure"]["tier"], "general");
    assert_eq!(general["disclosure"]["rule_set"], "ndrc-order-58");
    assert_eq!(general["disclosure"]["shortened_by"], "ndrc-order-36");
    assert_eq!(general["disclosure"]["public_until"], "2027-03-01");
    assert_eq!(general["disclosure"]["repairable_from"], "2026-06-01");
    let basis = general["disclosure"]["basis"].as_str().unwrap();
    assert!(basis.contains("国家发展改革委令第58号") && basis.contains("一般失信信息的最短公示期为3个月"), "{basis}");
    assert_eq!(general["public"], false);

    // The person: ID number masked, no penalty of a natural person, name shown in a serious list entry.
    assert_eq!(public_on(&data, "2026-04-15", PERSON)["records"].as_array().unwrap().len(), 1);
    let person = public_today(&data, PERSON);
    assert_eq!(person["subject"]["identifiers"][0]["value"], "110105********002X");
    assert_eq!(person["subject"]["name"], "张*");
    assert_eq!(person["masked"], true);
    let records = person["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{person}");
    assert_eq!(records[0]["category"], "list_entry");
    assert_eq!(records[0]["current"]["content"]["subject_name"], "张三");
    assert_eq!(records[0]["current"]["content"]["subject_identifiers"][0]["value"], "110105********002X");
    let full = get(&data, "regulator", "2026-04-15", PERSON);
    assert_eq!(full["subject"]["identifiers"][0]["value"], PERSON);
    assert_eq!(full["records"].as_array().unwrap().len(), 2);
    // As over gRPC: a natural person in the regulator view only with a stated purpose.
    let (code, stderr) = refused(&["get", "--data-dir", data.to_str().unwrap(), "--view", "regulator", PERSON]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("needs a stated purpose"), "{stderr}");

    let (code, stderr) = refused(&["get", "--data-dir", data.to_str().unwrap(), "--history", COMPANY]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("regulator view only"), "{stderr}");
}

#[test]
fn repair_and_objection_workflows_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load(&data, dir.path());
    let d = data.to_str().unwrap();
    let records = get(&data, "regulator", "2026-04-15", PERSON)["records"].as_array().unwrap().clone();
    let entry = records.iter().find(|r| r["category"] == "list_entry").unwrap()["id"].as_u64().unwrap().to_string();
    let feed_before = json_lines(&run(&["feed", "--data-dir", d]).stdout).len();
    assert_eq!(feed_before, 6, "one event per imported record");
    let trader = get(&data, "regulator", "2026-04-15", TRADER)["records"][0]["id"].as_u64().unwrap().to_string();
    let apply = |record: &str, on: &str, extra: &[&str]| {
        let mut args = vec![
            "repair",
            "apply",
            "--data-dir",
            d,
            "--record",
            record,
            "--operator",
            "代理人",
            "--reason",
            "已整改",
            "--on",
            on,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let complete = [
        "--evidence",
        "沪浦市监整改验收〔2026〕12号",
        "--commitment",
        "本公司承诺所提交材料真实有效，愿意承担违反承诺的责任。",
    ];
    // The court's list is ended by the court upon performance, not by platform repair.
    let court = apply(&entry, "2026-06-02", &complete);
    assert_eq!(court.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&court.stderr).contains("not repaired on the platform"),
        "{}",
        String::from_utf8_lossy(&court.stderr)
    );
    // Each missing condition is refused by name, and nothing is written.
    let no_evidence = apply(&trader, "2026-06-02", &complete[2..]);
    assert_eq!(no_evidence.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&no_evidence.stderr).contains("needs proof"),
        "{}",
        String::from_utf8_lossy(&no_evidence.stderr)
    );
    let no_commitment = apply(&trader, "2026-06-02", &complete[..2]);
    assert_eq!(no_commitment.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_commitment.stderr).contains("public credit commitment"));
    assert_eq!(json_lines(&run(&["feed", "--data-dir", d]).stdout).len(), feed_before, "refusals write nothing");
    let out = apply(&trader, "2026-06-02", &complete);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let case = last_json(&out);
    assert_eq!(case["state"], "applied");
    assert!(case["commitment_record"].as_u64().is_some(), "{case}");
    let id = case["id"].as_u64().unwrap().to_string();
    let step = |action: &str, extra: &[&str]| {
        let mut args = vec![
            "repair",
            action,
            "--data-dir",
            d,
            "--case",
            &id,
            "--operator",
            "王审核",
            "--dept",
            "上海市浦东新区市场监督管理局",
            "--on",
            "2026-06-10",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let skipped = step("approve", &[]);
    assert_eq!(skipped.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&skipped.stderr).contains("is applied: cannot approve (allowed now: accept, reject)")
    );
    assert!(step("accept", &[]).status.success());
    let approved = step("approve", &["--effective", "2026-06-15", "--note", "已履行"]);
    assert!(approved.status.success(), "{}", String::from_utf8_lossy(&approved.stderr));
    assert_eq!(last_json(&approved)["state"], "approved");
    let (code, stderr) = refused(&["repair", "deny", "--data-dir", d, "--case", &id, "--operator", "王审核"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is approved: cannot deny (the case is closed)"), "{stderr}");

    assert!(blocked(&data, "2026-06-14", TRADER), "the entry blocks until the repair");
    assert!(!blocked(&data, "2026-06-15", TRADER), "and no longer from its effective date");
    let public = public_today(&data, TRADER);
    let categories: Vec<&str> =
        public["records"].as_array().unwrap().iter().map(|r| r["category"].as_str().unwrap()).collect();
    assert_eq!(categories, vec!["commitment"], "the public view drops the repaired entry and shows the commitment");
    assert!(
        public_on(&data, "2026-06-14", TRADER)["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["category"] == "list_entry"),
        "shown until then"
    );
    let all = ok(&["get", "--data-dir", d, "--view", "regulator", "--history", TRADER]);
    let repaired = all["records"].as_array().unwrap().iter().find(|r| r["category"] == "list_entry").unwrap().clone();
    assert_eq!(repaired["current"]["content"]["status"], "repaired");
    assert_eq!(repaired["versions"], 2, "the regulator keeps it with its history");

    let shown = ok(&["repair", "show", "--data-dir", d, "--case", &id]);
    let steps: Vec<&str> = shown["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(steps, vec!["apply", "accept", "approve"]);
    assert_eq!(shown["steps"][2]["operator"]["department"], "上海市浦东新区市场监督管理局");

    // An objection against the company's general penalty, upheld by a correction, then one revoking it.
    let company = get(&data, "regulator", "2026-04-15", COMPANY)["records"].as_array().unwrap().clone();
    let penalty =
        company.iter().find(|r| r["current"]["content"]["document_number"] == "京朝市监罚〔2026〕1号").unwrap()["id"]
            .as_u64()
            .unwrap()
            .to_string();
    let objection = |args: &[&str]| {
        let mut all = vec!["objection", args[0], "--data-dir", d, "--operator", "北京某某科技有限公司"];
        all.extend_from_slice(&args[1..]);
        run(&all)
    };
    let filed =
        last_json(&objection(&["file", "--record", &penalty, "--reason", "wrong amount", "--on", "2026-04-01"]));
    let case = filed["id"].as_u64().unwrap().to_string();
    assert!(objection(&["accept", "--case", &case]).status.success());
    let bad = objection(&["correct", "--case", &case, "--patch", "{not json"]);
    assert_eq!(bad.status.code(), Some(2));
    let corrected =
        objection(&["correct", "--case", &case, "--patch", r#"{"details":{"fine":"1.2"}}"#, "--on", "2026-04-05"]);
    assert!(corrected.status.success(), "{}", String::from_utf8_lossy(&corrected.stderr));
    let now = public_on(&data, "2026-04-15", COMPANY);
    let fixed = now["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_u64().map(|id| id.to_string()).as_deref() == Some(penalty.as_str()))
        .unwrap()
        .clone();
    assert_eq!(fixed["current"]["content"]["details"]["fine"], "1.2");
    let again = last_json(&objection(&[
        "file",
        "--record",
        &penalty,
        "--reason",
        "annulled by the court",
        "--on",
        "2026-04-20",
    ]));
    let again = again["id"].as_u64().unwrap().to_string();
    assert!(objection(&["accept", "--case", &again]).status.success());
    assert!(objection(&["revoke", "--case", &again, "--effective", "2026-04-25"]).status.success());
    assert!(documents(&public_on(&data, "2026-04-24", COMPANY)).contains(&"京朝市监罚〔2026〕1号".to_string()));
    assert!(!documents(&public_on(&data, "2026-04-25", COMPANY)).contains(&"京朝市监罚〔2026〕1号".to_string()));

    // The feed told all of it, in order, and can be resumed anywhere.
    let events = json_lines(&run(&["feed", "--data-dir", d]).stdout);
    let kinds: Vec<&str> = events[feed_before..].iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["published", "repaired", "corrected", "revoked"], "the commitment, then the outcomes");
    let sequences: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(sequences, (1..=events.len() as u64).collect::<Vec<_>>());
    assert_eq!(events[feed_before + 1]["case"].as_u64().unwrap().to_string(), id);
    assert_eq!(events[feed_before + 1]["effective"], "2026-06-15");
    let resumed = json_lines(&run(&["feed", "--data-dir", d, "--from", "7", "--limit", "2"]).stdout);
    assert_eq!(resumed.iter().map(|e| e["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![7, 8]);
}

#[test]
fn the_sweep_writes_window_ends_once_and_bad_rules_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load(&data, dir.path());
    let d = data.to_str().unwrap();
    let first = ok(&["sweep", "--data-dir", d, "--through", "2026-03-31"]);
    // The deadline of 〔2026〕3号 (2026-04-30) ends its window on 2026-05-01; 〔2026〕1号 ends on 2027-03-01
    // (a year under Order 36); the warning's ended on 2026-04-01, when Order 36 took effect.
    assert_eq!(first["window_ended"], 0, "the first sweep covers its own day only");
    let second = ok(&["sweep", "--data-dir", d, "--through", "2027-03-01"]);
    assert_eq!(second["window_ended"], 3, "{second}");
    assert_eq!(ok(&["sweep", "--data-dir", d, "--through", "2027-03-01"])["window_ended"], 0, "once");
    let events = json_lines(&run(&["feed", "--data-dir", d, "--from", "7"]).stdout);
    let ends: Vec<(&str, &str)> =
        events.iter().map(|e| (e["kind"].as_str().unwrap(), e["effective"].as_str().unwrap())).collect();
    assert_eq!(
        ends,
        vec![("window_ended", "2027-03-01"), ("window_ended", "2026-04-01"), ("window_ended", "2026-05-01")],
        "record order"
    );

    let rules = json_lines(&run(&["disclosure", "check"]).stdout);
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["ndrc-2019-527", "ndrc-order-58", "samr-order-107", "ndrc-order-36"]);
    let bad = dir.path().join("rules.toml");
    let text = credit_core::disclosure::BUILTIN_TOML.replacen(
        "min_months = 3\nmax_months = 12",
        "min_months = 3\nmax_months = 2",
        1,
    );
    std::fs::write(&bad, text).unwrap();
    let (code, stderr) = refused(&["disclosure", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("rules.toml:") && stderr.contains("general") && stderr.contains("exceeds"), "{stderr}");
    let (code, stderr) = refused(&["get", "--data-dir", d, "--disclosure", bad.to_str().unwrap(), COMPANY]);
    assert_eq!(code, 1);
    assert!(stderr.contains("general"), "{stderr}");
}
