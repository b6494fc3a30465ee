//! `credit-server stats`: counts of the store.

use std::path::PathBuf;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub checks: super::check::CheckStatsArgs,
}

pub fn run(args: &Args) -> Result<i32> {
    if args.checks.checks {
        return super::check::check_stats(&args.data_dir, &args.checks);
    }
    let store = super::open_store(&args.data_dir)?;
    super::print_json(&store.stats(credit_core::time::today_cst())?)?;
    Ok(0)
}
