//! Crashes in the middle of a batch and right after one, in a child process that ends without closing
//! the store (no flush, no destructor: what `kill -9` leaves behind). Import chunks are written without
//! the WAL, so these prove that the undo journal and the commit's flush keep batches whole.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::engine::collect_prefix;
use crate::model::BatchId;

const CHILD_DIR: &str = "CREDIT_CRASH_CHILD_DIR";
const CHILD_COMMITS: &str = "CREDIT_CRASH_CHILD_COMMITS";
const CHILD_VALUE_BYTES: &str = "CREDIT_CRASH_CHILD_VALUE_BYTES";
/// Two and a half chunks.
const KEYS: u64 = 250_000;

fn key(i: u64) -> Vec<u8> {
    let mut key = b"crash/".to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    key
}

/// Runs in the child only (the parent runs it with `--ignored`): writes a multi-chunk batch, commits it
/// or not, and exits without closing anything.
#[test]
#[ignore = "the child half of the crash tests"]
fn crash_child() {
    let (Ok(dir), Ok(commits), Ok(value_bytes)) =
        (std::env::var(CHILD_DIR), std::env::var(CHILD_COMMITS), std::env::var(CHILD_VALUE_BYTES))
    else {
        return;
    };
    let value_bytes: usize = value_bytes.parse().unwrap();
    let store = Store::open_dir(Path::new(&dir)).unwrap();
    let mut guard = store.begin_batch("crash", Vec::new(), None, chrono::Utc::now()).unwrap();
    for i in 0..KEYS {
        guard.writer.put_new(Cf::Subjects, key(i), vec![b'v'; value_bytes]).unwrap();
    }
    if commits == "yes" {
        guard.commit().unwrap();
        println!("acknowledged");
    }
    // Ends the process here: no destructor of the store or the batch runs.
    std::process::exit(0);
}

fn run_child(dir: &Path, commits: bool, value_bytes: usize) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "store::crash_tests::crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_COMMITS, if commits { "yes" } else { "no" })
        .env(CHILD_VALUE_BYTES, value_bytes.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).contains("acknowledged"), commits);
}

fn keys_present(store: &Store<RocksEngine>) -> u64 {
    let mut found = 0;
    store
        .engine()
        .scan_prefix(Cf::Subjects, b"crash/", &mut |_, _| {
            found += 1;
            true
        })
        .unwrap();
    found
}

#[test]
fn a_committed_batch_survives_a_crash_right_after_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    // Small values: the memtables never fill, so the unlogged chunks are on disk only if the commit
    // flushed them.
    run_child(dir.path(), true, 20);
    let store = Store::open_dir(dir.path()).unwrap();
    assert_eq!(keys_present(&store), KEYS, "everything acknowledged is there");
    assert_eq!(store.batch(BatchId(1)).unwrap().unwrap().status, BatchStatus::Committed);
    assert!(collect_prefix(store.engine(), Cf::Journal, b"").unwrap().is_empty(), "no journal left");
}

#[test]
fn a_batch_cut_short_by_a_crash_is_rolled_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Large values: the first chunks fill a memtable and reach table files, with their undo entries,
    // before the crash; the next ones are lost with the process.
    run_child(dir.path(), false, 300);
    let store = Store::open_dir(dir.path()).unwrap();
    assert_eq!(keys_present(&store), 0, "no part of the batch stays");
    assert!(collect_prefix(store.engine(), Cf::Journal, b"").unwrap().is_empty(), "the journal was replayed");
}
