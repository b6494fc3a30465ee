//! `credit.v1.SubjectService`: one subject and its records, as the caller's view shows them.

use credit_core::platform::SubjectQuery;
use credit_proto::v1 as pb;
use credit_proto::v1::subject_service_server::SubjectService;
use tonic::{Request, Response, Status};

use super::{Context, caller, parse_date, parse_instant, purpose, required, resolve_own_view};
use crate::convert;

#[derive(Debug, Clone)]
pub struct SubjectApi {
    pub context: Context,
}

#[tonic::async_trait]
impl SubjectService for SubjectApi {
    async fn get_subject(
        &self,
        request: Request<pb::GetSubjectRequest>,
    ) -> Result<Response<pb::GetSubjectResponse>, Status> {
        let caller = caller(&request)?;
        let purpose = purpose(&request, &request.get_ref().purpose);
        let message = request.into_inner();
        let query = SubjectQuery {
            identifier: required("identifier", &message.identifier)?,
            view: resolve_own_view(&caller, message.view)?,
            purpose,
            as_of: parse_date("as_of", &message.as_of)?,
            known_at: parse_instant("known_at", message.known_at.as_ref())?,
        };
        let response = self
            .context
            .blocking(move |context| {
                let page = context.platform.read_subject(&caller.actor(), &query, message.include_history)?;
                Ok(convert::subject_page(page.subject.id.0, page, message.omit_json))
            })
            .await?;
        Ok(Response::new(response))
    }
}
