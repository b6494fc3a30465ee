//! `credit.v1.ReportService`: signed credit reports and the keys that verify them.

use chrono::Utc;
use credit_core::audit::AuditEvent;
use credit_core::report;
use credit_proto::v1 as pb;
use credit_proto::v1::report_service_server::ReportService;
use credit_sign::keys::KeyStatus;
use tonic::{Request, Response, Status};

use super::{Context, actor, caller, purpose, purpose_check, required, resolve_view, view_to_proto};
use crate::convert;
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone)]
pub struct ReportApi {
    pub context: Context,
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, Status> {
        let caller = caller(&request)?;
        let purpose = purpose(&request, &request.get_ref().purpose);
        let message = request.into_inner();
        let identifier = required("identifier", &message.identifier)?;
        let view = resolve_view(&caller, message.view)?;
        let Some(key) = self.context.signing.key.clone() else {
            return Err(ApiError::new(
                ErrorCode::SigningUnavailable,
                "reports are unavailable: the platform has no signing key configured",
            )
            .into());
        };
        let response = self
            .context
            .blocking(move |context| {
                let store = &context.store;
                let not_found = || ApiError::not_found(format!("no subject with identifier {identifier:?}"));
                let id = store.find_subject_id(&identifier)?.ok_or_else(not_found)?;
                let subject = store.subject(id)?.ok_or_else(not_found)?;
                if view == credit_core::view::View::Public && !credit_core::view::is_public(&subject) {
                    return Err(not_found());
                }
                purpose_check(view, &subject, purpose.as_deref())?;
                let now = Utc::now();
                let report = report::build(store, &context.rules, &context.disclosure, id, view, &context.issuer, now)?
                    .ok_or_else(not_found)?;
                let value = serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?;
                let file = credit_sign::sign_report(&value, &key).map_err(|e| ApiError::internal(&e))?;
                let signed = credit_sign::verify_report(&file, &context.signing.published, now)
                    .map_err(|e| ApiError::internal(&format!("a report just signed does not verify: {e}")))?;
                let mut event = AuditEvent::new(actor(&caller), "report.issue")
                    .subject(id)
                    .purpose(purpose.as_deref())
                    .detail("report_number", &report.report_number)
                    .detail("view", view.as_str())
                    .detail("digest", &signed.digest)
                    .detail("key_id", &signed.key_id);
                if caller.key_id.is_none() {
                    // An anonymous caller is known by its address only.
                    event = event.detail("peer", caller.ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string()));
                }
                context.audit(vec![event])?;
                Ok(pb::GetReportResponse {
                    file,
                    report_number: report.report_number,
                    key_id: signed.key_id,
                    verification_code: signed.verification_code,
                    valid_until: Some(convert::timestamp(signed.valid_until)),
                    view: view_to_proto(view),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_verifying_keys(
        &self,
        _request: Request<pb::ListVerifyingKeysRequest>,
    ) -> Result<Response<pb::ListVerifyingKeysResponse>, Status> {
        let published = &self.context.signing.published;
        let keys = published
            .keys
            .iter()
            .map(|k| pb::VerifyingKey {
                key_id: k.key_id.clone(),
                algorithm: k.algorithm.clone(),
                public_key: k.public_key.clone(),
                status: match k.status {
                    KeyStatus::Active => "active".into(),
                    KeyStatus::Retired => "retired".into(),
                },
            })
            .collect();
        Ok(Response::new(pb::ListVerifyingKeysResponse { keys, key_set_json: published.to_json() }))
    }
}
