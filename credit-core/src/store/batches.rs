//! Batches: every write runs in one, all or nothing ([`super::journal`] makes it so under a crash), and
//! the change log names the subjects each committed batch touched.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::journal::{self, BatchWriter, Committer};
use super::subject_cache::SubjectCache;
use super::{Counters, Store, StoreError, from_json, keys, to_json};
use crate::engine::{Cf, Engine, WriteBatch};
use crate::model::{BatchId, SubjectId};

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

impl<E: Engine> Store<E> {
    pub(super) fn recover(&self) -> Result<(), StoreError> {
        for id in journal::unfinished_batches(&self.engine)? {
            let info = self.batch(id)?;
            if info.as_ref().is_some_and(|i| i.status == BatchStatus::Committed) {
                // Crashed after committing, before the journal was dropped: keep the batch.
                journal::drop_journal(&self.engine, id)?;
                continue;
            }
            journal::roll_back(&self.engine, id)?;
            if let Some(mut info) = info {
                info.status = BatchStatus::RolledBack;
                let mut write = WriteBatch::new();
                write.put(Cf::Meta, keys::batch(id), to_json(&info));
                self.engine.write(write)?;
            }
        }
        Ok(())
    }

    /// Starts a batch recorded at `at`: allocates its id and records it as running. Holds the writer
    /// lock until the returned guard is dropped.
    ///
    /// A batch reads no clock of its own: every version, feed event and case step it writes carries `at`,
    /// and its ids come from the store's counters. So what a batch writes is a function of what it is
    /// given and of the store it is applied to, the property a replica applying the same changes in the
    /// same order needs.
    pub fn begin_batch(
        &self,
        kind: &str,
        files: Vec<String>,
        source_dept: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<BatchGuard<'_, E>, StoreError> {
        self.begin_batch_as(None, kind, files, source_dept, at)
    }

    /// Starts a batch as [`Store::begin_batch`] does, under the id `id` when one is given: a command
    /// replayed from another store keeps the sequence it was applied at there. Batch ids only grow, so
    /// an id below the next free one is a command this store has applied already
    /// ([`StoreError::AlreadyApplied`]), unless that batch rolled back here and may run again; ids
    /// skipped by the origin (a step refused, a batch lost in a crash there) stay unused here too.
    pub fn begin_batch_as(
        &self,
        id: Option<BatchId>,
        kind: &str,
        files: Vec<String>,
        source_dept: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<BatchGuard<'_, E>, StoreError> {
        let lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let cache_fence = CacheFence::new(&self.subject_cache);
        let next = self.next_id(keys::NEXT_BATCH)?;
        let id = match id {
            None => BatchId(next),
            Some(id) if id.0 >= next && id.0 < u64::MAX => id,
            // A batch that rolled back here left nothing behind: it may run again (a replica whose
            // stream of an import broke off gets the whole import again).
            Some(id) if self.batch(id)?.is_some_and(|b| b.status == BatchStatus::RolledBack) => id,
            Some(id) => return Err(StoreError::AlreadyApplied { batch: id.0, next }),
        };
        let info =
            BatchInfo { id, started_at: at, kind: kind.to_string(), files, source_dept, status: BatchStatus::Running };
        let mut write = WriteBatch::new();
        write.put(Cf::Meta, keys::NEXT_BATCH, (id.0 + 1).max(next).to_string());
        write.put(Cf::Meta, keys::batch(id), to_json(&info));
        self.engine.write(write)?;
        let next_subject = self.next_id(keys::NEXT_SUBJECT)?;
        Ok(BatchGuard {
            store: self,
            writer: BatchWriter::new(&self.engine, id),
            info,
            counters: self.counters()?,
            next_subject,
            next_record: self.next_id(keys::NEXT_RECORD)?,
            next_feed: self.next_id(keys::NEXT_FEED)?,
            touched: foldhash::HashSet::default(),
            first_subject: next_subject,
            reach_changes: super::reach::ReachChanges::default(),
            ended: false,
            _cache_fence: cache_fence,
            _lock: lock,
        })
    }

    pub fn batch(&self, id: BatchId) -> Result<Option<BatchInfo>, StoreError> {
        self.engine.get(Cf::Meta, &keys::batch(id))?.map(|b| from_json(&b)).transpose()
    }

    /// Subjects changed by committed batches after `after` (none: every batch), in batch order, with the
    /// last such batch. A running batch's changes are not included.
    pub fn changes_after(&self, after: Option<BatchId>) -> Result<(Vec<SubjectId>, Option<BatchId>), StoreError> {
        let (entries, last) = self.changes_by_batch_after(after)?;
        Ok((entries.into_iter().map(|(_, subject)| subject).collect(), last))
    }

    /// [`Store::changes_after`], each subject with the batch that changed it.
    #[allow(clippy::type_complexity)]
    pub fn changes_by_batch_after(
        &self,
        after: Option<BatchId>,
    ) -> Result<(Vec<(BatchId, SubjectId)>, Option<BatchId>), StoreError> {
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
        let subjects = entries.into_iter().filter(|(b, _)| committed.contains(b)).collect();
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
}

/// A running batch: the writer, its info and the counters it updates. Dropping it without
/// [`BatchGuard::commit`] leaves the batch to be rolled back (now by `abort`, or on the next open).
pub struct BatchGuard<'s, E: Engine> {
    store: &'s Store<E>,
    pub(super) writer: BatchWriter<'s>,
    pub(super) info: BatchInfo,
    pub(super) counters: Counters,
    /// Id counters, kept here and written with the commit: ids a rolled-back batch used are free again,
    /// because nothing it wrote survives.
    pub(super) next_subject: u64,
    pub(super) next_record: u64,
    /// The sequence number the batch's next feed event gets; the feed's end moves with the commit.
    pub(super) next_feed: u64,
    /// Subjects this batch changed, each written once to the change log.
    pub(super) touched: foldhash::HashSet<SubjectId>,
    /// The first subject id this batch gives out: subjects from here on are its own.
    pub(super) first_subject: u64,
    /// What the batch changed that checks' reaches depend on, rebuilt before it commits.
    pub(super) reach_changes: super::reach::ReachChanges,
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
    /// What the batch is: its id, kind, files, department and when it started.
    pub fn info(&self) -> &BatchInfo {
        &self.info
    }

    /// Writes flushed chunks on `committer`'s thread while the next ones are built.
    pub fn set_committer(&mut self, committer: Committer) {
        self.writer.set_committer(committer);
    }

    /// Waits for the chunk in flight and stops the committer; its error, if writing failed.
    pub fn stop_committer(&mut self) -> Result<(), StoreError> {
        self.writer.stop_committer()
    }

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

    /// Commits: the counters and the batch's `committed` mark land with the last chunk.
    pub fn commit(mut self) -> Result<BatchInfo, StoreError> {
        self.rebuild_reaches()?;
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
