//! `bench-report RESULTS.jsonl BENCHMARKS.md [--commit REV]`: turns the JSON lines `benches/suite.sh`
//! wrote into the suite's section of BENCHMARKS.md: the machine, the commands, and for each figure the
//! median of its runs, held against the goals of issue 10. Only the text between the suite's markers is
//! replaced; the hand-written analysis around it stays. With `-` instead of a file, prints the section.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use serde_json::Value;

const BEGIN: &str = "<!-- suite:begin: written by `make bench` (benches/suite.sh); edit outside the markers -->";
const END: &str = "<!-- suite:end -->";

/// The gRPC workloads in the order the tables list them.
const WORKLOADS: &[&str] = &["echo", "get-subject", "search", "check", "batch-check", "report", "get-evaluation"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (results, target, commit) = match &args[..] {
        [results, target] => (results, target, None),
        [results, target, flag, commit] if flag == "--commit" => (results, target, Some(commit.as_str())),
        _ => bail!("usage: bench-report RESULTS.jsonl BENCHMARKS.md|- [--commit REV]"),
    };
    let text = std::fs::read_to_string(results).with_context(|| format!("reading {results}"))?;
    let mut figures: Vec<Value> = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        figures.push(serde_json::from_str(line).with_context(|| format!("{results}:{}: not one JSON object", n + 1))?);
    }
    let section = section(&Results::new(figures), &Machine::read(), commit)?;
    if target == "-" {
        print!("{section}");
        return Ok(());
    }
    let old = std::fs::read_to_string(target).with_context(|| format!("reading {target}"))?;
    std::fs::write(target, splice(&old, &section)).with_context(|| format!("writing {target}"))?;
    Ok(())
}

/// The independent labelled set (scripts/search-queries.py): recall@5 by kind and latency, against the
/// targets of issue 24.
fn independent_search(w: &mut impl std::fmt::Write, results: &Results) -> Result<()> {
    let runs = results.all("search_independent");
    let Some(first) = runs.first() else {
        return Ok(());
    };
    let recall = results.median("search_independent", "/result/recall_at_5", |_| true);
    let (p50, p99, max) = (
        results.median("search_independent", "/result/p50_ms", |_| true),
        results.median("search_independent", "/result/p99_ms", |_| true),
        results.median("search_independent", "/result/max_ms", |_| true),
    );
    let kinds: Vec<(String, f64)> = first["result"]["recall_at_5_by_kind"]
        .as_object()
        .map(|o| {
            o.keys()
                .filter_map(|k| {
                    Some((
                        k.clone(),
                        results.median("search_independent", &format!("/result/recall_at_5_by_kind/{k}"), |_| true)?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let worst = kinds.iter().map(|(_, r)| *r).reduce(f64::min);
    writeln!(
        w,
        "| search, independent labelled set (`scripts/search-queries.py`): recall@5 overall / worst kind | {} / {} | {} | ≥ 0.95 / ≥ 0.85 (issue 24): {} |",
        or_dash(recall, 3),
        or_dash(worst, 3),
        runs.len(),
        verdict(recall.zip(worst).map(|(r, k)| r >= 0.95 && k >= 0.85)),
    )?;
    writeln!(
        w,
        "| search, independent set one at a time: p50 / p99 / slowest ms | {} / {} / {} | {} | ≤ 0.5 / ≤ 3 / ≤ 50 (issue 24): {} |",
        or_dash(p50, 2),
        or_dash(p99, 2),
        or_dash(max, 1),
        runs.len(),
        verdict(p50.zip(p99).zip(max).map(|((a, b), c)| a <= 0.5 && b <= 3.0 && c <= 50.0)),
    )?;
    let by_kind: Vec<String> = kinds.iter().map(|(k, r)| format!("{k} {r:.2}")).collect();
    writeln!(w, "| … recall@5 by kind (median of runs) | {} | {} | each ≥ 0.85 |", by_kind.join(", "), runs.len())?;
    Ok(())
}

/// `old` with the suite's section replaced, or inserted after the first paragraph when it has none.
fn splice(old: &str, section: &str) -> String {
    if let (Some(begin), Some(end)) = (old.find(BEGIN), old.find(END))
        && begin < end
    {
        return format!("{}{}{}", &old[..begin], section.trim_end_matches('\n'), &old[end + END.len()..]);
    }
    match old.find("\n\n## ") {
        Some(at) => format!("{}\n\n{section}\n{}", &old[..at], &old[at + 2..]),
        None => format!("{old}\n{section}"),
    }
}

#[derive(Debug)]
struct Machine {
    cores: usize,
    memory_gib: f64,
    cpu: String,
    kernel: String,
}

impl Machine {
    fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let kib: f64 = field(&meminfo, "MemTotal").trim_end_matches(" kB").parse().unwrap_or(0.0);
        Machine {
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory_gib: kib / 1024.0 / 1024.0,
            cpu: field(&cpuinfo, "model name"),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
        }
    }
}

/// The suite's JSON lines, by figure.
#[derive(Debug)]
struct Results {
    by_figure: BTreeMap<String, Vec<Value>>,
}

impl Results {
    fn new(lines: Vec<Value>) -> Results {
        let mut by_figure: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for line in lines {
            let figure = line["figure"].as_str().unwrap_or("").to_string();
            by_figure.entry(figure).or_default().push(line);
        }
        Results { by_figure }
    }

    fn all(&self, figure: &str) -> &[Value] {
        self.by_figure.get(figure).map_or(&[], Vec::as_slice)
    }

    fn first(&self, figure: &str) -> Option<&Value> {
        self.all(figure).first()
    }

    /// The median over runs of `pointer` (a JSON pointer) in the lines of `figure` that `keep` accepts.
    fn median(&self, figure: &str, pointer: &str, keep: impl Fn(&Value) -> bool) -> Option<f64> {
        let values: Vec<f64> =
            self.all(figure).iter().filter(|v| keep(v)).filter_map(|v| v.pointer(pointer)?.as_f64()).collect();
        median(values)
    }

    fn load(&self, workload: &str, pointer: &str) -> Option<f64> {
        self.median("load", pointer, |v| v["result"]["workload"] == workload)
    }

    fn half_load(&self, workload: &str, pointer: &str) -> Option<f64> {
        self.median("half_load", pointer, |v| v["result"]["workload"] == workload)
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

fn or_dash(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
}

/// 1234567.8 → "1,234,568".
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let (sign, digits) = digits.strip_prefix('-').map_or(("", digits.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn section(results: &Results, machine: &Machine, commit: Option<&str>) -> Result<String> {
    let suite = results.first("suite").context("no `suite` line: the suite did not finish")?;
    let runs = suite["runs"].as_u64().unwrap_or(0);
    let manifest = results.first("dataset").map(|d| &d["manifest"]);
    let subjects = manifest.and_then(|m| m["subjects"].as_f64()).unwrap_or(0.0);
    let records = manifest.and_then(|m| m["records"].as_f64());
    let date = chrono::Utc::now().format("%Y-%m-%d");
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "{BEGIN}")?;
    writeln!(w, "## The suite: {date}{}", commit.map(|c| format!(", commit {c}")).unwrap_or_default())?;
    writeln!(w)?;
    writeln!(
        w,
        "Command: `make bench` (`benches/suite.sh`, release build), {} s wall, the build excluded. Machine: {} cores ({}), \
         {:.1} GiB, Linux {}. The service, the echo server and the load generator share those cores, all on 127.0.0.1. \
         Data: {} subjects and {} records from `credit-fixtures --subjects {}`. Each figure is the median of {runs} runs.",
        suite["wall_seconds"],
        machine.cores,
        machine.cpu,
        machine.memory_gib,
        machine.kernel,
        thousands(subjects),
        records.map_or_else(|| "?".into(), thousands),
        subjects as u64,
    )?;
    writeln!(w)?;

    let echo = results.load("echo", "/result/rps");
    writeln!(
        w,
        "### gRPC workloads: closed loop, {} connections, {} calls in flight, {} s after a {} s warm-up",
        suite["connections"], suite["concurrency"], suite["seconds_per_run"], suite["warmup_seconds"]
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "`credit-loadgen --target 127.0.0.1:PORT --workload W --duration {} --warmup {} --connections {} --concurrency {} --dataset DIR --token T --json`",
        suite["seconds_per_run"], suite["warmup_seconds"], suite["connections"], suite["concurrency"]
    )?;
    writeln!(w)?;
    // The peer's single-index lookups per second: the upper bound of its lookups by code.
    let peer_lookups = results.median("pg_point", "/tps", |_| true);
    writeln!(w, "| workload | OK calls/s | of echo | of PostgreSQL | p50 ms | p90 ms | p99 ms | p99.9 ms | goal |")?;
    writeln!(w, "|---|---|---|---|---|---|---|---|---|")?;
    for &workload in WORKLOADS {
        let rps = results.load(workload, "/result/rps");
        let ratio = match (rps, echo) {
            // A batch call is a thousand checks: its calls per second compare with nothing.
            (Some(r), Some(e)) if e > 0.0 && !matches!(workload, "echo" | "batch-check") => Some(r / e),
            _ => None,
        };
        let of_peer = match (rps, peer_lookups) {
            (Some(r), Some(p)) if p > 0.0 && workload == "get-subject" => Some(r / p),
            _ => None,
        };
        let goal = match workload {
            "get-subject" => format!(
                "≥ 70 % of echo (issue 4): {}; ≥ 50 % of echo and ≥ 60 % of PostgreSQL (issue 23): {}",
                verdict(ratio.map(|r| r >= 0.70)),
                verdict(ratio.zip(of_peer).map(|(r, p)| r >= 0.50 && p >= 0.60)),
            ),
            "check" => format!(
                "≥ 50 % of echo (issue 4): {}; ≥ 40 % (issue 23): {}",
                verdict(ratio.map(|r| r >= 0.50)),
                verdict(ratio.map(|r| r >= 0.40))
            ),
            "echo" => "the ceiling".to_string(),
            "search" => format!("≥ 15 % of echo (issue 24): {}", verdict(ratio.map(|r| r >= 0.15))),
            "get-evaluation" => {
                // Within a tenth of GetSubject in the same run: "the same speed" with the noise of a run.
                let of_subject = rps.zip(results.load("get-subject", "/result/rps")).map(|(r, s)| r / s);
                format!(
                    "as fast as `get-subject` (issue 26): {} of it, {}",
                    of_subject.map_or("–".into(), |r| format!("{:.0} %", r * 100.0)),
                    verdict(of_subject.map(|r| r >= 0.9))
                )
            }
            _ => String::new(),
        };
        let mut name = format!("`{workload}`");
        if workload == "batch-check" {
            let entries = results.load(workload, "/result/items_per_second");
            name = format!("`batch-check` (1,000 per call: {} checks/s)", entries.map_or("–".into(), thousands));
        }
        writeln!(
            w,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {goal} |",
            rps.map_or("–".into(), thousands),
            ratio.map_or("–".into(), |r| format!("{:.0} %", r * 100.0)),
            of_peer.map_or("–".into(), |r| format!("{:.0} %", r * 100.0)),
            or_dash(results.load(workload, "/result/p50_ms"), 2),
            or_dash(results.load(workload, "/result/p90_ms"), 2),
            or_dash(results.load(workload, "/result/p99_ms"), 2),
            or_dash(results.load(workload, "/result/p999_ms"), 2),
        )?;
    }
    let not_ok: Vec<String> = results
        .all("load")
        .iter()
        .chain(results.all("half_load"))
        .flat_map(|v| {
            let workload = v["result"]["workload"].as_str().unwrap_or("?").to_string();
            v["result"]["codes"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(code, _)| *code != "OK")
                .map(move |(code, count)| format!("{workload}: {count} {code}"))
        })
        .collect();
    writeln!(w)?;
    if not_ok.is_empty() {
        writeln!(w, "Every call of every run answered OK.")?;
    } else {
        writeln!(w, "Calls that did not answer OK (all runs): {}.", not_ok.join(", "))?;
    }
    writeln!(w)?;

    writeln!(w, "### Latency at half of saturation: open loop at half the median OK calls/s above")?;
    writeln!(w)?;
    writeln!(w, "| workload | rate /s | p50 ms | p90 ms | p99 ms | p99.9 ms | goal: p99 ≤ 5 ms |")?;
    writeln!(w, "|---|---|---|---|---|---|---|")?;
    for workload in ["get-subject", "check"] {
        let p99 = results.half_load(workload, "/result/p99_ms");
        writeln!(
            w,
            "| `{workload}` | {} | {} | {} | {} | {} | {} |",
            results.half_load(workload, "/result/rate").map_or("–".into(), thousands),
            or_dash(results.half_load(workload, "/result/p50_ms"), 2),
            or_dash(results.half_load(workload, "/result/p90_ms"), 2),
            or_dash(p99, 2),
            or_dash(results.half_load(workload, "/result/p999_ms"), 2),
            verdict(p99.map(|p| p <= 5.0)),
        )?;
    }
    writeln!(w)?;

    writeln!(w, "### Store, index and process")?;
    writeln!(w)?;
    writeln!(w, "| figure | median | runs | goal |")?;
    writeln!(w, "|---|---|---|---|")?;
    let import = results.median("import", "/total/rows_per_second", |_| true);
    let import_rss = results.median("import", "/total/peak_rss_mib", |_| true);
    writeln!(
        w,
        "| import (`benches/import.sh`: every kind, fresh durable store), rows/s | {} (peak RSS {} MiB) | {} | ≥ 50,000: {} |",
        import.map_or("–".into(), thousands),
        or_dash(import_rss, 0),
        results.all("import").len(),
        verdict(import.map(|r| r >= 50_000.0)),
    )?;
    let search = results.median("search_latency", "/result/p50_ms", |_| true);
    let search_p99 = results.median("search_latency", "/result/p99_ms", |_| true);
    writeln!(
        w,
        "| search over the store, median / p99 ms (`search-latency`, labelled queries, top 10) | {} / {} | {} | median ≤ 2 ms, p99 ≤ 10 ms (issue 4): {} |",
        or_dash(search, 2),
        or_dash(search_p99, 2),
        results.all("search_latency").len(),
        verdict(search.zip(search_p99).map(|(p50, p99)| p50 <= 2.0 && p99 <= 10.0)),
    )?;
    let build = results.median("index_build", "/result/reindex/subjects_per_second", |_| true);
    writeln!(
        w,
        "| index build (`credit-server reindex`), subjects/s | {} | {} | ≥ 20,000 (issue 4): {}; ≥ 60,000 (issue 24): {} |",
        build.map_or("–".into(), thousands),
        results.all("index_build").len(),
        verdict(build.map(|r| r >= 20_000.0)),
        verdict(build.map(|r| r >= 60_000.0)),
    )?;
    independent_search(w, results)?;
    let hwm = results.median("server_memory", "/vm_hwm_mib", |_| true);
    writeln!(
        w,
        "| server peak resident memory (VmHWM) after every load run, MiB | {} | 1 | ≤ 1,536 MiB: {} |",
        or_dash(hwm, 0),
        verdict(hwm.map(|m| m <= 1536.0)),
    )?;
    let cold = results.median("cold_start", "/seconds", |_| true);
    let dropped = results.all("cold_start").iter().all(|v| v["page_cache_dropped"] == true);
    writeln!(
        w,
        "| cold start{}: launch until a health check answers SERVING, s | {} | {} | < 3 s: {} |",
        if dropped { " (page cache dropped first)" } else { "" },
        or_dash(cold, 2),
        results.all("cold_start").len(),
        verdict(cold.map(|s| s < 3.0)),
    )?;
    evaluation(w, results)?;
    writeln!(w)?;
    peer(w, results)?;
    writeln!(w, "{END}")?;
    Ok(out)
}

/// Issue 26's figures: the full evaluation run's throughput and the latency of the kept statistics.
fn evaluation(w: &mut String, results: &Results) -> Result<()> {
    let runs = results.all("evaluation_run");
    if runs.is_empty() {
        return Ok(());
    }
    let first = |pointer: &str| runs[0].pointer(pointer).and_then(Value::as_f64);
    let later = |v: &Value| v["run"].as_u64().is_some_and(|r| r > 1);
    let (speed, seconds) = (
        results.median("evaluation_run", "/result/subjects_per_second", later),
        results.median("evaluation_run", "/result/seconds", later),
    );
    writeln!(
        w,
        "| full evaluation run, the first (`credit-server evaluate run`: every subject read with its records and evaluated, {} in the model and {} outside it; every evaluation, tally and the statistics cube written), subjects/s | {} ({} s) | 1 | ≥ 100,000 (issue 26): {} |",
        first("/result/evaluated").map_or("?".into(), thousands),
        first("/result/out_of_scope").map_or("?".into(), thousands),
        first("/result/subjects_per_second").map_or("–".into(), thousands),
        or_dash(first("/result/seconds"), 1),
        verdict(first("/result/subjects_per_second").map(|s| s >= 100_000.0)),
    )?;
    writeln!(
        w,
        "| full evaluation run, each later day (`--as-of` the next day: every subject read and evaluated again; the evaluations that changed written), subjects/s | {} ({} s) | {} | ≥ 100,000 (issue 26): {} |",
        speed.map_or("–".into(), thousands),
        or_dash(seconds, 1),
        runs.len().saturating_sub(1),
        verdict(speed.map(|s| s >= 100_000.0)),
    )?;
    let p50 = results.median("statistics_latency", "/result/p50_ms", |_| true);
    let p99 = results.median("statistics_latency", "/result/p99_ms", |_| true);
    writeln!(
        w,
        "| statistics of a province by county (`credit-loadgen --workload statistics --concurrency 1`), median / p99 ms | {} / {} | {} | < 50 ms (issue 26): {} |",
        or_dash(p50, 2),
        or_dash(p99, 2),
        results.all("statistics_latency").len(),
        verdict(p99.map(|p| p < 50.0)),
    )?;
    Ok(())
}

/// The PostgreSQL figures of the same run beside ours.
fn peer(w: &mut String, results: &Results) -> Result<()> {
    writeln!(w, "### The peer: PostgreSQL 15 + pg_trgm on the same subjects, in the same run")?;
    writeln!(w)?;
    writeln!(
        w,
        "`benches/postgres.sh FIXTURES`: the registration file COPYed in one transaction, btrees on the code, the \
         legal representative's ID number and the row number, a trigram GIN on the name; `pgbench -M prepared -c 4` \
         over a Unix socket. Ours: the registration file's import with its search index (`import --kind subject --index`, \
         one pass; before that existed, the import plus `reindex`); \
         `get-subject` and `search` as above."
    )?;
    writeln!(w)?;
    writeln!(w, "| figure | PostgreSQL | credit | credit / PostgreSQL | goal |")?;
    writeln!(w, "|---|---|---|---|---|")?;
    let pg = |pointer: &str, figure: &str| results.median(figure, pointer, |_| true);
    let pg_load = pg("/rows_per_second", "pg_load");
    let subject_rows = results.median("import", "/subject/rows", |_| true);
    let subject_seconds = results.median("import", "/subject/seconds", |_| true);
    let index_seconds = results.median("index_build", "/result/wall_seconds", |_| true);
    let two_steps = match (subject_rows, subject_seconds, index_seconds) {
        (Some(rows), Some(s), Some(i)) if s + i > 0.0 => Some(rows / (s + i)),
        _ => None,
    };
    // One pass (`import --index`, the index built while the rows land) where the run measured it.
    let one_pass = results.median("import", "/one_pass/rows_per_second", |_| true);
    let one_pass_seconds = results.median("import", "/one_pass/seconds", |_| true);
    let ours = one_pass.or(two_steps);
    let how = match (one_pass, one_pass_seconds) {
        (Some(_), Some(seconds)) => format!(
            "one pass: import and index {} s (in two steps: import {} s, then index {} s, {} rows/s)",
            or_dash(Some(seconds), 1),
            or_dash(subject_seconds, 1),
            or_dash(index_seconds, 1),
            two_steps.map_or("–".into(), thousands)
        ),
        _ => format!("import {} s, index {} s", or_dash(subject_seconds, 1), or_dash(index_seconds, 1)),
    };
    let ratio = ours.zip(pg_load).filter(|(_, p)| *p > 0.0).map(|(o, p)| o / p);
    writeln!(
        w,
        "| load of the registration file, search index included, rows/s | {} (COPY {} s, btrees {} s, GIN {} s) | {} ({how}) | {} | ≥ 0.5 (issue 23): {} |",
        pg_load.map_or("–".into(), thousands),
        or_dash(pg("/copy_seconds", "pg_load"), 1),
        or_dash(pg("/btree_seconds", "pg_load"), 1),
        or_dash(pg("/gin_seconds", "pg_load"), 1),
        ours.map_or("–".into(), thousands),
        or_dash(ratio, 2),
        verdict(ratio.map(|r| r >= 0.5)),
    )?;
    let ours = results.load("get-subject", "/result/rps");
    let point = pg("/tps", "pg_point");
    let ratio = ours.zip(point).filter(|(_, p)| *p > 0.0).map(|(o, p)| o / p);
    writeln!(
        w,
        "| lookups by code, 4 clients / 64 in flight, per s | {} by row number, {} by code found by row number | {} | {} | ≥ 0.6 (issue 23): {} |",
        point.map_or("–".into(), thousands),
        pg("/tps", "pg_lookup").map_or("–".into(), thousands),
        ours.map_or("–".into(), thousands),
        or_dash(ratio, 2),
        verdict(ratio.map(|r| r >= 0.6)),
    )?;
    writeln!(
        w,
        "| lookup latency under that load, p50 / p99 ms | {} / {} | {} / {} | | |",
        or_dash(pg("/p50_ms", "pg_point"), 3),
        or_dash(pg("/p99_ms", "pg_point"), 3),
        or_dash(results.load("get-subject", "/result/p50_ms"), 2),
        or_dash(results.load("get-subject", "/result/p99_ms"), 2),
    )?;
    writeln!(
        w,
        "| search one at a time, p50 / p99 / slowest ms | {} / {} / {} (a 3-character fragment of a name, LIKE) | {} / {} (labelled queries) | | |",
        or_dash(pg("/p50_ms", "pg_search"), 2),
        or_dash(pg("/p99_ms", "pg_search"), 2),
        or_dash(pg("/max_ms", "pg_search"), 2),
        or_dash(results.median("search_latency", "/result/p50_ms", |_| true), 2),
        or_dash(results.median("search_latency", "/result/p99_ms", |_| true), 2),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Results {
        let lines = [
            r#"{"figure":"dataset","manifest":{"subjects":1000,"records":3000}}"#,
            r#"{"figure":"import","run":1,"total":{"rows_per_second":40000,"peak_rss_mib":900},"subject":{"rows":1000,"seconds":0.1}}"#,
            r#"{"figure":"pg_load","rows":200000,"copy_seconds":3,"btree_seconds":1,"gin_seconds":6,"seconds":10,"rows_per_second":20000}"#,
            r#"{"figure":"pg_point","tps":20000,"p50_ms":0.1,"p99_ms":0.3}"#,
            r#"{"figure":"pg_lookup","tps":15000,"p50_ms":0.1,"p99_ms":0.3}"#,
            r#"{"figure":"pg_search","tps":2000,"p50_ms":0.4,"p99_ms":3,"max_ms":9}"#,
            r#"{"figure":"import","run":2,"total":{"rows_per_second":60000,"peak_rss_mib":950}}"#,
            r#"{"figure":"import","run":3,"total":{"rows_per_second":55000,"peak_rss_mib":920}}"#,
            r#"{"figure":"load","run":1,"result":{"workload":"echo","rps":10000,"p50_ms":1,"codes":{"OK":5}}}"#,
            r#"{"figure":"load","run":1,"result":{"workload":"get-subject","rps":8000,"p50_ms":2,"codes":{"OK":5,"UNAVAILABLE":2}}}"#,
            r#"{"figure":"load","run":1,"result":{"workload":"check","rps":4000,"p50_ms":2,"codes":{"OK":5}}}"#,
            r#"{"figure":"half_load","run":1,"result":{"workload":"check","rate":2000,"p99_ms":7.5,"codes":{"OK":5}}}"#,
            r#"{"figure":"index_build","run":1,"result":{"reindex":{"subjects_per_second":12161},"wall_seconds":0.1}}"#,
            r#"{"figure":"index_build","run":2,"result":{"reindex":{"subjects_per_second":22018}}}"#,
            r#"{"figure":"index_build","run":3,"result":{"reindex":{"subjects_per_second":20259}}}"#,
            r#"{"figure":"search_latency","run":1,"result":{"p50_ms":0.2,"p99_ms":12}}"#,
            r#"{"figure":"search_latency","run":2,"result":{"p50_ms":0.3,"p99_ms":8.5}}"#,
            r#"{"figure":"search_latency","run":3,"result":{"p50_ms":0.25,"p99_ms":9}}"#,
            r#"{"figure":"suite","wall_seconds":100,"runs":3,"seconds_per_run":10,"warmup_seconds":2,"connections":4,"concurrency":64}"#,
        ];
        results_of(&lines)
    }

    fn results_of(lines: &[&str]) -> Results {
        Results::new(lines.iter().map(|l| serde_json::from_str(l).expect("json")).collect())
    }

    fn machine() -> Machine {
        Machine { cores: 2, memory_gib: 24.0, cpu: "test cpu".into(), kernel: "6".into() }
    }

    #[test]
    fn the_independent_search_set_is_held_against_issue_24() {
        let mut lines = vec![
            r#"{"figure":"search_independent","run":1,"result":{"p50_ms":0.4,"p99_ms":5,"max_ms":12,"recall_at_5":0.99,"recall_at_5_by_kind":{"pinyin":1.0,"typo":0.8}}}"#,
            r#"{"figure":"search_independent","run":2,"result":{"p50_ms":0.5,"p99_ms":6,"max_ms":11,"recall_at_5":1.0,"recall_at_5_by_kind":{"pinyin":1.0,"typo":0.9}}}"#,
        ];
        let mut w = String::new();
        independent_search(&mut w, &results_of(&lines)).expect("written");
        assert!(w.contains("| 0.995 / 0.850 | 2 | ≥ 0.95 / ≥ 0.85 (issue 24): met |"), "{w}");
        assert!(w.contains("| 0.45 / 5.50 / 11.5 | 2 | ≤ 0.5 / ≤ 3 / ≤ 50 (issue 24): **not met** |"), "{w}");
        assert!(w.contains("pinyin 1.00, typo 0.85"), "{w}");
        lines.clear();
        let mut none = String::new();
        independent_search(&mut none, &results_of(&lines)).expect("written");
        assert!(none.is_empty(), "no run, no row");
    }

    #[test]
    fn medians_ratios_and_verdicts() {
        let section = section(&results(), &machine(), Some("abc1234")).expect("section");
        assert!(section.contains("| 55,000 (peak RSS 920 MiB) | 3 | ≥ 50,000: met |"), "{section}");
        assert!(section.contains("| `get-subject` | 8,000 | 80 % | 40 % | 2.00 |"), "{section}");
        assert!(
            section.contains(
                "≥ 70 % of echo (issue 4): met; ≥ 50 % of echo and ≥ 60 % of PostgreSQL (issue 23): **not met**"
            ),
            "{section}"
        );
        assert!(
            section.contains("| `check` | 4,000 | 40 % | – |")
                && section.contains("≥ 50 % of echo (issue 4): **not met**; ≥ 40 % (issue 23): met")
        );
        assert!(
            section.contains("| 20,000 (COPY 3.0 s, btrees 1.0 s, GIN 6.0 s) | 5,000 (import 0.1 s, index 0.1 s) | 0.25 | ≥ 0.5 (issue 23): **not met** |"),
            "{section}"
        );
        assert!(
            section.contains("| 20,000 by row number, 15,000 by code found by row number | 8,000 | 0.40 |"),
            "{section}"
        );
        assert!(section.contains("| `check` | 2,000 |") && section.contains("7.50 | – | **not met** |"), "{section}");
        assert!(section.contains("get-subject: 2 UNAVAILABLE"), "{section}");
        assert!(
            section.contains("| 20,259 | 3 | ≥ 20,000 (issue 4): met; ≥ 60,000 (issue 24): **not met** |"),
            "median of the builds: {section}"
        );
        assert!(
            section.contains("| 0.25 / 9.00 | 3 | median ≤ 2 ms, p99 ≤ 10 ms (issue 4): met |"),
            "medians of the search runs: {section}"
        );
        assert!(section.contains("not measured"), "figures without runs say so: {section}");
        assert!(section.starts_with(BEGIN) && section.trim_end().ends_with(END));
    }

    #[test]
    fn search_is_judged_on_its_tail_too() {
        let results = results_of(&[
            r#"{"figure":"search_latency","run":1,"result":{"p50_ms":0.2,"p99_ms":10.5}}"#,
            r#"{"figure":"suite","wall_seconds":100,"runs":1,"seconds_per_run":10,"warmup_seconds":2,"connections":4,"concurrency":64}"#,
        ]);
        let section = section(&results, &machine(), None).expect("section");
        assert!(
            section.contains("| 0.20 / 10.50 | 1 | median ≤ 2 ms, p99 ≤ 10 ms (issue 4): **not met** |"),
            "{section}"
        );
    }

    #[test]
    fn only_the_section_is_replaced() {
        let old = format!("# Benchmarks\n\nintro\n\n{BEGIN}\nold figures\n{END}\n\n## Later\n\nkept\n");
        let new = splice(&old, &format!("{BEGIN}\nnew figures\n{END}\n"));
        assert_eq!(new, format!("# Benchmarks\n\nintro\n\n{BEGIN}\nnew figures\n{END}\n\n## Later\n\nkept\n"));
        let first = splice("# Benchmarks\n\nintro\n\n## Identifiers\n\nx\n", &format!("{BEGIN}\nS\n{END}\n"));
        assert_eq!(first, format!("# Benchmarks\n\nintro\n\n{BEGIN}\nS\n{END}\n\n## Identifiers\n\nx\n"));
    }

    #[test]
    fn medians_and_thousands() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
    }
}
