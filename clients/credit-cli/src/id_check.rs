//! `credit id check VALUE... | -`: offline identifier validation, fast enough for millions of lines.

use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use credit_ident::division::DivisionTable;
use credit_ident::{CategoryTable, Codebook, IdCheckReport, Identifier};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Values to check; `-` reads one value per line from standard input.
    #[arg(required = true, value_name = "VALUE")]
    values: Vec<String>,
    /// Division table (TSV, as `credit-ident/data/divisions.tsv`) to use instead of the compiled-in one.
    #[arg(long, value_name = "FILE")]
    divisions: Option<PathBuf>,
    /// Authority/category table (TSV, as `credit-ident/data/uscc_categories.tsv`) instead of the compiled-in one.
    #[arg(long, value_name = "FILE")]
    categories: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let book = codebook(args)?;
    let today = credit_ident::time::today_cst();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut all_valid = true;
    let mut check = |value: &str, out: &mut BufWriter<io::StdoutLock<'_>>| -> io::Result<()> {
        let recognition = Identifier::recognise(value, &book, today);
        let report = IdCheckReport::new(&recognition, &book);
        all_valid &= report.valid;
        serde_json::to_writer(&mut *out, &report)?;
        out.write_all(b"\n")
    };
    let written: io::Result<()> = (|| {
        for value in &args.values {
            if value == "-" {
                let stdin = io::stdin();
                let mut input = stdin.lock();
                let mut line = Vec::with_capacity(64);
                loop {
                    line.clear();
                    if input.read_until(b'\n', &mut line)? == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&line);
                    check(text.trim_end_matches(['\n', '\r']), &mut out)?;
                }
            } else {
                check(value, &mut out)?;
            }
        }
        out.flush()
    })();
    match written {
        // A reader that stopped early (`| head`) is not an error of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("writing results")?,
    }
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn codebook(args: &Args) -> Result<Codebook> {
    let mut book = Codebook::builtin().clone();
    if let Some(path) = &args.divisions {
        let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        book.divisions = DivisionTable::from_tsv(&text).with_context(|| format!("in {}", path.display()))?;
    }
    if let Some(path) = &args.categories {
        let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        book.categories = CategoryTable::from_tsv(&text).with_context(|| format!("in {}", path.display()))?;
    }
    Ok(book)
}
