use std::path::Path;
use std::sync::Arc;

use credit_sign::keys::{KeySet, KeyStatus, SigningKey};

use super::*;
use crate::actor::Role;
use crate::engine::RocksEngine;
use crate::model::audit::{Actor, AuditEvent, CHECKPOINT_FILE, Operation};

fn open(dir: &Path) -> Store<RocksEngine> {
    Store::open_dir(dir).unwrap()
}

fn regulator(key: &str) -> Actor {
    Actor {
        key_id: Some(key.into()),
        role: Role::Regulator,
        department: Some("市场监管局".into()),
        name: None,
        subject_code: None,
    }
}

fn read(subject: u64, key: &str) -> AuditEvent {
    AuditEvent::new(regulator(key), Operation::SubjectRead).subject(SubjectId(subject)).purpose(Some("行政许可审查"))
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_secret(&[seed; 32])
}

fn keys_of(key: &SigningKey) -> KeySet {
    KeySet::default().with(key.published())
}

/// A store with `n` entries (subjects 1..=3 in turn), checkpointed after `checkpoint_at` of them.
fn filled(dir: &Path, n: u64, checkpoint_at: Option<u64>, signer: &SigningKey) {
    let store = open(dir);
    for i in 1..=n {
        store.audit().append(read(i % 3 + 1, &format!("k{i}"))).unwrap();
        if checkpoint_at == Some(i) {
            assert_eq!(store.audit().checkpoint(signer).unwrap().unwrap().seq, i);
        }
    }
}

fn raw(dir: &Path, seq: u64) -> Vec<u8> {
    open(dir).engine().get(Cf::Audit, &keys::audit_entry(seq)).unwrap().unwrap()
}

/// Writes straight into the RocksDB files, as someone with access to the data directory could.
fn tamper(dir: &Path, change: impl FnOnce(&mut WriteBatch)) {
    let store = open(dir);
    let mut write = WriteBatch::new();
    change(&mut write);
    store.engine().write(write).unwrap();
}

fn verdict(dir: &Path, keys: &KeySet) -> Result<Intact, Break> {
    open(dir).audit().verify(keys).unwrap()
}

#[test]
fn entries_chain_survive_reopening_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(1);
    filled(dir.path(), 10, Some(6), &signer);
    let store = open(dir.path());
    store.audit().append(read(9, "k11")).unwrap();
    let intact = store.audit().verify(&keys_of(&signer)).unwrap().unwrap();
    assert_eq!(intact, Intact { entries: 11, checkpoints: 1, last_checkpoint: Some(6), unsigned_tail: 5 });

    let all = store.audit().query(&AuditQuery::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.entry.seq).collect::<Vec<_>>(), (1..=11).collect::<Vec<_>>());
    assert_eq!(all[0].entry.prev, GENESIS);
    for pair in all.windows(2) {
        assert_eq!(pair[1].entry.prev, blake3::hash(&pair[0].stored).to_hex().to_string());
    }
}

#[test]
fn queries_filter_by_subject_key_operation_and_time_with_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let before = Utc::now();
    for i in 1..=9u64 {
        store.audit().append(read(i % 3 + 1, &format!("k{}", i % 2))).unwrap();
    }
    store
        .audit()
        .append(AuditEvent::new(Actor::console(Some("ops")), Operation::Backup).detail("to", "/backup"))
        .unwrap();

    let by_subject = |after, limit| {
        let query = AuditQuery { subject: Some(SubjectId(2)), after, limit, ..AuditQuery::default() };
        store.audit().query(&query).unwrap().iter().map(|e| e.entry.seq).collect::<Vec<_>>()
    };
    assert_eq!(by_subject(0, 0), vec![1, 4, 7]);
    assert_eq!(by_subject(1, 1), vec![4]);
    assert_eq!(by_subject(4, 10), vec![7]);

    let query = AuditQuery { key_id: Some("k0".into()), ..AuditQuery::default() };
    assert_eq!(store.audit().query(&query).unwrap().iter().map(|e| e.entry.seq).collect::<Vec<_>>(), vec![2, 4, 6, 8]);
    let query = AuditQuery { operation: Some("backup".into()), ..AuditQuery::default() };
    let backups = store.audit().query(&query).unwrap();
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].entry.event.detail["to"], "/backup");
    assert_eq!(backups[0].entry.event.actor.key_id.as_deref(), Some("console:ops"));
    let query = AuditQuery { from: Some(before), to: Some(Utc::now()), limit: 3, ..AuditQuery::default() };
    assert_eq!(store.audit().query(&query).unwrap().len(), 3);
    let query = AuditQuery { to: Some(before - chrono::Duration::seconds(1)), ..AuditQuery::default() };
    assert!(store.audit().query(&query).unwrap().is_empty());
}

/// Concurrent appenders share writes (group commit) and still form one unbroken chain.
#[test]
fn concurrent_appends_form_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    std::thread::scope(|scope| {
        for thread in 0..8u64 {
            let store = store.clone();
            scope.spawn(move || {
                for i in 0..200u64 {
                    let events = (0..(i % 3 + 1)).map(|j| read(thread * 1000 + i + j, "k")).collect();
                    store.audit().append_all(events).unwrap();
                }
            });
        }
    });
    let signer = key(2);
    store.audit().checkpoint(&signer).unwrap();
    let intact = store.audit().verify(&keys_of(&signer)).unwrap().unwrap();
    assert_eq!(intact.entries, 8 * (67 + 67 * 2 + 66 * 3));
    assert_eq!(intact.unsigned_tail, 0);
    assert!(store.audit().checkpoint(&signer).unwrap().is_none(), "nothing new to checkpoint");
}

#[test]
fn a_changed_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(3);
    filled(dir.path(), 12, Some(12), &signer);
    let changed = String::from_utf8(raw(dir.path(), 5)).unwrap().replace("行政许可审查", "随便看看");
    tamper(dir.path(), |w| w.put(Cf::Audit, keys::audit_entry(5), changed.into_bytes()));
    let problem = verdict(dir.path(), &keys_of(&signer)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (5, BreakKind::Changed), "{problem}");
}

#[test]
fn a_changed_link_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(3);
    filled(dir.path(), 12, None, &signer);
    let entry: AuditEntry = serde_json::from_slice(&raw(dir.path(), 7)).unwrap();
    let relinked = String::from_utf8(raw(dir.path(), 7)).unwrap().replace(&entry.prev, GENESIS);
    tamper(dir.path(), |w| w.put(Cf::Audit, keys::audit_entry(7), relinked.into_bytes()));
    let problem = verdict(dir.path(), &keys_of(&signer)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (7, BreakKind::Changed), "{problem}");
}

#[test]
fn a_removed_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(4);
    filled(dir.path(), 12, None, &signer);
    tamper(dir.path(), |w| w.delete(Cf::Audit, keys::audit_entry(8)));
    let problem = verdict(dir.path(), &keys_of(&signer)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (8, BreakKind::Removed), "{problem}");
}

#[test]
fn swapped_entries_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(5);
    filled(dir.path(), 12, None, &signer);
    let (four, five) = (raw(dir.path(), 4), raw(dir.path(), 5));
    tamper(dir.path(), |w| {
        w.put(Cf::Audit, keys::audit_entry(4), five);
        w.put(Cf::Audit, keys::audit_entry(5), four);
    });
    let problem = verdict(dir.path(), &keys_of(&signer)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (4, BreakKind::Reordered), "{problem}");
}

/// Cutting off the end leaves no broken link; the signed checkpoint (and the head) show it.
#[test]
fn a_cut_off_end_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(6);
    filled(dir.path(), 12, Some(12), &signer);
    tamper(dir.path(), |w| {
        w.delete(Cf::Audit, keys::audit_entry(12));
        w.delete(Cf::Audit, keys::audit_entry(11));
    });
    let problem = verdict(dir.path(), &keys_of(&signer)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (11, BreakKind::Removed), "{problem}");
}

/// Rewriting an entry and re-chaining everything after it needs no key, but the checkpoint's signed
/// head no longer matches.
#[test]
fn a_rechained_log_fails_at_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(7);
    filled(dir.path(), 10, Some(10), &signer);
    let store = open(dir.path());
    let mut entries: Vec<AuditEntry> =
        store.audit().query(&AuditQuery::default()).unwrap().into_iter().map(|e| e.entry).collect();
    entries[2].event.purpose = Some("rewritten".into());
    let mut write = WriteBatch::new();
    let mut prev = entries[2].prev.clone();
    for entry in &mut entries[2..] {
        entry.prev = prev.clone();
        let bytes = serde_json::to_vec(entry).unwrap();
        prev = blake3::hash(&bytes).to_hex().to_string();
        write.put(Cf::Audit, keys::audit_entry(entry.seq), bytes);
    }
    store.engine().write(write).unwrap();
    drop(store);
    let problem = verdict(dir.path(), &keys_of(&signer)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (10, BreakKind::Changed), "{problem}");
}

#[test]
fn checkpoints_need_a_published_key_and_survive_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (key(8), key(9));
    filled(dir.path(), 5, Some(3), &old);
    let store = open(dir.path());
    store.audit().checkpoint(&new).unwrap().unwrap();
    drop(store);

    let problem = verdict(dir.path(), &keys_of(&new)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (3, BreakKind::BadCheckpoint), "{problem}");
    let mut retired = old.published();
    retired.status = KeyStatus::Retired;
    let rotated = KeySet { keys: vec![retired] }.with(new.published());
    assert_eq!(verdict(dir.path(), &rotated).unwrap().checkpoints, 2);
}

/// The attack of the hardening issue: the tail cut off together with its checkpoints, the head
/// rewritten to match. The store alone then looks intact; the checkpoints kept outside it do not agree.
#[test]
fn a_tail_cut_off_with_its_checkpoints_is_caught_by_the_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(8);
    {
        let store = open(dir.path());
        for i in 1..=12 {
            store.audit().append(read(i % 3 + 1, &format!("k{i}"))).unwrap();
            if i == 6 || i == 12 {
                store.audit().checkpoint(&signer).unwrap().unwrap();
            }
        }
        assert_eq!(store.audit().newest_checkpoint().unwrap().unwrap().seq, 12);
    }
    let mirrored = read_checkpoints(&dir.path().join(CHECKPOINT_FILE)).unwrap();
    assert_eq!(mirrored.iter().map(|c| c.seq).collect::<Vec<_>>(), [6, 12]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join(CHECKPOINT_FILE)).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0);

    let head_at_8 = {
        let store = open(dir.path());
        let eighth = store.audit().query(&AuditQuery { after: 7, limit: 1, ..AuditQuery::default() }).unwrap();
        blake3::hash(&eighth[0].stored).to_hex().to_string()
    };
    tamper(dir.path(), |w| {
        for seq in 9..=12 {
            w.delete(Cf::Audit, keys::audit_entry(seq));
        }
        w.delete(Cf::Audit, keys::audit_checkpoint(12));
        w.put(Cf::Meta, keys::AUDIT_HEAD, to_json(&Head { seq: 8, hash: head_at_8, checkpointed: 6 }));
    });
    let store = open(dir.path());
    let alone = store.audit().verify_with(&keys_of(&signer), &[]).unwrap();
    assert!(alone.is_ok(), "the store by itself cannot tell: {alone:?}");
    drop(store);
    let problem = verdict(dir.path(), &keys_of(&signer)).unwrap_err();
    assert_eq!((problem.seq, problem.kind), (9, BreakKind::Removed), "{problem}");

    // A forged line in the mirror is named, not believed.
    let store = open(dir.path());
    let mut forged = mirrored[0].clone();
    forged.head = GENESIS.into();
    let problem = store.audit().verify_with(&keys_of(&signer), &[forged]).unwrap().unwrap_err();
    assert_eq!((problem.seq, problem.kind), (6, BreakKind::BadCheckpoint), "{problem}");
    drop(store);

    // Every checkpoint gone from the store: its head still says it was checkpointed.
    tamper(dir.path(), |w| w.delete(Cf::Audit, keys::audit_checkpoint(6)));
    let store = open(dir.path());
    let problem = store.audit().verify_with(&keys_of(&signer), &[]).unwrap().unwrap_err();
    assert_eq!(problem.kind, BreakKind::Removed, "{problem}");
    assert!(problem.detail.contains("no checkpoint left"), "{problem}");
}

#[test]
fn every_operation_has_its_own_name() {
    use crate::cases::{Action, CaseKind};
    let mut all = vec![
        Operation::SubjectRead,
        Operation::RecordsList,
        Operation::RecordHistory,
        Operation::Check,
        Operation::Feedback,
        Operation::ReportIssue,
        Operation::Import,
        Operation::FeedFollow,
        Operation::Reindex,
        Operation::Backup,
        Operation::Restore,
        Operation::SigningInit,
        Operation::SigningRotate,
        Operation::ApiKeyCreate,
        Operation::ApiKeyRevoke,
    ];
    for kind in [None, Some(CaseKind::Repair), Some(CaseKind::Objection)] {
        for action in Action::ALL {
            all.push(Operation::Case(kind, action));
        }
    }
    let names: std::collections::BTreeSet<_> = all.iter().map(|o| o.name()).collect();
    assert_eq!(names.len(), all.len(), "{names:?}");
    assert_eq!(Operation::Case(Some(CaseKind::Repair), Action::Approve).name(), "repair.approve");
    assert_eq!(Operation::Case(None, Action::Accept).name(), "case.accept");
}
