//! Compiles `credit/v1/*.proto` with protox (pure Rust, no system `protoc`) and keeps the encoded
//! descriptor set for gRPC reflection.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "credit/v1/identifier.proto",
    "credit/v1/subject.proto",
    "credit/v1/search.proto",
    "credit/v1/checks.proto",
    "credit/v1/reports.proto",
    "credit/v1/feed.proto",
    "credit/v1/cases.proto",
    "credit/v1/admin.proto",
    "credit/v1/imports.proto",
    "credit/v1/evaluation.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("credit_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
