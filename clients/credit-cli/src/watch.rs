//! `credit watch [--from SEQ] [--limit N] [--json]`: follow the change feed, resuming by itself after a
//! dropped connection or a server restart.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::connection::Connection;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first sequence number to print (default: from the beginning).
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// End after this many events (default: follow until interrupted).
    #[arg(long)]
    limit: Option<u64>,
    /// One JSON object per event, as `credit-server feed` prints it.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, connection: &Connection) -> Result<ExitCode> {
    crate::connection::block_on(async {
        let client = connection.connect().await?;
        let mut follower = client.follow_feed(args.from);
        let mut printed = 0u64;
        let mut out = std::io::stdout().lock();
        while args.limit.is_none_or(|limit| printed < limit) {
            let Some(event) = follower.next().await else { break };
            let event = event?;
            if args.json {
                writeln!(out, "{}", event.json)?;
            } else {
                let effective = if event.effective.is_empty() { "-" } else { event.effective.as_str() };
                writeln!(
                    out,
                    "{:>8}  {:<12}  {:<20}  record {:<8}  {:<10}  {}",
                    event.seq, event.kind, event.code, event.record_id, event.category, effective
                )?;
            }
            out.flush()?;
            printed += 1;
        }
        Ok(ExitCode::SUCCESS)
    })
}
