//! `credit-server signing init|keys|rotate`: the platform's report and checkpoint signing key.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use credit_core::platform::AdminAct;
use credit_server::signing::{KeyPaths, Signing};

#[derive(Debug, clap::Args)]
pub struct SigningCommand {
    #[arg(long, env = "CREDIT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub action: SigningAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum SigningAction {
    /// Create the signing key (DIR/signing.key, mode 0600) unless there is one; print its public entry.
    Init,
    /// Print the published verifying keys as a key set (what `credit report verify --keys` reads).
    Keys,
    /// Retire the signing key and create a new one; the old public key stays published, so reports it
    /// signed keep verifying. Restart the server to sign with the new key.
    Rotate,
}

pub fn run(command: &SigningCommand) -> Result<i32> {
    let data_dir = command.data_dir.clone().unwrap_or_else(credit_server::config::default_data_dir);
    let paths = KeyPaths::in_dir(&data_dir);
    match command.action {
        SigningAction::Init => {
            if paths.signing_key.exists() {
                eprintln!("signing: {} exists; keeping it", paths.signing_key.display());
            }
            std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
            let signing = Signing::load(&paths, true)?;
            let Some(key) = signing.key else { bail!("no signing key was created") };
            let act = AdminAct::SigningInit { key_id: key.id().to_string() };
            super::record_admin(&super::platform(&data_dir)?, &data_dir, &[act])?;
            super::print_json(&key.published())?;
        }
        SigningAction::Keys => {
            let signing = Signing::load(&paths, false)?;
            println!("{}", signing.published.to_json());
        }
        SigningAction::Rotate => {
            let (old, new) = Signing::rotate(&paths)?;
            let act = AdminAct::SigningRotate { retired_key_id: old.clone(), key_id: new.clone() };
            super::record_admin(&super::platform(&data_dir)?, &data_dir, &[act])?;
            super::print_json(&serde_json::json!({ "retired_key_id": old, "key_id": new }))?;
        }
    }
    Ok(0)
}
