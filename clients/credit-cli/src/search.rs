//! `credit search [--json] [--limit N] [filters] QUERY`: the search service, printing with `--json` what
//! `credit-server search --json` prints, one hit per line, best first.

use std::process::ExitCode;

use anyhow::Result;
use credit_client::proto;

use crate::connection::Connection;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON object per hit.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 10)]
    limit: u32,
    /// Continue after the hit this cursor came with.
    #[arg(long)]
    cursor: Option<String>,
    /// Subject type (e.g. enterprise_legal_person, natural_person).
    #[arg(long = "type")]
    subject_type: Option<String>,
    /// Division code prefix (province, city or county).
    #[arg(long)]
    division: Option<String>,
    /// Only subjects on a list (any), or `--list-type CODE` for one list type.
    #[arg(long)]
    listed: bool,
    #[arg(long)]
    list_type: Option<String>,
    /// Name, code or its prefix, ID number, document number; pinyin and initials work too.
    #[arg(required = true)]
    query: Vec<String>,
}

pub fn run(args: &Args, connection: &Connection) -> Result<ExitCode> {
    crate::connection::block_on(async {
        let request = proto::SearchRequest {
            query: args.query.join(" "),
            page_size: args.limit,
            page_token: args.cursor.clone().unwrap_or_default(),
            subject_type: args.subject_type.clone().unwrap_or_default(),
            division: args.division.clone().unwrap_or_default(),
            listed: args.listed,
            list_type: args.list_type.clone().unwrap_or_default(),
            ..Default::default()
        };
        let found = connection.connect().await?.search(request).await?;
        let suggest = (!found.did_you_mean.is_empty()).then(|| found.did_you_mean.join(", "));
        if args.json {
            for hit in &found.hits {
                println!("{}", hit.json);
            }
            if let Some(names) = &suggest {
                eprintln!("credit: no subject found; did you mean: {names}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        if found.hits.is_empty() {
            println!("no subject found");
            if let Some(names) = &suggest {
                println!("did you mean: {names}");
            }
        } else if found.partial {
            println!("no subject matches every part of the query; the best partial matches:");
        }
        for hit in &found.hits {
            let code = if hit.code.is_empty() { "-" } else { hit.code.as_str() };
            println!("{:>8.2}  {code:<20}  {}  ({})", hit.score, hit.name, hit.subject_type);
        }
        if !found.next_page_token.is_empty() {
            println!("more: --cursor {}", found.next_page_token);
        }
        Ok(ExitCode::SUCCESS)
    })
}
