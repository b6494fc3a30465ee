//! Disclosure windows (DOMAIN.md §5): how long a negative record is public, and from when its subject
//! may apply for repair, as versioned rules and a tier classification table read from TOML.
//!
//! Visibility on any date is computed from the record and the rules, so a window ends without any job
//! running; the periodic sweep (`feed::sweep`) only tells subscribers that it did.

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, LazyLock};

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::{AmountWan, RecordContent, RecordDetails, ended_by_status};

/// The compiled-in rules (`fixtures/disclosure/rules.toml`).
pub const BUILTIN_TOML: &str = include_str!("../../../fixtures/disclosure/rules.toml");

static BUILTIN: LazyLock<Arc<DisclosureRules>> = LazyLock::new(|| {
    Arc::new(
        DisclosureRules::from_toml(BUILTIN_TOML, "fixtures/disclosure/rules.toml").expect("built-in rules are valid"),
    )
});

/// How serious a piece of negative information is; it decides the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Minor,
    General,
    Serious,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Minor => "minor",
            Tier::General => "general",
            Tier::Serious => "serious",
        }
    }

    fn parse(value: &str) -> Option<Tier> {
        match value {
            "minor" => Some(Tier::Minor),
            "general" => Some(Tier::General),
            "serious" => Some(Tier::Serious),
            _ => None,
        }
    }
}

/// Minimum and maximum display of one tier, in months from the decision date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierWindow {
    pub min_months: u32,
    /// 0: never disclosed.
    pub max_months: u32,
}

/// The windows in force from a date, with the text they rest on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSet {
    pub id: String,
    pub effective_from: NaiveDate,
    pub legal_basis: String,
    pub minor: TierWindow,
    pub general: TierWindow,
    pub serious: TierWindow,
}

impl RuleSet {
    pub fn window(&self, tier: Tier) -> TierWindow {
        match tier {
            Tier::Minor => self.minor,
            Tier::General => self.general,
            Tier::Serious => self.serious,
        }
    }
}

/// One line of the classification table: every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Classifier {
    tier: Tier,
    penalty_types_any: Vec<String>,
    penalty_types_only: Vec<String>,
    fine_at_least: Option<AmountWan>,
    list_types: Vec<String>,
}

impl Classifier {
    fn matches(&self, details: &RecordDetails) -> bool {
        match details {
            RecordDetails::Penalty { penalty_types, fine, confiscated, .. } => {
                if !self.list_types.is_empty() {
                    return false;
                }
                let has = |texts: &[String], t: &str| texts.iter().any(|text| t.contains(text.as_str()));
                let any_ok =
                    self.penalty_types_any.is_empty() || penalty_types.iter().any(|t| has(&self.penalty_types_any, t));
                let only_ok = self.penalty_types_only.is_empty()
                    || (!penalty_types.is_empty() && penalty_types.iter().all(|t| has(&self.penalty_types_only, t)));
                let total = fine.map_or(0, |a| a.fen) + confiscated.map_or(0, |a| a.fen);
                let fine_ok = self.fine_at_least.is_none_or(|at_least| total >= at_least.fen);
                any_ok && only_ok && fine_ok
            }
            RecordDetails::ListEntry { list_type, .. } => {
                !self.list_types.is_empty()
                    && self.penalty_types_any.is_empty()
                    && self.penalty_types_only.is_empty()
                    && self.fine_at_least.is_none()
                    && self.list_types.contains(list_type)
            }
            RecordDetails::Licence { .. } | RecordDetails::Other { .. } => false,
        }
    }
}

/// What the rules say about one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Disclosure {
    /// Not negative information (licences, red lists, other records): no window, no repair.
    NotNegative,
    /// Negative, but without the date a window starts from: never public, not repairable.
    Undated {
        tier: Tier,
    },
    Windowed(Window),
}

impl Disclosure {
    pub fn tier(&self) -> Option<Tier> {
        match self {
            Disclosure::NotNegative => None,
            Disclosure::Undated { tier } => Some(*tier),
            Disclosure::Windowed(w) => Some(w.tier),
        }
    }
}

/// A negative record's public window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub tier: Tier,
    /// The rule set in force on the start date.
    pub rule_set: String,
    /// The decision date (list entries: the listing date).
    pub start: NaiveDate,
    /// The minimum window has passed from this day on: repair may be applied for.
    pub repairable_from: NaiveDate,
    /// First day no longer shown (exclusive end); equal to `start` when never shown.
    pub public_until: NaiveDate,
    /// Whether the source's disclosure deadline ended the window before the tier's maximum.
    pub ended_by_deadline: bool,
}

/// Why a rule file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {field}: {reason}")]
pub struct DisclosureError {
    pub source_name: String,
    /// 1-based; 0 when the file as a whole is at fault.
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// Versioned windows and the classification table, validated as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRules {
    /// Oldest first; effective dates strictly increasing.
    rule_sets: Vec<RuleSet>,
    classifiers: Vec<Classifier>,
    default_penalty_tier: Tier,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    rule_set: Vec<Spanned<RawRuleSet>>,
    default_penalty_tier: Spanned<String>,
    #[serde(default)]
    classify: Vec<Spanned<RawClassifier>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    id: String,
    effective_from: String,
    legal_basis: String,
    minor: TierWindow,
    general: TierWindow,
    serious: TierWindow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassifier {
    tier: String,
    #[serde(default)]
    penalty_types_any: Vec<String>,
    #[serde(default)]
    penalty_types_only: Vec<String>,
    fine_at_least_wan: Option<String>,
    #[serde(default)]
    list_types: Vec<String>,
}

impl DisclosureRules {
    /// The compiled-in rules, shared.
    pub fn builtin() -> Arc<DisclosureRules> {
        BUILTIN.clone()
    }

    /// Reads a rules file; `None` gives the compiled-in rules.
    pub fn load(path: Option<&Path>) -> Result<Arc<DisclosureRules>, DisclosureError> {
        let Some(path) = path else {
            return Ok(DisclosureRules::builtin());
        };
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DisclosureError {
            source_name: name.clone(),
            line: 0,
            field: "file".into(),
            reason: e.to_string().to_lowercase(),
        })?;
        DisclosureRules::from_toml(&text, &name).map(Arc::new)
    }

    pub fn from_toml(text: &str, source_name: &str) -> Result<DisclosureRules, DisclosureError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let error = |offset: usize, field: &str, reason: String| DisclosureError {
            source_name: source_name.to_string(),
            line: if offset == usize::MAX { 0 } else { line_of(offset) },
            field: field.to_string(),
            reason,
        };
        let raw: RawRules = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(usize::MAX, |s| s.start);
            error(offset, "toml", e.message().to_lowercase())
        })?;
        let mut rule_sets: Vec<RuleSet> = Vec::new();
        for spanned in &raw.rule_set {
            let at = spanned.span().start;
            let r = spanned.get_ref();
            let effective_from = NaiveDate::parse_from_str(&r.effective_from, "%Y-%m-%d").map_err(|_| {
                error(at, "effective_from", format!("{:?} is not a date (YYYY-MM-DD)", r.effective_from))
            })?;
            if r.id.trim().is_empty() {
                return Err(error(at, "id", "is empty".into()));
            }
            if r.legal_basis.trim().is_empty() {
                return Err(error(at, "legal_basis", format!("rule set {} names no legal basis", r.id)));
            }
            for (tier, w) in [("minor", r.minor), ("general", r.general), ("serious", r.serious)] {
                if w.max_months != 0 && w.min_months > w.max_months {
                    return Err(error(
                        at,
                        tier,
                        format!("rule set {}: min_months {} exceeds max_months {}", r.id, w.min_months, w.max_months),
                    ));
                }
            }
            if let Some(previous) = rule_sets.last()
                && previous.effective_from >= effective_from
            {
                return Err(error(
                    at,
                    "effective_from",
                    format!("rule set {} must take effect after {} ({})", r.id, previous.id, previous.effective_from),
                ));
            }
            rule_sets.push(RuleSet {
                id: r.id.clone(),
                effective_from,
                legal_basis: r.legal_basis.clone(),
                minor: r.minor,
                general: r.general,
                serious: r.serious,
            });
        }
        if rule_sets.is_empty() {
            return Err(error(usize::MAX, "rule_set", "at least one rule set is needed".into()));
        }
        let default_penalty_tier = Tier::parse(raw.default_penalty_tier.get_ref()).ok_or_else(|| {
            error(
                raw.default_penalty_tier.span().start,
                "default_penalty_tier",
                format!("{:?} is not minor, general or serious", raw.default_penalty_tier.get_ref()),
            )
        })?;
        let mut classifiers = Vec::new();
        for spanned in &raw.classify {
            let at = spanned.span().start;
            let c = spanned.get_ref();
            let tier = Tier::parse(&c.tier)
                .ok_or_else(|| error(at, "tier", format!("{:?} is not minor, general or serious", c.tier)))?;
            let fine_at_least = match &c.fine_at_least_wan {
                None => None,
                Some(text) => Some(
                    AmountWan::parse(text)
                        .ok_or_else(|| error(at, "fine_at_least_wan", format!("{text:?} is not an amount in 万元")))?,
                ),
            };
            let penalty_conditions =
                !c.penalty_types_any.is_empty() || !c.penalty_types_only.is_empty() || fine_at_least.is_some();
            if penalty_conditions != c.list_types.is_empty() {
                return Err(error(
                    at,
                    "classify",
                    "give either penalty conditions (penalty_types_any, penalty_types_only, fine_at_least_wan) or \
                     list_types"
                        .into(),
                ));
            }
            classifiers.push(Classifier {
                tier,
                penalty_types_any: c.penalty_types_any.clone(),
                penalty_types_only: c.penalty_types_only.clone(),
                fine_at_least,
                list_types: c.list_types.clone(),
            });
        }
        Ok(DisclosureRules { rule_sets, classifiers, default_penalty_tier })
    }

    pub fn rule_sets(&self) -> &[RuleSet] {
        &self.rule_sets
    }

    /// The rule set in force on `date`; before the first one, the first one (older decisions are judged
    /// by the oldest rules known).
    pub fn rule_set_on(&self, date: NaiveDate) -> &RuleSet {
        self.rule_sets.iter().rev().find(|r| r.effective_from <= date).unwrap_or(&self.rule_sets[0])
    }

    /// The tier of a record, or `None` when it is not negative information.
    pub fn tier(&self, content: &RecordContent) -> Option<Tier> {
        if let Some(c) = self.classifiers.iter().find(|c| c.matches(&content.details)) {
            return Some(c.tier);
        }
        match content.details {
            RecordDetails::Penalty { .. } => Some(self.default_penalty_tier),
            _ => None,
        }
    }

    pub fn disclosure(&self, content: &RecordContent) -> Disclosure {
        let Some(tier) = self.tier(content) else {
            return Disclosure::NotNegative;
        };
        let Some(start) = window_start(content) else {
            return Disclosure::Undated { tier };
        };
        let rule_set = self.rule_set_on(start);
        let limits = rule_set.window(tier);
        let maximum = add_months(start, limits.max_months);
        let after_deadline = content.disclosure_deadline.map(|d| d.checked_add_days(Days::new(1)).unwrap_or(d));
        let (public_until, ended_by_deadline) = match after_deadline {
            Some(end) if end < maximum => (end.max(start), true),
            _ => (maximum, false),
        };
        Disclosure::Windowed(Window {
            tier,
            rule_set: rule_set.id.clone(),
            start,
            repairable_from: add_months(start, limits.min_months),
            public_until,
            ended_by_deadline,
        })
    }

    /// Whether the rules let the public see this record on `date` (scope and audience rules are the
    /// view's business): not repaired or revoked by then, a list entry in force, and a negative record
    /// inside its window.
    pub fn public_on(&self, content: &RecordContent, date: NaiveDate) -> bool {
        if ended_by_status(content.status, content.status_since, date) {
            return false;
        }
        if matches!(content.details, RecordDetails::ListEntry { .. }) && !content.in_force_on(date) {
            return false;
        }
        match self.disclosure(content) {
            Disclosure::NotNegative => window_start(content).is_none_or(|start| start <= date),
            Disclosure::Undated { .. } => false,
            Disclosure::Windowed(w) => w.start <= date && date < w.public_until,
        }
    }
}

/// Where a window starts: the listing date of a list entry, else the decision date.
pub fn window_start(content: &RecordContent) -> Option<NaiveDate> {
    match &content.details {
        RecordDetails::ListEntry { listed_on, .. } => Some(*listed_on),
        _ => content.decision_date,
    }
}

/// `date` plus whole months; the end of the month when the day does not exist (31 Jan + 1 month is
/// 28/29 Feb).
fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX)
}
