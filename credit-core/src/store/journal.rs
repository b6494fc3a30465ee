//! Writing a batch that may be larger than memory, atomically.
//!
//! Mutations are buffered and flushed to the engine in chunks. Each flushed chunk carries, in the same
//! engine write, an undo entry for every key it changed (the value before, or its absence). Committing
//! writes the last chunk together with the batch's `committed` mark and no undo entries. A batch that
//! never committed (the process was killed) is rolled back on the next open by replaying its undo
//! entries backwards, chunk by chunk. So a batch is, after any crash, either whole or absent.
//!
//! Chunks are written without the engine's log ([`Engine::write_unlogged`]): a crash may lose them, but
//! each together with its undo entry, and the commit persists them all before writing its mark.
//!
//! With a [`Committer`], a chunk is written on another thread while the next one is being built; at
//! most one chunk is in flight, and reads see it until it has landed.

use std::cell::RefCell;
use std::collections::BTreeMap;
// The overlays see every key of an import several times: a fast, seeded hash.
use foldhash::{HashMap, HashMapExt};
use std::sync::mpsc;

use crate::engine::{Cf, Engine, EngineError, WriteBatch};
use crate::model::BatchId;

use super::{StoreError, keys};

type Overlay = HashMap<(Cf, Vec<u8>), Option<Vec<u8>>>;
/// The writes of a chunk to the families a batch scans ([`scanned`]), in key order.
type Sorted = BTreeMap<(Cf, Vec<u8>), Option<Vec<u8>>>;
type Ack = mpsc::SyncSender<Result<(), EngineError>>;

/// A thread that writes chunks to the engine, in the order they come.
#[derive(Debug)]
pub struct Committer {
    jobs: mpsc::SyncSender<(WriteBatch, Ack)>,
}

impl Committer {
    /// Starts the thread in `scope`; it ends when the committer is dropped.
    pub fn spawn<'scope, 'env>(scope: &'scope std::thread::Scope<'scope, 'env>, engine: &'env dyn Engine) -> Committer {
        let (jobs, queue) = mpsc::sync_channel::<(WriteBatch, Ack)>(1);
        scope.spawn(move || {
            for (batch, ack) in queue {
                // The writer may have stopped waiting (it is dropping the batch): nothing to tell.
                let _ = ack.send(engine.write_unlogged(batch));
            }
        });
        Committer { jobs }
    }
}

/// The chunk being written by the committer, readable until it has landed.
struct Inflight {
    overlay: Overlay,
    sorted: Sorted,
    ack: mpsc::Receiver<Result<(), EngineError>>,
}

/// A batch being written: reads through it see its own unflushed writes.
pub struct BatchWriter<'e> {
    engine: &'e dyn Engine,
    id: BatchId,
    pending: WriteBatch,
    /// Latest value of each key written in the pending chunk (`None` = deleted).
    overlay: Overlay,
    /// The pending chunk's writes to the families a batch scans, in key order.
    sorted: Sorted,
    committer: Option<Committer>,
    inflight: Option<Inflight>,
    /// Identifier-index values read from the engine during the batch, kept current by the batch's own
    /// writes: a department file names the same subjects again and again.
    ident_cache: RefCell<Overlay>,
    undo: Vec<u8>,
    chunks_flushed: u64,
    chunk_ops: usize,
}

impl std::fmt::Debug for BatchWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter").field("id", &self.id).field("pending", &self.pending.len()).finish()
    }
}

/// Families a batch only appends to (versions under fresh keys) and never reads back: their values
/// stay out of the read overlay, which saves copying the largest values of an import.
fn write_only(cf: Cf) -> bool {
    matches!(cf, Cf::Versions | Cf::SubjectVersions | Cf::Feed)
}

/// Families a batch reads a key of only before it writes it, once (an evaluation run reads each
/// subject's stored evaluation, then replaces it): their writes stay out of the read overlay too.
fn read_before_written(cf: Cf) -> bool {
    matches!(cf, Cf::Evaluations)
}

/// Families a batch scans a subject at a time while it runs ([`BatchWriter::scan_prefix`]): what
/// reaches a subject's joint checks is rebuilt from its list entries and its links.
fn scanned(cf: Cf) -> bool {
    matches!(cf, Cf::ListEntries | Cf::Related)
}

/// Bounds the identifier cache (about 100 bytes an entry); it starts over when full.
const IDENT_CACHE_ENTRIES: usize = 2_000_000;

/// Writes per engine write; bounds memory and the size of each synced write.
const CHUNK_OPS: usize = 100_000;

impl<'e> BatchWriter<'e> {
    pub(super) fn new(engine: &'e dyn Engine, id: BatchId) -> BatchWriter<'e> {
        BatchWriter {
            engine,
            id,
            pending: WriteBatch::new(),
            overlay: HashMap::new(),
            sorted: Sorted::new(),
            committer: None,
            inflight: None,
            ident_cache: RefCell::new(HashMap::new()),
            undo: Vec::new(),
            chunks_flushed: 0,
            chunk_ops: CHUNK_OPS,
        }
    }

    /// Writes the following chunks on the committer's thread.
    pub fn set_committer(&mut self, committer: Committer) {
        self.committer = Some(committer);
    }

    /// Waits for the chunk in flight and writes the following chunks on this thread again.
    pub fn stop_committer(&mut self) -> Result<(), StoreError> {
        let landed = self.wait_inflight();
        self.committer = None;
        landed
    }

    /// Waits for the chunk in flight, if any, to land.
    fn wait_inflight(&mut self) -> Result<(), StoreError> {
        let Some(inflight) = self.inflight.take() else {
            return Ok(());
        };
        let landed =
            inflight.ack.recv().unwrap_or_else(|_| Err(EngineError::Engine("the committer thread stopped".into())));
        Ok(landed?)
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        debug_assert!(!write_only(cf), "{} is not read back within a batch", cf.name());
        let key = (cf, key.to_vec());
        if let Some(value) = self.written(&key) {
            return Ok(value.clone());
        }
        if key.0 != Cf::Idents {
            return Ok(self.engine.get(key.0, &key.1)?);
        }
        if let Some(value) = self.ident_cache.borrow().get(&key) {
            return Ok(value.clone());
        }
        let value = self.engine.get(key.0, &key.1)?;
        self.remember(key.0, &key.1, value.as_deref());
        Ok(value)
    }

    /// What the batch wrote under `key` and has not flushed, or flushed in the chunk still in flight
    /// (`Some(None)`: deleted; `None`: the engine has the answer).
    fn written(&self, key: &(Cf, Vec<u8>)) -> Option<&Option<Vec<u8>>> {
        self.overlay.get(key).or_else(|| self.inflight.as_ref().and_then(|i| i.overlay.get(key)))
    }

    /// The values of many keys as this batch left them, in the order of `keys`: the engine's batched
    /// read for those the batch did not write.
    pub fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        debug_assert!(!write_only(cf), "{} is not read back within a batch", cf.name());
        let mut out = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let key = (cf, key.clone());
            match self.written(&key) {
                Some(value) => out.push(value.clone()),
                None => {
                    out.push(None);
                    missing.push(i);
                }
            }
        }
        let found = self.engine.multi_get(cf, &missing.iter().map(|i| keys[*i].clone()).collect::<Vec<_>>())?;
        for (i, value) in missing.into_iter().zip(found) {
            out[i] = value;
        }
        Ok(out)
    }

    /// Calls `visit` with each key of `cf` starting with `prefix` as this batch left it, in key order,
    /// until it returns `false`. Only for the families a batch scans ([`scanned`]), which are small
    /// per prefix.
    pub fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        debug_assert!(scanned(cf), "{} is not scanned within a batch", cf.name());
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        self.engine.scan_prefix(cf, prefix, &mut |key, value| {
            merged.insert(key.to_vec(), Some(value.to_vec()));
            true
        })?;
        // The chunk in flight may have landed already: its values are the ones the engine holds then.
        for layer in self.inflight.as_ref().map(|i| &i.sorted).into_iter().chain([&self.sorted]) {
            let written =
                layer.range((cf, prefix.to_vec())..).take_while(|((c, key), _)| *c == cf && key.starts_with(prefix));
            for ((_, key), value) in written {
                merged.insert(key.clone(), value.clone());
            }
        }
        for (key, value) in &merged {
            if let Some(value) = value
                && !visit(key, value)
            {
                break;
            }
        }
        Ok(())
    }

    /// Keeps the sorted copy of the scanned families current.
    fn keep_sorted(&mut self, cf: Cf, key: &[u8], value: Option<&[u8]>) {
        if scanned(cf) {
            self.sorted.insert((cf, key.to_vec()), value.map(<[u8]>::to_vec));
        }
    }

    /// Keeps the identifier cache current (and bounded).
    fn remember(&self, cf: Cf, key: &[u8], value: Option<&[u8]>) {
        if cf != Cf::Idents {
            return;
        }
        let mut cache = self.ident_cache.borrow_mut();
        if cache.len() >= IDENT_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert((cf, key.to_vec()), value.map(<[u8]>::to_vec));
    }

    /// Puts a value, remembering what it replaces.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        let before = self.get(cf, &key)?;
        self.record_undo(cf, &key, before.as_deref());
        self.remember(cf, &key, Some(&value));
        self.keep_sorted(cf, &key, Some(&value));
        self.pending.put(cf, key.clone(), value.clone());
        self.overlay.insert((cf, key), Some(value));
        self.flush_if_full()
    }

    /// Puts a value under a key the caller knows is new (fresh ids): no read needed for the undo entry.
    pub fn put_new(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        self.put_replacing(cf, key, None, value)
    }

    /// Puts a value whose previous value (`before`) the caller read through this batch ([`Self::get`]
    /// or [`Self::multi_get`]): the undo entry needs no second read.
    pub fn put_replacing(
        &mut self,
        cf: Cf,
        key: Vec<u8>,
        before: Option<&[u8]>,
        value: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.record_undo(cf, &key, before);
        self.remember(cf, &key, Some(&value));
        self.keep_sorted(cf, &key, Some(&value));
        if write_only(cf) || read_before_written(cf) {
            self.pending.put(cf, key, value);
        } else {
            self.pending.put(cf, key.clone(), value.clone());
            self.overlay.insert((cf, key), Some(value));
        }
        self.flush_if_full()
    }

    /// Deletes a key, remembering what it held.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) -> Result<(), StoreError> {
        let before = self.get(cf, &key)?;
        self.record_undo(cf, &key, before.as_deref());
        self.remember(cf, &key, None);
        self.keep_sorted(cf, &key, None);
        self.pending.delete(cf, key.clone());
        self.overlay.insert((cf, key), None);
        self.flush_if_full()
    }

    fn record_undo(&mut self, cf: Cf, key: &[u8], before: Option<&[u8]>) {
        encode_undo(&mut self.undo, cf, key, before);
    }

    fn flush_if_full(&mut self) -> Result<(), StoreError> {
        if self.pending.len() < self.chunk_ops {
            return Ok(());
        }
        self.flush_chunk()
    }

    /// Writes the pending chunk with its undo entries (on the committer's thread when there is one).
    fn flush_chunk(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // The next chunk starts at the size of this one: no reallocation while it fills up.
        let mut batch = std::mem::replace(&mut self.pending, WriteBatch::with_capacity(self.chunk_ops + 1));
        let (undo_bytes, overlay_keys) = (self.undo.len(), self.overlay.len());
        let undo = std::mem::replace(&mut self.undo, Vec::with_capacity(undo_bytes));
        batch.put(Cf::Journal, keys::journal(self.id, self.chunks_flushed), undo);
        self.chunks_flushed += 1;
        let overlay = std::mem::replace(&mut self.overlay, HashMap::with_capacity(overlay_keys));
        let sorted = std::mem::take(&mut self.sorted);
        let Some(committer) = &self.committer else {
            return Ok(self.engine.write_unlogged(batch)?);
        };
        let (ack, landed) = mpsc::sync_channel(1);
        let sent = committer.jobs.send((batch, ack));
        self.wait_inflight()?;
        sent.map_err(|_| EngineError::Engine("the committer thread stopped".into()))?;
        self.inflight = Some(Inflight { overlay, sorted, ack: landed });
        Ok(())
    }

    /// Writes what is pending together with `last` (the commit mark) and no undo entries, then drops the
    /// journal of the earlier chunks. After this returns, the batch survives any crash.
    pub fn commit(&mut self, last: WriteBatch) -> Result<(), StoreError> {
        self.wait_inflight()?;
        // The chunks went without the WAL: they must be on disk before the commit mark is.
        if self.chunks_flushed > 0 {
            self.engine.persist()?;
        }
        let mut batch = std::mem::take(&mut self.pending);
        for op in last.ops() {
            match op {
                crate::engine::Op::Put { cf, key, value } => batch.put(*cf, key.clone(), value.clone()),
                crate::engine::Op::Delete { cf, key } => batch.delete(*cf, key.clone()),
            }
        }
        self.engine.write(batch)?;
        discard_journal(self.engine, self.id, self.chunks_flushed)
    }

    /// Undoes every flushed chunk (used when a strict import finds a rejected row after flushing, and
    /// when a batch is dropped unfinished, as by a panic).
    pub fn abort(&mut self) -> Result<(), StoreError> {
        // A failed chunk landed nothing; what did land is undone below either way.
        let _ = self.wait_inflight();
        roll_back(self.engine, self.id)
    }

    #[cfg(test)]
    pub(super) fn with_chunk_ops(mut self, ops: usize) -> Self {
        self.chunk_ops = ops;
        self
    }
}

fn discard_journal(engine: &dyn Engine, batch: BatchId, chunks: u64) -> Result<(), StoreError> {
    if chunks == 0 {
        return Ok(());
    }
    let mut deletes = WriteBatch::new();
    for chunk in 0..chunks {
        deletes.delete(Cf::Journal, keys::journal(batch, chunk));
    }
    Ok(engine.write(deletes)?)
}

/// Rolls back every chunk of `batch` still in the journal, last chunk first. Each chunk's undo and the
/// removal of its journal entry are one engine write, so an interrupted roll-back resumes correctly.
pub(super) fn roll_back(engine: &dyn Engine, batch: BatchId) -> Result<(), StoreError> {
    let chunks = crate::engine::collect_prefix(engine, Cf::Journal, &batch.0.to_be_bytes())?;
    for (key, undo) in chunks.into_iter().rev() {
        let mut entries = decode_undo(&undo).ok_or_else(|| StoreError::Corrupt("undo journal entry".into()))?;
        entries.reverse();
        let mut write = WriteBatch::new();
        for (cf, k, before) in entries {
            match before {
                Some(value) => write.put(cf, k, value),
                None => write.delete(cf, k),
            }
        }
        write.delete(Cf::Journal, key);
        engine.write(write)?;
    }
    Ok(())
}

/// Drops the journal of a batch that did commit (a crash came between its commit and the clean-up).
pub(super) fn drop_journal(engine: &dyn Engine, batch: BatchId) -> Result<(), StoreError> {
    let mut deletes = WriteBatch::new();
    for (key, _) in crate::engine::collect_prefix(engine, Cf::Journal, &batch.0.to_be_bytes())? {
        deletes.delete(Cf::Journal, key);
    }
    Ok(engine.write(deletes)?)
}

/// Batches with journal entries left behind, found on open.
pub(super) fn unfinished_batches(engine: &dyn Engine) -> Result<Vec<BatchId>, StoreError> {
    let mut ids = Vec::new();
    engine.scan_prefix(Cf::Journal, b"", &mut |key, _| {
        if let Some(id) = keys::u64_at(key, 0)
            && ids.last() != Some(&BatchId(id))
        {
            ids.push(BatchId(id));
        }
        true
    })?;
    Ok(ids)
}

fn cf_code(cf: Cf) -> u8 {
    Cf::ALL.iter().position(|c| *c == cf).expect("every family is listed") as u8
}

fn encode_undo(out: &mut Vec<u8>, cf: Cf, key: &[u8], before: Option<&[u8]>) {
    out.push(cf_code(cf));
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    match before {
        Some(value) => {
            out.push(1);
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value);
        }
        None => out.push(0),
    }
}

type UndoEntry = (Cf, Vec<u8>, Option<Vec<u8>>);

fn decode_undo(mut bytes: &[u8]) -> Option<Vec<UndoEntry>> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let cf = *Cf::ALL.get(usize::from(*bytes.first()?))?;
        let len = keys::u32_at(bytes, 1)? as usize;
        let key = bytes.get(5..5 + len)?.to_vec();
        bytes = &bytes[5 + len..];
        let present = *bytes.first()?;
        bytes = &bytes[1..];
        let before = if present == 1 {
            let len = keys::u32_at(bytes, 0)? as usize;
            let value = bytes.get(4..4 + len)?.to_vec();
            bytes = &bytes[4 + len..];
            Some(value)
        } else {
            None
        };
        entries.push((cf, key, before));
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemoryEngine;

    #[test]
    fn undo_entries_round_trip() {
        let mut buf = Vec::new();
        encode_undo(&mut buf, Cf::Idents, b"k1", Some(b"old"));
        encode_undo(&mut buf, Cf::Versions, b"k2", None);
        let entries = decode_undo(&buf).unwrap();
        assert_eq!(entries[0], (Cf::Idents, b"k1".to_vec(), Some(b"old".to_vec())));
        assert_eq!(entries[1], (Cf::Versions, b"k2".to_vec(), None));
        assert!(decode_undo(&buf[..buf.len() - 1]).is_none());
    }

    #[test]
    fn an_uncommitted_batch_rolls_back_to_what_was_there() {
        let engine = MemoryEngine::new();
        let mut seed = WriteBatch::new();
        seed.put(Cf::Subjects, b"a".to_vec(), b"original".to_vec());
        seed.put(Cf::Meta, b"gone".to_vec(), b"kept".to_vec());
        engine.write(seed).unwrap();

        let mut writer = BatchWriter::new(&engine, BatchId(7)).with_chunk_ops(2);
        writer.put(Cf::Subjects, b"a".to_vec(), b"changed once".to_vec()).unwrap();
        writer.put_new(Cf::Subjects, b"b".to_vec(), b"new".to_vec()).unwrap();
        writer.put(Cf::Subjects, b"a".to_vec(), b"changed twice".to_vec()).unwrap();
        writer.put_new(Cf::Subjects, b"c".to_vec(), b"new".to_vec()).unwrap();
        writer.delete(Cf::Meta, b"gone".to_vec()).unwrap();
        writer.put_new(Cf::Subjects, b"d".to_vec(), b"new".to_vec()).unwrap();
        // Three chunks flushed; nothing committed. A crash here leaves them on disk:
        assert_eq!(engine.get(Cf::Subjects, b"a").unwrap().as_deref(), Some(&b"changed twice"[..]));
        assert_eq!(engine.get(Cf::Meta, b"gone").unwrap(), None);
        drop(writer);
        assert_eq!(unfinished_batches(&engine).unwrap(), vec![BatchId(7)]);
        roll_back(&engine, BatchId(7)).unwrap();
        assert_eq!(engine.get(Cf::Subjects, b"a").unwrap().as_deref(), Some(&b"original"[..]));
        assert_eq!(engine.get(Cf::Subjects, b"b").unwrap(), None);
        assert_eq!(engine.get(Cf::Subjects, b"c").unwrap(), None);
        assert_eq!(engine.get(Cf::Subjects, b"d").unwrap(), None);
        assert_eq!(engine.get(Cf::Meta, b"gone").unwrap().as_deref(), Some(&b"kept"[..]));
        assert!(unfinished_batches(&engine).unwrap().is_empty());
    }

    #[test]
    fn a_committed_batch_leaves_no_journal() {
        let engine = MemoryEngine::new();
        let mut writer = BatchWriter::new(&engine, BatchId(1)).with_chunk_ops(1);
        writer.put_new(Cf::Subjects, b"x".to_vec(), b"1".to_vec()).unwrap();
        writer.put_new(Cf::Subjects, b"y".to_vec(), b"2".to_vec()).unwrap();
        let mut mark = WriteBatch::new();
        mark.put(Cf::Meta, b"done".to_vec(), b"1".to_vec());
        writer.commit(mark).unwrap();
        assert!(unfinished_batches(&engine).unwrap().is_empty());
        assert_eq!(engine.get(Cf::Subjects, b"y").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(engine.get(Cf::Meta, b"done").unwrap().as_deref(), Some(&b"1"[..]));
    }

    #[test]
    fn reads_see_unflushed_writes() {
        let engine = MemoryEngine::new();
        let mut writer = BatchWriter::new(&engine, BatchId(1));
        writer.put_new(Cf::Idents, b"k".to_vec(), b"v".to_vec()).unwrap();
        assert_eq!(writer.get(Cf::Idents, b"k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(engine.get(Cf::Idents, b"k").unwrap(), None, "not flushed yet");
    }

    #[test]
    fn with_a_committer_chunks_land_in_order_and_reads_see_the_one_in_flight() {
        let engine = MemoryEngine::new();
        std::thread::scope(|scope| {
            let mut writer = BatchWriter::new(&engine, BatchId(3)).with_chunk_ops(2);
            writer.set_committer(Committer::spawn(scope, &engine));
            for i in 0..7u8 {
                writer.put(Cf::Subjects, vec![b'k'], vec![i]).unwrap();
                assert_eq!(writer.get(Cf::Subjects, b"k").unwrap(), Some(vec![i]));
                writer.put_new(Cf::Idents, vec![i], vec![i]).unwrap();
                assert_eq!(writer.get(Cf::Idents, &[i]).unwrap(), Some(vec![i]), "the chunk in flight is readable");
            }
            writer.stop_committer().unwrap();
            assert_eq!(engine.get(Cf::Subjects, b"k").unwrap(), Some(vec![6]), "the last write wins");
            assert_eq!(unfinished_batches(&engine).unwrap(), vec![BatchId(3)]);
            writer.abort().unwrap();
        });
        assert_eq!(engine.get(Cf::Subjects, b"k").unwrap(), None);
        assert!(collect_prefix_all(&engine, Cf::Idents).is_empty());
        assert!(unfinished_batches(&engine).unwrap().is_empty());
    }

    #[test]
    fn scans_see_the_engine_the_chunk_in_flight_and_the_pending_one_in_key_order() {
        let engine = MemoryEngine::new();
        let mut seed = WriteBatch::new();
        for key in [&b"a1"[..], b"a3", b"a5", b"b1"] {
            seed.put(Cf::Related, key.to_vec(), b"engine".to_vec());
        }
        engine.write(seed).unwrap();
        let scan = |writer: &BatchWriter<'_>, prefix: &[u8]| {
            let mut seen = Vec::new();
            writer
                .scan_prefix(Cf::Related, prefix, &mut |k, v| {
                    seen.push(format!("{}={}", String::from_utf8_lossy(k), String::from_utf8_lossy(v)));
                    true
                })
                .unwrap();
            seen
        };
        std::thread::scope(|scope| {
            let mut writer = BatchWriter::new(&engine, BatchId(4)).with_chunk_ops(3);
            writer.set_committer(Committer::spawn(scope, &engine));
            writer.put(Cf::Related, b"a2".to_vec(), b"first".to_vec()).unwrap();
            writer.delete(Cf::Related, b"a3".to_vec()).unwrap();
            writer.put_new(Cf::Related, b"a0".to_vec(), b"first".to_vec()).unwrap();
            // That chunk is in flight (or landed); the next one is pending.
            writer.put(Cf::Related, b"a2".to_vec(), b"second".to_vec()).unwrap();
            writer.put_new(Cf::Related, b"a4".to_vec(), b"second".to_vec()).unwrap();
            assert_eq!(scan(&writer, b"a"), ["a0=first", "a1=engine", "a2=second", "a4=second", "a5=engine"]);
            // The third write sends the second chunk on its way.
            writer.put(Cf::Related, b"b2".to_vec(), b"second".to_vec()).unwrap();
            assert_eq!(scan(&writer, b"b"), ["b1=engine", "b2=second"]);
            assert_eq!(scan(&writer, b"a"), ["a0=first", "a1=engine", "a2=second", "a4=second", "a5=engine"]);
            assert!(scan(&writer, b"c").is_empty());
            writer.stop_committer().unwrap();
            assert_eq!(scan(&writer, b"a"), ["a0=first", "a1=engine", "a2=second", "a4=second", "a5=engine"]);
            writer.abort().unwrap();
        });
    }

    fn collect_prefix_all(engine: &MemoryEngine, cf: Cf) -> crate::engine::Pairs {
        crate::engine::collect_prefix(engine, cf, b"").unwrap()
    }
}
