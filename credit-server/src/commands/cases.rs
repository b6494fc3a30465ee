//! `credit-server repair ...` and `credit-server objection ...`: every step of the credit repair and
//! objection workflows, on a data directory. Each step prints the case as one JSON line; an invalid
//! step exits 1 naming the case's state.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use credit_core::cases::{Action, CaseError, Decision, Operator, Workflow};
use credit_core::model::RecordId;
use credit_core::time::today_cst;
use serde::Serialize;

use super::disclosure::DisclosureArgs;

/// Who takes the step, and where the store is.
#[derive(Debug, Clone, clap::Args)]
pub struct StepArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The person taking the step (the applicant, or the department's reviewer).
    #[arg(long)]
    pub operator: String,
    /// The operator's department code or name.
    #[arg(long)]
    pub dept: Option<String>,
    /// The operator's role (e.g. subject, provider, regulator).
    #[arg(long)]
    pub role: Option<String>,
    /// The day the step is taken, YYYY-MM-DD (China Standard Time); default today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub on: Option<NaiveDate>,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub step: StepArgs,
    /// The record (its id, as `get` prints it).
    #[arg(long)]
    pub record: u64,
    /// Why: what was corrected or paid, or what is wrong with the record.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DecideArgs {
    #[command(flatten)]
    pub step: StepArgs,
    #[arg(long)]
    pub case: u64,
    /// A note kept with the step (the grounds of the decision).
    #[arg(long)]
    pub note: Option<String>,
    /// When the outcome takes effect on the record, YYYY-MM-DD; default the day of the step.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub effective: Option<NaiveDate>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// One case with every step.
    #[arg(long, required_unless_present = "record", conflicts_with = "record")]
    pub case: Option<u64>,
    /// Every case about a record, one per line.
    #[arg(long)]
    pub record: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
pub enum RepairCommand {
    /// Apply for repair of a negative record (only once its minimum window has passed).
    Apply(OpenArgs),
    /// Accept an application: the identifying department reviews it.
    Accept(DecideArgs),
    /// Reject an application (the case closes).
    Reject(DecideArgs),
    /// Approve after review: display, sharing and joint measures stop from the effective date.
    Approve(DecideArgs),
    /// Deny after review (the case closes; the record stands).
    Deny(DecideArgs),
    /// A case and its steps, or the cases about a record.
    Show(ShowArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct CorrectArgs {
    #[command(flatten)]
    pub decide: DecideArgs,
    /// The corrected fields as a JSON merge patch over the record's content, e.g.
    /// '{"document_number":"京朝市监罚〔2026〕12号"}'.
    #[arg(long)]
    pub patch: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum ObjectionCommand {
    /// File an objection against a record believed wrong.
    File(OpenArgs),
    /// Accept the objection for review.
    Accept(DecideArgs),
    /// Reject the objection (the case closes).
    Reject(DecideArgs),
    /// Uphold it by correcting the record: a new version with the patched fields.
    Correct(CorrectArgs),
    /// Uphold it by revoking the record from the effective date.
    Revoke(DecideArgs),
    /// Dismiss it after review (the record stands).
    Dismiss(DecideArgs),
    /// A case and its steps, or the cases about a record.
    Show(ShowArgs),
}

pub fn repair(command: &RepairCommand) -> Result<i32> {
    match command {
        RepairCommand::Apply(args) => open(Action::Apply, args),
        RepairCommand::Accept(args) => decide(Action::Accept, args, None),
        RepairCommand::Reject(args) => decide(Action::Reject, args, None),
        RepairCommand::Approve(args) => decide(Action::Approve, args, None),
        RepairCommand::Deny(args) => decide(Action::Deny, args, None),
        RepairCommand::Show(args) => show(args),
    }
}

pub fn objection(command: &ObjectionCommand) -> Result<i32> {
    match command {
        ObjectionCommand::File(args) => open(Action::File, args),
        ObjectionCommand::Accept(args) => decide(Action::Accept, args, None),
        ObjectionCommand::Reject(args) => decide(Action::Reject, args, None),
        ObjectionCommand::Correct(args) => {
            let patch = match serde_json::from_str(&args.patch) {
                Ok(patch) => patch,
                Err(error) => {
                    eprintln!("credit-server: --patch: not JSON: {error}");
                    return Ok(2);
                }
            };
            decide(Action::Correct, &args.decide, Some(patch))
        }
        ObjectionCommand::Revoke(args) => decide(Action::Revoke, args, None),
        ObjectionCommand::Dismiss(args) => decide(Action::Dismiss, args, None),
        ObjectionCommand::Show(args) => show(args),
    }
}

fn operator(step: &StepArgs) -> Operator {
    Operator { name: step.operator.clone(), role: step.role.clone(), department: step.dept.clone(), key_id: None }
}

fn open(action: Action, args: &OpenArgs) -> Result<i32> {
    let rules = args.step.disclosure.load()?;
    let store = super::open_store(&args.step.data_dir)?;
    let flow = Workflow::new(&store, &rules);
    let on = args.step.on.unwrap_or_else(today_cst);
    let opened = flow.open(action, RecordId(args.record), operator(&args.step), &args.reason, on);
    let event = step_event(&args.step, action, &opened).detail("record", args.record);
    super::audit(&store, &args.step.data_dir, vec![event])?;
    finish(opened)
}

/// A case step for the audit log, as the operator named on the command line took it.
fn step_event(
    step: &StepArgs,
    action: Action,
    outcome: &Result<credit_core::cases::Case, CaseError>,
) -> credit_core::audit::AuditEvent {
    let mut actor = super::console_actor(Some(&step.operator));
    if let Some(role) = &step.role {
        actor.role = role.clone();
    }
    actor.department = step.dept.clone();
    credit_core::audit::AuditEvent::case_step(actor, action, outcome)
}

fn decide(action: Action, args: &DecideArgs, correction: Option<serde_json::Value>) -> Result<i32> {
    let rules = args.step.disclosure.load()?;
    let store = super::open_store(&args.step.data_dir)?;
    let flow = Workflow::new(&store, &rules);
    let decision = Decision {
        action,
        operator: operator(&args.step),
        note: args.note.clone(),
        on: args.step.on.unwrap_or_else(today_cst),
        effective: args.effective,
        correction,
    };
    let decided = flow.decide(args.case, decision);
    let event = step_event(&args.step, action, &decided).detail("case", args.case);
    super::audit(&store, &args.step.data_dir, vec![event])?;
    finish(decided)
}

/// Prints the case; a refused step goes to stderr with exit 1 (store failures are errors).
fn finish(outcome: Result<credit_core::cases::Case, CaseError>) -> Result<i32> {
    match outcome {
        Ok(case) => {
            super::print_json(&case)?;
            Ok(0)
        }
        Err(CaseError::Store(error)) => Err(error).context("writing the case"),
        Err(refused) => {
            eprintln!("credit-server: {refused}");
            Ok(1)
        }
    }
}

#[derive(Debug, Serialize)]
struct CaseWithSteps {
    #[serde(flatten)]
    case: credit_core::cases::Case,
    steps: Vec<credit_core::cases::CaseStep>,
}

fn show(args: &ShowArgs) -> Result<i32> {
    let store = super::open_store(&args.data_dir)?;
    let rules = credit_core::disclosure::DisclosureRules::builtin();
    let flow = Workflow::new(&store, &rules);
    if let Some(record) = args.record {
        for case in flow.cases_of(RecordId(record))? {
            super::print_json(&case)?;
        }
        return Ok(0);
    }
    let id = args.case.expect("clap requires --case or --record");
    let Some(case) = flow.case(id)? else {
        eprintln!("credit-server: no case {id}");
        return Ok(1);
    };
    super::print_json(&CaseWithSteps { steps: flow.steps(id)?, case })?;
    Ok(0)
}
