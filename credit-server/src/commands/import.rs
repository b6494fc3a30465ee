//! `credit-server import`: department files into the store, as one atomic batch.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use credit_core::import::{ImportKind, ImportObserver, ImportOptions, Reject};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory of the store (created when missing).
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// What the files hold.
    #[arg(long, value_parser = ["subject", "penalty", "licence", "list"])]
    pub kind: String,
    /// Source department when the file names none (else the deciding authority is the source).
    #[arg(long, value_name = "CODE")]
    pub source_dept: Option<String>,
    /// All or nothing: one rejected row and nothing lands (exit status 1).
    #[arg(long)]
    pub strict: bool,
    /// Bring the search index up to date too, so the rows are searchable when the command returns
    /// (otherwise the server catches it up when it starts). A subject file is indexed in the same pass
    /// as it is imported.
    #[arg(long)]
    pub index: bool,
    /// Where to write rejected rows (CSV); default `DATA_DIR/rejects/batch-N.csv` when there are any.
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,
    /// CSV (UTF-8 or GB18030), JSON Lines or .xlsx files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    summary: &'a credit_core::import::ImportSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejects_file: Option<String>,
}

/// Prints progress on stderr (a bar on a terminal, plain lines otherwise) and keeps rejects.
struct Observer {
    bar: Option<ProgressBar>,
    rejects: Vec<Reject>,
    warnings_shown: usize,
}

impl ImportObserver for Observer {
    fn progress(&mut self, file: &str, rows: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(file.to_string());
                bar.set_position(rows);
            }
            None => eprintln!("import: {file}: {rows} rows read"),
        }
    }

    fn reject(&mut self, reject: &Reject) {
        self.rejects.push(reject.clone());
    }

    fn warning(&mut self, file: &str, row: u64, message: &str) {
        // A few as examples; the count is in the summary.
        if self.warnings_shown < 5 {
            self.warnings_shown += 1;
            eprintln!("import: warning: {file} row {row}: {message}");
        }
    }
}

pub fn run(args: &Args) -> Result<i32> {
    let kind = ImportKind::parse(&args.kind).context("--kind")?;
    for file in &args.files {
        anyhow::ensure!(file.is_file(), "{}: no such file", file.display());
    }
    let mut platform = super::platform(&args.data_dir)?;
    if args.index {
        let dir = credit_core::search::default_dir(&args.data_dir);
        let index = credit_core::search::SearchIndex::open(&dir).context("opening the search index")?;
        platform = platform.with_index(std::sync::Arc::new(std::sync::RwLock::new(index)));
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}: {pos} rows ({per_sec})").expect("valid template"));
        bar
    });
    let mut observer = Observer { bar, rejects: Vec::new(), warnings_shown: 0 };
    let options = ImportOptions {
        kind,
        source_dept: args.source_dept.clone(),
        only_dept: None,
        registration: true,
        strict: args.strict,
        today: credit_core::time::today_cst(),
        at: chrono::Utc::now(),
    };
    let files = args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
    let imported = platform.import(&super::console_actor(None), &args.files, &options, &files, &mut observer);
    super::checkpoint(platform.store(), &args.data_dir)?;
    let summary = imported?;
    if let Some(bar) = &observer.bar {
        bar.finish_and_clear();
    }
    let rejects_file = if observer.rejects.is_empty() {
        None
    } else {
        let path = args
            .rejects
            .clone()
            .unwrap_or_else(|| args.data_dir.join("rejects").join(format!("batch-{}.csv", summary.batch_id)));
        write_rejects(&path, &observer.rejects)?;
        eprintln!("import: {} rejected rows written to {}", observer.rejects.len(), path.display());
        Some(path.display().to_string())
    };
    super::print_json(&Output { summary: &summary, rejects_file })?;
    Ok(if summary.committed { 0 } else { 1 })
}

/// `file,row,column,reason,original`: the original row as a JSON object of its columns.
fn write_rejects(path: &Path, rejects: &[Reject]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = csv::Writer::from_writer(BufWriter::new(file));
    out.write_record(["file", "row", "column", "reason", "original"])?;
    for reject in rejects {
        let original: serde_json::Map<String, serde_json::Value> =
            reject.original.iter().map(|(c, v)| (c.clone(), serde_json::Value::String(v.clone()))).collect();
        out.write_record([
            reject.file.as_str(),
            &reject.row.to_string(),
            reject.column.as_deref().unwrap_or(""),
            &reject.reason,
            &serde_json::to_string(&original)?,
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error())?.flush()?;
    Ok(())
}
