//! `credit-server audit verify|query`: the audit log of a data directory.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use credit_core::audit::AuditQuery;
use credit_server::signing::{KeyPaths, Signing};
use credit_sign::KeySet;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the chain and the signed checkpoints. Exit 0 when intact; 1 naming the first entry that was
    /// changed, removed or reordered.
    Verify {
        #[arg(long, env = "CREDIT_DATA_DIR")]
        data_dir: PathBuf,
        /// Published verifying keys (a key set); default: the data directory's signing key and retired keys.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
        /// Checkpoints kept outside the store (JSON lines: the mirror file, or `export-head` output
        /// gathered elsewhere); default: `audit-checkpoints.jsonl` in the data directory.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
    },
    /// The newest signed checkpoint of the log, one JSON line: copy it to storage the platform's
    /// operators cannot rewrite, and pass those lines to `verify --checkpoints` later.
    ExportHead {
        #[arg(long, env = "CREDIT_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Entries in sequence order, one stored JSON object per line (exactly the hashed bytes).
    Query {
        #[arg(long, env = "CREDIT_DATA_DIR")]
        data_dir: PathBuf,
        /// About this subject (any identifier).
        #[arg(long)]
        subject: Option<String>,
        /// By this API key id (`console:<login>` for embedded commands).
        #[arg(long)]
        key_id: Option<String>,
        /// Of this operation (`subject.read`, `check`, `report.issue`, `import`, …).
        #[arg(long)]
        operation: Option<String>,
        #[arg(long, value_name = "RFC3339")]
        from: Option<DateTime<Utc>>,
        #[arg(long, value_name = "RFC3339")]
        to: Option<DateTime<Utc>>,
        /// Entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

pub fn run(command: &AuditCommand) -> Result<i32> {
    match command {
        AuditCommand::ExportHead { data_dir } => {
            let store = super::open_store(data_dir)?;
            match store.audit().newest_checkpoint().context("reading the audit log")? {
                Some(checkpoint) => {
                    super::print_json(&checkpoint)?;
                    Ok(0)
                }
                None => {
                    eprintln!("credit-server: the audit log has no checkpoint yet");
                    Ok(1)
                }
            }
        }
        AuditCommand::Verify { data_dir, keys, checkpoints } => {
            let keys = match keys {
                Some(path) => KeySet::load(path)?,
                None => Signing::load(&KeyPaths::in_dir(data_dir), false)?.published,
            };
            let store = super::open_store(data_dir)?;
            let mirror = checkpoints.clone().unwrap_or_else(|| data_dir.join(credit_core::audit::CHECKPOINT_FILE));
            let external = credit_core::audit::read_checkpoints(&mirror)
                .with_context(|| format!("reading checkpoints from {}", mirror.display()))?;
            match store.audit().verify_with(&keys, &external).context("reading the audit log")? {
                Ok(intact) => {
                    super::print_json(&serde_json::json!({ "intact": true, "log": intact }))?;
                    Ok(0)
                }
                Err(problem) => {
                    eprintln!("credit-server: {problem}");
                    super::print_json(&serde_json::json!({ "intact": false, "break": problem }))?;
                    Ok(1)
                }
            }
        }
        AuditCommand::Query { data_dir, subject, key_id, operation, from, to, after, limit } => {
            let store = super::open_store(data_dir)?;
            let subject = match subject {
                Some(identifier) => match store.find_subject_id(identifier)? {
                    Some(id) => Some(id),
                    None => {
                        eprintln!("credit-server: no subject with identifier {identifier:?}");
                        return Ok(1);
                    }
                },
                None => None,
            };
            let query = AuditQuery {
                subject,
                key_id: key_id.clone(),
                operation: operation.clone(),
                from: *from,
                to: *to,
                after: *after,
                limit: *limit,
            };
            let mut out = std::io::stdout().lock();
            for entry in store.audit().query(&query)? {
                use std::io::Write;
                out.write_all(&entry.stored)?;
                out.write_all(b"\n")?;
            }
            Ok(0)
        }
    }
}
