//! `credit get` and `credit history`: a subject and its records through the service, printing with
//! `--json` what `credit-server get` prints (`history`: what `get --view regulator --history` prints).

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use credit_client::proto;

use crate::connection::{Connection, block_on};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ViewArg {
    Public,
    Regulator,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Who looks: the public (masked, windows applied; the default) or a regulator (regulator keys).
    #[arg(long, value_enum, default_value = "public")]
    view: ViewArg,
    /// Valid time, YYYY-MM-DD: only records in force that day, the public view computed for that day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<NaiveDate>,
    /// Transaction time: what the platform knew at this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    known_at: Option<DateTime<Utc>>,
    /// Why a regulator reads a natural person's data (required for persons; audited).
    #[arg(long)]
    purpose: Option<String>,
    /// The object `credit-server get` prints, on one line.
    #[arg(long)]
    json: bool,
    /// Any identifier: unified code, organisation code, registration number, tax number, ID number.
    identifier: String,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Why a regulator reads a natural person's data (required for persons; audited).
    #[arg(long)]
    purpose: Option<String>,
    /// The object `credit-server get --view regulator --history` prints, on one line.
    #[arg(long)]
    json: bool,
    /// Any identifier of the subject.
    identifier: String,
}

pub fn get(args: &GetArgs, connection: &Connection) -> Result<ExitCode> {
    let view = match args.view {
        ViewArg::Public => proto::View::Public,
        ViewArg::Regulator => proto::View::Regulator,
    };
    let request = proto::GetSubjectRequest {
        identifier: args.identifier.clone(),
        view: view.into(),
        as_of: args.as_of.map(|d| d.to_string()).unwrap_or_default(),
        known_at: args.known_at.map(timestamp),
        include_history: false,
        purpose: args.purpose.clone().unwrap_or_default(),
        // The typed fields are printed unless `--json` asked for the page as the server writes it.
        omit_json: !args.json,
    };
    block_on(async {
        let Some(page) = fetch(connection, request, args.json).await? else { return Ok(ExitCode::SUCCESS) };
        print_subject(&page);
        println!("records: {}", page.records.len());
        for record in &page.records {
            println!("  {}", record_line(record));
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn history(args: &HistoryArgs, connection: &Connection) -> Result<ExitCode> {
    let request = proto::GetSubjectRequest {
        identifier: args.identifier.clone(),
        view: proto::View::Regulator.into(),
        include_history: true,
        purpose: args.purpose.clone().unwrap_or_default(),
        omit_json: !args.json,
        ..Default::default()
    };
    block_on(async {
        let Some(page) = fetch(connection, request, args.json).await? else { return Ok(ExitCode::SUCCESS) };
        print_subject(&page);
        println!("subject versions: {}", page.history.len());
        for version in &page.history {
            let name = version.subject.as_ref().map_or("", |s| s.name.as_str());
            println!(
                "  v{:<3} {}  batch {:<6} {:<12} {name}",
                version.version,
                instant(version.recorded_at.as_ref()),
                version.batch_id,
                or_dash(&version.source_dept),
            );
        }
        let mut current_record = None;
        for version in &page.record_history {
            if current_record != Some(version.record_id) {
                current_record = Some(version.record_id);
                println!("record {} ({}, {}):", version.record_id, version.category, or_dash(&version.document_number));
            }
            println!(
                "  v{:<3} {}  batch {:<6} {:<10} {:<12} {}",
                version.version,
                instant(version.recorded_at.as_ref()),
                version.batch_id,
                version.status,
                or_dash(&version.source_dept),
                &version.hash[..version.hash.len().min(16)],
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The page to print as text; with `--json`, prints the embedded command's object instead and returns `None`.
async fn fetch(
    connection: &Connection,
    request: proto::GetSubjectRequest,
    json: bool,
) -> Result<Option<proto::GetSubjectResponse>> {
    let page = connection.connect().await?.get_subject(request).await?;
    if json {
        println!("{}", page.json);
        return Ok(None);
    }
    Ok(Some(page))
}

fn print_subject(page: &proto::GetSubjectResponse) {
    let view = proto::View::try_from(page.view).unwrap_or(proto::View::Unspecified);
    let Some(subject) = &page.subject else { return };
    println!(
        "{}  {}  ({}, {}, division {})  [{} view]",
        or_dash(&subject.code),
        subject.name,
        subject.subject_type,
        or_dash(&subject.status),
        or_dash(&subject.division),
        view.as_str_name().trim_start_matches("VIEW_").to_lowercase(),
    );
    if !subject.former_names.is_empty() {
        println!("  former names: {}", subject.former_names.join(", "));
    }
    for person in &subject.related {
        println!("  {}: {} {}", person.role, person.name, person.id_number);
    }
    if subject.provisional {
        println!("  (provisional: known only from records so far)");
    }
}

fn record_line(record: &proto::Record) -> String {
    format!(
        "{}  {:<10} {:<9} {:<28} {}  (record {})",
        or_dash(&record.decision_date),
        record.category,
        record.status,
        or_dash(&record.document_number),
        or_dash(&record.authority),
        record.record_id,
    )
}

fn or_dash(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

fn instant(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}
