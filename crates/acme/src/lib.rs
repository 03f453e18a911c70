//! ACME (RFC 8555) for ScaiVault: certificates from Let's Encrypt, ZeroSSL, Buypass, Google
//! or any RFC 8555 CA, on top of instant-acme. A library, no HTTP server or storage in it:
//! the server seals [`StoredAccount`] and [`OrderCheckpoint`], answers http-01 through
//! [`Http01Responder`], picks a [`dns::DnsProvider`], and schedules renewals with
//! [`renewal::renewal_decision`].
//!
//! The flow:
//! 1. [`AcmeAccount::register`] (provider preset or custom directory, contact, explicit
//!    terms-of-service agreement, EAB where the CA needs it, extra CA roots for private CAs)
//!    gives a [`StoredAccount`]; later [`AcmeAccount::load`] it.
//! 2. [`AcmeAccount::new_order`] creates the order and its key; persist
//!    [`AcmeOrder::checkpoint`]; [`AcmeOrder::complete`] answers the challenges, waits for DNS
//!    propagation, finalizes, downloads. After a crash, [`AcmeAccount::resume_order`].
//! 3. Failures are [`AcmeError`]s; the CA's problem document is [`AcmeError::problem`].

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
