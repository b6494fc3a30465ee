//! `credit.v1.SubjectService`: one subject and its records, as the caller's view shows them.

use chrono::{DateTime, NaiveDate, Utc};
use credit_core::model::{RecordVersion, Subject};
use credit_core::store::RecordView;
use credit_core::time::today_cst;
use credit_core::view::{self, Audience, View};
use credit_proto::v1 as pb;
use credit_proto::v1::subject_service_server::SubjectService;
use tonic::{Request, Response, Status};

use super::{
    Context, attribute_read, caller, parse_date, parse_instant, purpose, required, resolve_view, view_to_proto,
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
                let (subject, shown) = read_subject(context, &read, &identifier, known_at, |r| {
                    as_of.is_none_or(|date| r.current.content.in_force_on(date))
                })?;
                let id = subject.id;
                let store = &context.store;
                let history = if message.include_history {
                    store.subject_history(id)?.into_iter().map(|v| convert::subject_version(v, false)).collect()
                } else {
                    Vec::new()
                };
                let (subject_shown, masked) = view::subject(&subject, view);
                Ok(pb::GetSubjectResponse {
                    subject: Some(convert::subject(subject_shown, masked)),
                    records: shown.into_iter().map(|r| convert::record(id.0, r)).collect(),
                    history,
                    view: view_to_proto(view),
                })
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

/// The subject as known at `known_at` and those of its records that `keep` accepts and the view
/// shows, newest decision first. The read is attributed (and refused without a needed purpose) before
/// any record is read.
pub fn read_subject(
    context: &Context,
    read: &Read<'_>,
    identifier: &str,
    known_at: Option<DateTime<Utc>>,
    keep: impl Fn(&RecordView) -> bool,
) -> Result<(Subject, Vec<RecordVersion>), ApiError> {
    let store = &context.store;
    let not_found = || ApiError::not_found(format!("no subject with identifier {identifier:?}"));
    let id = store.find_subject_id(identifier)?.ok_or_else(not_found)?;
    let subject = store.subject_known_at(id, known_at)?.ok_or_else(not_found)?;
    attribute_read(context, read.caller, read.view, &subject, read.purpose, read.operation)?;
    let audience = Audience::new(read.view, read.as_of, &context.disclosure);
    let mut shown: Vec<RecordVersion> = store
        .records_of(id, known_at)?
        .into_iter()
        .filter(|r| keep(r))
        .filter_map(|r| view::record(&subject, &r.current, &audience))
        .collect();
    shown.sort_by(view::newest_decision_first);
    Ok((subject, shown))
}
