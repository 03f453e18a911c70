//! Wire types of the ScaiVault HTTP API: every request and response body, and the catalogue of
//! error codes. Shared by the server, the typed client and the CLI so the three cannot drift.
//!
//! Shapes follow the published documentation field by field; anything the docs leave open is
//! described in `docs/api.md` of this repository.

pub mod acme;
pub mod audit;
pub mod auth;
pub mod dynamic;
pub mod error;
pub mod health;
pub mod identity;
pub mod keys;
pub mod pki;
pub mod policies;
pub mod rotation;
pub mod secrets;
pub mod subscriptions;
pub mod timestamp;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use timestamp::Timestamp;
