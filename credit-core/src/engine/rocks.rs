//! The RocksDB engine: one column family per key space, `WriteBatch` for atomic multi-family writes,
//! the WAL on and synced on every acknowledged batch.

use std::path::Path;

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{
    BlockBasedOptions, BlockBasedTablePinningTier, Cache, ColumnFamilyDescriptor, DB, DBCompressionType,
    DataBlockIndexType, Options, SliceTransform, WriteOptions,
};

use super::{Cf, Engine, EngineError, Op, WriteBatch};

pub struct RocksEngine {
    db: DB,
    path: String,
}

impl std::fmt::Debug for RocksEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksEngine").field("path", &self.path).finish()
    }
}

/// The evaluations family's memtable, at least.
const EVALUATIONS_WRITE_BUFFER_BYTES: usize = 128 << 20;

/// How far ahead of a bulk range scan its table files are read.
const BULK_READAHEAD_BYTES: usize = 2 << 20;

/// Tuning that matters for this workload; everything else stays at RocksDB's defaults.
#[derive(Debug, Clone)]
pub struct RocksConfig {
    /// Shared block cache for all column families.
    pub block_cache_bytes: usize,
    /// Per column family memtable size.
    pub write_buffer_bytes: usize,
}

impl Default for RocksConfig {
    fn default() -> Self {
        RocksConfig { block_cache_bytes: 256 << 20, write_buffer_bytes: 32 << 20 }
    }
}

impl RocksEngine {
    /// Opens (creating when missing) the store in `path`. A second process gets [`EngineError::Locked`].
    pub fn open(path: &Path, config: &RocksConfig) -> Result<RocksEngine, EngineError> {
        std::fs::create_dir_all(path)?;
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        db_options.set_max_background_jobs(2);
        db_options.set_keep_log_file_num(5);
        // Sync the WAL and table files in the background as they grow, so the fsync that acknowledges
        // a batch has little left to write and does not stall the writer.
        db_options.set_wal_bytes_per_sync(1 << 20);
        db_options.set_bytes_per_sync(1 << 20);
        // Import chunks are written without the WAL (their undo journal makes them safe to lose): flushes
        // must then land every family's part of a write together, or a crash could keep half a chunk.
        db_options.set_atomic_flush(true);
        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        let families = Cf::ALL.iter().map(|cf| {
            let mut block = BlockBasedOptions::default();
            block.set_block_cache(&cache);
            block.set_bloom_filter(10.0, false);
            // Index and filter blocks live in the block cache (their memory is counted there), at high
            // priority and pinned for as long as their table is open: a point read never reads them
            // from the file again (a lookup over 1 M subjects spent most of its CPU re-reading and
            // re-checksumming them when they were evicted with the data blocks).
            block.set_cache_index_and_filter_blocks(true);
            block.set_cache_index_and_filter_blocks_with_high_priority(true);
            block.set_pin_l0_filter_and_index_blocks_in_cache(true);
            block.set_unpartitioned_pinning_tier(BlockBasedTablePinningTier::All);
            // A hash index inside each data block: a point read finds its key without a binary search.
            block.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
            block.set_data_block_hash_ratio(0.75);
            let mut options = Options::default();
            options.set_block_based_table_factory(&block);
            options.set_write_buffer_size(if *cf == Cf::Evaluations {
                // An evaluation run writes a value per subject in one batch (hundreds of MB for a
                // million): fewer, larger flushes of this family, and with atomic flush, of all the others.
                config.write_buffer_bytes.max(EVALUATIONS_WRITE_BUFFER_BYTES)
            } else {
                config.write_buffer_bytes
            });
            // Most reads while importing look for keys that do not exist yet (new identifiers, undo
            // entries): a whole-key bloom filter on the memtable answers those without walking it.
            options.set_memtable_whole_key_filtering(true);
            options.set_memtable_prefix_bloom_ratio(0.1);
            options.set_compression_type(DBCompressionType::Lz4);
            // LZ4 on every level: with dynamic level sizes most compactions write the last level, and
            // zstd there took a tenth of the CPU of an import on 2 cores, for about a fifth less disk.
            // (Level 0 uncompressed was slower: flushes then write several times the bytes.)
            options.set_bottommost_compression_type(DBCompressionType::Lz4);
            if scanned_by_subject(*cf) {
                // A subject's keys share their first eight bytes (its id): table files keep a bloom
                // filter of those prefixes too, so the seek of a subject's scan skips every level that
                // has none of its keys instead of reading a data block in each.
                options.set_prefix_extractor(SliceTransform::create_fixed_prefix(SUBJECT_PREFIX_BYTES));
            }
            ColumnFamilyDescriptor::new(cf.name(), options)
        });
        let db = DB::open_cf_descriptors(&db_options, path, families).map_err(|e| {
            let message = e.to_string();
            if message.contains("LOCK") || message.contains("lock") {
                EngineError::Locked { path: path.display().to_string() }
            } else {
                EngineError::Engine(message)
            }
        })?;
        Ok(RocksEngine { db, path: path.display().to_string() })
    }

    /// Acknowledged means on disk: with `Durability::Synced`, the WAL is synced before this returns.
    fn write_with(&self, batch: WriteBatch, durability: Durability) -> Result<(), EngineError> {
        let mut rocks_batch = rocksdb::WriteBatch::default();
        // Memtable inserts in key order reuse the skiplist position of the previous insert; the sort is
        // stable, so of two writes to one key the later still wins.
        let mut ops: Vec<&Op> = batch.ops().iter().collect();
        ops.sort_by(|a, b| (a.cf(), a.key()).cmp(&(b.cf(), b.key())));
        for op in ops {
            match op {
                Op::Put { cf, key, value } => rocks_batch.put_cf(self.handle(*cf)?, key, value),
                Op::Delete { cf, key } => rocks_batch.delete_cf(self.handle(*cf)?, key),
            }
        }
        let mut options = WriteOptions::default();
        match durability {
            Durability::Synced => options.set_sync(true),
            Durability::Logged => {}
            Durability::Unlogged => options.disable_wal(true),
        }
        self.db.write_opt(rocks_batch, &options).map_err(engine_error)
    }

    fn handle(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, EngineError> {
        self.db.cf_handle(cf.name()).ok_or_else(|| EngineError::Engine(format!("column family {} missing", cf.name())))
    }
}

impl Drop for RocksEngine {
    /// Writes the memtables out on a clean close, so the next open does not replay them from the WAL
    /// (seconds, after a large import). Losing this to a crash loses nothing: the WAL still has it all.
    fn drop(&mut self) {
        for cf in Cf::ALL {
            if let Some(handle) = self.db.cf_handle(cf.name())
                && let Err(error) = self.db.flush_cf(handle)
            {
                tracing::warn!(family = cf.name(), %error, "flush on close failed; the wal will be replayed");
            }
        }
    }
}

/// How far a write has gone when it returns.
#[derive(Debug, Clone, Copy)]
enum Durability {
    /// In the WAL, synced to disk: survives a power loss.
    Synced,
    /// In the WAL, in the page cache: survives a crash of the process.
    Logged,
    /// In the memtable only, until the next flush.
    Unlogged,
}

fn engine_error(e: rocksdb::Error) -> EngineError {
    EngineError::Engine(e.to_string())
}

/// Length of a subject id at the start of a key (big-endian u64).
const SUBJECT_PREFIX_BYTES: usize = 8;

/// Families whose keys begin with a subject id and that are read a subject at a time on the lookup
/// and check paths (its current records, list entries and related persons).
fn scanned_by_subject(cf: Cf) -> bool {
    matches!(cf, Cf::Current | Cf::SubjectRecords | Cf::ListEntries | Cf::Related)
}

/// The first key after every key starting with `prefix` (none: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl RocksEngine {
    /// Visits keys from `start` on with a raw iterator: no copy of each key and value.
    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        options: rocksdb::ReadOptions,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let mut iter = self.db.raw_iterator_cf_opt(self.handle(cf)?, options);
        iter.seek(start);
        while let (Some(k), Some(v)) = (iter.key(), iter.value()) {
            if !visit(k, v) {
                return Ok(());
            }
            iter.next();
        }
        iter.status().map_err(engine_error)
    }
}

impl Engine for RocksEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        // Pinned: one copy out of the memtable or block cache instead of two.
        let pinned = self.db.get_pinned_cf(self.handle(cf)?, key).map_err(engine_error)?;
        Ok(pinned.map(|value| value.to_vec()))
    }

    fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, EngineError> {
        let values = self.db.batched_multi_get_cf(self.handle(cf)?, keys, false);
        values.into_iter().map(|value| Ok(value.map_err(engine_error)?.map(|v| v.to_vec()))).collect()
    }

    fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        if prefix.is_empty() {
            // The whole family: a bulk read.
            return self.scan_range(cf, prefix, None, visit);
        }
        // Bounded: the iterator stops at the prefix's end instead of reading into the next keys' blocks.
        let mut options = rocksdb::ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            options.set_iterate_upper_bound(end);
        }
        if scanned_by_subject(cf) && prefix.len() >= SUBJECT_PREFIX_BYTES {
            // Within one subject's keys: the prefix filters may skip table files.
            options.set_prefix_same_as_start(true);
        } else {
            options.set_total_order_seek(true);
        }
        self.scan(cf, prefix, options, &mut |k, v| k.starts_with(prefix) && visit(k, v))
    }

    fn scan_from(&self, cf: Cf, start: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), EngineError> {
        // Across prefixes: every key in order, whatever the family's prefix filters say.
        let mut options = rocksdb::ReadOptions::default();
        options.set_total_order_seek(true);
        self.scan(cf, start, options, visit)
    }

    fn scan_range(
        &self,
        cf: Cf,
        start: &[u8],
        end: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let mut options = rocksdb::ReadOptions::default();
        options.set_total_order_seek(true);
        if let Some(end) = end {
            options.set_iterate_upper_bound(end.to_vec());
        }
        // Read once, in order: the blocks are not worth a place in the cache, and larger reads ahead
        // of the iterator cost fewer calls into the file system.
        options.fill_cache(false);
        options.set_readahead_size(BULK_READAHEAD_BYTES);
        self.scan(cf, start, options, visit)
    }

    fn write(&self, batch: WriteBatch) -> Result<(), EngineError> {
        self.write_with(batch, Durability::Synced)
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<(), EngineError> {
        self.write_with(batch, Durability::Logged)
    }

    fn write_unlogged(&self, batch: WriteBatch) -> Result<(), EngineError> {
        self.write_with(batch, Durability::Unlogged)
    }

    /// One atomic flush of every family: the unlogged writes land in table files together.
    fn persist(&self) -> Result<(), EngineError> {
        let handles = Cf::ALL.iter().map(|cf| self.handle(*cf)).collect::<Result<Vec<_>, _>>()?;
        let mut options = rocksdb::FlushOptions::default();
        options.set_wait(true);
        self.db.flush_cfs_opt(&handles, &options).map_err(engine_error)
    }

    fn checkpoint(&self, dir: &Path) -> Result<(), EngineError> {
        self.db.flush_wal(true).map_err(engine_error)?;
        let checkpoint = Checkpoint::new(&self.db).map_err(engine_error)?;
        checkpoint.create_checkpoint(dir).map_err(engine_error)
    }

    fn size_on_disk(&self) -> u64 {
        Cf::ALL
            .iter()
            .filter_map(|cf| {
                let handle = self.db.cf_handle(cf.name())?;
                self.db.property_int_value_cf(handle, "rocksdb.total-sst-files-size").ok().flatten()
            })
            .sum()
    }
}
