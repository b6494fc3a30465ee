//! `credit-echo-server --listen ADDR`: one unary echo method on the same tonic, the same runtime and the
//! same connection settings as `credit-server`, and nothing else: no store, no auth, no limits, no
//! tracing. Its throughput is the ceiling the service's own figures are compared with.
//!
//! Prints `{"listen":"127.0.0.1:PORT"}` on stdout once it accepts calls (so `--listen 127.0.0.1:0`
//! works); stops on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use credit_benches::echo::echo_service_server::{EchoService, EchoServiceServer};
use credit_benches::echo::{EchoRequest, EchoResponse};
use tonic::{Request, Response, Status};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "credit-echo-server", about = "Bare tonic echo server: the ceiling credit-server is measured against")]
struct Args {
    /// A loopback address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:50052")]
    listen: SocketAddr,
}

#[derive(Debug)]
struct Echo;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse { payload: request.into_inner().payload }))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!("credit-echo-server: --listen {}: only loopback addresses (127.0.0.0/8, ::1)", args.listen);
        return ExitCode::from(2);
    }
    match serve(args.listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("credit-echo-server: error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn serve(listen: SocketAddr) -> Result<()> {
    let runtime = credit_server::runtime().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let bound = listener.local_addr()?;
        println!("{}", serde_json::json!({ "listen": bound.to_string() }));
        tonic::transport::Server::builder()
            .add_service(EchoServiceServer::new(Echo))
            .serve_with_incoming_shutdown(credit_server::incoming(listener), stop_signal())
            .await
            .context("serving")
    })
}

async fn stop_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
