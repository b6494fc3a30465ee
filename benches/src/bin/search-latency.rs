//! Query latency of the search index over a real store: every query of a labelled set (made by
//! `credit-fixtures --queries-from`, or independently by `scripts/search-queries.py`), several rounds, one
//! at a time on one thread; top 10, joined with the store as `credit-server search` does. Prints one JSON
//! object: percentiles in milliseconds, recall@5 overall and by kind (a query labelled `-` is generic: it
//! counts as found when it has any hit). The misses of the first round go to stderr.
//!
//!   search-latency DATA_DIR QUERIES.tsv [ROUNDS]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use credit_core::search::{SearchIndex, SearchRequest, code_key, default_dir};
use credit_core::store::Store;
use credit_core::view::View;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, queries, rest @ ..] = &args[..] else {
        anyhow::bail!("usage: search-latency DATA_DIR QUERIES.tsv [ROUNDS]");
    };
    let rounds: usize = rest.first().map_or(Ok(5), |r| r.parse()).context("ROUNDS")?;
    let data = PathBuf::from(data);
    let store = Store::open_dir(&data).context("opening the store")?;
    let mut index = SearchIndex::open(&default_dir(&data)).context("opening the index")?;
    let started = Instant::now();
    let caught = index.catch_up(&store)?;
    eprintln!("search-latency: index ready in {:.1}s ({caught:?})", started.elapsed().as_secs_f64());
    let text = std::fs::read_to_string(queries).context("reading the queries")?;
    let labelled: Vec<(String, String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let (kind, query, code) = (parts.next()?, parts.next()?, parts.next()?);
            Some((kind.to_string(), query.to_string(), code.to_string()))
        })
        .collect();
    anyhow::ensure!(!labelled.is_empty(), "no queries in {queries}");
    let mut micros = Vec::with_capacity(labelled.len() * rounds);
    let mut by_kind: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    let mut found = 0;
    let mut recall: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for round in 0..rounds {
        for (kind, query, code) in &labelled {
            // Penalties are public only inside their windows: a search by penalty document number is a
            // regulator's (as in credit-core's labelled test).
            let view = if kind == "penalty_document" { View::Regulator } else { View::Public };
            let request = SearchRequest { query: query.clone(), limit: 10, view, ..SearchRequest::default() };
            let start = Instant::now();
            let results = index.search_results(&store, &request)?;
            let took = start.elapsed().as_micros() as u64;
            micros.push(took);
            by_kind.entry(kind).or_default().push(took);
            if round > 0 {
                continue;
            }
            let hits = &results.hits;
            let hit = if code == "-" {
                !hits.is_empty()
            } else {
                hits.iter().take(5).any(|h| h.code.as_deref().is_some_and(|c| code_key(c) == code_key(code)))
            };
            let tally = recall.entry(kind).or_default();
            tally.1 += 1;
            if hit {
                found += 1;
                tally.0 += 1;
            } else {
                let top: Vec<&str> = hits.iter().take(5).map(|h| h.name.as_str()).collect();
                eprintln!(
                    "search-latency: miss {kind} {query:?} (expected {code}; partial {}; top {top:?}; did you mean {:?})",
                    results.partial, results.did_you_mean
                );
            }
        }
    }
    micros.sort_unstable();
    // Per kind of query, on stderr: where the slow ones come from.
    for (kind, mut times) in by_kind {
        times.sort_unstable();
        let p = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0;
        eprintln!("search-latency: {kind:<20} p50 {:>7.2} ms  p99 {:>7.2} ms", p(0.5), p(0.99));
    }
    let at = |q: f64| micros[((micros.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "subjects": index.len(),
            "queries": labelled.len(),
            "rounds": rounds,
            "p50_ms": at(0.50),
            "p90_ms": at(0.90),
            "p99_ms": at(0.99),
            "max_ms": at(1.0),
            "recall_at_5": found as f64 / labelled.len() as f64,
            "recall_at_5_by_kind": recall
                .iter()
                .map(|(kind, (hit, all))| (kind.to_string(), serde_json::json!(*hit as f64 / *all as f64)))
                .collect::<serde_json::Map<_, _>>(),
            "queries_by_kind": recall.iter().map(|(kind, (_, all))| (kind.to_string(), serde_json::json!(all))).collect::<serde_json::Map<_, _>>(),
        })
    );
    Ok(())
}
