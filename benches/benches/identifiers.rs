//! Identifier validation and normalisation throughput (one core).

use std::hint::black_box;

use credit_core::ident::{Codebook, Identifier, Uscc, normalize_code};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CODES: [&str; 7] = [
    "91110000600037341L",
    "121200004013590816",
    "911522010783762860",
    "9115220107837757XE",
    "91310115MA1K3BTP2B",
    "92340602MA2PBMEM24",
    "91620105L015101280",
];

fn uscc(c: &mut Criterion) {
    let book = Codebook::builtin();
    let mut group = c.benchmark_group("uscc");
    group.throughput(Throughput::Elements(CODES.len() as u64));
    group.bench_function("validate_normalized", |b| {
        b.iter(|| {
            for code in CODES {
                black_box(Uscc::parse_normalized(black_box(code), book).is_ok());
            }
        })
    });
    group.bench_function("normalize", |b| {
        b.iter(|| {
            for code in CODES {
                black_box(normalize_code(black_box(code)));
            }
        })
    });
    group.finish();
}

fn recognise(c: &mut Criterion) {
    let book = Codebook::builtin();
    let today = credit_core::time::today_cst();
    let inputs = [
        "９１１１００００６０００３７３４１Ｌ",
        "11010519491231002x",
        "60003734-1",
        "110105491231002",
        "91110000600037341N",
    ];
    let mut group = c.benchmark_group("identifier");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("parse_mixed", |b| {
        b.iter(|| {
            for input in inputs {
                black_box(Identifier::parse_with(black_box(input), book, today).is_ok());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, uscc, recognise);
criterion_main!(benches);
