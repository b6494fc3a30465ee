//! Importing department files (DOMAIN.md §9): CSV (UTF-8 with or without BOM, or GB18030), JSON Lines
//! and `.xlsx`, with the column names departments use.
//!
//! Every row is validated; rejected rows are reported with row number, column and reason, and valid
//! rows land. One invocation is one batch, atomic even across a crash: after `kill -9`, a batch is whole
//! or absent (see [`crate::store::BatchWriter`]). Re-importing the same file changes nothing.

mod apply;
mod rows;
pub mod source;
mod tables;
pub mod values;

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use tables::{ImportTables, TablesError};

use crate::audit::{Actor, AuditEvent, Operation};
use crate::engine::Engine;
use crate::ident::Codebook;
use crate::store::{Committer, Store, StoreError};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    Subject,
    Penalty,
    Licence,
    List,
}

impl ImportKind {
    pub const ALL: [ImportKind; 4] = [ImportKind::Subject, ImportKind::Penalty, ImportKind::Licence, ImportKind::List];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Subject => "subject",
            ImportKind::Penalty => "penalty",
            ImportKind::Licence => "licence",
            ImportKind::List => "list",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: ImportKind,
    /// Source department when the file names none; without either, the deciding authority is the source.
    pub source_dept: Option<String>,
    /// Rows must come from this department (uploads by a department's own key): a row whose source
    /// department, as the file or its deciding authority names it, is another is rejected.
    pub only_dept: Option<String>,
    /// Whether subject rows of this delivery are authoritative (the source is a registration authority,
    /// or the platform's operator). Otherwise a subject row only creates a provisional subject where none
    /// is known, and a row about a known subject is rejected: one source per datum.
    pub registration: bool,
    /// All or nothing: one rejected row and nothing of the batch lands.
    pub strict: bool,
    /// Bounds birth dates; China Standard Time.
    pub today: NaiveDate,
    /// When the batch is recorded: every version and feed event it writes carries this time.
    pub at: DateTime<Utc>,
}

impl ImportOptions {
    /// An operator's delivery of `kind`: authoritative, lenient (valid rows land), no department.
    pub fn new(kind: ImportKind, today: NaiveDate) -> ImportOptions {
        ImportOptions {
            kind,
            source_dept: None,
            only_dept: None,
            registration: true,
            strict: false,
            today,
            at: Utc::now(),
        }
    }
}

/// The summary `credit-server import` prints as its last line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub batch_id: u64,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub new_records: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    pub provisional_subjects: u64,
    pub new_subjects: u64,
    pub updated_subjects: u64,
    pub warnings: u64,
    /// False when nothing landed (a strict import with rejected rows).
    pub committed: bool,
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub file: String,
    pub row: u64,
    pub column: Option<String>,
    pub reason: String,
    /// The row as delivered: (column, value) pairs, or the raw text when it could not be split.
    pub original: Vec<(String, String)>,
}

/// What the caller wants to hear while an import runs.
pub trait ImportObserver {
    fn progress(&mut self, _file: &str, _rows: u64) {}
    fn reject(&mut self, _reject: &Reject) {}
    fn warning(&mut self, _file: &str, _row: u64, _message: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl ImportObserver for Quiet {}

/// Failures that stop an import; nothing of its batch lands.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {reason}")]
    Format { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug of ours met while importing; the batch was rolled back whole.
    #[error("the import stopped on an internal error and was rolled back: {0}")]
    Panicked(String),
}

/// How many rows between progress reports.
const PROGRESS_EVERY: u64 = 10_000;

/// Imports `files` as one batch.
pub fn import_files<E: Engine>(
    store: &Store<E>,
    files: &[PathBuf],
    options: &ImportOptions,
    tables: &ImportTables,
    book: &Codebook,
    observer: &mut dyn ImportObserver,
) -> Result<ImportSummary, ImportError> {
    let names = files.iter().map(|p| p.display().to_string()).collect();
    let mut guard = store.begin_batch(options.kind.as_str(), names, options.source_dept.clone(), options.at)?;
    let mut summary = ImportSummary { batch_id: guard.info().id.0, ..ImportSummary::default() };
    let outcome = std::thread::scope(|scope| -> Result<(), ImportError> {
        // Chunks land on their own thread while the next ones are built.
        guard.set_committer(Committer::spawn(scope, store.engine()));
        let imported = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), ImportError> {
            let mut applier = apply::Applier { guard: &mut guard, registration: options.registration };
            for path in files {
                import_file(&mut applier, path, options, tables, book, &mut summary, observer)?;
            }
            Ok(())
        }));
        // The committer thread must end inside the scope, even when applying panicked: the scope
        // would otherwise wait for it forever.
        let stopped = guard.stop_committer();
        imported.map_err(|panic| ImportError::Panicked(panic_message(panic.as_ref())))??;
        Ok(stopped?)
    });
    if let Err(e) = outcome {
        guard.abort()?;
        return Err(e);
    }
    if options.strict && summary.rejected > 0 {
        guard.abort()?;
        summary.accepted = 0;
        summary.new_records = 0;
        summary.new_versions = 0;
        summary.unchanged = 0;
        summary.provisional_subjects = 0;
        summary.new_subjects = 0;
        summary.updated_subjects = 0;
        return Ok(summary);
    }
    guard.commit()?;
    summary.committed = true;
    Ok(summary)
}

/// What a panic said, for the error that replaces it.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Imports one file: a reader thread decodes and validates rows while this thread links and writes
/// them, so parsing and storage overlap on two cores. Rows are applied in file order.
fn import_file<E: Engine>(
    applier: &mut apply::Applier<'_, '_, E>,
    path: &Path,
    options: &ImportOptions,
    tables: &ImportTables,
    book: &Codebook,
    summary: &mut ImportSummary,
    observer: &mut dyn ImportObserver,
) -> Result<(), ImportError> {
    let file = path.display().to_string();
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Vec<Parsed>>(CHANNEL_CHUNKS);
        let reader = scope.spawn(|| read_file(path, options, tables, book, sender));
        let applied = apply_parsed(applier, &file, &receiver, summary, observer);
        // Dropping the receiver stops a reader still sending after a write failed.
        drop(receiver);
        let read = match reader.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        applied?;
        read
    })
}

/// Rows travel between the threads in chunks, to keep channel overhead out of the per-row cost.
const CHANNEL_CHUNK_ROWS: usize = 256;
/// Chunks in flight: bounds memory when the writer is slower than the reader.
const CHANNEL_CHUNKS: usize = 16;

/// What the reader thread found in a row.
enum Parsed {
    Accepted {
        row: u64,
        input: Applied,
        warnings: Vec<String>,
    },
    Rejected(Reject),
    /// Rows read so far in the file, empty ones included.
    Progress(u64),
}

fn apply_parsed<E: Engine>(
    applier: &mut apply::Applier<'_, '_, E>,
    file: &str,
    receiver: &mpsc::Receiver<Vec<Parsed>>,
    summary: &mut ImportSummary,
    observer: &mut dyn ImportObserver,
) -> Result<(), ImportError> {
    for chunk in receiver {
        for parsed in chunk {
            match parsed {
                Parsed::Progress(rows) => observer.progress(file, rows),
                Parsed::Rejected(reject) => {
                    summary.rows += 1;
                    summary.rejected += 1;
                    observer.reject(&reject);
                }
                Parsed::Accepted { row, input, warnings } => {
                    summary.rows += 1;
                    summary.accepted += 1;
                    summary.warnings += warnings.len() as u64;
                    for w in &warnings {
                        observer.warning(file, row, w);
                    }
                    let refused = match input {
                        Applied::Subject(s) => applier.subject(*s, summary)?,
                        Applied::Record(r) => {
                            applier.record(*r, summary)?;
                            None
                        }
                    };
                    if let Some(error) = refused {
                        summary.accepted -= 1;
                        summary.rejected += 1;
                        let reject = Reject {
                            file: file.to_string(),
                            row,
                            column: error.column,
                            reason: error.reason,
                            original: Vec::new(),
                        };
                        observer.reject(&reject);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The reader thread: decodes `path` and validates each row. Returns early, without error, when the
/// writer has gone away.
fn read_file(
    path: &Path,
    options: &ImportOptions,
    tables: &ImportTables,
    book: &Codebook,
    sender: mpsc::SyncSender<Vec<Parsed>>,
) -> Result<(), ImportError> {
    let file = path.display().to_string();
    let (rows, _encoding) = source::open(path)?;
    let mut mapping: (Option<Arc<Vec<String>>>, Vec<Option<String>>) = (None, Vec::new());
    let mut chunk = Vec::with_capacity(CHANNEL_CHUNK_ROWS);
    let mut in_file = 0u64;
    for row in rows {
        in_file += 1;
        if in_file.is_multiple_of(PROGRESS_EVERY) {
            chunk.push(Parsed::Progress(in_file));
        }
        match row {
            Ok(row) => {
                if !mapping.0.as_ref().is_some_and(|c| Arc::ptr_eq(c, &row.columns)) {
                    let fields =
                        row.columns.iter().map(|c| tables.field(options.kind, c).map(str::to_string)).collect();
                    mapping = (Some(Arc::clone(&row.columns)), fields);
                }
                if let Some(parsed) = parse_row(&file, &row, &mapping.1, options, tables, book) {
                    chunk.push(parsed);
                }
            }
            Err(unreadable) => chunk.push(Parsed::Rejected(Reject {
                file: file.clone(),
                row: unreadable.number,
                column: None,
                reason: unreadable.reason,
                original: vec![(String::new(), unreadable.raw)],
            })),
        }
        if chunk.len() >= CHANNEL_CHUNK_ROWS {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHANNEL_CHUNK_ROWS));
            if sender.send(full).is_err() {
                return Ok(());
            }
        }
    }
    chunk.push(Parsed::Progress(in_file));
    // The writer may have stopped on an error of its own; that error is the one reported.
    let _ = sender.send(chunk);
    Ok(())
}

/// Validates one row; `None` for a row with no values at all (not counted).
fn parse_row(
    file: &str,
    row: &source::SourceRow,
    mapping: &[Option<String>],
    options: &ImportOptions,
    tables: &ImportTables,
    book: &Codebook,
) -> Option<Parsed> {
    if row.values.iter().all(String::is_empty) {
        return None;
    }
    let mut fields = rows::RowFields::new(row, options.kind, tables, mapping);
    let result = match options.kind {
        ImportKind::Subject => rows::subject_row(&mut fields, book, options.today).map(|input| {
            let warnings = input.warnings.clone();
            (Applied::Subject(Box::new(input)), warnings)
        }),
        kind => rows::record_row(&mut fields, kind, book, options.today, options.source_dept.as_deref())
            .and_then(|input| match &options.only_dept {
                Some(only) if input.content.source_dept.as_deref() != Some(only.as_str()) => Err(rows::RowError {
                    column: Some("source_dept".into()),
                    reason: format!(
                        "the row's source department is {:?}; this upload may only deliver records of {only:?}",
                        input.content.source_dept.as_deref().unwrap_or("")
                    ),
                }),
                _ => Ok(input),
            })
            .map(|input| {
                let warnings = input.warnings.clone();
                (Applied::Record(Box::new(input)), warnings)
            }),
    };
    Some(match result {
        Ok((input, warnings)) => Parsed::Accepted { row: row.number, input, warnings },
        Err(error) => Parsed::Rejected(Reject {
            file: file.to_string(),
            row: row.number,
            column: error.column,
            reason: error.reason,
            original: row.pairs().map(|(c, v)| (c.to_string(), v.to_string())).collect(),
        }),
    })
}

enum Applied {
    Subject(Box<rows::SubjectInput>),
    Record(Box<rows::RecordInput>),
}

/// The audit entry of an import.
impl AuditEvent {
    /// An import of `files` (joined for the log) and what it landed.
    pub fn import(
        actor: Actor,
        kind: &str,
        files: &str,
        source_dept: Option<&str>,
        outcome: &Result<ImportSummary, ImportError>,
    ) -> AuditEvent {
        let mut event =
            AuditEvent::new(actor, Operation::Import).detail("kind", kind).detail("files", files).result_of(outcome);
        if let Some(dept) = source_dept {
            event = event.detail("source_dept", dept);
        }
        if let Ok(summary) = outcome {
            event = event
                .detail("batch", summary.batch_id)
                .detail("rows", summary.rows)
                .detail("accepted", summary.accepted)
                .detail("rejected", summary.rejected)
                .detail("committed", summary.committed);
        }
        event
    }
}

#[cfg(test)]
mod tests;
