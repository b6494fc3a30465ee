//! `credit.v1.AdminService`: reindex, backup and API keys, for admins; each call audited.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use credit_proto::v1 as pb;
use credit_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status};

use super::{Context, UseCase, actor, caller, permit, required};
use crate::auth::{Caller, KeyEntry, KeyError, Role};
use crate::convert;
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone)]
pub struct AdminApi {
    pub context: Context,
}

fn api_key(entry: &KeyEntry) -> pb::ApiKey {
    pb::ApiKey {
        id: entry.id.clone(),
        role: entry.role.as_str().to_string(),
        dept: entry.dept.clone().unwrap_or_default(),
        label: entry.label.clone().unwrap_or_default(),
        subject_code: entry.subject_code.clone().unwrap_or_default(),
        created_at: Some(convert::timestamp(entry.created_at)),
        revoked_at: entry.revoked_at.map(convert::timestamp),
        json: serde_json::to_string(entry).unwrap_or_default(),
    }
}

fn key_error(error: KeyError) -> ApiError {
    match error {
        KeyError::UnknownKey(id) => ApiError::field(ErrorCode::NotFound, "id", format!("no key {id:?}")),
        KeyError::ProviderWithoutDept => ApiError::invalid("dept", "a provider key must be bound to a department"),
        KeyError::SubjectWithoutCode(reason) => {
            ApiError::invalid("code", format!("a subject key must be bound to a valid unified code: {reason}"))
        }
        KeyError::CodeWithoutSubject => ApiError::invalid("code", "only a subject key is bound to a code"),
        other => ApiError::internal(&other),
    }
}

/// Picks the change up at once (rather than at the next reload) and writes it down as `caller`'s.
fn reload_and_audit(context: &Context, caller: &Caller) -> Result<(), ApiError> {
    let changes = context.keys.reload_changes().map_err(key_error)?.unwrap_or_default();
    let acts: Vec<_> = changes.iter().map(crate::auth::KeyChange::act).collect();
    Ok(context.platform.record_admin(&actor(caller), &acts)?)
}

/// Where a backup named `name` goes: a new directory under `backup_dir`. The name is one or more plain
/// path components: no root, no `..`, nothing that leaves `backup_dir`.
pub fn backup_path(backup_dir: &Path, name: &str) -> Result<PathBuf, ApiError> {
    let relative = Path::new(name);
    let plain = relative.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "to",
            "a name for the backup under the server's backup_dir (plain components: no root, no `..`)",
        ));
    }
    Ok(backup_dir.join(relative))
}

pub(crate) use credit_core::platform::private_dir;

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn reindex(&self, request: Request<pb::ReindexRequest>) -> Result<Response<pb::ReindexResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::Reindex)?;
        let response = self
            .context
            .blocking(move |context| {
                let started = Instant::now();
                let outcome = context.platform.reindex(&caller.actor())?;
                Ok(pb::ReindexResponse {
                    subjects_indexed: outcome.subjects_indexed,
                    milliseconds: started.elapsed().as_millis() as u64,
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn backup(&self, request: Request<pb::BackupRequest>) -> Result<Response<pb::BackupResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::Backup)?;
        let name = required("to", &request.get_ref().to)?;
        let to = backup_path(&self.context.backup_dir, &name)?;
        if to.exists() {
            return Err(ApiError::invalid("to", format!("{name:?} exists; a backup goes into a new directory")).into());
        }
        let response = self
            .context
            .blocking(move |context| {
                // The backup directory itself is private too, whatever made it.
                private_dir(&context.backup_dir).map_err(|e| ApiError::internal(&e))?;
                context.platform.backup(&caller.actor(), &to)?;
                let counters = context.platform.store().counters()?;
                Ok(pb::BackupResponse {
                    path: to.display().to_string(),
                    subjects: counters.subjects,
                    records: counters.records,
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::CreateApiKey)?;
        let message = request.into_inner();
        let role = Role::parse(message.role.trim()).ok_or_else(|| {
            ApiError::invalid(
                "role",
                format!("{:?} is not one of public, provider, regulator, admin, subject", message.role),
            )
        })?;
        let optional = |value: String| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let (dept, label, code) = (optional(message.dept), optional(message.label), optional(message.code));
        let response = self
            .context
            .blocking(move |context| {
                let created = context.keys.file().create_bound(role, dept, label, code).map_err(key_error)?;
                reload_and_audit(context, &caller)?;
                let json = serde_json::to_string(&created).unwrap_or_default();
                Ok(pb::CreateApiKeyResponse { key: Some(api_key(&created.entry)), token: created.token, json })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::ListApiKeys)?;
        let keys = self.context.blocking(|context| context.keys.file().list().map_err(key_error)).await?;
        Ok(Response::new(pb::ListApiKeysResponse { keys: keys.iter().map(api_key).collect() }))
    }

    async fn revoke_api_key(&self, request: Request<pb::RevokeApiKeyRequest>) -> Result<Response<pb::ApiKey>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::RevokeApiKey)?;
        let id = required("id", &request.get_ref().id)?;
        let entry = self
            .context
            .blocking(move |context| {
                let entry = context.keys.file().revoke(&id).map_err(key_error)?;
                reload_and_audit(context, &caller)?;
                Ok(entry)
            })
            .await?;
        Ok(Response::new(api_key(&entry)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_stay_under_their_directory() {
        let root = Path::new("/srv/credit/backups");
        assert_eq!(backup_path(root, "nightly-1").expect("plain"), root.join("nightly-1"));
        assert_eq!(backup_path(root, "2026/12/02").expect("nested"), root.join("2026/12/02"));
        for bad in ["/etc", "../x", "a/../../b", "..", "./", "a/./b/..", "/", "a\nb"] {
            let error = backup_path(root, bad).expect_err(bad);
            assert_eq!(error.field.as_deref(), Some("to"), "{bad}");
        }
    }
}
