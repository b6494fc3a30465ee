//! Store point reads by identifier, over the demo data in a real RocksDB store (warm cache), with and
//! without the cache of decoded subjects; and batch writes: one import batch of 1,000 new licences,
//! committed durably.

use std::hint::black_box;
use std::path::Path;

use credit_core::ident::Codebook;
use credit_core::import::{ImportKind, ImportOptions, ImportTables, Quiet, import_files};
use credit_core::store::Store;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// The allocator `credit-server` runs with, so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn demo_store(dir: &Path) -> Store<credit_core::engine::RocksEngine> {
    let store = Store::open_dir(dir).expect("store opens");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
    for (kind, files) in [
        (ImportKind::Subject, vec![demo.join("persons.csv"), demo.join("subjects.csv")]),
        (ImportKind::Penalty, vec![demo.join("penalties.csv"), demo.join("penalties_2016_gb18030.csv")]),
        (ImportKind::Licence, vec![demo.join("licences.csv"), demo.join("licences_health.jsonl")]),
        (ImportKind::List, vec![demo.join("lists.csv")]),
    ] {
        let options = ImportOptions::new(kind, credit_core::time::today_cst());
        import_files(&store, &files, &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet)
            .expect("imports");
    }
    store
}

fn codes() -> Vec<String> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/subjects.csv");
    let text = std::fs::read_to_string(demo).expect("demo subjects");
    text.lines().skip(1).map(|l| l.split(',').next().unwrap_or("").to_string()).collect()
}

fn point_reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = demo_store(dir.path());
    let codes = codes();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(codes.len() as u64));
    group.bench_function("find_subject_by_uscc", |b| {
        b.iter(|| {
            for code in &codes {
                black_box(store.find_subject(black_box(code)).expect("read").is_some());
            }
        })
    });
    // The same reads decoding every subject: what a read costs when its subject is not in the cache.
    let cold_dir = tempfile::tempdir().expect("tempdir");
    let uncached = demo_store(cold_dir.path()).with_subject_cache_bytes(0);
    group.bench_function("find_subject_by_uscc_uncached", |b| {
        b.iter(|| {
            for code in &codes {
                black_box(uncached.find_subject(black_box(code)).expect("read").is_some());
            }
        })
    });
    group.bench_function("subject_with_records", |b| {
        b.iter(|| {
            for code in &codes {
                let id = store.find_subject_id(code).expect("read").expect("known");
                black_box(store.records_of(id, None).expect("read").len());
            }
        })
    });
    group.finish();
}

/// 1,000 new licences of one demo company, each with a document number of its own.
fn licence_file(dir: &Path, batch: u64) -> std::path::PathBuf {
    let mut text = String::from("XK_XDR_MC,XK_XDR_SHXYM,XK_XKWS,XK_WSH,XK_XKLB,XK_JDRQ,XK_YXQZ,XK_YXQZI,XK_XKJG\n");
    for i in 0..1000 {
        text.push_str(&format!(
            "唐山市荣远房地产开发有限公司,91130272867247399R,排污许可决定书,唐环许〔{batch}〕{i}号,普通,2024-02-08,2024-02-08,2027-02-07,唐山市生态环境局\n"
        ));
    }
    let path = dir.join(format!("licences-{batch}.csv"));
    std::fs::write(&path, text).expect("write");
    path
}

fn batch_writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = demo_store(&dir.path().join("store"));
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("dir");
    let options = ImportOptions {
        kind: ImportKind::Licence,
        source_dept: None,
        only_dept: None,
        registration: true,
        strict: true,
        today: credit_core::time::today_cst(),
        at: chrono::Utc::now(),
    };
    let mut batch = 0;
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(20);
    group.bench_function("import_batch_1000_new_licences", |b| {
        b.iter_batched(
            || {
                batch += 1;
                licence_file(&files, batch)
            },
            |file| {
                let summary =
                    import_files(&store, &[file], &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet)
                        .expect("imports");
                assert_eq!(summary.new_records, 1000);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, point_reads, batch_writes);
criterion_main!(benches);
