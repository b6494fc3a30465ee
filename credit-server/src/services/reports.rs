//! `credit.v1.ReportService`: signed credit reports and the keys that verify them.

use credit_core::platform::SubjectQuery;
use credit_proto::v1 as pb;
use credit_proto::v1::report_service_server::ReportService;
use credit_sign::keys::KeyStatus;
use tonic::{Request, Response, Status};

use super::{Context, caller, purpose, required, resolve_own_view, view_to_proto};
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
        let view = resolve_own_view(&caller, message.view)?;
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
                let query = SubjectQuery { identifier, view, purpose, ..SubjectQuery::default() };
                let issued = context.platform.issue_report(
                    &caller.actor(),
                    &query,
                    &context.issuer,
                    &key,
                    &context.signing.published,
                )?;
                let signed = issued.signed;
                Ok(pb::GetReportResponse {
                    file: issued.file,
                    report_number: issued.report_number,
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
