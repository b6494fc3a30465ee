//! `credit.v1.RecordService`: a subject's records, filtered and paged, and one record's history.

use std::cmp::Ordering;

use chrono::NaiveDate;
use credit_core::audit::Operation;
use credit_core::model::{RecordId, RecordVersion};
use credit_core::platform::SubjectQuery;
use credit_core::search::parse_category;
use credit_core::view;
use credit_proto::v1 as pb;
use credit_proto::v1::record_service_server::RecordService;
use tonic::{Request, Response, Status};

use super::{
    Context, UseCase, caller, page_size, parse_date, parse_instant, permit, purpose, refuse_time_travel, required,
    resolve_own_view, view_to_proto,
};
use crate::convert;
use crate::error::{ApiError, ErrorCode};

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1_000;

#[derive(Debug, Clone)]
pub struct RecordApi {
    pub context: Context,
}

/// Where a page ends, in the order of [`credit_core::view::newest_decision_first`]: the last record's decision date and
/// id. It names a position, not an offset, so records added meanwhile do not shift later pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageToken {
    decision_date: Option<NaiveDate>,
    record: u64,
}

impl PageToken {
    fn of(record: &RecordVersion) -> PageToken {
        PageToken { decision_date: record.content.decision_date, record: record.record.0 }
    }

    fn encode(self) -> String {
        let date = self.decision_date.map(|d| d.format("%Y%m%d").to_string()).unwrap_or_else(|| "-".into());
        format!("r1.{date}.{}", self.record)
    }

    fn decode(token: &str) -> Result<PageToken, ApiError> {
        let bad = || ApiError::field(ErrorCode::InvalidPageToken, "page_token", "not a token this service issued");
        if token.len() > 64 {
            return Err(bad());
        }
        let mut parts = token.split('.');
        let (Some("r1"), Some(date), Some(record), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let decision_date = match date {
            "-" => None,
            d => Some(NaiveDate::parse_from_str(d, "%Y%m%d").map_err(|_| bad())?),
        };
        Ok(PageToken { decision_date, record: record.parse().map_err(|_| bad())? })
    }

    /// Whether `record` comes after this position.
    fn precedes(self, record: &RecordVersion) -> bool {
        let order = record
            .content
            .decision_date
            .cmp(&self.decision_date)
            .then_with(|| record.record.0.cmp(&self.record))
            .reverse();
        order == Ordering::Greater
    }
}

#[tonic::async_trait]
impl RecordService for RecordApi {
    async fn list_records(
        &self,
        request: Request<pb::ListRecordsRequest>,
    ) -> Result<Response<pb::ListRecordsResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::ListRecords)?;
        let purpose = purpose(&request, &request.get_ref().purpose);
        let message = request.into_inner();
        let view = resolve_own_view(&caller, message.view)?;
        let identifier = required("identifier", &message.identifier)?;
        let category = match message.category.trim() {
            "" => None,
            c => Some(parse_category(c).ok_or_else(|| {
                ApiError::invalid("category", format!("{c:?} is not one of licence, penalty, list_entry, other"))
            })?),
        };
        let in_force_on = parse_date("in_force_on", &message.in_force_on)?;
        // The platform refuses it too, but as `as_of`: named here by this request's field.
        refuse_time_travel(&caller, "in_force_on", in_force_on.is_some())?;
        let query = SubjectQuery {
            identifier,
            view,
            purpose,
            as_of: in_force_on,
            known_at: parse_instant("known_at", message.known_at.as_ref())?,
        };
        let limit = page_size(message.page_size, DEFAULT_PAGE, MAX_PAGE)?;
        let after = match message.page_token.as_str() {
            "" => None,
            token => Some(PageToken::decode(token)?),
        };
        let response = self
            .context
            .blocking(move |context| {
                let read = context.platform.subject_records(&caller.actor(), &query, Operation::RecordsList, |r| {
                    category.is_none_or(|c| r.category == c)
                        && in_force_on.is_none_or(|date| r.current.content.in_force_on(date))
                })?;
                let (subject, id) = (&read.subject, read.subject.id);
                let audience = context.platform.audience(view, query.day());
                let mut page: Vec<RecordVersion> = view::shown_records(subject, read.records, &audience)
                    .into_iter()
                    .map(|r| r.current)
                    .filter(|r| after.is_none_or(|t| t.precedes(r)))
                    .take(limit + 1)
                    .collect();
                let more = page.len() > limit;
                page.truncate(limit);
                let next_page_token = if more {
                    page.last().map(|r| PageToken::of(r).encode()).unwrap_or_default()
                } else {
                    String::new()
                };
                Ok(pb::ListRecordsResponse {
                    records: page.into_iter().map(|r| convert::record(id.0, r)).collect(),
                    next_page_token,
                    view: view_to_proto(view),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn get_record_history(
        &self,
        request: Request<pb::GetRecordHistoryRequest>,
    ) -> Result<Response<pb::GetRecordHistoryResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::GetRecordHistory)?;
        let purpose = purpose(&request, &request.get_ref().purpose);
        let message = request.into_inner();
        let view = resolve_own_view(&caller, message.view)?;
        let record = RecordId(message.record_id);
        let response = self
            .context
            .blocking(move |context| {
                let (subject, versions) =
                    context.platform.record_history(&caller.actor(), record, view, purpose.as_deref())?;
                let versions = versions.into_iter().map(|v| convert::record(subject.0, v)).collect();
                Ok(pb::GetRecordHistoryResponse { versions, view: view_to_proto(view) })
            })
            .await?;
        Ok(Response::new(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let token = PageToken { decision_date: NaiveDate::from_ymd_opt(2025, 3, 1), record: 42 };
        assert_eq!(PageToken::decode(&token.encode()).expect("decodes"), token);
        let undated = PageToken { decision_date: None, record: 7 };
        assert_eq!(PageToken::decode(&undated.encode()).expect("decodes"), undated);
        for bad in ["", "r1", "r1.x.1", "r1.20250301.x", "r2.20250301.1", "r1.20250301.1.2"] {
            let error = PageToken::decode(bad).expect_err(bad);
            assert_eq!(error.field.as_deref(), Some("page_token"));
        }
    }
}
