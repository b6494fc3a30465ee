//! The attacks of the hardening issue, each tried against a real server on 127.0.0.1: every one must
//! fail safely, with a named error code, the server still serving, the store unchanged, other callers
//! answered.

use std::time::Duration;

use credit_proto::v1 as pb;
use credit_proto::v1::case_service_client::CaseServiceClient;
use credit_proto::v1::import_service_client::ImportServiceClient;
use credit_proto::v1::joint_check_service_client::JointCheckServiceClient;
use credit_proto::v1::record_service_client::RecordServiceClient;
use credit_proto::v1::search_service_client::SearchServiceClient;
use credit_proto::v1::subject_service_client::SubjectServiceClient;
use credit_server::auth::{KeyFile, Role};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use super::grpc::{COMPANY, COMPANY_NAME, PERSON, Server, bad_field, call, reason, start_with};

fn search(query: &str, page_token: &str) -> pb::SearchRequest {
    pb::SearchRequest { query: query.into(), page_token: page_token.into(), page_size: 2, ..Default::default() }
}

async fn serving(channel: &Channel) {
    let mut health = HealthClient::new(channel.clone());
    let answer = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.unwrap();
    assert_eq!(answer.into_inner().status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
}

/// The verdict of a procurement check of the company (BLOCK while its legal representative is on the
/// court's list).
async fn verdict(server: &Server) -> String {
    let mut checks = JointCheckServiceClient::new(server.channel.clone());
    let request = pb::CheckRequest { identifier: COMPANY.into(), item: "GOV_PROCUREMENT".into(), ..Default::default() };
    let result = checks.check(call(request, Some(&server.tokens.regulator))).await.unwrap().into_inner();
    result.result.unwrap().verdict
}

async fn regulator_view(server: &Server, identifier: &str) -> pb::GetSubjectResponse {
    let mut subjects = SubjectServiceClient::new(server.channel.clone());
    let request = pb::GetSubjectRequest {
        identifier: identifier.into(),
        view: pb::View::Regulator as i32,
        purpose: "hardening test".into(),
        ..Default::default()
    };
    subjects.get_subject(call(request, Some(&server.tokens.regulator))).await.unwrap().into_inner()
}

#[tokio::test]
async fn forged_page_tokens_and_huge_queries_are_refused_and_the_server_stays_up() {
    let server = start_with(|_| {}).await;
    let mut client = SearchServiceClient::new(server.channel.clone());

    // The token that made tantivy allocate 52 TB, and other forgeries.
    for forged in ["3f800000.1.10000000000", "3f800000.1.1", "x", &"f".repeat(10_000)] {
        let refused = client.search(call(search("餐饮", forged), None)).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{forged:.40}");
        assert_eq!((reason(&refused), bad_field(&refused)), ("INVALID_PAGE_TOKEN".into(), "page_token".into()));
    }
    // A real token pages on; the same token with another query is stale.
    let first = client.search(call(search("餐饮", ""), None)).await.unwrap().into_inner();
    assert_eq!(first.hits.len(), 2);
    let token = first.next_page_token;
    let second = client.search(call(search("餐饮", &token), None)).await.unwrap().into_inner();
    assert!(second.hits.iter().all(|h| first.hits.iter().all(|f| f.subject_id != h.subject_id)));
    let stale = client.search(call(search("房地产", &token), None)).await.unwrap_err();
    assert_eq!(reason(&stale), "INVALID_PAGE_TOKEN");
    let mut tampered = token.clone();
    tampered.replace_range(0..1, if token.starts_with('4') { "5" } else { "4" });
    assert_eq!(reason(&client.search(call(search("餐饮", &tampered), None)).await.unwrap_err()), "INVALID_PAGE_TOKEN");

    // 20,000 letters overflowed a thread's stack; 80,000 characters took 33 s of CPU.
    for huge in ["a".repeat(20_000), "隆合".repeat(40_000), "ab ".repeat(30_000)] {
        let refused = client.search(call(search(&huge, ""), None)).await.unwrap_err();
        assert_eq!((refused.code(), bad_field(&refused)), (Code::InvalidArgument, "query".into()));
        assert!(refused.message().contains("200"), "{}", refused.message());
    }
    // At the cap, the worst shapes are answered (one syllable per letter, many words).
    for at_cap in ["a".repeat(200), "xian".repeat(50), "a b ".repeat(50), "隆".repeat(200)] {
        client.search(call(search(&at_cap, ""), None)).await.unwrap();
    }
    serving(&server.channel).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_huge_searches_does_not_hold_up_a_regulator() {
    let server = start_with(|_| {}).await;
    let query = "隆合餐饮管理".repeat(20_000);
    let mut flood = Vec::new();
    for _ in 0..10 {
        let mut client = SearchServiceClient::new(server.channel.clone());
        let request = search(&query, "");
        flood.push(tokio::spawn(async move { client.search(call(request, None)).await }));
    }
    // Answered while the flood is in flight, well within its deadline.
    let page = regulator_view(&server, COMPANY).await;
    assert_eq!(page.subject.unwrap().code, COMPANY);
    for call in flood {
        let refused = call.await.unwrap().unwrap_err();
        assert!(matches!(refused.code(), Code::InvalidArgument | Code::ResourceExhausted), "{refused:?}");
    }
    serving(&server.channel).await;
    server.shutdown().await;
}

#[tokio::test]
async fn calls_end_at_the_server_deadline_and_their_work_is_abandoned() {
    let server = start_with(|config| {
        config.request_timeout_ms = 1;
        config.metrics_listen = "127.0.0.1:0".into();
        // Several batches of 1,000 in a row: more than a regulator's default burst.
        config.limits.regulator = credit_server::config::Quota { per_second: 100_000, burst: 100_000 };
    })
    .await;
    let mut checks = JointCheckServiceClient::new(server.channel.clone());
    let entries: Vec<pb::CheckRequest> = (0..1000)
        .map(|_| pb::CheckRequest { identifier: COMPANY.into(), item: "GOV_PROCUREMENT".into(), ..Default::default() })
        .collect();
    let metrics = server.metrics_addr.unwrap();
    // Until one batch was stopped while it ran (not only skipped before a thread took it up).
    let mut attempts = 0;
    loop {
        let request = pb::BatchCheckRequest { checks: entries.clone() };
        let before = abandoned(metrics).await;
        let late = checks.batch_check(call(request, Some(&server.tokens.regulator))).await.unwrap_err();
        assert_eq!(late.code(), Code::DeadlineExceeded);
        assert_eq!(reason(&late), "DEADLINE_EXCEEDED", "the server's deadline, not the client's");
        // The work ends soon after its caller left, counted as queued or running.
        let started = std::time::Instant::now();
        let after = loop {
            let after = abandoned(metrics).await;
            if after.0 + after.1 > before.0 + before.1 {
                break after;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the abandoned batch ran on: {after:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        attempts += 1;
        if after.1 > before.1 {
            break;
        }
        assert!(attempts < 20, "no batch was stopped while it ran in {attempts} attempts");
    }
    serving(&server.channel).await;
    // Nothing of the abandoned batches was recorded: the check log holds none of their checks.
    let dir = server.shutdown().await;
    let store = credit_core::store::Store::open_dir(&dir.path().join("data")).unwrap();
    let mut recorded = 0;
    store
        .scan_checks(&mut |_, _| {
            recorded += 1;
            true
        })
        .unwrap();
    assert_eq!(recorded, 0, "checks of abandoned batches were recorded");
}

/// `credit_work_abandoned_total` by when: (queued, running).
async fn abandoned(metrics: std::net::SocketAddr) -> (u64, u64) {
    let text = metrics_text(metrics).await;
    let count = |when: &str| {
        let prefix = format!("credit_work_abandoned_total{{when=\"{when}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|n| n.trim().parse().ok()).expect("counter")
    };
    (count("queued"), count("running"))
}

async fn metrics_text(addr: std::net::SocketAddr) -> String {
    super::metrics::scrape(addr, "/metrics").await.1
}

#[tokio::test]
async fn only_regulators_travel_in_time() {
    let server = start_with(|_| {}).await;
    let mut subjects = SubjectServiceClient::new(server.channel.clone());
    let past = |as_of: &str, known_at: Option<prost_types::Timestamp>| pb::GetSubjectRequest {
        identifier: COMPANY.into(),
        as_of: as_of.into(),
        known_at,
        ..Default::default()
    };
    let then = prost_types::Timestamp { seconds: 1_767_225_600, nanos: 0 };
    for token in [None, Some(server.tokens.provider.as_str())] {
        for (request, field) in [(past("2026-01-01", None), "as_of"), (past("", Some(then)), "known_at")] {
            let refused = subjects.get_subject(call(request, token)).await.unwrap_err();
            assert_eq!(refused.code(), Code::PermissionDenied);
            assert_eq!((reason(&refused), bad_field(&refused)), ("TIME_TRAVEL_NOT_ALLOWED".into(), field.into()));
        }
    }
    let mut records = RecordServiceClient::new(server.channel.clone());
    let list = |in_force_on: &str| pb::ListRecordsRequest {
        identifier: COMPANY.into(),
        in_force_on: in_force_on.into(),
        ..Default::default()
    };
    let refused = records.list_records(call(list("2024-01-01"), Some(&server.tokens.provider))).await.unwrap_err();
    assert_eq!(reason(&refused), "TIME_TRAVEL_NOT_ALLOWED");
    records.list_records(call(list(""), Some(&server.tokens.provider))).await.expect("today's view");
    // Regulators may, in either view.
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    let mut request = past("2026-01-01", Some(now));
    request.view = pb::View::Public as i32;
    subjects.get_subject(call(request, Some(&server.tokens.regulator))).await.expect("regulators travel");
    records.list_records(call(list("2024-01-01"), Some(&server.tokens.regulator))).await.expect("regulators travel");
    server.shutdown().await;
}

fn upload(kind: &str, file: &str) -> Vec<pb::UploadChunk> {
    let header = pb::UploadHeader { kind: kind.into(), file_name: "file.csv".into(), ..Default::default() };
    vec![pb::UploadChunk { header: Some(header), data: file.as_bytes().to_vec() }]
}

#[tokio::test]
async fn a_department_changes_only_what_it_delivered() {
    let district = std::sync::Mutex::new(None);
    let server = start_with(|config| {
        let keys = KeyFile::in_dir(&config.data_dir);
        *district.lock().unwrap() = Some(keys.create(Role::Provider, Some("区农业农村局".into()), None).unwrap().token);
    })
    .await;
    let district = district.into_inner().unwrap().unwrap();
    let mut imports = ImportServiceClient::new(server.channel.clone());
    assert_eq!(verdict(&server).await, "BLOCK", "the legal representative is on the court's list");
    let before = regulator_view(&server, COMPANY).await;

    // A district bureau replaces the company's legal representative: refused, row and column named.
    let subjects = format!("TYSHXYDM,JGMC,FDDBRXM,FDDBRZJHM\n{COMPANY},{COMPANY_NAME},李四,11010519491231002X\n");
    let answer = imports.upload(call(tokio_stream::iter(upload("subject", &subjects)), Some(&district))).await;
    let answer = answer.unwrap().into_inner();
    assert_eq!((answer.rows, answer.accepted, answer.rejected), (1, 0, 1));
    assert_eq!((answer.rejects[0].row, answer.rejects[0].column.as_str()), (2, "source_dept"));
    assert!(answer.rejects[0].reason.contains("registration"), "{}", answer.rejects[0].reason);
    let after = regulator_view(&server, COMPANY).await;
    assert_eq!(after.subject, before.subject, "the subject is unchanged");
    // An unknown subject from it is only provisional.
    let new = "TYSHXYDM,JGMC\n91110000600037341L,某某农业合作社\n";
    let answer = imports.upload(call(tokio_stream::iter(upload("subject", new)), Some(&district))).await;
    assert_eq!(answer.unwrap().into_inner().accepted, 1);
    let page = regulator_view(&server, "91110000600037341L").await;
    let json: serde_json::Value = serde_json::from_str(&page.json).unwrap();
    assert_eq!(json["subject"]["provisional"], true, "{json}");

    // It re-delivers the court's list entry as removed: another record (its own), the court's stays.
    let lists = format!(
        "MD_LX,XDR_MC,XDR_ZJHM,RDBM,RDYJ,LRRQ,YCRQ,ZT\n\
         COURT_DISHONEST_DEBTOR,赵红梅,{PERSON},银川市兴庆区人民法院,（2026）银兴执2445号,2026-01-19,2026-02-01,已移出\n"
    );
    let answer = imports.upload(call(tokio_stream::iter(upload("list", &lists)), Some(&district))).await;
    assert_eq!(answer.unwrap().into_inner().accepted, 1);
    assert_eq!(verdict(&server).await, "BLOCK", "the court's entry is the court's to remove");
    let person = regulator_view(&server, PERSON).await;
    let entries: Vec<&pb::Record> = person.records.iter().filter(|r| r.category == "list_entry").collect();
    assert_eq!(entries.len(), 2, "two records, one per department: {entries:?}");

    // And it cannot decide a case about the court's record, nor read it.
    let court_entry = entries.iter().find(|r| r.source_dept == "银川市兴庆区人民法院").unwrap().record_id;
    let mut cases = CaseServiceClient::new(server.channel.clone());
    let open = pb::OpenCaseRequest {
        record_id: court_entry,
        action: "file".into(),
        reason: "wrong".into(),
        ..Default::default()
    };
    let case = cases.open_case(call(open, Some(&server.tokens.regulator))).await.unwrap().into_inner();
    let get = || pb::GetCaseRequest { case_id: case.id };
    let hidden = cases.get_case(call(get(), Some(&district))).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound, "another department's case does not exist for it");
    cases.get_case(call(get(), Some(&server.tokens.regulator))).await.expect("the applicant reads it");
    let listed = pb::ListCasesRequest { record_id: court_entry };
    assert!(cases.list_cases(call(listed, Some(&district))).await.unwrap().into_inner().cases.is_empty());
    let accept = |action: &str| pb::DecideCaseRequest { case_id: case.id, action: action.into(), ..Default::default() };
    cases.decide_case(call(accept("accept"), Some(&server.tokens.regulator))).await.unwrap();
    let refused = cases.decide_case(call(accept("dismiss"), Some(&district))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    serving(&server.channel).await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_and_probes_pay_like_any_call() {
    let server = start_with(|config| {
        config.limits.public.burst = 3;
        config.limits.public.per_second = 1;
        config.limits.probe.burst = 2;
        config.limits.probe.per_second = 1;
    })
    .await;
    let mut subjects = SubjectServiceClient::new(server.channel.clone());
    let get = || pb::GetSubjectRequest { identifier: COMPANY.into(), ..Default::default() };
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(subjects.get_subject(call(get(), Some("not-a-key"))).await.unwrap_err().code());
    }
    assert_eq!(&codes[..3], [Code::Unauthenticated; 3]);
    assert_eq!(codes[4], Code::ResourceExhausted, "guessing keys is charged to the address: {codes:?}");
    let limited = subjects.get_subject(call(get(), None)).await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted, "the same bucket as the address's anonymous calls");
    assert!(limited.get_error_details().retry_info().is_some());

    let mut health = HealthClient::new(server.channel.clone());
    let probe = || tonic_health::pb::HealthCheckRequest { service: String::new() };
    let mut probes = Vec::new();
    for _ in 0..4 {
        probes.push(health.check(probe()).await.map(|_| Code::Ok).unwrap_or_else(|s| s.code()));
    }
    assert_eq!(probes[..2], [Code::Ok, Code::Ok]);
    assert_eq!(probes[3], Code::ResourceExhausted, "{probes:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    serving(&server.channel).await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_global_limit_holds_across_callers() {
    let server = start_with(|config| {
        config.limits.global.burst = 5;
        config.limits.global.per_second = 1;
    })
    .await;
    let mut subjects = SubjectServiceClient::new(server.channel.clone());
    let get = || pb::GetSubjectRequest { identifier: COMPANY.into(), ..Default::default() };
    let mut refused = None;
    for i in 0..8 {
        let token = [None, Some(server.tokens.regulator.as_str()), Some(server.tokens.provider.as_str())][i % 3];
        if let Err(status) = subjects.get_subject(call(get(), token)).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("the sixth call of all callers together is refused");
    assert_eq!((refused.code(), reason(&refused)), (Code::Unavailable, "OVERLOADED".into()));
    assert!(refused.get_error_details().retry_info().is_some());
    server.shutdown().await;
}

/// A penalty of the demo data whose window has ended: regulators find it by its number, the public not.
const HIDDEN_PENALTY: (&str, &str) = ("固隆市监罚〔2025〕2号", "91640423MAMPU0D737");

#[tokio::test]
async fn the_public_index_shows_no_hidden_record() {
    let server = start_with(|_| {}).await;
    let mut client = SearchServiceClient::new(server.channel.clone());
    let (number, code) = HIDDEN_PENALTY;
    let query = |view: pb::View| pb::SearchRequest { query: number.into(), view: view as i32, ..Default::default() };
    let found = client.search(call(query(pb::View::Regulator), Some(&server.tokens.regulator))).await.unwrap();
    assert!(found.into_inner().hits.iter().any(|h| h.code == code), "regulators find it");
    let public = client.search(call(query(pb::View::Public), None)).await.unwrap().into_inner();
    assert!(public.hits.iter().all(|h| h.code != code), "{:?}", public.hits);
    // Nor through a filter on its category and date.
    let filtered = pb::SearchRequest {
        query: code.into(),
        category: "penalty".into(),
        from: "2025-01-01".into(),
        to: "2025-12-31".into(),
        ..Default::default()
    };
    let public = client.search(call(filtered.clone(), None)).await.unwrap().into_inner();
    assert!(public.hits.is_empty(), "{:?}", public.hits);
    let mut regulator = filtered;
    regulator.view = pb::View::Regulator as i32;
    let found = client.search(call(regulator, Some(&server.tokens.regulator))).await.unwrap().into_inner();
    assert!(found.hits.iter().any(|h| h.code == code));
    server.shutdown().await;
}

#[tokio::test]
async fn nothing_personal_or_undisclosed_reaches_the_public() {
    let server = start_with(|_| {}).await;
    let mut imports = ImportServiceClient::new(server.channel.clone());
    // The registration department delivers: one company not to be disclosed, one with a column no
    // table knows and a remark.
    let file = "TYSHXYDM,JGMC,ZCDZXZQHDM,SFGK,BZ,NEIBU_BEIZHU\n\
                91110000600037341L,北京不公开科技有限公司,110000,否,,\n\
                91310115MA1K3BTP2B,上海某某农业合作社,310115,是,内部备注,仅供监管\n";
    let answer = imports.upload(call(tokio_stream::iter(upload("subject", file)), Some(&server.tokens.provider))).await;
    assert_eq!(answer.unwrap().into_inner().accepted, 2);

    let mut subjects = SubjectServiceClient::new(server.channel.clone());
    let public = |identifier: &str| pb::GetSubjectRequest { identifier: identifier.into(), ..Default::default() };
    let hidden = subjects.get_subject(call(public("91110000600037341L"), None)).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound, "SFGK=否: not for the public");
    assert_eq!(regulator_view(&server, "91110000600037341L").await.subject.unwrap().name, "北京不公开科技有限公司");
    let mut search = SearchServiceClient::new(server.channel.clone());
    let hits = search.search(call(search_request("北京不公开科技"), None)).await.unwrap().into_inner().hits;
    assert!(hits.iter().all(|h| h.code != "91110000600037341L"), "{hits:?}");

    let shown = subjects.get_subject(call(public("91310115MA1K3BTP2B"), None)).await.unwrap().into_inner();
    let json: serde_json::Value = serde_json::from_str(&shown.json).unwrap();
    let attributes = &json["subject"]["attributes"];
    for private in ["NEIBU_BEIZHU", "remark", "public"] {
        assert!(attributes.get(private).is_none(), "{private} in the public view: {json}");
    }
    let full = regulator_view(&server, "91310115MA1K3BTP2B").await;
    let json: serde_json::Value = serde_json::from_str(&full.json).unwrap();
    assert_eq!(json["subject"]["attributes"]["NEIBU_BEIZHU"], "仅供监管", "regulators keep every column");
    server.shutdown().await;
}

fn search_request(query: &str) -> pb::SearchRequest {
    pb::SearchRequest { query: query.into(), ..Default::default() }
}

#[tokio::test]
async fn metrics_label_only_the_methods_there_are() {
    let server = start_with(|config| config.metrics_listen = "127.0.0.1:0".into()).await;
    // A call to a path no service has, as a client crafting paths would send it.
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/credit.v1.X%22%7D%201/Evil");
    let codec = tonic_prost::ProstCodec::<pb::SearchRequest, pb::SearchResponse>::default();
    let refused = grpc.unary(tonic::Request::new(search_request("x")), path, codec).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    let body = metrics_text(server.metrics_addr.unwrap()).await;
    assert!(body.contains("method=\"unknown\",code=\"Unimplemented\""), "{body}");
    assert!(!body.contains("Evil"), "no label from the request path");
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_upload_is_cut_off() {
    let server = start_with(|config| config.uploads.idle_timeout_seconds = 1).await;
    let mut imports = ImportServiceClient::new(server.channel.clone());
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let header = pb::UploadHeader { kind: "penalty".into(), file_name: "slow.csv".into(), ..Default::default() };
    sender.send(pb::UploadChunk { header: Some(header), data: b"CF_WSH\n".to_vec() }).await.unwrap();
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let started = std::time::Instant::now();
    let refused = imports.upload(call(stream, Some(&server.tokens.provider))).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused)), (Code::DeadlineExceeded, "DEADLINE_EXCEEDED".into()));
    assert!(started.elapsed() < Duration::from_secs(30), "cut off by the idle timeout, not the client");
    drop(sender);
    serving(&server.channel).await;
    server.shutdown().await;
}

/// Every service of the API is mounted and reported SERVING by health: `serve()` lists each once, for
/// both, and this finds one missing from either.
#[tokio::test]
async fn every_service_of_the_api_is_serving() {
    use prost::Message;
    let server = start_with(|_| {}).await;
    let set = prost_types::FileDescriptorSet::decode(credit_proto::FILE_DESCRIPTOR_SET).unwrap();
    let names: Vec<String> = set
        .file
        .iter()
        .flat_map(|file| file.service.iter().map(move |s| format!("{}.{}", file.package(), s.name())))
        .collect();
    assert!(names.len() >= 11, "{names:?}");
    let mut health = HealthClient::new(server.channel.clone());
    for name in names {
        let answer = health.check(tonic_health::pb::HealthCheckRequest { service: name.clone() }).await;
        let status = answer.unwrap_or_else(|e| panic!("{name}: {e}")).into_inner().status;
        assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{name}");
    }
    server.shutdown().await;
}
