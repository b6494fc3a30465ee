//! `credit-server check`, `feedback` and `rules`: the joint-check workflow in embedded mode.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use credit_core::cancel::Cancel;
use credit_core::checks::{CheckRequest, CheckResult, FeedbackInput, Outcome, StatsFilter};
use credit_core::rules::RuleSet;
use serde::Serialize;

/// Where the rules come from: a configured directory, or the compiled-in default set.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// Rules directory (layout of fixtures/rules/); the compiled-in rule set when absent.
    #[arg(long, value_name = "DIR", env = "CREDIT_RULES_DIR")]
    pub rules: Option<PathBuf>,
}

impl RulesArgs {
    pub fn load(&self) -> Result<Arc<RuleSet>> {
        match &self.rules {
            None => Ok(RuleSet::builtin()),
            Some(dir) => {
                Ok(Arc::new(RuleSet::load_dir(dir).with_context(|| format!("loading the rules in {}", dir.display()))?))
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Approval item code, e.g. GOV_PROCUREMENT.
    #[arg(long)]
    pub item: String,
    /// Valid time (China Standard Time), YYYY-MM-DD; today when absent.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// The requesting department, recorded with the check.
    #[arg(long)]
    pub department: Option<String>,
    /// One compact JSON object per identifier per line instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub rules: RulesArgs,
    /// Identifiers of the subjects to check.
    #[arg(required = true)]
    pub identifiers: Vec<String>,
}

/// The line for an identifier that could not be checked.
#[derive(Debug, Serialize)]
struct Failed<'a> {
    identifier: &'a str,
    error: String,
}

/// Exit 0 when every identifier was answered, 1 when some were not (invalid identifiers), 2 when the
/// item is unknown.
pub fn check(args: &CheckArgs) -> Result<i32> {
    let rules = args.rules.load()?;
    if !rules.items.contains_key(&args.item) {
        let known: Vec<&str> = rules.items.keys().map(String::as_str).collect();
        eprintln!("credit-server: unknown approval item {:?} (known: {})", args.item, known.join(", "));
        return Ok(2);
    }
    let platform = super::platform(&args.data_dir)?.with_rules(rules);
    let as_of = args.as_of.unwrap_or_else(credit_core::time::today_cst);
    let requests: Vec<CheckRequest> = args
        .identifiers
        .iter()
        .map(|identifier| CheckRequest {
            identifier: identifier.clone(),
            item: args.item.clone(),
            as_of,
            department: args.department.clone(),
        })
        .collect();
    let answers = platform.check_batch(&super::console_actor(None), &requests, &Cancel::never())?;
    super::checkpoint(platform.store(), &args.data_dir)?;
    let mut code = 0;
    for (identifier, answer) in args.identifiers.iter().zip(answers) {
        match answer {
            Ok(result) if args.json => super::print_json(&result)?,
            Ok(result) => print_text(&result),
            Err(error) => {
                code = 1;
                if args.json {
                    super::print_json(&Failed { identifier, error: error.to_string() })?;
                } else {
                    println!("{identifier}  ERROR  {error}");
                }
            }
        }
    }
    Ok(code)
}

fn print_text(result: &CheckResult) {
    let name = result.subject.as_ref().map(|s| s.name.as_str()).unwrap_or("(unknown subject)");
    println!(
        "{}  {}  {}  {} on {}  (check {})",
        result.identifier,
        name,
        result.verdict.as_str(),
        result.item,
        result.as_of,
        result.check_id
    );
    for reason in &result.reasons {
        println!("  - {reason}");
    }
}

#[derive(Debug, clap::Args)]
pub struct FeedbackArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The check the feedback is about (`check_id` of `credit-server check`).
    #[arg(long)]
    pub check_id: u64,
    /// The measure of that check.
    #[arg(long)]
    pub measure: String,
    /// applied, not_applied (needs --reason) or escalated.
    #[arg(long, value_parser = parse_outcome)]
    pub outcome: Outcome,
    #[arg(long)]
    pub reason: Option<String>,
    /// Amount involved, in 万元 (e.g. 120.5).
    #[arg(long)]
    pub amount: Option<String>,
    /// The department reporting.
    #[arg(long)]
    pub department: String,
    /// GB/T 2260 code where it happened; the subject's division when absent.
    #[arg(long)]
    pub division: Option<String>,
    /// Approval item; the check's item when absent.
    #[arg(long)]
    pub item: Option<String>,
    /// When it happened (RFC 3339); now when absent.
    #[arg(long, value_name = "RFC3339")]
    pub time: Option<DateTime<Utc>>,
    /// Who reports (user or system id).
    #[arg(long)]
    pub operator: String,
    #[command(flatten)]
    pub rules: RulesArgs,
}

fn parse_outcome(value: &str) -> Result<Outcome, String> {
    Outcome::parse(value).ok_or_else(|| "expected applied, not_applied or escalated".to_string())
}

/// Prints the stored feedback; exit 1 with the reason when it is refused.
pub fn feedback(args: &FeedbackArgs) -> Result<i32> {
    let rules = args.rules.load()?;
    let platform = super::platform(&args.data_dir)?.with_rules(rules);
    let input = FeedbackInput {
        check_id: args.check_id,
        measure_id: args.measure.clone(),
        outcome: args.outcome,
        reason: args.reason.clone(),
        amount: args.amount.clone(),
        department: args.department.clone(),
        division: args.division.clone(),
        item: args.item.clone(),
        time: args.time,
        operator: args.operator.clone(),
    };
    let submitted = platform.submit_feedback(&super::console_actor(Some(&args.operator)), input);
    super::checkpoint(platform.store(), &args.data_dir)?;
    match submitted {
        Ok(stored) => {
            super::print_json(&stored)?;
            Ok(0)
        }
        Err(error) if !error.is_user_error() => Err(error.into()),
        Err(error) => {
            eprintln!("credit-server: feedback refused: {error}");
            Ok(1)
        }
    }
}

/// The `--checks` part of `credit-server stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckStatsArgs {
    /// Statistics of joint checks and feedback instead of store counts.
    #[arg(long)]
    pub checks: bool,
    /// Checks on or after this date (China Standard Time).
    #[arg(long, value_name = "YYYY-MM-DD", requires = "checks")]
    pub from: Option<NaiveDate>,
    /// Checks on or before this date.
    #[arg(long, value_name = "YYYY-MM-DD", requires = "checks")]
    pub to: Option<NaiveDate>,
    /// Only checks by this requesting department.
    #[arg(long, requires = "checks")]
    pub department: Option<String>,
    /// Only subjects in this division (a province or prefecture code includes what lies below).
    #[arg(long, requires = "checks")]
    pub division: Option<String>,
}

pub fn check_stats(data_dir: &Path, args: &CheckStatsArgs) -> Result<i32> {
    let platform = super::platform(data_dir)?;
    let filter = StatsFilter {
        from: args.from,
        to: args.to,
        department: args.department.clone(),
        division: args.division.clone(),
    };
    super::print_json(&platform.check_statistics(
        &super::console_actor(None),
        &filter,
        &credit_core::cancel::Cancel::never(),
    )?)?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct RulesCommand {
    #[command(subcommand)]
    pub action: RulesAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum RulesAction {
    /// Validate a rule set (the compiled-in one without --rules) and summarise it.
    Check(RulesArgs),
}

#[derive(Debug, Serialize)]
struct RulesSummary<'a> {
    version: &'a str,
    effective: NaiveDate,
    list_types: usize,
    items: usize,
    memoranda: usize,
    measures: usize,
}

/// Exit 0 and a summary when valid; exit 1 with every error (file:line: field: reason) when not.
pub fn rules(command: &RulesCommand) -> Result<i32> {
    let RulesAction::Check(args) = &command.action;
    let rules = match args.load() {
        Ok(rules) => rules,
        Err(error) => {
            eprintln!("credit-server: {error:#}");
            return Ok(1);
        }
    };
    super::print_json(&RulesSummary {
        version: &rules.version,
        effective: rules.effective,
        list_types: rules.list_types.len(),
        items: rules.items.len(),
        memoranda: rules.memoranda.len(),
        measures: rules.memoranda.iter().map(|m| m.measures.len()).sum(),
    })?;
    Ok(0)
}
