//! Writing a batch that may be larger than memory, atomically.
//!
//! Mutations are buffered and flushed to the engine in chunks. Each flushed chunk carries, in the same
//! engine write, an undo entry for every key it changed (the value before, or its absence). Committing
//! writes the last chunk together with the batch's `committed` mark and no undo entries. A batch that
//! never committed (the process was killed) is rolled back on the next open by replaying its undo
//! entries backwards, chunk by chunk. So a batch is, after any crash, either whole or absent.

use std::collections::HashMap;

use crate::engine::{Cf, Engine, WriteBatch};
use crate::model::BatchId;

use super::{StoreError, keys};

/// A batch being written: reads through it see its own unflushed writes.
pub struct BatchWriter<'e> {
    engine: &'e dyn Engine,
    id: BatchId,
    pending: WriteBatch,
    /// Latest value of each key written in the pending chunk (`None` = deleted).
    overlay: HashMap<(Cf, Vec<u8>), Option<Vec<u8>>>,
    undo: Vec<u8>,
    chunks_flushed: u64,
    chunk_ops: usize,
}

impl std::fmt::Debug for BatchWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter").field("id", &self.id).field("pending", &self.pending.len()).finish()
    }
}

/// Writes per engine write; bounds memory and the size of each synced write.
const CHUNK_OPS: usize = 50_000;

impl<'e> BatchWriter<'e> {
    pub(super) fn new(engine: &'e dyn Engine, id: BatchId) -> BatchWriter<'e> {
        BatchWriter {
            engine,
            id,
            pending: WriteBatch::new(),
            overlay: HashMap::new(),
            undo: Vec::new(),
            chunks_flushed: 0,
            chunk_ops: CHUNK_OPS,
        }
    }

    pub fn id(&self) -> BatchId {
        self.id
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(value) = self.overlay.get(&(cf, key.to_vec())) {
            return Ok(value.clone());
        }
        Ok(self.engine.get(cf, key)?)
    }

    /// Puts a value, remembering what it replaces.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        let before = self.get(cf, &key)?;
        self.record_undo(cf, &key, before.as_deref());
        self.pending.put(cf, key.clone(), value.clone());
        self.overlay.insert((cf, key), Some(value));
        self.flush_if_full()
    }

    /// Puts a value under a key the caller knows is new (fresh ids): no read needed for the undo entry.
    pub fn put_new(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        self.record_undo(cf, &key, None);
        self.pending.put(cf, key.clone(), value.clone());
        self.overlay.insert((cf, key), Some(value));
        self.flush_if_full()
    }

    /// Deletes a key, remembering what it held.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) -> Result<(), StoreError> {
        let before = self.get(cf, &key)?;
        self.record_undo(cf, &key, before.as_deref());
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

    /// Writes the pending chunk with its undo entries.
    fn flush_chunk(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.pending);
        batch.put(Cf::Journal, keys::journal(self.id, self.chunks_flushed), std::mem::take(&mut self.undo));
        self.engine.write(batch)?;
        self.chunks_flushed += 1;
        self.overlay.clear();
        Ok(())
    }

    /// Writes what is pending together with `last` (the commit mark) and no undo entries, then drops the
    /// journal of the earlier chunks. After this returns, the batch survives any crash.
    pub fn commit(mut self, last: WriteBatch) -> Result<(), StoreError> {
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

    /// Undoes every flushed chunk (used when a strict import finds a rejected row after flushing).
    pub fn abort(self) -> Result<(), StoreError> {
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
}
