//! Credit records: each record's head (its subject, natural key and version count), every version, the
//! subject → record index and the list-entry index.
//!
//! Reads on [`Store`]; the one record-version writer, [`BatchGuard::put_record`] (an import's rows) and
//! [`BatchGuard::amend_record`] (a case's outcome), writes a version with its head, its list-entry index
//! and the change log together.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{BatchGuard, Store, StoreError, from_json, from_stored, keys, parse_id, to_json, to_msgpack, with_field};
use crate::engine::{Cf, Engine, collect_prefix};
use crate::model::{
    BatchId, ListEntryIndex, RecordCategory, RecordContent, RecordHead, RecordId, RecordVersion, Subject, SubjectId,
    hash_json,
};

/// A record as seen at some transaction time: its head and the version then current.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordView {
    pub id: RecordId,
    pub category: RecordCategory,
    pub versions: u32,
    pub current: RecordVersion,
}

/// A subject and its current records as [`Store::current_page`] read them.
#[derive(Debug)]
pub struct CurrentPage {
    pub subject: Subject,
    pub records: EncodedRecords,
}

/// Current record versions as stored, decoded on demand: a reader may first decide whether the
/// caller may see them at all (and write down that it did).
#[derive(Debug)]
pub struct EncodedRecords(pub(super) Vec<Vec<u8>>);

impl EncodedRecords {
    pub fn decode(self) -> Result<Vec<RecordView>, StoreError> {
        self.0
            .iter()
            .map(|bytes| {
                let current = from_stored::<RecordVersion>(bytes)?;
                Ok(RecordView {
                    id: current.record,
                    category: current.content.category(),
                    versions: current.version,
                    current,
                })
            })
            .collect()
    }
}

/// A record's id, head and current version as stored (JSON).
pub(crate) type StoredRecord = (RecordId, RecordHead, Vec<u8>);

impl<E: Engine> Store<E> {
    pub fn record_head(&self, id: RecordId) -> Result<Option<RecordHead>, StoreError> {
        self.engine.get(Cf::Records, &keys::record(id))?.map(|b| from_json(&b)).transpose()
    }

    /// Every version of a record, oldest first.
    pub fn record_history(&self, id: RecordId) -> Result<Vec<RecordVersion>, StoreError> {
        collect_prefix(&self.engine, Cf::Versions, &keys::record(id))?.into_iter().map(|(_, v)| from_json(&v)).collect()
    }

    /// The subject's records, each in the version current at `known_at` (`None`: now). Records the
    /// platform did not know yet at `known_at` are left out.
    pub fn records_of(
        &self,
        subject: SubjectId,
        known_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<RecordView>, StoreError> {
        if known_at.is_none() {
            return self.current_records_of(subject);
        }
        let mut ids = Vec::new();
        self.engine.scan_prefix(Cf::SubjectRecords, &keys::subject(subject), &mut |key, _| {
            if let Some(id) = keys::u64_at(key, 8) {
                ids.push(RecordId(id));
            }
            true
        })?;
        let mut views = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(head) = self.record_head(id)? else {
                return Err(StoreError::Corrupt(format!("record {id} indexed but missing")));
            };
            let current = match known_at {
                None => self.record_version(id, head.versions)?,
                Some(t) => self.record_history(id)?.into_iter().rev().find(|v| v.recorded_at <= t),
            };
            if let Some(current) = current {
                views.push(RecordView { id, category: head.category, versions: head.versions, current });
            }
        }
        Ok(views)
    }

    /// The subject's records in their current versions: one seek in the `current` family.
    fn current_records_of(&self, subject: SubjectId) -> Result<Vec<RecordView>, StoreError> {
        let mut encoded = Vec::new();
        self.engine.scan_prefix(Cf::Current, &keys::subject(subject), &mut |key, value| {
            if key.len() == keys::SUBJECT_RECORD_KEY_BYTES {
                encoded.push(value.to_vec());
            }
            true
        })?;
        EncodedRecords(encoded).decode()
    }

    /// What a lookup needs of a subject, from one seek in the `current` family: the subject (from the
    /// `subjects` family in a store written before schema 7 kept it there too) and its records in
    /// their current versions, still encoded. `None`: no such subject.
    pub fn current_page(&self, id: SubjectId) -> Result<Option<CurrentPage>, StoreError> {
        let mut subject = None;
        let mut encoded = Vec::new();
        self.engine.scan_prefix(Cf::Current, &keys::subject(id), &mut |key, value| {
            match key.len() {
                keys::SUBJECT_KEY_BYTES => subject = Some(value.to_vec()),
                keys::SUBJECT_RECORD_KEY_BYTES => encoded.push(value.to_vec()),
                // The subject's reach: a check's, not a lookup's.
                _ => {}
            }
            true
        })?;
        let subject = match subject {
            Some(bytes) => from_stored::<Subject>(&bytes)?,
            None => match self.subject(id)? {
                Some(subject) => subject,
                None => return Ok(None),
            },
        };
        Ok(Some(CurrentPage { subject, records: EncodedRecords(encoded) }))
    }

    /// The current records of each of `subjects` (ascending ids), in the order given, each version as
    /// stored (JSON) for readers that decode only the fields they need: one scan of the subject-record
    /// index over their range and two batched reads, instead of a scan and two reads per record. For
    /// building indexes, where a subject's records are read one after another.
    pub(crate) fn current_record_json_of_many(
        &self,
        subjects: &[SubjectId],
    ) -> Result<Vec<Vec<StoredRecord>>, StoreError> {
        let mut out = vec![Vec::new(); subjects.len()];
        let (Some(first), Some(last)) = (subjects.first(), subjects.last()) else {
            return Ok(out);
        };
        debug_assert!(subjects.is_sorted(), "subjects in ascending order");
        let mut owned: Vec<(usize, RecordId)> = Vec::new();
        self.engine.scan_from(Cf::SubjectRecords, &keys::subject(*first), &mut |key, _| {
            let (Some(subject), Some(record)) = (keys::u64_at(key, 0), keys::u64_at(key, 8)) else {
                return true;
            };
            if subject > last.0 {
                return false;
            }
            if let Ok(position) = subjects.binary_search(&SubjectId(subject)) {
                owned.push((position, RecordId(record)));
            }
            true
        })?;
        let head_keys: Vec<Vec<u8>> = owned.iter().map(|(_, id)| keys::record(*id)).collect();
        let mut heads = Vec::with_capacity(owned.len());
        for ((_, id), head) in owned.iter().zip(self.engine.multi_get(Cf::Records, &head_keys)?) {
            let Some(head) = head else {
                return Err(StoreError::Corrupt(format!("record {id} indexed but missing")));
            };
            heads.push(from_json::<RecordHead>(&head)?);
        }
        let version_keys: Vec<Vec<u8>> =
            owned.iter().zip(&heads).map(|((_, id), head)| keys::record_version(*id, head.versions)).collect();
        let versions = self.engine.multi_get(Cf::Versions, &version_keys)?;
        for (((position, id), head), version) in owned.into_iter().zip(heads).zip(versions) {
            if let Some(json) = version {
                out[position].push((id, head, json));
            }
        }
        Ok(out)
    }

    pub fn record_version(&self, id: RecordId, version: u32) -> Result<Option<RecordVersion>, StoreError> {
        self.engine.get(Cf::Versions, &keys::record_version(id, version))?.map(|b| from_json(&b)).transpose()
    }

    /// The current version of every list entry of a subject (in force or not).
    pub fn list_entries_of(&self, subject: SubjectId) -> Result<Vec<ListEntryIndex>, StoreError> {
        collect_prefix(&self.engine, Cf::ListEntries, &keys::subject(subject))?
            .into_iter()
            .map(|(_, v)| from_json(&v))
            .collect()
    }

    /// Every record head, in id order, until `visit` returns `false`.
    pub fn scan_record_heads(&self, visit: &mut dyn FnMut(RecordHead) -> bool) -> Result<(), StoreError> {
        let mut failed = None;
        self.engine.scan_prefix(Cf::Records, b"", &mut |_, value| match from_json::<RecordHead>(value) {
            Ok(head) => visit(head),
            Err(e) => {
                failed = Some(e);
                false
            }
        })?;
        failed.map_or(Ok(()), Err)
    }
}

/// What [`BatchGuard::put_record`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordWrite {
    /// The record holds this content already.
    Unchanged(RecordId),
    /// A new record, or a new version of one: `before` is the previous version's content (`None`:
    /// the record is new, or changed before in this same batch).
    Written { head: RecordHead, before: Option<Box<RecordContent>> },
}

impl<E: Engine> BatchGuard<'_, E> {
    fn next_record_id(&mut self) -> RecordId {
        self.next_record += 1;
        RecordId(self.next_record - 1)
    }

    /// Writes `content` as the record of `subject` with the natural key `key`, recorded when the batch
    /// is: a new record, the next version of the record the key names, or nothing when that record holds
    /// this content already.
    pub fn put_record(
        &mut self,
        subject: SubjectId,
        key: String,
        content: &RecordContent,
    ) -> Result<RecordWrite, StoreError> {
        let recorded_at = self.info.started_at;
        let content_json = to_json(content);
        let hash = hash_json(&content_json);
        let category = content.category();
        let existing = match self.writer.get(Cf::RecordKeys, key.as_bytes())? {
            Some(bytes) => {
                let id = RecordId(parse_id(&bytes)?);
                let head: RecordHead = self
                    .writer
                    .get(Cf::Records, &keys::record(id))?
                    .map(|b| from_json(&b))
                    .transpose()?
                    .ok_or_else(|| StoreError::Corrupt(format!("record key {key} points to missing {id}")))?;
                Some(head)
            }
            None => None,
        };
        let head = match existing {
            Some(head) if head.latest_hash == hash => return Ok(RecordWrite::Unchanged(head.id)),
            Some(mut head) => {
                head.versions += 1;
                head.latest_hash = hash;
                head
            }
            None => {
                let id = self.next_record_id();
                self.writer.put_new(Cf::RecordKeys, key.clone().into_bytes(), id.0.to_be_bytes().to_vec())?;
                self.writer.put_new(Cf::SubjectRecords, keys::subject_record(subject, id), Vec::new())?;
                self.counters.records += 1;
                *self.counters.records_by_category.entry(category.as_str().to_string()).or_default() += 1;
                RecordHead { id, subject, category, key, versions: 1, latest_hash: hash }
            }
        };
        // Versions are not read back within a batch: the previous version comes from the committed
        // store. A record changed twice in one batch reads as new the second time.
        let before = match head.versions {
            1 => None,
            n => self.store().record_version(head.id, n - 1)?.map(|v| Box::new(v.content)),
        };
        self.write_version(&head, &content_json, content, recorded_at)?;
        Ok(RecordWrite::Written { head, before })
    }

    /// Writes `content` as the next version of record `id` (a case's outcome), recorded when the batch
    /// is, and returns that version's number.
    pub fn amend_record(&mut self, id: RecordId, content: &RecordContent) -> Result<u32, StoreError> {
        let mut head: RecordHead = self
            .writer
            .get(Cf::Records, &keys::record(id))?
            .map(|b| from_json(&b))
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt(format!("record {id} has no head")))?;
        let content_json = to_json(content);
        head.versions += 1;
        head.latest_hash = hash_json(&content_json);
        let recorded_at = self.info.started_at;
        self.write_version(&head, &content_json, content, recorded_at)?;
        Ok(head.versions)
    }

    /// The one record-version writer: version `head.versions` of the record (`content_json` is
    /// `content` serialised) with its head, its list-entry index, the change log and the counters; the
    /// first version's keys are known to be new.
    fn write_version(
        &mut self,
        head: &RecordHead,
        content_json: &[u8],
        content: &RecordContent,
        recorded_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let header = RecordVersionHeader {
            record: head.id,
            version: head.versions,
            recorded_at,
            batch: self.info.id,
            source_dept: content.source_dept.as_deref(),
            hash: &head.latest_hash,
        };
        let version = with_field(&header, "content", content_json);
        let first = head.versions == 1;
        let current = keys::subject_record(head.subject, head.id);
        let current_value = encode_current(&header, content);
        if first {
            self.writer.put_new(Cf::Current, current, current_value)?;
        } else {
            self.writer.put(Cf::Current, current, current_value)?;
        }
        self.writer.put_new(Cf::Versions, keys::record_version(head.id, head.versions), version)?;
        self.touch(head.subject)?;
        if let Some(entry) = ListEntryIndex::of(head.id, head.versions, content) {
            self.reach_changes.entry_written(head.subject);
            let key = keys::subject_record(head.subject, head.id);
            if first {
                self.writer.put_new(Cf::ListEntries, key, to_json(&entry))?;
            } else {
                self.writer.put(Cf::ListEntries, key, to_json(&entry))?;
            }
        }
        if first {
            self.writer.put_new(Cf::Records, keys::record(head.id), to_json(head))?;
        } else {
            self.writer.put(Cf::Records, keys::record(head.id), to_json(head))?;
        }
        self.counters.versions += 1;
        Ok(())
    }
}

/// A record's current version as the `current` family keeps it (MessagePack; the `versions` family
/// keeps the JSON, whose content bytes the version's hash covers).
fn encode_current(header: &RecordVersionHeader<'_>, content: &RecordContent) -> Vec<u8> {
    /// [`RecordVersion`]'s fields, borrowed.
    #[derive(Serialize)]
    struct Current<'a> {
        record: RecordId,
        version: u32,
        recorded_at: DateTime<Utc>,
        batch: BatchId,
        #[serde(skip_serializing_if = "Option::is_none")]
        source_dept: Option<&'a str>,
        hash: &'a str,
        content: &'a RecordContent,
    }
    to_msgpack(&Current {
        record: header.record,
        version: header.version,
        recorded_at: header.recorded_at,
        batch: header.batch,
        source_dept: header.source_dept,
        hash: header.hash,
        content,
    })
}

/// A [`RecordVersion`] without its content, which is serialised once (for its hash and for the stored
/// value) and spliced in.
#[derive(Serialize)]
struct RecordVersionHeader<'a> {
    record: RecordId,
    version: u32,
    recorded_at: DateTime<Utc>,
    batch: BatchId,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_dept: Option<&'a str>,
    hash: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_versions_decode_from_either_encoding_and_refuse_others() {
        let version = RecordVersion {
            record: RecordId(7),
            version: 2,
            recorded_at: "2026-12-03T08:00:00Z".parse().unwrap(),
            batch: BatchId(3),
            source_dept: Some("市场监督管理局".into()),
            hash: "abc".into(),
            content: {
                let mut content = crate::model::tests::list_entry("2024-03-01", Some("2027-03-01"), None);
                content.document_number = Some("（2024）京01执123号".into());
                content.extra.insert("备注".into(), "含\"引号\"与\n换行".into());
                content
            },
        };
        let header = RecordVersionHeader {
            record: version.record,
            version: version.version,
            recorded_at: version.recorded_at,
            batch: version.batch,
            source_dept: version.source_dept.as_deref(),
            hash: &version.hash,
        };
        let binary = encode_current(&header, &version.content);
        assert_eq!(binary[0], super::super::MSGPACK);
        let decode = from_stored::<RecordVersion>;
        assert_eq!(decode(&binary).unwrap(), version);
        assert_eq!(decode(&to_json(&version)).unwrap(), version, "schema 7's JSON");
        assert!(binary.len() < to_json(&version).len(), "smaller than its JSON");
        for bad in [&b""[..], b"\x02abc", &binary[..binary.len() - 1], b"{\"record\":"] {
            assert!(matches!(decode(bad), Err(StoreError::Corrupt(_))), "{bad:?}");
        }
    }
}
