//! `credit.v1.ImportService`: department files uploaded over gRPC, imported exactly as
//! `credit-server import` imports them.

use std::io::Write;

use credit_core::PlatformError;
use credit_core::import::{ImportError, ImportKind, ImportObserver, ImportOptions, Reject};
use credit_proto::v1 as pb;
use credit_proto::v1::import_service_server::ImportService;
use tonic::{Request, Response, Status, Streaming};

use super::{Context, caller, required};
use crate::auth::Role;
use crate::error::{ApiError, ErrorCode};

/// The most an upload may carry.
pub const MAX_UPLOAD_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone)]
pub struct ImportApi {
    pub context: Context,
}

#[derive(Default)]
struct Rejects(Vec<Reject>);

impl ImportObserver for Rejects {
    fn reject(&mut self, reject: &Reject) {
        self.0.push(reject.clone());
    }
}

/// The upload's next message, or DEADLINE_EXCEEDED when the client stays silent for `idle`.
async fn next(
    chunks: &mut Streaming<pb::UploadChunk>,
    idle: std::time::Duration,
) -> Result<Option<pb::UploadChunk>, Status> {
    match tokio::time::timeout(idle, chunks.message()).await {
        Ok(message) => message,
        Err(_) => Err(ApiError::new(
            ErrorCode::DeadlineExceeded,
            format!("no upload message for {} s; the upload is abandoned", idle.as_secs()),
        )
        .into()),
    }
}

#[tonic::async_trait]
impl ImportService for ImportApi {
    async fn upload(
        &self,
        request: Request<Streaming<pb::UploadChunk>>,
    ) -> Result<Response<pb::UploadResponse>, Status> {
        let caller = caller(&request)?;
        let dept = match caller.role {
            Role::Provider => caller.dept.clone(),
            Role::Admin => None,
            Role::Public if caller.key_id.is_none() => {
                return Err(ApiError::new(ErrorCode::Unauthenticated, "Upload needs an API key").into());
            }
            Role::Public | Role::Regulator | Role::Subject => {
                let message = "Upload is for provider keys (their own department's records) and admins";
                return Err(ApiError::new(ErrorCode::PermissionDenied, message).into());
            }
        };
        let gate = &self.context.uploads;
        let _slot = gate.slot()?;
        let mut chunks = request.into_inner();
        let idle = gate.idle_timeout();
        let first = next(&mut chunks, idle).await?.ok_or_else(|| ApiError::invalid("header", "the upload is empty"))?;
        let header = first.header.ok_or_else(|| ApiError::invalid("header", "required in the first message"))?;
        let kind = ImportKind::parse(header.kind.trim()).ok_or_else(|| {
            ApiError::invalid("header.kind", format!("{:?} is not one of subject, licence, penalty, list", header.kind))
        })?;
        let file_name = required("header.file_name", &header.file_name)?;
        let extension = std::path::Path::new(&file_name).extension().and_then(|e| e.to_str()).unwrap_or("").to_string();
        let named_dept = Some(header.source_dept.trim().to_string()).filter(|d| !d.is_empty());
        if let (Some(own), Some(named)) = (&dept, &named_dept)
            && own != named
        {
            return Err(ApiError::new(
                ErrorCode::PermissionDenied,
                format!("this key delivers for {own:?} only, not {named:?}"),
            )
            .into());
        }

        // Spooled to a file in the data directory: imports read files, and big uploads stay off the heap.
        let uploads = self.context.data_dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(|e| ApiError::internal(&e))?;
        gate.check_disk(&uploads)?;
        let payer = dept.clone().or_else(|| caller.key_id.clone()).unwrap_or_default();
        let today = credit_core::time::today_cst();
        let mut spool = tempfile::Builder::new()
            .prefix("upload-")
            .suffix(&format!(".{extension}"))
            .tempfile_in(&uploads)
            .map_err(|e| ApiError::internal(&e))?;
        let mut size = 0u64;
        let mut data = first.data;
        loop {
            size += data.len() as u64;
            if size > MAX_UPLOAD_BYTES {
                return Err(
                    ApiError::invalid("data", format!("an upload carries at most {MAX_UPLOAD_BYTES} bytes")).into()
                );
            }
            gate.charge(&payer, today, data.len() as u64)?;
            spool.write_all(&data).map_err(|e| ApiError::internal(&e))?;
            match next(&mut chunks, idle).await? {
                Some(chunk) => data = chunk.data,
                None => break,
            }
        }
        spool.flush().map_err(|e| ApiError::internal(&e))?;

        let options = ImportOptions {
            kind,
            source_dept: dept.clone().or(named_dept),
            registration: dept.as_ref().is_none_or(|d| self.context.registration_departments.contains(d)),
            only_dept: dept,
            strict: header.strict,
            today: credit_core::time::today_cst(),
            at: chrono::Utc::now(),
        };
        let response = self
            .context
            .blocking(move |context| {
                let path = spool.path().to_path_buf();
                let mut rejects = Rejects::default();
                let imported = context.platform.import(
                    &caller.actor(),
                    std::slice::from_ref(&path),
                    &options,
                    &file_name,
                    &mut rejects,
                );
                let summary = imported.map_err(|error| match error {
                    PlatformError::Import(error) if !matches!(error, ImportError::Panicked(_)) => {
                        // The spool file's path means nothing to the caller: name the file it sent.
                        ApiError::invalid("data", error.to_string().replace(&path.display().to_string(), &file_name))
                    }
                    error => error.into(),
                })?;
                Ok(pb::UploadResponse {
                    batch_id: summary.batch_id,
                    committed: summary.committed,
                    rows: summary.rows,
                    accepted: summary.accepted,
                    rejected: summary.rejected,
                    summary_json: serde_json::to_string(&summary).unwrap_or_default(),
                    rejects: rejects.0.iter().map(rejected_row).collect(),
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}

fn rejected_row(reject: &Reject) -> pb::RejectedRow {
    let original: serde_json::Map<String, serde_json::Value> =
        reject.original.iter().map(|(c, v)| (c.clone(), serde_json::Value::String(v.clone()))).collect();
    pb::RejectedRow {
        row: reject.row,
        column: reject.column.clone().unwrap_or_default(),
        reason: reject.reason.clone(),
        original_json: serde_json::Value::Object(original).to_string(),
    }
}
