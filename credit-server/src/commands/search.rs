//! `credit-server search` and `reindex`: the search index of a data directory, caught up with its store
//! on open.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use credit_core::model::SubjectType;
use credit_core::search::{Filters, SearchIndex, SearchRequest, default_dir, parse_category};
use credit_core::view::View;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// One compact JSON object per hit, best first.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Continue after the hit that printed this cursor.
    #[arg(long)]
    pub cursor: Option<String>,
    /// public: natural persons only by full ID number, names masked; regulator: persons by name too.
    #[arg(long, value_enum, default_value = "public")]
    pub view: ViewArg,
    /// Subject type (enterprise, individual_business, natural_person, …).
    #[arg(long = "type", value_name = "TYPE")]
    pub subject_type: Option<String>,
    /// Division: province (2 digits), city (4) or county (6).
    #[arg(long)]
    pub division: Option<String>,
    /// Registration status as delivered (存续, 注销, …).
    #[arg(long)]
    pub status: Option<String>,
    /// On any list now.
    #[arg(long)]
    pub listed: bool,
    /// On a list of this type now (e.g. 0201).
    #[arg(long, value_name = "CODE")]
    pub list_type: Option<String>,
    /// Has a record of this category: licence, penalty, list_entry, other.
    #[arg(long)]
    pub category: Option<String>,
    /// Records decided on or after this date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<NaiveDate>,
    /// Records decided on or before this date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<NaiveDate>,
    #[command(flatten)]
    pub disclosure: super::disclosure::DisclosureArgs,
    /// Words of a name, pinyin or initials, a code or its prefix, an ID number, a document number.
    pub query: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ViewArg {
    Public,
    Regulator,
}

#[derive(Debug, clap::Args)]
pub struct ReindexArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
}

pub fn search(args: &SearchArgs) -> Result<i32> {
    let filters = match filters(args) {
        Ok(filters) => filters,
        Err(e) => {
            eprintln!("credit-server: {e:#}");
            return Ok(2);
        }
    };
    let disclosure = args.disclosure.load()?;
    let platform = super::platform(&args.data_dir)?.with_disclosure(disclosure);
    let mut index = SearchIndex::open(&default_dir(&args.data_dir)).context("opening the search index")?;
    let caught_up = index.catch_up(platform.store()).context("bringing the search index up to the store")?;
    if caught_up.rebuilt || caught_up.subjects_indexed > 0 {
        tracing::info!(rebuilt = caught_up.rebuilt, subjects = caught_up.subjects_indexed, "search index caught up");
    }
    let request = SearchRequest {
        query: args.query.join(" "),
        filters,
        limit: args.limit,
        cursor: args.cursor.clone(),
        view: match args.view {
            ViewArg::Public => View::Public,
            ViewArg::Regulator => View::Regulator,
        },
        disclosure: None,
        cancel: credit_core::cancel::Cancel::never(),
    };
    let platform = platform.with_index(Arc::new(RwLock::new(index)));
    let found = match platform.search(&super::console_actor(None), &request) {
        Ok(found) => found,
        Err(e) if e.is_user_error() => {
            eprintln!("credit-server: {e}");
            return Ok(2);
        }
        Err(e) => return Err(e).context("searching"),
    };
    let hits = &found.hits;
    if args.json {
        for hit in hits {
            super::print_json(hit)?;
        }
        if !found.did_you_mean.is_empty() {
            eprintln!("credit-server: no subject found; did you mean: {}", found.did_you_mean.join(", "));
        }
        return Ok(0);
    }
    if hits.is_empty() {
        println!("no subject found");
        if !found.did_you_mean.is_empty() {
            println!("did you mean: {}", found.did_you_mean.join(", "));
        }
        return Ok(0);
    }
    if found.partial {
        println!("no subject matches every part of the query; the best partial matches:");
    }
    for hit in hits {
        println!(
            "{:>8.2}  {:<20}  {}  ({})",
            hit.score,
            hit.code.as_deref().unwrap_or("-"),
            hit.name,
            hit.subject_type
        );
    }
    if let Some(last) = hits.last().filter(|_| hits.len() == args.limit) {
        println!("more: --cursor {}", last.cursor);
    }
    Ok(0)
}

fn filters(args: &SearchArgs) -> Result<Filters> {
    let subject_type = match &args.subject_type {
        Some(t) => match SubjectType::parse(t) {
            Some(t) => Some(t),
            None => {
                let known: Vec<&str> = SubjectType::ALL.iter().map(|t| t.as_str()).collect();
                bail!("--type: unknown subject type {t:?} (one of {})", known.join(", "));
            }
        },
        None => None,
    };
    let category = match &args.category {
        Some(c) => Some(
            parse_category(c)
                .with_context(|| format!("--category: unknown {c:?} (licence, penalty, list_entry, other)"))?,
        ),
        None => None,
    };
    let listed = match (&args.list_type, args.listed) {
        (Some(code), _) => Some(Some(code.clone())),
        (None, true) => Some(None),
        (None, false) => None,
    };
    if args.limit == 0 || args.limit > credit_core::search::MAX_LIMIT {
        bail!("--limit: between 1 and {}", credit_core::search::MAX_LIMIT);
    }
    Ok(Filters {
        subject_type,
        division: args.division.clone(),
        status: args.status.clone(),
        listed,
        category,
        from: args.from,
        to: args.to,
    })
}

pub fn reindex(args: &ReindexArgs) -> Result<i32> {
    let platform = super::platform(&args.data_dir)?;
    let index = SearchIndex::open(&default_dir(&args.data_dir)).context("opening the search index")?;
    let platform = platform.with_index(Arc::new(RwLock::new(index)));
    let started = std::time::Instant::now();
    let rebuilt = platform.reindex(&super::console_actor(None));
    super::checkpoint(platform.store(), &args.data_dir)?;
    let outcome = rebuilt.context("rebuilding the search index")?;
    let seconds = started.elapsed().as_secs_f64();
    super::print_json(&serde_json::json!({
        "subjects_indexed": outcome.subjects_indexed,
        "last_batch": outcome.last_batch,
        "seconds": (seconds * 100.0).round() / 100.0,
        "subjects_per_second": (outcome.subjects_indexed as f64 / seconds.max(1e-9)).round(),
    }))?;
    Ok(0)
}
