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
        ..Default::default()
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

/// The shop's penalty (decided 2025-04-28 under Order 58: repairable from 2025-07-28) and a subject key
/// bound to the shop.
#[tokio::test]
async fn a_subject_key_applies_for_its_own_records_only_and_each_missing_condition_is_named() {
    let mut subject_token = String::new();
    let (mut own, mut other) = (0, 0);
    let server = start_with(|config| {
        let keys = KeyFile::in_dir(&config.data_dir);
        subject_token =
            keys.create_bound(Role::Subject, None, Some("李记".into()), Some(SHOP.to_lowercase())).unwrap().token;
        assert!(keys.create_bound(Role::Subject, None, None, Some("91640423MAMPU0D738".into())).is_err(), "a bad code");
        assert!(keys.create_bound(Role::Subject, None, None, None).is_err(), "no code");
        assert!(keys.create_bound(Role::Regulator, None, None, Some(SHOP.into())).is_err(), "a code on another role");
        let store = credit_core::store::Store::open_dir(&config.data_dir).unwrap();
        let penalty_of = |code: &str, document: &str| {
            let subject = store.find_subject_id(code).unwrap().unwrap();
            store
                .records_of(subject, None)
                .unwrap()
                .into_iter()
                .find(|r| {
                    r.current.content.document_number.as_deref() == Some(document)
                        && matches!(r.current.content.details, RecordDetails::Penalty { .. })
                })
                .unwrap()
                .id
                .0
        };
        own = penalty_of(SHOP, DOCUMENT);
        other = penalty_of("914690307314943315", "海琼建罚〔2024〕1号");
    })
    .await;
    let mut cases = CaseServiceClient::new(server.channel.clone());
    let subject = Some(subject_token.as_str());
    let apply = |record_id, evidence: &[&str], commitment: &str| pb::OpenCaseRequest {
        action: "apply".into(),
        record_id,
        reason: "罚款已缴清，违法行为已改正".into(),
        evidence: evidence.iter().map(|e| e.to_string()).collect(),
        commitment_text: commitment.into(),
        ..Default::default()
    };
    let promise = "本店承诺所提交材料真实有效，如有违反愿意承担相应责任。";
    let receipt = ["隆财缴〔2025〕31号 罚款缴纳凭证"];

    let foreign = cases.open_case(call(apply(other, &receipt, promise), subject)).await.unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound, "another subject's record does not exist for it: {foreign:?}");
    let refusal = |status: &tonic::Status| {
        status.get_error_details().error_info().and_then(|i| i.metadata.get("refusal").cloned()).unwrap_or_default()
    };
    use tonic_types::StatusExt;
    let missing = cases.open_case(call(apply(own, &[], promise), subject)).await.unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing), refusal(&missing).as_str()),
        (Code::FailedPrecondition, "CASE_REFUSED".into(), "no_fulfilment_evidence")
    );
    let missing = cases.open_case(call(apply(own, &receipt, ""), subject)).await.unwrap_err();
    assert_eq!(refusal(&missing), "no_credit_commitment");
    let case = cases.open_case(call(apply(own, &receipt, promise), subject)).await.unwrap().into_inner();
    assert_eq!((case.kind.as_str(), case.state.as_str()), ("repair", "applied"));
    let stored: serde_json::Value = serde_json::from_str(&case.json).unwrap();
    assert!(stored["commitment_record"].as_u64().is_some(), "{stored}");
    cases.get_case(call(pb::GetCaseRequest { case_id: case.id }, subject)).await.expect("its own case");

    // A regulator applies only for a subject it names; the provider of another department not at all.
    let regulator = Some(server.tokens.regulator.as_str());
    let unnamed = cases.open_case(call(apply(other, &receipt, promise), regulator)).await.unwrap_err();
    assert_eq!(unnamed.code(), Code::PermissionDenied, "{unnamed:?}");
    let acting = pb::OpenCaseRequest { acting_for: "受托代理人 王某".into(), ..apply(other, &receipt, promise) };
    let case = cases.open_case(call(acting, regulator)).await.unwrap().into_inner();
    assert!(case.json.contains("受托代理人"), "{}", case.json);
    let provider = Some(server.tokens.provider.as_str());
    let stranger = cases.open_case(call(apply(own, &receipt, promise), provider)).await.unwrap_err();
    assert!(matches!(stranger.code(), Code::PermissionDenied | Code::FailedPrecondition), "{stranger:?}");

    // Its own full record, nobody else's, and no regulator listing.
    let mut subjects = credit_proto::v1::subject_service_client::SubjectServiceClient::new(server.channel.clone());
    let full = |code: &str| pb::GetSubjectRequest {
        identifier: code.into(),
        view: pb::View::Regulator as i32,
        ..Default::default()
    };
    let page = subjects.get_subject(call(full(SHOP), subject)).await.unwrap().into_inner();
    assert_eq!(page.view, pb::View::Regulator as i32);
    let refused = subjects.get_subject(call(full("914690307314943315"), subject)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let overdue = cases.list_overdue_cases(call(pb::ListOverdueCasesRequest::default(), subject)).await.unwrap_err();
    assert_eq!(overdue.code(), Code::PermissionDenied);
    cases
        .list_overdue_cases(call(pb::ListOverdueCasesRequest::default(), regulator))
        .await
        .expect("regulators list them");
    server.shutdown().await;
}
