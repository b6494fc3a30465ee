//! `credit import --kind K FILE`: uploads a department file; prints the summary `credit-server import`
//! prints, and writes rejected rows to a CSV file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use credit_client::proto;

use crate::connection::Connection;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What the file holds.
    #[arg(long, value_parser = ["subject", "penalty", "licence", "list"])]
    kind: String,
    /// Admins: the source department for rows that name none (providers deliver for their own).
    #[arg(long)]
    source_dept: Option<String>,
    /// All or nothing: one rejected row and nothing lands (exit status 1).
    #[arg(long)]
    strict: bool,
    /// Where to write rejected rows (CSV: row, column, reason, original); default `rejects-batch-N.csv`.
    #[arg(long, value_name = "PATH")]
    rejects: Option<PathBuf>,
    /// A CSV (UTF-8 or GB18030), JSON Lines or .xlsx file.
    file: PathBuf,
}

pub fn run(args: &Args, connection: &Connection) -> Result<ExitCode> {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("credit: {}: {error}", args.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let file_name = args.file.file_name().and_then(|n| n.to_str()).unwrap_or("upload.csv").to_string();
    let header = proto::UploadHeader {
        kind: args.kind.clone(),
        file_name,
        source_dept: args.source_dept.clone().unwrap_or_default(),
        strict: args.strict,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let response = runtime.block_on(async { anyhow::Ok(connection.connect().await?.upload(header, bytes).await?) })?;
    let mut summary: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&response.summary_json).context("the server's summary")?;
    if !response.rejects.is_empty() {
        let path =
            args.rejects.clone().unwrap_or_else(|| PathBuf::from(format!("rejects-batch-{}.csv", response.batch_id)));
        let mut out = csv::Writer::from_path(&path).with_context(|| format!("creating {}", path.display()))?;
        out.write_record(["file", "row", "column", "reason", "original"])?;
        let file = args.file.display().to_string();
        for reject in &response.rejects {
            out.write_record([
                file.as_str(),
                &reject.row.to_string(),
                &reject.column,
                &reject.reason,
                &reject.original_json,
            ])?;
        }
        out.flush()?;
        eprintln!("import: {} rejected rows written to {}", response.rejects.len(), path.display());
        summary.insert("rejects_file".into(), path.display().to_string().into());
    }
    println!("{}", serde_json::Value::Object(summary));
    Ok(if response.committed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
