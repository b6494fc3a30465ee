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

use crate::model::{AmountWan, Procedure, RecordContent, RecordDetails, ended_by_status};

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

/// The two tracks of repair rules: the national rules, and market regulation's own for the records it
/// decides (SAMR Order No. 107).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    General,
    MarketRegulation,
}

impl Track {
    pub fn as_str(self) -> &'static str {
        match self {
            Track::General => "general",
            Track::MarketRegulation => "market_regulation",
        }
    }

    fn parse(value: &str) -> Option<Track> {
        match value {
            "general" => Some(Track::General),
            "market_regulation" => Some(Track::MarketRegulation),
            _ => None,
        }
    }
}

/// Minimum and maximum display of one tier under one rule set, in months from the decision date, with
/// the text they were read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierWindow {
    pub min_months: u32,
    /// 0: not published.
    pub max_months: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    pub quote: String,
}

/// A longer minimum for penalties of some fields (领域).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMinimum {
    pub fields: Vec<String>,
    pub min_months: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    pub quote: String,
}

/// One published rule set: its document, the date it took effect, and the windows it sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSet {
    pub id: String,
    pub track: Track,
    /// The document number (文号 or order number).
    pub document: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<NaiveDate>,
    pub effective_from: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_quote: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minor: Option<TierWindow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub general: Option<TierWindow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serious: Option<TierWindow>,
    /// Tiers the set does not distinguish, and the tier whose window they take under it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tier_as: Vec<(Tier, Tier)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub field_minimums: Vec<FieldMinimum>,
    /// Whether (and on which text) the set's maxima and minima also apply, from its effective date, to
    /// records decided earlier that are still published then (where they are shorter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applies_to_published: Option<String>,
}

impl RuleSet {
    /// The window of `tier` under this set, following `tier_as`; `None` when the set encodes none.
    pub fn window(&self, tier: Tier) -> Option<(Tier, &TierWindow)> {
        let tier = self.tier_as.iter().find(|(from, _)| *from == tier).map_or(tier, |(_, to)| *to);
        let window = match tier {
            Tier::Minor => self.minor.as_ref(),
            Tier::General => self.general.as_ref(),
            Tier::Serious => self.serious.as_ref(),
        }?;
        Some((tier, window))
    }

    /// How the regulator view names the rule that decided a window.
    fn basis(&self, window: &TierWindow) -> String {
        let article = window.article.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
        format!("{}《{}》{article}：{}", self.document, self.title, window.quote)
    }
}

/// A field (领域) of penalties, recognised by words of its violation type, legal basis or authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: String,
    pub contains: Vec<String>,
}

/// One line of the classification table: every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classifier {
    pub tier: Tier,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure: Option<Procedure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub penalty_types_any: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub penalty_types_only: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fine_at_least: Option<AmountWan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// What the rules say of one list type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRule {
    pub list_type: String,
    /// Whether a person's name is published with the entry (serious) or masked.
    pub tier: Tier,
    /// Whether the platform takes repair applications for entries of this list.
    pub repairable: bool,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// What a repair application needs and how long each step may take.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RepairRules {
    pub source: String,
    pub conditions_quote: String,
    /// Days each step may take from the previous one: `accept` (applied → accepted or rejected) and
    /// `decide` (accepted → approved or denied).
    pub deadlines: Vec<(String, u32)>,
}

impl RepairRules {
    /// Calendar days allowed for `step`, when configured.
    pub fn deadline(&self, step: &str) -> Option<u32> {
        self.deadlines.iter().find(|(s, _)| s == step).map(|(_, days)| *days)
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
    /// Negative, but no rule set encodes a window for its tier: not public, not repairable.
    Unruled {
        tier: Tier,
        rule_set: String,
    },
    Windowed(Window),
    /// A list entry: public from its listing until its removal or end date.
    Listed(Listing),
}

impl Disclosure {
    pub fn tier(&self) -> Option<Tier> {
        match self {
            Disclosure::NotNegative => None,
            Disclosure::Undated { tier } | Disclosure::Unruled { tier, .. } => Some(*tier),
            Disclosure::Windowed(w) => Some(w.tier),
            Disclosure::Listed(l) => Some(l.tier),
        }
    }
}

/// A negative record's public window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The tier the record was classified in.
    pub tier: Tier,
    pub track: Track,
    /// The rule set in force on the start date.
    pub rule_set: String,
    /// The document, article and text that decided the window.
    pub basis: String,
    /// The decision date.
    pub start: NaiveDate,
    /// The minimum window has passed from this day on: repair may be applied for.
    pub repairable_from: NaiveDate,
    /// First day no longer shown (exclusive end); equal to `start` when never shown.
    pub public_until: NaiveDate,
    /// Whether the source's disclosure deadline ended the window before the tier's maximum.
    pub ended_by_deadline: bool,
    /// A later rule set that shortened the window of a record still published when it took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortened_by: Option<String>,
}

/// A list entry as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub list_type: String,
    pub tier: Tier,
    pub repairable: bool,
    /// The rule that says so.
    pub basis: String,
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

/// Versioned windows, the classification table, list rules and repair rules, validated as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRules {
    /// Oldest first; effective dates strictly increasing within a track.
    rule_sets: Vec<RuleSet>,
    classifiers: Vec<Classifier>,
    default_penalty_tier: Tier,
    fields: Vec<Field>,
    lists: Vec<ListRule>,
    market_regulation_authorities: Vec<String>,
    repair: RepairRules,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    rule_set: Vec<Spanned<RawRuleSet>>,
    default_penalty_tier: Spanned<String>,
    #[serde(default)]
    tracks: RawTracks,
    #[serde(default)]
    field: Vec<Field>,
    #[serde(default)]
    classify: Vec<Spanned<RawClassifier>>,
    #[serde(default)]
    list: Vec<Spanned<RawList>>,
    repair: Option<Spanned<RawRepair>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTracks {
    market_regulation: Option<RawTrack>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrack {
    authority_contains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    id: String,
    track: String,
    document: String,
    title: String,
    issued: Option<String>,
    effective_from: String,
    effective_quote: Option<String>,
    minor_as: Option<String>,
    serious_as: Option<String>,
    general_as: Option<String>,
    minor: Option<TierWindow>,
    general: Option<TierWindow>,
    serious: Option<TierWindow>,
    #[serde(default)]
    field_minimum: Vec<FieldMinimum>,
    applies_to_published: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassifier {
    tier: String,
    procedure: Option<String>,
    #[serde(default)]
    penalty_types_any: Vec<String>,
    #[serde(default)]
    penalty_types_only: Vec<String>,
    fine_at_least_wan: Option<String>,
    #[serde(default)]
    fields: Vec<String>,
    source: String,
    quote: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    #[serde(rename = "type")]
    list_type: String,
    tier: String,
    repairable: bool,
    source: String,
    quote: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepair {
    source: String,
    conditions_quote: String,
    #[serde(default)]
    deadlines: std::collections::BTreeMap<String, u32>,
}

/// The steps a repair deadline can be set for.
const DEADLINE_STEPS: [&str; 2] = ["accept", "decide"];

/// Reads a file's tables into rules, naming the line and field of the first fault.
struct Reader<'t> {
    text: &'t str,
    source_name: &'t str,
}

impl Reader<'_> {
    fn error(&self, offset: usize, field: &str, reason: String) -> DisclosureError {
        let line =
            if offset == usize::MAX { 0 } else { self.text[..offset.min(self.text.len())].matches('\n').count() + 1 };
        DisclosureError { source_name: self.source_name.to_string(), line, field: field.to_string(), reason }
    }

    fn tier(&self, at: usize, field: &str, value: &str) -> Result<Tier, DisclosureError> {
        Tier::parse(value).ok_or_else(|| self.error(at, field, format!("{value:?} is not minor, general or serious")))
    }

    fn date(&self, at: usize, field: &str, value: &str) -> Result<NaiveDate, DisclosureError> {
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_err(|_| self.error(at, field, format!("{value:?} is not a date (YYYY-MM-DD)")))
    }

    fn required(&self, at: usize, field: &str, value: &str, what: &str) -> Result<(), DisclosureError> {
        if value.trim().is_empty() {
            return Err(self.error(at, field, format!("{what} is empty")));
        }
        Ok(())
    }

    fn rule_set(&self, at: usize, r: &RawRuleSet, fields: &[Field]) -> Result<RuleSet, DisclosureError> {
        self.required(at, "id", &r.id, "the rule set's id")?;
        self.required(at, "document", &r.document, &format!("rule set {}: the document", r.id))?;
        self.required(at, "title", &r.title, &format!("rule set {}: the title", r.id))?;
        let track = Track::parse(&r.track)
            .ok_or_else(|| self.error(at, "track", format!("{:?} is not general or market_regulation", r.track)))?;
        let effective_from = self.date(at, "effective_from", &r.effective_from)?;
        let issued = r.issued.as_deref().map(|d| self.date(at, "issued", d)).transpose()?;
        for (tier, w) in [("minor", &r.minor), ("general", &r.general), ("serious", &r.serious)] {
            let Some(w) = w else { continue };
            if w.max_months != 0 && w.min_months > w.max_months {
                return Err(self.error(
                    at,
                    tier,
                    format!("rule set {}: min_months {} exceeds max_months {}", r.id, w.min_months, w.max_months),
                ));
            }
            self.required(at, tier, &w.quote, &format!("rule set {}: the {tier} window's quote", r.id))?;
        }
        let mut tier_as = Vec::new();
        for (from, to, field) in [
            (Tier::Minor, &r.minor_as, "minor_as"),
            (Tier::General, &r.general_as, "general_as"),
            (Tier::Serious, &r.serious_as, "serious_as"),
        ] {
            let Some(to) = to else { continue };
            let to = self.tier(at, field, to)?;
            tier_as.push((from, to));
        }
        let rule_set = RuleSet {
            id: r.id.clone(),
            track,
            document: r.document.clone(),
            title: r.title.clone(),
            issued,
            effective_from,
            effective_quote: r.effective_quote.clone(),
            minor: r.minor.clone(),
            general: r.general.clone(),
            serious: r.serious.clone(),
            tier_as,
            field_minimums: r.field_minimum.clone(),
            applies_to_published: r.applies_to_published.clone(),
        };
        for (from, to) in &rule_set.tier_as {
            let own = match to {
                Tier::Minor => &rule_set.minor,
                Tier::General => &rule_set.general,
                Tier::Serious => &rule_set.serious,
            };
            if own.is_none() || from == to {
                return Err(self.error(
                    at,
                    &format!("{}_as", from.as_str()),
                    format!("rule set {}: {} must name another tier the set has a window for", r.id, from.as_str()),
                ));
            }
        }
        for minimum in &rule_set.field_minimums {
            if let Some(unknown) = minimum.fields.iter().find(|f| !fields.iter().any(|k| &k.id == *f)) {
                return Err(self.error(at, "field_minimum", format!("rule set {}: no [[field]] {unknown:?}", r.id)));
            }
        }
        Ok(rule_set)
    }

    fn classifier(&self, at: usize, c: &RawClassifier, fields: &[Field]) -> Result<Classifier, DisclosureError> {
        let tier = self.tier(at, "tier", &c.tier)?;
        self.required(at, "source", &c.source, "the classification rule's source")?;
        let procedure = match &c.procedure {
            None => None,
            Some(text) => Some(
                Procedure::parse(text)
                    .ok_or_else(|| self.error(at, "procedure", format!("{text:?} is not simple or ordinary")))?,
            ),
        };
        let fine_at_least = match &c.fine_at_least_wan {
            None => None,
            Some(text) => Some(
                AmountWan::parse(text)
                    .ok_or_else(|| self.error(at, "fine_at_least_wan", format!("{text:?} is not an amount in 万元")))?,
            ),
        };
        if procedure.is_none()
            && c.penalty_types_any.is_empty()
            && c.penalty_types_only.is_empty()
            && fine_at_least.is_none()
        {
            return Err(self.error(
                at,
                "classify",
                "give a condition: procedure, penalty_types_any, penalty_types_only or fine_at_least_wan".into(),
            ));
        }
        if let Some(unknown) = c.fields.iter().find(|f| !fields.iter().any(|k| &k.id == *f)) {
            return Err(self.error(at, "fields", format!("no [[field]] {unknown:?}")));
        }
        if fine_at_least.is_some() && c.fields.is_empty() {
            return Err(self.error(at, "fields", "an amount threshold is set per field: name its fields".into()));
        }
        Ok(Classifier {
            tier,
            procedure,
            penalty_types_any: c.penalty_types_any.clone(),
            penalty_types_only: c.penalty_types_only.clone(),
            fine_at_least,
            fields: c.fields.clone(),
            source: c.source.clone(),
            quote: c.quote.clone(),
        })
    }
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
        let reader = Reader { text, source_name };
        let raw: RawRules = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(usize::MAX, |s| s.start);
            reader.error(offset, "toml", e.message().to_lowercase())
        })?;
        for field in &raw.field {
            if field.id.trim().is_empty() || field.contains.iter().all(|w| w.trim().is_empty()) {
                return Err(reader.error(usize::MAX, "field", format!("field {:?} needs an id and words", field.id)));
            }
        }
        let mut rule_sets: Vec<RuleSet> = Vec::new();
        for spanned in &raw.rule_set {
            let at = spanned.span().start;
            let rule_set = reader.rule_set(at, spanned.get_ref(), &raw.field)?;
            if let Some(previous) = rule_sets.iter().rev().find(|r| r.track == rule_set.track)
                && previous.effective_from >= rule_set.effective_from
            {
                return Err(reader.error(
                    at,
                    "effective_from",
                    format!(
                        "rule set {} must take effect after {} ({})",
                        rule_set.id, previous.id, previous.effective_from
                    ),
                ));
            }
            if rule_sets.iter().any(|r| r.id == rule_set.id) {
                return Err(reader.error(at, "id", format!("rule set {} appears twice", rule_set.id)));
            }
            rule_sets.push(rule_set);
        }
        if !rule_sets.iter().any(|r| r.track == Track::General) {
            return Err(reader.error(
                usize::MAX,
                "rule_set",
                "at least one rule set of the general track is needed".into(),
            ));
        }
        let default_penalty_tier = reader.tier(
            raw.default_penalty_tier.span().start,
            "default_penalty_tier",
            raw.default_penalty_tier.get_ref(),
        )?;
        let mut classifiers = Vec::new();
        for spanned in &raw.classify {
            classifiers.push(reader.classifier(spanned.span().start, spanned.get_ref(), &raw.field)?);
        }
        let mut lists: Vec<ListRule> = Vec::new();
        for spanned in &raw.list {
            let at = spanned.span().start;
            let l = spanned.get_ref();
            reader.required(at, "type", &l.list_type, "the list type")?;
            reader.required(at, "source", &l.source, &format!("list {}: the source", l.list_type))?;
            if lists.iter().any(|known| known.list_type == l.list_type) {
                return Err(reader.error(at, "type", format!("list {} appears twice", l.list_type)));
            }
            lists.push(ListRule {
                list_type: l.list_type.clone(),
                tier: reader.tier(at, "tier", &l.tier)?,
                repairable: l.repairable,
                source: l.source.clone(),
                quote: l.quote.clone(),
            });
        }
        let repair = match &raw.repair {
            None => RepairRules::default(),
            Some(spanned) => {
                let r = spanned.get_ref();
                if let Some(step) = r.deadlines.keys().find(|k| !DEADLINE_STEPS.contains(&k.as_str())) {
                    return Err(reader.error(
                        spanned.span().start,
                        "deadlines",
                        format!("{step:?} is not a step (accept, decide)"),
                    ));
                }
                RepairRules {
                    source: r.source.clone(),
                    conditions_quote: r.conditions_quote.clone(),
                    deadlines: r.deadlines.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                }
            }
        };
        let market_regulation_authorities =
            raw.tracks.market_regulation.map(|t| t.authority_contains).unwrap_or_default();
        Ok(DisclosureRules {
            rule_sets,
            classifiers,
            default_penalty_tier,
            fields: raw.field,
            lists,
            market_regulation_authorities,
            repair,
        })
    }

    pub fn rule_sets(&self) -> &[RuleSet] {
        &self.rule_sets
    }

    pub fn classifiers(&self) -> &[Classifier] {
        &self.classifiers
    }

    pub fn lists(&self) -> &[ListRule] {
        &self.lists
    }

    pub fn repair(&self) -> &RepairRules {
        &self.repair
    }

    /// The general track's rule set in force on `date`; before the first one, the first one (older
    /// decisions are judged by the oldest rules known).
    pub fn rule_set_on(&self, date: NaiveDate) -> &RuleSet {
        self.track_set_on(Track::General, date)
            .or_else(|| self.rule_sets.iter().find(|r| r.track == Track::General))
            .expect("validated: a general rule set exists")
    }

    fn track_set_on(&self, track: Track, date: NaiveDate) -> Option<&RuleSet> {
        self.rule_sets.iter().rev().find(|r| r.track == track && r.effective_from <= date)
    }

    /// The rule for a list type, when the list is negative information.
    pub fn list_rule(&self, list_type: &str) -> Option<&ListRule> {
        self.lists.iter().find(|l| l.list_type == list_type)
    }

    /// The track a record belongs to: market regulation when its authority or source department is one.
    pub fn track(&self, content: &RecordContent) -> Track {
        let by = |text: &Option<String>| {
            text.as_deref().is_some_and(|t| self.market_regulation_authorities.iter().any(|w| t.contains(w.as_str())))
        };
        if by(&content.authority) || by(&content.source_dept) { Track::MarketRegulation } else { Track::General }
    }

    /// The fields a penalty belongs to.
    fn fields_of<'a>(&'a self, content: &'a RecordContent) -> impl Iterator<Item = &'a str> + 'a {
        let texts: Vec<&str> = match &content.details {
            RecordDetails::Penalty { violation_type, legal_basis, .. } => {
                [violation_type.as_deref(), legal_basis.as_deref(), content.authority.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect()
            }
            _ => Vec::new(),
        };
        self.fields
            .iter()
            .filter(move |f| f.contains.iter().any(|w| texts.iter().any(|t| t.contains(w.as_str()))))
            .map(|f| f.id.as_str())
    }

    /// The classification rule that decides a penalty's tier, if one does.
    pub fn classifier_of(&self, content: &RecordContent) -> Option<&Classifier> {
        let fields: Vec<&str> = self.fields_of(content).collect();
        self.classifier_in(content, &fields)
    }

    /// [`DisclosureRules::classifier_of`] for a penalty of the given fields.
    fn classifier_in(&self, content: &RecordContent, fields: &[&str]) -> Option<&Classifier> {
        let RecordDetails::Penalty { penalty_types, fine, confiscated, procedure, .. } = &content.details else {
            return None;
        };
        // Records stored before the field existed keep the column among their extras.
        let procedure =
            procedure.or_else(|| crate::import::ImportTables::builtin().procedure_in_extras(&content.extra));
        self.classifiers.iter().find(|c| {
            let has = |texts: &[String], t: &str| texts.iter().any(|text| t.contains(text.as_str()));
            let procedure_ok = c.procedure.is_none() || c.procedure == procedure;
            let any_ok = c.penalty_types_any.is_empty() || penalty_types.iter().any(|t| has(&c.penalty_types_any, t));
            let only_ok = c.penalty_types_only.is_empty()
                || (!penalty_types.is_empty() && penalty_types.iter().all(|t| has(&c.penalty_types_only, t)));
            let total = fine.map_or(0, |a| a.fen) + confiscated.map_or(0, |a| a.fen);
            let fine_ok = c.fine_at_least.is_none_or(|at_least| total >= at_least.fen);
            let field_ok = c.fields.is_empty() || c.fields.iter().any(|f| fields.contains(&f.as_str()));
            procedure_ok && any_ok && only_ok && fine_ok && field_ok
        })
    }

    /// The tier of a record, or `None` when it is not negative information.
    pub fn tier(&self, content: &RecordContent) -> Option<Tier> {
        match &content.details {
            RecordDetails::Penalty { .. } => {
                let fields: Vec<&str> = self.fields_of(content).collect();
                Some(self.penalty_tier(content, &fields))
            }
            RecordDetails::ListEntry { list_type, .. } => self.list_rule(list_type).map(|l| l.tier),
            _ => None,
        }
    }

    fn penalty_tier(&self, content: &RecordContent, fields: &[&str]) -> Tier {
        self.classifier_in(content, fields).map_or(self.default_penalty_tier, |c| c.tier)
    }

    /// The rule set that decides a record decided on `start`: its track's set in force then when that
    /// set encodes a window for the tier, else the general track's.
    fn deciding_set(&self, content: &RecordContent, tier: Tier, start: NaiveDate) -> &RuleSet {
        let track = self.track(content);
        if track != Track::General
            && let Some(set) = self.track_set_on(track, start)
            && set.window(tier).is_some()
        {
            return set;
        }
        self.rule_set_on(start)
    }

    pub fn disclosure(&self, content: &RecordContent) -> Disclosure {
        match &content.details {
            RecordDetails::Penalty { .. } => {}
            RecordDetails::ListEntry { list_type, .. } => {
                let Some(rule) = self.list_rule(list_type) else { return Disclosure::NotNegative };
                let quote = rule.quote.as_deref().map(|q| format!("：{q}")).unwrap_or_default();
                return Disclosure::Listed(Listing {
                    list_type: list_type.clone(),
                    tier: rule.tier,
                    repairable: rule.repairable,
                    basis: format!("{}{quote}", rule.source),
                });
            }
            _ => return Disclosure::NotNegative,
        }
        // The fields decide both the tier and any field minimum: found once.
        let fields: Vec<&str> = self.fields_of(content).collect();
        let tier = self.penalty_tier(content, &fields);
        let Some(start) = content.decision_date else {
            return Disclosure::Undated { tier };
        };
        let set = self.deciding_set(content, tier, start);
        let Some((_, limits)) = set.window(tier) else {
            return Disclosure::Unruled { tier, rule_set: set.id.clone() };
        };
        let field_minimum = set
            .field_minimums
            .iter()
            .filter(|m| m.fields.iter().any(|f| fields.contains(&f.as_str())))
            .map(|m| m.min_months)
            .max();
        let min_months = limits.min_months.max(field_minimum.unwrap_or(0));
        let mut repairable_from = add_months(start, min_months);
        let mut maximum = add_months(start, limits.max_months);
        let mut shortened_by = None;
        // Later sets that apply to records still published when they took effect shorten, never
        // lengthen, the window, and not before their effective date (从旧兼从轻).
        for later in self
            .rule_sets
            .iter()
            .filter(|r| r.track == set.track && r.effective_from > start && r.applies_to_published.is_some())
        {
            let Some((_, window)) = later.window(tier) else { continue };
            if maximum <= later.effective_from {
                continue;
            }
            let capped = add_months(start, window.max_months).max(later.effective_from);
            if capped < maximum {
                maximum = capped;
                shortened_by = Some(later.id.clone());
            }
            let earlier = add_months(start, window.min_months).max(later.effective_from);
            repairable_from = repairable_from.min(earlier);
        }
        let after_deadline = content.disclosure_deadline.map(|d| d.checked_add_days(Days::new(1)).unwrap_or(d));
        let (public_until, ended_by_deadline) = match after_deadline {
            Some(end) if end < maximum => (end.max(start), true),
            _ => (maximum, false),
        };
        let basis = match &shortened_by {
            Some(id) => {
                let later = self.rule_sets.iter().find(|r| &r.id == id).expect("found above");
                let (_, window) = later.window(tier).expect("found above");
                format!("{}；{}", set.basis(limits), later.basis(window))
            }
            None => set.basis(limits),
        };
        Disclosure::Windowed(Window {
            tier,
            track: set.track,
            rule_set: set.id.clone(),
            basis,
            start,
            repairable_from,
            public_until,
            ended_by_deadline,
            shortened_by,
        })
    }

    /// Whether the rules let the public see this record on `date` (scope and audience rules are the
    /// view's business): not repaired or revoked by then, a list entry in force, and a penalty inside
    /// its window.
    pub fn public_on(&self, content: &RecordContent, date: NaiveDate) -> bool {
        if ended_by_status(content.status, content.status_since, date) {
            return false;
        }
        match self.disclosure(content) {
            Disclosure::Listed(_) => content.in_force_on(date),
            Disclosure::NotNegative => match &content.details {
                RecordDetails::ListEntry { .. } => content.in_force_on(date),
                _ => content.decision_date.is_none_or(|start| start <= date),
            },
            Disclosure::Undated { .. } | Disclosure::Unruled { .. } => false,
            Disclosure::Windowed(w) => w.start <= date && date < w.public_until,
        }
    }
}

/// `date` plus whole months; the end of the month when the day does not exist (31 Jan + 1 month is
/// 28/29 Feb).
fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX)
}
