//! Embedded administration commands: they open the store directly, no server needed.
//! JSON goes to stdout, one compact object per line; progress and logs go to stderr.

pub mod backup;
pub mod cases;
pub mod check;
pub mod disclosure;
pub mod feed;
pub mod get;
pub mod import;
pub mod keys;
pub mod search;
pub mod stats;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use credit_core::engine::RocksEngine;
use credit_core::store::Store;

/// Opens the store in `dir`, creating it when missing.
pub fn open_store(dir: &Path) -> Result<Store<RocksEngine>> {
    Store::open_dir(dir).with_context(|| format!("opening the store in {}", dir.display()))
}

/// Prints one compact JSON object on its own line.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
