//! The ScaiVault server: configuration, start-up, the HTTP routes and the services behind them.
//!
//! A request flows one way: request id and limits -> authentication (bearer token or JWT ->
//! `Principal`) -> a route (`routes/*`) that parses and calls one engine function
//! (`engine/*`, `secrets`) -> that function authorizes (token scopes and path policies),
//! validates, and makes the change in one store transaction together with its audit entry,
//! through the crypto barrier -> the route maps the typed result to the response. See
//! docs/architecture.md.

pub mod access;
pub mod audit;
pub mod audit_sink;
pub mod auth;
pub mod authz;
pub mod backup;
pub mod bootstrap;
pub mod changes;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod cursor;
pub mod disk;
pub mod engine;
pub mod error;
pub mod events;
pub mod extract;
pub mod jobs;
pub mod keys;
pub mod leases;
pub mod metrics;
pub mod migrate;
pub mod ratelimit;
pub mod retention;
pub mod rewrap;
pub mod rotation;
pub mod routes;
pub mod seal;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod storage_health;
pub mod storage_report;
pub mod tenancy;
pub mod tpm_cli;
pub mod tracing_otlp;
pub mod webhooks;

/// Why the server or an operator command could not start. Printed to stderr; never contains
/// key material or tokens.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The operator's configuration is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The database could not be opened or migrated.
    #[error("store: {0}")]
    Store(String),
    /// The root key or keyring is unusable.
    #[error("keys: {0}")]
    Keys(String),
    /// The root key provider cannot be reached now (the server starts sealed and retries).
    #[error("sealed: {0}")]
    Sealed(String),
    #[error("{0}")]
    Io(String),
    #[error(
        "this data directory is not initialized; run `scaivault operator init --config <file>` first"
    )]
    NotInitialized,
    #[error("already initialized: the keyring exists in this store")]
    AlreadyInitialized,
}
