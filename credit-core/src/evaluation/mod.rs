//! Public credit evaluation (DOMAIN.md §7, issue 26): a model as data (`fixtures/evaluation/model.toml`,
//! compiled in and replaceable) and the evaluation of one subject from its records on a day, explained
//! indicator by indicator with the records that produced each score.
//!
//! Evaluating is a pure function of the subject, its current records, the disclosure rules (tiers) and
//! the day, so the library, the CLI and gRPC give the same answer, and a full run and an incremental one
//! agree by construction.

mod cube;
#[cfg(test)]
mod tests;

pub use cube::{CubeBuilder, CubeCell, StatsCube, StoredEvaluation, Tally, industry_key};

use std::borrow::Borrow;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::disclosure::{DisclosureRules, Tier};
use crate::model::{
    AmountWan, RecordCategory, RecordDetails, RecordId, RecordVersion, Subject, SubjectId, SubjectType,
};

/// The compiled-in model (`fixtures/evaluation/model.toml`).
pub const BUILTIN_TOML: &str = include_str!("../../../fixtures/evaluation/model.toml");

static BUILTIN: LazyLock<Arc<EvaluationModel>> = LazyLock::new(|| {
    Arc::new(
        EvaluationModel::from_toml(BUILTIN_TOML, "fixtures/evaluation/model.toml").expect("built-in model is valid"),
    )
});

/// The most indicators, overrides, grades or risk classes a model may have: a model is configuration,
/// and every evaluation walks all of them.
pub const MAX_ITEMS: usize = 64;

/// Which records an indicator counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFilter {
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_months: Option<u32>,
    #[serde(default)]
    pub in_force: bool,
}

/// One indicator: points per matching record (or per year since establishment), bounded by `cap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordFilter>,
    pub years_established: bool,
    pub points: i64,
    /// The most the indicator adds (positive points) or takes away (negative), as a signed total.
    pub cap: i64,
    /// A local choice, not a value read from a standard or law.
    pub local: bool,
    #[serde(skip)]
    category: Option<RecordCategory>,
    #[serde(skip)]
    tier: Option<Tier>,
}

/// An entry in force on one of `list_types` caps the grade at `grade_at_most`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub id: String,
    pub list_types: Vec<String>,
    pub grade_at_most: String,
    #[serde(default)]
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    pub id: String,
    pub label: String,
    pub min_score: i64,
    #[serde(default)]
    pub local: bool,
}

/// A supervision risk class (A lowest risk … D highest) and its random-inspection ratio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskClass {
    pub id: String,
    pub label: String,
    pub grades: Vec<String>,
    /// Share of the class drawn for random inspection, exact (e.g. 0.05).
    pub inspection_ratio: String,
    pub local: bool,
    #[serde(skip)]
    pub ratio_millionths: u32,
}

/// Why a model file was refused: the line and field of the first fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {field}: {reason}")]
pub struct ModelError {
    pub source_name: String,
    /// 1-based; 0 when the file as a whole is at fault.
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// A versioned evaluation model, validated as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationModel {
    pub version: String,
    pub title: String,
    pub basis: String,
    pub scope: Vec<SubjectType>,
    pub public_scope: Vec<SubjectType>,
    pub base: i64,
    pub min_score: i64,
    pub max_score: i64,
    pub indicators: Vec<Indicator>,
    pub overrides: Vec<Override>,
    /// Best first.
    pub grades: Vec<Grade>,
    /// Lowest risk first.
    pub risk_classes: Vec<RiskClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    version: String,
    title: String,
    basis: String,
    scope: Vec<String>,
    #[serde(default)]
    public_scope: Vec<String>,
    base: i64,
    min_score: i64,
    max_score: i64,
    #[serde(default)]
    local: bool,
    #[serde(default)]
    indicator: Vec<Spanned<RawIndicator>>,
    #[serde(default, rename = "override")]
    overrides: Vec<Spanned<Override>>,
    grade: Vec<Spanned<Grade>>,
    #[serde(default)]
    risk_class: Vec<Spanned<RawRiskClass>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    id: String,
    name: String,
    records: Option<RecordFilter>,
    #[serde(default)]
    years_established: bool,
    points: i64,
    cap: i64,
    #[serde(default)]
    local: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRiskClass {
    id: String,
    label: String,
    grades: Vec<String>,
    inspection_ratio: String,
    #[serde(default)]
    local: bool,
}

struct Reader<'t> {
    text: &'t str,
    source_name: &'t str,
}

impl Reader<'_> {
    fn error(&self, offset: usize, field: &str, reason: impl Into<String>) -> ModelError {
        let line =
            if offset == usize::MAX { 0 } else { self.text[..offset.min(self.text.len())].matches('\n').count() + 1 };
        ModelError { source_name: self.source_name.into(), line, field: field.into(), reason: reason.into() }
    }

    fn types(&self, field: &str, values: &[String]) -> Result<Vec<SubjectType>, ModelError> {
        values
            .iter()
            .map(|v| {
                SubjectType::parse(v)
                    .ok_or_else(|| self.error(usize::MAX, field, format!("{v:?} is not a subject type")))
            })
            .collect()
    }

    fn indicator(&self, at: usize, raw: &RawIndicator) -> Result<Indicator, ModelError> {
        if raw.id.trim().is_empty() || raw.name.trim().is_empty() {
            return Err(self.error(at, "indicator", "an indicator needs an id and a name"));
        }
        if raw.records.is_some() == raw.years_established {
            return Err(self.error(
                at,
                "records",
                format!("indicator {}: give either records = {{ … }} or years_established = true", raw.id),
            ));
        }
        if raw.points == 0 || raw.cap == 0 || raw.points.signum() != raw.cap.signum() {
            return Err(self.error(
                at,
                "cap",
                format!("indicator {}: points and cap are non-zero and of the same sign", raw.id),
            ));
        }
        if raw.points.abs() > 1000 || raw.cap.abs() > 1000 {
            return Err(self.error(at, "points", format!("indicator {}: at most 1000 points", raw.id)));
        }
        let (mut category, mut tier) = (None, None);
        if let Some(filter) = &raw.records {
            category =
                Some(RecordCategory::ALL.into_iter().find(|c| c.as_str() == filter.category).ok_or_else(|| {
                    self.error(
                        at,
                        "category",
                        format!("indicator {}: {:?} is not a record category", raw.id, filter.category),
                    )
                })?);
            if let Some(t) = &filter.tier {
                tier = Some(match t.as_str() {
                    "minor" => Tier::Minor,
                    "general" => Tier::General,
                    "serious" => Tier::Serious,
                    other => {
                        return Err(self.error(at, "tier", format!("indicator {}: {other:?} is not a tier", raw.id)));
                    }
                });
            }
            if filter.max_age_months.is_some_and(|m| m > 1200) {
                return Err(self.error(at, "max_age_months", format!("indicator {}: at most 1200", raw.id)));
            }
        }
        Ok(Indicator {
            id: raw.id.clone(),
            name: raw.name.clone(),
            records: raw.records.clone(),
            years_established: raw.years_established,
            points: raw.points,
            cap: raw.cap,
            local: raw.local,
            category,
            tier,
        })
    }
}

impl EvaluationModel {
    pub fn builtin() -> Arc<EvaluationModel> {
        BUILTIN.clone()
    }

    /// Reads a model file; `None` gives the compiled-in model.
    pub fn load(path: Option<&Path>) -> Result<Arc<EvaluationModel>, ModelError> {
        let Some(path) = path else { return Ok(EvaluationModel::builtin()) };
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ModelError {
            source_name: name.clone(),
            line: 0,
            field: "file".into(),
            reason: e.to_string().to_lowercase(),
        })?;
        EvaluationModel::from_toml(&text, &name).map(Arc::new)
    }

    pub fn from_toml(text: &str, source_name: &str) -> Result<EvaluationModel, ModelError> {
        let reader = Reader { text, source_name };
        let raw: RawModel = toml::from_str(text)
            .map_err(|e| reader.error(e.span().map_or(usize::MAX, |s| s.start), "toml", e.message().to_lowercase()))?;
        if raw.version.trim().is_empty() {
            return Err(reader.error(usize::MAX, "version", "the model needs a version"));
        }
        let _ = raw.local;
        if !(raw.min_score <= raw.base && raw.base <= raw.max_score) || raw.max_score - raw.min_score > 100_000 {
            return Err(reader.error(usize::MAX, "base", "min_score ≤ base ≤ max_score, within 100,000 points"));
        }
        for (what, n) in [
            ("indicator", raw.indicator.len()),
            ("override", raw.overrides.len()),
            ("grade", raw.grade.len()),
            ("risk_class", raw.risk_class.len()),
        ] {
            if n > MAX_ITEMS {
                return Err(reader.error(usize::MAX, what, format!("at most {MAX_ITEMS}")));
            }
        }
        let scope = reader.types("scope", &raw.scope)?;
        let public_scope = reader.types("public_scope", &raw.public_scope)?;
        let mut indicators: Vec<Indicator> = Vec::new();
        for spanned in &raw.indicator {
            let indicator = reader.indicator(spanned.span().start, spanned.get_ref())?;
            if indicators.iter().any(|i| i.id == indicator.id) {
                return Err(reader.error(
                    spanned.span().start,
                    "id",
                    format!("indicator {} appears twice", indicator.id),
                ));
            }
            indicators.push(indicator);
        }
        let mut grades: Vec<Grade> = Vec::new();
        for spanned in &raw.grade {
            let grade = spanned.get_ref().clone();
            if let Some(previous) = grades.last()
                && previous.min_score <= grade.min_score
            {
                return Err(reader.error(
                    spanned.span().start,
                    "min_score",
                    format!("grade {} must need less than grade {} ({})", grade.id, previous.id, previous.min_score),
                ));
            }
            if grades.iter().any(|g| g.id == grade.id) || grade.id.trim().is_empty() {
                return Err(reader.error(
                    spanned.span().start,
                    "id",
                    format!("grade {:?} is empty or twice", grade.id),
                ));
            }
            grades.push(grade);
        }
        match grades.last() {
            Some(lowest) if lowest.min_score <= raw.min_score => {}
            _ => {
                return Err(reader.error(usize::MAX, "grade", "the lowest grade must start at min_score"));
            }
        }
        let known_grade = |id: &str| grades.iter().any(|g| g.id == id);
        let mut overrides = Vec::new();
        for spanned in &raw.overrides {
            let o = spanned.get_ref().clone();
            if !known_grade(&o.grade_at_most) {
                return Err(reader.error(
                    spanned.span().start,
                    "grade_at_most",
                    format!("no grade {:?}", o.grade_at_most),
                ));
            }
            overrides.push(o);
        }
        let mut risk_classes: Vec<RiskClass> = Vec::new();
        for spanned in &raw.risk_class {
            let at = spanned.span().start;
            let r = spanned.get_ref();
            if let Some(unknown) = r.grades.iter().find(|g| !known_grade(g)) {
                return Err(reader.error(at, "grades", format!("risk class {}: no grade {unknown:?}", r.id)));
            }
            let ratio = AmountWan::parse(&r.inspection_ratio).filter(|a| (0..=1_000_000).contains(&a.fen)).ok_or_else(
                || reader.error(at, "inspection_ratio", format!("{:?} is not a share from 0 to 1", r.inspection_ratio)),
            )?;
            risk_classes.push(RiskClass {
                id: r.id.clone(),
                label: r.label.clone(),
                grades: r.grades.clone(),
                inspection_ratio: r.inspection_ratio.clone(),
                local: r.local,
                ratio_millionths: ratio.fen as u32,
            });
        }
        if let Some(g) =
            grades.iter().find(|g| !risk_classes.is_empty() && !risk_classes.iter().any(|r| r.grades.contains(&g.id)))
        {
            return Err(reader.error(usize::MAX, "risk_class", format!("grade {} has no risk class", g.id)));
        }
        Ok(EvaluationModel {
            version: raw.version,
            title: raw.title,
            basis: raw.basis,
            scope,
            public_scope,
            base: raw.base,
            min_score: raw.min_score,
            max_score: raw.max_score,
            indicators,
            overrides,
            grades,
            risk_classes,
        })
    }

    /// The supervision risk classes `rules` name (items' `caution_risk_classes`, memoranda's
    /// `risk_classes`) that this model does not have, each as "FILE: class X is not …": a rule set and a
    /// model that do not fit each other, refused at startup.
    pub fn unknown_risk_classes(&self, rules: &crate::rules::RuleSet) -> Vec<String> {
        let mut unknown: Vec<String> = rules
            .risk_classes_named()
            .into_iter()
            .filter(|(_, class)| !self.risk_classes.iter().any(|r| &r.id == class))
            .map(|(file, class)| {
                format!("{file}: risk class {class:?} is not a class of evaluation model {}", self.version)
            })
            .collect();
        unknown.dedup();
        unknown
    }

    /// Whether the model evaluates subjects of this type.
    pub fn covers(&self, subject_type: SubjectType) -> bool {
        self.scope.contains(&subject_type)
    }

    /// Evaluates `subject` from its current `records` (owned or borrowed versions) on `as_of`; `None`
    /// when the model does not cover its type.
    pub fn evaluate<R: Borrow<RecordVersion>>(
        &self,
        rules: &DisclosureRules,
        subject: &Subject,
        records: &[R],
        as_of: NaiveDate,
    ) -> Option<Evaluation> {
        if !self.covers(subject.subject_type) {
            return None;
        }
        // Each record's tier, classified once for every indicator that asks.
        let records: Vec<(&RecordVersion, Option<Tier>)> = records
            .iter()
            .map(|r| {
                let r = r.borrow();
                let tier = match r.content.details {
                    RecordDetails::Penalty { .. } => rules.tier(&r.content),
                    _ => None,
                };
                (r, tier)
            })
            .collect();
        let mut score = self.base;
        let mut results = Vec::with_capacity(self.indicators.len());
        for indicator in &self.indicators {
            let (count, matched) = match &indicator.records {
                Some(filter) => {
                    let matched: Vec<RecordId> = records
                        .iter()
                        .filter(|(r, tier)| matches(indicator, filter, r, *tier, as_of))
                        .map(|(r, _)| r.record)
                        .collect();
                    (matched.len() as i64, matched)
                }
                None => (years_since(subject.established, as_of), Vec::new()),
            };
            let raw = indicator.points.saturating_mul(count);
            let points = if indicator.cap < 0 { raw.max(indicator.cap) } else { raw.min(indicator.cap) };
            if points != 0 {
                score += points;
                results.push(IndicatorResult {
                    id: indicator.id.clone(),
                    name: indicator.name.clone(),
                    count,
                    points,
                    records: matched,
                });
            }
        }
        let score = score.clamp(self.min_score, self.max_score);
        let by_score = self.grades.iter().position(|g| score >= g.min_score).unwrap_or(self.grades.len() - 1);
        let mut grade_index = by_score;
        let mut capped_by = None;
        for o in &self.overrides {
            let hit: Vec<RecordId> = records
                .iter()
                .map(|(r, _)| r)
                .filter(|r| match &r.content.details {
                    RecordDetails::ListEntry { list_type, .. } => {
                        o.list_types.contains(list_type) && r.content.in_force_on(as_of)
                    }
                    _ => false,
                })
                .map(|r| r.record)
                .collect();
            let cap = self.grades.iter().position(|g| g.id == o.grade_at_most).expect("validated");
            if !hit.is_empty() && cap > grade_index {
                grade_index = cap;
                capped_by = Some(OverrideHit { id: o.id.clone(), records: hit });
            }
        }
        let grade = &self.grades[grade_index];
        let risk = self.risk_classes.iter().find(|r| r.grades.contains(&grade.id));
        Some(Evaluation {
            subject: subject.id,
            model_version: self.version.clone(),
            as_of,
            score,
            grade: grade.id.clone(),
            grade_label: grade.label.clone(),
            risk_class: risk.map(|r| r.id.clone()),
            inspection_ratio: risk.map(|r| r.inspection_ratio.clone()),
            capped_by,
            indicators: results,
        })
    }
}

/// Whole years from `established` to `as_of`; 0 when unknown or later.
fn years_since(established: Option<NaiveDate>, as_of: NaiveDate) -> i64 {
    let Some(from) = established else { return 0 };
    if from > as_of {
        return 0;
    }
    let mut years = i64::from(as_of.year() - from.year());
    if (as_of.month(), as_of.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    years.max(0)
}

/// Whether record `r`, of penalty tier `tier`, counts for `indicator` on `as_of`.
fn matches(
    indicator: &Indicator,
    filter: &RecordFilter,
    r: &RecordVersion,
    tier: Option<Tier>,
    as_of: NaiveDate,
) -> bool {
    let content = &r.content;
    if Some(content.category()) != indicator.category {
        return false;
    }
    // Repaired and revoked records stop counting from the day that took effect (Order 36 art. 3:
    // the evaluation is updated with the repair).
    if crate::model::ended_by_status(content.status, content.status_since, as_of) {
        return false;
    }
    let decided = match &content.details {
        RecordDetails::ListEntry { listed_on, .. } => Some(*listed_on),
        RecordDetails::Commitment { made_on, .. } => Some(*made_on),
        _ => content.decision_date.or(content.valid_from),
    };
    if decided.is_some_and(|d| d > as_of) {
        return false;
    }
    if let Some(months) = filter.max_age_months {
        let Some(decided) = decided else { return false };
        if decided.checked_add_months(Months::new(months)).is_some_and(|end| end <= as_of) {
            return false;
        }
    }
    if filter.in_force && !content.in_force_on(as_of) {
        return false;
    }
    match &content.details {
        RecordDetails::Penalty { penalty_types, .. } => {
            indicator.tier.is_none_or(|t| tier == Some(t))
                && filter.penalty_type.as_ref().is_none_or(|p| penalty_types.iter().any(|t| t.contains(p.as_str())))
        }
        RecordDetails::ListEntry { list_type, .. } => filter.list_type.as_ref().is_none_or(|l| l == list_type),
        RecordDetails::Commitment { commitment_kind, .. } => {
            filter.commitment_kind.as_ref().is_none_or(|k| k == commitment_kind)
        }
        _ => true,
    }
}

/// One indicator's contribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorResult {
    pub id: String,
    pub name: String,
    /// Matching records, or whole years for `years_established`.
    pub count: i64,
    /// After the cap.
    pub points: i64,
    /// The records that produced the points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordId>,
}

/// The override that capped the grade, with the entries that triggered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideHit {
    pub id: String,
    pub records: Vec<RecordId>,
}

/// A subject's evaluation on a day under one model version, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub subject: SubjectId,
    pub model_version: String,
    /// The day the evaluation is valid for.
    pub as_of: NaiveDate,
    pub score: i64,
    pub grade: String,
    pub grade_label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection_ratio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capped_by: Option<OverrideHit>,
    /// Indicators that gave or took points, in model order.
    pub indicators: Vec<IndicatorResult>,
}

/// An evaluation as its reader may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ShownEvaluation {
    Full(Evaluation),
    /// The grade alone: the score and the indicators would tell of records the public does not see
    /// (minor penalties, for one).
    GradeOnly {
        subject: SubjectId,
        model_version: String,
        as_of: NaiveDate,
        grade: String,
        grade_label: String,
        grade_only: bool,
    },
}

impl ShownEvaluation {
    /// The grade alone, as anyone but regulators and the subject itself sees it.
    pub fn grade_only(e: Evaluation) -> ShownEvaluation {
        ShownEvaluation::GradeOnly {
            subject: e.subject,
            model_version: e.model_version,
            as_of: e.as_of,
            grade: e.grade,
            grade_label: e.grade_label,
            grade_only: true,
        }
    }
}
