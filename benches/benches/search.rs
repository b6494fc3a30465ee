//! Search: normalisation and pinyin of a name, and queries over the demo data (real RocksDB store, real
//! tantivy index). Latency over 1,000,000 subjects: `search-latency` (see BENCHMARKS.md).

use std::hint::black_box;
use std::path::Path;

use credit_core::ident::Codebook;
use credit_core::import::{ImportKind, ImportOptions, ImportTables, Quiet, import_files};
use credit_core::search::{SearchIndex, SearchRequest, normalize, pinyin_syllables};
use credit_core::store::Store;
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn analysis(c: &mut Criterion) {
    let mut group = c.benchmark_group("search");
    group.bench_function("normalize_name", |b| b.iter(|| normalize(black_box("唐山市榮遠房地產開發有限公司"))));
    group.bench_function("pinyin_syllables", |b| b.iter(|| pinyin_syllables(black_box("唐山市荣远房地产开发"))));
    // Word segmentation of a penalty's facts, as the index tokenises record text (jieba, search mode).
    let mut words = tantivy::tokenizer::TextAnalyzer::from(tantivy_jieba::JiebaTokenizer::new());
    let facts =
        "经查，当事人未取得食品经营许可从事食品经营活动，违反了《中华人民共和国食品安全法》第三十五条第一款的规定";
    group.bench_function("jieba_tokens_of_facts", |b| {
        b.iter(|| {
            let mut stream = words.token_stream(black_box(facts));
            let mut n = 0;
            while stream.advance() {
                n += 1;
            }
            n
        })
    });
    group.finish();
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(&dir.path().join("store")).expect("store opens");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
    for (kind, files) in [
        (ImportKind::Subject, vec![demo.join("persons.csv"), demo.join("subjects.csv")]),
        (ImportKind::Licence, vec![demo.join("licences.csv")]),
    ] {
        let options = ImportOptions::new(kind, credit_core::time::today_cst());
        import_files(&store, &files, &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet)
            .expect("imports");
    }
    let mut index = SearchIndex::open(&dir.path().join("index")).expect("index opens");
    index.catch_up(&store).expect("index builds");
    let mut group = c.benchmark_group("search");
    for (name, query) in
        [("query_partial_name", "荣远房地产"), ("query_pinyin", "rongyuan"), ("query_code", "91130272867247399R")]
    {
        let request = SearchRequest { query: query.to_string(), limit: 10, ..SearchRequest::default() };
        group.bench_function(name, |b| b.iter(|| index.search(&store, black_box(&request)).expect("searches").len()));
    }
    group.finish();
}

criterion_group!(benches, analysis, queries);
criterion_main!(benches);
