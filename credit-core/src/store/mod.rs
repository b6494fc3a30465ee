//! The credit store: subjects, their identifiers, and credit records with full, bitemporal history,
//! on any [`Engine`].
//!
//! Nothing is overwritten: a changed subject or record gets a new version; the current state is the
//! latest version. Transaction time (`recorded_at`, "what did the platform know at T") and valid time
//! ([`RecordContent::in_force_on`], "what was in force on D") are both answerable.
//!
//! One file per key space, each with its reads and its one writer ([`keys`] documents every layout):
//! [`subjects`], [`records`], [`batches`] (and the change log), [`checks`] (the check log and feedback),
//! [`feed`], [`cases`], [`stats`], [`audit_chain`]. Every write runs in a [`BatchGuard`]; [`journal`]
//! makes a batch atomic under a crash. Nothing here imports the domain above it.
//!
//! [`RecordContent::in_force_on`]: crate::model::RecordContent::in_force_on

pub mod audit_chain;
mod batches;
mod cases;
mod checks;
#[cfg(test)]
mod crash_tests;
mod evaluations;
mod feed;
mod journal;
/// The key layouts, documented in one place; public for tests that tamper with a store on purpose.
#[doc(hidden)]
pub mod keys;
mod migrations;
mod reach;
mod records;
mod stats;
mod subject_cache;
mod subjects;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use batches::{BatchGuard, BatchInfo, BatchStatus};
pub use evaluations::EvaluatedThrough;
pub(crate) use evaluations::{decode_stored_evaluation, stored_grade};
pub use journal::Committer;
pub use reach::CheckPage;
#[cfg(test)]
pub(crate) use records::StoredRecord;
pub use records::{CurrentPage, EncodedRecords, RecordView, RecordWrite};
pub use stats::{Counters, Stats};
use subject_cache::SubjectCache;
pub(crate) use subjects::decode_subject;

use crate::engine::{Cf, Engine, EngineError, RocksConfig, RocksEngine, WriteBatch};

/// The on-disk format this build writes. Older stores are migrated on open; newer ones are refused.
pub const SCHEMA_VERSION: u32 = 10;

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
    /// A replayed command whose sequence this store has passed: applied before (or skipped).
    #[error("batch {batch} was applied already (the next batch here is {next})")]
    AlreadyApplied { batch: u64, next: u64 },
}

/// The store over an engine. Reads are concurrent; writes go through one batch at a time.
pub struct Store<E: Engine> {
    engine: E,
    writer: Mutex<()>,
    /// Serialises check-id allocation (short, one write each). Feedback is a batch: the writer serialises it.
    /// The next check id once known (read from the store on the first append, then kept here).
    check_log: Mutex<Option<u64>>,
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
        Store::open_dir_with(dir, &RocksConfig::default())
    }

    /// [`Store::open_dir`] with RocksDB tuned by `config` (the block cache's size, the memtables').
    pub fn open_dir_with(dir: &Path, config: &RocksConfig) -> Result<Store<RocksEngine>, StoreError> {
        let store = Store::open(RocksEngine::open(dir, config)?)?;
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
            check_log: Mutex::new(None),
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

    fn next_id(&self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(match self.engine.get(Cf::Meta, key)? {
            Some(bytes) => parse_u64(&bytes)?,
            None => 1,
        })
    }

    /// Writes a consistent copy of the store to `dir` (RocksDB checkpoint: hard links where possible).
    pub fn backup(&self, dir: &Path) -> Result<(), StoreError> {
        let _lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self.engine.checkpoint(dir)?)
    }
}

/// `header`'s JSON object with one more field whose value is already JSON: a version's value is
/// serialised once, for its hash and for the stored version.
fn with_field(header: &impl Serialize, name: &str, json: &[u8]) -> Vec<u8> {
    let mut out = to_json(header);
    debug_assert_eq!(out.last(), Some(&b'}'), "headers are JSON objects with at least one field");
    out.pop();
    out.reserve(name.len() + json.len() + 5);
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(json);
    out.push(b'}');
    out
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("model types serialise")
}

pub(crate) fn from_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("undecodable value: {e}")))
}

/// The first byte of a value stored in MessagePack (a JSON value starts with `{`).
const MSGPACK: u8 = 1;

/// A value for the read path's `current` family: [`MSGPACK`], then MessagePack with named fields,
/// self-describing like JSON (optional fields and tagged enums as they are) and several times
/// faster to decode.
pub(crate) fn to_msgpack<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![MSGPACK];
    let mut serializer = rmp_serde::Serializer::new(&mut out).with_struct_map();
    // Cannot fail: model types serialise, and into a Vec.
    value.serialize(&mut serializer).expect("model types serialise");
    out
}

/// A value written by [`to_msgpack`], or JSON as older stores have it.
pub(crate) fn from_stored<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&MSGPACK, body)) => {
            rmp_serde::from_slice(body).map_err(|e| StoreError::Corrupt(format!("undecodable value: {e}")))
        }
        Some((b'{', _)) => from_json(bytes),
        _ => Err(StoreError::Corrupt("value in an unknown encoding".into())),
    }
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
