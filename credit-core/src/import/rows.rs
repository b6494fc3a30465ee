//! One source row → a validated subject or record, or the reason it is rejected.

use std::collections::BTreeMap;

use foldhash::{HashSet, HashSetExt};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::tables::ImportTables;
use super::values::{parse_amount, parse_date, split_list};
use super::{ImportKind, source::SourceRow};
use crate::ident::{Codebook, OrgCode, RegNo15, ResidentId, Uscc, has_tax_number_shape, normalize_code};
use crate::model::{
    IdentifierKind, Procedure, RecordContent, RecordDetails, RecordStatus, RelatedPerson, RelatedRole,
    StoredIdentifier, SubjectType, UsageScope,
};

/// Why a row is rejected: the column (as the file names it) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub column: Option<String>,
    pub reason: String,
}

impl RowError {
    fn at(column: &str, reason: impl Into<String>) -> RowError {
        RowError { column: Some(column.to_string()), reason: reason.into() }
    }

    fn missing(field: &str, columns: &[&str]) -> RowError {
        RowError { column: columns.first().map(|c| c.to_string()), reason: format!("required {field} is missing") }
    }
}

/// A row's cells by canonical field, remembering which fields were used so the rest become extras.
pub struct RowFields<'r> {
    row: &'r SourceRow,
    fields: Vec<Option<&'r str>>,
    used: HashSet<&'r str>,
    kind: ImportKind,
    tables: &'r ImportTables,
}

impl<'r> RowFields<'r> {
    pub fn new(
        row: &'r SourceRow,
        kind: ImportKind,
        tables: &'r ImportTables,
        mapping: &'r [Option<String>],
    ) -> RowFields<'r> {
        RowFields { row, fields: mapping.iter().map(|m| m.as_deref()).collect(), used: HashSet::new(), kind, tables }
    }

    /// First non-empty value of `field`, with the column it came from.
    pub fn get(&mut self, field: &'r str) -> Option<(&'r str, &'r str)> {
        self.used.insert(field);
        self.row
            .pairs()
            .zip(&self.fields)
            .find(|((_, value), f)| **f == Some(field) && !value.is_empty())
            .map(|(pair, _)| pair)
    }

    pub fn value(&mut self, field: &'r str) -> Option<String> {
        self.get(field).map(|(_, v)| v.to_string())
    }

    /// Every non-empty value of `field` (a field fed by several columns, e.g. `CF_CFLB1`, `CF_CFLB2`).
    pub fn all(&mut self, field: &'r str) -> Vec<&'r str> {
        self.used.insert(field);
        self.row
            .pairs()
            .zip(&self.fields)
            .filter(|((_, value), f)| **f == Some(field) && !value.is_empty())
            .map(|((_, v), _)| v)
            .collect()
    }

    /// Columns of the kind's table (for naming a missing field's column).
    fn columns_of(&self, field: &str) -> Vec<&'r str> {
        let _ = self.kind;
        self.row.columns.iter().zip(&self.fields).filter(|(_, f)| **f == Some(field)).map(|(c, _)| c.as_str()).collect()
    }

    fn required(&mut self, field: &'r str, what: &str) -> Result<(&'r str, &'r str), RowError> {
        let columns = self.columns_of(field);
        self.get(field).ok_or_else(|| RowError::missing(what, &columns))
    }

    fn date(&mut self, field: &'r str) -> Result<Option<NaiveDate>, RowError> {
        match self.get(field) {
            None => Ok(None),
            Some((column, value)) => parse_date(value).map(Some).map_err(|reason| RowError::at(column, reason)),
        }
    }

    fn required_date(&mut self, field: &'r str, what: &str) -> Result<NaiveDate, RowError> {
        let (column, value) = self.required(field, what)?;
        parse_date(value).map_err(|reason| RowError::at(column, reason))
    }

    fn amount(&mut self, field: &'r str) -> Result<Option<crate::model::AmountWan>, RowError> {
        match self.get(field) {
            None => Ok(None),
            Some((column, value)) => parse_amount(value).map(Some).map_err(|reason| RowError::at(column, reason)),
        }
    }

    /// Maps an enumeration value; an unknown one is kept as delivered with a warning.
    fn enumerated(&mut self, field: &'r str, table: &str, warnings: &mut Vec<String>) -> Option<(String, bool)> {
        let (column, value) = self.get(field)?;
        match self.tables.canonical(table, value) {
            Some(canonical) => Some((canonical.to_string(), true)),
            None => {
                warnings.push(format!("{column}: unknown value {value:?} kept as delivered"));
                Some((value.to_string(), false))
            }
        }
    }

    /// Non-empty columns not used for any field, kept as extras under their own names.
    fn extras(&self) -> BTreeMap<String, String> {
        self.row
            .pairs()
            .zip(&self.fields)
            .filter(|((_, value), field)| !value.is_empty() && field.is_none_or(|f| !self.used.contains(f)))
            .map(|((column, value), _)| (column.to_string(), value.to_string()))
            .collect()
    }
}

/// Validated identifiers of a row's subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowIdentifiers {
    /// Organisation identifiers, most specific first: unified code, organisation code, registration
    /// number, tax number.
    pub organisation: Vec<StoredIdentifier>,
    /// A natural person's ID number (18 digits; 15-digit numbers upgraded).
    pub person: Option<String>,
}

impl RowIdentifiers {
    pub fn all(&self) -> Vec<StoredIdentifier> {
        let mut all = self.organisation.clone();
        if let Some(id) = &self.person {
            all.push(StoredIdentifier { kind: IdentifierKind::Ric, value: id.clone() });
        }
        all
    }

    pub fn uscc(&self) -> Option<&str> {
        self.organisation.iter().find(|i| i.kind == IdentifierKind::Uscc).map(|i| i.value.as_str())
    }
}

/// Reads and validates every identifier column; a value present but invalid rejects the row.
fn identifiers<'r>(
    f: &mut RowFields<'r>,
    book: &Codebook,
    today: NaiveDate,
    person_field: &'r str,
) -> Result<RowIdentifiers, RowError> {
    let mut ids = RowIdentifiers::default();
    if let Some((column, value)) = f.get("uscc") {
        let code = normalize_code(value);
        let v = Uscc::parse_normalized(&code, book)
            .map_err(|e| invalid(column, "unified social credit code", value, &e))?;
        ids.organisation.push(stored(IdentifierKind::Uscc, v.value.as_str()));
    }
    if let Some((column, value)) = f.get("org_code") {
        let code = normalize_code(value);
        let v = OrgCode::parse_normalized(&code).map_err(|e| invalid(column, "organisation code", value, &e))?;
        ids.organisation.push(stored(IdentifierKind::OrgCode, v.as_str()));
    }
    // The organisation code inside a unified code identifies the subject too (older records use it).
    if let Some(code) = ids.uscc().map(|c| c[8..17].to_string())
        && !ids.organisation.iter().any(|i| i.kind == IdentifierKind::OrgCode)
    {
        ids.organisation.push(stored(IdentifierKind::OrgCode, &code));
    }
    if let Some((column, value)) = f.get("reg_no") {
        let code = normalize_code(value);
        let v =
            RegNo15::parse_normalized(&code, book).map_err(|e| invalid(column, "registration number", value, &e))?;
        ids.organisation.push(stored(IdentifierKind::Gs15, v.value.as_str()));
    }
    if let Some((column, value)) = f.get("tax_no") {
        let code = normalize_code(value);
        if !has_tax_number_shape(&code) && Uscc::parse_normalized(&code, book).is_err() {
            return Err(RowError::at(
                column,
                format!("{value:?} does not have the shape of a tax registration number"),
            ));
        }
        ids.organisation.push(stored(IdentifierKind::Tax, &code));
    }
    if let Some((column, value)) = f.get(person_field) {
        ids.person = Some(resident_id(column, value, book, today)?);
    }
    Ok(ids)
}

/// Positions 3–8 of an 18-character code when they are digits (a division), whatever else the code holds:
/// an authority's code is not validated, and may be anything a file says.
fn division_of_code(code: &str) -> Option<String> {
    code.get(2..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit())).map(str::to_string)
}

/// Whether an ID type column names the resident identity card (or names nothing, which means it).
pub fn is_resident_id_type(id_type: Option<&str>) -> bool {
    id_type.is_none_or(|t| t.contains("身份证") || t == "1" || t == "111")
}

fn resident_id(column: &str, value: &str, book: &Codebook, today: NaiveDate) -> Result<String, RowError> {
    let code = normalize_code(value);
    let parsed = if code.len() == 15 {
        ResidentId::parse_15_normalized(&code, book, today)
    } else {
        ResidentId::parse_normalized(&code, book, today)
    };
    parsed.map(|v| v.value.as_str().to_string()).map_err(|e| invalid(column, "resident identity number", value, &e))
}

fn invalid(column: &str, what: &str, value: &str, errors: &[crate::ident::IdError]) -> RowError {
    let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
    RowError::at(column, format!("invalid {what} {value:?}: {}", reasons.join("; ")))
}

fn stored(kind: IdentifierKind, value: &str) -> StoredIdentifier {
    StoredIdentifier { kind, value: value.to_string() }
}

/// A validated subject row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectInput {
    pub subject_type: SubjectType,
    pub name: String,
    pub former_names: Vec<String>,
    pub identifiers: RowIdentifiers,
    pub division: Option<String>,
    pub established: Option<NaiveDate>,
    pub status: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub legal_rep: Option<RelatedPerson>,
    /// Principal managers and the actual controller, when the row names them.
    pub other_related: Vec<RelatedPerson>,
    pub attributes: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

pub fn subject_row<'r>(f: &mut RowFields<'r>, book: &Codebook, today: NaiveDate) -> Result<SubjectInput, RowError> {
    let (_, name) = f.required("name", "subject name")?;
    let ids = identifiers(f, book, today, "id_number")?;
    if ids.organisation.is_empty() && ids.person.is_none() {
        return Err(RowError {
            column: None,
            reason: "no identifier: a unified code, organisation code, registration number, tax number or ID number is required".into(),
        });
    }
    let mut warnings = Vec::new();
    let subject_type = match (ids.uscc(), ids.organisation.is_empty()) {
        (Some(code), _) => SubjectType::from_uscc(code),
        (None, true) => SubjectType::NaturalPerson,
        (None, false) => SubjectType::OtherOrganisation,
    };
    if let (Some(code), Some(org)) = (ids.uscc(), ids.organisation.iter().find(|i| i.kind == IdentifierKind::OrgCode))
        && code[8..17] != org.value
    {
        warnings.push(format!(
            "organisation code {} differs from the one inside the unified code ({})",
            org.value,
            &code[8..17]
        ));
    }
    let division = match f.get("division") {
        Some((column, value)) if book.divisions.get(value).is_none() => {
            warnings.push(format!("{column}: division {value:?} is not in the division table"));
            Some(value.to_string())
        }
        Some((_, value)) => Some(value.to_string()),
        None => ids.uscc().map(|c| c[2..8].to_string()),
    };
    let established = f.date("established")?;
    let status = f.enumerated("status", "subject_status", &mut warnings).map(|(s, _)| s);
    let capital = f.amount("capital")?;
    let legal_rep = match f.get("legal_rep") {
        None => None,
        Some((_, rep_name)) => {
            let id_type = f.value("legal_rep_id_type");
            let is_resident_id = is_resident_id_type(id_type.as_deref());
            let id_number = match f.get("legal_rep_id") {
                Some((column, value)) if is_resident_id => Some(resident_id(column, value, book, today)?),
                Some((_, value)) => Some(value.to_string()),
                None => None,
            };
            Some(RelatedPerson {
                role: RelatedRole::LegalRepresentative,
                name: rep_name.to_string(),
                id_type,
                id_number,
                subject: None,
            })
        }
    };
    let mut other_related = related_persons(f, RelatedRole::PrincipalManager, "managers", "manager_ids", book, today)?;
    other_related.extend(related_persons(
        f,
        RelatedRole::ActualController,
        "controller",
        "controller_id",
        book,
        today,
    )?);
    let former_names = f.all("former_names").into_iter().flat_map(split_list).map(str::to_string).collect();
    let mut attributes = BTreeMap::new();
    if let Some(c) = capital {
        attributes.insert("registered_capital_wan".to_string(), c.to_string());
    }
    for (field, key) in [
        ("scope", "business_scope"),
        ("registrar", "registrar"),
        ("registrar_code", "registrar_code"),
        ("industry", "industry_code"),
        ("public", "public"),
        ("remark", "remark"),
    ] {
        if let Some(value) = f.value(field) {
            attributes.insert(key.to_string(), value);
        }
    }
    for (field, key) in [("valid_from", "valid_from"), ("valid_to", "valid_to")] {
        if let Some(date) = f.date(field)? {
            attributes.insert(key.to_string(), date.to_string());
        }
    }
    let address = f.value("address");
    let phone = f.value("phone");
    let _ = f.value("id_type");
    attributes.extend(f.extras());
    Ok(SubjectInput {
        subject_type,
        name: name.to_string(),
        former_names,
        identifiers: ids,
        division,
        established,
        status,
        address,
        phone,
        legal_rep,
        other_related,
        attributes,
        warnings,
    })
}

/// Persons of one role: names, and resident ID numbers in the same order (an ID may be left empty).
fn related_persons<'r>(
    f: &mut RowFields<'r>,
    role: RelatedRole,
    names_field: &'r str,
    ids_field: &'r str,
    book: &Codebook,
    today: NaiveDate,
) -> Result<Vec<RelatedPerson>, RowError> {
    let split = |text: &'r str| text.split([';', '；', '、', '|']).map(str::trim).collect::<Vec<_>>();
    let names = f.get(names_field).map(|(_, v)| split(v)).unwrap_or_default();
    let (ids_column, ids) = match f.get(ids_field) {
        Some((column, value)) => (column, split(value)),
        None => ("", Vec::new()),
    };
    if ids.len() > names.len() {
        return Err(RowError::at(ids_column, format!("{} ID numbers for {} names", ids.len(), names.len())));
    }
    let mut persons = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let id_number = match ids.get(i).filter(|id| !id.is_empty()) {
            Some(id) => Some(resident_id(ids_column, id, book, today)?),
            None => None,
        };
        if name.is_empty() {
            if id_number.is_some() {
                return Err(RowError::at(ids_column, format!("ID number {} has no name", i + 1)));
            }
            continue;
        }
        persons.push(RelatedPerson { role, name: name.to_string(), id_type: None, id_number, subject: None });
    }
    Ok(persons)
}

/// A validated record row, before it is linked to its subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordInput {
    pub identifiers: RowIdentifiers,
    pub subject_name: String,
    /// Division to look the name up in when no identifier is known to the store.
    pub division_hint: Option<String>,
    /// Legal representative's ID number, linking the record's organisation to that person.
    pub legal_rep: Option<(String, String)>,
    pub content: RecordContent,
    /// Part of the natural key that does not depend on the subject.
    pub key: String,
    pub warnings: Vec<String>,
}

pub fn record_row<'r>(
    f: &mut RowFields<'r>,
    kind: ImportKind,
    book: &Codebook,
    today: NaiveDate,
    source_dept: Option<&str>,
) -> Result<RecordInput, RowError> {
    let (_, subject_name) = f.required("subject_name", "subject name")?;
    let ids = identifiers(f, book, today, "person_id")?;
    if ids.organisation.is_empty() && ids.person.is_none() {
        return Err(RowError {
            column: None,
            reason: "no identifier of the subject: a unified code, organisation code, registration number, tax number or ID number is required".into(),
        });
    }
    let mut warnings = Vec::new();
    let document_number = if kind == ImportKind::List {
        f.value("document_number")
    } else {
        Some(f.required("document_number", "decision document number")?.1.to_string())
    };
    let decision_date =
        if kind == ImportKind::List { None } else { Some(f.required_date("decision_date", "decision date")?) };
    let valid_from = f.date("valid_from")?;
    let valid_to = f.date("valid_to")?;
    let disclosure_deadline = f.date("disclosure_deadline")?;
    let authority = f.value("authority");
    let authority_code = f.value("authority_code");
    let file_source = f.value("source_dept");
    let file_source_code = f.value("source_dept_code");
    let (status, status_raw) = match f.enumerated("status", "record_status", &mut warnings) {
        None => (RecordStatus::Active, None),
        Some((canonical, true)) => (record_status(&canonical), None),
        Some((raw, false)) => (RecordStatus::Active, Some(raw)),
    };
    let usage_scope = match f.enumerated("usage_scope", "usage_scope", &mut warnings) {
        Some((s, true)) if s == "share_only" => UsageScope::ShareOnly,
        _ => UsageScope::Public,
    };
    let legal_rep_name = f.value("legal_rep");
    let legal_rep = match f.get("legal_rep_id") {
        Some((column, value)) => {
            Some((legal_rep_name.clone().unwrap_or_default(), resident_id(column, value, book, today)?))
        }
        None => None,
    };
    let division_hint = f
        .value("division")
        .filter(|d| d.len() == 6)
        .or_else(|| ids.uscc().map(|c| c[2..8].to_string()))
        .or_else(|| authority_code.as_deref().filter(|c| c.len() == 18).and_then(division_of_code));

    let (details, key) = match kind {
        ImportKind::Penalty => {
            let mut types = Vec::new();
            for cell in f.all("penalty_types") {
                for t in split_list(cell) {
                    if f.tables.canonical("penalty_type", t).is_none() {
                        warnings.push(format!("penalty type {t:?} unknown, kept as delivered"));
                    }
                    types.push(f.tables.canonical("penalty_type", t).unwrap_or(t).to_string());
                }
            }
            let details = RecordDetails::Penalty {
                violation_type: f.value("violation_type"),
                facts: f.value("facts"),
                legal_basis: f.value("legal_basis"),
                penalty_types: types,
                content: f.value("content"),
                fine: f.amount("fine")?,
                confiscated: f.amount("confiscated")?,
                licence_affected: f.value("licence_affected"),
                procedure: procedure(f, &mut warnings),
            };
            let key = format!("penalty|{}", document_key(document_number.as_deref().unwrap_or("")));
            (details, key)
        }
        ImportKind::Licence => {
            let licence_category = f.enumerated("licence_category", "licence_category", &mut warnings).map(|(c, _)| c);
            let certificate_number = f.value("certificate_number");
            let key = format!(
                "licence|{}|{}",
                document_key(document_number.as_deref().unwrap_or("")),
                document_key(certificate_number.as_deref().unwrap_or(""))
            );
            let details = RecordDetails::Licence {
                document_name: f.value("document_name"),
                licence_category,
                certificate_name: f.value("certificate_name"),
                certificate_number,
                content: f.value("content"),
            };
            (details, key)
        }
        ImportKind::List => {
            let (column, raw_type) = f.required("list_type", "list type")?;
            let list_type = match f.tables.canonical("list_type", raw_type) {
                Some(code) => code.to_string(),
                None => {
                    warnings.push(format!("{column}: unknown list type {raw_type:?} kept as delivered"));
                    raw_type.to_string()
                }
            };
            let listed_on = f.required_date("listed_on", "listing date")?;
            let removal = f.date("planned_removal")?;
            let removed = status == RecordStatus::Removed;
            let key = format!("list|{list_type}|{listed_on}");
            let details = RecordDetails::ListEntry {
                list_type,
                list_name: f.value("list_name"),
                listed_on,
                planned_removal: if removed { None } else { removal },
                removed_on: if removed { removal } else { None },
            };
            (details, key)
        }
        ImportKind::Subject => {
            return Err(RowError {
                column: None,
                reason: "subject rows are not records (import them as subjects)".into(),
            });
        }
    };
    let source_dept = file_source.or_else(|| source_dept.map(str::to_string)).or_else(|| authority.clone());
    let source_dept_code = file_source_code.or_else(|| authority_code.clone());
    let extra = f.extras();
    let content = RecordContent {
        subject_name: subject_name.to_string(),
        subject_identifiers: ids.all(),
        document_number,
        decision_date,
        valid_from,
        valid_to,
        authority,
        authority_code,
        source_dept,
        source_dept_code,
        disclosure_deadline,
        usage_scope,
        status,
        status_raw,
        status_since: None,
        legal_representative: legal_rep_name,
        details,
        extra,
    };
    Ok(RecordInput {
        identifiers: ids,
        subject_name: subject_name.to_string(),
        division_hint,
        legal_rep,
        content,
        key,
        warnings,
    })
}

/// The procedure a penalty was decided by, where a column says; an unknown value is a warning.
fn procedure(f: &mut RowFields<'_>, warnings: &mut Vec<String>) -> Option<Procedure> {
    let (canonical, known) = f.enumerated("procedure", "procedure", warnings)?;
    known.then(|| Procedure::parse(&canonical)).flatten()
}

fn record_status(canonical: &str) -> RecordStatus {
    match canonical {
        "expired" => RecordStatus::Expired,
        "removed" => RecordStatus::Removed,
        "repaired" => RecordStatus::Repaired,
        "revoked" => RecordStatus::Revoked,
        "corrected" => RecordStatus::Corrected,
        _ => RecordStatus::Active,
    }
}

/// Document numbers as a key: half-width, no spaces (full-width digits pasted from documents match).
fn document_key(number: &str) -> String {
    number.chars().map(crate::ident::to_half_width).filter(|c| !c.is_whitespace()).collect()
}
