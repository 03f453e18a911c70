//! The storage boundary, one trait per resource. A backend implements all of them and so is a
//! [`Store`]; code that needs one resource can take just its trait.

mod audit;
mod events;
mod identity;
mod policies;
mod rotation;
mod secrets;
mod system;
mod tokens;

pub use audit::AuditStore;
pub use events::EventStore;
pub use identity::IdentityStore;
pub use policies::PolicyStore;
pub use rotation::RotationStore;
pub use secrets::SecretStore;
pub use system::SystemStore;
pub use tokens::TokenStore;

/// The whole storage boundary: every per-resource trait. The server holds one `Arc<dyn Store>`
/// (the read cache in front of a backend), so no write can go around the cache.
pub trait Store:
    SystemStore
    + SecretStore
    + TokenStore
    + IdentityStore
    + PolicyStore
    + RotationStore
    + EventStore
    + AuditStore
    + crate::pki::PkiStore
    + crate::dynamic::DynamicStore
    + crate::acme::AcmeStore
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: SystemStore
        + SecretStore
        + TokenStore
        + IdentityStore
        + PolicyStore
        + RotationStore
        + EventStore
        + AuditStore
        + crate::pki::PkiStore
        + crate::dynamic::DynamicStore
        + crate::acme::AcmeStore
        + std::fmt::Debug
        + ?Sized
{
}
