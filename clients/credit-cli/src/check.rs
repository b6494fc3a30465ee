//! `credit check` and `credit feedback` (regulator keys): joint checks through the service, printing
//! what `credit-server check` and `credit-server feedback` print.

use std::process::ExitCode;

use anyhow::Result;
use credit_client::proto;

use crate::connection::Connection;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The approval item (e.g. GOV_PROCUREMENT).
    #[arg(long)]
    item: String,
    /// Valid-time date, YYYY-MM-DD (default: today).
    #[arg(long)]
    as_of: Option<String>,
    /// The requesting department (default: the key's).
    #[arg(long)]
    department: Option<String>,
    /// One JSON object per identifier instead of text.
    #[arg(long)]
    json: bool,
    #[arg(required = true)]
    identifiers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct FeedbackArgs {
    /// The check the feedback is about (`check_id` of `credit check`).
    #[arg(long)]
    check_id: u64,
    /// The measure of that check.
    #[arg(long)]
    measure: String,
    /// applied, not_applied (needs --reason) or escalated.
    #[arg(long)]
    outcome: String,
    #[arg(long)]
    reason: Option<String>,
    /// Amount involved, in 万元.
    #[arg(long)]
    amount: Option<String>,
    /// The reporting department (default: the key's).
    #[arg(long)]
    department: Option<String>,
    #[arg(long)]
    division: Option<String>,
    #[arg(long)]
    item: Option<String>,
}

/// Exit 0 when every identifier was answered, 1 when a call failed.
pub fn check(args: &CheckArgs, connection: &Connection) -> Result<ExitCode> {
    crate::connection::block_on(async {
        let client = connection.connect().await?;
        let mut code = ExitCode::SUCCESS;
        for identifier in &args.identifiers {
            let request = proto::CheckRequest {
                identifier: identifier.clone(),
                item: args.item.clone(),
                as_of: args.as_of.clone().unwrap_or_default(),
                department: args.department.clone().unwrap_or_default(),
                omit_json: !args.json,
            };
            match client.check(request).await {
                Ok(result) if args.json => println!("{}", result.json),
                Ok(result) => {
                    let name = result.subject.as_ref().map_or("(unknown subject)", |s| s.name.as_str());
                    println!(
                        "{}  {name}  {}  {} on {}  (check {})",
                        result.identifier, result.verdict, result.item, result.as_of, result.check_id
                    );
                    for reason in &result.reasons {
                        println!("  - {reason}");
                    }
                }
                Err(error) => {
                    code = ExitCode::from(1);
                    eprintln!("credit: {identifier}: {error}");
                    if args.json {
                        println!("{}", serde_json::json!({ "identifier": identifier, "error": error.to_string() }));
                    }
                }
            }
        }
        Ok(code)
    })
}

pub fn feedback(args: &FeedbackArgs, connection: &Connection) -> Result<ExitCode> {
    crate::connection::block_on(async {
        let request = proto::SubmitFeedbackRequest {
            check_id: args.check_id,
            measure_id: args.measure.clone(),
            outcome: args.outcome.clone(),
            reason: args.reason.clone().unwrap_or_default(),
            amount: args.amount.clone().unwrap_or_default(),
            department: args.department.clone().unwrap_or_default(),
            division: args.division.clone().unwrap_or_default(),
            item: args.item.clone().unwrap_or_default(),
            time: None,
        };
        let stored = connection.connect().await?.submit_feedback(request).await?;
        println!("{}", stored.json);
        Ok(ExitCode::SUCCESS)
    })
}
