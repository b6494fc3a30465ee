//! `credit report get|verify|keys`: signed credit reports, fetched from the service and verified
//! offline (with published keys from a file, or fetched from the service).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::ValueEnum;
use credit_client::{KeySet, proto, verify_report};
use serde_json::json;

use crate::connection::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViewArg {
    Public,
    Regulator,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Fetch a signed report and write it to a file, byte for byte.
    Get {
        /// Any identifier: unified code, organisation code, registration number, tax number, ID number.
        identifier: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The view (default: the widest the key allows; public without a key).
        #[arg(long, value_enum)]
        view: Option<ViewArg>,
        /// Why (required for a natural person in the regulator view).
        #[arg(long)]
        purpose: Option<String>,
    },
    /// Verify a report file: exit 0 when valid, 1 naming what failed.
    Verify {
        file: PathBuf,
        /// Published verifying keys (a key set file); without it they are fetched from the endpoint.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
        /// One JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the platform's published verifying keys as a key set (the `--keys` file of `verify`).
    Keys,
}

pub fn run(command: &ReportCommand, connection: &Connection) -> Result<ExitCode> {
    crate::connection::block_on(async {
        match command {
            ReportCommand::Get { identifier, out, view, purpose } => {
                let client = connection.connect().await?;
                let view = match view {
                    None => proto::View::Unspecified,
                    Some(ViewArg::Public) => proto::View::Public,
                    Some(ViewArg::Regulator) => proto::View::Regulator,
                };
                let request = proto::GetReportRequest {
                    identifier: identifier.clone(),
                    view: view as i32,
                    purpose: purpose.clone().unwrap_or_default(),
                };
                let report = client.report(request).await?;
                std::fs::write(out, &report.file).with_context(|| format!("writing {}", out.display()))?;
                print_line(&json!({
                    "report_number": report.report_number,
                    "key_id": report.key_id,
                    "verification_code": report.verification_code,
                    "out": out.display().to_string(),
                }));
                Ok(ExitCode::SUCCESS)
            }
            ReportCommand::Verify { file, keys, json } => {
                let bytes = match std::fs::read(file) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        eprintln!("credit: {}: {error}", file.display());
                        return Ok(ExitCode::from(2));
                    }
                };
                let keys = match keys {
                    Some(path) => match KeySet::load(path) {
                        Ok(keys) => keys,
                        Err(error) => {
                            eprintln!("credit: --keys: {error}");
                            return Ok(ExitCode::from(2));
                        }
                    },
                    None => connection.connect().await?.verifying_keys().await?,
                };
                Ok(verify(&bytes, &keys, *json))
            }
            ReportCommand::Keys => {
                let keys = connection.connect().await?.verifying_keys().await?;
                println!("{}", keys.to_json());
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn verify(bytes: &[u8], keys: &KeySet, json: bool) -> ExitCode {
    match verify_report(bytes, keys, chrono::Utc::now()) {
        Ok(verified) => {
            let report = &verified.report;
            let field = |name: &str| report.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let subject = report.pointer("/subject/name").and_then(|v| v.as_str()).unwrap_or_default();
            if json {
                print_line(&json!({
                    "valid": true,
                    "report_number": field("report_number"),
                    "subject": subject,
                    "view": field("view"),
                    "key_id": verified.key_id,
                    "verification_code": verified.verification_code,
                    "digest": verified.digest,
                    "valid_until": field("valid_until"),
                }));
            } else {
                println!(
                    "valid: report {} on {subject} ({} view), signed by key {}, verification code {}, valid until {}",
                    field("report_number"),
                    field("view"),
                    verified.key_id,
                    verified.verification_code,
                    field("valid_until"),
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("credit: report invalid: {error}");
            if json {
                print_line(&json!({ "valid": false, "reason": error.kind(), "message": error.to_string() }));
            }
            ExitCode::from(1)
        }
    }
}

fn print_line(value: &serde_json::Value) {
    println!("{value}");
}
