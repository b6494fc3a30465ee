//! Random inspection plans (双随机): a reproducible draw of subjects per supervision risk class, at the
//! evaluation model's inspection ratios, among the stored evaluations of one division; the draw, its seed
//! and the ratios are audited.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Platform, PlatformError, UseCase, permit};
use crate::actor::Actor;
use crate::audit::{AuditEvent, Operation};
use crate::engine::Engine;
use crate::model::SubjectId;

/// The longest inspection item, department or seed accepted.
pub const MAX_PLAN_TEXT: usize = 100;

/// What to draw from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    /// The inspection item (抽查事项).
    pub item: String,
    /// The department that inspects.
    pub department: String,
    /// A GB/T 2260 code or prefix (`32`, `3201`, `320102`): the subjects whose division starts with it.
    pub division: String,
    /// Any text; the same seed over the same evaluations draws the same subjects.
    pub seed: String,
}

/// One drawn subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drawn {
    pub subject: SubjectId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub name: String,
    pub grade: String,
}

/// The draw of one risk class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassDraw {
    pub risk_class: String,
    pub inspection_ratio: String,
    /// Subjects of the class in the division.
    pub population: u64,
    pub drawn: Vec<Drawn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InspectionPlan {
    pub item: String,
    pub department: String,
    pub division: String,
    pub seed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Lowest risk first.
    pub classes: Vec<ClassDraw>,
}

impl<E: Engine> Platform<E> {
    /// Draws the plan (regulators and admins): per risk class, `ceil(population × ratio)` subjects,
    /// those whose BLAKE3 hash of (seed, item, subject id) is smallest — random, and the same for the
    /// same seed. Audited with the seed, the ratios and the counts.
    pub fn inspection_plan(&self, actor: &Actor, request: &PlanRequest) -> Result<InspectionPlan, PlatformError> {
        permit(actor, UseCase::RegulatorView)?;
        for (field, value) in [
            ("item", &request.item),
            ("dept", &request.department),
            ("division", &request.division),
            ("seed", &request.seed),
        ] {
            if value.trim().is_empty() || value.chars().count() > MAX_PLAN_TEXT {
                return Err(PlatformError::invalid(field, format!("give 1 to {MAX_PLAN_TEXT} characters")));
            }
        }
        if !request.division.bytes().all(|b| b.is_ascii_digit()) || request.division.len() > 6 {
            return Err(PlatformError::invalid("division", "a GB/T 2260 code or prefix: up to six digits"));
        }
        let mark = self.store.evaluated_through()?;
        let mut by_class: BTreeMap<String, Vec<([u8; 32], SubjectId, String)>> = BTreeMap::new();
        let mut failed = None;
        self.store.scan_evaluations(&mut |evaluation| {
            let Some(class) = evaluation.risk_class.clone() else { return true };
            match self.store.subject(evaluation.subject) {
                Ok(Some(subject)) if subject.division.as_deref().is_some_and(|d| d.starts_with(&request.division)) => {
                    let key = draw_key(&request.seed, &request.item, evaluation.subject);
                    by_class.entry(class).or_default().push((key, evaluation.subject, evaluation.grade));
                }
                Ok(_) => {}
                Err(error) => {
                    failed = Some(error);
                    return false;
                }
            }
            true
        })?;
        if let Some(error) = failed {
            return Err(error.into());
        }
        let mut classes = Vec::new();
        for class in &self.evaluation.risk_classes {
            let mut population = by_class.remove(&class.id).unwrap_or_default();
            let total = population.len() as u64;
            let wanted = (total * u64::from(class.ratio_millionths)).div_ceil(1_000_000) as usize;
            population.sort_unstable();
            let mut drawn = Vec::with_capacity(wanted);
            for (_, id, grade) in population.into_iter().take(wanted) {
                let subject = self.store.subject(id)?;
                drawn.push(Drawn {
                    subject: id,
                    code: subject.as_ref().and_then(|s| s.primary_code().map(str::to_string)),
                    name: subject.map(|s| s.name).unwrap_or_default(),
                    grade,
                });
            }
            classes.push(ClassDraw {
                risk_class: class.id.clone(),
                inspection_ratio: class.inspection_ratio.clone(),
                population: total,
                drawn,
            });
        }
        let plan = InspectionPlan {
            item: request.item.clone(),
            department: request.department.clone(),
            division: request.division.clone(),
            seed: request.seed.clone(),
            model_version: mark.as_ref().map(|m| m.model_version.clone()),
            as_of: mark.as_ref().map(|m| m.as_of),
            classes,
        };
        let ratios: Vec<String> =
            plan.classes.iter().map(|c| format!("{}={}", c.risk_class, c.inspection_ratio)).collect();
        let counts: Vec<String> =
            plan.classes.iter().map(|c| format!("{}={}/{}", c.risk_class, c.drawn.len(), c.population)).collect();
        let drawn: Vec<String> =
            plan.classes.iter().flat_map(|c| c.drawn.iter().map(|d| d.subject.0.to_string())).collect();
        let event = AuditEvent::new(actor.clone(), Operation::InspectionPlan)
            .detail("item", &plan.item)
            .detail("dept", &plan.department)
            .detail("division", &plan.division)
            .detail("seed", &plan.seed)
            .detail("ratios", ratios.join(","))
            .detail("drawn_of", counts.join(","))
            .detail("subjects", drawn.join(","));
        self.audit(vec![event])?;
        Ok(plan)
    }
}

/// The order of the draw: BLAKE3 of the seed, the item and the subject id, each length-prefixed.
fn draw_key(seed: &str, item: &str, subject: SubjectId) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    for part in [seed.as_bytes(), item.as_bytes()] {
        hasher.update(&(part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.update(&subject.0.to_be_bytes());
    *hasher.finalize().as_bytes()
}
