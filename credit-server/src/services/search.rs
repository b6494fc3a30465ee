//! `credit.v1.SearchService`: the full-text index, joined with the store, in the caller's view.

use credit_core::model::SubjectType;
use credit_core::search::{Filters, SearchRequest, parse_category};
use credit_proto::v1 as pb;
use credit_proto::v1::search_service_server::SearchService;
use tonic::{Request, Response, Status};

use super::{Context, caller, page_size, parse_date, resolve_view, view_to_proto};
use crate::convert;
use crate::error::ApiError;

const DEFAULT_PAGE: usize = 10;

#[derive(Debug, Clone)]
pub struct SearchApi {
    pub context: Context,
}

fn filters(message: &pb::SearchRequest) -> Result<Filters, ApiError> {
    let optional = |value: &str| {
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_string())
    };
    let subject_type = match message.subject_type.trim() {
        "" => None,
        t => Some(
            SubjectType::parse(t)
                .ok_or_else(|| ApiError::invalid("subject_type", format!("unknown subject type {t:?}")))?,
        ),
    };
    let category = match message.category.trim() {
        "" => None,
        c => Some(parse_category(c).ok_or_else(|| {
            ApiError::invalid("category", format!("{c:?} is not one of licence, penalty, list_entry, other"))
        })?),
    };
    let listed = match optional(&message.list_type) {
        Some(list_type) => Some(Some(list_type)),
        None => message.listed.then_some(None),
    };
    Ok(Filters {
        subject_type,
        division: optional(&message.division),
        status: optional(&message.status),
        listed,
        category,
        from: parse_date("from", &message.from)?,
        to: parse_date("to", &message.to)?,
    })
}

#[tonic::async_trait]
impl SearchService for SearchApi {
    async fn search(&self, request: Request<pb::SearchRequest>) -> Result<Response<pb::SearchResponse>, Status> {
        let caller = caller(&request)?;
        let message = request.into_inner();
        let view = resolve_view(&caller, message.view)?;
        let limit = page_size(message.page_size, DEFAULT_PAGE, credit_core::search::MAX_LIMIT)?;
        let search = SearchRequest {
            query: message.query.clone(),
            filters: filters(&message)?,
            limit,
            cursor: (!message.page_token.is_empty()).then(|| message.page_token.clone()),
            view,
            disclosure: None,
            cancel: credit_core::cancel::Cancel::never(),
        };
        let response = self
            .context
            .blocking(move |context| {
                let search = SearchRequest { cancel: context.cancel.clone(), ..search };
                let found = context.platform.search(&caller.actor(), &search)?;
                let hits = found.hits;
                let next_page_token = if hits.len() == limit {
                    hits.last().map(|h| h.cursor.clone()).unwrap_or_default()
                } else {
                    String::new()
                };
                Ok(pb::SearchResponse {
                    hits: hits.into_iter().map(convert::search_hit).collect(),
                    next_page_token,
                    view: view_to_proto(view),
                    partial: found.partial,
                    did_you_mean: found.did_you_mean,
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}
