//! The credit store: subjects, their identifiers, and credit records with full, bitemporal history,
//! on any [`Engine`].
//!
//! Nothing is overwritten: a changed subject or record gets a new version; the current state is the
//! latest version. Transaction time (`recorded_at`, "what did the platform know at T") and valid time
//! ([`RecordContent::in_force_on`], "what was in force on D") are both answerable.

pub mod audit_chain;
mod batch;
#[cfg(test)]
mod crash_tests;
pub mod keys;
mod migrations;
mod subject_cache;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use batch::{BatchWriter, Committer};
use subject_cache::{Lookup, SubjectCache};

use crate::engine::{Cf, Engine, EngineError, RocksConfig, RocksEngine, WriteBatch, collect_prefix};
use crate::ident::normalize_code;
use crate::model::feed::{Change, FeedEvent};
use crate::model::{
    BatchId, IdentifierKind, ListEntryIndex, RecordCategory, RecordContent, RecordDetails, RecordHead, RecordId,
    RecordVersion, RelatedRole, Subject, SubjectId, SubjectVersion,
};

/// The on-disk format this build writes. Older stores are migrated on open; newer ones are refused.
pub const SCHEMA_VERSION: u32 = 6;

/// Memory for decoded current subjects ([`Store::with_subject_cache_bytes`]).
pub const DEFAULT_SUBJECT_CACHE_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the store was written by a newer version (schema {found}; this build reads up to {supported})")]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

/// What an import batch was and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInfo {
    pub id: BatchId,
    pub started_at: DateTime<Utc>,
    pub kind: String,
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dept: Option<String>,
    pub status: BatchStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Running,
    Committed,
    RolledBack,
}

/// Counts kept current by every write, so `stats` needs no scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub subjects: u64,
    pub provisional_subjects: u64,
    pub subject_versions: u64,
    pub records: u64,
    pub versions: u64,
    pub records_by_category: BTreeMap<String, u64>,
}

/// `credit-server stats`: counts, plus list entries in force today (computed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub subjects: u64,
    pub provisional_subjects: u64,
    pub subject_versions: u64,
    pub records: u64,
    pub versions: u64,
    pub list_entries_active: u64,
    pub records_by_category: BTreeMap<String, u64>,
    pub batches: u64,
    pub schema_version: u32,
    pub size_on_disk_bytes: u64,
}

/// A record as seen at some transaction time: its head and the version then current.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordView {
    pub id: RecordId,
    pub category: RecordCategory,
    pub versions: u32,
    pub current: RecordVersion,
}

/// A record's id, head and current version as stored (JSON).
pub(crate) type StoredRecord = (RecordId, RecordHead, Vec<u8>);

/// A subject as [`Store::scan_subject_bytes`] found it.
pub(crate) fn decode_subject(bytes: &[u8]) -> Result<Subject, StoreError> {
    from_json(bytes)
}

/// The store over an engine. Reads are concurrent; writes go through one batch at a time.
pub struct Store<E: Engine> {
    engine: E,
    writer: Mutex<()>,
    /// Serialises check-id allocation and feedback sequence numbers (short, one write each).
    check_log: Mutex<()>,
    subject_cache: SubjectCache,
    /// The audit log's group commit (its entries live in `Cf::Audit`).
    audit: audit_chain::Appender,
    /// Where every audit checkpoint is also appended, outside the store (see [`audit_chain`]).
    checkpoint_mirror: Option<PathBuf>,
    /// Report numbers reserved and not yet handed out: `(next, end)`.
    report_block: Mutex<(u64, u64)>,
}

/// Report numbers reserved per synced write.
pub const REPORT_BLOCK: u64 = 1_000;

impl<E: Engine> std::fmt::Debug for Store<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store<RocksEngine> {
    /// Opens (creating when missing) the RocksDB store in `dir`.
    pub fn open_dir(dir: &Path) -> Result<Store<RocksEngine>, StoreError> {
        let store = Store::open(RocksEngine::open(dir, &RocksConfig::default())?)?;
        Ok(store.with_checkpoint_mirror(Some(dir.join(crate::model::audit::CHECKPOINT_FILE))))
    }
}

impl<E: Engine> Store<E> {
    /// Opens a store on `engine`: checks and migrates the schema, and rolls back any batch a crash
    /// interrupted.
    pub fn open(engine: E) -> Result<Store<E>, StoreError> {
        let store = Store {
            engine,
            writer: Mutex::new(()),
            check_log: Mutex::new(()),
            subject_cache: SubjectCache::new(DEFAULT_SUBJECT_CACHE_BYTES),
            audit: audit_chain::Appender::default(),
            checkpoint_mirror: None,
            report_block: Mutex::new((0, 0)),
        };
        store.check_schema()?;
        store.recover()?;
        Ok(store)
    }

    /// Sets the memory for decoded current subjects (0: decode on every read).
    pub fn with_subject_cache_bytes(mut self, bytes: u64) -> Store<E> {
        self.subject_cache = SubjectCache::new(bytes);
        self
    }

    /// Where audit checkpoints are mirrored, outside the store (a file on other storage, ideally);
    /// `None`: nowhere. A store opened with [`Store::open_dir`] mirrors to `audit-checkpoints.jsonl`
    /// in its directory.
    pub fn with_checkpoint_mirror(mut self, path: Option<PathBuf>) -> Store<E> {
        self.checkpoint_mirror = path;
        self
    }

    pub(crate) fn checkpoint_mirror(&self) -> Option<&Path> {
        self.checkpoint_mirror.as_deref()
    }

    /// The tamper-evident audit log.
    pub fn audit(&self) -> audit_chain::AuditLog<'_, E> {
        audit_chain::AuditLog::new(self)
    }

    pub(crate) fn appender(&self) -> &audit_chain::Appender {
        &self.audit
    }

    /// Allocates the next report number's sequence. Numbers are reserved [`REPORT_BLOCK`] at a time
    /// with one synced write, and handed out from memory: a number is never handed out twice, and a
    /// report (anyone may ask for one) costs no synced write of its own. A restart skips what was left
    /// of the block.
    pub fn next_report_sequence(&self) -> Result<u64, StoreError> {
        let mut block = self.report_block.lock().unwrap_or_else(|e| e.into_inner());
        if block.0 == block.1 {
            let start = self.next_id(keys::NEXT_REPORT)?;
            let mut write = WriteBatch::new();
            write.put(Cf::Meta, keys::NEXT_REPORT, (start + REPORT_BLOCK).to_string());
            self.engine.write(write)?;
            *block = (start, start + REPORT_BLOCK);
        }
        block.0 += 1;
        Ok(block.0 - 1)
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    pub fn into_engine(self) -> E {
        self.engine
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let found = match self.engine.get(Cf::Meta, keys::SCHEMA_VERSION)? {
            Some(bytes) => parse_u64(&bytes)? as u32,
            None => {
                let mut batch = WriteBatch::new();
                batch.put(Cf::Meta, keys::SCHEMA_VERSION, SCHEMA_VERSION.to_string());
                self.engine.write(batch)?;
                return Ok(());
            }
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
        }
        for version in found..SCHEMA_VERSION {
            let migrate = migrations::MIGRATIONS
                .get(version as usize - 1)
                .ok_or_else(|| StoreError::Corrupt(format!("no migration from schema {version}")))?;
            migrate(&self.engine)?;
            let mut batch = WriteBatch::new();
            batch.put(Cf::Meta, keys::SCHEMA_VERSION, (version + 1).to_string());
            self.engine.write(batch)?;
        }
        Ok(())
    }

    fn recover(&self) -> Result<(), StoreError> {
        for id in batch::unfinished_batches(&self.engine)? {
            let info = self.batch(id)?;
            if info.as_ref().is_some_and(|i| i.status == BatchStatus::Committed) {
                // Crashed after committing, before the journal was dropped: keep the batch.
                batch::drop_journal(&self.engine, id)?;
                continue;
            }
            batch::roll_back(&self.engine, id)?;
            if let Some(mut info) = info {
                info.status = BatchStatus::RolledBack;
                let mut write = WriteBatch::new();
                write.put(Cf::Meta, keys::batch(id), to_json(&info));
                self.engine.write(write)?;
            }
        }
        Ok(())
    }

    /// Starts a batch: allocates its id and records it as running. Holds the writer lock until the
    /// returned guard is dropped.
    pub fn begin_batch(
        &self,
        kind: &str,
        files: Vec<String>,
        source_dept: Option<String>,
    ) -> Result<BatchGuard<'_, E>, StoreError> {
        let lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let cache_fence = CacheFence::new(&self.subject_cache);
        let id = BatchId(self.next_id(keys::NEXT_BATCH)?);
        let info = BatchInfo {
            id,
            started_at: Utc::now(),
            kind: kind.to_string(),
            files,
            source_dept,
            status: BatchStatus::Running,
        };
        let mut write = WriteBatch::new();
        write.put(Cf::Meta, keys::NEXT_BATCH, (id.0 + 1).to_string());
        write.put(Cf::Meta, keys::batch(id), to_json(&info));
        self.engine.write(write)?;
        Ok(BatchGuard {
            store: self,
            writer: BatchWriter::new(&self.engine, id),
            info,
            counters: self.counters()?,
            next_subject: self.next_id(keys::NEXT_SUBJECT)?,
            next_record: self.next_id(keys::NEXT_RECORD)?,
            next_feed: self.next_id(keys::NEXT_FEED)?,
            touched: foldhash::HashSet::default(),
            ended: false,
            _cache_fence: cache_fence,
            _lock: lock,
        })
    }

    fn next_id(&self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(match self.engine.get(Cf::Meta, key)? {
            Some(bytes) => parse_u64(&bytes)?,
            None => 1,
        })
    }

    pub fn batch(&self, id: BatchId) -> Result<Option<BatchInfo>, StoreError> {
        self.engine.get(Cf::Meta, &keys::batch(id))?.map(|b| from_json(&b)).transpose()
    }

    pub fn counters(&self) -> Result<Counters, StoreError> {
        Ok(match self.engine.get(Cf::Meta, keys::COUNTERS)? {
            Some(bytes) => from_json(&bytes)?,
            None => Counters::default(),
        })
    }

    pub fn subject(&self, id: SubjectId) -> Result<Option<Subject>, StoreError> {
        Ok(self.subject_shared(id)?.map(Arc::unwrap_or_clone))
    }

    /// The current subject, shared with the subject cache (no copy).
    pub fn subject_shared(&self, id: SubjectId) -> Result<Option<Arc<Subject>>, StoreError> {
        let ticket = match self.subject_cache.lookup(id) {
            Lookup::Hit(subject) => return Ok(Some(subject)),
            Lookup::Miss(ticket) => ticket,
        };
        let Some(bytes) = self.engine.get(Cf::Subjects, &keys::subject(id))? else {
            return Ok(None);
        };
        let subject = Arc::new(from_json::<Subject>(&bytes)?);
        self.subject_cache.offer(ticket, &subject, bytes.len());
        Ok(Some(subject))
    }

    /// Finds a subject by any identifier (unified code, organisation code, registration number, tax
    /// number, ID number), typed or pasted in any form.
    pub fn find_subject(&self, identifier: &str) -> Result<Option<Subject>, StoreError> {
        let Some(id) = self.find_subject_id(identifier)? else {
            return Ok(None);
        };
        self.subject(id)
    }

    pub fn find_subject_id(&self, identifier: &str) -> Result<Option<SubjectId>, StoreError> {
        for (kind, value) in candidate_keys(identifier) {
            if let Some(bytes) = self.engine.get(Cf::Idents, &keys::identifier(kind, &value))? {
                return Ok(Some(SubjectId(parse_id(&bytes)?)));
            }
        }
        Ok(None)
    }

    /// Subjects changed by committed batches after `after` (none: every batch), in batch order, with the
    /// last such batch. A running batch's changes are not included.
    pub fn changes_after(&self, after: Option<BatchId>) -> Result<(Vec<SubjectId>, Option<BatchId>), StoreError> {
        let start = after.map_or(0, |b| b.0 + 1);
        let mut entries = Vec::new();
        let mut scan_error = None;
        let mut batches: Vec<BatchId> = Vec::new();
        self.engine.scan_from(Cf::Changes, &start.to_be_bytes(), &mut |key, _| {
            match (keys::u64_at(key, 0), keys::u64_at(key, 8)) {
                (Some(batch), Some(subject)) => {
                    if batches.last() != Some(&BatchId(batch)) {
                        batches.push(BatchId(batch));
                    }
                    entries.push((BatchId(batch), SubjectId(subject)));
                }
                _ => scan_error = Some(StoreError::Corrupt("change log key".into())),
            }
            scan_error.is_none()
        })?;
        if let Some(e) = scan_error {
            return Err(e);
        }
        let mut committed = foldhash::HashSet::default();
        for batch in &batches {
            if self.batch(*batch)?.is_some_and(|b| b.status == BatchStatus::Committed) {
                committed.insert(*batch);
            }
        }
        let last = batches.iter().rev().find(|b| committed.contains(*b)).copied();
        let subjects = entries.into_iter().filter(|(b, _)| committed.contains(b)).map(|(_, s)| s).collect();
        Ok((subjects, last))
    }

    /// The last batch that committed, if any.
    pub fn last_committed_batch(&self) -> Result<Option<BatchId>, StoreError> {
        let next = self.next_id(keys::NEXT_BATCH)?;
        for id in (1..next).rev() {
            if self.batch(BatchId(id))?.is_some_and(|b| b.status == BatchStatus::Committed) {
                return Ok(Some(BatchId(id)));
            }
        }
        Ok(None)
    }

    /// Every current subject, in id order, until `visit` returns `false`.
    pub fn scan_subjects(&self, visit: &mut dyn FnMut(Subject) -> bool) -> Result<(), StoreError> {
        let mut failed = None;
        self.scan_subject_bytes(&mut |value| match decode_subject(value) {
            Ok(subject) => visit(subject),
            Err(e) => {
                failed = Some(e);
                false
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Every current subject as stored, in id order, for readers that decode on threads of their own
    /// ([`decode_subject`]); `visit` returns false to stop.
    pub(crate) fn scan_subject_bytes(&self, visit: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), StoreError> {
        self.engine.scan_prefix(Cf::Subjects, b"", &mut |_, value| visit(value))?;
        Ok(())
    }

    /// Every version of a subject, oldest first.
    pub fn subject_history(&self, id: SubjectId) -> Result<Vec<SubjectVersion>, StoreError> {
        collect_prefix(&self.engine, Cf::SubjectVersions, &keys::subject(id))?
            .into_iter()
            .map(|(_, v)| from_json(&v))
            .collect()
    }

    /// The subject as the platform knew it at `known_at` (`None`: now).
    pub fn subject_known_at(
        &self,
        id: SubjectId,
        known_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Subject>, StoreError> {
        let Some(known_at) = known_at else {
            return self.subject(id);
        };
        Ok(self.subject_history(id)?.into_iter().rev().find(|v| v.recorded_at <= known_at).map(|v| v.subject))
    }

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

    /// The organisations where a person holds a role, with the role.
    pub fn organisations_of(&self, person: SubjectId) -> Result<Vec<(SubjectId, RelatedRole)>, StoreError> {
        let mut out = Vec::new();
        self.engine.scan_prefix(Cf::Related, &keys::subject(person), &mut |key, _| {
            if let (Some(organisation), Some(role)) =
                (keys::u64_at(key, 8), key.get(16).and_then(|c| keys::role_of_code(*c)))
            {
                out.push((SubjectId(organisation), role));
            }
            true
        })?;
        Ok(out)
    }

    /// Allocates `count` consecutive check ids and writes the entries `build` makes for them (given
    /// the first id) to the check log, in one write that survives a process crash without waiting for
    /// the disk. Returns the first id.
    pub fn append_checks(
        &self,
        count: usize,
        build: impl FnOnce(u64) -> Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<u64, StoreError> {
        let _lock = self.check_log.lock().unwrap_or_else(|e| e.into_inner());
        let first = self.next_id(keys::NEXT_CHECK)?;
        let mut write = WriteBatch::new();
        for (key, value) in build(first) {
            write.put(Cf::Checks, key, value);
        }
        write.put(Cf::Meta, keys::NEXT_CHECK, (first + count as u64).to_string());
        self.engine.write_unsynced(write)?;
        Ok(first)
    }

    pub fn check_entry(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.engine.get(Cf::Checks, &keys::check(id))?)
    }

    /// Visits every check-log entry in id order until `visit` returns `false`.
    pub fn scan_checks(&self, visit: &mut dyn FnMut(u64, &[u8]) -> bool) -> Result<(), StoreError> {
        self.scan_by_check(Cf::Checks, visit)
    }

    /// Appends feedback on a check, synced (it is a department's acknowledged report). `build` gets the
    /// sequence number the entry will have.
    pub fn append_feedback(&self, check: u64, build: impl FnOnce(u32) -> Vec<u8>) -> Result<u32, StoreError> {
        let _lock = self.check_log.lock().unwrap_or_else(|e| e.into_inner());
        let mut count = 0u32;
        self.engine.scan_prefix(Cf::Feedback, &keys::check(check), &mut |_, _| {
            count += 1;
            true
        })?;
        let mut write = WriteBatch::new();
        write.put(Cf::Feedback, keys::feedback(check, count), build(count));
        self.engine.write(write)?;
        Ok(count)
    }

    /// The feedback entries on one check, in sequence order.
    pub fn feedback_entries(&self, check: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(collect_prefix(&self.engine, Cf::Feedback, &keys::check(check))?.into_iter().map(|(_, v)| v).collect())
    }

    /// Visits every feedback entry (check id order, then sequence) until `visit` returns `false`.
    pub fn scan_feedback(&self, visit: &mut dyn FnMut(u64, &[u8]) -> bool) -> Result<(), StoreError> {
        self.scan_by_check(Cf::Feedback, visit)
    }

    /// Scans a family keyed by check id first, handing `visit` the check id of each entry.
    fn scan_by_check(&self, cf: Cf, visit: &mut dyn FnMut(u64, &[u8]) -> bool) -> Result<(), StoreError> {
        Ok(self.engine.scan_prefix(cf, b"", &mut |key, value| match keys::u64_at(key, 0) {
            Some(id) => visit(id, value),
            None => true,
        })?)
    }

    /// Counts, with list entries in force on `today` computed from the list records.
    pub fn stats(&self, today: NaiveDate) -> Result<Stats, StoreError> {
        let counters = self.counters()?;
        let mut list_ids = Vec::new();
        self.engine.scan_prefix(Cf::RecordKeys, b"list|", &mut |_, value| {
            if let Some(id) = keys::u64_at(value, 0) {
                list_ids.push(RecordId(id));
            }
            true
        })?;
        let mut list_entries_active = 0;
        for id in list_ids {
            let Some(head) = self.record_head(id)? else { continue };
            if let Some(v) = self.record_version(id, head.versions)?
                && matches!(v.content.details, RecordDetails::ListEntry { .. })
                && v.content.in_force_on(today)
            {
                list_entries_active += 1;
            }
        }
        let batches = self.next_id(keys::NEXT_BATCH)? - 1;
        Ok(Stats {
            subjects: counters.subjects,
            provisional_subjects: counters.provisional_subjects,
            subject_versions: counters.subject_versions,
            records: counters.records,
            versions: counters.versions,
            list_entries_active,
            records_by_category: counters.records_by_category,
            batches,
            schema_version: SCHEMA_VERSION,
            size_on_disk_bytes: self.engine.size_on_disk(),
        })
    }

    /// Feed events from sequence `from` on, at most `limit`, in order. Only committed events are read:
    /// the feed ends where the last committed batch left it.
    pub fn feed(&self, from: u64, limit: usize) -> Result<Vec<FeedEvent>, StoreError> {
        let end = self.next_id(keys::NEXT_FEED)?;
        let mut events = Vec::new();
        let mut failed = None;
        if from >= end || limit == 0 {
            return Ok(events);
        }
        self.engine.scan_from(Cf::Feed, &keys::feed(from), &mut |key, value| {
            if keys::u64_at(key, 0).is_none_or(|sequence| sequence >= end) {
                return false;
            }
            match from_json(value) {
                Ok(event) => events.push(event),
                Err(e) => failed = Some(e),
            }
            failed.is_none() && events.len() < limit
        })?;
        failed.map_or(Ok(events), Err)
    }

    /// The sequence number the next feed event will get (the feed's committed end).
    pub fn feed_end(&self) -> Result<u64, StoreError> {
        self.next_id(keys::NEXT_FEED)
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

    /// Writes a consistent copy of the store to `dir` (RocksDB checkpoint: hard links where possible).
    pub fn backup(&self, dir: &Path) -> Result<(), StoreError> {
        let _lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self.engine.checkpoint(dir)?)
    }
}

/// A running batch: the writer, its info and the counters it updates. Dropping it without
/// [`BatchGuard::commit`] leaves the batch to be rolled back (now by `abort`, or on the next open).
pub struct BatchGuard<'s, E: Engine> {
    store: &'s Store<E>,
    pub writer: BatchWriter<'s>,
    pub info: BatchInfo,
    pub counters: Counters,
    /// Id counters, kept here and written with the commit: ids a rolled-back batch used are free again,
    /// because nothing it wrote survives.
    next_subject: u64,
    next_record: u64,
    /// The sequence number the batch's next feed event gets; the feed's end moves with the commit.
    next_feed: u64,
    /// Subjects this batch changed, each written once to the change log.
    touched: foldhash::HashSet<SubjectId>,
    /// Committed or aborted; a guard dropped otherwise (an early return, a panic unwinding) rolls the
    /// batch back then and there, before the writer lock is released.
    ended: bool,
    /// Declared before the lock: the cache reopens before the next batch may start.
    _cache_fence: CacheFence<'s>,
    _lock: std::sync::MutexGuard<'s, ()>,
}

/// Keeps the subject cache out of the way for as long as a batch runs, however the batch ends.
struct CacheFence<'s>(&'s SubjectCache);

impl<'s> CacheFence<'s> {
    fn new(cache: &'s SubjectCache) -> CacheFence<'s> {
        cache.batch_started();
        CacheFence(cache)
    }
}

impl Drop for CacheFence<'_> {
    fn drop(&mut self) {
        self.0.batch_ended();
    }
}

impl<E: Engine> std::fmt::Debug for BatchGuard<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchGuard").field("info", &self.info).finish_non_exhaustive()
    }
}

impl<'s, E: Engine> BatchGuard<'s, E> {
    pub fn store(&self) -> &'s Store<E> {
        self.store
    }

    /// Allocates the next subject id.
    pub fn next_subject_id(&mut self) -> SubjectId {
        self.next_subject += 1;
        SubjectId(self.next_subject - 1)
    }

    /// Notes in the change log that the batch changed `subject` (its data, records or list entries).
    pub fn touch(&mut self, subject: SubjectId) -> Result<(), StoreError> {
        if !self.touched.insert(subject) {
            return Ok(());
        }
        self.writer.put_new(Cf::Changes, keys::change(self.info.id, subject), Vec::new())
    }

    pub fn next_record_id(&mut self) -> RecordId {
        self.next_record += 1;
        RecordId(self.next_record - 1)
    }

    /// Appends a change event to the feed. It becomes readable when the batch commits, and disappears
    /// with everything else the batch wrote when it does not.
    pub fn emit(&mut self, change: Change) -> Result<u64, StoreError> {
        let sequence = self.next_feed;
        self.next_feed += 1;
        let event = FeedEvent { sequence, at: Utc::now(), batch: self.info.id, change };
        self.writer.put_new(Cf::Feed, keys::feed(sequence), to_json(&event))?;
        Ok(sequence)
    }

    /// The feed's end if the batch committed now.
    pub fn next_feed_sequence(&self) -> u64 {
        self.next_feed
    }

    /// Writes `content` as the next version of record `id` and returns that version: the record's
    /// history, its head, its list-entry index and the change log all move together.
    pub fn amend_record(&mut self, id: RecordId, content: &RecordContent) -> Result<RecordVersion, StoreError> {
        let mut head: RecordHead = self
            .writer
            .get(Cf::Records, &keys::record(id))?
            .map(|b| from_json(&b))
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt(format!("record {id} has no head")))?;
        let content_json = to_json(content);
        head.versions += 1;
        head.latest_hash = crate::model::hash_json(&content_json);
        let version = RecordVersion {
            record: id,
            version: head.versions,
            recorded_at: Utc::now(),
            batch: self.info.id,
            source_dept: content.source_dept.clone(),
            hash: head.latest_hash.clone(),
            content: content.clone(),
        };
        self.write_version(&head, to_json(&version), content)?;
        Ok(version)
    }

    /// Writes a record's next version (`version`, already serialised, is version `head.versions` of
    /// `content`) with the head, the list-entry index and the change log; the first version's keys are
    /// known to be new.
    pub fn write_version(
        &mut self,
        head: &RecordHead,
        version: Vec<u8>,
        content: &RecordContent,
    ) -> Result<(), StoreError> {
        let first = head.versions == 1;
        self.writer.put_new(Cf::Versions, keys::record_version(head.id, head.versions), version)?;
        self.touch(head.subject)?;
        if let Some(entry) = ListEntryIndex::of(head.id, head.versions, content) {
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

    /// Commits: the counters and the batch's `committed` mark land with the last chunk.
    pub fn commit(mut self) -> Result<BatchInfo, StoreError> {
        let mut info = self.info.clone();
        info.status = BatchStatus::Committed;
        let mut last = WriteBatch::new();
        last.put(Cf::Meta, keys::COUNTERS, to_json(&self.counters));
        last.put(Cf::Meta, keys::NEXT_SUBJECT, self.next_subject.to_string());
        last.put(Cf::Meta, keys::NEXT_RECORD, self.next_record.to_string());
        last.put(Cf::Meta, keys::NEXT_FEED, self.next_feed.to_string());
        last.put(Cf::Meta, keys::batch(info.id), to_json(&info));
        // A failed commit leaves the batch unfinished: dropping the guard rolls it back.
        self.writer.commit(last)?;
        self.ended = true;
        self.info = info.clone();
        Ok(info)
    }

    /// Abandons the batch: undoes what was flushed and marks it rolled back.
    pub fn abort(mut self) -> Result<BatchInfo, StoreError> {
        self.roll_back()
    }

    fn roll_back(&mut self) -> Result<BatchInfo, StoreError> {
        self.ended = true;
        self.writer.abort()?;
        self.info.status = BatchStatus::RolledBack;
        let mut write = WriteBatch::new();
        write.put(Cf::Meta, keys::batch(self.info.id), to_json(&self.info));
        self.store.engine.write(write)?;
        Ok(self.info.clone())
    }
}

impl<E: Engine> Drop for BatchGuard<'_, E> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let panicking = std::thread::panicking();
        match self.roll_back() {
            Ok(info) => tracing::warn!(batch = info.id.0, panicking, "unfinished batch rolled back"),
            // The journal still holds it: the next open rolls it back.
            Err(error) => {
                tracing::error!(batch = self.info.id.0, %error, panicking, "rolling back an unfinished batch failed")
            }
        }
    }
}

/// The index keys a typed identifier could be stored under, most specific first.
fn candidate_keys(identifier: &str) -> Vec<(IdentifierKind, String)> {
    let normalized = normalize_code(identifier);
    let mut out = Vec::new();
    if let Ok(found) = crate::ident::Identifier::parse(identifier) {
        for id in std::iter::once(&found.identifier).chain(&found.alternatives) {
            out.push((id.kind(), id.as_str().to_string()));
        }
    }
    // Whatever the shape, it may be a stored tax number (never validated) or an unchecked legacy value.
    for kind in
        [IdentifierKind::Tax, IdentifierKind::Uscc, IdentifierKind::OrgCode, IdentifierKind::Gs15, IdentifierKind::Ric]
    {
        if !out.iter().any(|(k, v)| *k == kind && *v == normalized) {
            out.push((kind, normalized.clone()));
        }
    }
    out
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("model types serialise")
}

pub(crate) fn from_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("undecodable value: {e}")))
}

fn parse_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("counter is not a number".into()))
}

pub(crate) fn parse_id(bytes: &[u8]) -> Result<u64, StoreError> {
    keys::u64_at(bytes, 0).ok_or_else(|| StoreError::Corrupt("id is not 8 bytes".into()))
}
