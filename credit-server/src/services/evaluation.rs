//! `credit.v1.EvaluationService`: a subject's public credit evaluation, many at once, and the grade
//! distribution (see `proto/credit/v1/evaluation.proto` for who sees what).

use credit_core::evaluation::Evaluation;
use credit_core::platform::{GradeDistribution, ShownEvaluation};
use credit_proto::v1 as pb;
use credit_proto::v1::evaluation_service_server::EvaluationService;
use credit_proto::v1::statistics_service_server::StatisticsService;
use tonic::{Request, Response, Status};

use super::{Context, UseCase, caller, parse_date, permit, required};
use crate::error::ApiError;

/// Most subjects in one `BatchGetEvaluations`.
pub const MAX_BATCH_EVALUATIONS: usize = 1_000;

#[derive(Debug, Clone)]
pub struct EvaluationApi {
    pub context: Context,
}

fn full(e: &Evaluation) -> pb::Evaluation {
    pb::Evaluation {
        subject_id: e.subject.0,
        model_version: e.model_version.clone(),
        as_of: e.as_of.to_string(),
        score: e.score,
        grade: e.grade.clone(),
        grade_label: e.grade_label.clone(),
        risk_class: e.risk_class.clone().unwrap_or_default(),
        inspection_ratio: e.inspection_ratio.clone().unwrap_or_default(),
        capped_by: e.capped_by.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        indicators: e
            .indicators
            .iter()
            .map(|i| pb::IndicatorResult {
                id: i.id.clone(),
                name: i.name.clone(),
                count: i.count,
                points: i.points,
                record_ids: i.records.iter().map(|r| r.0).collect(),
            })
            .collect(),
        json: serde_json::to_string(e).unwrap_or_default(),
        grade_only: false,
    }
}

fn message(shown: &ShownEvaluation) -> pb::Evaluation {
    match shown {
        ShownEvaluation::Full(e) => full(e),
        ShownEvaluation::GradeOnly { subject, model_version, as_of, grade, grade_label, .. } => pb::Evaluation {
            subject_id: subject.0,
            model_version: model_version.clone(),
            as_of: as_of.to_string(),
            grade: grade.clone(),
            grade_label: grade_label.clone(),
            json: serde_json::to_string(shown).unwrap_or_default(),
            grade_only: true,
            ..Default::default()
        },
    }
}

fn not_covered() -> ApiError {
    ApiError::not_found("the evaluation model does not evaluate this subject's type")
}

fn distribution(d: &GradeDistribution) -> pb::GradeDistribution {
    pb::GradeDistribution {
        model_version: d.model_version.clone().unwrap_or_default(),
        as_of: d.as_of.map(|a| a.to_string()).unwrap_or_default(),
        total: d.total,
        grades: d.grades.clone().into_iter().collect(),
        risk_classes: d.risk_classes.clone().into_iter().collect(),
        json: serde_json::to_string(d).unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl EvaluationService for EvaluationApi {
    async fn get_evaluation(
        &self,
        request: Request<pb::GetEvaluationRequest>,
    ) -> Result<Response<pb::Evaluation>, Status> {
        let caller = caller(&request)?;
        let message_in = request.into_inner();
        let identifier = required("identifier", &message_in.identifier)?;
        let as_of = parse_date("as_of", &message_in.as_of)?;
        let shown = self
            .context
            .blocking(move |context| Ok(context.platform.evaluate_subject(&caller.actor(), &identifier, as_of)?))
            .await?
            .ok_or_else(not_covered)?;
        Ok(Response::new(message(&shown)))
    }

    async fn batch_get_evaluations(
        &self,
        request: Request<pb::BatchGetEvaluationsRequest>,
    ) -> Result<Response<pb::BatchGetEvaluationsResponse>, Status> {
        let caller = caller(&request)?;
        let message_in = request.into_inner();
        if message_in.identifiers.len() > MAX_BATCH_EVALUATIONS {
            return Err(ApiError::invalid(
                "identifiers",
                format!("at most {MAX_BATCH_EVALUATIONS} per call, got {}", message_in.identifiers.len()),
            )
            .into());
        }
        // A batch costs one request per entry; the gate charged the first.
        let weight = message_in.identifiers.len().max(1) as u32;
        if weight > self.context.limits.burst(caller.role) {
            return Err(crate::limits::too_heavy(caller.role, weight).into());
        }
        self.context.limits.charge(&caller, weight - 1)?;
        let as_of = parse_date("as_of", &message_in.as_of)?;
        let results = self
            .context
            .blocking(move |context| {
                let actor = caller.actor();
                let mut results = Vec::with_capacity(message_in.identifiers.len());
                for identifier in message_in.identifiers {
                    let outcome = match context.platform.evaluate_subject(&actor, identifier.trim(), as_of) {
                        Ok(Some(shown)) => pb::batch_evaluation_entry::Outcome::Evaluation(message(&shown)),
                        Ok(None) => pb::batch_evaluation_entry::Outcome::Error(not_covered().message),
                        Err(error) if error.is_user_error() => {
                            pb::batch_evaluation_entry::Outcome::Error(ApiError::from(error).message)
                        }
                        Err(error) => return Err(error.into()),
                    };
                    results.push(pb::BatchEvaluationEntry { identifier, outcome: Some(outcome) });
                }
                Ok(results)
            })
            .await?;
        Ok(Response::new(pb::BatchGetEvaluationsResponse { results }))
    }

    async fn get_grade_distribution(
        &self,
        request: Request<pb::GetGradeDistributionRequest>,
    ) -> Result<Response<pb::GradeDistribution>, Status> {
        let caller = caller(&request)?;
        permit(&caller, UseCase::RegulatorView)?;
        let found =
            self.context.blocking(move |context| Ok(context.platform.grade_distribution(&caller.actor())?)).await?;
        Ok(Response::new(distribution(&found)))
    }
}

/// `credit.v1.StatisticsService`: suppressed counts for anyone.
#[derive(Debug, Clone)]
pub struct StatisticsApi {
    pub context: Context,
    /// The configured smallest count shown (`statistics_min_cell`).
    pub min_cell: u64,
}

fn counts(map: std::collections::BTreeMap<String, Option<u64>>) -> std::collections::HashMap<String, i64> {
    map.into_iter().map(|(k, n)| (k, n.map_or(-1, |n| n as i64))).collect()
}

#[tonic::async_trait]
impl StatisticsService for StatisticsApi {
    async fn get_credit_statistics(
        &self,
        request: Request<pb::GetCreditStatisticsRequest>,
    ) -> Result<Response<pb::CreditStatistics>, Status> {
        use credit_core::platform::{StatsBy, StatsRequest};
        let caller = caller(&request)?;
        let m = request.into_inner();
        let by = match m.by.trim() {
            "" | "division" => StatsBy::Division { level: if m.level == 0 { 6 } else { m.level as usize } },
            "industry" => StatsBy::Industry,
            other => return Err(ApiError::invalid("by", format!("{other:?} is not division or industry")).into()),
        };
        let stats = StatsRequest {
            division: m.division.trim().to_string(),
            by,
            as_of: parse_date("as_of", &m.as_of)?,
            min_count: m.min_count.max(self.min_cell),
        };
        let found = self
            .context
            .blocking(move |context| Ok(context.platform.credit_statistics(&caller.actor(), &stats)?))
            .await?;
        let json = serde_json::to_string(&found).unwrap_or_default();
        let cells = found
            .cells
            .into_iter()
            .map(|c| pb::StatsCell {
                key: c.key,
                name: c.name.unwrap_or_default(),
                subjects: c.subjects.map_or(-1, |n| n as i64),
                by_type: counts(c.by_type),
                grades: counts(c.grades),
                risk_classes: counts(c.risk_classes),
                lists_in_force: counts(c.lists_in_force),
                penalties_by_tier: counts(c.penalties_by_tier),
            })
            .collect();
        Ok(Response::new(pb::CreditStatistics {
            as_of: found.as_of.to_string(),
            min_count: found.min_count,
            cells,
            json,
        }))
    }
}
