//! Uploads of department files over gRPC: chunks, rejects named by row and column, a department's key
//! delivering only its own records, strict batches landing whole or not at all.

use credit_proto::v1 as pb;
use credit_proto::v1::import_service_client::ImportServiceClient;
use tonic::Code;

use super::grpc::{COMPANY, COMPANY_NAME, call, start_with};

fn chunks(kind: &str, source_dept: &str, strict: bool, bytes: &[u8]) -> Vec<pb::UploadChunk> {
    let header =
        pb::UploadHeader { kind: kind.into(), file_name: "处罚.csv".into(), source_dept: source_dept.into(), strict };
    let mut parts: Vec<pb::UploadChunk> =
        bytes.chunks(97).map(|c| pb::UploadChunk { header: None, data: c.to_vec() }).collect();
    parts[0].header = Some(header);
    parts
}

fn penalties() -> String {
    format!(
        "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG,CF_SJLY\n\
         {COMPANY_NAME},{COMPANY},阳市监罚〔2026〕77号,罚款,1.2,2026-10-08,阳泉市市场监督管理局,市场监管局\n\
         {COMPANY_NAME},{COMPANY},阳税罚〔2026〕5号,罚款,0.3,2026-10-09,阳泉市税务局,市税务局\n\
         {COMPANY_NAME},{COMPANY},阳市监罚〔2026〕78号,罚款,0.5,2026-13-45,阳泉市市场监督管理局,市场监管局\n"
    )
}

#[tokio::test]
async fn uploads_import_like_the_command_and_keep_departments_to_their_own_records() {
    let server = start_with(|_| {}).await;
    let mut imports = ImportServiceClient::new(server.channel.clone());
    let provider = Some(server.tokens.provider.as_str());
    let upload = |parts: Vec<pb::UploadChunk>, token: Option<&str>| call(tokio_stream::iter(parts), token);
    let file = penalties();

    let strict =
        imports.upload(upload(chunks("penalty", "", true, file.as_bytes()), provider)).await.unwrap().into_inner();
    assert!(!strict.committed, "strict: one bad row and nothing lands");
    assert_eq!((strict.rows, strict.rejected), (3, 2));

    let response =
        imports.upload(upload(chunks("penalty", "", false, file.as_bytes()), provider)).await.unwrap().into_inner();
    assert!(response.committed);
    assert_eq!((response.rows, response.accepted, response.rejected), (3, 1, 2));
    let other_dept = &response.rejects[0];
    assert_eq!((other_dept.row, other_dept.column.as_str()), (3, "source_dept"), "rows are file lines");
    assert!(other_dept.reason.contains("市税务局"), "{}", other_dept.reason);
    let original: serde_json::Value = serde_json::from_str(&other_dept.original_json).unwrap();
    assert_eq!(original["CF_WSH"], "阳税罚〔2026〕5号");
    let bad_date = &response.rejects[1];
    assert_eq!((bad_date.row, bad_date.column.as_str()), (4, "CF_JDRQ"), "{}", bad_date.reason);
    let summary: serde_json::Value = serde_json::from_str(&response.summary_json).unwrap();
    assert_eq!(summary["batch_id"], response.batch_id);

    let mut subjects = credit_proto::v1::subject_service_client::SubjectServiceClient::new(server.channel.clone());
    let get =
        pb::GetSubjectRequest { identifier: COMPANY.into(), view: pb::View::Regulator as i32, ..Default::default() };
    let shown = subjects.get_subject(call(get, Some(&server.tokens.regulator))).await.unwrap().into_inner();
    let documents: Vec<String> = shown.records.iter().map(|r| r.document_number.clone()).collect();
    assert!(documents.iter().any(|d| d == "阳市监罚〔2026〕77号"), "{documents:?}");

    let refused = imports.upload(upload(chunks("penalty", "市税务局", false, file.as_bytes()), provider)).await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied, "a key delivers for its own department");
    let regulator =
        imports.upload(upload(chunks("penalty", "", false, file.as_bytes()), Some(&server.tokens.regulator))).await;
    assert_eq!(regulator.unwrap_err().code(), Code::PermissionDenied);
    let anonymous = imports.upload(upload(chunks("penalty", "", false, file.as_bytes()), None)).await;
    assert_eq!(anonymous.unwrap_err().code(), Code::Unauthenticated);
    let unknown = imports.upload(upload(chunks("gossip", "", false, file.as_bytes()), provider)).await;
    assert_eq!(unknown.unwrap_err().code(), Code::InvalidArgument);
    let headless = imports.upload(upload(vec![pb::UploadChunk { header: None, data: b"x".to_vec() }], provider)).await;
    assert_eq!(headless.unwrap_err().code(), Code::InvalidArgument);

    let mut config = credit_client::ClientConfig::new(server.addr.to_string());
    config.token = Some(server.tokens.admin.clone());
    let admin = credit_client::CreditClient::connect(config).await.unwrap();
    let query = pb::QueryAuditLogRequest { operation: "import".into(), ..Default::default() };
    let entries = admin.audit_log(query).await.unwrap().entries;
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[1].role.as_str(), entries[1].department.as_str()), ("provider", "市场监管局"));
    assert_eq!(entries[1].detail["accepted"], "1");
    server.shutdown().await;
}
