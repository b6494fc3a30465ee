//! Subjects and credit records as the platform stores them (DOMAIN.md §3 and §4).

pub mod audit;
pub mod case;
pub mod feed;
mod reach;

pub use reach::{Link, NamedSubject, Reach, ReachGroup};

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Stable internal id of a subject; identifiers can change, this does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubjectId(pub u64);

/// Stable id of a credit record across all its versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub u64);

/// Id of one import batch (or other write batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BatchId(pub u64);

/// Where and when a write command was applied: its batch (the sequence of the store's write commands)
/// and the clock it carries. A replica applies the command under the same stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub batch: BatchId,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A write command could not be handed to the replication transport; the write did not land (or,
/// for the end of an import, landed here but is not yet known to the replicas).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the command could not be published: {0}")]
pub struct PublishError(pub String);

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S{}", self.0)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}", self.0)
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "B{}", self.0)
    }
}

/// The three base databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseDatabase {
    NaturalPerson,
    /// Enterprises, individual businesses, farmers' cooperatives.
    EnterpriseLegalPerson,
    /// Public institutions, social organisations, government bodies and other organisations.
    NonEnterpriseLegalPerson,
}

/// The kind of subject, finer than the base database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    NaturalPerson,
    Enterprise,
    IndividualBusiness,
    FarmerCooperative,
    GovernmentBody,
    PublicInstitution,
    SocialOrganisation,
    PrivateNonProfit,
    Foundation,
    OtherOrganisation,
}

impl SubjectType {
    pub const ALL: [SubjectType; 10] = [
        SubjectType::NaturalPerson,
        SubjectType::Enterprise,
        SubjectType::IndividualBusiness,
        SubjectType::FarmerCooperative,
        SubjectType::GovernmentBody,
        SubjectType::PublicInstitution,
        SubjectType::SocialOrganisation,
        SubjectType::PrivateNonProfit,
        SubjectType::Foundation,
        SubjectType::OtherOrganisation,
    ];

    /// The name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::NaturalPerson => "natural_person",
            SubjectType::Enterprise => "enterprise",
            SubjectType::IndividualBusiness => "individual_business",
            SubjectType::FarmerCooperative => "farmer_cooperative",
            SubjectType::GovernmentBody => "government_body",
            SubjectType::PublicInstitution => "public_institution",
            SubjectType::SocialOrganisation => "social_organisation",
            SubjectType::PrivateNonProfit => "private_non_profit",
            SubjectType::Foundation => "foundation",
            SubjectType::OtherOrganisation => "other_organisation",
        }
    }

    pub fn parse(value: &str) -> Option<SubjectType> {
        SubjectType::ALL.into_iter().find(|t| t.as_str() == value)
    }

    pub fn base(self) -> BaseDatabase {
        match self {
            SubjectType::NaturalPerson => BaseDatabase::NaturalPerson,
            SubjectType::Enterprise | SubjectType::IndividualBusiness | SubjectType::FarmerCooperative => {
                BaseDatabase::EnterpriseLegalPerson
            }
            _ => BaseDatabase::NonEnterpriseLegalPerson,
        }
    }

    /// The type a unified code's authority and category say.
    pub fn from_uscc(code: &str) -> SubjectType {
        let b = code.as_bytes();
        match (b.first(), b.get(1)) {
            (Some(b'9'), Some(b'1')) => SubjectType::Enterprise,
            (Some(b'9'), Some(b'2')) => SubjectType::IndividualBusiness,
            (Some(b'9'), Some(b'3')) => SubjectType::FarmerCooperative,
            (Some(b'1'), Some(b'1')) => SubjectType::GovernmentBody,
            (Some(b'1'), Some(b'2')) => SubjectType::PublicInstitution,
            (Some(b'5'), Some(b'1')) => SubjectType::SocialOrganisation,
            (Some(b'5'), Some(b'2')) => SubjectType::PrivateNonProfit,
            (Some(b'5'), Some(b'3')) => SubjectType::Foundation,
            _ => SubjectType::OtherOrganisation,
        }
    }
}

pub use credit_ident::IdentifierKind;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StoredIdentifier {
    pub kind: IdentifierKind,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelatedRole {
    LegalRepresentative,
    PrincipalManager,
    ActualController,
}

/// A person related to an organisation, linked to that person's own subject where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedPerson {
    pub role: RelatedRole,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<SubjectId>,
}

/// A subject's current state. Earlier states are kept as subject versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub id: SubjectId,
    pub subject_type: SubjectType,
    pub base: BaseDatabase,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former_names: Vec<String>,
    /// Every identifier the subject is known by; the unified code (or ID number) first when known.
    pub identifiers: Vec<StoredIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established: Option<NaiveDate>,
    /// Status as delivered (存续, 注销, …), canonical where the value was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedPerson>,
    /// Created because a record or a related person named it before any subject file did.
    #[serde(default)]
    pub provisional: bool,
    /// Other delivered fields: business scope, capital, registrar, industry, and unknown columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// The code shown for a subject among `identifiers` (a subject's, or those a record names it by): the
/// unified code, else the resident ID number, the organisation code, the 15-digit registration number,
/// the tax registration number.
pub fn shown_code(identifiers: &[StoredIdentifier]) -> Option<&str> {
    const ORDER: [IdentifierKind; 5] =
        [IdentifierKind::Uscc, IdentifierKind::Ric, IdentifierKind::OrgCode, IdentifierKind::Gs15, IdentifierKind::Tax];
    ORDER.iter().find_map(|kind| identifiers.iter().find(|i| i.kind == *kind)).map(|i| i.value.as_str())
}

impl Subject {
    /// A subject known only from a record or as someone's related person: flagged provisional until a
    /// subject row completes it in place.
    pub fn provisional(
        id: SubjectId,
        subject_type: SubjectType,
        name: &str,
        identifiers: Vec<StoredIdentifier>,
        division: Option<String>,
    ) -> Subject {
        Subject {
            id,
            subject_type,
            base: subject_type.base(),
            name: name.to_string(),
            former_names: Vec::new(),
            identifiers,
            division,
            established: None,
            status: None,
            address: None,
            phone: None,
            related: Vec::new(),
            provisional: true,
            attributes: BTreeMap::new(),
        }
    }

    pub fn identifier(&self, kind: IdentifierKind) -> Option<&str> {
        self.identifiers.iter().find(|i| i.kind == kind).map(|i| i.value.as_str())
    }

    /// The code shown for the subject ([`shown_code`] of its identifiers).
    pub fn primary_code(&self) -> Option<&str> {
        shown_code(&self.identifiers)
    }

    /// The related persons linked to a subject of the platform, with their roles, in the order named.
    pub fn linked_persons(&self) -> impl Iterator<Item = (SubjectId, RelatedRole)> + '_ {
        self.related.iter().filter_map(|r| Some((r.subject?, r.role)))
    }
}

/// One state of a subject in its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectVersion {
    pub version: u32,
    pub recorded_at: DateTime<Utc>,
    pub batch: BatchId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dept: Option<String>,
    pub hash: String,
    pub subject: Subject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordCategory {
    Licence,
    Penalty,
    ListEntry,
    Commitment,
    TaxGrade,
    Other,
}

impl RecordCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordCategory::Licence => "licence",
            RecordCategory::Penalty => "penalty",
            RecordCategory::ListEntry => "list_entry",
            RecordCategory::Commitment => "commitment",
            RecordCategory::TaxGrade => "tax_grade",
            RecordCategory::Other => "other",
        }
    }

    pub const ALL: [RecordCategory; 6] = [
        RecordCategory::Licence,
        RecordCategory::Penalty,
        RecordCategory::ListEntry,
        RecordCategory::Commitment,
        RecordCategory::TaxGrade,
        RecordCategory::Other,
    ];
}

/// Lifecycle status of a record version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Active,
    Expired,
    /// Left a list (removal, fulfilment).
    Removed,
    Repaired,
    Revoked,
    Corrected,
}

/// Whether a record may be disclosed publicly or only shared between departments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageScope {
    Public,
    ShareOnly,
}

/// An amount in 万元, exact: stored as fen (0.01 yuan), so 1 万元 = 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AmountWan {
    pub fen: i64,
}

impl AmountWan {
    /// Parses a decimal number of 万元 with at most 6 decimals (`2.58`, `0.000001`).
    pub fn parse(s: &str) -> Option<AmountWan> {
        let s = s.trim();
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if fraction.len() > 6 || whole.len() > 12 {
            return None;
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let fraction_fen: i64 = format!("{fraction:0<6}").parse().ok()?;
        let fen = whole * 1_000_000 + fraction_fen;
        Some(AmountWan { fen: if negative { -fen } else { fen } })
    }
}

impl fmt::Display for AmountWan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.fen < 0 { "-" } else { "" };
        let abs = self.fen.unsigned_abs();
        let (whole, fraction) = (abs / 1_000_000, abs % 1_000_000);
        if fraction == 0 {
            return write!(f, "{sign}{whole}");
        }
        let fraction = format!("{fraction:06}");
        write!(f, "{sign}{whole}.{}", fraction.trim_end_matches('0'))
    }
}

impl Serialize for AmountWan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for AmountWan {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        AmountWan::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not an amount: {s:?}")))
    }
}

/// How a penalty was decided (行政处罚法): on the spot by simple procedure (简易程序), or by the
/// ordinary procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    Simple,
    Ordinary,
}

impl Procedure {
    pub fn as_str(self) -> &'static str {
        match self {
            Procedure::Simple => "simple",
            Procedure::Ordinary => "ordinary",
        }
    }

    pub fn parse(value: &str) -> Option<Procedure> {
        match value {
            "simple" => Some(Procedure::Simple),
            "ordinary" => Some(Procedure::Ordinary),
            _ => None,
        }
    }
}

/// Category-specific fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "category", rename_all = "snake_case")]
pub enum RecordDetails {
    Licence {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document_name: Option<String>,
        /// 普通, 特许, 认可, 核准, 登记, 其他 (or the value as delivered).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        licence_category: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate_number: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
    Penalty {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        violation_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facts: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        legal_basis: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        penalty_types: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fine: Option<AmountWan>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confiscated: Option<AmountWan>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        licence_affected: Option<String>,
        /// Decided by simple procedure (简易程序) or ordinary procedure, where the source says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        procedure: Option<Procedure>,
    },
    ListEntry {
        /// List type code (DOMAIN.md §4), or the delivered value when unknown.
        list_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list_name: Option<String>,
        listed_on: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        planned_removal: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removed_on: Option<NaiveDate>,
    },
    /// A public credit commitment (信用承诺) the subject made, e.g. with a repair application.
    Commitment {
        /// `repair` (信用修复承诺), or the kind as delivered.
        commitment_kind: String,
        text: String,
        made_on: NaiveDate,
        /// The record a repair commitment is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about_record: Option<RecordId>,
        /// The case it was made in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case: Option<u64>,
    },
    Other {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
}

/// The content of one record version: common fields (DOMAIN.md §4) and category-specific details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordContent {
    /// The subject's name as the record gives it (at the time).
    pub subject_name: String,
    /// Identifiers the record named its subject by.
    pub subject_identifiers: Vec<StoredIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dept: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dept_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure_deadline: Option<NaiveDate>,
    pub usage_scope: UsageScope,
    pub status: RecordStatus,
    /// The status as delivered, when it differs from the canonical one or was unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_raw: Option<String>,
    /// The day a repair, revocation or correction took effect: the record counted before it (valid
    /// time), and stops counting from it on. `None` with such a status: since always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_since: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<String>,
    pub details: RecordDetails,
    /// Columns the platform has no field for, kept as delivered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl RecordContent {
    pub fn category(&self) -> RecordCategory {
        match self.details {
            RecordDetails::Licence { .. } => RecordCategory::Licence,
            RecordDetails::Penalty { .. } => RecordCategory::Penalty,
            RecordDetails::ListEntry { .. } => RecordCategory::ListEntry,
            RecordDetails::Commitment { .. } => RecordCategory::Commitment,
            RecordDetails::Other { .. } => RecordCategory::Other,
        }
    }

    /// Valid time: whether the record was in force on `date`, from its decision, listing, removal and
    /// validity dates and its status. Repairs and revocations (new versions) end it from the day they
    /// take effect.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        if ended_by_status(self.status, self.status_since, date) {
            return false;
        }
        match &self.details {
            RecordDetails::ListEntry { listed_on, planned_removal, removed_on, .. } => {
                list_entry_in_force(self.status, self.status_since, *listed_on, *planned_removal, *removed_on, date)
            }
            _ => {
                let start = self.valid_from.or(self.decision_date);
                start.is_none_or(|s| s <= date) && self.valid_to.is_none_or(|end| date <= end)
            }
        }
    }
}

/// Whether a repair or revocation had taken effect by `date`.
pub fn ended_by_status(status: RecordStatus, since: Option<NaiveDate>, date: NaiveDate) -> bool {
    matches!(status, RecordStatus::Repaired | RecordStatus::Revoked) && since.is_none_or(|since| since <= date)
}

/// Whether a list entry was in force on `date`: listed by then, not yet removed (or due for removal),
/// and neither repaired nor revoked by then.
fn list_entry_in_force(
    status: RecordStatus,
    status_since: Option<NaiveDate>,
    listed_on: NaiveDate,
    planned_removal: Option<NaiveDate>,
    removed_on: Option<NaiveDate>,
    date: NaiveDate,
) -> bool {
    if ended_by_status(status, status_since, date) {
        return false;
    }
    // Removed with no date given: the removal date is unknown, so it is not in force.
    if status == RecordStatus::Removed && removed_on.is_none() {
        return false;
    }
    let end = removed_on.or(planned_removal);
    listed_on <= date && end.is_none_or(|end| date < end)
}

/// The current version of a list entry, kept per subject so a joint check reads a few small values
/// instead of every record of the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntryIndex {
    pub record: RecordId,
    pub version: u32,
    pub list_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_name: Option<String>,
    pub listed_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_removal: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_on: Option<NaiveDate>,
    pub status: RecordStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_since: Option<NaiveDate>,
    /// The identifying department (认定部门) and its code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_code: Option<String>,
    /// The basis document (认定依据).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
}

impl ListEntryIndex {
    /// The index entry of a record version; `None` when it is not a list entry.
    pub fn of(record: RecordId, version: u32, content: &RecordContent) -> Option<ListEntryIndex> {
        let RecordDetails::ListEntry { list_type, list_name, listed_on, planned_removal, removed_on } =
            &content.details
        else {
            return None;
        };
        Some(ListEntryIndex {
            record,
            version,
            list_type: list_type.clone(),
            list_name: list_name.clone(),
            listed_on: *listed_on,
            planned_removal: *planned_removal,
            removed_on: *removed_on,
            status: content.status,
            status_since: content.status_since,
            authority: content.authority.clone(),
            authority_code: content.authority_code.clone(),
            document_number: content.document_number.clone(),
        })
    }

    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        list_entry_in_force(self.status, self.status_since, self.listed_on, self.planned_removal, self.removed_on, date)
    }
}

/// Head of a record: what stays the same across its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordHead {
    pub id: RecordId,
    pub subject: SubjectId,
    pub category: RecordCategory,
    /// Natural key (category, document number, subject, …) that makes re-imports idempotent.
    pub key: String,
    pub versions: u32,
    pub latest_hash: String,
}

/// One version of a record: its content and where and when the platform learned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordVersion {
    pub record: RecordId,
    pub version: u32,
    pub recorded_at: DateTime<Utc>,
    pub batch: BatchId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dept: Option<String>,
    /// blake3 of the canonical JSON of `content`.
    pub hash: String,
    pub content: RecordContent,
}

/// blake3 of a value's JSON: struct fields serialise in declaration order and maps are ordered, so the
/// same content always hashes the same.
pub fn content_hash<T: Serialize>(value: &T) -> String {
    hash_json(&serde_json::to_vec(value).expect("model types serialise"))
}

/// [`content_hash`] of a value already serialised with `serde_json`.
pub fn hash_json(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_code_shown_follows_one_order_whatever_the_order_delivered() {
        let id = |kind, value: &str| StoredIdentifier { kind, value: value.into() };
        let all = [
            id(IdentifierKind::Tax, "T"),
            id(IdentifierKind::Gs15, "G"),
            id(IdentifierKind::OrgCode, "O"),
            id(IdentifierKind::Ric, "R"),
            id(IdentifierKind::Uscc, "U"),
        ];
        for (from, shown) in ["U", "R", "O", "G", "T"].into_iter().enumerate() {
            // Without the kinds ahead of it in the order, each kind is the one shown.
            let rest: Vec<StoredIdentifier> = all[..all.len() - from].to_vec();
            assert_eq!(shown_code(&rest), Some(shown), "{rest:?}");
            let mut reversed = rest.clone();
            reversed.reverse();
            assert_eq!(shown_code(&reversed), Some(shown), "{reversed:?}");
        }
        assert_eq!(shown_code(&[]), None);
    }

    #[test]
    fn amounts_are_exact() {
        for (text, fen, shown) in [
            ("2.58", 2_580_000, "2.58"),
            ("0.000001", 1, "0.000001"),
            ("100", 100_000_000, "100"),
            ("-1.5", -1_500_000, "-1.5"),
            (".5", 500_000, "0.5"),
        ] {
            let a = AmountWan::parse(text).unwrap();
            assert_eq!(a.fen, fen, "{text}");
            assert_eq!(a.to_string(), shown);
        }
        for bad in ["", ".", "1.2345678", "1,000", "abc", "1e5"] {
            assert!(AmountWan::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn subject_types_from_codes() {
        assert_eq!(SubjectType::from_uscc("92340602MA2PBMEM24"), SubjectType::IndividualBusiness);
        assert_eq!(SubjectType::from_uscc("121200004013590816").base(), BaseDatabase::NonEnterpriseLegalPerson);
        assert_eq!(SubjectType::from_uscc("91110000600037341L").base(), BaseDatabase::EnterpriseLegalPerson);
    }

    pub(crate) fn list_entry(listed: &str, planned: Option<&str>, removed: Option<&str>) -> RecordContent {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        RecordContent {
            subject_name: "x".into(),
            subject_identifiers: vec![],
            document_number: None,
            decision_date: None,
            valid_from: None,
            valid_to: None,
            authority: None,
            authority_code: None,
            source_dept: None,
            source_dept_code: None,
            disclosure_deadline: None,
            usage_scope: UsageScope::Public,
            status: RecordStatus::Active,
            status_raw: None,
            status_since: None,
            legal_representative: None,
            details: RecordDetails::ListEntry {
                list_type: "COURT_DISHONEST_DEBTOR".into(),
                list_name: None,
                listed_on: d(listed),
                planned_removal: planned.map(d),
                removed_on: removed.map(d),
            },
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn list_entries_are_in_force_between_listing_and_removal() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let entry = list_entry("2024-03-01", Some("2027-03-01"), Some("2025-01-10"));
        assert!(!entry.in_force_on(d("2024-02-29")));
        assert!(entry.in_force_on(d("2024-03-01")));
        assert!(entry.in_force_on(d("2025-01-09")));
        assert!(!entry.in_force_on(d("2025-01-10")), "removal day is out");
        let open = list_entry("2024-03-01", None, None);
        assert!(open.in_force_on(d("2030-01-01")));
        let mut revoked = open.clone();
        revoked.status = RecordStatus::Revoked;
        assert!(!revoked.in_force_on(d("2024-06-01")));
        revoked.status_since = Some(d("2025-01-01"));
        assert!(revoked.in_force_on(d("2024-12-31")), "in force until the revocation takes effect");
        assert!(!revoked.in_force_on(d("2025-01-01")));
    }

    #[test]
    fn hashes_follow_content() {
        let a = list_entry("2024-03-01", None, None);
        let mut b = a.clone();
        assert_eq!(content_hash(&a), content_hash(&b));
        b.extra.insert("X".into(), "1".into());
        assert_ne!(content_hash(&a), content_hash(&b));
    }
}
