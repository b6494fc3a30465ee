//! One contract, every engine: the same tests run against RocksDB and the in-memory engine.

use super::*;

fn put(engine: &dyn Engine, cf: Cf, key: &[u8], value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(cf, key, value);
    engine.write(batch).unwrap();
}

fn reads_back_what_was_written(engine: &dyn Engine) {
    assert_eq!(engine.get(Cf::Subjects, b"k").unwrap(), None);
    put(engine, Cf::Subjects, b"k", b"v1");
    assert_eq!(engine.get(Cf::Subjects, b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    put(engine, Cf::Subjects, b"k", b"v2");
    assert_eq!(engine.get(Cf::Subjects, b"k").unwrap().as_deref(), Some(&b"v2"[..]));
}

fn families_are_separate(engine: &dyn Engine) {
    put(engine, Cf::Records, b"same", b"records");
    put(engine, Cf::Versions, b"same", b"versions");
    assert_eq!(engine.get(Cf::Records, b"same").unwrap().as_deref(), Some(&b"records"[..]));
    assert_eq!(engine.get(Cf::Versions, b"same").unwrap().as_deref(), Some(&b"versions"[..]));
    assert_eq!(engine.get(Cf::Idents, b"same").unwrap(), None);
}

fn batches_apply_puts_and_deletes_across_families(engine: &dyn Engine) {
    put(engine, Cf::Idents, b"gone", b"x");
    let mut batch = WriteBatch::new();
    batch.put(Cf::Meta, b"a", b"1");
    batch.put(Cf::Journal, b"b", b"2");
    batch.delete(Cf::Idents, b"gone");
    batch.put(Cf::Meta, b"a", b"3");
    assert_eq!(batch.len(), 4);
    engine.write(batch).unwrap();
    assert_eq!(engine.get(Cf::Meta, b"a").unwrap().as_deref(), Some(&b"3"[..]), "later op wins");
    assert_eq!(engine.get(Cf::Journal, b"b").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(engine.get(Cf::Idents, b"gone").unwrap(), None);
}

fn prefix_scans_are_ordered_and_bounded(engine: &dyn Engine) {
    for key in [&b"p\x00\x02"[..], b"p\x00\x01", b"p\x01", b"q", b"o\xff"] {
        put(engine, Cf::SubjectRecords, key, key);
    }
    let keys: Vec<Vec<u8>> =
        collect_prefix(engine, Cf::SubjectRecords, b"p\x00").unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![b"p\x00\x01".to_vec(), b"p\x00\x02".to_vec()]);
    let mut seen = 0;
    engine
        .scan_prefix(Cf::SubjectRecords, b"p", &mut |_, _| {
            seen += 1;
            seen < 2
        })
        .unwrap();
    assert_eq!(seen, 2, "the visitor stops the scan");
    assert!(collect_prefix(engine, Cf::SubjectRecords, b"z").unwrap().is_empty());
    // Prefixes ending in 0xff end where the byte before them changes.
    for key in [&b"o\xff\x01"[..], b"\xff\xff", b"\xff\xff\x07"] {
        put(engine, Cf::SubjectRecords, key, key);
    }
    let keys = |prefix: &[u8]| -> Vec<Vec<u8>> {
        collect_prefix(engine, Cf::SubjectRecords, prefix).unwrap().into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(keys(b"o\xff"), vec![b"o\xff".to_vec(), b"o\xff\x01".to_vec()]);
    assert_eq!(keys(b"\xff\xff"), vec![b"\xff\xff".to_vec(), b"\xff\xff\x07".to_vec()]);
}

fn multi_gets_answer_in_the_order_asked(engine: &dyn Engine) {
    for key in [&b"m1"[..], b"m2", b"m3"] {
        put(engine, Cf::Versions, key, key);
    }
    let asked = vec![b"m3".to_vec(), b"absent".to_vec(), b"m1".to_vec(), b"m3".to_vec()];
    let values = engine.multi_get(Cf::Versions, &asked).unwrap();
    assert_eq!(values, vec![Some(b"m3".to_vec()), None, Some(b"m1".to_vec()), Some(b"m3".to_vec())]);
    assert_eq!(engine.multi_get(Cf::Records, &asked).unwrap(), vec![None; 4], "another family");
    assert!(engine.multi_get(Cf::Versions, &[]).unwrap().is_empty());
}

fn scans_from_a_key_run_to_the_end(engine: &dyn Engine) {
    let mut batch = WriteBatch::new();
    for key in [&b"a1"[..], b"b1", b"b2", b"c1"] {
        batch.put(Cf::Changes, key.to_vec(), b"".to_vec());
    }
    engine.write(batch).unwrap();
    let mut seen = Vec::new();
    engine
        .scan_from(Cf::Changes, b"b", &mut |k, _| {
            seen.push(k.to_vec());
            true
        })
        .unwrap();
    assert_eq!(seen, vec![b"b1".to_vec(), b"b2".to_vec(), b"c1".to_vec()]);
    let mut first = Vec::new();
    engine
        .scan_from(Cf::Changes, b"b2", &mut |k, _| {
            first.push(k.to_vec());
            false
        })
        .unwrap();
    assert_eq!(first, vec![b"b2".to_vec()], "the visitor stops the scan");
}

/// Families keyed by subject id may filter by that prefix: a subject's scan must still see every key
/// of it in every table file and level, and nothing of its neighbours, and a scan across subjects every
/// key in order.
fn subject_scans_see_every_table_file(engine: &dyn Engine) {
    let subject = |id: u64| id.to_be_bytes().to_vec();
    let key = |id: u64, record: u64| [subject(id), record.to_be_bytes().to_vec()].concat();
    let mut written = Vec::new();
    // Three table files (persist writes the memtables out): subject 2's keys in each of them, its
    // neighbours 1 and 3 in some, and a short key that has no subject prefix at all.
    for (round, subjects) in [[1u64, 2], [2, 3], [2, 2]].into_iter().enumerate() {
        let mut batch = WriteBatch::new();
        for (i, id) in subjects.into_iter().enumerate() {
            let k = key(id, (round * 10 + i) as u64);
            batch.put(Cf::Current, k.clone(), b"v".to_vec());
            written.push(k);
        }
        engine.write_unlogged(batch).unwrap();
        engine.persist().unwrap();
    }
    put(engine, Cf::Current, b"short", b"v");
    written.push(b"short".to_vec());
    written.sort();
    let of = |prefix: &[u8]| -> Vec<Vec<u8>> {
        collect_prefix(engine, Cf::Current, prefix).unwrap().into_iter().map(|(k, _)| k).collect()
    };
    let two: Vec<Vec<u8>> = written.iter().filter(|k| k.starts_with(&subject(2))).cloned().collect();
    assert_eq!(two.len(), 4);
    assert_eq!(of(&subject(2)), two);
    assert_eq!(of(&key(2, 10)), vec![key(2, 10)], "a prefix longer than a subject id");
    assert_eq!(of(&subject(1)), vec![key(1, 0)]);
    assert!(of(&subject(4)).is_empty());
    assert_eq!(of(b""), written, "every key, across prefixes");
    let mut from = Vec::new();
    engine
        .scan_from(Cf::Current, &subject(2), &mut |k, _| {
            from.push(k.to_vec());
            true
        })
        .unwrap();
    assert_eq!(from, written.iter().filter(|k| k.as_slice() >= subject(2).as_slice()).cloned().collect::<Vec<_>>());
    let range = |start: &[u8], end: Option<&[u8]>| {
        let mut keys = Vec::new();
        engine
            .scan_range(Cf::Current, start, end, &mut |k, _| {
                keys.push(k.to_vec());
                true
            })
            .unwrap();
        keys
    };
    let between = |start: &[u8], end: &[u8]| -> Vec<Vec<u8>> {
        written.iter().filter(|k| start <= k.as_slice() && k.as_slice() < end).cloned().collect()
    };
    assert_eq!(range(&subject(2), Some(&subject(3))), two, "the end is not included");
    assert_eq!(range(&subject(1), Some(&key(2, 10))), between(&subject(1), &key(2, 10)));
    assert_eq!(range(&subject(2), None), from, "no end: to the last key");
    assert!(range(&subject(3), Some(&subject(3))).is_empty());
    assert!(range(&subject(3), Some(&subject(2))).is_empty(), "an end before the start");
}

fn empty_batches_are_fine(engine: &dyn Engine) {
    engine.write(WriteBatch::new()).unwrap();
}

fn unsynced_writes_are_applied_atomically_in_every_family(engine: &dyn Engine) {
    let mut batch = WriteBatch::new();
    for cf in Cf::ALL {
        batch.put(cf, cf.name().as_bytes().to_vec(), b"v".to_vec());
    }
    engine.write_unsynced(batch).unwrap();
    for cf in Cf::ALL {
        assert_eq!(engine.get(cf, cf.name().as_bytes()).unwrap().as_deref(), Some(&b"v"[..]), "{}", cf.name());
    }
}

macro_rules! conformance_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn reads_back_what_was_written() {
                let (_guard, engine) = $make;
                super::reads_back_what_was_written(&engine);
            }

            #[test]
            fn families_are_separate() {
                let (_guard, engine) = $make;
                super::families_are_separate(&engine);
            }

            #[test]
            fn batches_apply_puts_and_deletes_across_families() {
                let (_guard, engine) = $make;
                super::batches_apply_puts_and_deletes_across_families(&engine);
            }

            #[test]
            fn prefix_scans_are_ordered_and_bounded() {
                let (_guard, engine) = $make;
                super::prefix_scans_are_ordered_and_bounded(&engine);
            }

            #[test]
            fn unsynced_writes_are_applied_atomically_in_every_family() {
                let (_guard, engine) = $make;
                super::unsynced_writes_are_applied_atomically_in_every_family(&engine);
            }

            #[test]
            fn scans_from_a_key_run_to_the_end() {
                let (_guard, engine) = $make;
                super::scans_from_a_key_run_to_the_end(&engine);
            }

            #[test]
            fn multi_gets_answer_in_the_order_asked() {
                let (_guard, engine) = $make;
                super::multi_gets_answer_in_the_order_asked(&engine);
            }

            #[test]
            fn subject_scans_see_every_table_file() {
                let (_guard, engine) = $make;
                super::subject_scans_see_every_table_file(&engine);
            }

            #[test]
            fn empty_batches_are_fine() {
                let (_guard, engine) = $make;
                super::empty_batches_are_fine(&engine);
            }
        }
    };
}

conformance_suite!(memory, ((), MemoryEngine::new()));
conformance_suite!(rocks, {
    let dir = tempfile::tempdir().unwrap();
    let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).unwrap();
    (dir, engine)
});

#[test]
fn rocks_data_survives_reopen_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).unwrap();
        put(&engine, Cf::Subjects, b"durable", b"yes");
        engine.checkpoint(&dir.path().join("copy")).unwrap_or_else(|e| panic!("{e}"));
    }
    let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).unwrap();
    assert_eq!(engine.get(Cf::Subjects, b"durable").unwrap().as_deref(), Some(&b"yes"[..]));
    let copy = RocksEngine::open(&dir.path().join("copy"), &RocksConfig::default()).unwrap();
    assert_eq!(copy.get(Cf::Subjects, b"durable").unwrap().as_deref(), Some(&b"yes"[..]));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = RocksEngine::open(dir.path(), &RocksConfig::default()).unwrap();
    match RocksEngine::open(dir.path(), &RocksConfig::default()) {
        Err(EngineError::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}
