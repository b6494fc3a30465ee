//! `credit.v1.AuditService`: the audit log, for administrators.

use credit_core::audit::{AuditQuery, StoredEntry};
use credit_proto::v1 as pb;
use credit_proto::v1::audit_service_server::AuditService;
use tonic::{Request, Response, Status};

use super::{Context, UseCase, caller, page_size, parse_instant, permit};
use crate::convert;
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone)]
pub struct AuditApi {
    pub context: Context,
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn query_audit_log(
        &self,
        request: Request<pb::QueryAuditLogRequest>,
    ) -> Result<Response<pb::QueryAuditLogResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::QueryAuditLog)?;
        let message = request.into_inner();
        let optional = |value: &str| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let limit = page_size(message.page_size, 100, 1_000)?;
        let query = AuditQuery {
            subject: None,
            key_id: optional(&message.key_id),
            operation: optional(&message.operation),
            from: parse_instant("from", message.from.as_ref())?,
            to: parse_instant("to", message.to.as_ref())?,
            after: message.after,
            limit,
        };
        let subject = optional(&message.subject);
        let response = self
            .context
            .blocking(move |context| {
                let entries = match context.platform.query_audit(&caller.actor(), query, subject.as_deref()) {
                    Err(credit_core::PlatformError::NoSubject(identifier)) => {
                        return Err(ApiError::field(
                            ErrorCode::NotFound,
                            "subject",
                            format!("no subject {identifier:?}"),
                        ));
                    }
                    entries => entries?,
                };
                let next_after = if entries.len() == limit { entries.last().map_or(0, |e| e.entry.seq) } else { 0 };
                let out = entries.into_iter().map(audit_entry).collect();
                Ok(pb::QueryAuditLogResponse { entries: out, next_after })
            })
            .await?;
        Ok(Response::new(response))
    }
}

fn audit_entry(stored: StoredEntry) -> pb::AuditEntry {
    let StoredEntry { entry, stored } = stored;
    let stored_json = String::from_utf8_lossy(&stored).into_owned();
    let event = entry.event;
    pb::AuditEntry {
        seq: entry.seq,
        at: Some(convert::timestamp(entry.at)),
        key_id: event.actor.key_id.unwrap_or_default(),
        role: event.actor.role.as_str().to_string(),
        department: event.actor.department.unwrap_or_default(),
        operation: event.operation,
        subject_id: event.subject.map_or(0, |s| s.0),
        purpose: event.purpose.unwrap_or_default(),
        result: event.result,
        detail: event.detail.into_iter().collect(),
        prev: entry.prev,
        stored_json,
    }
}
