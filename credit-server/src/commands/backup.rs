//! `credit-server backup` and `restore`: consistent copies with RocksDB checkpoints.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Directory for the copy; must not exist yet.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A directory written by `backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// Data directory to restore into; must be missing or empty.
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
}

pub fn backup(args: &BackupArgs) -> Result<i32> {
    if args.to.exists() {
        bail!("--to {}: already exists; a backup goes into a new directory", args.to.display());
    }
    let platform = super::platform(&args.data_dir)?;
    let written = platform.backup(&super::console_actor(None), &args.to);
    super::checkpoint(platform.store(), &args.data_dir)?;
    written.with_context(|| format!("writing a checkpoint to {}", args.to.display()))?;
    let stats = platform.store().stats(credit_core::time::today_cst())?;
    super::print_json(
        &json!({"backup": args.to.display().to_string(), "subjects": stats.subjects, "records": stats.records}),
    )?;
    Ok(0)
}

pub fn restore(args: &RestoreArgs) -> Result<i32> {
    if !args.from.join("CURRENT").is_file() {
        bail!("--from {}: not a backup (no CURRENT file)", args.from.display());
    }
    if args.data_dir.exists() && std::fs::read_dir(&args.data_dir)?.next().is_some() {
        bail!("--data-dir {}: not empty; restore into a new directory", args.data_dir.display());
    }
    copy_dir(&args.from, &args.data_dir)?;
    // Opening proves the copy is a readable store (and replays its WAL).
    let platform = super::platform(&args.data_dir)?;
    let act = credit_core::platform::AdminAct::Restore { from: args.from.display().to_string() };
    super::record_admin(&platform, &args.data_dir, &[act])?;
    let stats = platform.store().stats(credit_core::time::today_cst())?;
    super::print_json(
        &json!({"restored": args.data_dir.display().to_string(), "subjects": stats.subjects, "records": stats.records}),
    )?;
    Ok(0)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
