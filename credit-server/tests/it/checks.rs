//! `credit-server check`, `feedback`, `stats --checks` and `rules check` on the demo data in RocksDB.

use std::path::Path;

use serde_json::Value;

use crate::commands::{demo, json_lines, last_json, load_demo, run};

/// 阳泉市隆合餐饮管理有限公司, whose legal representative (640104196408306204) is on the court's list
/// of dishonest judgment debtors from 2026-01-19 to 2028-01-19 in the demo data.
const COMPANY: &str = "91140302749578410B";
const REPRESENTATIVE: &str = "640104196408306204";

fn check(data: &Path, item: &str, as_of: &str, identifiers: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec![
        "check",
        "--data-dir",
        data.to_str().unwrap(),
        "--item",
        item,
        "--as-of",
        as_of,
        "--json",
        "--department",
        "市财政局",
    ];
    args.extend_from_slice(identifiers);
    let out = run(&args);
    (out.status.code().unwrap(), json_lines(&out.stdout))
}

#[test]
fn check_feedback_and_statistics_on_the_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load_demo(&data);

    let (code, lines) = check(&data, "GOV_PROCUREMENT", "2026-06-01", &[COMPANY, REPRESENTATIVE]);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 2);
    let company = &lines[0];
    assert_eq!(company["verdict"], "BLOCK", "{company}");
    assert_eq!(company["hits"][0]["list_type"], "COURT_DISHONEST_DEBTOR");
    assert_eq!(company["hits"][0]["path"]["relation"], "related_person");
    assert_eq!(company["hits"][0]["listed_subject"]["code"], "640104********6204");
    assert_eq!(company["measures"][0]["measure_id"], "COURT-GOV-PROCUREMENT");
    assert_eq!(lines[1]["verdict"], "BLOCK");
    assert_eq!(lines[1]["hits"][0]["path"]["relation"], "self");
    let check_id = company["check_id"].as_u64().unwrap();
    assert!(lines[1]["check_id"].as_u64().unwrap() > check_id);

    // Before the listing: clear.
    let (_, before) = check(&data, "GOV_PROCUREMENT", "2025-06-01", &[COMPANY]);
    assert_eq!(before[0]["verdict"], "CLEAR", "{}", before[0]);

    // An invalid identifier is an error line and exit 1; the others are still answered.
    let (code, lines) = check(&data, "BIDDING", "2026-06-01", &["91140302749578410X", COMPANY]);
    assert_eq!(code, 1);
    assert!(lines[0]["error"].as_str().unwrap().contains("not valid"), "{}", lines[0]);
    assert_eq!(lines[1]["verdict"], "BLOCK");
    // An unknown item is a usage error.
    let (code, _) = check(&data, "TIME_TRAVEL", "2026-06-01", &[COMPANY]);
    assert_eq!(code, 2);

    let data_arg = data.to_str().unwrap();
    let id = check_id.to_string();
    let feedback = |outcome: &str, measure: &str, extra: &[&str]| {
        let mut args = vec![
            "feedback",
            "--data-dir",
            data_arg,
            "--check-id",
            &id,
            "--measure",
            measure,
            "--outcome",
            outcome,
            "--department",
            "市财政局",
            "--operator",
            "op-1",
            "--amount",
            "88.5",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let refused = feedback("not_applied", "COURT-GOV-PROCUREMENT", &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("reason"));
    let wrong = feedback("applied", "GP-BAN", &[]);
    assert_eq!(wrong.status.code(), Some(1));
    let stored = feedback("applied", "COURT-GOV-PROCUREMENT", &[]);
    assert!(stored.status.success(), "{}", String::from_utf8_lossy(&stored.stderr));
    let stored = last_json(&stored);
    assert_eq!((stored["outcome"].as_str(), stored["division"].as_str()), (Some("applied"), Some("140302")));

    let out = run(&["stats", "--data-dir", data_arg, "--checks"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = last_json(&out);
    assert_eq!(stats["checks"], 4, "the invalid identifier and the unknown item were not checks");
    assert_eq!(stats["with_feedback"], 1);
    assert_eq!(stats["applied"], 1);
    let court =
        stats["by_memorandum"].as_array().unwrap().iter().find(|g| g["key"] == "MEMO-COURT-DISHONEST-DEBTOR").unwrap();
    assert_eq!(court["with_feedback"], 1);
    let shanxi = last_json(&run(&["stats", "--data-dir", data_arg, "--checks", "--division", "140000"]));
    assert_eq!(shanxi["checks"], 3, "the three checks of the Yangquan company");
}

#[test]
fn rules_check_reports_every_error_with_file_and_line() {
    let out = run(&["rules", "check"]);
    assert!(out.status.success());
    assert_eq!(last_json(&out)["memoranda"], 7);
    let fixtures = demo().join("../rules");
    let out = run(&["rules", "check", "--rules", fixtures.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("memoranda")).unwrap();
    for name in ["ruleset.toml", "list_types.toml", "items.toml", "memoranda/tax_a_grade.toml"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    let memo = dir.path().join("memoranda/tax_a_grade.toml");
    let text = std::fs::read_to_string(&memo).unwrap().replace("\"INSPECTION\"", "\"INSPECTIONS\"");
    std::fs::write(&memo, text).unwrap();
    let out = run(&["rules", "check", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("memoranda/tax_a_grade.toml:24: measures.items: unknown approval item INSPECTIONS"),
        "{stderr}"
    );
}

/// An approval system embedding the library leaves the audit entry a check over gRPC leaves: the same
/// operation, actor fields and details, from the same use case.
#[tokio::test]
async fn an_embedded_check_is_audited_like_a_grpc_check() {
    use credit_proto::v1 as pb;
    use credit_proto::v1::joint_check_service_client::JointCheckServiceClient;

    let server = crate::grpc::start_with(|_| {}).await;
    let mut checks = JointCheckServiceClient::new(server.channel.clone());
    let request = pb::CheckRequest {
        identifier: COMPANY.into(),
        item: "GOV_PROCUREMENT".into(),
        as_of: "2026-06-01".into(),
        ..Default::default()
    };
    let token = server.tokens.regulator.clone();
    let over_grpc = checks.check(crate::grpc::call(request, Some(&token))).await.unwrap().into_inner();
    let check_id = over_grpc.result.unwrap().check_id;
    let dir = server.shutdown().await;

    let store = std::sync::Arc::new(credit_core::store::Store::open_dir(&dir.path().join("data")).unwrap());
    let grpc_entry = {
        let query = credit_core::audit::AuditQuery { operation: Some("check".into()), limit: 10, ..Default::default() };
        let entries = store.audit().query(&query).unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].entry.event.clone()
    };
    let platform = credit_core::Platform::new(
        store.clone(),
        credit_core::rules::RuleSet::builtin(),
        credit_core::disclosure::DisclosureRules::builtin(),
    );
    // The same key, department and question, asked by the embedding system.
    let actor = grpc_entry.actor.clone();
    let question = credit_core::checks::CheckRequest {
        identifier: COMPANY.into(),
        item: "GOV_PROCUREMENT".into(),
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
        department: actor.department.clone(),
    };
    let embedded = platform.check(&actor, &question).unwrap();
    assert_eq!(embedded.check_id, check_id + 1);
    let query =
        credit_core::audit::AuditQuery { operation: Some("check".into()), after: 0, limit: 10, ..Default::default() };
    let entries = store.audit().query(&query).unwrap();
    assert_eq!(entries.len(), 2, "the embedded check is in the log too");
    let mut embedded_entry = entries[1].entry.event.clone();
    assert_eq!(embedded_entry.detail["check_id"], embedded.check_id.to_string());
    embedded_entry.detail.insert("check_id".into(), check_id.to_string());
    assert_eq!(embedded_entry, grpc_entry, "the same entry but for the check id");
}
