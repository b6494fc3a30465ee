//! `credit-server evaluate ...`: the public credit evaluation on a data directory — runs that keep the
//! stored evaluations current, one subject's evaluation, the grade distribution, and checking a model
//! file.

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use credit_core::evaluation::EvaluationModel;
use credit_core::time::today_cst;

use super::disclosure::DisclosureArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Evaluation model file (layout of fixtures/evaluation/model.toml); the compiled-in model when absent.
    #[arg(long = "model", value_name = "FILE", env = "CREDIT_EVALUATION_MODEL")]
    pub model_file: Option<PathBuf>,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum EvaluateCommand {
    /// Evaluate every subject and store the results (grade changes go to the change feed); with
    /// --changed, only the subjects changed since the last run (a full run when the day or the model
    /// changed). Prints what the run did.
    Run {
        #[arg(long, env = "CREDIT_DATA_DIR")]
        data_dir: PathBuf,
        /// The day evaluated, YYYY-MM-DD (China Standard Time); default today.
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<NaiveDate>,
        #[arg(long)]
        changed: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// One subject's evaluation, explained per indicator (exit 1 when the model does not cover it).
    Get {
        #[arg(long, env = "CREDIT_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<NaiveDate>,
        identifier: String,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// How many stored evaluations have each grade and risk class.
    Distribution {
        #[arg(long, env = "CREDIT_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Validate a model file (the compiled-in model without FILE) and print it (exit 1 naming the line
    /// and field of the first error).
    Check { file: Option<PathBuf> },
}

fn platform(data_dir: &std::path::Path, model: &ModelArgs) -> Result<credit_core::Platform> {
    let evaluation = EvaluationModel::load(model.model_file.as_deref())?;
    Ok(super::platform(data_dir)?.with_disclosure(model.disclosure.load()?).with_evaluation_model(evaluation))
}

pub fn run(command: &EvaluateCommand) -> Result<i32> {
    let actor = super::console_actor(None);
    match command {
        EvaluateCommand::Run { data_dir, as_of, changed, model } => {
            let platform = platform(data_dir, model)?;
            let day = as_of.unwrap_or_else(today_cst);
            let started = std::time::Instant::now();
            let run =
                if *changed { platform.evaluate_changed(&actor, day)? } else { platform.evaluate_all(&actor, day)? };
            let seconds = started.elapsed().as_secs_f64();
            super::checkpoint(platform.store(), data_dir)?;
            eprintln!("evaluate: {} run, {} evaluated, {} grades changed", run.kind, run.evaluated, run.grade_changed);
            // The run's own time (the store already open), and subjects read per second: the benchmark's.
            let mut shown = serde_json::to_value(&run)?;
            shown["seconds"] = serde_json::json!((seconds * 1000.0).round() / 1000.0);
            let subjects = (run.evaluated + run.out_of_scope) as f64;
            shown["subjects_per_second"] = serde_json::json!((subjects / seconds.max(1e-9)).round() as u64);
            super::print_json(&shown)?;
        }
        EvaluateCommand::Get { data_dir, as_of, identifier, model } => {
            let platform = platform(data_dir, model)?;
            match platform.evaluate_subject(&actor, identifier, *as_of)? {
                Some(evaluation) => super::print_json(&evaluation)?,
                None => {
                    eprintln!("credit-server: the model does not evaluate this subject's type");
                    return Ok(1);
                }
            }
        }
        EvaluateCommand::Distribution { data_dir } => {
            let platform = super::platform(data_dir)?;
            super::print_json(&platform.grade_distribution(&actor)?)?;
        }
        EvaluateCommand::Check { file } => match EvaluationModel::load(file.as_deref()) {
            Ok(model) => super::print_json(model.as_ref())?,
            Err(error) => {
                eprintln!("credit-server: {error}");
                return Ok(1);
            }
        },
    }
    Ok(0)
}
