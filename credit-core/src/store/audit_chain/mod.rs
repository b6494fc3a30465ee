//! The audit chain, a key space of the store: the group commit of appends, queries, checkpoints and
//! verification. What an entry says is [`crate::model::audit`]'s.
//!
//! Append-only, in the store (`Cf::Audit`). Each entry holds the BLAKE3 hash of the stored bytes of
//! the entry before it, so changing, removing or reordering one breaks the chain at that place; signed
//! checkpoints (sequence, head hash, time) protect the end of the chain too, against anyone without the
//! platform's signing key.
//!
//! **Group commit.** Callers append and wait until their entry is written; while one caller writes,
//! the entries of all others queue up and go into the next single write. So many concurrent appends
//! cost about one write between them.
//!
//! **Durability window.** An entry is in RocksDB's write-ahead log (not yet fsynced) before
//! [`AuditLog::append`] returns, and so before the audited operation answers: a killed process loses
//! no entry. A power loss or kernel crash can lose entries written since the last synced write of the
//! store; every checkpoint is a synced write, so at most the entries since the last checkpoint
//! (`audit_checkpoint_seconds` in the server, 10 s by default). Entries after the last checkpoint are
//! protected by the chain only: the newest of them could be cut off or rewritten without a trace until
//! the next checkpoint covers it.
//!
//! **Truncation.** Whoever can write the store could delete the newest entries together with the
//! checkpoints that cover them, and rewrite the chain's head. So every checkpoint is also appended to a
//! file outside the store ([`crate::model::audit::CHECKPOINT_FILE`] in the data directory by default, better a path on other
//! storage; `credit-server audit export-head` prints the newest for copying anywhere), and
//! [`AuditLog::verify_with`] fails when the store's log ends before the newest of those, or when a
//! store whose head says it was checkpointed has no checkpoint left.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Condvar, Mutex};

use chrono::{DateTime, Utc};
use credit_sign::keys::{KeySet, SignatureCheck, SigningKey, hex, unhex};
use serde::{Deserialize, Serialize};

use crate::engine::{Cf, Engine, WriteBatch};
use crate::model::SubjectId;
use crate::model::audit::{AuditEntry, AuditEvent, Checkpoint, GENESIS, StoredEntry};
use crate::store::{Store, StoreError, from_json, keys, to_json};

/// Where the chain ends (kept in `Meta` with every append; the chain itself is the truth).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
    checkpointed: u64,
}

/// Queue and chain state of the group commit.
#[derive(Debug, Default)]
pub(crate) struct Appender {
    state: Mutex<AppendState>,
    written: Condvar,
}

#[derive(Debug, Default)]
struct AppendState {
    queue: Vec<(DateTime<Utc>, AuditEvent)>,
    /// Tickets handed out (one per event) and tickets written (or failed), in order.
    enqueued: u64,
    done: u64,
    flushing: bool,
    /// Loaded from `Meta` on the first append.
    head: Option<Head>,
    /// Ticket ranges whose write failed, with the error (kept short: waiters pick theirs up at once).
    failed: Vec<(u64, u64, String)>,
}

/// The audit log of a store.
pub struct AuditLog<'s, E: Engine> {
    store: &'s Store<E>,
}

impl<E: Engine> std::fmt::Debug for AuditLog<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

/// What to look for in the log; every filter optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub subject: Option<SubjectId>,
    pub key_id: Option<String>,
    pub operation: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only entries after this sequence number (the previous page's last).
    pub after: u64,
    pub limit: usize,
}

/// How `verify` found the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intact {
    pub entries: u64,
    pub checkpoints: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<u64>,
    /// Entries after the last checkpoint: protected by the chain only.
    pub unsigned_tail: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    Changed,
    Removed,
    Reordered,
    BadCheckpoint,
}

/// The first place the log is not as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("audit entry {seq} was {}: {detail}", self.kind_text())]
pub struct Break {
    pub seq: u64,
    pub kind: BreakKind,
    pub detail: String,
}

impl Break {
    fn kind_text(&self) -> &'static str {
        match self.kind {
            BreakKind::Changed => "changed",
            BreakKind::Removed => "removed",
            BreakKind::Reordered => "reordered",
            BreakKind::BadCheckpoint => "covered by a checkpoint that does not verify",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the audit log could not be written: {0}")]
    Write(String),
}

impl<'s, E: Engine> AuditLog<'s, E> {
    pub(crate) fn new(store: &'s Store<E>) -> AuditLog<'s, E> {
        AuditLog { store }
    }

    /// Appends one event and returns once it is written (see the module doc for what "written" means).
    pub fn append(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.append_all(vec![event])
    }

    /// Appends events in order, in as few writes as the concurrent appenders allow.
    pub fn append_all(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        if events.is_empty() {
            return Ok(());
        }
        let appender = self.store.appender();
        let mut state = appender.state.lock().unwrap_or_else(|e| e.into_inner());
        let first_ticket = state.enqueued;
        state.enqueued += events.len() as u64;
        let last_ticket = state.enqueued;
        let at = Utc::now();
        state.queue.extend(events.into_iter().map(|event| (at, event)));
        loop {
            if state.done >= last_ticket {
                let failure = state.failed.iter().find(|(start, end, _)| *start < last_ticket && first_ticket < *end);
                return match failure {
                    Some((_, _, error)) => Err(AuditError::Write(error.clone())),
                    None => Ok(()),
                };
            }
            if state.flushing {
                state = appender.written.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // This caller writes what is queued, its own entries and everyone else's so far.
            state.flushing = true;
            let batch = std::mem::take(&mut state.queue);
            let head = match state.head.clone() {
                Some(head) => Ok(head),
                None => self.stored_head(),
            };
            drop(state);
            let count = batch.len() as u64;
            let outcome = head.and_then(|head| self.write(head, batch));
            state = appender.state.lock().unwrap_or_else(|e| e.into_inner());
            state.flushing = false;
            let start = state.done;
            state.done += count;
            match outcome {
                Ok(head) => state.head = Some(head),
                Err(error) => {
                    tracing::error!(%error, entries = count, "audit entries not written");
                    state.head = None;
                    state.failed.retain(|(_, end, _)| *end > start.saturating_sub(1 << 16));
                    state.failed.push((start, start + count, error.to_string()));
                }
            }
            appender.written.notify_all();
        }
    }

    fn stored_head(&self) -> Result<Head, StoreError> {
        Ok(match self.store.engine().get(Cf::Meta, keys::AUDIT_HEAD)? {
            Some(bytes) => from_json(&bytes)?,
            None => Head { seq: 0, hash: GENESIS.to_string(), checkpointed: 0 },
        })
    }

    /// Chains and writes `batch` after `head` in one write; returns the new head.
    fn write(&self, mut head: Head, batch: Vec<(DateTime<Utc>, AuditEvent)>) -> Result<Head, StoreError> {
        let mut write = WriteBatch::new();
        for (at, event) in batch {
            head.seq += 1;
            let subject = event.subject;
            let entry = AuditEntry { seq: head.seq, prev: std::mem::take(&mut head.hash), at, event };
            let bytes = to_json(&entry);
            head.hash = blake3::hash(&bytes).to_hex().to_string();
            write.put(Cf::Audit, keys::audit_entry(head.seq), bytes);
            if let Some(subject) = subject {
                write.put(Cf::Audit, keys::audit_by_subject(subject, head.seq), Vec::new());
            }
        }
        write.put(Cf::Meta, keys::AUDIT_HEAD, to_json(&head));
        self.store.engine().write_unsynced(write)?;
        Ok(head)
    }

    /// Signs the chain's head with the platform key (a synced write, which also makes every entry
    /// before it durable). Nothing is written when no entry came since the last checkpoint.
    pub fn checkpoint(&self, key: &SigningKey) -> Result<Option<Checkpoint>, AuditError> {
        let appender = self.store.appender();
        let mut state = appender.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.flushing {
            state = appender.written.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let mut head = match state.head.clone() {
            Some(head) => head,
            None => self.stored_head()?,
        };
        if head.seq == 0 || head.checkpointed == head.seq {
            return Ok(None);
        }
        let at = Utc::now();
        let signature = key.sign(&Checkpoint::signed_bytes(head.seq, &head.hash, &at, key.id()));
        let checkpoint = Checkpoint {
            seq: head.seq,
            head: head.hash.clone(),
            at,
            key_id: key.id().to_string(),
            signature: hex(&signature),
        };
        head.checkpointed = head.seq;
        let mut write = WriteBatch::new();
        write.put(Cf::Audit, keys::audit_checkpoint(head.seq), to_json(&checkpoint));
        write.put(Cf::Meta, keys::AUDIT_HEAD, to_json(&head));
        self.store.engine().write(write).map_err(StoreError::from)?;
        state.head = Some(head);
        if let Some(path) = self.store.checkpoint_mirror() {
            mirror(path, &checkpoint).map_err(|e| {
                AuditError::Write(format!("mirroring checkpoint {} to {}: {e}", checkpoint.seq, path.display()))
            })?;
        }
        Ok(Some(checkpoint))
    }

    /// The newest checkpoint in the store, if any (what `audit export-head` prints).
    pub fn newest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let mut newest = None;
        self.store.engine().scan_prefix(Cf::Audit, &[keys::AUDIT_CHECKPOINT], &mut |_, value| {
            newest = Some(value.to_vec());
            true
        })?;
        newest.map(|bytes| from_json(&bytes)).transpose()
    }

    /// Entries matching `query`, in sequence order, at most `query.limit` (0: 100).
    pub fn query(&self, query: &AuditQuery) -> Result<Vec<StoredEntry>, StoreError> {
        let limit = if query.limit == 0 { 100 } else { query.limit };
        let matches = |entry: &AuditEntry| {
            query.subject.is_none_or(|s| entry.event.subject == Some(s))
                && query.key_id.as_ref().is_none_or(|k| entry.event.actor.key_id.as_ref() == Some(k))
                && query.operation.as_ref().is_none_or(|o| &entry.event.operation == o)
                && query.from.is_none_or(|from| entry.at >= from)
                && query.to.is_none_or(|to| entry.at <= to)
        };
        let mut found = Vec::new();
        let mut failed = None;
        let engine = self.store.engine();
        if let Some(subject) = query.subject {
            let prefix = keys::audit_subject_prefix(subject);
            let mut seqs = Vec::new();
            engine.scan_from(Cf::Audit, &keys::audit_by_subject(subject, query.after + 1), &mut |key, _| {
                let Some(rest) = key.strip_prefix(prefix.as_slice()) else { return false };
                seqs.extend(keys::u64_at(rest, 0));
                true
            })?;
            for seq in seqs {
                let Some(bytes) = engine.get(Cf::Audit, &keys::audit_entry(seq))? else { continue };
                let entry: AuditEntry = from_json(&bytes)?;
                if matches(&entry) {
                    found.push(StoredEntry { entry, stored: bytes });
                    if found.len() >= limit {
                        break;
                    }
                }
            }
            return Ok(found);
        }
        engine.scan_from(Cf::Audit, &keys::audit_entry(query.after + 1), &mut |key, value| {
            if key.first() != Some(&keys::AUDIT_ENTRY) {
                return false;
            }
            match from_json::<AuditEntry>(value) {
                Ok(entry) if matches(&entry) => found.push(StoredEntry { entry, stored: value.to_vec() }),
                Ok(_) => {}
                Err(e) => failed = Some(e),
            }
            failed.is_none() && found.len() < limit
        })?;
        failed.map_or(Ok(found), Err)
    }

    /// Walks the whole chain and every checkpoint: `Ok` when intact, else the first entry that was
    /// changed, removed or reordered. Checkpoints are checked against `keys`; those mirrored outside the
    /// store (its mirror file, when it has one) count as well.
    pub fn verify(&self, keys: &KeySet) -> Result<Result<Intact, Break>, StoreError> {
        let external = match self.store.checkpoint_mirror() {
            Some(path) => {
                read_checkpoints(path).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?
            }
            None => Vec::new(),
        };
        self.verify_with(keys, &external)
    }

    /// [`AuditLog::verify`] against the checkpoints kept outside the store: each must verify, agree with
    /// the store's checkpoint of the same entry, and lie within the log.
    pub fn verify_with(&self, keys: &KeySet, external: &[Checkpoint]) -> Result<Result<Intact, Break>, StoreError> {
        let engine = self.store.engine();
        let mut checkpoints = BTreeMap::new();
        let mut undecodable = None;
        engine.scan_prefix(Cf::Audit, &[keys::AUDIT_CHECKPOINT], &mut |key, value| {
            match (keys::u64_at(key, 1), serde_json::from_slice::<Checkpoint>(value)) {
                (Some(seq), Ok(checkpoint)) => {
                    checkpoints.insert(seq, checkpoint);
                }
                (seq, _) => undecodable = Some(seq.unwrap_or(0)),
            }
            true
        })?;
        if let Some(seq) = undecodable {
            return Ok(Err(Break { seq, kind: BreakKind::BadCheckpoint, detail: "checkpoint not readable".into() }));
        }
        let stored_checkpoints = checkpoints.len();
        let mut bad_checkpoint =
            checkpoints.iter().find_map(|(seq, checkpoint)| check_checkpoint(*seq, checkpoint, keys));
        for checkpoint in external {
            let problem = check_checkpoint(checkpoint.seq, checkpoint, keys)
                .map(|b| Break { detail: format!("external {}", b.detail), ..b })
                .or_else(|| match checkpoints.get(&checkpoint.seq) {
                    Some(stored) if stored.head != checkpoint.head => Some(Break {
                        seq: checkpoint.seq,
                        kind: BreakKind::BadCheckpoint,
                        detail: "the store's checkpoint differs from the one kept outside it".into(),
                    }),
                    _ => None,
                });
            if problem.is_some() {
                bad_checkpoint = [bad_checkpoint, problem].into_iter().flatten().min_by_key(|b| b.seq);
                continue;
            }
            checkpoints.entry(checkpoint.seq).or_insert_with(|| checkpoint.clone());
        }
        let mut walk = Walk::default();
        let mut broken = None;
        // Every entry once, in order: a bulk read that leaves the block cache alone.
        engine.scan_range(Cf::Audit, &[keys::AUDIT_ENTRY], Some(&[keys::AUDIT_ENTRY + 1]), &mut |key, value| {
            broken = walk.step(keys::u64_at(key, 1).unwrap_or(0), value, &checkpoints);
            broken.is_none()
        })?;
        let head = self.stored_head()?;
        let recorded_end = head.seq;
        let broken = broken.or_else(|| walk.finish(&checkpoints, recorded_end));
        let broken = broken.or_else(|| {
            (head.checkpointed > 0 && stored_checkpoints == 0).then(|| Break {
                seq: 1,
                kind: BreakKind::Removed,
                detail: format!(
                    "the log was checkpointed up to entry {} and has no checkpoint left",
                    head.checkpointed
                ),
            })
        });
        let first = [bad_checkpoint, broken].into_iter().flatten().min_by_key(|b| b.seq);
        if let Some(problem) = first {
            return Ok(Err(problem));
        }
        let last_checkpoint = checkpoints.keys().next_back().copied();
        Ok(Ok(Intact {
            entries: walk.last_seq,
            checkpoints: checkpoints.len() as u64,
            last_checkpoint,
            unsigned_tail: walk.last_seq - last_checkpoint.unwrap_or(0),
        }))
    }
}

/// Appends `checkpoint` to the mirror file as one JSON line, synced (file created 0600).
fn mirror(path: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    let mut line = to_json(checkpoint);
    line.push(b'\n');
    file.write_all(&line)?;
    file.sync_all()
}

/// The checkpoints of a mirror file (or of `audit export-head` lines gathered anywhere); none when the
/// file does not exist. A line that is not a checkpoint is an error: the file is evidence.
pub fn read_checkpoints(path: &Path) -> std::io::Result<Vec<Checkpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map_err(|e| std::io::Error::other(format!("line {}: not a checkpoint: {e}", n + 1)))
        })
        .collect()
}

fn check_checkpoint(seq: u64, checkpoint: &Checkpoint, keys: &KeySet) -> Option<Break> {
    let bad = |detail: String| Some(Break { seq, kind: BreakKind::BadCheckpoint, detail });
    if checkpoint.seq != seq {
        return bad(format!("the checkpoint stored at {seq} names entry {}", checkpoint.seq));
    }
    let Some(signature) = unhex(&checkpoint.signature).and_then(|s| <[u8; 64]>::try_from(s).ok()) else {
        return bad("checkpoint signature is not 64 bytes of hex".into());
    };
    let signed = Checkpoint::signed_bytes(seq, &checkpoint.head, &checkpoint.at, &checkpoint.key_id);
    match keys.verify(&checkpoint.key_id, &signed, &signature) {
        Ok(()) => None,
        Err(SignatureCheck::UnknownKey) => bad(format!("checkpoint signed by unknown key {}", checkpoint.key_id)),
        Err(SignatureCheck::BadSignature) => {
            bad(format!("checkpoint signature does not verify (key {})", checkpoint.key_id))
        }
    }
}

/// The chain walk, one entry behind: a broken link between entries k-1 and k means k-1 was changed
/// when the link from k onwards holds, and k (its `prev`) when that link breaks too.
#[derive(Debug, Default)]
struct Walk {
    last_seq: u64,
    last_hash: Option<String>,
    /// The link into `last_seq` did not hold; decided by the next entry.
    suspect: bool,
}

impl Walk {
    fn step(&mut self, key_seq: u64, value: &[u8], checkpoints: &BTreeMap<u64, Checkpoint>) -> Option<Break> {
        let expected = self.last_seq + 1;
        if key_seq != expected {
            let detail = format!("the log goes from entry {} to entry {key_seq}", self.last_seq);
            return Some(Break { seq: expected, kind: BreakKind::Removed, detail });
        }
        let Ok(entry) = serde_json::from_slice::<AuditEntry>(value) else {
            return Some(Break { seq: key_seq, kind: BreakKind::Changed, detail: "not a readable entry".into() });
        };
        if entry.seq != key_seq {
            let detail = format!("place {key_seq} holds entry {}", entry.seq);
            return Some(Break { seq: key_seq, kind: BreakKind::Reordered, detail });
        }
        let link_holds = entry.prev == self.last_hash.as_deref().unwrap_or(GENESIS);
        if self.suspect {
            let seq = if link_holds { self.last_seq - 1 } else { self.last_seq };
            return Some(changed(seq));
        }
        let hash = blake3::hash(value).to_hex().to_string();
        if let Some(checkpoint) = checkpoints.get(&key_seq)
            && checkpoint.head != hash
        {
            let detail = format!("its hash is not the one checkpoint {key_seq} signed");
            return Some(Break { seq: key_seq, kind: BreakKind::Changed, detail });
        }
        self.suspect = !link_holds;
        if self.suspect && key_seq == 1 {
            return Some(changed(1));
        }
        self.last_seq = key_seq;
        self.last_hash = Some(hash);
        None
    }

    /// `recorded_end`: where the store's own (unsigned) head says the log ends; checkpoints are the
    /// signed evidence of the same.
    fn finish(&self, checkpoints: &BTreeMap<u64, Checkpoint>, recorded_end: u64) -> Option<Break> {
        if self.suspect {
            return Some(changed(self.last_seq - 1));
        }
        let covered = checkpoints.keys().next_back().copied().unwrap_or(0);
        let (end, by) = if covered >= recorded_end {
            (covered, format!("checkpoint {covered} covers more"))
        } else {
            (recorded_end, format!("the log's head names entry {recorded_end}"))
        };
        (end > self.last_seq).then(|| Break {
            seq: self.last_seq + 1,
            kind: BreakKind::Removed,
            detail: format!("the log ends at entry {} but {by}", self.last_seq),
        })
    }
}

fn changed(seq: u64) -> Break {
    Break { seq, kind: BreakKind::Changed, detail: format!("entry {} no longer links to it", seq + 1) }
}
