//! `credit-server keys create|list|revoke`: API keys in the data directory. A running server picks
//! changes up within `keys_reload_seconds`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use credit_server::auth::{KeyChange, KeyFile, Role};

#[derive(Debug, clap::Args)]
pub struct KeysCommand {
    #[arg(long, env = "CREDIT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysAction {
    /// Create a key and print its token once (the platform keeps only a hash of it).
    Create {
        /// public, provider, regulator, admin or subject.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The department the key acts for (required for providers).
        #[arg(long)]
        dept: Option<String>,
        /// The unified social credit code a subject key is bound to (required for, and only for,
        /// `--role subject`).
        #[arg(long)]
        code: Option<String>,
        /// A note on who holds the key.
        #[arg(long)]
        label: Option<String>,
    },
    /// Every key, revoked ones included, one JSON object per line (never a token).
    List,
    /// Revoke a key by its id; calls with it fail with UNAUTHENTICATED from then on.
    Revoke { id: String },
}

fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse(value).ok_or_else(|| format!("{value:?} is not one of public, provider, regulator, admin, subject"))
}

pub fn run(command: &KeysCommand) -> Result<i32> {
    let data_dir = command.data_dir.clone().unwrap_or_else(credit_server::config::default_data_dir);
    let file = KeyFile::in_dir(&data_dir);
    match &command.action {
        KeysAction::Create { role, dept, label, code } => {
            let key =
                file.create_bound(*role, dept.clone(), label.clone(), code.clone()).context("creating the key")?;
            let change = KeyChange { revoked: false, key: key.entry.clone() };
            audit_if_idle(&data_dir, change.act());
            eprintln!("keys: the token is shown only now; store it safely");
            super::print_json(&key)?;
        }
        KeysAction::List => {
            for entry in file.list()? {
                super::print_json(&entry)?;
            }
        }
        KeysAction::Revoke { id } => {
            let entry = file.revoke(id)?;
            let change = KeyChange { revoked: true, key: entry.clone() };
            audit_if_idle(&data_dir, change.act());
            super::print_json(&entry)?;
        }
    }
    Ok(0)
}

/// Writes a key change to the audit log when no server holds the store; a running server writes it
/// itself when it picks the change up (within `keys_reload_seconds`).
fn audit_if_idle(data_dir: &std::path::Path, act: credit_core::platform::AdminAct) {
    match super::platform(data_dir) {
        Ok(platform) => {
            if let Err(error) = super::record_admin(&platform, data_dir, &[act]) {
                eprintln!("keys: warning: the change is made but not in the audit log: {error:#}");
            }
        }
        Err(_) => eprintln!("keys: the store is in use; the running server records this change in the audit log"),
    }
}
