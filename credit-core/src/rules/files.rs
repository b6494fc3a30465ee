//! Reading and validating rule files. Every error carries the file, the line and the field; all errors
//! of a rule set are reported together.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

use super::{Colour, Item, ListType, Measure, MeasureKind, Memorandum, RuleSet, Scope};

/// One problem in one rule file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {reason}")]
pub struct RuleError {
    pub file: String,
    /// 1-based; 0 when the problem is the file as a whole (missing, unreadable).
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// Every problem found in a rule set; none of it is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule set ({} error{}):\n{}", .errors.len(), if .errors.len() == 1 { "" } else { "s" }, render(.errors))]
pub struct RulesError {
    pub errors: Vec<RuleError>,
}

fn render(errors: &[RuleError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    version: Spanned<String>,
    effective: Spanned<Datetime>,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListTypes {
    list_type: Vec<Spanned<RawListType>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListType {
    code: Spanned<String>,
    name: String,
    colour: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItems {
    item: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    code: Spanned<String>,
    name: String,
    #[serde(default)]
    caution_risk_classes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemorandum {
    id: Spanned<String>,
    title: Spanned<String>,
    document_number: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    list_types: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    risk_classes: Option<Spanned<Vec<Spanned<String>>>>,
    identifying_department: Spanned<String>,
    scope: Spanned<Vec<Spanned<String>>>,
    valid_from: Spanned<Datetime>,
    #[serde(default)]
    valid_to: Option<Spanned<Datetime>>,
    #[serde(default)]
    measures: Vec<Spanned<RawMeasure>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    id: Spanned<String>,
    text: Spanned<String>,
    implementing_department: Spanned<String>,
    legal_basis: Spanned<String>,
    mandatory: bool,
    items: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    scope: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Collects errors of one file, turning byte spans into line numbers.
struct FileErrors<'a> {
    file: &'a str,
    text: &'a str,
    errors: &'a mut Vec<RuleError>,
}

impl FileErrors<'_> {
    fn at(&mut self, span: std::ops::Range<usize>, field: &str, reason: impl Into<String>) {
        let line = self.text.get(..span.start).map(|t| t.matches('\n').count() + 1).unwrap_or(0);
        self.errors.push(RuleError {
            file: self.file.to_string(),
            line,
            field: field.to_string(),
            reason: reason.into(),
        });
    }

    /// A non-empty string field.
    fn text(&mut self, value: &Spanned<String>, field: &str) -> String {
        if value.get_ref().trim().is_empty() {
            self.at(value.span(), field, "must not be empty");
        }
        value.get_ref().trim().to_string()
    }

    fn date(&mut self, value: &Spanned<Datetime>, field: &str) -> Option<NaiveDate> {
        let datetime = value.get_ref();
        let date = match (datetime.date, datetime.time) {
            (Some(d), None) => NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day)),
            _ => None,
        };
        if date.is_none() {
            self.at(value.span(), field, format!("expected a date like 2026-01-01, found {datetime}"));
        }
        date
    }

    fn scopes(&mut self, values: &Spanned<Vec<Spanned<String>>>, field: &str) -> Vec<Scope> {
        if values.get_ref().is_empty() {
            self.at(values.span(), field, "must name at least one scope");
        }
        let mut scopes = Vec::new();
        for value in values.get_ref() {
            match Scope::parse(value.get_ref()) {
                Some(scope) if !scopes.contains(&scope) => scopes.push(scope),
                Some(_) => self.at(value.span(), field, format!("{} is listed twice", value.get_ref())),
                None => {
                    let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                    self.at(
                        value.span(),
                        field,
                        format!("unknown scope {:?} (known: {})", value.get_ref(), known.join(", ")),
                    );
                }
            }
        }
        scopes
    }

    /// A TOML syntax or shape error: the toml crate's message names the field in backquotes.
    fn parse_error(&mut self, error: &toml::de::Error) {
        let message = error.message().trim().to_string();
        let field = message.split('`').nth(1).unwrap_or("-").to_string();
        self.at(error.span().unwrap_or(0..0), &field, message);
    }
}

fn parse<T: for<'de> Deserialize<'de>>(errors: &mut FileErrors<'_>) -> Option<T> {
    match toml::from_str(errors.text) {
        Ok(value) => Some(value),
        Err(e) => {
            errors.parse_error(&e);
            None
        }
    }
}

/// Reads the rule files of `dir`.
pub(super) fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, RulesError> {
    let whole_file = |file: String, reason: String| RulesError {
        errors: vec![RuleError { file, line: 0, field: "-".to_string(), reason }],
    };
    let mut names = vec!["ruleset.toml".to_string(), "list_types.toml".to_string(), "items.toml".to_string()];
    let memoranda = dir.join("memoranda");
    let entries = std::fs::read_dir(&memoranda)
        .map_err(|e| whole_file(memoranda.display().to_string(), format!("cannot read the directory: {e}")))?;
    let mut memo_names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .map(|n| format!("memoranda/{n}"))
        .collect();
    memo_names.sort();
    names.extend(memo_names);
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            std::fs::read_to_string(&path)
                .map(|text| (name, text))
                .map_err(|e| whole_file(path.display().to_string(), format!("cannot read: {e}")))
        })
        .collect()
}

/// Builds a rule set from (relative path, text) pairs, or every error found.
pub(super) fn build(files: &[(String, String)]) -> Result<RuleSet, RulesError> {
    let mut errors = Vec::new();
    let find = |name: &str| files.iter().find(|(n, _)| n == name);
    let missing = |name: &str, errors: &mut Vec<RuleError>| {
        errors.push(RuleError {
            file: name.to_string(),
            line: 0,
            field: "-".to_string(),
            reason: "file missing".to_string(),
        });
    };

    let (mut version, mut effective, mut title) = (String::new(), NaiveDate::MIN, String::new());
    match find("ruleset.toml") {
        None => missing("ruleset.toml", &mut errors),
        Some((name, text)) => {
            let mut e = FileErrors { file: name, text, errors: &mut errors };
            if let Some(raw) = parse::<RawRuleSet>(&mut e) {
                version = e.text(&raw.version, "version");
                effective = e.date(&raw.effective, "effective").unwrap_or(NaiveDate::MIN);
                title = raw.title;
            }
        }
    }

    let mut list_types = BTreeMap::new();
    match find("list_types.toml") {
        None => missing("list_types.toml", &mut errors),
        Some((name, text)) => {
            let mut e = FileErrors { file: name, text, errors: &mut errors };
            for raw in parse::<RawListTypes>(&mut e).map(|r| r.list_type).unwrap_or_default() {
                let raw = raw.into_inner();
                let code = e.text(&raw.code, "code");
                let colour = match raw.colour.get_ref().as_str() {
                    "black" => Colour::Black,
                    "red" => Colour::Red,
                    other => {
                        e.at(raw.colour.span(), "colour", format!("expected black or red, found {other:?}"));
                        continue;
                    }
                };
                if list_types.contains_key(&code) {
                    e.at(raw.code.span(), "code", format!("list type {code} is defined twice"));
                    continue;
                }
                list_types.insert(code.clone(), ListType { code, name: raw.name, colour });
            }
        }
    }

    let mut items = BTreeMap::new();
    match find("items.toml") {
        None => missing("items.toml", &mut errors),
        Some((name, text)) => {
            let mut e = FileErrors { file: name, text, errors: &mut errors };
            for raw in parse::<RawItems>(&mut e).map(|r| r.item).unwrap_or_default() {
                let code = e.text(&raw.code, "code");
                if items.contains_key(&code) {
                    e.at(raw.code.span(), "code", format!("item {code} is defined twice"));
                    continue;
                }
                items.insert(
                    code.clone(),
                    Item { code, name: raw.name, caution_risk_classes: raw.caution_risk_classes },
                );
            }
        }
    }

    let mut memoranda: Vec<Memorandum> = Vec::new();
    let mut measure_ids: HashSet<String> = HashSet::new();
    for (name, text) in files.iter().filter(|(n, _)| n.starts_with("memoranda/")) {
        let mut e = FileErrors { file: name, text, errors: &mut errors };
        let Some(raw) = parse::<RawMemorandum>(&mut e) else { continue };
        if let Some(memorandum) = memorandum(&mut e, raw, &list_types, &items, &mut measure_ids) {
            if memoranda.iter().any(|m| m.id == memorandum.id) {
                e.at(0..0, "id", format!("memorandum {} is also defined in another file", memorandum.id));
                continue;
            }
            memoranda.push(memorandum);
        }
    }
    if !errors.is_empty() {
        return Err(RulesError { errors });
    }

    let mut by_list_type: HashMap<String, Vec<usize>> = HashMap::new();
    let mut measures = HashMap::new();
    for (m, memorandum) in memoranda.iter().enumerate() {
        for list_type in &memorandum.list_types {
            by_list_type.entry(list_type.clone()).or_default().push(m);
        }
        for (k, measure) in memorandum.measures.iter().enumerate() {
            measures.insert(measure.id.clone(), (m, k));
        }
    }
    let code_by_name = list_types.values().map(|t| (t.name.clone(), t.code.clone())).collect();
    Ok(RuleSet { version, effective, title, list_types, items, memoranda, by_list_type, code_by_name, measures })
}

fn memorandum(
    e: &mut FileErrors<'_>,
    raw: RawMemorandum,
    list_types: &BTreeMap<String, ListType>,
    items: &BTreeMap<String, Item>,
    measure_ids: &mut HashSet<String>,
) -> Option<Memorandum> {
    let errors_before = e.errors.len();
    let id = e.text(&raw.id, "id");
    let kind = match raw.kind.get_ref().as_str() {
        "reward" => MeasureKind::Reward,
        "punishment" => MeasureKind::Punishment,
        other => {
            e.at(raw.kind.span(), "kind", format!("expected reward or punishment, found {other:?}"));
            MeasureKind::Punishment
        }
    };
    let no_list_types = raw.list_types.as_ref().is_none_or(|l| l.get_ref().is_empty());
    let no_risk_classes = raw.risk_classes.as_ref().is_none_or(|c| c.get_ref().is_empty());
    if no_list_types && no_risk_classes {
        let span = raw.list_types.as_ref().map_or(raw.id.span(), |l| l.span());
        e.at(span, "list_types", "must name at least one list type or risk class");
    }
    let mut classes: Vec<String> = Vec::new();
    for value in raw.risk_classes.iter().flat_map(|c| c.get_ref()) {
        let class = value.get_ref().trim();
        if class.is_empty() || class.len() > 32 {
            e.at(value.span(), "risk_classes", "a risk class id of 1 to 32 characters");
        } else if classes.iter().any(|c| c == class) {
            e.at(value.span(), "risk_classes", format!("risk class {class} is named twice"));
        } else {
            classes.push(class.to_string());
        }
    }
    let mut codes = Vec::new();
    for value in raw.list_types.iter().flat_map(|l| l.get_ref()) {
        let code = value.get_ref();
        match list_types.get(code) {
            None => e.at(value.span(), "list_types", format!("unknown list type {code} (not in list_types.toml)")),
            Some(t) => {
                let (expected, kind_name) = match kind {
                    MeasureKind::Reward => (Colour::Red, "reward"),
                    MeasureKind::Punishment => (Colour::Black, "punishment"),
                };
                if t.colour != expected {
                    e.at(
                        value.span(),
                        "list_types",
                        format!("a {kind_name} memorandum cannot apply to the list {code}"),
                    );
                }
                codes.push(code.clone());
            }
        }
    }
    let scope = e.scopes(&raw.scope, "scope");
    let valid_from = e.date(&raw.valid_from, "valid_from");
    let valid_to = raw.valid_to.as_ref().and_then(|v| e.date(v, "valid_to"));
    if let (Some(from), Some(to), Some(span)) = (valid_from, valid_to, raw.valid_to.as_ref().map(|v| v.span()))
        && to < from
    {
        e.at(span, "valid_to", format!("{to} is before valid_from {from}"));
    }
    if raw.measures.is_empty() {
        e.at(raw.id.span(), "measures", "a memorandum needs at least one [[measures]] entry");
    }
    let mut measures = Vec::new();
    for raw_measure in raw.measures {
        let m = raw_measure.into_inner();
        let measure_id = e.text(&m.id, "measures.id");
        if !measure_ids.insert(measure_id.clone()) {
            e.at(m.id.span(), "measures.id", format!("measure {measure_id} is defined twice"));
        }
        if m.items.get_ref().is_empty() {
            e.at(m.items.span(), "measures.items", "must name at least one approval item");
        }
        let mut item_codes = Vec::new();
        for item in m.items.get_ref() {
            if items.contains_key(item.get_ref()) {
                item_codes.push(item.get_ref().clone());
            } else {
                e.at(
                    item.span(),
                    "measures.items",
                    format!("unknown approval item {} (not in items.toml)", item.get_ref()),
                );
            }
        }
        let measure_scope = match &m.scope {
            None => scope.clone(),
            Some(values) => {
                let narrowed = e.scopes(values, "measures.scope");
                for s in &narrowed {
                    if !scope.contains(s) {
                        e.at(
                            values.span(),
                            "measures.scope",
                            format!("{} is outside the memorandum's scope", s.as_str()),
                        );
                    }
                }
                narrowed
            }
        };
        measures.push(Measure {
            id: measure_id,
            text: e.text(&m.text, "measures.text"),
            implementing_department: e.text(&m.implementing_department, "measures.implementing_department"),
            legal_basis: e.text(&m.legal_basis, "measures.legal_basis"),
            mandatory: m.mandatory,
            items: item_codes,
            scope: measure_scope,
        });
    }
    let memorandum = Memorandum {
        id,
        title: e.text(&raw.title, "title"),
        document_number: e.text(&raw.document_number, "document_number"),
        kind,
        list_types: codes,
        risk_classes: classes,
        identifying_department: e.text(&raw.identifying_department, "identifying_department"),
        scope,
        valid_from: valid_from.unwrap_or(NaiveDate::MIN),
        valid_to,
        measures,
        file: e.file.to_string(),
    };
    (e.errors.len() == errors_before).then_some(memorandum)
}
