//! `credit-server` integration tests: one test binary for the whole crate.

// All of this crate is test code, helpers included: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod admin;
mod cases;
mod checks;
mod commands;
mod disclosure;
mod evaluation;
mod feed;
mod grpc;
mod hardening;
mod imports;
mod lists;
mod metrics;
mod reports;
mod search;
mod serve;
mod tls;
