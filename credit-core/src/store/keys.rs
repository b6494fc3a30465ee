//! Key layouts of every column family, in one place.
//!
//! | family | key | value |
//! |---|---|---|
//! | meta | `schema_version`, `next_subject`, `next_record`, `next_batch`, `counters`, `next_check`, `next_case`, `next_feed`, `swept_through`, `audit_head`, `next_report` | JSON |
//! | meta | `batch/` + batch id (8 bytes BE) | [`super::BatchInfo`] JSON |
//! | meta | `evaluated_through` | [`super::EvaluatedThrough`] JSON |
//! | meta | `stats_cube` | [`crate::evaluation::StatsCube`]: byte 1 + MessagePack |
//! | evaluations | subject id | [`crate::evaluation::StoredEvaluation`]: byte 1 + MessagePack |
//! | subjects | subject id (8 bytes BE) | current [`crate::model::Subject`] JSON |
//! | subject_versions | subject id + version (4 bytes BE) | [`crate::model::SubjectVersion`] JSON |
//! | idents | `i/` kind `/` value, or `n/` division `/` name | subject id |
//! | records | record id | [`crate::model::RecordHead`] JSON |
//! | versions | record id + version | [`crate::model::RecordVersion`] JSON |
//! | record_keys | natural key (UTF-8) | record id |
//! | subject_records | subject id + record id | empty |
//! | current | subject id | the current [`crate::model::Subject`]: byte 1 + MessagePack |
//! | current | subject id + `0x00` | the subject's [`crate::model::Reach`] (the list entries a check of it meets): byte 1 + MessagePack; absent when nothing reaches it |
//! | current | subject id + record id | the record's current [`crate::model::RecordVersion`]: byte 1 + MessagePack (JSON where schema 7's migration wrote it) |
//! | journal | batch id + chunk number (8 bytes BE) | undo entries of that chunk |
//! | list_entries | subject id + record id | [`crate::model::ListEntryIndex`] JSON |
//! | related | person id + organisation id + role (1 byte) | empty |
//! | checks | check id | [`crate::checks::CheckRecord`] JSON |
//! | feedback | check id + sequence (4 bytes BE) | [`crate::checks::Feedback`] JSON |
//! | changes | batch id + subject id | empty |
//! | cases | `c` + case id | [`crate::cases::Case`] JSON |
//! | cases | `v` + case id + version (4 bytes BE) | [`crate::cases::CaseStep`] JSON |
//! | cases | `r` + record id + case id | empty |
//! | feed | sequence number | [`crate::model::feed::FeedEvent`] JSON |
//! | audit | `e` + sequence number | [`crate::model::audit::AuditEntry`] JSON (hashed as stored) |
//! | audit | `s` + subject id + sequence number | empty: a subject's entries |
//! | audit | `k` + sequence number | [`crate::model::audit::Checkpoint`] JSON |
//!
//! Big-endian integers keep numeric order under RocksDB's byte order. `current`, `subject_records`,
//! `list_entries` and `related` are read a subject at a time: RocksDB keeps bloom filters of their keys'
//! first eight bytes (the subject id) per table file, so a subject's scan skips files without its keys.

use crate::model::{BatchId, IdentifierKind, RecordId, RelatedRole, SubjectId};

pub const SCHEMA_VERSION: &[u8] = b"schema_version";
pub const NEXT_SUBJECT: &[u8] = b"next_subject";
pub const NEXT_RECORD: &[u8] = b"next_record";
pub const NEXT_BATCH: &[u8] = b"next_batch";
pub const COUNTERS: &[u8] = b"counters";
pub const NEXT_CHECK: &[u8] = b"next_check";
pub const BATCH_PREFIX: &[u8] = b"batch/";
pub const NEXT_CASE: &[u8] = b"next_case";
pub const NEXT_FEED: &[u8] = b"next_feed";
pub const SWEPT_THROUGH: &[u8] = b"swept_through";
/// The last batch whose changes the stored evaluations reflect, with the model version and day.
pub const EVALUATED_THROUGH: &[u8] = b"evaluated_through";
/// The statistics cube of the stored evaluations ([`crate::evaluation::StatsCube`]), written with the mark.
pub const STATS_CUBE: &[u8] = b"stats_cube";
pub const AUDIT_HEAD: &[u8] = b"audit_head";
pub const NEXT_REPORT: &[u8] = b"next_report";
pub const AUDIT_ENTRY: u8 = b'e';
pub const AUDIT_CHECKPOINT: u8 = b'k';
const AUDIT_SUBJECT: u8 = b's';

/// Length of a subject's key ([`subject`]).
pub const SUBJECT_KEY_BYTES: usize = 8;

/// Length of a subject's reach key ([`reach`]): after the subject's key, before its records' keys.
pub const REACH_KEY_BYTES: usize = 9;

/// Length of a key naming a record of a subject ([`subject_record`]).
pub const SUBJECT_RECORD_KEY_BYTES: usize = 16;

pub fn subject(id: SubjectId) -> Vec<u8> {
    id.0.to_be_bytes().to_vec()
}

/// Where a subject's [`crate::model::Reach`] is kept in `current`: its key and a zero byte, which sorts
/// after the subject and before any of its records, so one seek reads the subject and then its reach.
pub fn reach(id: SubjectId) -> Vec<u8> {
    let mut key = subject(id);
    key.push(0);
    key
}

pub fn subject_version(id: SubjectId, version: u32) -> Vec<u8> {
    let mut key = subject(id);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

pub fn record(id: RecordId) -> Vec<u8> {
    id.0.to_be_bytes().to_vec()
}

pub fn record_version(id: RecordId, version: u32) -> Vec<u8> {
    let mut key = record(id);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

pub fn subject_record(subject: SubjectId, record: RecordId) -> Vec<u8> {
    let mut key = self::subject(subject);
    key.extend_from_slice(&record.0.to_be_bytes());
    key
}

/// Where a person holds a role: found from the person's side when checking them.
pub fn related(person: SubjectId, organisation: SubjectId, role: RelatedRole) -> Vec<u8> {
    let mut key = subject(person);
    key.extend_from_slice(&organisation.0.to_be_bytes());
    key.push(role_code(role));
    key
}

/// The organisation and role a [`related`] key names.
pub fn related_organisation(key: &[u8]) -> Option<(SubjectId, RelatedRole)> {
    Some((SubjectId(u64_at(key, 8)?), role_of_code(*key.get(16)?)?))
}

pub fn role_code(role: RelatedRole) -> u8 {
    match role {
        RelatedRole::LegalRepresentative => 0,
        RelatedRole::PrincipalManager => 1,
        RelatedRole::ActualController => 2,
    }
}

pub fn role_of_code(code: u8) -> Option<RelatedRole> {
    match code {
        0 => Some(RelatedRole::LegalRepresentative),
        1 => Some(RelatedRole::PrincipalManager),
        2 => Some(RelatedRole::ActualController),
        _ => None,
    }
}

pub fn check(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

pub fn feedback(check: u64, sequence: u32) -> Vec<u8> {
    let mut key = self::check(check);
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

pub fn identifier(kind: IdentifierKind, value: &str) -> Vec<u8> {
    format!("i/{}/{value}", kind.as_str()).into_bytes()
}

/// Exact name within a division: how records without a known identifier find their organisation.
pub fn name_in_division(division: &str, name: &str) -> Vec<u8> {
    format!("n/{division}/{name}").into_bytes()
}

/// A subject changed by a batch: batch first, so a follower reads every change after a batch in order.
pub fn change(batch: BatchId, subject: SubjectId) -> Vec<u8> {
    let mut key = batch.0.to_be_bytes().to_vec();
    key.extend_from_slice(&subject.0.to_be_bytes());
    key
}

pub fn case(id: u64) -> Vec<u8> {
    let mut key = b"c".to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

pub fn case_step(id: u64, version: u32) -> Vec<u8> {
    let mut key = b"v".to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// Prefix of the steps of one case.
pub fn case_steps(id: u64) -> Vec<u8> {
    let mut key = b"v".to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

pub fn record_case(record: RecordId, case: u64) -> Vec<u8> {
    let mut key = record_cases(record);
    key.extend_from_slice(&case.to_be_bytes());
    key
}

/// Prefix of the cases about one record.
pub fn record_cases(record: RecordId) -> Vec<u8> {
    let mut key = b"r".to_vec();
    key.extend_from_slice(&record.0.to_be_bytes());
    key
}

pub fn feed(sequence: u64) -> Vec<u8> {
    sequence.to_be_bytes().to_vec()
}

pub fn audit_entry(seq: u64) -> Vec<u8> {
    let mut key = vec![AUDIT_ENTRY];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub fn audit_checkpoint(seq: u64) -> Vec<u8> {
    let mut key = vec![AUDIT_CHECKPOINT];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// Prefix of the audit entries about one subject.
pub fn audit_subject_prefix(subject: SubjectId) -> Vec<u8> {
    let mut key = vec![AUDIT_SUBJECT];
    key.extend_from_slice(&subject.0.to_be_bytes());
    key
}

pub fn audit_by_subject(subject: SubjectId, seq: u64) -> Vec<u8> {
    let mut key = audit_subject_prefix(subject);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub fn batch(id: BatchId) -> Vec<u8> {
    let mut key = BATCH_PREFIX.to_vec();
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

pub fn journal(batch: BatchId, chunk: u64) -> Vec<u8> {
    let mut key = batch.0.to_be_bytes().to_vec();
    key.extend_from_slice(&chunk.to_be_bytes());
    key
}

pub fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    let slice: [u8; 8] = bytes.get(offset..offset + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(slice))
}

pub fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let slice: [u8; 4] = bytes.get(offset..offset + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(slice))
}

/// A record's natural key: what it is (category, document number or list type and date), whose it is,
/// and which department delivered it. The department is part of its identity: another department's
/// delivery of the same document is another record, and never replaces this one.
pub fn record_key(natural: &str, subject: SubjectId, source_dept: Option<&str>) -> String {
    format!("{natural}|{}|{}", subject.0, source_dept.unwrap_or(""))
}
