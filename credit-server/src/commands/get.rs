//! `credit-server get`: a subject and the records a view shows, as the platform knows them now or knew
//! them then, on any day.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use credit_core::model::SubjectType;
use credit_core::time::today_cst;
use credit_core::view::{Audience, SubjectPage, View};

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
    let rules = args.disclosure.load()?;
    let store = super::open_store(&args.data_dir)?;
    let Some(id) = store.find_subject_id(&args.identifier)? else {
        eprintln!("credit-server: no subject with identifier {:?}", args.identifier);
        return Ok(1);
    };
    let Some(subject) = store.subject_known_at(id, args.known_at)? else {
        eprintln!("credit-server: subject {:?} was not known at {:?}", args.identifier, args.known_at);
        return Ok(1);
    };
    if view == View::Public && !credit_core::view::is_public(&subject) {
        eprintln!("credit-server: subject {:?} is not disclosed to the public (SFGK)", args.identifier);
        return Ok(1);
    }
    if view == View::Regulator && subject.subject_type == SubjectType::NaturalPerson {
        let event = credit_core::audit::AuditEvent::new(super::console_actor(None), "subject.read")
            .subject(subject.id)
            .purpose(args.purpose.as_deref());
        super::audit(&store, &args.data_dir, vec![event])?;
    }
    let as_of = args.as_of.unwrap_or_else(today_cst);
    let audience = Audience::new(view, as_of, &rules);
    let records: Vec<_> = store
        .records_of(id, args.known_at)
        .context("reading records")?
        .into_iter()
        .filter(|r| view != View::Regulator || args.as_of.is_none_or(|date| r.current.content.in_force_on(date)))
        .collect();
    let mut page = SubjectPage::new(&subject, records, &audience);
    if args.history {
        page.add_history(&store)?;
    }
    super::print_json(&page)?;
    Ok(0)
}
