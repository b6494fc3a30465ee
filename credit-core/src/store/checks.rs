//! The check log and the feedback on checks: appended, never changed.

use super::{BatchGuard, Store, StoreError, keys};
use crate::engine::{Cf, Engine, WriteBatch, collect_prefix};

impl<E: Engine> Store<E> {
    /// Allocates `count` consecutive check ids and writes the entries `build` makes for them (given
    /// the first id) to the check log, in one write that survives a process crash without waiting for
    /// the disk. Returns the first id. The next id is read from the store once, then kept in memory:
    /// this process is the only writer of its check log.
    pub fn append_checks(
        &self,
        count: usize,
        build: impl FnOnce(u64) -> Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<u64, StoreError> {
        let mut next = self.check_log.lock().unwrap_or_else(|e| e.into_inner());
        let first = match *next {
            Some(id) => id,
            None => self.next_id(keys::NEXT_CHECK)?,
        };
        let mut write = WriteBatch::new();
        for (key, value) in build(first) {
            write.put(Cf::Checks, key, value);
        }
        write.put(Cf::Meta, keys::NEXT_CHECK, (first + count as u64).to_string());
        self.engine.write_unsynced(write)?;
        // Only once written: a failed write leaves the ids to the next append.
        *next = Some(first + count as u64);
        Ok(first)
    }

    pub fn check_entry(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.engine.get(Cf::Checks, &keys::check(id))?)
    }

    /// Visits every check-log entry in id order until `visit` returns `false`.
    pub fn scan_checks(&self, visit: &mut dyn FnMut(u64, &[u8]) -> bool) -> Result<(), StoreError> {
        self.scan_by_check(Cf::Checks, visit)
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
}

impl<E: Engine> BatchGuard<'_, E> {
    /// Appends feedback on a check, landing with the batch (a department's acknowledged report, so
    /// synced). `build` gets the sequence number the entry will have; one feedback per batch.
    pub fn put_feedback(&mut self, check: u64, build: impl FnOnce(u32) -> Vec<u8>) -> Result<u32, StoreError> {
        let mut count = 0u32;
        self.store().engine.scan_prefix(Cf::Feedback, &keys::check(check), &mut |_, _| {
            count += 1;
            true
        })?;
        self.writer.put_new(Cf::Feedback, keys::feedback(check, count), build(count))?;
        Ok(count)
    }
}
