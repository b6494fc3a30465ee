//! `credit-server get`: a subject and the records a view shows, as the platform knows them now or knew
//! them then, on any day.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use credit_core::view::View;
use credit_core::{PlatformError, SubjectQuery};

use super::disclosure::DisclosureArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ViewArg {
    Public,
    Regulator,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, env = "CREDIT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Who looks: the public (masked, windows applied) or a regulator (everything, attributed).
    #[arg(long, value_enum, default_value = "public")]
    pub view: ViewArg,
    /// Valid time (China Standard Time), YYYY-MM-DD, regulator view only: the records in force that day,
    /// each saying whether the public sees it then. Default: every record, public flags as of today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// Transaction time, regulator view only: what the platform knew at this instant (RFC 3339, e.g.
    /// 2026-01-01T00:00:00+08:00).
    #[arg(long, value_name = "RFC3339")]
    pub known_at: Option<DateTime<Utc>>,
    /// Include every version of the subject and of each record (regulator view only).
    #[arg(long)]
    pub history: bool,
    /// Why a regulator reads a natural person's data; written to the audit trail.
    #[arg(long)]
    pub purpose: Option<String>,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
    /// Any identifier: unified code, organisation code, registration number, tax number, ID number.
    pub identifier: String,
}

pub fn run(args: &Args) -> Result<i32> {
    let view = match args.view {
        ViewArg::Public => View::Public,
        ViewArg::Regulator => View::Regulator,
    };
    if args.history && view != View::Regulator {
        eprintln!("credit-server: --history is part of the regulator view only (add --view regulator)");
        return Ok(2);
    }
    if view == View::Public && (args.as_of.is_some() || args.known_at.is_some()) {
        // As over the service: the public view is today's (TIME_TRAVEL_NOT_ALLOWED there).
        eprintln!(
            "credit-server: --as-of and --known-at are for the regulator view; the public view is today's \
             (the regulator view says of each record whether the public sees it on --as-of)"
        );
        return Ok(2);
    }
    let disclosure = args.disclosure.load()?;
    let platform = super::platform(&args.data_dir)?.with_disclosure(disclosure);
    let query = SubjectQuery {
        identifier: args.identifier.clone(),
        view,
        purpose: args.purpose.clone(),
        as_of: args.as_of,
        known_at: args.known_at,
    };
    let page = match platform.read_subject(&super::console_actor(None), &query, args.history) {
        Ok(page) => page,
        Err(error @ PlatformError::NoSubject(_)) => {
            eprintln!("credit-server: {error}");
            return Ok(1);
        }
        Err(error) if error.is_user_error() => {
            eprintln!("credit-server: {error}");
            return Ok(2);
        }
        Err(error) => return Err(error).context("reading the subject"),
    };
    super::checkpoint(platform.store(), &args.data_dir)?;
    super::print_json(&page)?;
    Ok(0)
}
