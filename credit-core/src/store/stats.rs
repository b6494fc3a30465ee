//! Counts kept current by every write, and the `stats` figures computed from them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, Store, StoreError, from_json, keys};
use crate::engine::{Cf, Engine};
use crate::model::{RecordDetails, RecordId};

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

impl<E: Engine> Store<E> {
    pub fn counters(&self) -> Result<Counters, StoreError> {
        Ok(match self.engine.get(Cf::Meta, keys::COUNTERS)? {
            Some(bytes) => from_json(&bytes)?,
            None => Counters::default(),
        })
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
}
