//! `credit-server get`: a subject and its records, as the platform knows them now or knew them then.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use credit_core::model::{Subject, SubjectVersion};
use credit_core::store::RecordView;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Transaction time: what the platform knew at this instant (RFC 3339, e.g. 2026-01-01T00:00:00+08:00).
    #[arg(long, value_name = "RFC3339")]
    pub known_at: Option<DateTime<Utc>>,
    /// Include every version of the subject and of each record.
    #[arg(long)]
    pub history: bool,
    /// Any identifier: unified code, organisation code, registration number, tax number, ID number.
    pub identifier: String,
}

#[derive(Debug, Serialize)]
struct Output {
    subject: Subject,
    records: Vec<RecordView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_history: Option<Vec<SubjectVersion>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record_history: Option<Vec<credit_core::model::RecordVersion>>,
}

pub fn run(args: &Args) -> Result<i32> {
    let store = super::open_store(&args.data_dir)?;
    let Some(id) = store.find_subject_id(&args.identifier)? else {
        eprintln!("credit-server: no subject with identifier {:?}", args.identifier);
        return Ok(1);
    };
    let Some(subject) = store.subject_known_at(id, args.known_at)? else {
        eprintln!("credit-server: subject {:?} was not known at {:?}", args.identifier, args.known_at);
        return Ok(1);
    };
    let records = store.records_of(id, args.known_at).context("reading records")?;
    let (subject_history, record_history) = if args.history {
        let mut versions = Vec::new();
        for r in &records {
            versions.extend(store.record_history(r.id)?);
        }
        (Some(store.subject_history(id)?), Some(versions))
    } else {
        (None, None)
    };
    super::print_json(&Output { subject, records, subject_history, record_history })?;
    Ok(0)
}
