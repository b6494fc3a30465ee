//! `credit-server disclosure check`: validate disclosure rules; and the `--disclosure` option every
//! command that computes a public view or a repair date shares.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use credit_core::disclosure::DisclosureRules;

/// Where the disclosure rules come from: a configured file, or the compiled-in rules.
#[derive(Debug, Clone, clap::Args)]
pub struct DisclosureArgs {
    /// Disclosure rules file (layout of fixtures/disclosure/rules.toml); the compiled-in rules when absent.
    #[arg(long = "disclosure", value_name = "FILE", env = "CREDIT_DISCLOSURE_RULES")]
    pub file: Option<PathBuf>,
}

impl DisclosureArgs {
    pub fn load(&self) -> Result<Arc<DisclosureRules>> {
        Ok(DisclosureRules::load(self.file.as_deref())?)
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum DisclosureCommand {
    /// Validate a rules file (the compiled-in rules without FILE) and print its rule sets, one per line
    /// (exit 1 naming the line and field of the first error).
    Check { file: Option<PathBuf> },
}

pub fn run(command: &DisclosureCommand) -> Result<i32> {
    let DisclosureCommand::Check { file } = command;
    let rules = match DisclosureRules::load(file.as_deref()) {
        Ok(rules) => rules,
        Err(error) => {
            eprintln!("credit-server: {error}");
            return Ok(1);
        }
    };
    for rule_set in rules.rule_sets() {
        super::print_json(rule_set)?;
    }
    Ok(0)
}
