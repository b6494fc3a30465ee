//! Embedded administration commands: they open the store directly, no server needed.
//! JSON goes to stdout, one compact object per line; progress and logs go to stderr.

pub mod audit;
pub mod backup;
pub mod cases;
pub mod check;
pub mod disclosure;
pub mod evaluate;
pub mod feed;
pub mod get;
pub mod import;
pub mod inspect;
pub mod keys;
pub mod search;
pub mod signing;
pub mod stats;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use credit_core::Platform;
use credit_core::audit::Actor;
use credit_core::engine::RocksEngine;
use credit_core::rules::RuleSet;
use credit_core::store::Store;
use credit_server::signing::{KeyPaths, Signing};

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

/// Who runs an embedded command: the named operator, else the login name.
pub fn console_actor(operator: Option<&str>) -> Actor {
    let login = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).ok();
    Actor::console(operator.or(login.as_deref()))
}

/// The platform over the store in `dir` (created when missing), under the compiled-in rule sets;
/// commands that take `--rules` or a disclosure rules file replace them (`with_rules`,
/// `with_disclosure`).
pub fn platform(dir: &Path) -> Result<Platform> {
    let disclosure = credit_core::disclosure::DisclosureRules::builtin();
    Ok(Platform::new(Arc::new(open_store(dir)?), RuleSet::builtin(), disclosure))
}

/// Records what the console did to the service itself (keys, signing keys, restores) in the audit log,
/// then signs the log's head when the data directory has a usable signing key (as the server does
/// every few seconds).
pub fn record_admin(platform: &Platform, data_dir: &Path, acts: &[credit_core::platform::AdminAct]) -> Result<()> {
    platform.record_admin(&console_actor(None), acts).context("writing the audit log")?;
    checkpoint(platform.store(), data_dir)
}

/// Signs the audit log's head when the data directory has a usable signing key: after a use case of
/// the platform wrote its entry, as the server does every few seconds.
pub fn checkpoint(store: &Store<RocksEngine>, data_dir: &Path) -> Result<()> {
    let paths = KeyPaths::in_dir(data_dir);
    if !paths.signing_key.exists() {
        return Ok(());
    }
    match Signing::load(&paths, false) {
        Ok(Signing { key: Some(key), .. }) => {
            store.audit().checkpoint(&key).context("signing the audit log's head")?;
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "audit log not checkpointed: the signing key is unusable"),
    }
    Ok(())
}
