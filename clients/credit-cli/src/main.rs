//! `credit`: the command-line tool for the public and for departments.
//!
//! Exit status: 0 on success, 1 when the command ran but its answer is negative or a call failed,
//! 2 on usage errors. JSON goes to stdout, one compact object per line; messages go to stderr.

mod cases;
mod check;
mod connection;
mod evaluation;
mod id_check;
mod import;
mod keys;
mod report;
mod search;
mod subject;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "credit", version, about = "Unified credit and identity information: lookups and checks")]
struct Cli {
    #[command(flatten)]
    connection: connection::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Identifier tools that work offline, without a server.
    #[command(subcommand)]
    Id(IdCommand),
    /// Signed credit reports: get one, verify one (offline with --keys), print the published keys.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// A subject and the records the view shows (public by default; regulator view with a regulator key).
    Get(subject::GetArgs),
    /// Every version of a subject and of its records (regulator key): who delivered what, when.
    History(subject::HistoryArgs),
    /// API keys (admin key): create, list, revoke.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Public credit evaluation: get one subject's, the grade distribution.
    #[command(subcommand)]
    Evaluation(evaluation::EvaluationCommand),
    /// Credit statistics per division (the credit map) or industry; small counts suppressed.
    Stats(evaluation::StatsArgs),
    /// Search subjects by name (any script, pinyin, initials), code or its prefix, ID number, document number.
    Search(search::Args),
    /// Joint check (regulator key): the verdict and the measures for an approval item.
    Check(check::CheckArgs),
    /// Report what was done about a measure of a recorded check.
    Feedback(check::FeedbackArgs),
    /// Upload a department file (provider or admin key): the summary `credit-server import` prints.
    Import(import::Args),
    /// Credit repair: apply, accept, reject, approve, deny, show.
    #[command(subcommand)]
    Repair(cases::RepairCommand),
    /// Objections against wrong records: file, accept, reject, correct, revoke, dismiss, show.
    #[command(subcommand)]
    Objection(cases::ObjectionCommand),
    /// Follow the change feed (regulator key): listings, removals, repairs, … as they are committed.
    Watch(watch::Args),
}

#[derive(Debug, Subcommand)]
enum IdCommand {
    /// Validate identifiers (unified code, resident ID, organisation code, registration number) and
    /// print one JSON object per input, in input order.
    Check(id_check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Id(IdCommand::Check(args)) => id_check::run(&args),
        Command::Report(command) => report::run(&command, &cli.connection),
        Command::Watch(args) => watch::run(&args, &cli.connection),
        Command::Import(args) => import::run(&args, &cli.connection),
        Command::Check(args) => check::check(&args, &cli.connection),
        Command::Get(args) => subject::get(&args, &cli.connection),
        Command::History(args) => subject::history(&args, &cli.connection),
        Command::Keys(command) => keys::run(&command, &cli.connection),
        Command::Evaluation(command) => evaluation::run(&command, &cli.connection),
        Command::Stats(args) => evaluation::stats(&args, &cli.connection),
        Command::Search(args) => search::run(&args, &cli.connection),
        Command::Feedback(args) => check::feedback(&args, &cli.connection),
        Command::Repair(command) => cases::repair(&command, &cli.connection),
        Command::Objection(command) => cases::objection(&command, &cli.connection),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("credit: error: {error:#}");
            ExitCode::from(1)
        }
    }
}
