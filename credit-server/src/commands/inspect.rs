//! `credit-server inspect plan`: a reproducible random inspection draw (双随机) per supervision risk
//! class at the evaluation model's ratios, among the stored evaluations of a division; audited.

use std::path::PathBuf;

use anyhow::Result;
use credit_core::platform::PlanRequest;

#[derive(Debug, clap::Subcommand)]
pub enum InspectCommand {
    /// Draw the subjects to inspect and print the plan as one JSON object (exit 2: a bad argument).
    Plan {
        #[arg(long, env = "CREDIT_DATA_DIR")]
        data_dir: PathBuf,
        /// The inspection item (抽查事项).
        #[arg(long)]
        item: String,
        /// The inspecting department.
        #[arg(long)]
        dept: String,
        /// A GB/T 2260 code or prefix (e.g. 3201): the subjects registered there.
        #[arg(long)]
        division: String,
        /// Any text; the same seed over the same evaluations draws the same subjects.
        #[arg(long)]
        seed: String,
    },
}

pub fn run(command: &InspectCommand) -> Result<i32> {
    let InspectCommand::Plan { data_dir, item, dept, division, seed } = command;
    let platform = super::platform(data_dir)?;
    let request =
        PlanRequest { item: item.clone(), department: dept.clone(), division: division.clone(), seed: seed.clone() };
    match platform.inspection_plan(&super::console_actor(None), &request) {
        Ok(plan) => {
            super::checkpoint(platform.store(), data_dir)?;
            let drawn: usize = plan.classes.iter().map(|c| c.drawn.len()).sum();
            eprintln!("inspect: {drawn} subjects drawn");
            super::print_json(&plan)?;
            Ok(0)
        }
        Err(error) if error.is_user_error() => {
            eprintln!("credit-server: {error}");
            Ok(2)
        }
        Err(error) => Err(error.into()),
    }
}
