//! What each audience may see of a subject and its records (DOMAIN.md §8). The public view is computed
//! from the stored data on every read, so nothing masked is ever stored twice.

use chrono::NaiveDate;
use serde::Serialize;

use crate::disclosure::{Disclosure, DisclosureRules, Tier};
use crate::engine::Engine;
use crate::model::{
    IdentifierKind, RecordCategory, RecordId, RecordVersion, Subject, SubjectType, SubjectVersion, UsageScope,
};
use crate::privacy::{mask_id_number, mask_name};
use crate::store::{RecordView, Store, StoreError};

/// The audience of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Anyone: masked ID numbers and protected names, no personal contact data, no penalties against
    /// natural persons, no share-only records.
    #[default]
    Public,
    /// Regulators: everything, unmasked (each read of a natural person is audited by the caller).
    Regulator,
}

impl View {
    pub fn as_str(self) -> &'static str {
        match self {
            View::Public => "public",
            View::Regulator => "regulator",
        }
    }
}

/// The subject attributes the public sees (what registration authorities publish); every other
/// delivered column (remarks, the disclosure flag, columns no table knows) is for regulators only.
pub const PUBLIC_ATTRIBUTES: [&str; 7] = [
    "registered_capital_wan",
    "business_scope",
    "registrar",
    "registrar_code",
    "industry_code",
    "valid_from",
    "valid_to",
];

/// Whether the public may see the subject at all: not when its registration file said it is not
/// to be disclosed (`SFGK` 否/0).
pub fn is_public(subject: &Subject) -> bool {
    let flag = subject.attributes.get("public").map(|v| v.trim().to_lowercase());
    !matches!(flag.as_deref(), Some("0" | "否" | "n" | "no" | "false" | "不公开"))
}

/// The subject as `view` shows it; `true` when anything was masked or left out.
pub fn subject(subject: &Subject, view: View) -> (Subject, bool) {
    let mut shown = subject.clone();
    if view == View::Regulator {
        return (shown, false);
    }
    let person = subject.subject_type == SubjectType::NaturalPerson;
    let mut masked = false;
    for identifier in &mut shown.identifiers {
        // A person's tax number is their ID number or as personal: masked alike.
        if identifier.kind == IdentifierKind::Ric || (person && identifier.kind == IdentifierKind::Tax) {
            identifier.value = mask_id_number(&identifier.value);
            masked = true;
        }
    }
    let delivered = shown.attributes.len();
    shown.attributes.retain(|key, _| PUBLIC_ATTRIBUTES.contains(&key.as_str()));
    masked |= shown.attributes.len() != delivered;
    for person in &mut shown.related {
        if let Some(number) = &mut person.id_number {
            *number = mask_id_number(number);
            masked = true;
        }
    }
    if subject.subject_type == SubjectType::NaturalPerson {
        shown.name = mask_name(&shown.name);
        shown.former_names = shown.former_names.iter().map(|n| mask_name(n)).collect();
        shown.address = None;
        shown.phone = None;
        shown.attributes.clear();
        masked = true;
    }
    (shown, masked)
}

/// Who looks, on which day, under which disclosure rules: everything that decides which records a
/// response shows.
#[derive(Debug, Clone, Copy)]
pub struct Audience<'r> {
    pub view: View,
    /// The day the public view is computed for (windows, repairs, list removals).
    pub as_of: NaiveDate,
    pub rules: &'r DisclosureRules,
}

impl<'r> Audience<'r> {
    pub fn new(view: View, as_of: NaiveDate, rules: &'r DisclosureRules) -> Audience<'r> {
        Audience { view, as_of, rules }
    }
}

/// Whether the audience sees this record of `subject` at all. Regulators see every record, repaired,
/// revoked and expired ones included, with their history.
pub fn shows_record(subject: &Subject, record: &RecordVersion, audience: &Audience<'_>) -> bool {
    if audience.view == View::Regulator {
        return true;
    }
    let content = &record.content;
    if content.usage_scope == UsageScope::ShareOnly {
        return false;
    }
    // Penalties against natural persons are in principle not disclosed.
    if subject.subject_type == SubjectType::NaturalPerson && content.category() == RecordCategory::Penalty {
        return false;
    }
    audience.rules.public_on(content, audience.as_of)
}

/// The record as the audience sees it, or `None` when it is left out.
pub fn record(subject: &Subject, record: RecordVersion, audience: &Audience<'_>) -> Option<RecordVersion> {
    if !shows_record(subject, &record, audience) {
        return None;
    }
    let mut shown = record;
    if audience.view == View::Regulator {
        return Some(shown);
    }
    for identifier in &mut shown.content.subject_identifiers {
        if identifier.kind == IdentifierKind::Ric {
            identifier.value = mask_id_number(&identifier.value);
        }
    }
    // A person's name stays readable only in serious records, which are published by name; in
    // low-severity ones (and in records that are not negative at all) it is masked.
    if subject.subject_type == SubjectType::NaturalPerson && audience.rules.tier(&shown.content) != Some(Tier::Serious)
    {
        shown.content.subject_name = mask_name(&shown.content.subject_name);
    }
    shown.content.extra.clear();
    Some(shown)
}

/// The order responses list records in: newest decision first, records without a decision date last,
/// ties by record id, newest first.
pub fn newest_decision_first(a: &RecordVersion, b: &RecordVersion) -> std::cmp::Ordering {
    b.content.decision_date.cmp(&a.content.decision_date).then_with(|| b.record.cmp(&a.record))
}

/// A subject and its records as one audience sees them on one day: the object `credit-server get` prints
/// and `GetSubject` carries as JSON, built in one place so the embedded command and the service agree.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectPage {
    pub view: View,
    pub as_of: NaiveDate,
    /// The subject as the view shows it.
    pub subject: Subject,
    /// Whether anything of the subject was masked or left out.
    pub masked: bool,
    /// Newest decision first.
    pub records: Vec<ShownRecord>,
    /// Regulator view, on request: every version of the subject, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_history: Option<Vec<SubjectVersion>>,
    /// Regulator view, on request: every version of each shown record, record by record, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_history: Option<Vec<RecordVersion>>,
    /// The public credit evaluation on `as_of`: in full for the regulator view, the grade alone for the
    /// public where the model publishes it (docs/evaluation.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<crate::evaluation::ShownEvaluation>,
}

/// One record of a [`SubjectPage`].
#[derive(Debug, Clone, Serialize)]
pub struct ShownRecord {
    pub id: RecordId,
    pub category: RecordCategory,
    pub versions: u32,
    /// The current version as the view shows it.
    pub current: RecordVersion,
    /// Regulator view: the record's tier and window under the disclosure rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<Disclosure>,
    /// Regulator view: whether the public sees the record on `as_of`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
}

impl SubjectPage {
    /// The page of `subject` (as stored) with those of `records` the audience sees, newest decision first.
    /// For regulators, each record comes with its disclosure window and whether the public sees it that day.
    pub fn new(subject: &Subject, records: Vec<RecordView>, audience: &Audience<'_>) -> SubjectPage {
        let (shown_subject, masked) = self::subject(subject, audience.view);
        let mut records = shown_records(subject, records, audience);
        if audience.view == View::Regulator {
            // The regulator's records are shown as stored, so their windows are computed from them.
            let public = Audience::new(View::Public, audience.as_of, audience.rules);
            for r in &mut records {
                r.disclosure = Some(audience.rules.disclosure(&r.current.content));
                r.public = Some(shows_record(subject, &r.current, &public));
            }
        }
        SubjectPage {
            view: audience.view,
            as_of: audience.as_of,
            subject: shown_subject,
            masked,
            records,
            subject_history: None,
            record_history: None,
            evaluation: None,
        }
    }

    /// Adds every version of the subject and of each shown record, as stored (for the regulator view).
    pub fn add_history<E: Engine>(&mut self, store: &Store<E>) -> Result<(), StoreError> {
        let mut versions = Vec::new();
        for r in &self.records {
            versions.extend(store.record_history(r.id)?);
        }
        self.subject_history = Some(store.subject_history(self.subject.id)?);
        self.record_history = Some(versions);
        Ok(())
    }
}

/// Those of `records` the audience sees, as it sees them, newest decision first (without the
/// regulator's disclosure details, which only [`SubjectPage`] shows).
pub fn shown_records(subject: &Subject, records: Vec<RecordView>, audience: &Audience<'_>) -> Vec<ShownRecord> {
    let mut shown: Vec<ShownRecord> = records
        .into_iter()
        .filter_map(|r| {
            let current = self::record(subject, r.current, audience)?;
            Some(ShownRecord {
                id: r.id,
                category: r.category,
                versions: r.versions,
                current,
                disclosure: None,
                public: None,
            })
        })
        .collect();
    shown.sort_by(|a, b| newest_decision_first(&a.current, &b.current));
    shown
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{NaiveDate, Utc};

    use super::*;
    use crate::model::{
        BatchId, RecordDetails, RecordId, RecordStatus, RelatedPerson, RelatedRole, StoredIdentifier, SubjectId,
    };

    fn person() -> Subject {
        let mut s = Subject::provisional(
            SubjectId(7),
            SubjectType::NaturalPerson,
            "张三丰",
            vec![StoredIdentifier { kind: IdentifierKind::Ric, value: "11010519491231002X".into() }],
            Some("110105".into()),
        );
        s.address = Some("北京市朝阳区某街1号".into());
        s.phone = Some("13800000000".into());
        s
    }

    fn company() -> Subject {
        let mut s = Subject::provisional(
            SubjectId(8),
            SubjectType::Enterprise,
            "北京腾跃科技有限公司",
            vec![StoredIdentifier { kind: IdentifierKind::Uscc, value: "91110105MA01ABCD1X".into() }],
            Some("110105".into()),
        );
        s.address = Some("北京市朝阳区某路2号".into());
        s.related.push(RelatedPerson {
            role: RelatedRole::LegalRepresentative,
            name: "李四".into(),
            id_type: None,
            id_number: Some("110105198001010011".into()),
            subject: None,
        });
        s
    }

    fn version(subject: &Subject, details: RecordDetails, scope: UsageScope) -> RecordVersion {
        let mut content = crate::model::tests::list_entry("2026-01-05", None, None);
        content.subject_name = subject.name.clone();
        content.subject_identifiers = subject.identifiers.clone();
        content.document_number = Some("京朝市监罚〔2026〕1号".into());
        content.decision_date = NaiveDate::from_ymd_opt(2026, 1, 5);
        content.usage_scope = scope;
        content.details = details;
        content.extra = BTreeMap::from([("备注".to_string(), "内部".to_string())]);
        RecordVersion {
            record: RecordId(1),
            version: 1,
            recorded_at: Utc::now(),
            batch: BatchId(1),
            source_dept: None,
            hash: String::new(),
            content,
        }
    }

    fn penalty() -> RecordDetails {
        RecordDetails::Penalty {
            violation_type: None,
            facts: None,
            legal_basis: None,
            penalty_types: vec!["罚款".into()],
            content: None,
            fine: crate::model::AmountWan::parse("0.5"),
            confiscated: None,
            licence_affected: None,
            procedure: None,
        }
    }

    fn on(date: &str) -> NaiveDate {
        NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date")
    }

    fn public() -> Audience<'static> {
        Audience::new(View::Public, on("2026-02-01"), builtin())
    }

    fn regulator() -> Audience<'static> {
        Audience::new(View::Regulator, on("2026-02-01"), builtin())
    }

    fn builtin() -> &'static DisclosureRules {
        static RULES: std::sync::LazyLock<std::sync::Arc<DisclosureRules>> =
            std::sync::LazyLock::new(DisclosureRules::builtin);
        &RULES
    }

    #[test]
    fn public_view_masks_persons_and_keeps_companies_readable() {
        let (shown, masked) = subject(&person(), View::Public);
        assert!(masked);
        assert_eq!(shown.name, "张**");
        assert_eq!(shown.identifiers[0].value, "110105********002X");
        assert_eq!((shown.address, shown.phone), (None, None));

        let (shown, _) = subject(&company(), View::Public);
        assert_eq!(shown.name, "北京腾跃科技有限公司");
        assert_eq!(shown.identifiers[0].value, "91110105MA01ABCD1X");
        assert_eq!(shown.related[0].id_number.as_deref(), Some("110105********0011"));
        assert_eq!(shown.address, company().address, "a company's address is public");
    }

    #[test]
    fn only_known_attributes_and_masked_tax_numbers_reach_the_public() {
        let mut p = person();
        p.identifiers.push(StoredIdentifier { kind: IdentifierKind::Tax, value: "11010519491231002X01".into() });
        let (shown, _) = subject(&p, View::Public);
        assert_eq!(shown.identifiers[1].value, "110105**********2X01", "a person's tax number is personal");
        let mut c = company();
        c.identifiers.push(StoredIdentifier { kind: IdentifierKind::Tax, value: "91110105MA01ABCD1X".into() });
        c.attributes.insert("business_scope".into(), "软件开发".into());
        c.attributes.insert("remark".into(), "内部".into());
        c.attributes.insert("public".into(), "是".into());
        c.attributes.insert("UNKNOWN_COLUMN".into(), "x".into());
        let (shown, masked) = subject(&c, View::Public);
        assert_eq!(shown.identifiers[1].value, "91110105MA01ABCD1X", "an organisation's tax number is not");
        assert_eq!(shown.attributes.keys().collect::<Vec<_>>(), ["business_scope"]);
        assert!(masked);
        assert!(is_public(&c));
        c.attributes.insert("public".into(), "否".into());
        assert!(!is_public(&c), "SFGK 否: not for the public");
        assert_eq!(subject(&c, View::Regulator).0.attributes.len(), 4, "regulators keep every column");
    }

    #[test]
    fn regulator_view_is_unchanged() {
        assert_eq!(subject(&person(), View::Regulator), (person(), false));
        let v = version(&person(), penalty(), UsageScope::ShareOnly);
        assert_eq!(record(&person(), v.clone(), &regulator()), Some(v));
    }

    #[test]
    fn public_view_drops_penalties_of_persons_and_share_only_records() {
        let p = person();
        assert_eq!(record(&p, version(&p, penalty(), UsageScope::Public), &public()), None);
        let c = company();
        assert_eq!(record(&c, version(&c, penalty(), UsageScope::ShareOnly), &public()), None);
        let shown = record(&c, version(&c, penalty(), UsageScope::Public), &public()).expect("shown");
        assert!(shown.content.extra.is_empty(), "undelivered columns stay internal");
        assert_eq!(shown.content.subject_name, c.name);
    }

    #[test]
    fn persons_names_are_masked_in_low_severity_records_only() {
        let p = person();
        let licence = RecordDetails::Licence {
            document_name: None,
            licence_category: None,
            certificate_name: None,
            certificate_number: None,
            content: None,
        };
        let shown = record(&p, version(&p, licence, UsageScope::Public), &public()).expect("shown");
        assert_eq!(shown.content.subject_name, "张**");
        assert_eq!(shown.content.subject_identifiers[0].value, "110105********002X");
        let listed = RecordDetails::ListEntry {
            list_type: "COURT_DISHONEST_DEBTOR".into(),
            list_name: None,
            listed_on: NaiveDate::from_ymd_opt(2026, 1, 5).expect("date"),
            planned_removal: None,
            removed_on: None,
        };
        let shown = record(&p, version(&p, listed, UsageScope::Public), &public()).expect("shown");
        assert_eq!(shown.content.subject_name, "张三丰", "a serious list entry names the person");
        assert_eq!(shown.content.subject_identifiers[0].value, "110105********002X");
        let abnormal = RecordDetails::ListEntry {
            list_type: "ABNORMAL_OPERATION".into(),
            list_name: None,
            listed_on: on("2026-01-05"),
            planned_removal: None,
            removed_on: None,
        };
        let shown = record(&p, version(&p, abnormal, UsageScope::Public), &public()).expect("shown");
        assert_eq!(shown.content.subject_name, "张**", "a general-tier entry does not");
    }

    #[test]
    fn the_public_sees_a_record_only_inside_its_window_and_until_its_repair() {
        let c = company();
        let mut v = version(&c, penalty(), UsageScope::Public);
        let rules = builtin();
        let seen = |v: &RecordVersion, date: &str| {
            record(&c, v.clone(), &Audience::new(View::Public, on(date), rules)).is_some()
        };
        assert!(!seen(&v, "2026-01-04"), "not before the decision");
        assert!(seen(&v, "2026-01-05"));
        assert!(seen(&v, "2027-01-04"), "general: decided under Order 58, a year under Order 36");
        assert!(!seen(&v, "2027-01-05"));
        v.content.status = RecordStatus::Repaired;
        v.content.status_since = Some(on("2026-04-10"));
        assert!(seen(&v, "2026-04-09"));
        assert!(!seen(&v, "2026-04-10"), "repaired: the public view drops it");
        let kept = record(&c, v.clone(), &Audience::new(View::Regulator, on("2026-05-01"), rules));
        assert_eq!(kept.map(|r| r.content.status), Some(RecordStatus::Repaired), "the regulator keeps it");
    }
}
