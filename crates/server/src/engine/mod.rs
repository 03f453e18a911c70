//! The engine: one function per operation, behind every interface (HTTP today; the CLI's
//! server-side commands and the MCP server next). Each authorizes (scope and role or path
//! policy, in one place), validates, and performs the change in one store transaction with its
//! audit entry, returning a typed result. No HTTP types here: `routes/` parses and maps.

pub mod identity;
pub mod service_accounts;
pub mod tokens;
