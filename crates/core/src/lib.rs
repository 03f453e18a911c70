//! ScaiVault's domain rules, free of I/O so they can be tested fast and exhaustively:
//! what a valid secret path is, how durations are written, which scopes exist, who is acting,
//! and what time it is (injected, never read from the system directly by domain code).

pub mod clock;
pub mod duration;
pub mod identity;
pub mod path;
pub mod policy;
pub mod role;
pub mod rotation;
pub mod scope;

pub use clock::{Clock, ManualClock, SystemClock};
pub use duration::{DurationError, parse_duration};
pub use identity::{IdentityType, Principal};
pub use path::{PathError, SecretPath, validate_prefix};
pub use role::Role;
pub use scope::Scope;
