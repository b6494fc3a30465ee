//! `credit.v1.CaseService`: credit repair and objections, each step taken by the role the workflow
//! gives it (see `proto/credit/v1/cases.proto`).

use chrono::NaiveDate;
use credit_core::cases::{Action, Case, CommitmentText, Decision, Operator, RepairApplication};
use credit_core::model::RecordId;
use credit_proto::v1 as pb;
use credit_proto::v1::case_service_server::CaseService;
use tonic::{Request, Response, Status};

use super::{Context, UseCase, caller, parse_date, permit};
use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct CaseApi {
    pub context: Context,
}

fn action(field: &str, value: &str, allowed: &[Action]) -> Result<Action, ApiError> {
    Action::parse(value.trim()).filter(|a| allowed.contains(a)).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
        ApiError::invalid(field, format!("{value:?} is not one of {}", names.join(", ")))
    })
}

fn operator(caller: &Caller) -> Operator {
    Operator {
        name: caller.label(),
        role: Some(caller.role.as_str().to_string()),
        department: caller.dept.clone(),
        key_id: caller.key_id.clone(),
    }
}

fn case_message(case: &Case) -> pb::Case {
    pb::Case {
        id: case.id,
        kind: case.kind.as_str().to_string(),
        record_id: case.record.0,
        subject_id: case.subject.0,
        state: case.state.as_str().to_string(),
        version: case.version,
        json: serde_json::to_string(case).unwrap_or_default(),
    }
}

fn day(field: &str, value: &str) -> Result<NaiveDate, ApiError> {
    Ok(parse_date(field, value)?.unwrap_or_else(credit_core::time::today_cst))
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn open_case(&self, request: Request<pb::OpenCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::OpenCase)?;
        let message = request.into_inner();
        let action = action("action", &message.action, &[Action::Apply, Action::File])?;
        let on = day("on", &message.on)?;
        let commitment = match message.commitment_text.trim() {
            "" => None,
            text => Some(CommitmentText {
                text: text.to_string(),
                made_on: parse_date("commitment_date", &message.commitment_date)?.unwrap_or(on),
            }),
        };
        let application = RepairApplication {
            evidence: message.evidence,
            commitment,
            acting_for: Some(message.acting_for.trim().to_string()).filter(|a| !a.is_empty()),
        };
        let case = self
            .context
            .blocking(move |context| {
                let record = RecordId(message.record_id);
                Ok(context.platform.open_case_with(
                    &caller.actor(),
                    action,
                    record,
                    operator(&caller),
                    &message.reason,
                    on,
                    application,
                )?)
            })
            .await?;
        Ok(Response::new(case_message(&case)))
    }

    async fn decide_case(&self, request: Request<pb::DecideCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::DecideCase)?;
        let message = request.into_inner();
        let action = action("action", &message.action, &Action::DECISIONS)?;
        let on = day("on", &message.on)?;
        let effective = parse_date("effective", &message.effective)?;
        let correction = match (action, message.correction_json.trim()) {
            (Action::Correct, "") => return Err(ApiError::invalid("correction_json", "required to correct").into()),
            (Action::Correct, text) => Some(
                serde_json::from_str(text)
                    .map_err(|e| ApiError::invalid("correction_json", format!("not JSON: {e}")))?,
            ),
            (_, "") => None,
            (_, _) => return Err(ApiError::invalid("correction_json", "only for `correct`").into()),
        };
        let case = self
            .context
            .blocking(move |context| {
                let decision = Decision {
                    action,
                    operator: operator(&caller),
                    note: Some(message.note.trim().to_string()).filter(|n| !n.is_empty()),
                    on,
                    effective,
                    correction,
                };
                Ok(context.platform.decide_case(&caller.actor(), message.case_id, decision)?)
            })
            .await?;
        Ok(Response::new(case_message(&case)))
    }

    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Result<Response<pb::GetCaseResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::GetCase)?;
        let id = request.into_inner().case_id;
        let response = self
            .context
            .blocking(move |context| {
                let found = context.platform.case(&caller.actor(), id)?;
                let steps = found.steps.iter().map(|s| serde_json::to_string(s).unwrap_or_default()).collect();
                Ok(pb::GetCaseResponse { case: Some(case_message(&found.case)), steps_json: steps })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_overdue_cases(
        &self,
        request: Request<pb::ListOverdueCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::RegulatorView)?;
        let message = request.into_inner();
        let on = day("on", &message.on)?;
        let limit = match message.limit {
            0 => credit_core::cases::MAX_OVERDUE,
            n => (n as usize).min(credit_core::cases::MAX_OVERDUE),
        };
        let cases = self
            .context
            .blocking(move |context| Ok(context.platform.overdue_cases(&caller.actor(), on, limit)?))
            .await?;
        Ok(Response::new(pb::ListCasesResponse { cases: cases.iter().map(case_message).collect() }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::ListCases)?;
        let record = RecordId(request.into_inner().record_id);
        let cases =
            self.context.blocking(move |context| Ok(context.platform.cases_of(&caller.actor(), record)?)).await?;
        Ok(Response::new(pb::ListCasesResponse { cases: cases.iter().map(case_message).collect() }))
    }
}
