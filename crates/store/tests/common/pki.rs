//! The internal CA's storage: certificate authorities, certificates (with their secret),
//! revocation, the CSR workflow, CRL numbers and the expiry scan.

use std::sync::Arc;

use scaivault_store::*;
use time::Duration;

use super::*;

/// An audit event of a PKI operation on `resource_type`/`id`.
fn pki_event(tenant: &str, resource_type: &str, action: &str, id: &str) -> AuditEvent {
    AuditEvent {
        id: format!("aud_{tenant}_{resource_type}_{action}_{id}"),
        resource_type: resource_type.into(),
        ..event(tenant, action, id, T0)
    }
}

fn ca(tenant: &str, id: &str, name: &str) -> CaRecord {
    CaRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: name.into(),
        parent_ca_id: None,
        common_name: format!("{name} CA"),
        key_type: "ec-p256".into(),
        cert_der: vec![0x30, 0x82, 1, 2, 3],
        sealed_key: SealedBlob {
            key_id: "dek_test".into(),
            ciphertext: format!("sealed key of {id}").into_bytes(),
        },
        serial: "01ab".into(),
        not_before: T0,
        not_after: T0 + Duration::days(3650),
        status: "active".into(),
        separation_of_duties: false,
        settings: r#"{"path_len":1}"#.into(),
        imported: false,
        created_at: T0,
        updated_at: T0,
    }
}

fn cert(tenant: &str, id: &str, ca_id: &str, serial: &str, days: i64) -> CertRecord {
    CertRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        ca_id: ca_id.into(),
        serial: serial.into(),
        common_name: format!("{id}.acme.example"),
        sans: vec![format!("DNS:{id}.acme.example"), "IP:10.0.0.1".into()],
        key_type: Some("ec-p256".into()),
        usage: "server".into(),
        not_before: T0,
        not_after: T0 + Duration::days(days),
        cert_der: format!("der of {id}").into_bytes(),
        secret_path: None,
        csr_id: None,
        revoked_at: None,
        revocation_reason: None,
        issued_by: "user:alice@acme.example".into(),
        created_at: T0,
    }
}

fn csr(tenant: &str, id: &str) -> CsrRecord {
    CsrRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        csr_pem: "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
            .into(),
        common_name: "ext.acme.example".into(),
        sans: vec!["DNS:ext.acme.example".into()],
        key_type: None,
        status: "pending".into(),
        submitted_by: "user:bob@acme.example".into(),
        decided_by: None,
        decided_at: None,
        reason: None,
        cert_id: None,
        created_at: T0,
    }
}

/// The secret write of an issued certificate (certificate + key), as the engine makes it.
fn cert_secret(path: &str) -> SecretWrite {
    SecretWrite {
        patch: SecretPatch {
            secret_type: Some("certificate".into()),
            ..SecretPatch::default()
        },
        ..put(path, T0)
    }
}

async fn audit_count(store: &dyn Store, tenant: &str) -> usize {
    store
        .query_audit(&AuditQuery {
            tenants: vec![tenant.to_owned()],
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items
        .len()
}

pub async fn pki_certificate_authorities(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_pki_ca";
    let root = ca(t, "ca_root", "Root");
    store
        .insert_ca(&root, Some(&pki_event(t, "ca", "create", "ca_root")))
        .await
        .unwrap();
    assert_eq!(audit_count(store, t).await, 1);
    let intermediate = CaRecord {
        parent_ca_id: Some("ca_root".into()),
        separation_of_duties: true,
        imported: true,
        ..ca(t, "ca_int", "Intermediate")
    };
    store.insert_ca(&intermediate, None).await.unwrap();
    // The name is unique per tenant; the id everywhere; another tenant may use the name.
    assert!(matches!(
        store.insert_ca(&ca(t, "ca_other", "Root"), None).await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store
            .insert_ca(&ca("tnt_pki_ca2", "ca_root", "X"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    store
        .insert_ca(&ca("tnt_pki_ca2", "ca_two", "Root"), None)
        .await
        .unwrap();

    assert_eq!(
        store.get_ca(t, "ca_root").await.unwrap(),
        Some(root.clone())
    );
    assert_eq!(
        store.get_ca(t, "ca_int").await.unwrap(),
        Some(intermediate.clone())
    );
    assert_eq!(store.get_ca("tnt_pki_ca2", "ca_root").await.unwrap(), None);
    assert_eq!(store.get_ca(t, "ca_two").await.unwrap(), None);
    assert_eq!(
        store.find_ca("ca_two").await.unwrap().unwrap().tenant_id,
        "tnt_pki_ca2"
    );
    assert_eq!(store.find_ca("ca_nope").await.unwrap(), None);

    let page = store.list_cas(t, None, 1).await.unwrap();
    assert_eq!(
        page.items,
        vec![intermediate.clone()],
        "by id: ca_int < ca_root"
    );
    assert!(page.has_more);
    let page = store.list_cas(t, Some("ca_int"), 10).await.unwrap();
    assert_eq!(page.items, vec![root.clone()]);
    assert!(!page.has_more);

    let later = T0 + Duration::hours(1);
    assert!(
        store
            .disable_ca(
                t,
                "ca_root",
                later,
                Some(&pki_event(t, "ca", "disable", "ca_root"))
            )
            .await
            .unwrap()
    );
    let disabled = store.get_ca(t, "ca_root").await.unwrap().unwrap();
    assert_eq!(disabled.status, "disabled");
    assert_eq!(disabled.updated_at, later);
    assert_eq!(disabled.sealed_key, root.sealed_key);
    assert_eq!(audit_count(store, t).await, 2);
    // Absent, or another tenant's: false, and no entry.
    assert!(!store.disable_ca(t, "ca_two", later, None).await.unwrap());
    assert!(
        !store
            .disable_ca(
                t,
                "ca_nope",
                later,
                Some(&pki_event(t, "ca", "disable", "nope"))
            )
            .await
            .unwrap()
    );
    assert_eq!(audit_count(store, t).await, 2);
    assert_eq!(
        store
            .get_ca("tnt_pki_ca2", "ca_two")
            .await
            .unwrap()
            .unwrap()
            .status,
        "active"
    );
}

pub async fn pki_certificates_and_their_secrets(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_pki_cert";
    store.insert_ca(&ca(t, "ca_1", "One"), None).await.unwrap();

    // Without a secret (a CSR-signed certificate, say).
    let bare = cert(t, "cert_bare", "ca_1", "0a", 90);
    assert_eq!(
        store
            .insert_certificate(
                &bare,
                None,
                Some(&pki_event(t, "certificate", "issue", "bare"))
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_certificate(t, "cert_bare").await.unwrap(),
        Some(bare.clone())
    );
    assert_eq!(audit_count(store, t).await, 1);

    // With its secret: certificate, secret version and audit entry in one transaction.
    let issued = CertRecord {
        secret_path: Some("pki/One/web.acme.example".into()),
        ..cert(t, "cert_web", "ca_1", "0b", 90)
    };
    let outcome = store
        .insert_certificate(
            &issued,
            Some((
                cert_secret("pki/One/web.acme.example"),
                Box::new(seal_with("cert+key")),
            )),
            Some(&pki_event(t, "certificate", "issue", "web")),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.version, 1);
    assert!(outcome.created);
    assert_eq!(outcome.record.secret_type, "certificate");
    let (record, version) = store
        .read_secret(t, "pki/One/web.acme.example", None, T0)
        .await
        .unwrap();
    assert_eq!(record.secret_type, "certificate");
    assert_eq!(version.version, 1);
    assert_eq!(
        value(store, t, "pki/One/web.acme.example", None, T0)
            .await
            .unwrap(),
        "cert+key@1"
    );
    assert_eq!(
        store.get_certificate(t, "cert_web").await.unwrap(),
        Some(issued.clone())
    );
    assert_eq!(audit_count(store, t).await, 2);
    assert_eq!(
        store.certificate_by_serial("ca_1", "0b").await.unwrap(),
        Some(issued.clone())
    );
    assert_eq!(
        store.certificate_by_serial("ca_1", "0c").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_certificate("tnt_other", "cert_web")
            .await
            .unwrap(),
        None
    );

    // A taken serial of the CA: Duplicate, and nothing is written (no secret, no entry).
    let clash = CertRecord {
        secret_path: Some("pki/One/clash.acme.example".into()),
        ..cert(t, "cert_clash", "ca_1", "0b", 90)
    };
    assert!(matches!(
        store
            .insert_certificate(
                &clash,
                Some((
                    cert_secret("pki/One/clash.acme.example"),
                    Box::new(seal_with("x")),
                )),
                Some(&pki_event(t, "certificate", "issue", "clash")),
            )
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store.get_secret(t, "pki/One/clash.acme.example").await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    assert_eq!(store.get_certificate(t, "cert_clash").await.unwrap(), None);
    assert_eq!(audit_count(store, t).await, 2);
    // The same serial under another CA is fine; a taken id is Duplicate.
    store.insert_ca(&ca(t, "ca_2", "Two"), None).await.unwrap();
    store
        .insert_certificate(&cert(t, "cert_two", "ca_2", "0b", 90), None, None)
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_certificate(&cert(t, "cert_two", "ca_2", "0c", 90), None, None)
            .await,
        Err(StoreError::Duplicate)
    ));

    // A secret write refused (a soft-deleted path) fails the whole insert.
    write(store, t, put("pki/One/gone", T0), "old")
        .await
        .unwrap();
    store
        .soft_delete(t, "pki/One/gone", T0, None)
        .await
        .unwrap();
    let refused = CertRecord {
        secret_path: Some("pki/One/gone".into()),
        ..cert(t, "cert_gone", "ca_1", "0d", 90)
    };
    assert!(matches!(
        store
            .insert_certificate(
                &refused,
                Some((cert_secret("pki/One/gone"), Box::new(seal_with("x")))),
                Some(&pki_event(t, "certificate", "issue", "gone")),
            )
            .await,
        Err(StoreError::SoftDeleted)
    ));
    assert_eq!(store.get_certificate(t, "cert_gone").await.unwrap(), None);
    // The secret's path must be the certificate's.
    assert!(matches!(
        store
            .insert_certificate(
                &cert(t, "cert_path", "ca_1", "0e", 90),
                Some((cert_secret("pki/One/elsewhere"), Box::new(seal_with("x")))),
                None,
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(audit_count(store, t).await, 2);

    // Renewal at the same path adds a version, and the write's own audit entry (when the
    // engine gives one) is recorded as a write's.
    let renewed = CertRecord {
        secret_path: Some("pki/One/web.acme.example".into()),
        ..cert(t, "cert_web2", "ca_1", "0f", 90)
    };
    let mut renewal = cert_secret("pki/One/web.acme.example");
    renewal.audit = Some(event(t, "write", "pki/One/web.acme.example", T0));
    let outcome = store
        .insert_certificate(
            &renewed,
            Some((renewal, Box::new(seal_with("renewed")))),
            Some(&pki_event(t, "certificate", "issue", "web2")),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((outcome.version, outcome.previous_version), (2, Some(1)));
    assert_eq!(
        value(store, t, "pki/One/web.acme.example", None, T0)
            .await
            .unwrap(),
        "renewed@2"
    );
    assert_eq!(audit_count(store, t).await, 4);
    for report in verify_all(store).await {
        assert_eq!(report.broken, None, "chain {}", report.chain);
    }
}

pub async fn pki_certificate_listing(store: &dyn Store) {
    let t = "tnt_pki_list";
    store.insert_ca(&ca(t, "ca_a", "A"), None).await.unwrap();
    store.insert_ca(&ca(t, "ca_b", "B"), None).await.unwrap();
    // cert_1: A, 10 days; cert_2: A, 100 days; cert_3: B, 30 days, revoked; cert_4: B, 5 days.
    for (id, ca_id, serial, days) in [
        ("cert_1", "ca_a", "01", 10),
        ("cert_2", "ca_a", "02", 100),
        ("cert_3", "ca_b", "03", 30),
        ("cert_4", "ca_b", "04", 5),
    ] {
        store
            .insert_certificate(&cert(t, id, ca_id, serial, days), None, None)
            .await
            .unwrap();
    }
    store
        .insert_ca(&ca("tnt_pki_list_other", "ca_x", "A"), None)
        .await
        .unwrap();
    store
        .insert_certificate(
            &cert("tnt_pki_list_other", "cert_0", "ca_x", "01", 10),
            None,
            None,
        )
        .await
        .unwrap();
    assert!(
        store
            .revoke_certificate(t, "cert_3", T0, "superseded", None)
            .await
            .unwrap()
    );

    let now = T0 + Duration::days(7);
    let ids = |q: CertQuery| async move {
        store
            .list_certificates(t, &q)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    let all = CertQuery {
        ca_id: None,
        status: None,
        expiring_before: None,
        now,
        after: None,
        limit: 100,
    };
    assert_eq!(
        ids(all.clone()).await,
        ["cert_1", "cert_2", "cert_3", "cert_4"]
    );
    assert_eq!(
        ids(CertQuery {
            ca_id: Some("ca_b".into()),
            ..all.clone()
        })
        .await,
        ["cert_3", "cert_4"]
    );
    assert_eq!(
        ids(CertQuery {
            ca_id: Some("ca_x".into()),
            ..all.clone()
        })
        .await,
        Vec::<String>::new(),
        "another tenant's CA lists nothing"
    );
    let status = |s| CertQuery {
        status: Some(s),
        ..all.clone()
    };
    assert_eq!(
        ids(status(CertStatusFilter::Valid)).await,
        ["cert_1", "cert_2"]
    );
    assert_eq!(ids(status(CertStatusFilter::Revoked)).await, ["cert_3"]);
    assert_eq!(ids(status(CertStatusFilter::Expired)).await, ["cert_4"]);
    // Status moves with `now`: at T0 + 50 days cert_1 has expired too.
    assert_eq!(
        ids(CertQuery {
            now: T0 + Duration::days(50),
            ..status(CertStatusFilter::Expired)
        })
        .await,
        ["cert_1", "cert_4"]
    );
    // Expiring within 30 days of `now`: not yet expired, not_after <= now + 30d.
    assert_eq!(
        ids(CertQuery {
            expiring_before: Some(now + Duration::days(30)),
            ..all.clone()
        })
        .await,
        ["cert_1", "cert_3"]
    );
    assert_eq!(
        ids(CertQuery {
            expiring_before: Some(now + Duration::days(30)),
            ca_id: Some("ca_a".into()),
            status: Some(CertStatusFilter::Valid),
            ..all.clone()
        })
        .await,
        ["cert_1"]
    );

    // Cursor pages.
    let first = store
        .list_certificates(
            t,
            &CertQuery {
                limit: 3,
                ..all.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 3);
    assert!(first.has_more);
    let rest = store
        .list_certificates(
            t,
            &CertQuery {
                limit: 3,
                after: Some(first.items[2].id.clone()),
                ..all.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].id, "cert_4");
    assert!(!rest.has_more);
    let valid_page = store
        .list_certificates(
            t,
            &CertQuery {
                limit: 1,
                ..status(CertStatusFilter::Valid)
            },
        )
        .await
        .unwrap();
    assert_eq!(valid_page.items[0].id, "cert_1");
    assert!(valid_page.has_more);

    // The expiry scan crosses tenants, leaves out revoked certificates, soonest first.
    let expiring = store
        .certificates_expiring_between(T0, T0 + Duration::days(30), 10)
        .await
        .unwrap();
    let found: Vec<_> = expiring
        .iter()
        .map(|c| (c.tenant_id.as_str(), c.id.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (t, "cert_4"),
            ("tnt_pki_list_other", "cert_0"),
            (t, "cert_1")
        ]
    );
    // (from, to]: a certificate expiring exactly at `from` is not included, one at `to` is.
    let expiring = store
        .certificates_expiring_between(T0 + Duration::days(5), T0 + Duration::days(10), 1)
        .await
        .unwrap();
    assert_eq!(expiring.len(), 1);
    assert_eq!(expiring[0].id, "cert_0");
}

pub async fn pki_revocation(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_pki_rev";
    store.insert_ca(&ca(t, "ca_r", "R"), None).await.unwrap();
    for (id, serial, days) in [
        ("cert_a", "0c", 90),
        ("cert_b", "0a", 90),
        ("cert_c", "0b", 3),
        ("cert_d", "0d", 90),
    ] {
        store
            .insert_certificate(&cert(t, id, "ca_r", serial, days), None, None)
            .await
            .unwrap();
    }
    let at = T0 + Duration::days(1);
    assert!(
        store
            .revoke_certificate(
                t,
                "cert_a",
                at,
                "key_compromise",
                Some(&pki_event(t, "certificate", "revoke", "a"))
            )
            .await
            .unwrap()
    );
    assert_eq!(audit_count(store, t).await, 1);
    // Once only: a second revocation changes nothing and records nothing.
    assert!(
        !store
            .revoke_certificate(
                t,
                "cert_a",
                at + Duration::hours(1),
                "superseded",
                Some(&pki_event(t, "certificate", "revoke", "a2"))
            )
            .await
            .unwrap()
    );
    assert_eq!(audit_count(store, t).await, 1);
    let revoked = store.get_certificate(t, "cert_a").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(revoked.revocation_reason.as_deref(), Some("key_compromise"));
    // Absent, or another tenant's: false.
    assert!(
        !store
            .revoke_certificate(t, "cert_nope", at, "unspecified", None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_certificate("tnt_other", "cert_b", at, "unspecified", None)
            .await
            .unwrap()
    );
    for id in ["cert_b", "cert_c"] {
        assert!(
            store
                .revoke_certificate(t, id, at, "superseded", None)
                .await
                .unwrap()
        );
    }
    // The CRL's contents: revoked and still within validity, by serial.
    let serials = |now| async move {
        store
            .revoked_certificates("ca_r", now)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.serial)
            .collect::<Vec<_>>()
    };
    assert_eq!(serials(at).await, ["0a", "0b", "0c"]);
    assert_eq!(
        serials(T0 + Duration::days(3)).await,
        ["0a", "0c"],
        "0b expired"
    );
    assert!(
        store
            .revoked_certificates("ca_other", at)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .certificate_by_serial("ca_r", "0a")
            .await
            .unwrap()
            .unwrap()
            .revocation_reason
            .as_deref(),
        Some("superseded")
    );
}

pub async fn pki_csr_workflow(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_pki_csr";
    store.insert_ca(&ca(t, "ca_s", "S"), None).await.unwrap();
    let request = csr(t, "csr_1");
    store
        .insert_csr(&request, Some(&pki_event(t, "csr", "submit", "csr_1")))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_csr(&request, None).await,
        Err(StoreError::Duplicate)
    ));
    store.insert_csr(&csr(t, "csr_2"), None).await.unwrap();
    store
        .insert_csr(&csr("tnt_other", "csr_3"), None)
        .await
        .unwrap();
    assert_eq!(
        store.get_csr(t, "csr_1").await.unwrap(),
        Some(request.clone())
    );
    assert_eq!(store.get_csr(t, "csr_3").await.unwrap(), None);
    assert_eq!(audit_count(store, t).await, 1);

    // Signing before approval is refused, and writes nothing.
    let signed = cert(t, "cert_s", "ca_s", "51", 90);
    assert!(
        !store
            .sign_csr(
                t,
                "csr_1",
                &signed,
                Some(&pki_event(t, "csr", "sign", "early"))
            )
            .await
            .unwrap()
    );
    assert_eq!(store.get_certificate(t, "cert_s").await.unwrap(), None);
    assert_eq!(audit_count(store, t).await, 1);

    let at = T0 + Duration::hours(2);
    assert!(
        store
            .decide_csr(
                t,
                "csr_1",
                "pending",
                "approved",
                "user:carol@acme.example",
                at,
                None,
                Some(&pki_event(t, "csr", "approve", "csr_1")),
            )
            .await
            .unwrap()
    );
    // The compare-and-set refuses a second approval (and a rejection of the approved CSR).
    for to in ["approved", "rejected"] {
        assert!(
            !store
                .decide_csr(t, "csr_1", "pending", to, "user:dave", at, None, None)
                .await
                .unwrap()
        );
    }
    assert!(
        !store
            .decide_csr(
                "tnt_other",
                "csr_1",
                "pending",
                "approved",
                "x",
                at,
                None,
                None
            )
            .await
            .unwrap()
    );
    let approved = store.get_csr(t, "csr_1").await.unwrap().unwrap();
    assert_eq!(approved.status, "approved");
    assert_eq!(
        approved.decided_by.as_deref(),
        Some("user:carol@acme.example")
    );
    assert_eq!(approved.decided_at, Some(at));
    assert_eq!(audit_count(store, t).await, 2);

    // A certificate of another tenant cannot be attached.
    assert!(matches!(
        store
            .sign_csr(
                t,
                "csr_1",
                &cert("tnt_other", "cert_o", "ca_s", "52", 90),
                None
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    // A taken serial: Duplicate, and the CSR stays approved.
    store
        .insert_certificate(&cert(t, "cert_taken", "ca_s", "53", 90), None, None)
        .await
        .unwrap();
    assert!(matches!(
        store
            .sign_csr(t, "csr_1", &cert(t, "cert_s2", "ca_s", "53", 90), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(
        store.get_csr(t, "csr_1").await.unwrap().unwrap().status,
        "approved"
    );

    assert!(
        store
            .sign_csr(
                t,
                "csr_1",
                &signed,
                Some(&pki_event(t, "csr", "sign", "csr_1"))
            )
            .await
            .unwrap()
    );
    let done = store.get_csr(t, "csr_1").await.unwrap().unwrap();
    assert_eq!(done.status, "signed");
    assert_eq!(done.cert_id.as_deref(), Some("cert_s"));
    let stored = store.get_certificate(t, "cert_s").await.unwrap().unwrap();
    assert_eq!(stored.csr_id.as_deref(), Some("csr_1"));
    assert_eq!(stored.secret_path, None);
    // Signed once only.
    assert!(
        !store
            .sign_csr(t, "csr_1", &cert(t, "cert_s3", "ca_s", "54", 90), None)
            .await
            .unwrap()
    );
    assert_eq!(audit_count(store, t).await, 3);

    // Rejection with a reason.
    assert!(
        store
            .decide_csr(
                t,
                "csr_2",
                "pending",
                "rejected",
                "user:carol@acme.example",
                at,
                Some("unknown host"),
                None,
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_csr(t, "csr_2")
            .await
            .unwrap()
            .unwrap()
            .reason
            .as_deref(),
        Some("unknown host")
    );
    assert!(
        !store
            .sign_csr(t, "csr_2", &cert(t, "cert_r", "ca_s", "55", 90), None)
            .await
            .unwrap()
    );

    // Listing: all, by status, with a cursor.
    store.insert_csr(&csr(t, "csr_4"), None).await.unwrap();
    let ids = |status: Option<&'static str>, after: Option<&'static str>, limit| async move {
        let page = store.list_csrs(t, status, after, limit).await.unwrap();
        (
            page.items.into_iter().map(|c| c.id).collect::<Vec<_>>(),
            page.has_more,
        )
    };
    assert_eq!(
        ids(None, None, 10).await,
        (vec!["csr_1".into(), "csr_2".into(), "csr_4".into()], false)
    );
    assert_eq!(
        ids(Some("pending"), None, 10).await,
        (vec!["csr_4".into()], false)
    );
    assert_eq!(
        ids(Some("signed"), None, 10).await,
        (vec!["csr_1".into()], false)
    );
    assert_eq!(ids(Some("approved"), None, 10).await, (vec![], false));
    assert_eq!(ids(None, None, 1).await, (vec!["csr_1".into()], true));
    assert_eq!(
        ids(None, Some("csr_1"), 1).await,
        (vec!["csr_2".into()], true)
    );
}

pub async fn pki_crls(store: &dyn Store) {
    let t = "tnt_pki_crl";
    store.insert_ca(&ca(t, "ca_c", "C"), None).await.unwrap();
    store.insert_ca(&ca(t, "ca_d", "D"), None).await.unwrap();
    assert_eq!(store.latest_crl("ca_c").await.unwrap(), None);
    assert_eq!(store.next_crl_number("ca_c").await.unwrap(), 1);
    assert_eq!(store.next_crl_number("ca_c").await.unwrap(), 2);
    assert_eq!(store.next_crl_number("ca_d").await.unwrap(), 1, "per CA");
    assert!(matches!(
        store.next_crl_number("ca_nope").await,
        Err(StoreError::NotFound(Entity::CertificateAuthority))
    ));
    let crl = |number: u64, hours: i64| CrlRecord {
        ca_id: "ca_c".into(),
        number,
        der: format!("crl {number}").into_bytes(),
        this_update: T0 + Duration::hours(hours),
        next_update: T0 + Duration::hours(hours + 24),
    };
    assert!(store.store_crl(&crl(2, 2)).await.unwrap());
    assert_eq!(store.latest_crl("ca_c").await.unwrap(), Some(crl(2, 2)));
    // An older CRL (a slower node finishing late) never replaces a newer one.
    assert!(!store.store_crl(&crl(1, 1)).await.unwrap());
    assert_eq!(store.latest_crl("ca_c").await.unwrap(), Some(crl(2, 2)));
    let n = store.next_crl_number("ca_c").await.unwrap();
    assert_eq!(n, 3);
    assert!(store.store_crl(&crl(n, 3)).await.unwrap());
    assert_eq!(store.latest_crl("ca_c").await.unwrap(), Some(crl(3, 3)));
    assert_eq!(store.latest_crl("ca_d").await.unwrap(), None);
}

/// Many callers at once (several nodes, on PostgreSQL) never share a CRL number or a serial.
pub async fn pki_concurrent_crl_numbers_and_serials(store: Arc<dyn Store>) {
    let t = "tnt_pki_conc";
    store.insert_ca(&ca(t, "ca_n", "N"), None).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.next_crl_number("ca_n").await.unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=24).collect::<Vec<u64>>());

    // Eight issuers drawing the same serial: exactly one wins, each loser gets Duplicate and
    // leaves no secret behind.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let path = format!("pki/N/host{i}");
            let c = CertRecord {
                secret_path: Some(path.clone()),
                ..cert(t, &format!("cert_{i}"), "ca_n", "5e", 90)
            };
            store
                .insert_certificate(
                    &c,
                    Some((cert_secret(&path), Box::new(seal_with("k")))),
                    None,
                )
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Some(_)) => won += 1,
            Err(StoreError::Duplicate) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(won, 1);
    let secrets = store
        .list_secrets(
            t,
            &ListQuery {
                prefix: "pki/N/".into(),
                limit: 100,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(secrets.items.len(), 1);
}
