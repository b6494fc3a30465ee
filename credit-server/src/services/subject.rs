//! `credit.v1.SubjectService`: one subject and its records, as the caller's view shows them.

use chrono::{DateTime, NaiveDate, Utc};
use credit_core::model::Subject;
use credit_core::store::RecordView;
use credit_core::time::today_cst;
use credit_core::view::{Audience, SubjectPage, View};
use credit_proto::v1 as pb;
use credit_proto::v1::subject_service_server::SubjectService;
use tonic::{Request, Response, Status};

use super::{
    Context, attribute_read, caller, parse_date, parse_instant, purpose, refuse_time_travel, required, resolve_view,
};
use crate::auth::Caller;
use crate::convert;
use crate::error::ApiError;

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
        let view = resolve_view(&caller, message.view)?;
        let identifier = required("identifier", &message.identifier)?;
        let as_of = parse_date("as_of", &message.as_of)?;
        let known_at = parse_instant("known_at", message.known_at.as_ref())?;
        refuse_time_travel(&caller, "as_of", as_of.is_some())?;
        refuse_time_travel(&caller, "known_at", known_at.is_some())?;
        if message.include_history && view != View::Regulator {
            return Err(ApiError::invalid("include_history", "history is part of the regulator view only").into());
        }
        let response = self
            .context
            .blocking(move |context| {
                let read = Read {
                    caller: &caller,
                    view,
                    purpose: purpose.as_deref(),
                    operation: "get_subject",
                    as_of: as_of.unwrap_or_else(today_cst),
                };
                let (subject, records) = read_subject(context, &read, &identifier, known_at, |r| {
                    as_of.is_none_or(|date| r.current.content.in_force_on(date))
                })?;
                let audience = Audience::new(view, read.as_of, &context.disclosure);
                let mut page = SubjectPage::new(&subject, records, &audience);
                if message.include_history {
                    page.add_history(&context.store)?;
                }
                Ok(convert::subject_page(subject.id.0, page))
            })
            .await?;
        Ok(Response::new(response))
    }
}

/// Who reads, in which view, why, and through which call: what [`attribute_read`] writes down.
pub struct Read<'a> {
    pub caller: &'a Caller,
    pub view: View,
    pub purpose: Option<&'a str>,
    pub operation: &'static str,
    /// The day the public view is computed for.
    pub as_of: NaiveDate,
}

/// The subject as known at `known_at` and those of its records that `keep` accepts. The read is
/// attributed (and refused without a needed purpose) before any record is read; which records the view
/// shows, and how, is [`SubjectPage`]'s and [`credit_core::view::shown_records`]'.
pub fn read_subject(
    context: &Context,
    read: &Read<'_>,
    identifier: &str,
    known_at: Option<DateTime<Utc>>,
    keep: impl Fn(&RecordView) -> bool,
) -> Result<(Subject, Vec<RecordView>), ApiError> {
    let store = &context.store;
    let not_found = || ApiError::not_found(format!("no subject with identifier {identifier:?}"));
    let id = store.find_subject_id(identifier)?.ok_or_else(not_found)?;
    let subject = store.subject_known_at(id, known_at)?.ok_or_else(not_found)?;
    if read.view == View::Public && !credit_core::view::is_public(&subject) {
        // Not to be disclosed (SFGK): for the public, there is no such subject.
        return Err(not_found());
    }
    attribute_read(context, read.caller, read.view, &subject, read.purpose, read.operation)?;
    let records = store.records_of(id, known_at)?.into_iter().filter(|r| keep(r)).collect();
    Ok((subject, records))
}
