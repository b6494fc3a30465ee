//! Administration over gRPC: keys take effect at once and are audited once, backups, reindexing.

use credit_proto::v1 as pb;
use credit_proto::v1::admin_service_client::AdminServiceClient;
use tonic::Code;

use super::grpc::{COMPANY, call, start_with};

#[tokio::test]
async fn admins_manage_keys_back_up_and_reindex_and_nobody_else_does() {
    let server = start_with(|_| {}).await;
    let mut admin = AdminServiceClient::new(server.channel.clone());
    let token = Some(server.tokens.admin.as_str());
    let regulator = Some(server.tokens.regulator.as_str());

    let denied = admin.list_api_keys(call(pb::ListApiKeysRequest {}, regulator)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = admin.reindex(call(pb::ReindexRequest {}, None)).await.unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);

    let request = pb::CreateApiKeyRequest {
        role: "regulator".into(),
        dept: "市发展改革委".into(),
        label: "test".into(),
        ..Default::default()
    };
    let created = admin.create_api_key(call(request, token)).await.unwrap().into_inner();
    let key = created.key.unwrap();
    let fresh = Some(created.token.as_str());
    let mut subjects = credit_proto::v1::subject_service_client::SubjectServiceClient::new(server.channel.clone());
    let get =
        || pb::GetSubjectRequest { identifier: COMPANY.into(), view: pb::View::Regulator as i32, ..Default::default() };
    subjects.get_subject(call(get(), fresh)).await.expect("a new key works at once");
    let listed = admin.list_api_keys(call(pb::ListApiKeysRequest {}, token)).await.unwrap().into_inner().keys;
    assert!(listed.iter().any(|k| k.id == key.id && k.dept == "市发展改革委" && k.revoked_at.is_none()));
    let bad =
        admin.create_api_key(call(pb::CreateApiKeyRequest { role: "provider".into(), ..Default::default() }, token));
    assert_eq!(bad.await.unwrap_err().code(), Code::InvalidArgument, "providers need a department");

    let revoked = admin.revoke_api_key(call(pb::RevokeApiKeyRequest { id: key.id.clone() }, token)).await.unwrap();
    assert!(revoked.into_inner().revoked_at.is_some());
    let refused = subjects.get_subject(call(get(), fresh)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "a revoked key stops at once");
    let unknown = admin.revoke_api_key(call(pb::RevokeApiKeyRequest { id: "nope".into() }, token)).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let backup = admin.backup(call(pb::BackupRequest { to: "nightly/1".into() }, token)).await.unwrap().into_inner();
    let to = server.data.join("backups/nightly/1");
    assert!(backup.subjects >= 2000 && to.join("CURRENT").is_file(), "{backup:?}");
    assert_eq!(backup.path, to.display().to_string());
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(&to).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "a backup is the owner's alone: {mode:o}");
    }
    let mode = std::fs::metadata(&server.data).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "so is the data directory: {mode:o}");
    let again = admin.backup(call(pb::BackupRequest { to: "nightly/1".into() }, token)).await.unwrap_err();
    assert_eq!(again.code(), Code::InvalidArgument);
    // Nowhere else: not an absolute path, not out of the backup directory.
    for outside in ["/etc/credit-backup", "../escape", "nightly/../../../escape", "/tmp"] {
        let refused = admin.backup(call(pb::BackupRequest { to: outside.into() }, token)).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{outside}");
    }
    assert!(!server.data.join("escape").exists() && !server.data.parent().unwrap().join("escape").exists());

    let reindexed = admin.reindex(call(pb::ReindexRequest {}, token)).await.unwrap().into_inner();
    assert!(reindexed.subjects_indexed >= 2000);
    let mut search = credit_proto::v1::search_service_client::SearchServiceClient::new(server.channel.clone());
    let hits = search.search(call(pb::SearchRequest { query: "隆合餐饮".into(), ..Default::default() }, None)).await;
    assert!(!hits.unwrap().into_inner().hits.is_empty(), "search works after the rebuild");

    // Each change is written down once, as the admin's, even after the server's own key reload ran.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut config = credit_client::ClientConfig::new(server.addr.to_string());
    config.token = Some(server.tokens.admin.clone());
    let client = credit_client::CreditClient::connect(config).await.unwrap();
    for (operation, expected) in [("api_key.create", 1), ("api_key.revoke", 1), ("backup", 1), ("reindex", 1)] {
        let query = pb::QueryAuditLogRequest { operation: operation.into(), ..Default::default() };
        let entries = client.audit_log(query).await.unwrap().entries;
        assert_eq!(entries.len(), expected, "{operation}: {entries:?}");
        assert_eq!(entries[0].role, "admin", "{operation}");
    }
    server.shutdown().await;
}
