//! ACME storage: accounts, DNS providers, orders, the claim that lets one node at a time work
//! on an order (and another take over once it expires), tenant isolation, the sealed blobs
//! and the audit entries the mutations commit.

use std::collections::HashSet;
use std::sync::Arc;

use scaivault_store::acme::{
    ACCOUNT_DEACTIVATED, ACCOUNT_VALID, CHALLENGE_DNS01, CHALLENGE_HTTP01, ORDER_FAILED,
    ORDER_PENDING, ORDER_PROCESSING, ORDER_VALID,
};
use scaivault_store::*;
use time::{Duration, OffsetDateTime};

use super::*;

fn acme_event(tenant: &str, resource_type: &str, action: &str, id: &str) -> AuditEvent {
    AuditEvent {
        id: format!("aud_{tenant}_{resource_type}_{action}_{id}"),
        resource_type: resource_type.into(),
        ..event(tenant, action, id, T0)
    }
}

/// A sealed blob whose ciphertext holds every byte value (not text) and a marker.
fn blob(marker: &str) -> SealedBlob {
    let mut ciphertext: Vec<u8> = (0..=255u8).collect();
    ciphertext.extend_from_slice(marker.as_bytes());
    SealedBlob {
        key_id: "dek_test".into(),
        ciphertext,
    }
}

pub fn account(tenant: &str, id: &str) -> AcmeAccountRecord {
    AcmeAccountRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        provider: "letsencrypt".into(),
        directory_url: "https://acme-v02.api.letsencrypt.org/directory".into(),
        contacts: vec![
            "mailto:ops@acme.example".into(),
            "mailto:sec@acme.example".into(),
        ],
        status: ACCOUNT_VALID.into(),
        account_url: format!("https://acme.example/acct/{id}"),
        sealed_credentials: blob(&format!("account key of {id}")),
        eab_kid: None,
        created_at: T0,
        updated_at: T0,
    }
}

pub fn dns_provider(tenant: &str, id: &str, name: &str) -> DnsProviderRecord {
    DnsProviderRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: name.into(),
        kind: "rfc2136".into(),
        settings: r#"{"server":"ns1.acme.example:53","zone":"acme.example","key_name":"acme"}"#
            .into(),
        sealed_credentials: blob(&format!("tsig secret of {id}")),
        created_at: T0,
        updated_at: T0,
    }
}

/// A pending dns-01 order due at `T0 + minutes`.
pub fn order(
    tenant: &str,
    id: &str,
    account: &str,
    provider: Option<&str>,
    minutes: i64,
) -> AcmeOrderRecord {
    AcmeOrderRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        account_id: account.into(),
        domains: vec!["acme.example".into(), "*.acme.example".into()],
        challenge: if provider.is_some() {
            CHALLENGE_DNS01
        } else {
            CHALLENGE_HTTP01
        }
        .into(),
        dns_provider_id: provider.map(Into::into),
        key_type: "ecdsa-p256".into(),
        status: ORDER_PENDING.into(),
        order_url: None,
        sealed_checkpoint: None,
        certificate_id: None,
        problem: None,
        attempts: 0,
        next_attempt_at: T0 + Duration::minutes(minutes),
        renewal_of: None,
        secret_path: "pki/acme/acme.example".into(),
        requested_by: "user:ops@acme.example".into(),
        claimed_by: None,
        claim_expires_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

/// The progress a node writes after a step, keeping the claim until `claim_until`.
fn progress(
    status: &str,
    checkpoint: Option<SealedBlob>,
    claim_until: Option<OffsetDateTime>,
    at: OffsetDateTime,
) -> OrderUpdate {
    OrderUpdate {
        status: status.into(),
        order_url: Some("https://acme.example/order/1".into()),
        sealed_checkpoint: checkpoint,
        certificate_id: None,
        problem: None,
        attempts: 1,
        next_attempt_at: at + Duration::seconds(30),
        claim_until,
        updated_at: at,
    }
}

async fn audit_actions(store: &dyn Store, tenant: &str) -> Vec<String> {
    let mut actions: Vec<String> = store
        .query_audit(&AuditQuery {
            tenants: vec![tenant.to_owned()],
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| format!("{}:{}", e.event.resource_type, e.event.action))
        .collect();
    actions.reverse();
    actions
}

pub async fn acme_accounts(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_acme_acct";
    let a = account(t, "acme_b");
    store
        .insert_acme_account(&a, Some(&acme_event(t, "acme_account", "create", "acme_b")))
        .await
        .unwrap();
    let with_eab = AcmeAccountRecord {
        provider: "zerossl".into(),
        eab_kid: Some("kid_123".into()),
        contacts: Vec::new(),
        ..account(t, "acme_a")
    };
    store.insert_acme_account(&with_eab, None).await.unwrap();
    // The id is unique across tenants.
    assert!(matches!(
        store
            .insert_acme_account(&account("tnt_acme_other", "acme_a"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    store
        .insert_acme_account(&account("tnt_acme_other", "acme_c"), None)
        .await
        .unwrap();

    assert_eq!(
        store.get_acme_account(t, "acme_b").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.get_acme_account(t, "acme_a").await.unwrap(),
        Some(with_eab.clone())
    );
    // Another tenant's account is not found.
    assert_eq!(store.get_acme_account(t, "acme_c").await.unwrap(), None);
    assert_eq!(
        store
            .get_acme_account("tnt_acme_other", "acme_b")
            .await
            .unwrap(),
        None
    );

    let page = store.list_acme_accounts(t, None, 1).await.unwrap();
    assert_eq!(page.items, vec![with_eab.clone()]);
    assert!(page.has_more);
    let page = store
        .list_acme_accounts(t, Some("acme_a"), 10)
        .await
        .unwrap();
    assert_eq!(page.items, vec![a.clone()]);
    assert!(!page.has_more);

    let later = T0 + Duration::hours(1);
    store
        .set_acme_account_status(
            t,
            "acme_b",
            ACCOUNT_DEACTIVATED,
            later,
            Some(&acme_event(t, "acme_account", "deactivate", "acme_b")),
        )
        .await
        .unwrap();
    let deactivated = store.get_acme_account(t, "acme_b").await.unwrap().unwrap();
    assert_eq!(deactivated.status, ACCOUNT_DEACTIVATED);
    assert_eq!(deactivated.updated_at, later);
    assert_eq!(deactivated.sealed_credentials, a.sealed_credentials);
    // Absent, or another tenant's: NotFound, and no audit entry.
    for id in ["acme_c", "acme_nope"] {
        assert!(matches!(
            store
                .set_acme_account_status(
                    t,
                    id,
                    ACCOUNT_DEACTIVATED,
                    later,
                    Some(&acme_event(t, "acme_account", "deactivate", id)),
                )
                .await,
            Err(StoreError::NotFound(Entity::AcmeAccount))
        ));
    }
    assert_eq!(
        store
            .get_acme_account("tnt_acme_other", "acme_c")
            .await
            .unwrap()
            .unwrap()
            .status,
        ACCOUNT_VALID
    );
    assert_eq!(
        audit_actions(store, t).await,
        vec!["acme_account:create", "acme_account:deactivate"]
    );
}

pub async fn acme_dns_providers(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_acme_dns";
    let p = dns_provider(t, "dnsp_1", "primary");
    store
        .insert_dns_provider(&p, Some(&acme_event(t, "dns_provider", "create", "dnsp_1")))
        .await
        .unwrap();
    // The name is unique per tenant; another tenant may use it; the id is unique everywhere.
    assert!(matches!(
        store
            .insert_dns_provider(&dns_provider(t, "dnsp_2", "primary"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store
            .insert_dns_provider(&dns_provider("tnt_acme_dns2", "dnsp_1", "x"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    let route53 = DnsProviderRecord {
        kind: "route53".into(),
        settings: r#"{"hosted_zone_id":"Z123","region":"eu-west-1"}"#.into(),
        ..dns_provider(t, "dnsp_2", "aws")
    };
    store.insert_dns_provider(&route53, None).await.unwrap();
    store
        .insert_dns_provider(&dns_provider("tnt_acme_dns2", "dnsp_3", "primary"), None)
        .await
        .unwrap();

    assert_eq!(
        store.get_dns_provider(t, "dnsp_1").await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(store.get_dns_provider(t, "dnsp_3").await.unwrap(), None);
    let page = store.list_dns_providers(t, None, 1).await.unwrap();
    assert_eq!(page.items, vec![p.clone()]);
    assert!(page.has_more);
    let page = store
        .list_dns_providers(t, Some("dnsp_1"), 10)
        .await
        .unwrap();
    assert_eq!(page.items, vec![route53.clone()]);
    assert!(!page.has_more);

    // In use by an unfinished order: Conflict, nothing deleted, no audit entry.
    store
        .insert_acme_account(&account(t, "acme_1"), None)
        .await
        .unwrap();
    store
        .insert_acme_order(&order(t, "acmeo_1", "acme_1", Some("dnsp_1"), 0), None)
        .await
        .unwrap();
    assert!(matches!(
        store
            .delete_dns_provider(
                t,
                "dnsp_1",
                Some(&acme_event(t, "dns_provider", "delete", "dnsp_1"))
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.get_dns_provider(t, "dnsp_1").await.unwrap().is_some());
    // Once the order is final, the provider may go (the order keeps its id).
    let claimed = store
        .claim_due_order("node_a", T0, T0 + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, "acmeo_1");
    store
        .update_order(
            t,
            "acmeo_1",
            "node_a",
            &progress(ORDER_FAILED, None, None, T0 + Duration::seconds(1)),
            None,
        )
        .await
        .unwrap();
    store
        .delete_dns_provider(
            t,
            "dnsp_1",
            Some(&acme_event(t, "dns_provider", "delete", "dnsp_1")),
        )
        .await
        .unwrap();
    assert_eq!(store.get_dns_provider(t, "dnsp_1").await.unwrap(), None);
    assert_eq!(
        store
            .get_acme_order(t, "acmeo_1")
            .await
            .unwrap()
            .unwrap()
            .dns_provider_id
            .as_deref(),
        Some("dnsp_1")
    );
    // Absent, or another tenant's: NotFound.
    for id in ["dnsp_1", "dnsp_3"] {
        assert!(matches!(
            store.delete_dns_provider(t, id, None).await,
            Err(StoreError::NotFound(Entity::DnsProvider))
        ));
    }
    assert!(
        store
            .get_dns_provider("tnt_acme_dns2", "dnsp_3")
            .await
            .unwrap()
            .is_some()
    );
    // A deleted provider's name is free again.
    store
        .insert_dns_provider(&dns_provider(t, "dnsp_4", "primary"), None)
        .await
        .unwrap();
    assert_eq!(
        audit_actions(store, t).await,
        vec!["dns_provider:create", "dns_provider:delete"]
    );
}

pub async fn acme_orders(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_acme_ord";
    let other = "tnt_acme_ord2";
    store
        .insert_acme_account(&account(t, "acme_o1"), None)
        .await
        .unwrap();
    store
        .insert_acme_account(&account(other, "acme_o2"), None)
        .await
        .unwrap();
    store
        .insert_dns_provider(&dns_provider(t, "dnsp_o1", "p"), None)
        .await
        .unwrap();
    store
        .insert_dns_provider(&dns_provider(other, "dnsp_o2", "p"), None)
        .await
        .unwrap();

    let o1 = order(t, "acmeo_1", "acme_o1", Some("dnsp_o1"), 0);
    store
        .insert_acme_order(&o1, Some(&acme_event(t, "acme_order", "create", "acmeo_1")))
        .await
        .unwrap();
    let o2 = AcmeOrderRecord {
        renewal_of: Some("cert_old".into()),
        ..order(t, "acmeo_2", "acme_o1", None, 5)
    };
    store.insert_acme_order(&o2, None).await.unwrap();
    assert!(matches!(
        store.insert_acme_order(&o1, None).await,
        Err(StoreError::Duplicate)
    ));
    // The account and the DNS provider must be the tenant's own.
    assert!(matches!(
        store
            .insert_acme_order(&order(t, "acmeo_x", "acme_o2", None, 0), None)
            .await,
        Err(StoreError::NotFound(Entity::AcmeAccount))
    ));
    assert!(matches!(
        store
            .insert_acme_order(&order(t, "acmeo_x", "acme_nope", None, 0), None)
            .await,
        Err(StoreError::NotFound(Entity::AcmeAccount))
    ));
    assert!(matches!(
        store
            .insert_acme_order(&order(t, "acmeo_x", "acme_o1", Some("dnsp_o2"), 0), None)
            .await,
        Err(StoreError::NotFound(Entity::DnsProvider))
    ));
    assert_eq!(store.get_acme_order(t, "acmeo_x").await.unwrap(), None);
    store
        .insert_acme_order(
            &order(other, "acmeo_3", "acme_o2", Some("dnsp_o2"), 0),
            None,
        )
        .await
        .unwrap();

    assert_eq!(
        store.get_acme_order(t, "acmeo_1").await.unwrap(),
        Some(o1.clone())
    );
    assert_eq!(
        store.get_acme_order(t, "acmeo_2").await.unwrap(),
        Some(o2.clone())
    );
    assert_eq!(store.get_acme_order(t, "acmeo_3").await.unwrap(), None);

    let page = store.list_acme_orders(t, None, None, 1).await.unwrap();
    assert_eq!(page.items, vec![o1.clone()]);
    assert!(page.has_more);
    let page = store
        .list_acme_orders(t, None, Some("acmeo_1"), 10)
        .await
        .unwrap();
    assert_eq!(page.items, vec![o2.clone()]);
    assert!(!page.has_more);

    // A node claims the most overdue order (another tenant's acmeo_3 is as overdue; by id,
    // acmeo_1 comes first), works a step, keeps the claim.
    let now = T0 + Duration::minutes(1);
    let claimed = store
        .claim_due_order("node_a", now, now + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, "acmeo_1");
    assert_eq!(claimed.claimed_by.as_deref(), Some("node_a"));
    assert_eq!(claimed.claim_expires_at, Some(now + Duration::minutes(5)));
    let checkpoint = blob("order checkpoint with the certificate key");
    let updated = store
        .update_order(
            t,
            "acmeo_1",
            "node_a",
            &progress(
                ORDER_PROCESSING,
                Some(checkpoint.clone()),
                Some(now + Duration::minutes(10)),
                now,
            ),
            Some(&acme_event(t, "acme_order", "progress", "acmeo_1")),
        )
        .await
        .unwrap();
    assert_eq!(updated.status, ORDER_PROCESSING);
    assert_eq!(updated.sealed_checkpoint, Some(checkpoint.clone()));
    assert_eq!(updated.claimed_by.as_deref(), Some("node_a"));
    assert_eq!(updated.claim_expires_at, Some(now + Duration::minutes(10)));
    assert_eq!(
        store.get_acme_order(t, "acmeo_1").await.unwrap(),
        Some(updated.clone())
    );

    // Another node may not update it (Conflict, nothing written, no audit entry); another
    // tenant's id, or an absent one, is NotFound.
    assert!(matches!(
        store
            .update_order(
                t,
                "acmeo_1",
                "node_b",
                &progress(ORDER_FAILED, None, None, now),
                Some(&acme_event(t, "acme_order", "steal", "acmeo_1")),
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    for (tenant, id) in [(other, "acmeo_1"), (t, "acmeo_3"), (t, "acmeo_nope")] {
        assert!(matches!(
            store
                .update_order(
                    tenant,
                    id,
                    "node_a",
                    &progress(ORDER_FAILED, None, None, now),
                    None
                )
                .await,
            Err(StoreError::NotFound(Entity::AcmeOrder))
        ));
    }
    assert_eq!(
        store.get_acme_order(t, "acmeo_1").await.unwrap(),
        Some(updated.clone())
    );

    // The next claim skips the held order: the other tenant's acmeo_3, then nothing due (acmeo_2
    // is due at T0 + 5 min).
    let next = store
        .claim_due_order("node_b", now, now + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (next.id.as_str(), next.tenant_id.as_str()),
        ("acmeo_3", other)
    );
    assert_eq!(
        store
            .claim_due_order("node_b", now, now + Duration::minutes(5))
            .await
            .unwrap(),
        None
    );

    // Releasing without a final status: claimable again by anyone once due.
    let released = store
        .update_order(
            t,
            "acmeo_1",
            "node_a",
            &OrderUpdate {
                attempts: 2,
                problem: Some(r#"{"type":"urn:ietf:params:acme:error:dns","status":400}"#.into()),
                ..progress(ORDER_PROCESSING, Some(checkpoint.clone()), None, now)
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(released.claimed_by, None);
    assert_eq!(released.claim_expires_at, None);
    assert_eq!(released.attempts, 2);
    assert!(released.problem.is_some());
    // A node whose claim was released can no longer write.
    assert!(matches!(
        store
            .update_order(
                t,
                "acmeo_1",
                "node_a",
                &progress(ORDER_VALID, None, None, now),
                None
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let due = now + Duration::seconds(30);
    let again = store
        .claim_due_order("node_b", due, due + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, "acmeo_1");
    assert_eq!(
        again.order_url.as_deref(),
        Some("https://acme.example/order/1")
    );
    assert_eq!(again.sealed_checkpoint, Some(checkpoint.clone()));

    // A final status releases the claim even when asked to keep it; a final order is never
    // claimed again.
    let issued = store
        .update_order(
            t,
            "acmeo_1",
            "node_b",
            &OrderUpdate {
                certificate_id: Some("cert_new".into()),
                ..progress(
                    ORDER_VALID,
                    Some(checkpoint.clone()),
                    Some(due + Duration::hours(1)),
                    due,
                )
            },
            Some(&acme_event(t, "acme_order", "issued", "acmeo_1")),
        )
        .await
        .unwrap();
    assert_eq!(issued.status, ORDER_VALID);
    assert_eq!(issued.certificate_id.as_deref(), Some("cert_new"));
    assert_eq!(issued.claimed_by, None);
    assert_eq!(issued.claim_expires_at, None);

    // By status.
    let valid = store
        .list_acme_orders(t, Some(ORDER_VALID), None, 10)
        .await
        .unwrap();
    assert_eq!(valid.items, vec![issued.clone()]);
    let pending = store
        .list_acme_orders(t, Some(ORDER_PENDING), None, 10)
        .await
        .unwrap();
    assert_eq!(pending.items, vec![o2.clone()]);
    assert!(
        store
            .list_acme_orders(t, Some(ORDER_FAILED), None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Two hours on: acmeo_3's claim (node_b's, until now + 5 min) has expired, and being the
    // most overdue it is taken over first; then acmeo_2.
    let later = T0 + Duration::hours(2);
    let taken_over = store
        .claim_due_order("node_c", later, later + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken_over.id, "acmeo_3");
    assert_eq!(taken_over.claimed_by.as_deref(), Some("node_c"));
    let last = store
        .claim_due_order("node_c", later, later + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.id, "acmeo_2");
    assert_eq!(last.renewal_of.as_deref(), Some("cert_old"));
    assert_eq!(
        store
            .claim_due_order("node_c", later, later + Duration::minutes(5))
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        audit_actions(store, t).await,
        vec![
            "acme_order:create",
            "acme_order:progress",
            "acme_order:issued"
        ]
    );
}

/// A node killed mid-order (`kill -9`): its claim expires, another node takes the order over
/// and finds the CA's order URL and the sealed checkpoint it wrote; the dead node, were it to
/// come back, can no longer write.
pub async fn acme_expired_claim_is_taken_over(store: &dyn Store) {
    let t = "tnt_acme_kill";
    store
        .insert_acme_account(&account(t, "acme_k"), None)
        .await
        .unwrap();
    store
        .insert_acme_order(&order(t, "acmeo_k", "acme_k", None, 0), None)
        .await
        .unwrap();
    let claim = store
        .claim_due_order("node_a", T0, T0 + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.id, "acmeo_k");
    let checkpoint = blob("checkpoint of acmeo_k");
    store
        .update_order(
            t,
            "acmeo_k",
            "node_a",
            &OrderUpdate {
                next_attempt_at: T0,
                ..progress(
                    ORDER_PROCESSING,
                    Some(checkpoint.clone()),
                    Some(T0 + Duration::minutes(5)),
                    T0,
                )
            },
            None,
        )
        .await
        .unwrap();
    // node_a dies. Before the claim expires, nobody can take the order.
    let before = T0 + Duration::minutes(4);
    assert_eq!(
        store
            .claim_due_order("node_b", before, before + Duration::minutes(5))
            .await
            .unwrap(),
        None
    );
    // At expiry, node_b takes it, with everything node_a had written.
    let at = T0 + Duration::minutes(5);
    let resumed = store
        .claim_due_order("node_b", at, at + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.id, "acmeo_k");
    assert_eq!(resumed.claimed_by.as_deref(), Some("node_b"));
    assert_eq!(resumed.status, ORDER_PROCESSING);
    assert_eq!(
        resumed.order_url.as_deref(),
        Some("https://acme.example/order/1")
    );
    assert_eq!(resumed.sealed_checkpoint, Some(checkpoint));
    // node_a comes back: its writes are refused.
    assert!(matches!(
        store
            .update_order(
                t,
                "acmeo_k",
                "node_a",
                &progress(ORDER_FAILED, None, None, at),
                None
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .update_order(
            t,
            "acmeo_k",
            "node_b",
            &progress(ORDER_VALID, None, None, at),
            None,
        )
        .await
        .unwrap();
}

/// Sealed blobs are opaque bytes: every byte value round-trips exactly, and neither a record's
/// Debug nor the audit trail shows their contents.
pub async fn acme_sealed_blobs_stay_opaque(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_acme_blob";
    let marker = "PLAINTEXT-MARKER";
    let a = AcmeAccountRecord {
        sealed_credentials: blob(marker),
        ..account(t, "acme_blob")
    };
    store
        .insert_acme_account(
            &a,
            Some(&acme_event(t, "acme_account", "create", "acme_blob")),
        )
        .await
        .unwrap();
    let p = DnsProviderRecord {
        sealed_credentials: blob(marker),
        ..dns_provider(t, "dnsp_blob", "p")
    };
    store.insert_dns_provider(&p, None).await.unwrap();
    let o = AcmeOrderRecord {
        sealed_checkpoint: Some(blob(marker)),
        ..order(t, "acmeo_blob", "acme_blob", Some("dnsp_blob"), 0)
    };
    store.insert_acme_order(&o, None).await.unwrap();

    let got_a = store
        .get_acme_account(t, "acme_blob")
        .await
        .unwrap()
        .unwrap();
    let got_p = store
        .get_dns_provider(t, "dnsp_blob")
        .await
        .unwrap()
        .unwrap();
    let got_o = store
        .get_acme_order(t, "acmeo_blob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got_a.sealed_credentials, blob(marker));
    assert_eq!(got_p.sealed_credentials, blob(marker));
    assert_eq!(got_o.sealed_checkpoint, Some(blob(marker)));
    for debug in [
        format!("{got_a:?}"),
        format!("{got_p:?}"),
        format!("{got_o:?}"),
    ] {
        assert!(!debug.contains(marker), "{debug}");
    }
    let trail = format!(
        "{:?}",
        store
            .query_audit(&AuditQuery {
                tenants: vec![t.to_owned()],
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .items
    );
    assert!(!trail.contains(marker));
}

/// Many claimers at once on one store (on PostgreSQL, concurrent transactions of one pool):
/// every due order is claimed exactly once.
pub async fn acme_concurrent_claims(store: Arc<dyn Store>) {
    let t = "tnt_acme_race";
    store
        .insert_acme_account(&account(t, "acme_r"), None)
        .await
        .unwrap();
    for i in 0..12 {
        store
            .insert_acme_order(&order(t, &format!("acmeo_{i:02}"), "acme_r", None, 0), None)
            .await
            .unwrap();
    }
    let claimed = claim_all(vec![store.clone(); 8], 12).await;
    assert_eq!(claimed.len(), 12);
}

/// Runs `claimers` concurrent claim loops (claimer `i` is node `node_i`) until each gets
/// nothing; returns the claimed order ids, asserting that none was claimed twice.
pub async fn claim_all(stores: Vec<Arc<dyn Store>>, expected: usize) -> HashSet<String> {
    let mut tasks = Vec::new();
    for (i, store) in stores.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let node = format!("node_{i}");
            let mut mine = Vec::new();
            while let Some(order) = store
                .claim_due_order(&node, T0, T0 + Duration::minutes(5))
                .await
                .unwrap()
            {
                assert_eq!(order.claimed_by.as_deref(), Some(node.as_str()));
                mine.push(order.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "an order was claimed twice: {all:?}"
    );
    assert_eq!(unique.len(), expected);
    unique
}

/// A certificate's renewal orders: the latest is found by the certificate it renews; http-01
/// answers are served until withdrawn or expired; an ACME certificate (its `ca_id` an ACME
/// account, no internal CA) is tracked in the PKI certificate table.
pub async fn acme_renewals_and_http01_answers(store: &dyn Store) {
    let t = "tnt_acme_renew";
    store
        .insert_acme_account(&account(t, "acme_r"), None)
        .await
        .unwrap();
    assert!(
        store
            .renewal_order_of(t, "cert_r1")
            .await
            .unwrap()
            .is_none()
    );
    for (id, minutes) in [("acmeo_r1", 0), ("acmeo_r2", 1)] {
        let o = AcmeOrderRecord {
            renewal_of: Some("cert_r1".into()),
            created_at: T0 + Duration::minutes(minutes),
            ..order(t, id, "acme_r", None, minutes)
        };
        store.insert_acme_order(&o, None).await.unwrap();
    }
    let latest = store.renewal_order_of(t, "cert_r1").await.unwrap().unwrap();
    assert_eq!(latest.id, "acmeo_r2");
    assert_eq!(latest.secret_path, "pki/acme/acme.example");
    assert_eq!(latest.requested_by, "user:ops@acme.example");
    // Another tenant sees nothing of it.
    assert!(
        store
            .renewal_order_of("tnt_other", "cert_r1")
            .await
            .unwrap()
            .is_none()
    );

    let answer = Http01Token {
        token: "tok_1".into(),
        tenant_id: t.into(),
        order_id: "acmeo_r1".into(),
        key_authorization: "tok_1.thumbprint".into(),
        expires_at: T0 + Duration::hours(1),
        created_at: T0,
    };
    store.put_http01_token(&answer).await.unwrap();
    // Published again (a resumed order): replaced, not duplicated.
    store.put_http01_token(&answer).await.unwrap();
    assert_eq!(
        store
            .http01_key_authorization("tok_1", T0)
            .await
            .unwrap()
            .as_deref(),
        Some("tok_1.thumbprint")
    );
    // Never served once expired.
    assert!(
        store
            .http01_key_authorization("tok_1", T0 + Duration::hours(1))
            .await
            .unwrap()
            .is_none()
    );
    store.delete_http01_token("tok_1", T0).await.unwrap();
    store.delete_http01_token("tok_1", T0).await.unwrap();
    assert!(
        store
            .http01_key_authorization("tok_1", T0)
            .await
            .unwrap()
            .is_none()
    );

    // An ACME certificate: ca_id is the account, no pki_cas row.
    let der = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    let cert = scaivault_store::CertRecord {
        id: "cert_acme_r".into(),
        tenant_id: t.into(),
        ca_id: "acme_r".into(),
        serial: "0a1b".into(),
        common_name: "acme.example".into(),
        sans: vec!["DNS:acme.example".into()],
        key_type: Some("ecdsa-p256".into()),
        usage: "server".into(),
        not_before: T0,
        not_after: T0 + Duration::days(90),
        cert_der: der.clone(),
        secret_path: None,
        csr_id: None,
        revoked_at: None,
        revocation_reason: None,
        issued_by: "user:ops@acme.example".into(),
        created_at: T0,
    };
    store.insert_certificate(&cert, None, None).await.unwrap();
    let got = store
        .get_certificate(t, "cert_acme_r")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.ca_id, "acme_r");
    assert_eq!(got.cert_der, der);
}
