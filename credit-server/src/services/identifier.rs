//! `credit.v1.IdentifierService`: identifier checks with the library's codecs.

use credit_core::ident::{Codebook, IdCheckReport, Identifier};
use credit_proto::v1::identifier_service_server::IdentifierService;
use credit_proto::v1::{CheckIdentifiersRequest, CheckIdentifiersResponse, IdentifierCheck, IdentifierIssue};
use tonic::{Request, Response, Status};

use crate::error::ApiError;

/// Most values accepted in one call; larger batches are split by the caller.
pub const MAX_VALUES_PER_CALL: usize = 1000;

#[derive(Debug, Default)]
pub struct IdentifierApi;

#[tonic::async_trait]
impl IdentifierService for IdentifierApi {
    async fn check_identifiers(
        &self,
        request: Request<CheckIdentifiersRequest>,
    ) -> Result<Response<CheckIdentifiersResponse>, Status> {
        let values = request.into_inner().values;
        if values.len() > MAX_VALUES_PER_CALL {
            return Err(ApiError::invalid(
                "values",
                format!("at most {MAX_VALUES_PER_CALL} per call, found {}", values.len()),
            )
            .into());
        }
        let book = Codebook::builtin();
        let today = credit_core::time::today_cst();
        // Pure CPU work of about a microsecond per value: cheap enough to run on the executor.
        let results = values
            .iter()
            .map(|value| to_proto(IdCheckReport::new(&Identifier::recognise(value, book, today), book)))
            .collect();
        Ok(Response::new(CheckIdentifiersResponse {
            results,
            division_revision: book.divisions.revision().to_string(),
        }))
    }
}

fn to_proto(report: IdCheckReport) -> IdentifierCheck {
    let issues = |list: Vec<credit_core::ident::Issue>| {
        list.into_iter().map(|i| IdentifierIssue { code: i.code.to_string(), message: i.message }).collect()
    };
    IdentifierCheck {
        parts_json: report.parts.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default()).unwrap_or_default(),
        input: report.input,
        normalized: report.normalized,
        valid: report.valid,
        kind: report.kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
        errors: issues(report.errors),
        warnings: issues(report.warnings),
        alternatives: report.alternatives.into_iter().map(|a| a.kind.as_str().to_string()).collect(),
    }
}
