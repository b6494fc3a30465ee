//! Credit reports: the sections of a national public credit report for one subject, in one view,
//! ready to be signed (`credit_sign::sign_report`).
//!
//! Everything in a report is a string, an integer or a structure of them (amounts are decimal strings),
//! so its canonical JSON is the same in every language.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use crate::disclosure::DisclosureRules;
use crate::engine::Engine;
use crate::model::{RecordCategory, RecordContent, RecordDetails, RecordId, Subject, SubjectId};
use crate::rules::{Colour, MeasureKind, RuleSet};
use crate::store::{Store, StoreError};
use crate::time::china_standard_time;
use crate::view::{self, Audience, View};

/// What is fixed by the platform rather than by the request.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The issuing platform's name, printed on every report.
    pub platform: String,
    /// How long a report is valid after issue.
    pub validity: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditReport {
    pub title: String,
    pub report_number: String,
    pub view: String,
    /// RFC 3339, UTC, whole seconds.
    pub issued_at: String,
    pub valid_until: String,
    /// The report shows what the platform knew at this instant (every write committed before it).
    pub data_cutoff: String,
    /// The day (China Standard Time) disclosure windows and list memberships are computed for.
    pub as_of: NaiveDate,
    pub issuer: IssuerSection,
    pub subject: Subject,
    /// Whether anything of the subject was masked or left out for this view.
    pub masked: bool,
    pub licences: Vec<ReportRecord>,
    pub penalties: Vec<ReportRecord>,
    pub red_lists: Vec<ListSection>,
    pub black_lists: Vec<ListSection>,
    pub commitments: Vec<ReportRecord>,
    pub other_records: Vec<ReportRecord>,
    /// The public credit evaluation on the day of the report: in full for the regulator view, the grade
    /// alone for the public (where the model publishes it); absent when the model does not cover the
    /// subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<crate::evaluation::ShownEvaluation>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssuerSection {
    pub platform: String,
    pub rules_version: String,
}

/// One record as the view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRecord {
    pub record: RecordId,
    pub version: u32,
    #[serde(flatten)]
    pub content: RecordContent,
}

/// A list entry with the joint measures its memoranda bring while it is in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListSection {
    #[serde(flatten)]
    pub record: ReportRecord,
    pub in_force: bool,
    pub measures: Vec<ReportMeasure>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportMeasure {
    pub memorandum_id: String,
    pub memorandum_title: String,
    pub document_number: String,
    pub measure_id: String,
    pub kind: MeasureKind,
    pub text: String,
    pub implementing_department: String,
    pub mandatory: bool,
}

/// Builds the report of `subject` for `view` at `now`. `None` when no such subject exists.
pub fn build<E: Engine>(
    store: &Store<E>,
    rules: &RuleSet,
    disclosure: &DisclosureRules,
    subject: SubjectId,
    view: View,
    issuer: &Issuer,
    now: DateTime<Utc>,
) -> Result<Option<CreditReport>, StoreError> {
    let Some(stored) = store.subject(subject)? else {
        return Ok(None);
    };
    let as_of = now.with_timezone(&china_standard_time()).date_naive();
    let audience = Audience::new(view, as_of, disclosure);
    let mut shown: Vec<_> = store
        .records_of(subject, None)?
        .into_iter()
        .filter_map(|r| view::record(&stored, r.current, &audience))
        .collect();
    shown.sort_by(view::newest_decision_first);

    let mut report = CreditReport {
        title: "公共信用信息报告".into(),
        report_number: report_number(store, now)?,
        view: view.as_str().into(),
        issued_at: rfc3339(now),
        valid_until: rfc3339(now + issuer.validity),
        data_cutoff: rfc3339(now),
        as_of,
        issuer: IssuerSection { platform: issuer.platform.clone(), rules_version: rules.version.clone() },
        subject: Subject::clone(&stored),
        masked: false,
        licences: Vec::new(),
        penalties: Vec::new(),
        red_lists: Vec::new(),
        black_lists: Vec::new(),
        commitments: Vec::new(),
        other_records: Vec::new(),
        evaluation: None,
        notes: notes(view),
    };
    (report.subject, report.masked) = view::subject(&stored, view);
    for version in shown {
        let record = ReportRecord { record: version.record, version: version.version, content: version.content };
        match record.content.category() {
            RecordCategory::Licence => report.licences.push(record),
            RecordCategory::Penalty => report.penalties.push(record),
            RecordCategory::Commitment => report.commitments.push(record),
            RecordCategory::ListEntry => {
                let list_type = match &record.content.details {
                    RecordDetails::ListEntry { list_type, .. } => list_type.clone(),
                    _ => String::new(),
                };
                let in_force = record.content.in_force_on(as_of);
                let measures = if in_force { measures(rules, &list_type, as_of) } else { Vec::new() };
                let section = ListSection { record, in_force, measures };
                match rules.colour(&list_type) {
                    Some(Colour::Red) => report.red_lists.push(section),
                    // A list type the rules do not know counts as black: it cannot be ignored safely.
                    Some(Colour::Black) | None => report.black_lists.push(section),
                }
            }
            RecordCategory::TaxGrade | RecordCategory::Other => report.other_records.push(record),
        }
    }
    Ok(Some(report))
}

fn measures(rules: &RuleSet, list_type: &str, as_of: NaiveDate) -> Vec<ReportMeasure> {
    rules
        .memoranda_for(list_type)
        .filter(|m| m.valid_on(as_of))
        .flat_map(|m| {
            m.measures.iter().map(move |measure| ReportMeasure {
                memorandum_id: m.id.clone(),
                memorandum_title: m.title.clone(),
                document_number: m.document_number.clone(),
                measure_id: measure.id.clone(),
                kind: m.kind,
                text: measure.text.clone(),
                implementing_department: measure.implementing_department.clone(),
                mandatory: measure.mandatory,
            })
        })
        .collect()
}

fn notes(view: View) -> Vec<String> {
    let mut notes = vec![
        "本报告依据公共信用信息披露规则生成，仅反映数据截止时间前平台归集的信息。".to_string(),
        "报告以 Ed25519 签名，可凭验证码及平台公布的验证公钥离线核验。".to_string(),
    ];
    if view == View::Public {
        notes.push("公开版：已超过公示期、已修复或仅限共享的信息不予展示，个人敏感信息已脱敏。".into());
    }
    notes
}

/// `CR` + issue day (China Standard Time) + a platform-wide sequence: unique, and sortable by day.
fn report_number<E: Engine>(store: &Store<E>, now: DateTime<Utc>) -> Result<String, StoreError> {
    let day = now.with_timezone(&china_standard_time()).format("%Y%m%d");
    Ok(format!("CR{day}{:08}", store.next_report_sequence()?))
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use credit_sign::{KeySet, SigningKey, sign_report, verify_report};

    use super::*;
    use crate::checks::tests::{SHOP, TRADER, store};

    fn issuer() -> Issuer {
        Issuer { platform: "测试城市公共信用信息平台".into(), validity: Duration::days(30) }
    }

    fn report_of(code: &str, view: View, now: DateTime<Utc>) -> CreditReport {
        let store = store();
        let id = store.find_subject_id(code).unwrap().unwrap();
        let disclosure = DisclosureRules::builtin();
        build(&store, &RuleSet::builtin(), &disclosure, id, view, &issuer(), now).unwrap().unwrap()
    }

    #[test]
    fn list_entries_go_to_their_colour_with_the_measures_in_force() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 2, 0, 0).unwrap();
        let shop = report_of(SHOP, View::Regulator, now);
        assert_eq!(shop.valid_until, "2024-07-01T02:00:00Z");
        assert_eq!(shop.as_of, NaiveDate::from_ymd_opt(2024, 6, 1).unwrap());
        assert!(shop.report_number.starts_with("CR20240601"), "{}", shop.report_number);
        assert!(shop.red_lists.is_empty());
        let listed: Vec<_> = shop.black_lists.iter().map(|l| l.record.content.document_number.clone()).collect();
        assert_eq!(listed.len(), 2, "the serious-violation entry and the unknown list type: {listed:?}");
        let serious = shop.black_lists.iter().find(|l| !l.measures.is_empty()).expect("measures of a known list");
        assert!(serious.in_force);
        assert!(serious.measures.iter().all(|m| m.kind == MeasureKind::Punishment));

        let trader = report_of(TRADER, View::Public, now);
        assert_eq!(trader.red_lists.len(), 1);
        assert!(trader.red_lists[0].measures.iter().all(|m| m.kind == MeasureKind::Reward));
        // Two years on, the A grade has ended: still reported while the public may see it, without measures.
        let later = report_of(TRADER, View::Regulator, Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap());
        assert!(later.red_lists.iter().all(|l| !l.in_force && l.measures.is_empty()));
    }

    #[test]
    fn the_public_report_masks_the_legal_representative_and_signs_canonically() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 2, 0, 0).unwrap();
        let report = report_of(SHOP, View::Public, now);
        let related = &report.subject.related[0];
        assert_eq!(related.id_number.as_deref(), Some("360426********0071"));
        assert!(report.masked);

        let value = serde_json::to_value(&report).unwrap();
        let key = SigningKey::from_secret(&[9; 32]);
        let file = sign_report(&value, &key).expect("a report is canonical JSON: strings and small integers");
        let verified = verify_report(&file, &KeySet::default().with(key.published()), now).unwrap();
        assert_eq!(verified.report, value);
    }
}
