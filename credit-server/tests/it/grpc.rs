//! The real server on a real socket (`127.0.0.1:0`) over a real store with the demo data, called
//! through the generated `credit.v1` stubs as any client would.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use credit_client::{ClientConfig, CreditClient};
use credit_proto::v1 as pb;
use credit_proto::v1::joint_check_service_client::JointCheckServiceClient;
use credit_proto::v1::record_service_client::RecordServiceClient;
use credit_proto::v1::search_service_client::SearchServiceClient;
use credit_proto::v1::subject_service_client::SubjectServiceClient;
use credit_server::auth::{KeyFile, Role};
use credit_server::{Config, ServeOptions};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

/// 阳泉市隆合餐饮管理有限公司, whose legal representative is on the court's list of dishonest judgment
/// debtors from 2026-01-19 to 2028-01-19.
pub(crate) const COMPANY: &str = "91140302749578410B";
pub(crate) const COMPANY_NAME: &str = "阳泉市隆合餐饮管理有限公司";
/// 赵红梅, that legal representative.
pub(crate) const PERSON: &str = "640104196408306204";

/// The demo data, imported and indexed once; each server gets its own copy.
pub(crate) fn template() -> &'static Path {
    static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let store = credit_core::store::Store::open_dir(&data).unwrap();
            credit_server::demo::load_if_empty(&store, &data).unwrap().expect("an empty store takes the demo");
            let mut index = credit_core::search::SearchIndex::open(&credit_core::search::default_dir(&data)).unwrap();
            index.catch_up(&store).unwrap();
            dir
        })
        .path()
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Tokens of each role, created in the data directory before the server starts.
pub(crate) struct Tokens {
    pub(crate) regulator: String,
    pub(crate) provider: String,
    pub(crate) admin: String,
}

pub(crate) struct Server {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
    pub(crate) data: PathBuf,
    pub(crate) tokens: Tokens,
    pub(crate) channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), credit_server::ServeError>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    start_with(|_| {}).await
}

pub(crate) async fn start_with(adjust: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(&template().join("data"), &data);
    let keys = KeyFile::in_dir(&data);
    let tokens = Tokens {
        regulator: keys.create(Role::Regulator, Some("市财政局".into()), None).unwrap().token,
        provider: keys.create(Role::Provider, Some("市场监管局".into()), None).unwrap().token,
        admin: keys.create(Role::Admin, None, None).unwrap().token,
    };
    let mut config = Config { listen: "127.0.0.1:0".parse().unwrap(), data_dir: data.clone(), ..Config::default() };
    adjust(&mut config);
    let (stop, stopped) = oneshot::channel::<()>();
    let running = credit_server::serve(ServeOptions { config, demo: false }, async {
        let _ = stopped.await;
    })
    .await
    .expect("server starts");
    let (addr, metrics_addr) = (running.addr, running.metrics_addr);
    let handle = tokio::spawn(running.serving);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    Server { addr, metrics_addr, data, tokens, channel, stop: Some(stop), handle, _dir: dir }
}

impl Server {
    /// Stops the server and waits until it has closed the store; the data stays until the returned
    /// directory is dropped.
    pub(crate) async fn shutdown(mut self) -> tempfile::TempDir {
        self.stop.take().expect("not stopped yet").send(()).expect("server listening for stop");
        drop(self.channel);
        self.handle.await.expect("server task").expect("clean shutdown");
        self._dir
    }

    fn subjects(&self) -> SubjectServiceClient<Channel> {
        SubjectServiceClient::new(self.channel.clone())
    }

    fn records(&self) -> RecordServiceClient<Channel> {
        RecordServiceClient::new(self.channel.clone())
    }

    fn search(&self) -> SearchServiceClient<Channel> {
        SearchServiceClient::new(self.channel.clone())
    }

    fn checks(&self) -> JointCheckServiceClient<Channel> {
        JointCheckServiceClient::new(self.channel.clone())
    }
}

/// `message` with a bearer token, when one is given.
pub(crate) fn call<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

fn get(identifier: &str, view: pb::View) -> pb::GetSubjectRequest {
    pb::GetSubjectRequest { identifier: identifier.into(), view: view as i32, ..Default::default() }
}

fn check(identifier: &str) -> pb::CheckRequest {
    pb::CheckRequest {
        identifier: identifier.into(),
        item: "GOV_PROCUREMENT".into(),
        as_of: "2026-06-01".into(),
        department: String::new(),
        omit_json: false,
    }
}

pub(crate) fn reason(status: &Status) -> String {
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

pub(crate) fn bad_field(status: &Status) -> String {
    status.get_error_details().bad_request().map(|b| b.field_violations[0].field.clone()).unwrap_or_default()
}

#[tokio::test]
async fn every_rpc_answers_a_regulator() {
    let server = start().await;
    let token = Some(server.tokens.regulator.as_str());

    // GetSubject: the company, its records (newest decision first) and its history.
    let mut request = get(COMPANY, pb::View::Unspecified);
    request.include_history = true;
    let got = server.subjects().get_subject(call(request, token)).await.unwrap().into_inner();
    let subject = got.subject.unwrap();
    assert_eq!((subject.code.as_str(), subject.name.as_str()), (COMPANY, COMPANY_NAME));
    assert_eq!(got.view, pb::View::Regulator as i32);
    assert!(!subject.masked);
    assert_eq!(subject.related[0].id_number, PERSON, "the regulator view is unmasked");
    assert!(!got.history.is_empty());
    let dates: Vec<&str> = got.records.iter().map(|r| r.decision_date.as_str()).collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest decision first");
    assert!(got.records.len() >= 2, "the company has several records: {}", got.records.len());

    // ListRecords, two per page: pages do not overlap and cover every record.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = server
            .records()
            .list_records(call(
                pb::ListRecordsRequest {
                    identifier: COMPANY.into(),
                    page_size: 2,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.records.len() <= 2);
        seen.extend(page.records.iter().map(|r| r.record_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let all: Vec<u64> = got.records.iter().map(|r| r.record_id).collect();
    assert_eq!(seen, all);
    let licences = server
        .records()
        .list_records(call(
            pb::ListRecordsRequest { identifier: COMPANY.into(), category: "licence".into(), ..Default::default() },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(licences.records.iter().all(|r| r.category == "licence"));

    // GetRecordHistory.
    let history = server
        .records()
        .get_record_history(call(pb::GetRecordHistoryRequest { record_id: all[0], ..Default::default() }, token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.versions[0].record_id, all[0]);
    assert_eq!(history.versions[0].version, 1);

    // Search.
    let found = server
        .search()
        .search(call(pb::SearchRequest { query: "隆合餐饮".into(), ..Default::default() }, token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.hits[0].code, COMPANY);
    assert!(found.hits[0].highlight.contains("<em>"));
    assert!(!found.partial && found.did_you_mean.is_empty());
    // The company's pinyin with one letter wrong finds nothing, and offers its name.
    let name = found.hits[0].name.clone();
    let mut reading: Vec<char> =
        credit_core::search::pinyin_syllables(credit_core::search::core_name(&credit_core::search::normalize(&name)))
            .concat()
            .chars()
            .collect();
    reading[5] = if reading[5] == 'q' { 'x' } else { 'q' };
    let typo: String = reading.into_iter().collect();
    let near = server
        .search()
        .search(call(pb::SearchRequest { query: typo.clone(), ..Default::default() }, token))
        .await
        .unwrap()
        .into_inner();
    assert!(near.hits.is_empty(), "{typo}: {near:?}");
    assert!(near.did_you_mean.contains(&name), "{typo}: {near:?}");

    // Check, BatchCheck (one bad entry does not fail the others), SubmitFeedback, GetStatistics.
    let result = server.checks().check(call(check(COMPANY), token)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.verdict, "BLOCK");
    assert_eq!(result.department, "市财政局", "an empty department is the key's own");
    assert_eq!(result.hits[0].relation, "related_person");
    let measure = result.measures.iter().find(|m| !m.suppressed).expect("a measure applies");
    let batch = server
        .checks()
        .batch_check(call(
            pb::BatchCheckRequest { checks: vec![check(PERSON), check("91110000600037341N"), check(COMPANY)] },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.results.len(), 3);
    use pb::batch_check_entry::Outcome;
    assert!(matches!(&batch.results[0].outcome, Some(Outcome::Result(r)) if r.verdict == "BLOCK"));
    assert!(matches!(&batch.results[1].outcome, Some(Outcome::Error(e)) if e.reason == "INVALID_IDENTIFIER"));
    assert!(matches!(&batch.results[2].outcome, Some(Outcome::Result(r)) if r.check_id > result.check_id));
    let feedback = server
        .checks()
        .submit_feedback(call(
            pb::SubmitFeedbackRequest {
                check_id: result.check_id,
                measure_id: measure.measure_id.clone(),
                outcome: "applied".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((feedback.check_id, feedback.sequence), (result.check_id, 0), "the first report on a check");
    assert!(!feedback.operator.is_empty());
    let stats =
        server.checks().get_statistics(call(pb::GetStatisticsRequest::default(), token)).await.unwrap().into_inner();
    assert_eq!(stats.checks, 3);
    assert_eq!(stats.verdicts["BLOCK"], 3);
    assert_eq!(stats.total.unwrap().applied, 1);

    // Without the JSON copy, asked for: the same typed answer, alone or in a batch, and recorded as ever.
    let lean = pb::CheckRequest { omit_json: true, ..check(COMPANY) };
    let alone = server.checks().check(call(lean.clone(), token)).await.unwrap().into_inner().result.unwrap();
    let typed =
        |r: &pb::CheckResult| pb::CheckResult { json: String::new(), check_id: 0, checked_at: None, ..r.clone() };
    assert!(alone.json.is_empty() && !result.json.is_empty());
    assert_eq!(typed(&alone), typed(&result));
    assert!(alone.check_id > result.check_id, "recorded in the check log");
    let mixed = pb::BatchCheckRequest { checks: vec![lean, check(COMPANY)] };
    let mixed = server.checks().batch_check(call(mixed, token)).await.unwrap().into_inner();
    let [Some(Outcome::Result(lean)), Some(Outcome::Result(full))] =
        [&mixed.results[0].outcome, &mixed.results[1].outcome]
    else {
        panic!("{mixed:?}")
    };
    assert!(lean.json.is_empty() && !full.json.is_empty(), "per entry");
    assert_eq!(typed(lean), typed(&result));
    assert_eq!(typed(full), typed(&result));

    // The identifier service is still there.
    let client = CreditClient::connect(ClientConfig::new(server.addr.to_string())).await.unwrap();
    let results = client.check_identifiers(vec!["９１１１００００６０００３７３４１Ｌ".into()]).await.unwrap();
    assert_eq!(results[0].normalized, "91110000600037341L");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_name_the_field_with_a_stable_reason() {
    let server = start().await;
    let token = Some(server.tokens.regulator.as_str());
    let mut request = get(COMPANY, pb::View::Regulator);
    request.as_of = "2026-13-01".into();
    let error = server.subjects().get_subject(call(request, token)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!((reason(&error), bad_field(&error)), ("INVALID_ARGUMENT".into(), "as_of".into()));

    let error = server.subjects().get_subject(call(get("91110000600037341L", pb::View::Regulator), token)).await;
    let error = error.unwrap_err();
    assert_eq!((error.code(), reason(&error)), (Code::NotFound, "NOT_FOUND".into()));

    let mut unknown_item = check(COMPANY);
    unknown_item.item = "NO_SUCH_ITEM".into();
    let error = server.checks().check(call(unknown_item, token)).await.unwrap_err();
    assert_eq!((reason(&error), bad_field(&error)), ("UNKNOWN_ITEM".into(), "item".into()));

    let error = server
        .search()
        .search(call(pb::SearchRequest { query: "餐饮".into(), division: "1403x".into(), ..Default::default() }, token))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&error), "division");
    let error = server
        .search()
        .search(call(
            pb::SearchRequest { query: "餐饮".into(), page_token: "garbage".into(), ..Default::default() },
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&error), "page_token");
    let error = server
        .records()
        .list_records(call(
            pb::ListRecordsRequest { identifier: COMPANY.into(), page_token: "r9.x".into(), ..Default::default() },
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&error), "page_token");

    let error = server
        .checks()
        .submit_feedback(call(
            pb::SubmitFeedbackRequest {
                check_id: 999_999,
                measure_id: "x".into(),
                outcome: "applied".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!((error.code(), bad_field(&error)), (Code::NotFound, "check_id".into()));
    server.shutdown().await;
}

#[tokio::test]
async fn each_role_gets_what_it_may_and_nothing_more() {
    let server = start().await;
    let provider = Some(server.tokens.provider.as_str());
    let admin = Some(server.tokens.admin.as_str());

    // Anonymous: GetSubject and Search in the public view; nothing else.
    let got = server.subjects().get_subject(call(get(COMPANY, pb::View::Unspecified), None)).await.unwrap();
    assert_eq!(got.into_inner().view, pb::View::Public as i32);
    server.search().search(call(pb::SearchRequest { query: "隆合".into(), ..Default::default() }, None)).await.unwrap();
    let denied = server.subjects().get_subject(call(get(COMPANY, pb::View::Regulator), None)).await.unwrap_err();
    assert_eq!((denied.code(), reason(&denied)), (Code::Unauthenticated, "UNAUTHENTICATED".into()));
    let denied = server
        .records()
        .list_records(call(pb::ListRecordsRequest { identifier: COMPANY.into(), ..Default::default() }, None))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);
    assert_eq!(server.checks().check(call(check(COMPANY), None)).await.unwrap_err().code(), Code::Unauthenticated);

    // A provider: public view, records in the public view, no checks, no regulator view.
    let got = server.subjects().get_subject(call(get(COMPANY, pb::View::Unspecified), provider)).await.unwrap();
    assert_eq!(got.into_inner().view, pb::View::Public as i32);
    let listed = server
        .records()
        .list_records(call(pb::ListRecordsRequest { identifier: COMPANY.into(), ..Default::default() }, provider))
        .await
        .unwrap();
    assert_eq!(listed.into_inner().view, pb::View::Public as i32);
    let denied = server.subjects().get_subject(call(get(COMPANY, pb::View::Regulator), provider)).await.unwrap_err();
    assert_eq!((denied.code(), reason(&denied)), (Code::PermissionDenied, "PERMISSION_DENIED".into()));
    let denied = server.checks().check(call(check(COMPANY), provider)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = server.checks().get_statistics(call(pb::GetStatisticsRequest::default(), provider)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // An admin: everything.
    let result = server.checks().check(call(check(COMPANY), admin)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.department, "", "an admin key is bound to no department");
    let got = server.subjects().get_subject(call(get(COMPANY, pb::View::Regulator), admin)).await.unwrap();
    assert_eq!(got.into_inner().view, pb::View::Regulator as i32);

    // Tokens that are not ours, or revoked, are refused outright rather than treated as public.
    for bad in ["ck_00000000_00", "nonsense"] {
        let error = server.subjects().get_subject(call(get(COMPANY, pb::View::Public), Some(bad))).await.unwrap_err();
        assert_eq!(error.code(), Code::Unauthenticated, "{bad}");
    }
    let keys = KeyFile::in_dir(&server.data);
    let provider_id = keys.list().unwrap().into_iter().find(|k| k.role == Role::Provider).unwrap().id;
    keys.revoke(&provider_id).unwrap();
    let mut refused = None;
    for _ in 0..50 {
        match server.subjects().get_subject(call(get(COMPANY, pb::View::Public), provider)).await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("a revoked key stops working within the reload interval");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("revoked"), "{}", refused.message());
    server.shutdown().await;
}

#[tokio::test]
async fn the_public_view_masks_persons_and_regulators_state_a_purpose() {
    let server = start().await;
    let regulator = Some(server.tokens.regulator.as_str());

    // A person looked up by the full ID number: found, and masked.
    let got = server.subjects().get_subject(call(get(PERSON, pb::View::Public), None)).await.unwrap().into_inner();
    let person = got.subject.unwrap();
    assert!(person.masked);
    assert_ne!(person.code, PERSON);
    assert!(person.code.starts_with("640104") && person.code.ends_with("6204") && person.code.contains('*'));
    assert_ne!(person.name, "赵红梅");
    assert!(person.address.is_empty() && person.phone.is_empty());
    assert!(person.identifiers.iter().all(|i| !i.value.contains(PERSON)));
    assert!(got.records.iter().all(|r| r.category != "penalty" && r.usage_scope == "public"));
    assert!(got.records.iter().any(|r| r.category == "list_entry"), "the dishonest-debtor entry is public");

    // The company's legal representative: ID number masked in the public view.
    let company = server.subjects().get_subject(call(get(COMPANY, pb::View::Public), None)).await.unwrap().into_inner();
    let related = &company.subject.unwrap().related[0];
    assert_ne!(related.id_number, PERSON);
    assert!(related.id_number.contains('*'));

    // Public search by the full ID number: the person, masked.
    let found = server
        .search()
        .search(call(pb::SearchRequest { query: PERSON.into(), ..Default::default() }, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.hits.len(), 1);
    assert_ne!(found.hits[0].code, PERSON);

    // A regulator reading a person must say why; then everything is unmasked.
    let error = server.subjects().get_subject(call(get(PERSON, pb::View::Regulator), regulator)).await.unwrap_err();
    assert_eq!(
        (error.code(), reason(&error), bad_field(&error)),
        (Code::InvalidArgument, "PURPOSE_REQUIRED".into(), "purpose".into())
    );
    let mut request = get(PERSON, pb::View::Regulator);
    request.purpose = "政府采购供应商资格审查".into();
    let got = server.subjects().get_subject(call(request, regulator)).await.unwrap().into_inner();
    let person = got.subject.unwrap();
    assert_eq!((person.code.as_str(), person.name.as_str()), (PERSON, "赵红梅"));
    assert!(!person.address.is_empty());
    // The purpose may come as a header instead.
    let mut request = call(get(PERSON, pb::View::Regulator), regulator);
    request.metadata_mut().insert("x-credit-purpose", "procurement-review".parse().unwrap());
    server.subjects().get_subject(request).await.unwrap();
    // Companies need no purpose.
    server.subjects().get_subject(call(get(COMPANY, pb::View::Regulator), regulator)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limits_refuse_the_flooder_with_retry_info_and_spare_the_others() {
    let server = start_with(|config| {
        config.limits.public.per_second = 1;
        config.limits.public.burst = 3;
        config.limits.provider.per_second = 1;
        config.limits.provider.burst = 3;
    })
    .await;
    let regulator = Some(server.tokens.regulator.as_str());
    let provider = Some(server.tokens.provider.as_str());

    // Anonymous callers from this IP: three calls, then RESOURCE_EXHAUSTED with RetryInfo and retry-after.
    for _ in 0..3 {
        server.subjects().get_subject(call(get(COMPANY, pb::View::Public), None)).await.unwrap();
    }
    let refused = server.subjects().get_subject(call(get(COMPANY, pb::View::Public), None)).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused)), (Code::ResourceExhausted, "RATE_LIMITED".into()));
    let delay = refused.get_error_details().retry_info().and_then(|r| r.retry_delay).expect("retry info");
    assert!(delay > Duration::ZERO && delay <= Duration::from_secs(1), "{delay:?}");
    let retry_after: u64 = refused.metadata().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);

    // Callers with their own keys are unaffected by the anonymous flood, and by each other.
    for _ in 0..3 {
        server.subjects().get_subject(call(get(COMPANY, pb::View::Public), provider)).await.unwrap();
    }
    let refused = server.subjects().get_subject(call(get(COMPANY, pb::View::Public), provider)).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    for _ in 0..20 {
        server.subjects().get_subject(call(get(COMPANY, pb::View::Public), regulator)).await.unwrap();
    }

    // Once the wait is over, the flooder gets through again.
    tokio::time::sleep(delay).await;
    server.subjects().get_subject(call(get(COMPANY, pb::View::Public), None)).await.unwrap();
    server.shutdown().await;
}

/// The SDK waits as `RetryInfo` asks and tries again; without retries the refusal reaches the caller.
#[tokio::test]
async fn the_sdk_retries_after_resource_exhausted() {
    let server = start_with(|config| {
        config.limits.public.per_second = 2;
        config.limits.public.burst = 2;
    })
    .await;
    let mut patient = ClientConfig::new(server.addr.to_string());
    patient.retries = 5;
    let patient = CreditClient::connect(patient).await.unwrap();
    let started = std::time::Instant::now();
    for _ in 0..5 {
        patient.check_identifiers(vec![COMPANY.into()]).await.expect("retried until let through");
    }
    assert!(started.elapsed() >= Duration::from_millis(900), "waited for the bucket: {:?}", started.elapsed());

    let mut impatient = ClientConfig::new(server.addr.to_string());
    impatient.retries = 0;
    let impatient = CreditClient::connect(impatient).await.unwrap();
    let refused = impatient.check_identifiers(vec![COMPANY.into()]).await.unwrap_err();
    match refused {
        credit_client::ClientError::Call(status) => assert_eq!(status.code(), Code::ResourceExhausted),
        other => panic!("expected a refused call, got {other}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn batch_checks_are_weighted_by_size() {
    let server = start_with(|config| {
        config.limits.admin.per_second = 10;
        config.limits.admin.burst = 20;
    })
    .await;
    let admin = Some(server.tokens.admin.as_str());
    let batch = |n: usize| pb::BatchCheckRequest { checks: vec![check(COMPANY); n] };
    server.checks().batch_check(call(batch(15), admin)).await.unwrap();
    let refused = server.checks().batch_check(call(batch(15), admin)).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "15 + 15 exceeds a burst of 20");
    let refused = server.checks().batch_check(call(batch(21), admin)).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused)), (Code::InvalidArgument, "BATCH_TOO_LARGE".into()));
    let refused = server.checks().batch_check(call(batch(1001), Some(&server.tokens.regulator))).await.unwrap_err();
    assert_eq!(bad_field(&refused), "checks");
    server.shutdown().await;
}

#[tokio::test]
async fn overload_is_shed_and_oversized_messages_refused() {
    let server = start_with(|config| {
        config.max_concurrency = 1;
        config.max_message_bytes = 1 << 20;
        config.limits.regulator.per_second = 100_000;
        config.limits.regulator.burst = 100_000;
    })
    .await;
    let token = server.tokens.regulator.clone();
    let mut calls = Vec::new();
    for _ in 0..16 {
        let mut client = server.checks();
        let token = token.clone();
        calls.push(tokio::spawn(async move {
            client.batch_check(call(pb::BatchCheckRequest { checks: vec![check(COMPANY); 200] }, Some(&token))).await
        }));
    }
    let mut codes = Vec::new();
    for c in calls {
        codes.push(match c.await.unwrap() {
            Ok(_) => Code::Ok,
            Err(status) => {
                if status.code() == Code::Unavailable {
                    assert_eq!(reason(&status), "OVERLOADED");
                    assert!(status.get_error_details().retry_info().is_some());
                }
                status.code()
            }
        });
    }
    assert!(codes.contains(&Code::Ok), "{codes:?}");
    assert!(codes.contains(&Code::Unavailable), "calls over the cap are shed: {codes:?}");

    let huge = "9".repeat(2 << 20);
    let refused = server.subjects().get_subject(call(get(&huge, pb::View::Public), None)).await.unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn health_and_reflection_work_without_our_proto_files() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let server = start().await;
    let mut health = HealthClient::new(server.channel.clone());
    for service in [
        "",
        "credit.v1.SubjectService",
        "credit.v1.RecordService",
        "credit.v1.SearchService",
        "credit.v1.JointCheckService",
        "credit.v1.IdentifierService",
    ] {
        let status = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }

    {
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};
        let mut client = ServerReflectionClient::new(server.channel.clone());
        let requests = tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]);
        let mut responses = client.server_reflection_info(requests).await.unwrap().into_inner();
        let response: ServerReflectionResponse = responses.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected reflection answer");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for wanted in ["credit.v1.SubjectService", "credit.v1.JointCheckService", "grpc.health.v1.Health"] {
            assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
        }
    }
    {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
        let mut client = ServerReflectionClient::new(server.channel.clone());
        let requests = tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol("credit.v1.SearchService".into())),
        }]);
        let mut responses = client.server_reflection_info(requests).await.unwrap().into_inner();
        let response = responses.message().await.unwrap().unwrap();
        let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
            panic!("unexpected reflection answer");
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_calls_and_loses_no_acknowledged_write() {
    let server = start().await;
    let token = server.tokens.regulator.clone();
    // Checks are writes (the check log): fire many, stop the server while they run.
    let mut calls = Vec::new();
    for _ in 0..40 {
        let mut client = server.checks();
        let token = token.clone();
        calls.push(tokio::spawn(async move { client.check(call(check(COMPANY), Some(&token))).await }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let data = server.data.clone();
    let stopping = tokio::spawn(server.shutdown());
    let mut acknowledged = Vec::new();
    for c in calls {
        if let Ok(Ok(response)) = c.await {
            acknowledged.push(response.into_inner().result.unwrap().check_id);
        }
    }
    let _dir = stopping.await.unwrap();
    assert!(!acknowledged.is_empty(), "some checks were answered before the stop");

    // The store is closed (it opens again) and holds every acknowledged check.
    let store = credit_core::store::Store::open_dir(&data).unwrap();
    let checker = credit_core::checks::Checker::new(&store, credit_core::rules::RuleSet::builtin());
    for id in &acknowledged {
        assert!(checker.recorded_check(*id).unwrap().is_some(), "acknowledged check {id} lost");
    }
}

#[tokio::test]
async fn a_client_that_never_hangs_up_does_not_hold_the_shutdown() {
    let server = start_with(|config| config.shutdown_grace_seconds = 1).await;
    // An HTTP/2 client that went quiet: connected, preface sent, never closes.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut idle, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(20), server.shutdown()).await;
    assert!(stopped.is_ok(), "shutdown finished");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    drop(idle);
}

#[tokio::test]
async fn the_server_honours_client_deadlines() {
    let server = start().await;
    // The channel itself has no timeout: only the server, reading `grpc-timeout`, can end this call.
    let mut request =
        call(pb::BatchCheckRequest { checks: vec![check(COMPANY); 1000] }, Some(&server.tokens.regulator));
    request.set_timeout(Duration::from_millis(1));
    let error = server.checks().batch_check(request).await.unwrap_err();
    assert!(matches!(error.code(), Code::Cancelled | Code::DeadlineExceeded), "{error:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn get_subject_carries_exactly_what_the_embedded_get_prints() {
    let server = start().await;
    let token = Some(server.tokens.regulator.as_str());
    let public = server.subjects().get_subject(call(get(COMPANY, pb::View::Public), None)).await.unwrap().into_inner();
    let mut request = get(COMPANY, pb::View::Regulator);
    request.include_history = true;
    let regulator = server.subjects().get_subject(call(request, token)).await.unwrap().into_inner();
    let versions: u32 = regulator.records.iter().map(|r| r.version).sum();
    assert_eq!(regulator.record_history.len() as u32, versions, "every version of every record shown");
    assert!(public.record_history.is_empty() && public.history.is_empty());
    // Without the JSON copy, asked for: the same typed answer.
    let lean = pb::GetSubjectRequest { omit_json: true, ..get(COMPANY, pb::View::Public) };
    let lean = server.subjects().get_subject(call(lean, None)).await.unwrap().into_inner();
    assert!(lean.json.is_empty() && !public.json.is_empty());
    assert_eq!(pb::GetSubjectResponse { json: String::new(), ..public.clone() }, lean);

    let data = server.data.clone();
    let _dir = server.shutdown().await;
    let d = data.to_str().unwrap();
    let embedded = |args: &[&str]| {
        let out = super::commands::run(args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        super::commands::last_json(&out)
    };
    let parse = |json: &str| serde_json::from_str::<serde_json::Value>(json).expect("json field");
    assert_eq!(parse(&public.json), embedded(&["get", "--data-dir", d, COMPANY]));
    assert_eq!(
        parse(&regulator.json),
        embedded(&["get", "--data-dir", d, "--view", "regulator", "--history", COMPANY])
    );
}
