//! Store conformance suite: the behaviour every `Store` implementation must have, shared by the
//! SQLite runner (`tests/conformance.rs`) and the PostgreSQL runner (`tests/postgres.rs`).
//! Time is passed explicitly, so expiry and grace are tested without sleeping.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code; each test binary uses a different subset of the helpers"
)]

use std::sync::Arc;

use scaivault_store::*;
use time::{OffsetDateTime, macros::datetime};

pub const T0: OffsetDateTime = datetime!(2026-04-23 14:00:00 UTC);

pub fn seal_with(tag: &'static str) -> impl Fn(u64) -> Result<SealedBlob, ()> + Send + Sync {
    move |version| {
        Ok(SealedBlob {
            key_id: "dek_test".into(),
            ciphertext: format!("{tag}@{version}").into_bytes(),
        })
    }
}

pub fn put(path: &str, now: OffsetDateTime) -> SecretWrite {
    SecretWrite {
        path: path.to_owned(),
        patch: SecretPatch::default(),
        expected_version: None,
        mode: WriteMode::Put,
        now,
        audit: None,
    }
}

pub async fn write(
    store: &dyn Store,
    tenant: &str,
    w: SecretWrite,
    tag: &'static str,
) -> Result<WriteOutcome, StoreError> {
    store
        .write_secret(tenant, w, Box::new(seal_with(tag)))
        .await
}

pub async fn value(
    store: &dyn Store,
    tenant: &str,
    path: &str,
    version: Option<u64>,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    let (_, v) = store.read_secret(tenant, path, version, now).await?;
    Ok(String::from_utf8(v.sealed.unwrap().ciphertext).unwrap())
}

/// A keyed stand-in for the server's HMAC (the store only needs a deterministic MAC).
pub fn test_mac() -> ChainMac {
    Arc::new(|bytes: &[u8]| {
        let mut out = [42u8; 32];
        for (i, b) in bytes.iter().enumerate() {
            out[i % 32] = out[i % 32].rotate_left(3) ^ b.wrapping_add(i as u8);
        }
        out
    })
}

pub fn event(tenant: &str, action: &str, path: &str, at: OffsetDateTime) -> AuditEvent {
    AuditEvent {
        id: format!("aud_{tenant}_{action}_{path}_{}", at.unix_timestamp()),
        occurred_at: at,
        request_id: "req_1".into(),
        actor_id: "user:alice@acme.example".into(),
        actor_type: "user".into(),
        actor_tenant_id: Some(tenant.into()),
        target_tenant_id: Some(tenant.into()),
        partner_id: Some("ptn_1".into()),
        credential_id: Some("tok_1".into()),
        action: action.into(),
        resource_type: "secret".into(),
        resource_path: Some(path.into()),
        version: None,
        outcome: "success".into(),
        error_code: None,
        client_ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}

pub async fn verify_all(store: &dyn Store) -> Vec<ChainReport> {
    let mut reports = Vec::new();
    for chain in store.audit_chains().await.unwrap() {
        reports.push(verify_audit_chain(store, &chain, test_mac()).await.unwrap());
    }
    reports
}

pub mod acme;
pub mod audit;
pub mod dynamic;
pub mod events;
pub mod identity;
pub mod keys;
pub mod pki;
pub mod rotation;
pub mod secrets;
pub mod tokens;

/// Declares one `#[tokio::test]` per behaviour of the suite, each on a fresh store from
/// `$open` (an async fn returning the store and a guard that keeps its database alive), so one
/// failing behaviour does not hide the others. Use it inside a module per backend.
macro_rules! conformance_tests {
    ($open:path) => {
        conformance_tests!(@by_ref $open;
            secrets::versions_and_metadata,
            secrets::optimistic_concurrency_and_failed_seal,
            secrets::tenants_are_isolated,
            secrets::delete_restore_purge,
            secrets::pruning_and_rotation,
            secrets::listing,
            secrets::access_counts,
            tokens::tokens,
            identity::identities,
            identity::registration,
            audit::audit_trail,
            audit::audit_archive,
            events::events,
            events::outbox_pruning,
            rotation::rotation,
            pki::pki_certificate_authorities,
            pki::pki_certificates_and_their_secrets,
            pki::pki_certificate_listing,
            pki::pki_revocation,
            pki::pki_csr_workflow,
            pki::pki_crls,
            dynamic::dynamic_engines_and_roles,
            dynamic::dynamic_lease_caps,
            dynamic::dynamic_lease_lifecycle,
            dynamic::dynamic_sweeper_scans,
            dynamic::dynamic_lease_listing,
            acme::acme_accounts,
            acme::acme_dns_providers,
            acme::acme_orders,
            acme::acme_expired_claim_is_taken_over,
            acme::acme_sealed_blobs_stay_opaque,
            acme::acme_renewals_and_http01_answers,
            keys::keys_data_key_rotation,
            keys::keys_root_key_migration,
            keys::keys_sealed_values_rewrap,
        );
        conformance_tests!(@shared $open;
            secrets::concurrent_writers,
            secrets::failed_writes_do_not_disturb_their_batch,
            pki::pki_concurrent_crl_numbers_and_serials,
            dynamic::dynamic_concurrent_lease_caps,
            acme::acme_concurrent_claims,
        );
    };
    (@by_ref $open:path; $($module:ident :: $behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $behaviour() {
                let (store, guard) = $open().await;
                crate::common::$module::$behaviour(store.as_ref()).await;
                drop(store);
                drop(guard);
            }
        )*
    };
    (@shared $open:path; $($module:ident :: $behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $behaviour() {
                let (store, guard) = $open().await;
                crate::common::$module::$behaviour(store.clone()).await;
                drop(store);
                drop(guard);
            }
        )*
    };
}
pub(crate) use conformance_tests;
