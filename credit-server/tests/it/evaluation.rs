//! Public credit evaluation through the real server and the embedded commands: who sees what, batches,
//! the grade distribution, grades in checks, and the runs that keep stored evaluations current.

use credit_proto::v1 as pb;
use credit_proto::v1::evaluation_service_client::EvaluationServiceClient;
use credit_proto::v1::joint_check_service_client::JointCheckServiceClient;
use tonic::Code;

use super::commands::{json_lines, last_json, run};
use super::grpc::{COMPANY, PERSON, call, start_with};

fn get(identifier: &str, as_of: &str) -> pb::GetEvaluationRequest {
    pb::GetEvaluationRequest { identifier: identifier.into(), as_of: as_of.into() }
}

#[tokio::test]
async fn evaluations_show_each_caller_what_it_may_see_and_checks_carry_the_grade() {
    let server = start_with(|config| {
        // A full run before the server starts, as `credit-server evaluate run` makes it.
        config.evaluate_on_sweep = false;
        let out = run(&["evaluate", "run", "--data-dir", config.data_dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary = last_json(&out);
        assert_eq!(summary["kind"], "full");
        assert!(summary["evaluated"].as_u64().unwrap() > 10, "{summary}");
    })
    .await;
    let mut evaluations = EvaluationServiceClient::new(server.channel.clone());
    let regulator = Some(server.tokens.regulator.as_str());

    let full = evaluations.get_evaluation(call(get(COMPANY, ""), regulator)).await.unwrap().into_inner();
    assert!(!full.grade_only && !full.grade.is_empty() && !full.risk_class.is_empty(), "{full:?}");
    let explained: serde_json::Value = serde_json::from_str(&full.json).unwrap();
    assert_eq!(explained["score"].as_i64(), Some(full.score));
    let points: i64 = full.indicators.iter().map(|i| i.points).sum();
    assert_eq!(full.score, (80 + points).clamp(0, 120), "the score is the base plus each indicator's points");

    let public = evaluations.get_evaluation(call(get(COMPANY, ""), None)).await.unwrap().into_inner();
    assert!(public.grade_only, "{public:?}");
    assert_eq!((public.grade.as_str(), public.score, public.indicators.len()), (full.grade.as_str(), 0, 0));
    assert!(public.risk_class.is_empty() && !public.json.contains("indicators"), "{}", public.json);
    let past = evaluations.get_evaluation(call(get(COMPANY, "2026-01-01"), None)).await.unwrap_err();
    assert_eq!(past.code(), Code::PermissionDenied, "the public has only today");
    let person = evaluations.get_evaluation(call(get(PERSON, ""), regulator)).await.unwrap_err();
    assert_eq!(person.code(), Code::NotFound, "natural persons are outside the model's scope");
    let bad = evaluations.get_evaluation(call(get(COMPANY, "yesterday"), regulator)).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    let batch = pb::BatchGetEvaluationsRequest {
        identifiers: vec![COMPANY.into(), "91110000600037341L".into(), PERSON.into()],
        as_of: String::new(),
    };
    let results = evaluations.batch_get_evaluations(call(batch, regulator)).await.unwrap().into_inner().results;
    let kinds: Vec<bool> =
        results.iter().map(|r| matches!(r.outcome, Some(pb::batch_evaluation_entry::Outcome::Evaluation(_)))).collect();
    assert_eq!(kinds, vec![true, false, false], "{results:?}");
    let too_many = pb::BatchGetEvaluationsRequest { identifiers: vec![COMPANY.into(); 1001], as_of: String::new() };
    let refused = evaluations.batch_get_evaluations(call(too_many, regulator)).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);

    let distribution = evaluations
        .get_grade_distribution(call(pb::GetGradeDistributionRequest {}, regulator))
        .await
        .unwrap()
        .into_inner();
    assert!(distribution.total > 10 && distribution.grades.values().sum::<u64>() == distribution.total);
    let anonymous =
        evaluations.get_grade_distribution(call(pb::GetGradeDistributionRequest {}, None)).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let mut checks = JointCheckServiceClient::new(server.channel.clone());
    let check = pb::CheckRequest { identifier: COMPANY.into(), item: "GOV_PROCUREMENT".into(), ..Default::default() };
    let result = checks.check(call(check, regulator)).await.unwrap().into_inner().result.unwrap();
    assert_eq!((result.grade.as_str(), result.risk_class.as_str()), (full.grade.as_str(), full.risk_class.as_str()));
    server.shutdown().await;
}

#[test]
fn the_embedded_commands_run_get_and_check_models() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let subjects = dir.path().join("s.csv");
    std::fs::write(
        &subjects,
        "TYSHXYDM,JGMC,ZCDZXZQHDM,CLRQ\n91110000600037341L,北京某某科技有限公司,110105,2010-01-01\n",
    )
    .unwrap();
    assert!(run(&["import", "--data-dir", d, "--kind", "subject", subjects.to_str().unwrap()]).status.success());
    let first = last_json(&run(&["evaluate", "run", "--data-dir", d, "--as-of", "2026-12-04"]));
    assert_eq!((first["evaluated"].as_u64(), first["grade_changed"].as_u64()), (Some(1), Some(0)));
    let got = last_json(&run(&["evaluate", "get", "--data-dir", d, "--as-of", "2026-12-04", "91110000600037341L"]));
    assert_eq!((got["score"].as_i64(), got["grade"].as_str()), (Some(90), Some("B")), "{got}");

    let public = last_json(&run(&["get", "--data-dir", d, "--view", "public", "91110000600037341L"]));
    assert_eq!(
        (public["evaluation"]["grade"].as_str(), public["evaluation"]["grade_only"].as_bool()),
        (Some("B"), Some(true))
    );
    let full = last_json(&run(&["get", "--data-dir", d, "--view", "regulator", "91110000600037341L"]));
    assert_eq!(full["evaluation"]["indicators"][0]["id"], "years_established", "{full}");

    let lists = dir.path().join("l.csv");
    std::fs::write(
        &lists,
        "MD_LX,XDR_MC,XDR_SHXYM,RDBM,RDYJ,LRRQ,ZT\n严重违法失信名单,北京某某科技有限公司,91110000600037341L,北京市市场监督管理局,京市监严〔2026〕1号,2026-11-01,有效\n",
    )
    .unwrap();
    assert!(run(&["import", "--data-dir", d, "--kind", "list", lists.to_str().unwrap()]).status.success());
    let changed = last_json(&run(&["evaluate", "run", "--data-dir", d, "--as-of", "2026-12-04", "--changed"]));
    assert_eq!((changed["kind"].as_str(), changed["grade_changed"].as_u64()), (Some("incremental"), Some(1)));
    let feed = json_lines(&run(&["feed", "--data-dir", d]).stdout);
    let last = feed.last().unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["grade"]["from"].as_str(), last["grade"]["to"].as_str()),
        (Some("grade_changed"), Some("B"), Some("D"))
    );
    assert_eq!(last["code"], "91110000600037341L", "{last}");
    let distribution = last_json(&run(&["evaluate", "distribution", "--data-dir", d]));
    assert_eq!(distribution["grades"]["D"], 1);

    let plan = |seed: &str| {
        run(&[
            "inspect",
            "plan",
            "--data-dir",
            d,
            "--item",
            "年报抽查",
            "--dept",
            "北京市市场监督管理局",
            "--division",
            "11",
            "--seed",
            seed,
        ])
    };
    let drawn = last_json(&plan("s1"));
    let d_class = drawn["classes"].as_array().unwrap().iter().find(|c| c["risk_class"] == "D").unwrap().clone();
    assert_eq!(
        (d_class["population"].as_u64(), d_class["drawn"].as_array().map(Vec::len)),
        (Some(1), Some(1)),
        "{drawn}"
    );
    assert_eq!(last_json(&plan("s1")), drawn, "reproducible");
    assert_eq!(plan("").status.code(), Some(2), "an empty seed is refused");

    let checked = last_json(&run(&["evaluate", "check"]));
    assert_eq!(checked["version"], "local-2026.1");
    let bad = dir.path().join("model.toml");
    std::fs::write(
        &bad,
        credit_core::evaluation::BUILTIN_TOML.replacen("grade_at_most = \"D\"", "grade_at_most = \"Z\"", 1),
    )
    .unwrap();
    let out = run(&["evaluate", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("model.toml:") && stderr.contains("grade_at_most"), "{stderr}");
    let refused = run(&["evaluate", "run", "--data-dir", d, "--model", bad.to_str().unwrap()]);
    assert!(!refused.status.success(), "a bad model runs nothing");
}

/// The compiled-in rules written out, with one more memorandum reaching subjects by risk class.
fn rules_with_class_memorandum(classes: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in credit_core::rules::RuleSet::builtin_files() {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let memorandum = format!(
        r#"id = "MEMO-BY-CLASS"
title = "按信用风险分类的抽查措施（测试）"
document_number = "测试文件"
kind = "punishment"
risk_classes = {classes}
identifying_department = "市场监督管理部门"
scope = ["entity"]
valid_from = 2020-01-01

[[measures]]
id = "BY-CLASS-INSPECTION"
text = "按信用风险分类确定抽查比例和频次"
implementing_department = "市场监督管理部门"
legal_basis = "测试依据"
mandatory = false
items = ["INSPECTION"]
"#
    );
    std::fs::write(dir.path().join("memoranda/by_class.toml"), memorandum).unwrap();
    dir
}

#[tokio::test]
async fn measures_by_risk_class_and_the_kept_statistics_reach_callers_over_grpc() {
    let rules = rules_with_class_memorandum(r#"["A", "B", "C", "D"]"#);
    let rules_dir = rules.path().to_path_buf();
    let server = start_with(move |config| {
        config.evaluate_on_sweep = false;
        config.rules_dir = rules_dir;
        let out = run(&["evaluate", "run", "--data-dir", config.data_dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    })
    .await;
    let regulator = Some(server.tokens.regulator.as_str());
    let mut checks = JointCheckServiceClient::new(server.channel.clone());
    let check = pb::CheckRequest { identifier: COMPANY.into(), item: "INSPECTION".into(), ..Default::default() };
    let result = checks.check(call(check, regulator)).await.unwrap().into_inner().result.unwrap();
    let measure = result.measures.iter().find(|m| m.measure_id == "BY-CLASS-INSPECTION").expect("the class measure");
    assert!(!result.risk_class.is_empty(), "{result:?}");
    assert_eq!(measure.risk_class, result.risk_class, "the subject's class brings it");
    assert!(measure.hits.is_empty(), "no list entry brings it: {measure:?}");
    assert!(result.reasons.iter().any(|r| r.contains("supervision risk class")), "{:?}", result.reasons);

    // The statistics the run kept: for its day, and only for it.
    let mut statistics =
        credit_proto::v1::statistics_service_client::StatisticsServiceClient::new(server.channel.clone());
    let ask = |as_of: &str| pb::GetCreditStatisticsRequest { level: 2, as_of: as_of.into(), ..Default::default() };
    let kept = statistics.get_credit_statistics(call(ask(""), None)).await.unwrap().into_inner();
    assert!(!kept.cells.is_empty(), "{kept:?}");
    assert_eq!(kept.as_of, credit_core::time::today_cst().to_string(), "the day of the run");
    let same = statistics.get_credit_statistics(call(ask(&kept.as_of), None)).await.unwrap().into_inner();
    assert_eq!(same.cells, kept.cells);
    let other = statistics.get_credit_statistics(call(ask("2020-01-01"), None)).await.unwrap_err();
    assert_eq!(other.code(), Code::InvalidArgument);
    assert!(other.message().contains(&kept.as_of), "names the day kept: {}", other.message());
    server.shutdown().await;
}

#[tokio::test]
async fn the_server_refuses_rules_naming_a_risk_class_the_model_lacks() {
    let rules = rules_with_class_memorandum(r#"["B", "Z"]"#);
    let data = tempfile::tempdir().unwrap();
    let config = credit_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().join("data"),
        rules_dir: rules.path().to_path_buf(),
        ..Default::default()
    };
    let refused = credit_server::serve(credit_server::ServeOptions { config, demo: false }, async {}).await;
    let Err(error) = refused else { panic!("a rule set and a model that do not fit are refused") };
    let message = error.to_string();
    assert!(message.contains("memoranda/by_class.toml") && message.contains("\"Z\""), "{message}");
}
