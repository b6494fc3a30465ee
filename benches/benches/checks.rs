//! Joint checks in process, on a real RocksDB store (warm cache): one subject with 100 records and 3
//! related persons, and a batch of 1,000 demo subjects (recorded in the check log, as in production).

use std::hint::black_box;

use chrono::NaiveDate;
use credit_benches::{BUSY, demo_codes, store};
use credit_core::checks::{CheckRequest, Checker};
use credit_core::rules::RuleSet;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The allocator `credit-server` runs with, so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn checks(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path());
    let checker = Checker::new(&store, RuleSet::builtin());
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
    let request = |identifier: &str| CheckRequest {
        identifier: identifier.to_string(),
        item: "GOV_PROCUREMENT".to_string(),
        as_of,
        department: Some("bench".to_string()),
    };
    let busy = request(BUSY);
    let answer = checker.evaluate(&busy).expect("check");
    assert_eq!(answer.verdict, credit_core::checks::Verdict::Block, "{:?}", answer.reasons);
    assert_eq!(store.records_of(answer.subject.as_ref().expect("known").id, None).expect("records").len(), 100);

    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_subject_100_records_3_related", |b| {
        b.iter(|| black_box(checker.evaluate(black_box(&busy)).expect("check").verdict))
    });
    let batch: Vec<CheckRequest> = demo_codes().iter().map(|c| request(c)).collect();
    assert_eq!(batch.len(), 1000);
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("batch_1000_demo_subjects_recorded", |b| {
        b.iter(|| black_box(checker.check_batch(black_box(&batch)).expect("batch").len()))
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
