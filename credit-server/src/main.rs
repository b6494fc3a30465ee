//! `credit-server`: the gRPC service, and the embedded administration commands that work on a data
//! directory directly.

mod commands;

/// Imports and the service allocate many small keys and values; mimalloc makes that markedly cheaper
/// than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the 16th option of `mi_option_t` in mimalloc.h; a test checks
/// it against the option's documented default of 1,000 ms).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// A full index build frees and takes again hundreds of MiB with every segment it writes; mimalloc hands
/// freed memory back to the OS after a delay, so each segment faults its memory in again (and the kernel
/// zeroes it). A one-off command keeps what it freed instead: 7 % less CPU per build (BENCHMARKS.md).
/// Not for the service, whose memory should shrink again after a burst.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: mimalloc's options are plain integers, set atomically; no pointer is involved.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing::info;

#[derive(Debug, Parser)]
#[command(name = "credit-server", version, about = "Unified credit and identity information service")]
struct Cli {
    /// Log as JSON lines instead of text (logs go to stderr).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the gRPC API until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// API keys: create (prints the token once), list, revoke.
    Keys(commands::keys::KeysCommand),
    /// Import department files (CSV, JSON Lines, .xlsx) as one atomic batch.
    Import(commands::import::Args),
    /// Counts of subjects, records, versions and active list entries; with --checks, check statistics.
    Stats(commands::stats::Args),
    /// A subject and the records a view shows (public by default: windows applied, personal data
    /// masked), on any day, now or as known at a given time.
    Get(commands::get::Args),
    /// Credit repair: apply, accept, reject, approve, deny, show.
    #[command(subcommand)]
    Repair(commands::cases::RepairCommand),
    /// Objections against wrong records: file, accept, reject, correct, revoke, dismiss, show.
    #[command(subcommand)]
    Objection(commands::cases::ObjectionCommand),
    /// The change feed from a sequence number on, one JSON event per line.
    Feed(commands::feed::FeedArgs),
    /// Write the feed events of public windows and planned list removals that ended since the last sweep.
    Sweep(commands::feed::SweepArgs),
    /// Disclosure rules: check a file (or the compiled-in rules) and print its rule sets.
    #[command(subcommand)]
    Disclosure(commands::disclosure::DisclosureCommand),
    /// Public credit evaluation: run (all subjects, or those changed), get one, distribution, check a model.
    #[command(subcommand)]
    Evaluate(commands::evaluate::EvaluateCommand),
    /// Random inspection plans (双随机): draw subjects per risk class at the model's ratios.
    #[command(subcommand)]
    Inspect(commands::inspect::InspectCommand),
    /// Write a consistent copy of the store (RocksDB checkpoint).
    Backup(commands::backup::BackupArgs),
    /// Restore a copy written by `backup` into a new data directory.
    Restore(commands::backup::RestoreArgs),
    /// Joint check: the verdict and the measures that apply to an approval item (exit 0: all answered,
    /// 1: some identifiers invalid, 2: unknown item).
    Check(commands::check::CheckArgs),
    /// Report what was done about a measure of a recorded check.
    Feedback(commands::check::FeedbackArgs),
    /// Validate joint reward and punishment rule sets.
    Rules(commands::check::RulesCommand),
    /// Search subjects by name (any script, pinyin, initials), code or its prefix, ID number, document
    /// number; the index catches up with the store first (exit 2: invalid filter or cursor).
    Search(commands::search::SearchArgs),
    /// Rebuild the search index from the store.
    Reindex(commands::search::ReindexArgs),
    /// The audit log: verify its chain and checkpoints, or query it.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// The platform's signing key for reports and audit checkpoints: init, keys, rotate.
    Signing(commands::signing::SigningCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging(cli.log_json);
    }
    let outcome = match cli.command {
        // Logging starts once the configuration (which may ask for JSON logs) is read.
        Command::Serve(args) => serve(args, cli.log_json).map(|()| 0),
        Command::Keys(command) => commands::keys::run(&command),
        Command::Import(args) => commands::import::run(&args),
        Command::Stats(args) => commands::stats::run(&args),
        Command::Get(args) => commands::get::run(&args),
        Command::Repair(command) => commands::cases::repair(&command),
        Command::Objection(command) => commands::cases::objection(&command),
        Command::Feed(args) => commands::feed::feed(&args),
        Command::Sweep(args) => commands::feed::sweep(&args),
        Command::Disclosure(command) => commands::disclosure::run(&command),
        Command::Evaluate(command) => commands::evaluate::run(&command),
        Command::Inspect(command) => commands::inspect::run(&command),
        Command::Backup(args) => commands::backup::backup(&args),
        Command::Restore(args) => commands::backup::restore(&args),
        Command::Check(args) => commands::check::check(&args),
        Command::Feedback(args) => commands::check::feedback(&args),
        Command::Rules(command) => commands::check::rules(&command),
        Command::Search(args) => commands::search::search(&args),
        Command::Reindex(args) => {
            keep_freed_memory();
            commands::search::reindex(&args)
        }
        Command::Audit(command) => commands::audit::run(&command),
        Command::Signing(command) => commands::signing::run(&command),
    };
    match outcome {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("credit-server: error: {error:#}");
            ExitCode::from(1)
        }
    }
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// TOML configuration (every key: credit-server.example.toml); compiled-in defaults otherwise.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:50051); overrides the file and CREDIT_LISTEN.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The store and its index; created when missing. Overrides the file and CREDIT_DATA_DIR.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Load the demo fixtures into an empty store and write a regulator token to DIR/demo-token.
    #[arg(long)]
    demo: bool,
}

fn serve(args: ServeArgs, log_json: bool) -> Result<()> {
    let mut config = credit_server::Config::load(args.config.as_deref(), std::env::vars())?;
    init_logging(log_json || config.log_json);
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    let runtime = credit_server::runtime().context("starting the async runtime")?;
    runtime.block_on(async {
        let options = credit_server::ServeOptions { config, demo: args.demo };
        let running = credit_server::serve(options, shutdown_signal()).await?;
        if args.demo {
            let token = running.data_dir.join(credit_server::demo::TOKEN_FILE);
            info!(token = %token.display(), "demo: a regulator token is in this file");
        }
        info!(addr = %running.addr, data_dir = %running.data_dir.display(), "serving credit.v1 (health and reflection enabled)");
        running.serving.await?;
        info!("stopped");
        Ok(())
    })
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutdown requested: draining");
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an integer option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000, "mimalloc's purge delay defaults to 1,000 ms: is option 15 still the purge delay?");
    }
}
