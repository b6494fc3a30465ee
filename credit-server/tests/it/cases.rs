//! Repair and objection steps over gRPC, each allowed only to the role the workflow gives it.

use credit_core::model::RecordDetails;
use credit_proto::v1 as pb;
use credit_proto::v1::case_service_client::CaseServiceClient;
use credit_server::auth::{KeyFile, Role};
use tonic::Code;

use super::grpc::{call, reason, start_with};

const SHOP: &str = "91640423MAMPU0D737";
const DOCUMENT: &str = "固隆市监罚〔2025〕2号";
const DEPT: &str = "固原市隆德县市场监督管理局";

#[tokio::test]
async fn an_objection_goes_through_each_role_and_refuses_the_wrong_ones() {
    let mut dept_token = String::new();
    let mut record = 0;
    let server = start_with(|config| {
        dept_token = KeyFile::in_dir(&config.data_dir).create(Role::Provider, Some(DEPT.into()), None).unwrap().token;
        let store = credit_core::store::Store::open_dir(&config.data_dir).unwrap();
        let subject = store.find_subject_id(SHOP).unwrap().unwrap();
        record = store
            .records_of(subject, None)
            .unwrap()
            .into_iter()
            .find(|r| {
                r.current.content.document_number.as_deref() == Some(DOCUMENT)
                    && matches!(r.current.content.details, RecordDetails::Penalty { .. })
            })
            .unwrap()
            .id
            .0;
    })
    .await;
    let mut cases = CaseServiceClient::new(server.channel.clone());
    let (regulator, provider, admin) = (
        Some(server.tokens.regulator.as_str()),
        Some(server.tokens.provider.as_str()),
        Some(server.tokens.admin.as_str()),
    );
    let dept = Some(dept_token.as_str());
    let decide = |case_id, action: &str| pb::DecideCaseRequest {
        case_id,
        action: action.into(),
        note: format!("{action} by test"),
        ..Default::default()
    };

    let open = pb::OpenCaseRequest {
        action: "file".into(),
        record_id: record,
        reason: "罚款金额录入错误".into(),
        on: String::new(),
    };
    let anonymous = cases.open_case(call(open.clone(), None)).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let case = cases.open_case(call(open, provider)).await.unwrap().into_inner();
    assert_eq!((case.kind.as_str(), case.state.as_str(), case.record_id), ("objection", "applied", record));

    let wrong = cases.decide_case(call(decide(case.id, "accept"), dept)).await.unwrap_err();
    assert_eq!(wrong.code(), Code::PermissionDenied, "accepting is the credit office's");
    let accepted = cases.decide_case(call(decide(case.id, "accept"), regulator)).await.unwrap().into_inner();
    assert_eq!(accepted.state, "accepted");

    for token in [regulator, provider] {
        let refused = cases.decide_case(call(decide(case.id, "revoke"), token)).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "only the record's department revokes");
    }
    let revoked = cases.decide_case(call(decide(case.id, "revoke"), dept)).await.unwrap().into_inner();
    assert_eq!(revoked.state, "revoked");
    let json: serde_json::Value = serde_json::from_str(&revoked.json).unwrap();
    assert_eq!(json["state"], "revoked");

    let closed = cases.decide_case(call(decide(case.id, "dismiss"), admin)).await.unwrap_err();
    assert_eq!((closed.code(), reason(&closed).as_str()), (Code::FailedPrecondition, "CASE_REFUSED"));
    assert!(closed.message().contains("closed"), "{}", closed.message());
    let bad = cases.decide_case(call(decide(case.id, "apply"), admin)).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    let shown = cases.get_case(call(pb::GetCaseRequest { case_id: case.id }, provider)).await.unwrap().into_inner();
    assert_eq!(shown.steps_json.len(), 3);
    let listed =
        cases.list_cases(call(pb::ListCasesRequest { record_id: record }, regulator)).await.unwrap().into_inner();
    assert_eq!(listed.cases.len(), 1);
    let missing = cases.get_case(call(pb::GetCaseRequest { case_id: 999 }, provider)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let admin_client = {
        let mut config = credit_client::ClientConfig::new(server.addr.to_string());
        config.token = Some(server.tokens.admin.clone());
        credit_client::CreditClient::connect(config).await.unwrap()
    };
    let query = pb::QueryAuditLogRequest { operation: "objection.revoke".into(), ..Default::default() };
    let entries = admin_client.audit_log(query).await.unwrap().entries;
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].department.as_str(), entries[0].result.as_str()), (DEPT, "ok"));
    // Steps the workflow refused are written down with their reason; the role checks refuse before it.
    let query = pb::QueryAuditLogRequest { operation: "objection.accept".into(), ..Default::default() };
    let accepts = admin_client.audit_log(query).await.unwrap().entries;
    assert_eq!(accepts.iter().map(|e| e.result.as_str()).collect::<Vec<_>>(), vec!["ok"]);
    let query = pb::QueryAuditLogRequest { operation: "objection.dismiss".into(), ..Default::default() };
    let dismissals = admin_client.audit_log(query).await.unwrap().entries;
    assert_eq!(dismissals.len(), 1);
    assert!(dismissals[0].result.starts_with("failed: objection case"), "{}", dismissals[0].result);
    server.shutdown().await;
}
