//! `credit.v1.CaseService`: credit repair and objections, each step taken by the role the workflow
//! gives it (see `proto/credit/v1/cases.proto`).

use chrono::NaiveDate;
use credit_core::audit::AuditEvent;
use credit_core::cases::{Action, Case, Decision, Operator, Workflow};
use credit_core::engine::RocksEngine;
use credit_core::model::RecordId;
use credit_proto::v1 as pb;
use credit_proto::v1::case_service_server::CaseService;
use tonic::{Request, Response, Status};

use super::{Context, actor, caller, parse_date, require_key};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ErrorCode};

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

/// Whether `caller` may take `action` on a case about a record delivered by `record_dept`.
fn may_take(caller: &Caller, action: Action, record_dept: Option<&str>) -> Result<(), ApiError> {
    let allowed = match action {
        Action::Apply | Action::File => caller.role != Role::Public,
        Action::Accept | Action::Reject => caller.role.is_regulator(),
        Action::Approve | Action::Deny | Action::Correct | Action::Revoke | Action::Dismiss => {
            caller.role == Role::Admin
                || (caller.role == Role::Provider && caller.dept.is_some() && caller.dept.as_deref() == record_dept)
        }
    };
    if allowed {
        return Ok(());
    }
    let who = match action {
        Action::Apply | Action::File => "any API key",
        Action::Accept | Action::Reject => "the regulator or admin role",
        _ => "the department that delivered the record (provider) or an admin",
    };
    Err(ApiError::new(ErrorCode::PermissionDenied, format!("{} is for {who}", action.as_str())))
}

/// The department that delivered a record: that of its first version (a record's department is part of
/// its identity, so every version has it).
fn record_owner(context: &Context, record: RecordId) -> Result<Option<String>, ApiError> {
    Ok(context.store.record_version(record, 1)?.and_then(|version| version.content.source_dept))
}

/// Whether `caller` may read `case`: regulators and admins, the department that delivered the record,
/// and the key that applied or objected. To anyone else a case does not exist.
fn may_read(
    context: &Context,
    flow: &Workflow<'_, RocksEngine>,
    caller: &Caller,
    case: &Case,
) -> Result<bool, ApiError> {
    if caller.role.is_regulator() {
        return Ok(true);
    }
    if caller.role == Role::Provider
        && caller.dept.is_some()
        && record_owner(context, case.record)?.as_deref() == caller.dept.as_deref()
    {
        return Ok(true);
    }
    let applicant = flow.steps(case.id)?.into_iter().next().and_then(|step| step.operator.key_id);
    Ok(caller.key_id.is_some() && applicant == caller.key_id)
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn open_case(&self, request: Request<pb::OpenCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        require_key(&caller, "OpenCase")?;
        let message = request.into_inner();
        let action = action("action", &message.action, &[Action::Apply, Action::File])?;
        let on = day("on", &message.on)?;
        let case = self
            .context
            .blocking(move |context| {
                let flow = Workflow::new(&context.store, &context.disclosure);
                let opened = flow.open(action, RecordId(message.record_id), operator(&caller), &message.reason, on);
                context.audit(vec![AuditEvent::case_step(actor(&caller), action, &opened)])?;
                Ok(opened?)
            })
            .await?;
        Ok(Response::new(case_message(&case)))
    }

    async fn decide_case(&self, request: Request<pb::DecideCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        require_key(&caller, "DecideCase")?;
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
                let flow = Workflow::new(&context.store, &context.disclosure);
                let id = message.case_id;
                let case = flow.case(id)?.ok_or_else(|| ApiError::not_found(format!("no case {id}")))?;
                let record_dept = record_owner(context, case.record)?;
                may_take(&caller, action, record_dept.as_deref())?;
                let decision = Decision {
                    action,
                    operator: operator(&caller),
                    note: Some(message.note.trim().to_string()).filter(|n| !n.is_empty()),
                    on,
                    effective,
                    correction,
                };
                let decided = flow.decide(id, decision);
                context.audit(vec![AuditEvent::case_step(actor(&caller), action, &decided)])?;
                Ok(decided?)
            })
            .await?;
        Ok(Response::new(case_message(&case)))
    }

    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Result<Response<pb::GetCaseResponse>, Status> {
        let caller = caller(&request)?;
        require_key(&caller, "GetCase")?;
        let id = request.into_inner().case_id;
        let response = self
            .context
            .blocking(move |context| {
                let flow = Workflow::new(&context.store, &context.disclosure);
                let not_found = || ApiError::not_found(format!("no case {id}"));
                let case = flow.case(id)?.ok_or_else(not_found)?;
                if !may_read(context, &flow, &caller, &case)? {
                    return Err(not_found());
                }
                let steps = flow.steps(id)?.iter().map(|s| serde_json::to_string(s).unwrap_or_default()).collect();
                Ok(pb::GetCaseResponse { case: Some(case_message(&case)), steps_json: steps })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let caller = caller(&request)?;
        require_key(&caller, "ListCases")?;
        let record = RecordId(request.into_inner().record_id);
        let cases = self
            .context
            .blocking(move |context| {
                let flow = Workflow::new(&context.store, &context.disclosure);
                let mut readable = Vec::new();
                for case in flow.cases_of(record)? {
                    if may_read(context, &flow, &caller, &case)? {
                        readable.push(case);
                    }
                }
                Ok(readable)
            })
            .await?;
        Ok(Response::new(pb::ListCasesResponse { cases: cases.iter().map(case_message).collect() }))
    }
}
