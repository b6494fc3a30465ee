//! A list entry means one thing everywhere: public from its listing until its removal, in the public
//! view, search, signed reports and joint checks alike (issue 25), through the real server.

use chrono::Days;
use credit_client::verify_report;
use credit_core::import::{ImportKind, ImportOptions, ImportTables, Quiet, import_files};
use credit_proto::v1 as pb;
use credit_proto::v1::joint_check_service_client::JointCheckServiceClient;
use credit_proto::v1::report_service_client::ReportServiceClient;
use credit_proto::v1::search_service_client::SearchServiceClient;
use credit_proto::v1::subject_service_client::SubjectServiceClient;
use credit_server::signing::SIGNING_KEY_FILE;
use credit_sign::SigningKey;

use super::grpc::{call, start_with};

/// Listed four years ago and still listed.
const STILL: &str = "911522010783762860";
/// Listed two years ago, removed by its listing authority yesterday.
const REMOVED: &str = "9115220107837757XE";

fn import(data: &std::path::Path, kind: ImportKind, text: &str) {
    let store = credit_core::store::Store::open_dir(data).unwrap();
    let path = data.parent().unwrap().join(format!("{kind:?}.csv"));
    std::fs::write(&path, text).unwrap();
    let options = ImportOptions { strict: true, ..ImportOptions::new(kind, credit_core::time::today_cst()) };
    let summary = import_files(
        &store,
        &[path],
        &options,
        ImportTables::builtin(),
        credit_core::ident::Codebook::builtin(),
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(summary.rejected, 0, "{summary:?}");
}

#[tokio::test]
async fn the_public_view_search_reports_and_checks_agree_on_every_list_entry() {
    let today = credit_core::time::today_cst();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let four_years = day(today.checked_sub_months(chrono::Months::new(48)).unwrap());
    let two_years = day(today.checked_sub_months(chrono::Months::new(24)).unwrap());
    let yesterday = day(today.checked_sub_days(Days::new(1)).unwrap());
    let server = start_with(|config| {
        SigningKey::generate().unwrap().write_new(&config.data_dir.join(SIGNING_KEY_FILE)).unwrap();
        import(
            &config.data_dir,
            ImportKind::Subject,
            "TYSHXYDM,JGMC,ZCDZXZQHDM\n911522010783762860,乌兰浩特市长久贸易有限公司,152201\n\
             9115220107837757XE,乌兰浩特市短时物流有限公司,152201\n",
        );
        let header = "MD_LX,XDR_MC,XDR_SHXYM,RDBM,RDYJ,LRRQ,YCRQ,ZT\n";
        import(
            &config.data_dir,
            ImportKind::List,
            &format!(
                "{header}SERIOUS_VIOLATION,乌兰浩特市长久贸易有限公司,{STILL},兴安盟市场监督管理局,兴市监严〔1〕1号,{four_years},,有效\n\
                 SERIOUS_VIOLATION,乌兰浩特市短时物流有限公司,{REMOVED},兴安盟市场监督管理局,兴市监严〔1〕2号,{two_years},,有效\n"
            ),
        );
        // The listing authority's own removal row.
        import(
            &config.data_dir,
            ImportKind::List,
            &format!("{header}SERIOUS_VIOLATION,乌兰浩特市短时物流有限公司,{REMOVED},兴安盟市场监督管理局,兴市监严〔1〕2号,{two_years},{yesterday},已移出\n"),
        );
    })
    .await;
    let regulator = Some(server.tokens.regulator.as_str());

    let mut subjects = SubjectServiceClient::new(server.channel.clone());
    let public_lists = |code: &str| pb::GetSubjectRequest {
        identifier: code.into(),
        view: pb::View::Public as i32,
        ..Default::default()
    };
    let shown =
        |response: pb::GetSubjectResponse| response.records.iter().filter(|r| r.category == "list_entry").count();
    let still = subjects.get_subject(call(public_lists(STILL), None)).await.unwrap().into_inner();
    assert_eq!(shown(still), 1, "listed four years ago and still listed: public");
    let removed = subjects.get_subject(call(public_lists(REMOVED), None)).await.unwrap().into_inner();
    assert_eq!(shown(removed), 0, "removed yesterday: not public");

    let mut search = SearchServiceClient::new(server.channel.clone());
    let listed = pb::SearchRequest {
        query: "乌兰浩特市".into(),
        listed: true,
        view: pb::View::Public as i32,
        page_size: 50,
        ..Default::default()
    };
    let hits = search.search(call(listed, None)).await.unwrap().into_inner().hits;
    let codes: Vec<&str> = hits.iter().map(|h| h.code.as_str()).collect();
    assert!(codes.contains(&STILL) && !codes.contains(&REMOVED), "{codes:?}");

    let mut reports = ReportServiceClient::new(server.channel.clone());
    let published = reports.list_verifying_keys(call(pb::ListVerifyingKeysRequest {}, None)).await.unwrap();
    let keys = credit_client::KeySet::from_json(&published.into_inner().key_set_json, "key set").unwrap();
    for (code, expected) in [(STILL, 1), (REMOVED, 0)] {
        let request =
            pb::GetReportRequest { identifier: code.into(), view: pb::View::Public as i32, purpose: String::new() };
        let file = reports.get_report(call(request, regulator)).await.unwrap().into_inner().file;
        let verified = verify_report(&file, &keys, chrono::Utc::now()).unwrap();
        let black = verified.report["black_lists"].as_array().unwrap();
        assert_eq!(black.len(), expected, "{code}: {black:?}");
    }

    let mut checks = JointCheckServiceClient::new(server.channel.clone());
    for (code, verdict) in [(STILL, "BLOCK"), (REMOVED, "CLEAR")] {
        let request =
            pb::CheckRequest { identifier: code.into(), item: "GOV_PROCUREMENT".into(), ..Default::default() };
        let result = checks.check(call(request, regulator)).await.unwrap().into_inner().result.unwrap();
        assert_eq!(result.verdict, verdict, "{code}");
    }
    server.shutdown().await;
}
