//! `serve --demo`: the committed demo fixtures, compiled in, loaded into an empty store, and a
//! regulator token in `DIR/demo-token` so every role can be tried.

use std::path::{Path, PathBuf};

use credit_core::engine::RocksEngine;
use credit_core::ident::Codebook;
use credit_core::import::{ImportKind, ImportOptions, ImportSummary, ImportTables, Quiet, import_files};
use credit_core::store::Store;

use crate::auth::{KeyFile, KeyRing, Role, write_private};

pub const TOKEN_FILE: &str = "demo-token";

/// The demo files, in import order (subjects before the records that name them).
const FILES: &[(ImportKind, &str, &[u8])] = &[
    (ImportKind::Subject, "persons.csv", include_bytes!("../../fixtures/demo/persons.csv")),
    (ImportKind::Subject, "subjects.csv", include_bytes!("../../fixtures/demo/subjects.csv")),
    (ImportKind::Penalty, "penalties.csv", include_bytes!("../../fixtures/demo/penalties.csv")),
    (
        ImportKind::Penalty,
        "penalties_2016_gb18030.csv",
        include_bytes!("../../fixtures/demo/penalties_2016_gb18030.csv"),
    ),
    (ImportKind::Licence, "licences.csv", include_bytes!("../../fixtures/demo/licences.csv")),
    (ImportKind::Licence, "licences_health.jsonl", include_bytes!("../../fixtures/demo/licences_health.jsonl")),
    (ImportKind::List, "lists.csv", include_bytes!("../../fixtures/demo/lists.csv")),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] credit_core::store::StoreError),
    #[error("importing the demo {kind} files: {source}")]
    Import { kind: &'static str, source: credit_core::import::ImportError },
    #[error(transparent)]
    Keys(#[from] crate::auth::KeyError),
    #[error("evaluating the demo data: {0}")]
    Evaluate(String),
}

/// Loads the demo fixtures when the store has never had a batch; `None` when it already had data.
pub fn load_if_empty(store: &Store<RocksEngine>, data_dir: &Path) -> Result<Option<Vec<ImportSummary>>, DemoError> {
    if store.last_committed_batch()?.is_some() || store.counters()?.subjects > 0 {
        return Ok(None);
    }
    let staging = data_dir.join(".demo-fixtures");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io { path, source }
    };
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let mut summaries = Vec::new();
    let today = credit_core::time::today_cst();
    for kind in ImportKind::ALL {
        let mut paths = Vec::new();
        for (_, name, bytes) in FILES.iter().filter(|(k, _, _)| *k == kind) {
            let path = staging.join(name);
            std::fs::write(&path, bytes).map_err(io(&path))?;
            paths.push(path);
        }
        let options = ImportOptions::new(kind, today);
        let summary = import_files(store, &paths, &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet)
            .map_err(|source| DemoError::Import { kind: kind.as_str(), source })?;
        tracing::info!(kind = kind.as_str(), rows = summary.rows, accepted = summary.accepted, "demo data loaded");
        summaries.push(summary);
    }
    std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    Ok(Some(summaries))
}

/// Makes sure `DIR/demo-token` holds a working regulator token (mode 0600); returns its path.
pub fn ensure_token(data_dir: &Path, keys: &KeyFile) -> Result<PathBuf, DemoError> {
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let ring = KeyRing::load(keys.clone())?;
        if ring.authenticate(existing.trim()).is_ok() {
            return Ok(path);
        }
    }
    let key = keys.create(Role::Regulator, None, Some("demo".into()))?;
    write_private(&path, format!("{}\n", key.token).as_bytes())?;
    tracing::info!(key_id = %key.entry.id, path = %path.display(), "demo regulator token written");
    Ok(path)
}
