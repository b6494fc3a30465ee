//! `credit evaluation get|distribution`: the public credit evaluation through the service, printing
//! what `credit-server evaluate get|distribution` prints.

use std::process::ExitCode;

use anyhow::Result;

use crate::connection::{Connection, block_on};

#[derive(Debug, clap::Subcommand)]
pub enum EvaluationCommand {
    /// One subject's evaluation (regulators: explained per indicator; the public: the grade alone).
    Get {
        identifier: String,
        /// The day, YYYY-MM-DD (regulators only; default today).
        #[arg(long)]
        as_of: Option<String>,
        /// The object `credit-server evaluate get` prints, on one line.
        #[arg(long)]
        json: bool,
    },
    /// How many stored evaluations have each grade and risk class (regulators).
    Distribution {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: &EvaluationCommand, connection: &Connection) -> Result<ExitCode> {
    block_on(async {
        let client = connection.connect().await?;
        match command {
            EvaluationCommand::Get { identifier, as_of, json } => {
                let e = client.evaluation(identifier, as_of.as_deref().unwrap_or("")).await?;
                if *json {
                    println!("{}", e.json);
                } else if e.grade_only {
                    println!("{}  grade {} {}  ({}, {})", identifier, e.grade, e.grade_label, e.model_version, e.as_of);
                } else {
                    println!(
                        "{}  grade {} {}  score {}  risk class {}  ({}, {})",
                        identifier, e.grade, e.grade_label, e.score, e.risk_class, e.model_version, e.as_of
                    );
                    for i in &e.indicators {
                        println!("  {:<24} {:>4}  ({} × {})", i.name, i.points, i.count, i.id);
                    }
                }
            }
            EvaluationCommand::Distribution { json } => {
                let d = client.grade_distribution().await?;
                if *json {
                    println!("{}", d.json);
                } else {
                    println!("{} evaluations ({}, {})", d.total, d.model_version, d.as_of);
                    let mut grades: Vec<_> = d.grades.iter().collect();
                    grades.sort();
                    for (grade, n) in grades {
                        println!("  grade {grade}: {n}");
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `credit stats`: credit statistics per division (the credit map) or industry.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// Only subjects whose GB/T 2260 division starts with this.
    #[arg(long, default_value = "")]
    division: String,
    /// division or industry.
    #[arg(long, default_value = "division")]
    by: String,
    /// Digits of the division per cell: 2, 4 or 6.
    #[arg(long, default_value_t = 6)]
    level: u32,
    /// YYYY-MM-DD (default today).
    #[arg(long)]
    as_of: Option<String>,
    /// A larger minimum cell size than the server's.
    #[arg(long, default_value_t = 0)]
    min_count: u64,
    /// The whole answer as one JSON object (suppressed counts null).
    #[arg(long)]
    json: bool,
}

pub fn stats(args: &StatsArgs, connection: &Connection) -> Result<ExitCode> {
    block_on(async {
        let client = connection.connect().await?;
        let request = credit_client::proto::GetCreditStatisticsRequest {
            division: args.division.clone(),
            by: args.by.clone(),
            level: args.level,
            as_of: args.as_of.clone().unwrap_or_default(),
            min_count: args.min_count,
        };
        let stats = client.credit_statistics(request).await?;
        if args.json {
            println!("{}", stats.json);
        } else {
            let shown = |n: i64| if n < 0 { format!("<{}", stats.min_count) } else { n.to_string() };
            for cell in &stats.cells {
                println!("{}  {:<12} {:>8}", cell.key, cell.name, shown(cell.subjects));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
