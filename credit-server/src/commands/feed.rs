//! `credit-server feed` and `credit-server sweep`: read the change feed from any sequence number, and
//! write the events that time alone causes (windows ended, planned list removals).

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use credit_core::time::today_cst;

use super::disclosure::DisclosureArgs;

#[derive(Debug, clap::Args)]
pub struct FeedArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The first sequence number to print (events are numbered from 1); resume with the last one seen + 1.
    #[arg(long, value_name = "SEQ", default_value_t = 1)]
    pub from: u64,
    /// Print at most N events.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Why natural persons' ID numbers are needed in full (written to the audit log); masked without.
    #[arg(long)]
    pub purpose: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Sweep up to this day (China Standard Time), YYYY-MM-DD; default today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub through: Option<NaiveDate>,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
}

/// Events are read in pages so a long feed never sits in memory whole.
const PAGE: usize = 10_000;

pub fn feed(args: &FeedArgs) -> Result<i32> {
    let platform = super::platform(&args.data_dir)?;
    let access = platform.follow_feed(&super::console_actor(None), args.from, args.purpose.as_deref())?;
    super::checkpoint(platform.store(), &args.data_dir)?;
    let mut next = args.from;
    let mut left = args.limit.unwrap_or(usize::MAX);
    while left > 0 {
        let page = platform.feed_page(&access, next, left.min(PAGE))?;
        let Some(last) = page.last() else { break };
        next = last.sequence + 1;
        left -= page.len();
        for event in &page {
            super::print_json(event)?;
        }
    }
    Ok(0)
}

pub fn sweep(args: &SweepArgs) -> Result<i32> {
    let disclosure = args.disclosure.load()?;
    let platform = super::platform(&args.data_dir)?.with_disclosure(disclosure);
    let summary = platform.sweep(args.through.unwrap_or_else(today_cst))?;
    super::print_json(&summary)?;
    Ok(0)
}
