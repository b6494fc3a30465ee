//! Signed credit reports and the audit log: building a report from the store, signing it (canonical
//! JSON, BLAKE3, Ed25519), verifying it, and appending audit entries (one, and a batch check's 1,000).

use std::hint::black_box;

use chrono::{Duration, Utc};
use credit_benches::{BUSY, store};
use credit_core::audit::{Actor, AuditEvent};
use credit_core::disclosure::DisclosureRules;
use credit_core::model::SubjectId;
use credit_core::report::{self, Issuer};
use credit_core::rules::RuleSet;
use credit_core::view::View;
use credit_sign::{KeySet, SigningKey, sign_report, verify_report};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn reports(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path());
    let rules = RuleSet::builtin();
    let disclosure = DisclosureRules::builtin();
    let issuer = Issuer { platform: "bench".into(), validity: Duration::days(30) };
    let id = store.find_subject_id(BUSY).expect("lookup").expect("busy subject");
    let build = || {
        report::build(&store, &rules, &disclosure, id, View::Regulator, &issuer, Utc::now())
            .expect("builds")
            .expect("known")
    };
    let value = serde_json::to_value(build()).expect("json");
    let key = SigningKey::from_secret(&[7; 32]);
    let keys = KeySet::default().with(key.published());
    let file = sign_report(&value, &key).expect("signs");
    eprintln!("report of the busy subject: {} bytes", file.len());

    let mut group = c.benchmark_group("report");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_100_records", |b| {
        b.iter(|| black_box(sign_report(black_box(&value), &key).expect("signs")))
    });
    group.bench_function("verify_100_records", |b| {
        b.iter(|| black_box(verify_report(black_box(&file), &keys, Utc::now()).expect("verifies")))
    });
    group.bench_function("build_and_sign_100_records", |b| {
        b.iter(|| {
            let value = serde_json::to_value(build()).expect("json");
            black_box(sign_report(&value, &key).expect("signs"))
        })
    });
    group.finish();

    let actor = Actor {
        key_id: Some("bench".into()),
        role: credit_core::Role::Regulator,
        department: Some("市财政局".into()),
        name: None,
        subject_code: None,
    };
    let event = |i: u64| {
        AuditEvent::new(actor.clone(), credit_core::audit::Operation::Check)
            .subject(SubjectId(i % 1000 + 1))
            .detail("item", "GOV_PROCUREMENT")
            .detail("verdict", "CLEAR")
            .detail("check_id", i)
    };
    let mut group = c.benchmark_group("audit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("append_one", |b| b.iter(|| store.audit().append(event(1)).expect("appends")));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("append_batch_1000", |b| {
        b.iter(|| store.audit().append_all((0..1000).map(event).collect()).expect("appends"))
    });
    group.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
