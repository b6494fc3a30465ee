//! Joint checks (DOMAIN.md §6, the "respond" step): may this subject get this approval item, and which
//! reward or punishment measures apply?
//!
//! A check reads what the platform knows now and asks what was in force on the as-of date (valid time).
//! It follows related-person links both ways: an organisation is reached by the list entries of its
//! legal representative, managers and controller, and a person by those of the organisations where they
//! hold such a role, whenever a memorandum's scope names that role.

mod feedback;
mod stats;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use feedback::{Feedback, FeedbackInput, Outcome, apply_feedback};
pub use stats::{CheckStats, StatsFilter, StatsGroup};

use crate::audit::{Actor, AuditEvent, Operation};
use crate::engine::Engine;
use crate::ident::Identifier;
pub use crate::model::{Link, NamedSubject};
use crate::model::{ReachGroup, RecordId, RelatedRole, SubjectId, SubjectType};
use crate::rules::{Colour, Measure, MeasureKind, Memorandum, RuleSet, Scope};
use crate::store::{CheckPage, Store, StoreError, keys};

/// One question: this subject, this approval item, on this date, asked by this department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    /// Any identifier of the subject (unified code, organisation code, registration number, ID number).
    pub identifier: String,
    pub item: String,
    /// Valid time (China Standard Time).
    pub as_of: NaiveDate,
    pub department: Option<String>,
}

/// Decided in this order; black outranks red.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// A mandatory punishment measure for the item applies.
    Block,
    /// Only advisory punishment measures apply.
    Restrict,
    /// An active black-list entry, but no measure names the item.
    Caution,
    /// Reward measures apply and there is no black-list entry.
    Priority,
    Clear,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Block => "BLOCK",
            Verdict::Restrict => "RESTRICT",
            Verdict::Caution => "CAUTION",
            Verdict::Priority => "PRIORITY",
            Verdict::Clear => "CLEAR",
        }
    }
}

impl Link {
    fn describe(self) -> &'static str {
        match self {
            Link::Listed => "the subject itself",
            Link::RelatedPerson { role: RelatedRole::LegalRepresentative } => "its legal representative",
            Link::RelatedPerson { role: RelatedRole::PrincipalManager } => "a principal manager",
            Link::RelatedPerson { role: RelatedRole::ActualController } => "its actual controller",
            Link::Organisation { role: RelatedRole::LegalRepresentative } => "an organisation the person represents",
            Link::Organisation { role: RelatedRole::PrincipalManager } => "an organisation the person manages",
            Link::Organisation { role: RelatedRole::ActualController } => "an organisation the person controls",
        }
    }
}

/// A list entry in force on the as-of date that reaches the checked subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub record_id: RecordId,
    pub list_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_name: Option<String>,
    /// `None` for a list type the rules do not know: treated as black (it cannot be ignored safely).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifying_department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifying_department_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis_document: Option<String>,
    pub listed_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_removal: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_on: Option<NaiveDate>,
    pub listed_subject: NamedSubject,
    pub path: Link,
    /// Memoranda that reach the checked subject through this entry (any item).
    pub memoranda: Vec<String>,
}

impl Hit {
    fn is_black(&self) -> bool {
        self.colour != Some(Colour::Red)
    }
}

/// A measure that applies to the asked item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedMeasure {
    pub measure_id: String,
    pub memorandum_id: String,
    pub memorandum_title: String,
    pub document_number: String,
    pub text: String,
    pub implementing_department: String,
    pub legal_basis: String,
    pub kind: MeasureKind,
    pub mandatory: bool,
    /// The list entries (records) that bring it.
    pub hits: Vec<RecordId>,
    /// The subject's supervision risk class, when that brings it (a memorandum's `risk_classes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_class: Option<String>,
    /// A reward outranked by a black-list entry: shown, not applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
}

/// The answer to a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Cited by feedback; 0 until the check is recorded.
    pub check_id: u64,
    pub identifier: String,
    pub item: String,
    pub as_of: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub checked_at: DateTime<Utc>,
    pub rules_version: String,
    /// `None` when no subject with this identifier is known: nothing to report, so `CLEAR`.
    pub subject: Option<NamedSubject>,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub hits: Vec<Hit>,
    pub measures: Vec<AppliedMeasure>,
    /// The subject's stored evaluation (its grade and supervision risk class), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<CheckedGrade>,
}

/// The grade and risk class a check reports, from the latest stored evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedGrade {
    pub grade: String,
    pub grade_label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_class: Option<String>,
    pub model_version: String,
    /// The day the evaluation was made for.
    pub as_of: NaiveDate,
}

impl From<crate::evaluation::Evaluation> for CheckedGrade {
    fn from(e: crate::evaluation::Evaluation) -> CheckedGrade {
        CheckedGrade {
            grade: e.grade,
            grade_label: e.grade_label,
            risk_class: e.risk_class,
            model_version: e.model_version,
            as_of: e.as_of,
        }
    }
}

/// Why a check could not be answered. All but `Store` are the caller's to fix.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("identifier {identifier:?} is not valid: {reason}")]
    InvalidIdentifier { identifier: String, reason: String },
    #[error("unknown approval item {0:?}")]
    UnknownItem(String),
    #[error("check {0} does not exist")]
    UnknownCheck(u64),
    #[error("measure {measure_id} was not part of check {check_id}")]
    MeasureNotInCheck { check_id: u64, measure_id: String },
    #[error("{field}: {reason}")]
    InvalidFeedback { field: &'static str, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cancelled(#[from] crate::cancel::Cancelled),
}

impl CheckError {
    /// Whether the caller caused it (returned verbatim) rather than the platform (logged).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, CheckError::Store(_) | CheckError::Cancelled(_))
    }
}

/// What the check log keeps of a check: enough for feedback and statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub check_id: u64,
    pub checked_at: DateTime<Utc>,
    pub identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<SubjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    pub item: String,
    pub as_of: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub verdict: Verdict,
    pub rules_version: String,
    pub hits: Vec<RecordId>,
    pub measures: Vec<MeasureRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureRef {
    pub measure_id: String,
    pub memorandum_id: String,
    pub kind: MeasureKind,
    pub mandatory: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
}

impl CheckRecord {
    fn of(result: &CheckResult) -> CheckRecord {
        CheckRecord {
            check_id: result.check_id,
            checked_at: result.checked_at,
            identifier: result.identifier.clone(),
            subject: result.subject.as_ref().map(|s| s.id),
            division: result.subject.as_ref().and_then(|s| s.division.clone()),
            item: result.item.clone(),
            as_of: result.as_of,
            department: result.department.clone(),
            verdict: result.verdict,
            rules_version: result.rules_version.clone(),
            hits: result.hits.iter().map(|h| h.record_id).collect(),
            measures: result
                .measures
                .iter()
                .map(|m| MeasureRef {
                    measure_id: m.measure_id.clone(),
                    memorandum_id: m.memorandum_id.clone(),
                    kind: m.kind,
                    mandatory: m.mandatory,
                    suppressed: m.suppressed,
                })
                .collect(),
        }
    }
}

/// Answers checks against one store and one rule set.
pub struct Checker<'s, E: Engine> {
    store: &'s Store<E>,
    rules: Arc<RuleSet>,
    cancel: crate::cancel::Cancel,
}

impl<E: Engine> std::fmt::Debug for Checker<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").field("rules_version", &self.rules.version).finish_non_exhaustive()
    }
}

impl<'s, E: Engine> Checker<'s, E> {
    pub fn new(store: &'s Store<E>, rules: Arc<RuleSet>) -> Checker<'s, E> {
        Checker { store, rules, cancel: crate::cancel::Cancel::never() }
    }

    /// A batch stops, recording nothing, once `cancel` is raised (its caller is gone).
    pub fn with_cancel(self, cancel: crate::cancel::Cancel) -> Checker<'s, E> {
        Checker { cancel, ..self }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Checks and records the check, so feedback can cite it.
    pub fn check(&self, request: &CheckRequest) -> Result<CheckResult, CheckError> {
        let mut result = self.evaluate(request)?;
        self.record(vec![&mut result])?;
        Ok(result)
    }

    /// Checks many subjects; the answered ones are recorded in one write. Per request, the answer or
    /// the caller's error; a storage failure fails the whole batch, and so does cancellation (before
    /// anything is recorded).
    pub fn check_batch(&self, requests: &[CheckRequest]) -> Result<Vec<Result<CheckResult, CheckError>>, CheckError> {
        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            self.cancel.check()?;
            match self.evaluate(request) {
                Err(CheckError::Store(e)) => return Err(CheckError::Store(e)),
                answer => answers.push(answer),
            }
        }
        self.record(answers.iter_mut().filter_map(|a| a.as_mut().ok()).collect())?;
        Ok(answers)
    }

    /// Gives each result its check id and writes it to the check log.
    fn record(&self, mut results: Vec<&mut CheckResult>) -> Result<(), CheckError> {
        if results.is_empty() {
            return Ok(());
        }
        self.store.append_checks(results.len(), |first| {
            results
                .iter_mut()
                .zip(first..)
                .map(|(result, id)| {
                    result.check_id = id;
                    (keys::check(id), crate::store::to_json(&CheckRecord::of(result)))
                })
                .collect()
        })?;
        Ok(())
    }

    /// Answers a check without recording it.
    pub fn evaluate(&self, request: &CheckRequest) -> Result<CheckResult, CheckError> {
        if !self.rules.items.contains_key(&request.item) {
            return Err(CheckError::UnknownItem(request.item.clone()));
        }
        let mut result = CheckResult {
            check_id: 0,
            identifier: request.identifier.clone(),
            item: request.item.clone(),
            as_of: request.as_of,
            department: request.department.clone(),
            checked_at: Utc::now(),
            rules_version: self.rules.version.clone(),
            subject: None,
            verdict: Verdict::Clear,
            reasons: Vec::new(),
            hits: Vec::new(),
            measures: Vec::new(),
            evaluation: None,
        };
        let Some(page) = self.find(&request.identifier)? else {
            result.reasons.push("no subject with this identifier is known to the platform".to_string());
            return Ok(result);
        };
        let checked = NamedSubject::of(&page.subject);
        let own_scope =
            if checked.subject_type == SubjectType::NaturalPerson { Scope::NaturalPerson } else { Scope::Entity };
        for group in page.reach.groups {
            self.collect_hits(&checked, group, request, &mut result);
        }
        result.subject = Some(checked);
        result.evaluation = self.store.evaluation(page.subject.id)?.map(CheckedGrade::from);
        self.class_measures(own_scope, &mut result);
        decide(&mut result);
        self.grade_rule(&mut result);
        Ok(result)
    }

    /// The subject an identifier names, ready for a check: one read of the identifier index and one
    /// batched read of the subject and what reaches it.
    fn find(&self, identifier: &str) -> Result<Option<CheckPage>, CheckError> {
        if let Some(id) = self.store.find_subject_id(identifier)?
            && let Some(page) = self.store.check_page(id)?
        {
            return Ok(Some(page));
        }
        // Unknown: say whether it was a mistyped code or a valid one the platform has no data on.
        match Identifier::parse(identifier) {
            Ok(_) => Ok(None),
            Err(e) => Err(CheckError::InvalidIdentifier { identifier: identifier.to_string(), reason: e.to_string() }),
        }
    }

    /// The hits and measures of one listed subject's entries in force on the as-of date.
    fn collect_hits(
        &self,
        checked: &NamedSubject,
        group: ReachGroup,
        request: &CheckRequest,
        result: &mut CheckResult,
    ) {
        let listed_subject = group.listed.unwrap_or_else(|| checked.clone());
        let scope = match group.link {
            Link::Listed if checked.subject_type == SubjectType::NaturalPerson => Scope::NaturalPerson,
            Link::Listed => Scope::Entity,
            Link::RelatedPerson { role } | Link::Organisation { role } => Scope::of_role(role),
        };
        for entry in group.entries.into_iter().filter(|e| e.in_force_on(request.as_of)) {
            let memoranda: Vec<&Memorandum> = self
                .rules
                .memoranda_for(&entry.list_type)
                .filter(|m| m.valid_on(request.as_of) && m.scope.contains(&scope))
                .collect();
            // A related subject's entry matters only where a memorandum carries it across the link.
            if group.link != Link::Listed && memoranda.is_empty() {
                continue;
            }
            for memorandum in &memoranda {
                for measure in memorandum.measures.iter().filter(|m| applies(m, &request.item, scope)) {
                    add_measure(&mut result.measures, memorandum, measure, entry.record);
                }
            }
            result.hits.push(Hit {
                record_id: entry.record,
                colour: self.rules.colour(&entry.list_type),
                list_type: self.rules.list_type_code(&entry.list_type).unwrap_or(&entry.list_type).to_string(),
                list_name: entry.list_name,
                identifying_department: entry.authority,
                identifying_department_code: entry.authority_code,
                basis_document: entry.document_number,
                listed_on: entry.listed_on,
                planned_removal: entry.planned_removal,
                removed_on: entry.removed_on,
                listed_subject: listed_subject.clone(),
                path: group.link,
                memoranda: memoranda.iter().map(|m| m.id.clone()).collect(),
            });
        }
    }
}

fn applies(measure: &Measure, item: &str, scope: Scope) -> bool {
    measure.scope.contains(&scope) && measure.items.iter().any(|i| i == item)
}

fn add_measure(measures: &mut Vec<AppliedMeasure>, memorandum: &Memorandum, measure: &Measure, record: RecordId) {
    if let Some(existing) = measures.iter_mut().find(|m| m.measure_id == measure.id) {
        if !existing.hits.contains(&record) {
            existing.hits.push(record);
        }
        return;
    }
    measures.push(AppliedMeasure::of(memorandum, measure, vec![record], None));
}

impl AppliedMeasure {
    /// A measure of `memorandum` brought by list entries (`hits`) or by the subject's `risk_class`.
    fn of(memorandum: &Memorandum, measure: &Measure, hits: Vec<RecordId>, risk_class: Option<String>) -> Self {
        AppliedMeasure {
            measure_id: measure.id.clone(),
            memorandum_id: memorandum.id.clone(),
            memorandum_title: memorandum.title.clone(),
            document_number: memorandum.document_number.clone(),
            text: measure.text.clone(),
            implementing_department: measure.implementing_department.clone(),
            legal_basis: measure.legal_basis.clone(),
            kind: memorandum.kind,
            mandatory: measure.mandatory,
            hits,
            risk_class,
            suppressed: false,
        }
    }
}

impl<E: Engine> Checker<'_, E> {
    /// The measures memoranda attach to the subject's stored supervision risk class for the item, in
    /// force on the as-of date; they reach the evaluated subject itself only (`own_scope`).
    fn class_measures(&self, own_scope: Scope, result: &mut CheckResult) {
        let Some(class) = result.evaluation.as_ref().and_then(|e| e.risk_class.clone()) else { return };
        for memorandum in self.rules.memoranda_for_class(&class).filter(|m| m.valid_on(result.as_of)) {
            for measure in memorandum.measures.iter().filter(|m| applies(m, &result.item, own_scope)) {
                if result.measures.iter().any(|m| m.measure_id == measure.id) {
                    continue;
                }
                result.measures.push(AppliedMeasure::of(memorandum, measure, Vec::new(), Some(class.clone())));
            }
        }
    }
}

/// The verdict and its reasons, in the order of [`Verdict`].
impl<E: Engine> Checker<'_, E> {
    /// An item's grade-dependent rule: a subject whose stored risk class the item names gets `CAUTION`
    /// where it would have been `CLEAR` or `PRIORITY`.
    fn grade_rule(&self, result: &mut CheckResult) {
        let Some(item) = self.rules.items.get(&result.item) else { return };
        let Some(class) = result.evaluation.as_ref().and_then(|e| e.risk_class.as_deref()) else { return };
        if item.caution_risk_classes.iter().any(|c| c == class)
            && matches!(result.verdict, Verdict::Clear | Verdict::Priority)
        {
            result.verdict = Verdict::Caution;
            result
                .reasons
                .push(format!("supervision risk class {class}: item {} asks for caution in this class", item.code));
        }
    }
}

fn decide(result: &mut CheckResult) {
    let black = result.hits.iter().any(Hit::is_black);
    for measure in result.measures.iter_mut().filter(|m| m.kind == MeasureKind::Reward) {
        measure.suppressed = black;
    }
    let describe = |measure: &AppliedMeasure, hits: &[Hit]| -> String {
        let mut via: Vec<String> = hits
            .iter()
            .filter(|h| measure.hits.contains(&h.record_id))
            .map(|h| {
                let list = h.list_name.clone().unwrap_or_else(|| h.list_type.clone());
                let document = h.basis_document.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
                format!("{list}{document} of {}", h.path.describe())
            })
            .collect();
        if let Some(class) = &measure.risk_class {
            via.push(format!("the subject's supervision risk class {class}"));
        }
        format!(
            "{} {} measure {} ({}): {}; by {}",
            if measure.mandatory { "mandatory" } else { "advisory" },
            match measure.kind {
                MeasureKind::Punishment => "punishment",
                MeasureKind::Reward => "reward",
            },
            measure.measure_id,
            measure.document_number,
            measure.text,
            via.join(", ")
        )
    };
    let punishments: Vec<&AppliedMeasure> =
        result.measures.iter().filter(|m| m.kind == MeasureKind::Punishment).collect();
    let rewards: Vec<&AppliedMeasure> = result.measures.iter().filter(|m| m.kind == MeasureKind::Reward).collect();
    let (verdict, reasons): (Verdict, Vec<String>) = if punishments.iter().any(|m| m.mandatory) {
        let reasons = punishments.iter().filter(|m| m.mandatory).map(|m| describe(m, &result.hits)).collect();
        (Verdict::Block, reasons)
    } else if !punishments.is_empty() {
        (Verdict::Restrict, punishments.iter().map(|m| describe(m, &result.hits)).collect())
    } else if black {
        let reasons = result
            .hits
            .iter()
            .filter(|h| h.is_black())
            .map(|h| {
                let known = if h.colour.is_none() { " (a list type the rules do not know)" } else { "" };
                format!(
                    "black-list entry {}{known} of {} is in force on {}, but no measure names {}",
                    h.list_type,
                    h.path.describe(),
                    result.as_of,
                    result.item
                )
            })
            .collect();
        (Verdict::Caution, reasons)
    } else if !rewards.is_empty() {
        (Verdict::Priority, rewards.iter().map(|m| describe(m, &result.hits)).collect())
    } else if result.hits.is_empty() {
        (Verdict::Clear, vec![format!("no list entry in force on {} reaches the subject", result.as_of)])
    } else {
        (Verdict::Clear, vec![format!("red-list entries in force, but no reward measure names {}", result.item)])
    };
    result.verdict = verdict;
    result.reasons = reasons;
    if black && !rewards.is_empty() {
        result.reasons.push("reward measures are outranked by the black-list entry and not applied".to_string());
    }
}

/// The audit entry of a check: who checked whom, for which item, and the answer.
impl AuditEvent {
    /// Who checked whom, for which item, and the answer.
    pub fn check(actor: Actor, result: &CheckResult) -> AuditEvent {
        let mut event = AuditEvent::new(actor, Operation::Check)
            .detail("check_id", result.check_id)
            .detail("item", &result.item)
            .detail("as_of", result.as_of)
            .detail("verdict", result.verdict.as_str());
        event.subject = result.subject.as_ref().map(|s| s.id);
        event
    }
}

#[cfg(test)]
pub(crate) mod tests;
