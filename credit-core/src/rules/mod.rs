//! Joint reward and punishment rules as data (DOMAIN.md §6): list types, approval items, and memoranda
//! with their measures, read from TOML files and validated as a whole before anything uses them.
//!
//! The default set is `fixtures/rules/`, compiled in; a configured directory with the same layout
//! replaces it. Every error names the file, the line and the field, and one error anywhere means no
//! rule set at all: checks never run on half a rule set.

mod files;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, LazyLock};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::RelatedRole;

pub use files::{RuleError, RulesError};

/// The rule files of `fixtures/rules/`, compiled in: (path relative to the rules directory, text).
const BUILTIN_FILES: &[(&str, &str)] = &[
    ("ruleset.toml", include_str!("../../../fixtures/rules/ruleset.toml")),
    ("list_types.toml", include_str!("../../../fixtures/rules/list_types.toml")),
    ("items.toml", include_str!("../../../fixtures/rules/items.toml")),
    ("memoranda/abnormal_operation.toml", include_str!("../../../fixtures/rules/memoranda/abnormal_operation.toml")),
    (
        "memoranda/court_dishonest_debtor.toml",
        include_str!("../../../fixtures/rules/memoranda/court_dishonest_debtor.toml"),
    ),
    ("memoranda/customs_aeo.toml", include_str!("../../../fixtures/rules/memoranda/customs_aeo.toml")),
    (
        "memoranda/gov_procurement_blacklist.toml",
        include_str!("../../../fixtures/rules/memoranda/gov_procurement_blacklist.toml"),
    ),
    ("memoranda/major_tax_violation.toml", include_str!("../../../fixtures/rules/memoranda/major_tax_violation.toml")),
    ("memoranda/serious_violation.toml", include_str!("../../../fixtures/rules/memoranda/serious_violation.toml")),
    ("memoranda/tax_a_grade.toml", include_str!("../../../fixtures/rules/memoranda/tax_a_grade.toml")),
];

static BUILTIN: LazyLock<Arc<RuleSet>> = LazyLock::new(|| {
    let files: Vec<(String, String)> = BUILTIN_FILES.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
    Arc::new(RuleSet::from_files(&files).expect("the compiled-in rule set is valid"))
});

/// Black lists bring punishments; red lists bring rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Black,
    Red,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasureKind {
    Reward,
    Punishment,
}

/// Whom a memorandum reaches (see `fixtures/rules/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The listed organisation itself.
    Entity,
    /// The listed natural person themselves.
    NaturalPerson,
    LegalRepresentative,
    PrincipalManager,
    ActualController,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Entity,
        Scope::NaturalPerson,
        Scope::LegalRepresentative,
        Scope::PrincipalManager,
        Scope::ActualController,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Entity => "entity",
            Scope::NaturalPerson => "natural_person",
            Scope::LegalRepresentative => "legal_representative",
            Scope::PrincipalManager => "principal_manager",
            Scope::ActualController => "actual_controller",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The scope that carries measures across a related-person link of this role.
    pub fn of_role(role: RelatedRole) -> Scope {
        match role {
            RelatedRole::LegalRepresentative => Scope::LegalRepresentative,
            RelatedRole::PrincipalManager => Scope::PrincipalManager,
            RelatedRole::ActualController => Scope::ActualController,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListType {
    pub code: String,
    pub name: String,
    pub colour: Colour,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub code: String,
    pub name: String,
    /// Supervision risk classes (from the evaluation) for which a check of this item that would be
    /// `CLEAR` or `PRIORITY` says `CAUTION` instead: a grade-dependent item rule. None in the compiled-in
    /// rules (no checked source sets one); a province configures its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caution_risk_classes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub id: String,
    pub text: String,
    pub implementing_department: String,
    pub legal_basis: String,
    pub mandatory: bool,
    pub items: Vec<String>,
    /// Whom this measure reaches: the memorandum's scope, or the narrower one the measure names.
    pub scope: Vec<Scope>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Memorandum {
    pub id: String,
    pub title: String,
    pub document_number: String,
    pub kind: MeasureKind,
    pub list_types: Vec<String>,
    /// Supervision risk classes (from the evaluation, docs/evaluation.md) whose subjects the memorandum
    /// reaches, itself and never across a related-person link: measures that depend on the grade, such
    /// as inspection frequency by class.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risk_classes: Vec<String>,
    pub identifying_department: String,
    pub scope: Vec<Scope>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub measures: Vec<Measure>,
    /// The file it came from, relative to the rules directory.
    pub file: String,
}

impl Memorandum {
    /// Whether the memorandum was in force on `date` (valid time).
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|end| date <= end)
    }
}

/// A validated rule set.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub version: String,
    pub effective: NaiveDate,
    pub title: String,
    pub list_types: BTreeMap<String, ListType>,
    pub items: BTreeMap<String, Item>,
    pub memoranda: Vec<Memorandum>,
    /// List type code → indexes into `memoranda`.
    by_list_type: HashMap<String, Vec<usize>>,
    /// Chinese list name → code, so a list entry delivered by name finds its rules.
    code_by_name: HashMap<String, String>,
    /// Measure id → (memorandum index, measure index).
    measures: HashMap<String, (usize, usize)>,
}

impl RuleSet {
    /// The compiled-in default rule set (`fixtures/rules/`).
    pub fn builtin() -> Arc<RuleSet> {
        Arc::clone(&BUILTIN)
    }

    /// The compiled-in files, for tools that write them out as a starting point.
    pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
        BUILTIN_FILES
    }

    /// Reads a rules directory: `ruleset.toml`, `list_types.toml`, `items.toml`, `memoranda/*.toml`.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        RuleSet::from_files(&files::read_dir(dir)?)
    }

    /// Builds and validates a rule set from (relative path, text) pairs.
    pub fn from_files(files: &[(String, String)]) -> Result<RuleSet, RulesError> {
        files::build(files)
    }

    /// The list type code for a code or a Chinese list name, if the rules know it.
    pub fn list_type_code<'a>(&'a self, value: &'a str) -> Option<&'a str> {
        if self.list_types.contains_key(value) {
            return Some(value);
        }
        self.code_by_name.get(value).map(String::as_str)
    }

    pub fn colour(&self, list_type: &str) -> Option<Colour> {
        self.list_type_code(list_type).and_then(|code| self.list_types.get(code)).map(|t| t.colour)
    }

    /// Memoranda for a list type (code or name), in file order.
    pub fn memoranda_for<'a>(&'a self, list_type: &str) -> impl Iterator<Item = &'a Memorandum> + 'a {
        let indexes = self
            .list_type_code(list_type)
            .and_then(|code| self.by_list_type.get(code))
            .map(Vec::as_slice)
            .unwrap_or_default();
        indexes.iter().map(|i| &self.memoranda[*i])
    }

    /// Memoranda that reach subjects of a supervision risk class, in file order.
    pub fn memoranda_for_class<'a>(&'a self, class: &'a str) -> impl Iterator<Item = &'a Memorandum> + 'a {
        self.memoranda.iter().filter(move |m| m.risk_classes.iter().any(|c| c == class))
    }

    /// Every supervision risk class the rules name (items' `caution_risk_classes`, memoranda's
    /// `risk_classes`), with the file that names it: each must be a class of the evaluation model.
    pub fn risk_classes_named(&self) -> Vec<(String, String)> {
        let items = self
            .items
            .values()
            .flat_map(|i| i.caution_risk_classes.iter().map(|c| ("items.toml".to_string(), c.clone())));
        let memoranda = self.memoranda.iter().flat_map(|m| m.risk_classes.iter().map(|c| (m.file.clone(), c.clone())));
        items.chain(memoranda).collect()
    }

    /// A measure and its memorandum.
    pub fn measure(&self, id: &str) -> Option<(&Memorandum, &Measure)> {
        let (m, k) = *self.measures.get(id)?;
        let memorandum = &self.memoranda[m];
        Some((memorandum, &memorandum.measures[k]))
    }
}

#[cfg(test)]
mod tests;
