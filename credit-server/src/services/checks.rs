//! `credit.v1.JointCheckService`: joint reward and punishment checks, feedback and statistics, for
//! regulators and approval systems.

use credit_core::checks::{CheckRequest, FeedbackInput, Outcome, StatsFilter};
use credit_proto::v1 as pb;
use credit_proto::v1::joint_check_service_server::JointCheckService;
use tonic::{Request, Response, Status};

use super::{Context, UseCase, caller, parse_date, parse_instant, permit, required};
use crate::auth::Caller;
use crate::convert;
use crate::error::ApiError;

/// Most checks in one `BatchCheck`.
pub const MAX_BATCH_CHECKS: usize = 1_000;

#[derive(Debug, Clone)]
pub struct JointCheckApi {
    pub context: Context,
}

/// The library's request; an empty department means the caller key's own.
fn check_request(caller: &Caller, message: pb::CheckRequest) -> Result<CheckRequest, ApiError> {
    let identifier = required("identifier", &message.identifier)?;
    let item = required("item", &message.item)?;
    let department =
        Some(message.department.trim().to_string()).filter(|d| !d.is_empty()).or_else(|| caller.dept.clone());
    Ok(CheckRequest {
        identifier,
        item,
        as_of: parse_date("as_of", &message.as_of)?.unwrap_or_else(credit_core::time::today_cst),
        department,
    })
}

fn failure(error: ApiError) -> pb::BatchCheckEntry {
    pb::BatchCheckEntry {
        outcome: Some(pb::batch_check_entry::Outcome::Error(pb::CheckFailure {
            reason: error.code.reason().to_string(),
            message: error.message,
        })),
    }
}

#[tonic::async_trait]
impl JointCheckService for JointCheckApi {
    async fn check(&self, request: Request<pb::CheckRequest>) -> Result<Response<pb::CheckResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::Check)?;
        let message = request.into_inner();
        let omit_json = message.omit_json;
        let check = check_request(&caller, message)?;
        let result = self.context.blocking(move |context| Ok(context.platform.check(&caller.actor(), &check)?)).await?;
        Ok(Response::new(pb::CheckResponse { result: Some(convert::check_result(result, omit_json)) }))
    }

    async fn batch_check(
        &self,
        request: Request<pb::BatchCheckRequest>,
    ) -> Result<Response<pb::BatchCheckResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::BatchCheck)?;
        let checks = request.into_inner().checks;
        if checks.is_empty() {
            return Err(ApiError::invalid("checks", "at least one check").into());
        }
        if checks.len() > MAX_BATCH_CHECKS {
            return Err(ApiError::invalid(
                "checks",
                format!("at most {MAX_BATCH_CHECKS} per call, found {}", checks.len()),
            )
            .into());
        }
        // A batch costs one request per entry; the gate charged the first.
        let weight = checks.len() as u32;
        if weight > self.context.limits.burst(caller.role) {
            return Err(crate::limits::too_heavy(caller.role, weight).into());
        }
        self.context.limits.charge(&caller, weight - 1)?;
        let parsed: Vec<(Result<CheckRequest, ApiError>, bool)> = checks
            .into_iter()
            .map(|message| {
                let omit_json = message.omit_json;
                (check_request(&caller, message), omit_json)
            })
            .collect();
        let results = self
            .context
            .blocking(move |context| {
                let valid: Vec<CheckRequest> = parsed.iter().filter_map(|(p, _)| p.as_ref().ok().cloned()).collect();
                let answers = context.platform.check_batch(&caller.actor(), &valid, &context.cancel)?;
                let mut answers = answers.into_iter();
                let mut entries = Vec::with_capacity(parsed.len());
                for (request, omit_json) in parsed {
                    let entry = match request {
                        Err(error) => failure(error),
                        Ok(_) => match answers.next() {
                            Some(Ok(result)) => pb::BatchCheckEntry {
                                outcome: Some(pb::batch_check_entry::Outcome::Result(convert::check_result(
                                    result, omit_json,
                                ))),
                            },
                            Some(Err(error)) => failure(error.into()),
                            None => {
                                return Err(ApiError::internal(&"batch check returned fewer answers than requests"));
                            }
                        },
                    };
                    entries.push(entry);
                }
                Ok(entries)
            })
            .await?;
        Ok(Response::new(pb::BatchCheckResponse { results }))
    }

    async fn submit_feedback(
        &self,
        request: Request<pb::SubmitFeedbackRequest>,
    ) -> Result<Response<pb::SubmitFeedbackResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::SubmitFeedback)?;
        let message = request.into_inner();
        let outcome = Outcome::parse(message.outcome.trim()).ok_or_else(|| {
            ApiError::invalid("outcome", format!("{:?} is not one of applied, not_applied, escalated", message.outcome))
        })?;
        let time = parse_instant("time", message.time.as_ref())?;
        let optional = |value: String| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let input = FeedbackInput {
            check_id: message.check_id,
            measure_id: message.measure_id.trim().to_string(),
            outcome,
            reason: optional(message.reason),
            amount: optional(message.amount),
            department: optional(message.department).or_else(|| caller.dept.clone()).unwrap_or_default(),
            division: optional(message.division),
            item: optional(message.item),
            time,
            operator: caller.label(),
        };
        let feedback =
            self.context.blocking(move |context| Ok(context.platform.submit_feedback(&caller.actor(), input)?)).await?;
        Ok(Response::new(convert::feedback(feedback)))
    }

    async fn get_statistics(
        &self,
        request: Request<pb::GetStatisticsRequest>,
    ) -> Result<Response<pb::GetStatisticsResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::GetStatistics)?;
        let message = request.into_inner();
        let optional = |value: &str| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let filter = StatsFilter {
            from: parse_date("from", &message.from)?,
            to: parse_date("to", &message.to)?,
            department: optional(&message.department),
            division: optional(&message.division),
        };
        let stats = self
            .context
            .blocking(move |context| {
                Ok(context.platform.check_statistics(&caller.actor(), &filter, &context.cancel)?)
            })
            .await?;
        Ok(Response::new(convert::statistics(stats)))
    }
}
