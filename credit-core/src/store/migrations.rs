//! Upgrades of the on-disk format, one function per schema step. Each is idempotent: a migration
//! interrupted by a crash runs again on the next open, because the schema version moves only after it.

use crate::engine::{Cf, Engine, WriteBatch};
use crate::model::{ListEntryIndex, RecordHead, RecordId, RecordVersion, Subject, SubjectId};

use super::reach::{EngineSource, Reader};
use super::{StoreError, from_json, keys, to_json, to_msgpack};

/// Migrations from version `n` to `n + 1`, in order; `MIGRATIONS[0]` upgrades version 1 to 2.
pub(super) type Migration = fn(&dyn Engine) -> Result<(), StoreError>;
pub(super) const MIGRATIONS: &[Migration] = &[
    v1_to_v2_joint_check_indexes,
    v2_to_v3_change_log,
    v3_to_v4_cases_and_feed,
    v4_to_v5_audit_log,
    v5_to_v6_record_keys_by_department,
    v6_to_v7_current_records,
    v7_to_v8_check_reaches,
    v8_to_v9_evaluations,
    v9_to_v10_evaluations_with_tallies,
];

/// Writes per engine write while migrating.
const MIGRATION_CHUNK: usize = 10_000;

/// Schema 2 adds what joint checks read: each subject's list entries, and where each person holds a
/// role. Both are derived from data schema 1 already has.
fn v1_to_v2_joint_check_indexes(engine: &dyn Engine) -> Result<(), StoreError> {
    let mut related = Vec::new();
    let mut undecodable = None;
    engine.scan_prefix(Cf::Subjects, b"", &mut |_, value| {
        match from_json::<Subject>(value) {
            Ok(subject) => {
                related.extend(subject.linked_persons().map(|(person, role)| keys::related(person, subject.id, role)))
            }
            Err(e) => undecodable = Some(e),
        }
        undecodable.is_none()
    })?;
    if let Some(e) = undecodable {
        return Err(e);
    }
    for chunk in related.chunks(MIGRATION_CHUNK) {
        let mut write = WriteBatch::new();
        for key in chunk {
            write.put(Cf::Related, key.clone(), Vec::new());
        }
        engine.write(write)?;
    }

    let mut list_records = Vec::new();
    engine.scan_prefix(Cf::RecordKeys, b"list|", &mut |_, value| {
        if let Some(id) = keys::u64_at(value, 0) {
            list_records.push(RecordId(id));
        }
        true
    })?;
    for chunk in list_records.chunks(MIGRATION_CHUNK) {
        let mut write = WriteBatch::new();
        for id in chunk {
            let head: RecordHead = engine
                .get(Cf::Records, &keys::record(*id))?
                .map(|b| from_json(&b))
                .transpose()?
                .ok_or_else(|| StoreError::Corrupt(format!("list record {id} has no head")))?;
            let version: RecordVersion = engine
                .get(Cf::Versions, &keys::record_version(*id, head.versions))?
                .map(|b| from_json(&b))
                .transpose()?
                .ok_or_else(|| StoreError::Corrupt(format!("list record {id} has no version {}", head.versions)))?;
            if let Some(entry) = ListEntryIndex::of(*id, head.versions, &version.content) {
                write.put(Cf::ListEntries, keys::subject_record(head.subject, *id), to_json(&entry));
            }
        }
        engine.write(write)?;
    }
    Ok(())
}

/// Schema 3 adds the change log (subjects each batch changed). It starts empty: a search index opened on
/// an older store has never been built, and builds itself from the subjects family.
fn v2_to_v3_change_log(_engine: &dyn Engine) -> Result<(), StoreError> {
    Ok(())
}

/// Schema 4 adds repair and objection cases and the change feed. Both start empty: nothing before them
/// was a case, and the feed tells of changes from now on.
fn v3_to_v4_cases_and_feed(_engine: &dyn Engine) -> Result<(), StoreError> {
    Ok(())
}

/// Schema 5 adds the audit log. It starts empty: what happened before was logged to tracing only.
fn v4_to_v5_audit_log(_engine: &dyn Engine) -> Result<(), StoreError> {
    Ok(())
}

/// Schema 6 makes the delivering department part of a record's natural key ([`keys::record_key`]): each
/// key gets the department of the record's first version (the one that created it). Each chunk moves
/// keys and heads in one write; a key that no longer ends in its subject's id was moved already, so an
/// interrupted run resumes.
fn v5_to_v6_record_keys_by_department(engine: &dyn Engine) -> Result<(), StoreError> {
    let mut entries = Vec::new();
    engine.scan_prefix(Cf::RecordKeys, b"", &mut |key, value| {
        if let Some(id) = keys::u64_at(value, 0) {
            entries.push((key.to_vec(), RecordId(id)));
        }
        true
    })?;
    for chunk in entries.chunks(MIGRATION_CHUNK) {
        let mut write = WriteBatch::new();
        for (old_key, id) in chunk {
            let Some(mut head) =
                engine.get(Cf::Records, &keys::record(*id))?.map(|b| from_json::<RecordHead>(&b)).transpose()?
            else {
                continue;
            };
            let old_form = format!("|{}", head.subject.0);
            if head.key.as_bytes() != old_key.as_slice() || !head.key.ends_with(&old_form) {
                continue;
            }
            let first: Option<RecordVersion> =
                engine.get(Cf::Versions, &keys::record_version(*id, 1))?.map(|b| from_json(&b)).transpose()?;
            let dept = first.and_then(|v| v.source_dept);
            let natural = &head.key[..head.key.len() - old_form.len()];
            let new_key = keys::record_key(natural, head.subject, dept.as_deref());
            write.put(Cf::RecordKeys, new_key.clone().into_bytes(), id.0.to_be_bytes().to_vec());
            write.delete(Cf::RecordKeys, old_key.clone());
            head.key = new_key;
            write.put(Cf::Records, keys::record(*id), to_json(&head));
        }
        engine.write(write)?;
    }
    Ok(())
}

/// Schema 7 keeps each record's current version under its subject (`current`), so a subject's records
/// are one seek away: filled from the heads and their latest versions. Rewriting a value with itself is
/// harmless, so an interrupted run simply runs again.
fn v6_to_v7_current_records(engine: &dyn Engine) -> Result<(), StoreError> {
    let mut heads = Vec::new();
    let mut undecodable = None;
    engine.scan_prefix(Cf::Records, b"", &mut |_, value| {
        match from_json::<RecordHead>(value) {
            Ok(head) => heads.push((head.id, head.subject, head.versions)),
            Err(e) => undecodable = Some(e),
        }
        undecodable.is_none()
    })?;
    if let Some(e) = undecodable {
        return Err(e);
    }
    for chunk in heads.chunks(MIGRATION_CHUNK) {
        let keys: Vec<Vec<u8>> = chunk.iter().map(|(id, _, versions)| keys::record_version(*id, *versions)).collect();
        let mut write = WriteBatch::new();
        for ((id, subject, versions), version) in chunk.iter().zip(engine.multi_get(Cf::Versions, &keys)?) {
            let version =
                version.ok_or_else(|| StoreError::Corrupt(format!("record {id} has no version {versions}")))?;
            write.put(Cf::Current, keys::subject_record(*subject, *id), version);
        }
        engine.write(write)?;
    }
    Ok(())
}

/// Schema 8 keeps each subject in `current` too (stores written before schema 7's code did had it only
/// in `subjects`), and beside it what reaches its checks ([`crate::model::Reach`]): built for every
/// subject with list entries and every subject linked to one. Both are written whole again by an
/// interrupted run.
fn v7_to_v8_check_reaches(engine: &dyn Engine) -> Result<(), StoreError> {
    let mut subjects = Vec::new();
    let mut undecodable = None;
    engine.scan_prefix(Cf::Subjects, b"", &mut |key, value| {
        match keys::u64_at(key, 0) {
            Some(id) => subjects.push((SubjectId(id), value.to_vec())),
            None => undecodable = Some(StoreError::Corrupt("subject key".into())),
        }
        if subjects.len() < MIGRATION_CHUNK {
            return undecodable.is_none();
        }
        if let Err(e) = current_subjects(engine, std::mem::take(&mut subjects)) {
            undecodable = Some(e);
        }
        undecodable.is_none()
    })?;
    if let Some(e) = undecodable {
        return Err(e);
    }
    current_subjects(engine, subjects)?;

    let mut listed = std::collections::BTreeSet::new();
    engine.scan_prefix(Cf::ListEntries, b"", &mut |key, _| {
        if let Some(id) = keys::u64_at(key, 0) {
            listed.insert(SubjectId(id));
        }
        true
    })?;
    let source = EngineSource(engine);
    let mut reader = Reader::new(&source, &|_| false);
    let mut stale = listed.clone();
    for subject in listed {
        stale.extend(reader.links(subject)?.into_iter().map(|(id, _)| id));
    }
    let mut write = WriteBatch::new();
    for subject in stale {
        if let Some(reach) = reader.build(subject)? {
            write.put(Cf::Current, keys::reach(subject), to_msgpack(&reach));
        }
        if write.len() >= MIGRATION_CHUNK {
            engine.write(std::mem::take(&mut write))?;
        }
    }
    engine.write(write)?;
    Ok(())
}

/// Schema 9 adds stored evaluations. They start empty: the first evaluation run fills them.
fn v8_to_v9_evaluations(_engine: &dyn Engine) -> Result<(), StoreError> {
    Ok(())
}

/// Schema 10 stores each evaluation with its statistics tally (MessagePack), and the statistics cube
/// with the mark. Evaluations are derived data: schema 9's are dropped with their mark, and the next
/// run (a full one, since there is no mark) stores them again.
fn v9_to_v10_evaluations_with_tallies(engine: &dyn Engine) -> Result<(), StoreError> {
    let mut stale = Vec::new();
    engine.scan_prefix(Cf::Evaluations, b"", &mut |key, _| {
        stale.push(key.to_vec());
        true
    })?;
    for chunk in stale.chunks(MIGRATION_CHUNK) {
        let mut write = WriteBatch::new();
        for key in chunk {
            write.delete(Cf::Evaluations, key.clone());
        }
        engine.write(write)?;
    }
    let mut write = WriteBatch::new();
    write.delete(Cf::Meta, keys::EVALUATED_THROUGH);
    write.delete(Cf::Meta, keys::STATS_CUBE);
    Ok(engine.write(write)?)
}

/// Writes each subject's `current` value where it is missing.
fn current_subjects(engine: &dyn Engine, subjects: Vec<(SubjectId, Vec<u8>)>) -> Result<(), StoreError> {
    let keys: Vec<Vec<u8>> = subjects.iter().map(|(id, _)| keys::subject(*id)).collect();
    let mut write = WriteBatch::new();
    for ((key, (_, json)), present) in keys.iter().zip(&subjects).zip(engine.multi_get(Cf::Current, &keys)?) {
        if present.is_none() {
            write.put(Cf::Current, key.clone(), to_msgpack(&from_json::<Subject>(json)?));
        }
    }
    Ok(engine.write(write)?)
}
