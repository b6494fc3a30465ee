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
use serde::{Deserialize, Serialize};

pub use rows::{RecordInput, RowIdentifiers, SubjectInput};
pub use tables::{ImportTables, TablesError};

use crate::audit::{Actor, AuditEvent, Operation};
use crate::engine::Engine;
use crate::ident::Codebook;
use crate::model::{BatchId, PublishError};
use crate::store::{Committer, Store, StoreError};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// Frames of a replayed import out of order or incomplete; the batch was rolled back.
    #[error("import frames: {0}")]
    Frames(String),
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// A bug of ours met while importing; the batch was rolled back whole.
    #[error("the import stopped on an internal error and was rolled back: {0}")]
    Panicked(String),
}

/// How many rows between progress reports.
const PROGRESS_EVERY: u64 = 10_000;

/// What an import batch is, as its first frame carries it to a replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportHeader {
    pub kind: ImportKind,
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dept: Option<String>,
    /// See [`ImportOptions::registration`].
    pub registration: bool,
    /// See [`ImportOptions::strict`].
    pub strict: bool,
}

/// Validated rows of one file of a running import, in file order: everything applying them needs,
/// and nothing of the rows that were rejected while reading but their number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportChunk {
    /// The file, as an index into [`ImportHeader::files`].
    pub file: u32,
    pub rows: Vec<ImportRow>,
    /// Rows of this stretch of the file rejected while reading.
    pub rejected: u64,
}

/// One validated row and its number in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRow {
    pub row: u64,
    pub input: RowInput,
}

/// What a validated row says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowInput {
    Subject(Box<SubjectInput>),
    Record(Box<RecordInput>),
}

impl RowInput {
    fn warnings(&self) -> &[String] {
        match self {
            RowInput::Subject(input) => &input.warnings,
            RowInput::Record(input) => &input.warnings,
        }
    }
}

/// An import as the write command a replica applies: a header, the chunks in order, an end. The
/// origin hands each frame on once it is applied locally; the end only after its own commit (or
/// roll-back), saying which it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum ImportFrame {
    Begin { batch: BatchId, at: DateTime<Utc>, header: ImportHeader },
    Rows { batch: BatchId, chunk: ImportChunk },
    End { batch: BatchId, committed: bool },
}

/// Where an origin hands its frames on (a replication transport); `None` keeps them here.
pub type FrameSink<'a> = Option<&'a mut dyn FnMut(ImportFrame) -> Result<(), PublishError>>;

/// Who else hears of an import as it goes.
#[derive(Default)]
pub struct ImportHooks<'a> {
    /// Every frame of the batch ([`ImportFrame`]).
    pub frames: FrameSink<'a>,
    /// The subjects each chunk wrote, as written (see [`crate::search::SearchIndex::alongside`]).
    pub subjects: Option<&'a mut dyn FnMut(Vec<crate::model::Subject>)>,
}

impl std::fmt::Debug for ImportHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportHooks")
            .field("frames", &self.frames.is_some())
            .field("subjects", &self.subjects.is_some())
            .finish()
    }
}

/// Imports `files` as one batch.
pub fn import_files<E: Engine>(
    store: &Store<E>,
    files: &[PathBuf],
    options: &ImportOptions,
    tables: &ImportTables,
    book: &Codebook,
    observer: &mut dyn ImportObserver,
) -> Result<ImportSummary, ImportError> {
    import_files_to(store, files, options, tables, book, observer, ImportHooks::default())
}

/// Imports `files` as one batch, telling `hooks` of its frames and subjects as it goes.
///
/// The files are parsed and validated here into [`ImportChunk`]s; applying a chunk is a function of
/// the chunk and the store alone ([`apply_frames`] runs the same function on a replica), so the store
/// a replica builds from the frames is this one.
pub fn import_files_to<E: Engine>(
    store: &Store<E>,
    files: &[PathBuf],
    options: &ImportOptions,
    tables: &ImportTables,
    book: &Codebook,
    observer: &mut dyn ImportObserver,
    hooks: ImportHooks<'_>,
) -> Result<ImportSummary, ImportError> {
    let header = ImportHeader {
        kind: options.kind,
        files: files.iter().map(|p| p.display().to_string()).collect(),
        source_dept: options.source_dept.clone(),
        registration: options.registration,
        strict: options.strict,
    };
    run_batch(store, None, options.at, &header, hooks, |batch| {
        for (index, path) in files.iter().enumerate() {
            import_file(batch, index as u32, path, options, tables, book, observer)?;
        }
        Ok(true)
    })
}

/// Applies the frames of one import that another store made, under the batch id and clock they
/// carry: `begin` is the batch's first frame, `next` yields the rest. Ends at the `End` frame,
/// committing when the origin committed (and the rows say so too); a stream that ends early or
/// mixes batches rolls the batch back.
pub fn apply_frames<E: Engine>(
    store: &Store<E>,
    begin: ImportFrame,
    next: &mut dyn FnMut() -> Option<ImportFrame>,
) -> Result<ImportSummary, ImportError> {
    let ImportFrame::Begin { batch: id, at, header } = begin else {
        return Err(ImportError::Frames("an import starts with its begin frame".into()));
    };
    run_batch(store, Some(id), at, &header, ImportHooks::default(), |batch| {
        loop {
            match next() {
                Some(ImportFrame::Rows { batch: of, chunk }) if of == id => {
                    batch.apply(chunk)?;
                }
                Some(ImportFrame::End { batch: of, committed }) if of == id => return Ok(committed),
                Some(other) => {
                    return Err(ImportError::Frames(format!("a frame of another batch inside batch {id}: {other:?}")));
                }
                None => return Err(ImportError::Frames(format!("the frames of batch {id} end before its end frame"))),
            }
        }
    })
}

/// Runs one import batch: begins it (under `id` when replaying), lets `body` feed it chunks while a
/// committer thread writes the flushed ones, and commits when `body` agrees (`Ok(true)`) and a
/// strict batch rejected nothing, or rolls back. A panic inside rolls the batch back whole.
fn run_batch<E: Engine>(
    store: &Store<E>,
    id: Option<BatchId>,
    at: DateTime<Utc>,
    header: &ImportHeader,
    hooks: ImportHooks<'_>,
    body: impl FnOnce(&mut ImportBatch<'_, '_, '_, E>) -> Result<bool, ImportError>,
) -> Result<ImportSummary, ImportError> {
    let ImportHooks { frames: mut sink, subjects: mut on_subjects } = hooks;
    let kind = header.kind.as_str();
    let mut guard = store.begin_batch_as(id, kind, header.files.clone(), header.source_dept.clone(), at)?;
    let id = guard.info().id;
    if let Some(sink) = sink.as_mut() {
        sink(ImportFrame::Begin { batch: id, at, header: header.clone() })?;
    }
    let outcome = std::thread::scope(|scope| -> Result<(ImportSummary, bool), ImportError> {
        // Chunks land on their own thread while the next ones are built.
        guard.set_committer(Committer::spawn(scope, store.engine()));
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut batch = ImportBatch {
                applier: apply::Applier {
                    guard: &mut guard,
                    registration: header.registration,
                    saved: on_subjects.is_some().then(Vec::new),
                },
                summary: ImportSummary { batch_id: id.0, ..ImportSummary::default() },
                header,
                sink: match sink {
                    Some(ref mut sink) => Some(&mut **sink),
                    None => None,
                },
                subjects: match on_subjects {
                    Some(ref mut hook) => Some(&mut **hook),
                    None => None,
                },
            };
            let agreed = body(&mut batch)?;
            Ok::<_, ImportError>((batch.summary, agreed))
        }));
        // The committer thread must end inside the scope, even when applying panicked: the scope
        // would otherwise wait for it forever.
        let stopped = guard.stop_committer();
        let applied = applied.map_err(|panic| ImportError::Panicked(panic_message(panic.as_ref())))??;
        stopped?;
        Ok(applied)
    });
    let end = |sink: &mut FrameSink<'_>, committed: bool| match sink.as_mut() {
        Some(sink) => sink(ImportFrame::End { batch: id, committed }),
        None => Ok(()),
    };
    let (mut summary, agreed) = match outcome {
        Ok(applied) => applied,
        Err(e) => {
            guard.abort()?;
            // The error is the one to report; a replica rolls back as well without the end frame.
            let _ = end(&mut sink, false);
            return Err(e);
        }
    };
    if !agreed || (header.strict && summary.rejected > 0) {
        guard.abort()?;
        summary.accepted = 0;
        summary.new_records = 0;
        summary.new_versions = 0;
        summary.unchanged = 0;
        summary.provisional_subjects = 0;
        summary.new_subjects = 0;
        summary.updated_subjects = 0;
        end(&mut sink, false)?;
        return Ok(summary);
    }
    guard.commit()?;
    summary.committed = true;
    end(&mut sink, true)?;
    Ok(summary)
}

/// A running import: applies chunks, counts what they did and hands them on.
struct ImportBatch<'a, 'g, 's, E: Engine> {
    applier: apply::Applier<'g, 's, E>,
    summary: ImportSummary,
    header: &'a ImportHeader,
    sink: Option<&'a mut dyn FnMut(ImportFrame) -> Result<(), PublishError>>,
    subjects: Option<&'a mut dyn FnMut(Vec<crate::model::Subject>)>,
}

impl<E: Engine> ImportBatch<'_, '_, '_, E> {
    /// Applies one chunk: the one function from a chunk to the store, origin and replica alike.
    /// Returns the rows refused while linking them to subjects, as rejects.
    fn apply(&mut self, chunk: ImportChunk) -> Result<Vec<Reject>, ImportError> {
        let file = self.header.files.get(chunk.file as usize).cloned().ok_or_else(|| {
            ImportError::Frames(format!("chunk of file {} in a batch of {} files", chunk.file, self.header.files.len()))
        })?;
        let copy = self.sink.is_some().then(|| chunk.clone());
        let summary = &mut self.summary;
        summary.rows += chunk.rejected;
        summary.rejected += chunk.rejected;
        let mut refused = Vec::new();
        for ImportRow { row, input } in chunk.rows {
            summary.rows += 1;
            summary.accepted += 1;
            summary.warnings += input.warnings().len() as u64;
            let error = match input {
                RowInput::Subject(s) => self.applier.subject(*s, summary)?,
                RowInput::Record(r) => {
                    self.applier.record(*r, summary)?;
                    None
                }
            };
            if let Some(error) = error {
                summary.accepted -= 1;
                summary.rejected += 1;
                refused.push(Reject {
                    file: file.clone(),
                    row,
                    column: error.column,
                    reason: error.reason,
                    original: Vec::new(),
                });
            }
        }
        if let (Some(hook), Some(saved)) = (self.subjects.as_mut(), self.applier.saved.as_mut())
            && !saved.is_empty()
        {
            hook(std::mem::take(saved));
        }
        let batch = BatchId(self.summary.batch_id);
        if let (Some(sink), Some(chunk)) = (self.sink.as_mut(), copy) {
            sink(ImportFrame::Rows { batch, chunk })?;
        }
        Ok(refused)
    }
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
    batch: &mut ImportBatch<'_, '_, '_, E>,
    index: u32,
    path: &Path,
    options: &ImportOptions,
    tables: &ImportTables,
    book: &Codebook,
    observer: &mut dyn ImportObserver,
) -> Result<(), ImportError> {
    let file = path.display().to_string();
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Vec<Parsed>>(CHANNEL_CHUNKS);
        let reader = scope.spawn(|| read_file(path, options, tables, book, sender));
        let applied = apply_parsed(batch, index, &file, &receiver, observer);
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
    Accepted(ImportRow),
    Rejected(Reject),
    /// Rows read so far in the file, empty ones included.
    Progress(u64),
}

/// Tells the observer what the reader found, and applies each stretch of validated rows as a chunk.
fn apply_parsed<E: Engine>(
    batch: &mut ImportBatch<'_, '_, '_, E>,
    index: u32,
    file: &str,
    receiver: &mpsc::Receiver<Vec<Parsed>>,
    observer: &mut dyn ImportObserver,
) -> Result<(), ImportError> {
    for parsed in receiver {
        let mut chunk = ImportChunk { file: index, rows: Vec::with_capacity(parsed.len()), rejected: 0 };
        for parsed in parsed {
            match parsed {
                Parsed::Progress(rows) => observer.progress(file, rows),
                Parsed::Rejected(reject) => {
                    chunk.rejected += 1;
                    observer.reject(&reject);
                }
                Parsed::Accepted(row) => {
                    for warning in row.input.warnings() {
                        observer.warning(file, row.row, warning);
                    }
                    chunk.rows.push(row);
                }
            }
        }
        for reject in batch.apply(chunk)? {
            observer.reject(&reject);
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
        ImportKind::Subject => {
            rows::subject_row(&mut fields, book, options.today).map(|input| RowInput::Subject(Box::new(input)))
        }
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
            .map(|input| RowInput::Record(Box::new(input))),
    };
    Some(match result {
        Ok(input) => Parsed::Accepted(ImportRow { row: row.number, input }),
        Err(error) => Parsed::Rejected(Reject {
            file: file.to_string(),
            row: row.number,
            column: error.column,
            reason: error.reason,
            original: row.pairs().map(|(c, v)| (c.to_string(), v.to_string())).collect(),
        }),
    })
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
