//! Compiles the echo service of `credit-echo-server` with protox (no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTO: &str = "proto/credit/bench/v1/echo.proto";
    println!("cargo:rerun-if-changed={PROTO}");
    let fds = protox::compile([PROTO], ["proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
