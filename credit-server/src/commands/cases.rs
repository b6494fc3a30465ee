//! `credit-server repair ...` and `credit-server objection ...`: every step of the credit repair and
//! objection workflows, on a data directory. Each step prints the case as one JSON line; an invalid
//! step exits 1 naming the case's state.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use credit_core::PlatformError;
use credit_core::cases::{Action, CaseError, CommitmentText, Decision, Operator, RepairApplication};
use credit_core::model::RecordId;
use credit_core::time::today_cst;

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
    /// A repair's proof of fulfilment: a reference to a document (repeat for several).
    #[arg(long)]
    pub evidence: Vec<String>,
    /// A repair's public credit commitment, as the subject made it.
    #[arg(long)]
    pub commitment: Option<String>,
    /// The day the commitment was made, YYYY-MM-DD; default the day of the application.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub commitment_date: Option<NaiveDate>,
    /// Applying for the subject: whom the applicant acts for (recorded on the case).
    #[arg(long)]
    pub acting_for: Option<String>,
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
    /// Open cases past the deadline of their current step, one per line.
    Overdue(OverdueArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct OverdueArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The day to judge deadlines on, YYYY-MM-DD; default today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub on: Option<NaiveDate>,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
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
        RepairCommand::Overdue(args) => overdue(args),
    }
}

fn overdue(args: &OverdueArgs) -> Result<i32> {
    let platform = super::platform(&args.data_dir)?.with_disclosure(args.disclosure.load()?);
    let on = args.on.unwrap_or_else(today_cst);
    for case in platform.overdue_cases(&super::console_actor(None), on, credit_core::cases::MAX_OVERDUE)? {
        super::print_json(&case)?;
    }
    Ok(0)
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
    let platform = platform(&args.step)?;
    let on = args.step.on.unwrap_or_else(today_cst);
    let application = RepairApplication {
        evidence: args.evidence.clone(),
        commitment: args
            .commitment
            .clone()
            .map(|text| CommitmentText { text, made_on: args.commitment_date.unwrap_or(on) }),
        acting_for: args.acting_for.clone(),
    };
    let opened = platform.open_case_with(
        &actor(&args.step),
        action,
        RecordId(args.record),
        operator(&args.step),
        &args.reason,
        on,
        application,
    );
    super::checkpoint(platform.store(), &args.step.data_dir)?;
    finish(opened)
}

fn platform(step: &StepArgs) -> Result<credit_core::Platform> {
    let disclosure = step.disclosure.load()?;
    Ok(super::platform(&step.data_dir)?.with_disclosure(disclosure))
}

/// The console acts (as an admin), under the operator's name and department; the role the operator
/// takes in the case is the step's (`--role`).
fn actor(step: &StepArgs) -> credit_core::Actor {
    let mut actor = super::console_actor(Some(&step.operator));
    actor.department = step.dept.clone();
    actor
}

fn decide(action: Action, args: &DecideArgs, correction: Option<serde_json::Value>) -> Result<i32> {
    let platform = platform(&args.step)?;
    let decision = Decision {
        action,
        operator: operator(&args.step),
        note: args.note.clone(),
        on: args.step.on.unwrap_or_else(today_cst),
        effective: args.effective,
        correction,
    };
    let decided = platform.decide_case(&actor(&args.step), args.case, decision);
    super::checkpoint(platform.store(), &args.step.data_dir)?;
    finish(decided)
}

/// Prints the case; a refused step goes to stderr with exit 1 (store failures are errors).
fn finish(outcome: Result<credit_core::cases::Case, PlatformError>) -> Result<i32> {
    match outcome {
        Ok(case) => {
            super::print_json(&case)?;
            Ok(0)
        }
        Err(error) if !error.is_user_error() => Err(error).context("writing the case"),
        Err(refused) => {
            eprintln!("credit-server: {refused}");
            Ok(1)
        }
    }
}

fn show(args: &ShowArgs) -> Result<i32> {
    let platform = super::platform(&args.data_dir)?;
    let actor = super::console_actor(None);
    if let Some(record) = args.record {
        for case in platform.cases_of(&actor, RecordId(record))? {
            super::print_json(&case)?;
        }
        return Ok(0);
    }
    let id = args.case.expect("clap requires --case or --record");
    match platform.case(&actor, id) {
        Ok(found) => super::print_json(&found)?,
        Err(PlatformError::Case(CaseError::NoCase(_))) => {
            eprintln!("credit-server: no case {id}");
            return Ok(1);
        }
        Err(error) => return Err(error.into()),
    }
    Ok(0)
}
