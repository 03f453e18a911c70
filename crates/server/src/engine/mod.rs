//! The engine: one function per operation, behind every interface (HTTP today; the CLI's
//! server-side commands and the MCP server next). Each authorizes (scope and role or path
//! policy, in one place), validates, and performs the change in one store transaction with its
//! audit entry and events, returning a typed result. No HTTP types here: `routes/` handlers
//! only extract, call one function here, and map the result to a response.

pub mod acme;
pub mod audit;
pub mod dynamic;
pub mod identity;
pub mod pki;
pub mod policies;
pub mod rotation;
pub mod secret_policies;
pub mod service_accounts;
pub mod subscriptions;
pub mod tokens;
