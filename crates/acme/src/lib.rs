//! ACME (RFC 8555) for ScaiVault: certificates from Let's Encrypt, ZeroSSL, Buypass, Google
//! or any RFC 8555 CA, on top of instant-acme. A library: no HTTP routes, storage or
//! scheduler in it. The server seals [`StoredAccount`] and [`OrderCheckpoint`] (both hold
//! private keys), answers http-01 through an [`Http01Responder`] (or [`MemoryHttp01`]), picks
//! a [`dns::DnsProvider`] for dns-01, and schedules renewals with
//! [`renewal::renewal_decision`].
//!
//! The flow:
//! 1. [`AcmeAccount::register`] (a [`Provider`] preset or a custom directory, contacts, an
//!    explicit terms-of-service agreement, [`Eab`] where the CA needs it, extra CA roots for a
//!    private CA) gives a [`StoredAccount`]; [`AcmeAccount::load`] it later;
//!    [`AcmeAccount::deactivate`] ends it.
//! 2. [`AcmeAccount::new_order`] (or [`AcmeAccount::renewal_order`]) creates the order at the
//!    CA and the certificate key; persist [`AcmeOrder::checkpoint`] before going on.
//!    [`AcmeOrder::complete`] answers the challenges (withdrawn afterwards, also on failure),
//!    waits for DNS propagation, lets the CA validate ([`AcmeOrder::validate`] alone if the
//!    caller reports progress), finalizes and downloads the chain. After a crash,
//!    [`AcmeAccount::resume_order`] with the checkpoint continues the same order.
//! 3. Errors are [`AcmeError`]s; the CA's problem document is [`AcmeError::problem`].
//! 4. Renewal: [`renewal::certificate_validity`], [`AcmeAccount::renewal_info`] (ARI, when
//!    the CA offers it) and the pure [`renewal::renewal_decision`].

mod account;
pub mod dns;
mod error;
mod http;
mod order;
mod provider;
pub mod renewal;

pub use account::{AcmeAccount, Eab, RegisterRequest, StoredAccount};
pub use error::{AcmeError, ProblemDocument, Subproblem};
pub use order::{
    AcmeOrder, ChallengeKind, Http01Responder, IssuedCertificate, KeyType, MemoryHttp01,
    OrderCheckpoint, OrderRequest, OrderState, PollPolicy, Solver,
};
pub use provider::Provider;
