//! `credit-server` integration tests: one test binary for the whole crate.

mod commands;
mod grpc;
