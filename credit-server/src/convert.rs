//! Library types to `credit.v1` messages. Views (masking) are applied before conversion, never here.

use chrono::{DateTime, NaiveDate, Utc};
use credit_core::checks::{self, CheckResult, CheckStats, Feedback, Hit, Link, NamedSubject};
use credit_core::model::{self, RecordDetails, RecordVersion, Subject, SubjectVersion};
use credit_core::view::{SubjectPage, View};
use credit_proto::v1 as pb;
use serde::Serialize;

/// The name serde gives a unit enum variant: the same strings the JSON output of the commands uses.
fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// A protobuf timestamp as a UTC instant; `None` when out of range.
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

pub fn subject(s: Subject, masked: bool) -> pb::Subject {
    let code = match s.subject_type {
        model::SubjectType::NaturalPerson => s.identifier(model::IdentifierKind::Ric).map(str::to_string),
        _ => s.primary_code().map(str::to_string),
    };
    pb::Subject {
        subject_id: s.id.0,
        code: code.unwrap_or_default(),
        name: s.name,
        subject_type: s.subject_type.as_str().to_string(),
        base: serde_name(&s.base),
        former_names: s.former_names,
        identifiers: s
            .identifiers
            .into_iter()
            .map(|i| pb::Identifier { kind: i.kind.as_str().to_string(), value: i.value })
            .collect(),
        division: s.division.unwrap_or_default(),
        established: date(s.established),
        status: s.status.unwrap_or_default(),
        address: s.address.unwrap_or_default(),
        phone: s.phone.unwrap_or_default(),
        related: s
            .related
            .into_iter()
            .map(|p| pb::RelatedPerson {
                role: serde_name(&p.role),
                name: p.name,
                id_number: p.id_number.unwrap_or_default(),
                subject_id: p.subject.map_or(0, |id| id.0),
            })
            .collect(),
        provisional: s.provisional,
        attributes: s.attributes.into_iter().collect(),
        masked,
    }
}

pub fn subject_version(v: SubjectVersion, masked: bool) -> pb::SubjectVersion {
    pb::SubjectVersion {
        version: v.version,
        recorded_at: Some(timestamp(v.recorded_at)),
        batch_id: v.batch.0,
        source_dept: v.source_dept.unwrap_or_default(),
        hash: v.hash,
        subject: Some(subject(v.subject, masked)),
    }
}

/// The page as `GetSubject` answers it, carrying the page's JSON as `credit-server get` prints it
/// unless `omit_json`.
pub fn subject_page(subject_id: u64, page: SubjectPage, omit_json: bool) -> pb::GetSubjectResponse {
    let json = if omit_json { String::new() } else { serde_json::to_string(&page).unwrap_or_default() };
    pb::GetSubjectResponse {
        subject: Some(subject(page.subject, page.masked)),
        records: page.records.into_iter().map(|r| record(subject_id, r.current)).collect(),
        history: page.subject_history.into_iter().flatten().map(|v| subject_version(v, false)).collect(),
        view: view(page.view),
        json,
        record_history: page.record_history.into_iter().flatten().map(|v| record(subject_id, v)).collect(),
    }
}

/// A view as the `View` enum of `credit.v1`.
pub fn view(view: View) -> i32 {
    match view {
        View::Public => pb::View::Public as i32,
        View::Regulator => pb::View::Regulator as i32,
    }
}

pub fn record(subject_id: u64, r: RecordVersion) -> pb::Record {
    let c = r.content;
    let details = match c.details {
        RecordDetails::Licence { document_name, licence_category, certificate_name, certificate_number, content } => {
            pb::record::Details::Licence(pb::LicenceDetails {
                document_name: text(&document_name),
                licence_category: text(&licence_category),
                certificate_name: text(&certificate_name),
                certificate_number: text(&certificate_number),
                content: text(&content),
            })
        }
        RecordDetails::Penalty {
            violation_type,
            facts,
            legal_basis,
            penalty_types,
            content,
            fine,
            confiscated,
            licence_affected,
            procedure,
        } => pb::record::Details::Penalty(pb::PenaltyDetails {
            violation_type: text(&violation_type),
            facts: text(&facts),
            legal_basis: text(&legal_basis),
            penalty_types,
            content: text(&content),
            fine: fine.map(|a| a.to_string()).unwrap_or_default(),
            confiscated: confiscated.map(|a| a.to_string()).unwrap_or_default(),
            licence_affected: text(&licence_affected),
            procedure: procedure.map(|p| p.as_str().to_string()).unwrap_or_default(),
        }),
        RecordDetails::ListEntry { list_type, list_name, listed_on, planned_removal, removed_on } => {
            pb::record::Details::ListEntry(pb::ListEntryDetails {
                list_type,
                list_name: text(&list_name),
                listed_on: date(Some(listed_on)),
                planned_removal: date(planned_removal),
                removed_on: date(removed_on),
            })
        }
        RecordDetails::Commitment { commitment_kind, text, made_on, about_record, case } => {
            pb::record::Details::Commitment(pb::CommitmentDetails {
                commitment_kind,
                text,
                made_on: date(Some(made_on)),
                about_record: about_record.map_or(0, |r| r.0),
                case_id: case.unwrap_or(0),
            })
        }
        RecordDetails::Other { description } => {
            pb::record::Details::Other(pb::OtherDetails { description: text(&description) })
        }
    };
    let category = match &details {
        pb::record::Details::Licence(_) => "licence",
        pb::record::Details::Penalty(_) => "penalty",
        pb::record::Details::ListEntry(_) => "list_entry",
        pb::record::Details::Commitment(_) => "commitment",
        pb::record::Details::Other(_) => "other",
    };
    pb::Record {
        record_id: r.record.0,
        subject_id,
        version: r.version,
        category: category.to_string(),
        status: serde_name(&c.status),
        usage_scope: serde_name(&c.usage_scope),
        subject_name: c.subject_name,
        document_number: c.document_number.unwrap_or_default(),
        decision_date: date(c.decision_date),
        valid_from: date(c.valid_from),
        valid_to: date(c.valid_to),
        authority: c.authority.unwrap_or_default(),
        authority_code: c.authority_code.unwrap_or_default(),
        source_dept: c.source_dept.unwrap_or_default(),
        source_dept_code: c.source_dept_code.unwrap_or_default(),
        disclosure_deadline: date(c.disclosure_deadline),
        legal_representative: c.legal_representative.unwrap_or_default(),
        recorded_at: Some(timestamp(r.recorded_at)),
        batch_id: r.batch.0,
        hash: r.hash,
        details: Some(details),
        extra: c.extra.into_iter().collect(),
    }
}

fn named(s: NamedSubject) -> pb::CheckedSubject {
    pb::CheckedSubject {
        subject_id: s.id.0,
        name: s.name,
        code: s.code.unwrap_or_default(),
        subject_type: s.subject_type.as_str().to_string(),
        division: s.division.unwrap_or_default(),
        provisional: s.provisional,
    }
}

fn hit(h: Hit) -> pb::CheckHit {
    let (relation, role) = match h.path {
        Link::Listed => ("self", String::new()),
        Link::RelatedPerson { role } => ("related_person", serde_name(&role)),
        Link::Organisation { role } => ("organisation", serde_name(&role)),
    };
    pb::CheckHit {
        record_id: h.record_id.0,
        list_type: h.list_type,
        list_name: text(&h.list_name),
        colour: h.colour.as_ref().map(serde_name).unwrap_or_default(),
        identifying_department: text(&h.identifying_department),
        identifying_department_code: text(&h.identifying_department_code),
        basis_document: text(&h.basis_document),
        listed_on: date(Some(h.listed_on)),
        planned_removal: date(h.planned_removal),
        removed_on: date(h.removed_on),
        listed_subject: Some(named(h.listed_subject)),
        relation: relation.to_string(),
        role,
        memoranda: h.memoranda,
    }
}

/// A check's result, with its JSON copy unless `omit_json`.
pub fn check_result(r: CheckResult, omit_json: bool) -> pb::CheckResult {
    let json = if omit_json { String::new() } else { serde_json::to_string(&r).unwrap_or_default() };
    let grade = r.evaluation.clone();
    pb::CheckResult {
        json,
        grade: grade.as_ref().map(|g| g.grade.clone()).unwrap_or_default(),
        risk_class: grade.as_ref().and_then(|g| g.risk_class.clone()).unwrap_or_default(),
        evaluation_model: grade.as_ref().map(|g| g.model_version.clone()).unwrap_or_default(),
        evaluated_on: grade.as_ref().map(|g| g.as_of.to_string()).unwrap_or_default(),
        check_id: r.check_id,
        identifier: r.identifier,
        item: r.item,
        as_of: date(Some(r.as_of)),
        department: r.department.unwrap_or_default(),
        checked_at: Some(timestamp(r.checked_at)),
        rules_version: r.rules_version,
        subject: r.subject.map(named),
        verdict: r.verdict.as_str().to_string(),
        reasons: r.reasons,
        hits: r.hits.into_iter().map(hit).collect(),
        measures: r
            .measures
            .into_iter()
            .map(|m| pb::AppliedMeasure {
                measure_id: m.measure_id,
                memorandum_id: m.memorandum_id,
                memorandum_title: m.memorandum_title,
                document_number: m.document_number,
                text: m.text,
                implementing_department: m.implementing_department,
                legal_basis: m.legal_basis,
                kind: serde_name(&m.kind),
                mandatory: m.mandatory,
                hits: m.hits.into_iter().map(|id| id.0).collect(),
                suppressed: m.suppressed,
                risk_class: m.risk_class.unwrap_or_default(),
            })
            .collect(),
    }
}

pub fn feedback(f: Feedback) -> pb::SubmitFeedbackResponse {
    let json = serde_json::to_string(&f).unwrap_or_default();
    pb::SubmitFeedbackResponse {
        json,
        check_id: f.check_id,
        sequence: f.sequence,
        measure_id: f.measure_id,
        memorandum_id: f.memorandum_id,
        outcome: f.outcome.as_str().to_string(),
        operator: f.operator,
        recorded_at: Some(timestamp(f.recorded_at)),
    }
}

fn group(g: checks::StatsGroup) -> pb::StatsGroup {
    pb::StatsGroup {
        key: g.key,
        measure_hits: g.measure_hits,
        with_feedback: g.with_feedback,
        feedback_share: g.feedback_share,
        applied: g.applied,
        not_applied: g.not_applied,
        escalated: g.escalated,
    }
}

pub fn statistics(s: CheckStats) -> pb::GetStatisticsResponse {
    let groups = |v: Vec<checks::StatsGroup>| v.into_iter().map(group).collect();
    pb::GetStatisticsResponse {
        checks: s.checks,
        verdicts: s.verdicts.into_iter().collect(),
        total: Some(group(s.total)),
        by_memorandum: groups(s.by_memorandum),
        by_measure: groups(s.by_measure),
        by_department: groups(s.by_department),
        by_division: groups(s.by_division),
        by_period: groups(s.by_period),
    }
}

pub fn search_hit(h: credit_core::search::SearchHit) -> pb::SearchHit {
    let json = serde_json::to_string(&h).unwrap_or_default();
    pb::SearchHit {
        json,
        code: h.code.unwrap_or_default(),
        name: h.name,
        subject_type: h.subject_type.to_string(),
        score: h.score,
        subject_id: h.subject_id,
        division: h.division.unwrap_or_default(),
        status: h.status.unwrap_or_default(),
        highlight: h.highlight,
    }
}

pub fn feed_event(event: &credit_core::feed::FeedEvent) -> pb::FeedEvent {
    let change = &event.change;
    pb::FeedEvent {
        seq: event.sequence,
        at: Some(timestamp(event.at)),
        kind: change.kind.as_str().to_string(),
        subject_id: change.subject.0,
        code: change.code.clone().unwrap_or_default(),
        record_id: change.record.0,
        version: change.version,
        category: change.category.as_str().to_string(),
        list_type: change.list_type.clone().unwrap_or_default(),
        effective: change.effective.map(|d| d.to_string()).unwrap_or_default(),
        case_id: change.case.unwrap_or(0),
        batch: event.batch.0,
        json: serde_json::to_string(event).unwrap_or_default(),
    }
}
