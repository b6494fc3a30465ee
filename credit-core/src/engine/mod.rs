//! Storage behind a small trait, so the engine can change and one test suite runs against every
//! implementation (in the spirit of TiKV's `engine_traits`).
//!
//! The store above needs only: point reads, ordered prefix scans, atomic multi-family batches that are
//! durable once `write` returns, and a consistent copy for backups.

mod memory;
pub mod rocks;

#[cfg(test)]
mod conformance;

use std::path::Path;

pub use memory::MemoryEngine;
pub use rocks::{RocksConfig, RocksEngine};

/// The column families (key spaces) of the store. Each has its own key layout, documented in `store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cf {
    /// Schema version, id counters, import batches.
    Meta,
    /// Subject id → current subject.
    Subjects,
    /// Subject id + version → a subject version (its history).
    SubjectVersions,
    /// Identifier kind + value, or division + name → subject id.
    Idents,
    /// Record id → record head (subject, category, latest version).
    Records,
    /// Record id + version → record version.
    Versions,
    /// Natural key of a record (category, document number, subject, …) → record id.
    RecordKeys,
    /// Subject id + record id → nothing: a subject's records.
    SubjectRecords,
    /// Import batch id + sequence → undo entry, kept until the batch commits.
    Journal,
    /// Subject id + record id → the current version of a list entry, for joint checks (schema 2).
    ListEntries,
    /// Person subject id + organisation subject id + role → nothing: where a person holds a role (schema 2).
    Related,
    /// Check id → a joint check as answered (schema 2).
    Checks,
    /// Check id + sequence → feedback on a measure of that check (schema 2).
    Feedback,
    /// Batch id + subject id → nothing: subjects a committed batch changed, for indexes that follow the
    /// store (schema 3).
    Changes,
    /// Repair and objection cases: `c` + case id → case, `v` + case id + version → its steps, `r` +
    /// record id + case id → nothing (schema 4).
    Cases,
    /// Feed sequence number → change event, for departments that act on changes (schema 4).
    Feed,
    /// The hash-chained audit log, its subject index and its signed checkpoints (schema 5).
    Audit,
    /// Subject id + record id → the record's current version: a subject's records in force as known now,
    /// read with one seek (schema 7).
    Current,
    /// Subject id → its latest stored evaluation, for grade changes and distributions (schema 9).
    Evaluations,
}

impl Cf {
    /// Every family. The position is the family's code in undo journals: only ever append.
    pub const ALL: [Cf; 19] = [
        Cf::Meta,
        Cf::Subjects,
        Cf::SubjectVersions,
        Cf::Idents,
        Cf::Records,
        Cf::Versions,
        Cf::RecordKeys,
        Cf::SubjectRecords,
        Cf::Journal,
        Cf::ListEntries,
        Cf::Related,
        Cf::Checks,
        Cf::Feedback,
        Cf::Changes,
        Cf::Cases,
        Cf::Feed,
        Cf::Audit,
        Cf::Current,
        Cf::Evaluations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Subjects => "subjects",
            Cf::SubjectVersions => "subject_versions",
            Cf::Idents => "idents",
            Cf::Records => "records",
            Cf::Versions => "versions",
            Cf::RecordKeys => "record_keys",
            Cf::SubjectRecords => "subject_records",
            Cf::Journal => "journal",
            Cf::ListEntries => "list_entries",
            Cf::Related => "related",
            Cf::Checks => "checks",
            Cf::Feedback => "feedback",
            Cf::Changes => "changes",
            Cf::Cases => "cases",
            Cf::Feed => "feed",
            Cf::Audit => "audit",
            Cf::Current => "current",
            Cf::Evaluations => "evaluations",
        }
    }
}

/// One mutation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { cf: Cf, key: Vec<u8>, value: Vec<u8> },
    Delete { cf: Cf, key: Vec<u8> },
}

/// Mutations applied atomically, across column families: all of them or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<Op>,
}

impl Op {
    pub fn cf(&self) -> Cf {
        match self {
            Op::Put { cf, .. } | Op::Delete { cf, .. } => *cf,
        }
    }

    pub fn key(&self) -> &[u8] {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    pub fn with_capacity(ops: usize) -> WriteBatch {
        WriteBatch { ops: Vec::with_capacity(ops) }
    }

    pub fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put { cf, key: key.into(), value: value.into() });
    }

    pub fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete { cf, key: key.into() });
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Failures of the storage engine. None of them is the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("data directory {path} is in use by another process")]
    Locked { path: String },
    #[error("storage engine: {0}")]
    Engine(String),
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// What the store needs from a key-value engine.
pub trait Engine: Send + Sync + 'static {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError>;

    /// The values of many keys (in any order), in the order of `keys`: for bulk reads, where one call
    /// finds neighbouring keys in the same block once.
    fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, EngineError> {
        keys.iter().map(|key| self.get(cf, key)).collect()
    }

    /// Calls `visit` with each key starting with `prefix`, in key order, until it returns `false`. An
    /// empty prefix reads the whole family, as [`Engine::scan_range`] does.
    fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError>;

    /// Calls `visit` with each key from `start` on, in key order, until it returns `false`.
    fn scan_from(&self, cf: Cf, start: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), EngineError>;

    /// Calls `visit` with each key from `start` up to `end` (not included; `None`: to the last), in key
    /// order, until it returns `false`: a bulk read of a whole range, whose blocks an engine with a
    /// cache does not keep (they would push out what point reads use).
    fn scan_range(
        &self,
        cf: Cf,
        start: &[u8],
        end: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        self.scan_from(cf, start, &mut |k, v| end.is_none_or(|end| k < end) && visit(k, v))
    }

    /// Applies the batch atomically; when this returns `Ok`, the batch survives a crash.
    fn write(&self, batch: WriteBatch) -> Result<(), EngineError>;

    /// Applies the batch atomically without waiting for the disk: it survives a crash of the process
    /// (`kill -9`), not necessarily a power loss. For logs that are not acknowledged data (the check log).
    fn write_unsynced(&self, batch: WriteBatch) -> Result<(), EngineError> {
        self.write(batch)
    }

    /// Applies the batch atomically without logging it, for bulk writes that keep their own undo
    /// journal: it becomes durable with the next [`Engine::persist`]. A crash before that keeps or loses
    /// each such batch whole, never a part of one, and keeps them in order (a kept batch implies every
    /// earlier one was kept).
    fn write_unlogged(&self, batch: WriteBatch) -> Result<(), EngineError> {
        self.write(batch)
    }

    /// Makes every earlier unlogged write durable.
    fn persist(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Writes a consistent copy of the whole store to `dir` (which must not exist yet).
    fn checkpoint(&self, dir: &Path) -> Result<(), EngineError>;

    /// Approximate bytes on disk (0 for engines without one).
    fn size_on_disk(&self) -> u64 {
        0
    }
}

/// Key and value pairs of a scan.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Convenience: collects a prefix scan.
pub fn collect_prefix(engine: &dyn Engine, cf: Cf, prefix: &[u8]) -> Result<Pairs, EngineError> {
    let mut out = Vec::new();
    engine.scan_prefix(cf, prefix, &mut |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        true
    })?;
    Ok(out)
}
