//! `credit repair …` and `credit objection …`: every workflow step through the service, printing the
//! case as `credit-server repair|objection` prints it. A step the case does not allow: exit 1.

use std::process::ExitCode;

use anyhow::Result;
use credit_client::{ClientError, CreditClient, proto};

use crate::connection::Connection;

#[derive(Debug, Clone, clap::Args)]
pub struct OpenArgs {
    /// The record the case is about.
    #[arg(long)]
    record: u64,
    /// The applicant's statement, or what is wrong with the record.
    #[arg(long)]
    reason: String,
    /// The day of the application, YYYY-MM-DD (default: today).
    #[arg(long)]
    on: Option<String>,
    /// A repair's proof of fulfilment: a reference to a document (repeat for several).
    #[arg(long)]
    evidence: Vec<String>,
    /// A repair's public credit commitment, as the subject made it.
    #[arg(long)]
    commitment: Option<String>,
    /// The day the commitment was made, YYYY-MM-DD (default: the day of the application).
    #[arg(long)]
    commitment_date: Option<String>,
    /// A regulator applying for the subject: whom it acts for.
    #[arg(long)]
    acting_for: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DecideArgs {
    #[arg(long)]
    case: u64,
    #[arg(long)]
    note: Option<String>,
    /// The day of the decision, YYYY-MM-DD (default: today).
    #[arg(long)]
    on: Option<String>,
    /// The day the outcome takes effect (default: the day of the decision).
    #[arg(long)]
    effective: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CorrectArgs {
    #[command(flatten)]
    decide: DecideArgs,
    /// A JSON merge patch of the record's content.
    #[arg(long)]
    patch: String,
}

#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ShowArgs {
    /// One case with its steps.
    #[arg(long)]
    case: Option<u64>,
    /// Every case about a record.
    #[arg(long)]
    record: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
pub enum RepairCommand {
    /// Apply for the repair of a record.
    Apply(OpenArgs),
    Accept(DecideArgs),
    Reject(DecideArgs),
    Approve(DecideArgs),
    Deny(DecideArgs),
    Show(ShowArgs),
    /// Open cases past the deadline of their current step, one per line (regulators and admins).
    Overdue {
        /// The day to judge deadlines on, YYYY-MM-DD (default: today).
        #[arg(long)]
        on: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ObjectionCommand {
    /// File an objection against a record.
    File(OpenArgs),
    Accept(DecideArgs),
    Reject(DecideArgs),
    Correct(CorrectArgs),
    Revoke(DecideArgs),
    Dismiss(DecideArgs),
    Show(ShowArgs),
}

enum Step {
    Open(&'static str, OpenArgs),
    Decide(&'static str, DecideArgs, String),
    Show(ShowArgs),
    Overdue(String),
}

pub fn repair(command: &RepairCommand, connection: &Connection) -> Result<ExitCode> {
    let step = match command {
        RepairCommand::Apply(args) => Step::Open("apply", args.clone()),
        RepairCommand::Accept(args) => Step::Decide("accept", args.clone(), String::new()),
        RepairCommand::Reject(args) => Step::Decide("reject", args.clone(), String::new()),
        RepairCommand::Approve(args) => Step::Decide("approve", args.clone(), String::new()),
        RepairCommand::Deny(args) => Step::Decide("deny", args.clone(), String::new()),
        RepairCommand::Show(args) => Step::Show(args.clone()),
        RepairCommand::Overdue { on } => Step::Overdue(on.clone().unwrap_or_default()),
    };
    run(step, connection)
}

pub fn objection(command: &ObjectionCommand, connection: &Connection) -> Result<ExitCode> {
    let step = match command {
        ObjectionCommand::File(args) => Step::Open("file", args.clone()),
        ObjectionCommand::Accept(args) => Step::Decide("accept", args.clone(), String::new()),
        ObjectionCommand::Reject(args) => Step::Decide("reject", args.clone(), String::new()),
        ObjectionCommand::Correct(args) => Step::Decide("correct", args.decide.clone(), args.patch.clone()),
        ObjectionCommand::Revoke(args) => Step::Decide("revoke", args.clone(), String::new()),
        ObjectionCommand::Dismiss(args) => Step::Decide("dismiss", args.clone(), String::new()),
        ObjectionCommand::Show(args) => Step::Show(args.clone()),
    };
    run(step, connection)
}

fn run(step: Step, connection: &Connection) -> Result<ExitCode> {
    crate::connection::block_on(async {
        let client = connection.connect().await?;
        match take(&client, step).await {
            Ok(lines) => {
                for line in lines {
                    println!("{line}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Err(error.into()),
        }
    })
}

/// The JSON lines to print.
async fn take(client: &CreditClient, step: Step) -> Result<Vec<String>, ClientError> {
    Ok(match step {
        Step::Open(action, args) => {
            let request = proto::OpenCaseRequest {
                action: action.into(),
                record_id: args.record,
                reason: args.reason,
                on: args.on.unwrap_or_default(),
                evidence: args.evidence,
                commitment_text: args.commitment.unwrap_or_default(),
                commitment_date: args.commitment_date.unwrap_or_default(),
                acting_for: args.acting_for.unwrap_or_default(),
            };
            vec![client.open_case(request).await?.json]
        }
        Step::Decide(action, args, correction_json) => {
            let request = proto::DecideCaseRequest {
                case_id: args.case,
                action: action.into(),
                note: args.note.unwrap_or_default(),
                on: args.on.unwrap_or_default(),
                effective: args.effective.unwrap_or_default(),
                correction_json,
            };
            vec![client.decide_case(request).await?.json]
        }
        Step::Show(ShowArgs { case: Some(id), .. }) => {
            let shown = client.case(id).await?;
            let case = shown.case.map(|c| c.json).unwrap_or_default();
            // The case with its steps, as `credit-server repair show` prints it.
            let mut object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&case).unwrap_or_default();
            let steps = shown.steps_json.iter().filter_map(|s| serde_json::from_str(s).ok()).collect();
            object.insert("steps".into(), serde_json::Value::Array(steps));
            vec![serde_json::Value::Object(object).to_string()]
        }
        Step::Overdue(on) => client.overdue_cases(&on).await?.into_iter().map(|c| c.json).collect(),
        Step::Show(ShowArgs { record, .. }) => {
            client.cases_of(record.unwrap_or_default()).await?.into_iter().map(|c| c.json).collect()
        }
    })
}
