//! HTTP tests of the server, driven against the real binary on an ephemeral port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should fail the test loudly"
)]

#[path = "../common/mod.rs"]
mod common;

mod acme;
mod audit;
mod audit_coverage;
mod auth;
mod backup;
mod cluster;
mod durability;
mod dynamic;
mod errors;
mod events;
mod identity;
mod keys;
mod keys_providers;
mod metrics;
mod migrate;
mod operations;
mod pg_failures;
mod pki;
mod policies;
mod quickstart;
mod retention;
mod rotation;
mod rotation_cli;
mod scopes;
mod secrets;
