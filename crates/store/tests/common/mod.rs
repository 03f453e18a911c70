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
use time::{Duration, OffsetDateTime, macros::datetime};

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

pub async fn suite(store: Arc<dyn Store>) {
    versions_and_metadata(store.as_ref()).await;
    optimistic_concurrency_and_failed_seal(store.as_ref()).await;
    concurrent_writers(store.clone()).await;
    failed_writes_do_not_disturb_their_batch(store.clone()).await;
    tenants_are_isolated(store.as_ref()).await;
    delete_restore_purge(store.as_ref()).await;
    pruning_and_rotation(store.as_ref()).await;
    listing(store.as_ref()).await;
    tokens(store.as_ref()).await;
    access_counts(store.as_ref()).await;
    audit_trail(store.as_ref()).await;
    identities(store.as_ref()).await;
    events(store.as_ref()).await;
    rotation(store.as_ref()).await;
    audit_archive(store.as_ref()).await;
    outbox_pruning(store.as_ref()).await;
}

async fn identities(store: &dyn Store) {
    let partner = PartnerRecord {
        id: "ptn_id".into(),
        name: "Partner".into(),
        created_at: T0,
    };
    store.insert_partner(&partner, None).await.unwrap();
    assert!(matches!(
        store.insert_partner(&partner, None).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(store.get_partner("ptn_id").await.unwrap(), Some(partner));
    for (id, slug) in [("tnt_id_b", "beta"), ("tnt_id_a", "alpha")] {
        store
            .insert_tenant(
                &TenantRecord {
                    id: id.into(),
                    partner_id: "ptn_id".into(),
                    slug: slug.into(),
                    name: slug.into(),
                    created_at: T0,
                },
                None,
            )
            .await
            .unwrap();
    }
    // Slugs are unique within a partner only: another partner may use one.
    let taken_slug = TenantRecord {
        id: "tnt_id_c".into(),
        partner_id: "ptn_id".into(),
        slug: "alpha".into(),
        name: "x".into(),
        created_at: T0,
    };
    assert!(matches!(
        store.insert_tenant(&taken_slug, None).await,
        Err(StoreError::Duplicate)
    ));
    let other_partner = TenantRecord {
        id: "tnt_id_o".into(),
        partner_id: "ptn_other".into(),
        ..taken_slug
    };
    store.insert_tenant(&other_partner, None).await.unwrap();
    let page = store.list_tenants("ptn_id", None, 1).await.unwrap();
    assert_eq!(page.items[0].id, "tnt_id_a");
    assert!(page.has_more);
    let page = store
        .list_tenants("ptn_id", Some("tnt_id_a"), 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        store
            .list_tenants("ptn_other", None, 10)
            .await
            .unwrap()
            .items,
        vec![other_partner]
    );

    let sa = ServiceAccountRecord {
        id: "sva_1".into(),
        tenant_id: "tnt_id_a".into(),
        name: "CI".into(),
        description: None,
        roles: vec!["secrets-reader".into()],
        created_at: T0,
    };
    store.insert_service_account(&sa, None).await.unwrap();
    assert_eq!(
        store
            .get_service_account("tnt_id_a", "sva_1")
            .await
            .unwrap(),
        Some(sa.clone())
    );
    assert_eq!(
        store
            .get_service_account("tnt_id_b", "sva_1")
            .await
            .unwrap(),
        None,
        "tenant-scoped"
    );
    let key = TokenRecord {
        id: "key_1".into(),
        tenant_id: "tnt_id_a".into(),
        partner_id: "ptn_id".into(),
        identity_id: "service_account:sva_1".into(),
        identity_type: "service_account".into(),
        token_hash: "sa-key-hash".into(),
        name: "k".into(),
        scopes: vec!["secrets:read".into()],
        is_admin: false,
        is_partner_admin: false,
        kind: "api_key".into(),
        created_at: T0,
        expires_at: None,
        revoked_at: None,
        parent_key_id: None,
    };
    store.insert_token(&key, None).await.unwrap();
    assert!(
        !store
            .delete_service_account("tnt_id_b", "sva_1", T0, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_service_account("tnt_id_a", "sva_1", T0, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_token("sa-key-hash")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "deleting an account revokes its keys"
    );

    store
        .set_identity_groups(
            "tnt_id_a",
            "user:a",
            &["group:dev".into(), "group:ops".into()],
            None,
        )
        .await
        .unwrap();
    store
        .set_identity_groups("tnt_id_a", "user:a", &["group:dev".into()], None)
        .await
        .unwrap();
    assert_eq!(
        store.identity_groups("tnt_id_a", "user:a").await.unwrap(),
        vec!["group:dev".to_owned()]
    );
    assert!(
        store
            .identity_groups("tnt_id_b", "user:a")
            .await
            .unwrap()
            .is_empty()
    );
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

async fn audit_trail(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_audit";
    // A write's entry commits with it and records the version it created.
    let mut w = put("aud/db", T0);
    w.audit = Some(event(t, "write", "aud/db", T0));
    write(store, t, w, "v").await.unwrap();
    // A failed write leaves no success entry behind.
    let mut conflict = put("aud/db", T0);
    conflict.expected_version = Some(7);
    conflict.audit = Some(event(t, "write", "aud/db", T0 + Duration::seconds(1)));
    assert!(write(store, t, conflict, "v").await.is_err());
    // Reads and denials are appended on their own.
    let mut denied = event(t, "read", "aud/other", T0 + Duration::seconds(2));
    denied.outcome = "denied".into();
    denied.error_code = Some("access_denied".into());
    store
        .append_audit(vec![
            event(t, "read", "aud/db", T0 + Duration::seconds(2)),
            denied,
            event(
                "tnt_audit_other",
                "read",
                "aud/db",
                T0 + Duration::seconds(3),
            ),
        ])
        .await
        .unwrap();
    store
        .soft_delete(
            t,
            "aud/db",
            T0 + Duration::seconds(4),
            Some(&event(t, "delete", "aud/db", T0 + Duration::seconds(4))),
        )
        .await
        .unwrap();

    let all = AuditQuery {
        tenants: vec![t.into()],
        limit: 50,
        ..Default::default()
    };
    let page = store.query_audit(&all).await.unwrap();
    let actions: Vec<_> = page.items.iter().map(|e| e.event.action.as_str()).collect();
    assert_eq!(
        actions,
        ["delete", "read", "read", "write"],
        "newest first, one tenant only"
    );
    assert_eq!(page.items[3].event.version, Some(1));
    assert_eq!(page.items[3].chain_seq, 1);
    assert_eq!(page.items[0].chain_seq, 4);

    // Filters and the cursor.
    let denied_only = store
        .query_audit(&AuditQuery {
            outcome: Some("denied".into()),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(denied_only.items.len(), 1);
    assert_eq!(
        denied_only.items[0].event.resource_path.as_deref(),
        Some("aud/other")
    );
    let trail = store
        .query_audit(&AuditQuery {
            path: Some("aud/db".into()),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(trail.items.len(), 3);
    let window = store
        .query_audit(&AuditQuery {
            start: Some(T0 + Duration::seconds(2)),
            end: Some(T0 + Duration::seconds(4)),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(window.items.len(), 2);
    let first = store
        .query_audit(&AuditQuery {
            limit: 3,
            ..all.clone()
        })
        .await
        .unwrap();
    assert!(first.has_more);
    let rest = store
        .query_audit(&AuditQuery {
            before_seq: Some(first.items[2].seq),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(!rest.has_more);
    let nothing = store
        .query_audit(&AuditQuery {
            tenants: vec![],
            ..all.clone()
        })
        .await
        .unwrap();
    assert!(nothing.items.is_empty(), "an empty reach sees nothing");

    let summary = store.audit_summary(&all, 10).await.unwrap();
    assert_eq!(summary.total, 4);
    assert_eq!(summary.by_action[0], ("read".to_owned(), 2));
    assert_eq!(summary.top_paths[0], ("aud/db".to_owned(), 3));

    // Chains verify; checkpoints and pruning keep them verifiable.
    for report in verify_all(store).await {
        assert_eq!(report.broken, None, "chain {}", report.chain);
    }
    assert!(
        store
            .checkpoint_audit(T0 + Duration::seconds(5))
            .await
            .unwrap()
            >= 2
    );
    assert_eq!(
        store
            .checkpoint_audit(T0 + Duration::seconds(6))
            .await
            .unwrap(),
        0,
        "nothing moved"
    );
    store
        .append_audit(vec![event(t, "read", "aud/late", T0 + Duration::days(40))])
        .await
        .unwrap();
    let pruned = store.prune_audit(T0 + Duration::days(30)).await.unwrap();
    assert!(pruned >= 4);
    let after = store.query_audit(&all).await.unwrap();
    assert_eq!(after.items.len(), 1);
    assert_eq!(
        after.items[0].chain_seq, 5,
        "numbering continues after pruning"
    );
    for report in verify_all(store).await {
        assert_eq!(report.broken, None, "chain {} after pruning", report.chain);
    }
    // Appending after everything was pruned continues from the anchor.
    store
        .append_audit(vec![event(
            "tnt_audit_other",
            "read",
            "aud/db",
            T0 + Duration::days(41),
        )])
        .await
        .unwrap();
    for report in verify_all(store).await {
        assert_eq!(
            report.broken, None,
            "chain {} after re-anchoring",
            report.chain
        );
    }
}

async fn versions_and_metadata(store: &dyn Store) {
    let mut w = put("app/db", T0);
    w.patch.secret_type = Some("json".into());
    w.patch.tags = Some(vec!["a".into(), "b".into()]);
    w.patch.description = Some("db".into());
    let first = write(store, "tnt_1", w, "one").await.unwrap();
    assert_eq!(
        (first.version, first.created, first.previous_version),
        (1, true, None)
    );
    assert_eq!(first.record.secret_type, "json");
    assert_eq!(first.record.max_versions, DEFAULT_MAX_VERSIONS);

    let second = write(
        store,
        "tnt_1",
        put("app/db", T0 + Duration::minutes(5)),
        "two",
    )
    .await
    .unwrap();
    assert_eq!(
        (second.version, second.created, second.previous_version),
        (2, false, Some(1))
    );
    // Unset fields keep their values; updated_at moves, created_at does not.
    assert_eq!(second.record.tags, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(second.record.secret_type, "json");
    assert_eq!(second.record.created_at, T0);
    assert_eq!(second.record.updated_at, T0 + Duration::minutes(5));

    assert_eq!(
        value(store, "tnt_1", "app/db", None, T0).await.unwrap(),
        "two@2"
    );
    assert_eq!(
        value(store, "tnt_1", "app/db", Some(1), T0).await.unwrap(),
        "one@1"
    );
    assert!(matches!(
        value(store, "tnt_1", "app/db", Some(3), T0).await,
        Err(StoreError::VersionNotFound)
    ));
    assert!(matches!(
        value(store, "tnt_1", "app/nope", None, T0).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));

    let record = store.get_secret("tnt_1", "app/db").await.unwrap();
    assert_eq!(record.version_count, 2);
    let patched = store
        .patch_secret(
            "tnt_1",
            "app/db",
            &SecretPatch {
                owner: Some("group:dba".into()),
                ..Default::default()
            },
            T0,
            None,
        )
        .await
        .unwrap();
    assert_eq!(patched.owner.as_deref(), Some("group:dba"));
    assert_eq!(patched.current_version, 2, "patch creates no version");
    let versions = store.list_versions("tnt_1", "app/db", T0).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
}

async fn optimistic_concurrency_and_failed_seal(store: &dyn Store) {
    write(store, "tnt_1", put("occ/x", T0), "v").await.unwrap();
    let mut stale = put("occ/x", T0);
    stale.expected_version = Some(0);
    assert!(matches!(
        write(store, "tnt_1", stale, "w").await,
        Err(StoreError::VersionConflict { current: 1 })
    ));
    let mut good = put("occ/x", T0);
    good.expected_version = Some(1);
    assert_eq!(write(store, "tnt_1", good, "w").await.unwrap().version, 2);

    // A failed seal writes nothing, and the version number is not consumed.
    let failing = || Box::new(|_: u64| -> Result<SealedBlob, ()> { Err(()) });
    assert!(matches!(
        store
            .write_secret("tnt_1", put("occ/x", T0), failing())
            .await,
        Err(StoreError::Seal)
    ));
    assert!(matches!(
        store
            .write_secret("tnt_1", put("occ/new", T0), failing())
            .await,
        Err(StoreError::Seal)
    ));
    assert!(matches!(
        store.get_secret("tnt_1", "occ/new").await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    assert_eq!(
        write(store, "tnt_1", put("occ/x", T0), "w")
            .await
            .unwrap()
            .version,
        3
    );
}

async fn concurrent_writers(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = put("hot/one", T0);
            w.patch.max_versions = Some(100);
            write(store.as_ref(), "tnt_1", w, "c")
                .await
                .unwrap()
                .version
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=24).collect::<Vec<u64>>());
}

/// Writes that fail (here: a stale `expected_version`) fail alone, even when they are committed
/// in the same group-commit batch as writes that succeed; versions stay gap-free.
async fn failed_writes_do_not_disturb_their_batch(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..30u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = put("batch/mixed", T0);
            w.patch.max_versions = Some(100);
            if i % 3 == 0 {
                w.expected_version = Some(10_000);
            }
            (i, write(store.as_ref(), "tnt_1", w, "m").await)
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        let (i, result) = t.await.unwrap();
        match result {
            Ok(out) => {
                assert_ne!(i % 3, 0, "a conflicting write succeeded");
                versions.push(out.version);
            }
            Err(StoreError::VersionConflict { .. }) => assert_eq!(i % 3, 0),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<u64>>());
    let listed = store
        .list_versions("tnt_1", "batch/mixed", T0)
        .await
        .unwrap();
    assert_eq!(listed.len(), 20);
}

async fn tenants_are_isolated(store: &dyn Store) {
    write(store, "tnt_a", put("shared/name", T0), "a")
        .await
        .unwrap();
    assert!(matches!(
        value(store, "tnt_b", "shared/name", None, T0).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    let created = write(store, "tnt_b", put("shared/name", T0), "b")
        .await
        .unwrap();
    assert_eq!(created.version, 1, "same path, other tenant, own history");
    assert_eq!(
        value(store, "tnt_a", "shared/name", None, T0)
            .await
            .unwrap(),
        "a@1"
    );
    let q = ListQuery {
        prefix: "shared/".into(),
        limit: 50,
        ..Default::default()
    };
    assert_eq!(
        store.list_secrets("tnt_c", &q).await.unwrap().total_count,
        0
    );
    assert!(matches!(
        store.soft_delete("tnt_c", "shared/name", T0, None).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    assert!(matches!(
        store.hard_delete("tnt_c", "shared/name", None).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
}

async fn delete_restore_purge(store: &dyn Store) {
    write(store, "tnt_1", put("del/x", T0), "v").await.unwrap();
    store.soft_delete("tnt_1", "del/x", T0, None).await.unwrap();
    assert!(matches!(
        value(store, "tnt_1", "del/x", None, T0).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    assert!(matches!(
        write(store, "tnt_1", put("del/x", T0), "w").await,
        Err(StoreError::SoftDeleted)
    ));
    assert!(matches!(
        store.soft_delete("tnt_1", "del/x", T0, None).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    store.restore("tnt_1", "del/x", T0, None).await.unwrap();
    assert_eq!(
        value(store, "tnt_1", "del/x", None, T0).await.unwrap(),
        "v@1"
    );

    // The sweep purges soft deletes older than the cutoff, and only those.
    write(store, "tnt_1", put("del/old", T0), "v")
        .await
        .unwrap();
    store
        .soft_delete("tnt_1", "del/old", T0, None)
        .await
        .unwrap();
    write(store, "tnt_1", put("del/recent", T0), "v")
        .await
        .unwrap();
    store
        .soft_delete("tnt_1", "del/recent", T0 + Duration::days(20), None)
        .await
        .unwrap();
    let (purged, _) = store
        .sweep(T0 + Duration::days(10), T0 + Duration::days(40))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(matches!(
        store.get_secret("tnt_1", "del/old").await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    assert!(
        store
            .get_secret("tnt_1", "del/recent")
            .await
            .unwrap()
            .deleted_at
            .is_some()
    );

    store.hard_delete("tnt_1", "del/x", None).await.unwrap();
    assert_eq!(
        write(store, "tnt_1", put("del/x", T0), "n")
            .await
            .unwrap()
            .version,
        1
    );
}

async fn pruning_and_rotation(store: &dyn Store) {
    let mut w = put("prune/x", T0);
    w.patch.max_versions = Some(2);
    write(store, "tnt_1", w, "v").await.unwrap();
    for _ in 0..3 {
        write(store, "tnt_1", put("prune/x", T0), "v")
            .await
            .unwrap();
    }
    let versions = store.list_versions("tnt_1", "prune/x", T0).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![4, 3]
    );

    // Rotation: the previous version stays readable until its grace ends, even past the cap.
    let rotate = SecretWrite {
        mode: WriteMode::Rotate {
            retire_previous_at: T0 + Duration::hours(1),
        },
        ..put("prune/x", T0)
    };
    assert_eq!(write(store, "tnt_1", rotate, "r").await.unwrap().version, 5);
    assert_eq!(
        value(
            store,
            "tnt_1",
            "prune/x",
            Some(4),
            T0 + Duration::minutes(59)
        )
        .await
        .unwrap(),
        "v@4"
    );
    assert!(matches!(
        value(store, "tnt_1", "prune/x", Some(4), T0 + Duration::hours(1)).await,
        Err(StoreError::VersionNotFound)
    ));
    let (_, retired) = store.sweep(T0, T0 + Duration::hours(2)).await.unwrap();
    assert_eq!(retired, 1);
    let rotate_missing = SecretWrite {
        mode: WriteMode::Rotate {
            retire_previous_at: T0,
        },
        ..put("prune/missing", T0)
    };
    assert!(matches!(
        write(store, "tnt_1", rotate_missing, "r").await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    // Deleting versions: never the last one.
    write(store, "tnt_1", put("dv/x", T0), "v").await.unwrap();
    assert!(matches!(
        store.delete_version("tnt_1", "dv/x", 1, T0, None).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.delete_version("tnt_1", "dv/x", 9, T0, None).await,
        Err(StoreError::VersionNotFound)
    ));
}

async fn listing(store: &dyn Store) {
    for i in 0..5 {
        let mut w = put(&format!("list/s{i}"), T0 + Duration::seconds(i));
        w.patch.tags = Some(if i % 2 == 0 {
            vec!["even".into()]
        } else {
            vec!["odd".into()]
        });
        w.patch.expires_at = Some(T0 + Duration::days(i + 1));
        write(store, "tnt_l", w, "v").await.unwrap();
    }
    // A prefix with GLOB characters matches literally.
    write(store, "tnt_l", put("list*/x", T0), "v")
        .await
        .unwrap();
    let mut q = ListQuery {
        prefix: "list/".into(),
        limit: 2,
        now: Some(T0),
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_secrets("tnt_l", &q).await.unwrap();
        assert_eq!(page.total_count, 5);
        seen.extend(page.items.iter().map(|r| r.path.clone()));
        if !page.has_more {
            break;
        }
        q.after_path = page.items.last().map(|r| r.path.clone());
    }
    assert_eq!(
        seen,
        (0..5).map(|i| format!("list/s{i}")).collect::<Vec<_>>()
    );
    let q = ListQuery {
        prefix: "list".into(),
        tags: vec!["even".into()],
        limit: 50,
        now: Some(T0),
        ..Default::default()
    };
    assert_eq!(
        store.list_secrets("tnt_l", &q).await.unwrap().total_count,
        3
    );
    let q = ListQuery {
        prefix: "list*".into(),
        limit: 50,
        now: Some(T0),
        ..Default::default()
    };
    assert_eq!(
        store.list_secrets("tnt_l", &q).await.unwrap().total_count,
        1
    );
    // Expired ones drop out unless asked for.
    let later = T0 + Duration::days(2) + Duration::hours(1);
    let q = ListQuery {
        prefix: "list/".into(),
        limit: 50,
        now: Some(later),
        ..Default::default()
    };
    assert_eq!(
        store.list_secrets("tnt_l", &q).await.unwrap().total_count,
        3
    );
    let q = ListQuery {
        include_expired: true,
        ..q
    };
    assert_eq!(
        store.list_secrets("tnt_l", &q).await.unwrap().total_count,
        5
    );

    let eq = ExpiringQuery {
        prefix: "list/".into(),
        now: T0,
        before: T0 + Duration::days(3),
        after: None,
        limit: 2,
    };
    let page = store.list_expiring("tnt_l", &eq).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.path.as_str())
            .collect::<Vec<_>>(),
        vec!["list/s0", "list/s1"]
    );
    assert!(page.has_more);
    let last = page.items.last().unwrap();
    let eq = ExpiringQuery {
        after: Some((last.expires_at.unwrap(), last.path.clone())),
        ..eq
    };
    let page = store.list_expiring("tnt_l", &eq).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.path.as_str())
            .collect::<Vec<_>>(),
        vec!["list/s2"]
    );
    assert!(!page.has_more);
}

async fn tokens(store: &dyn Store) {
    let token = TokenRecord {
        id: "tok_1".into(),
        tenant_id: "tnt_1".into(),
        partner_id: "ptn_1".into(),
        identity_id: "user:a".into(),
        identity_type: "user".into(),
        token_hash: "h1".into(),
        name: "n".into(),
        scopes: vec!["secrets:read".into()],
        is_admin: false,
        is_partner_admin: true,
        kind: "api_key".into(),
        created_at: T0,
        expires_at: Some(T0 + Duration::days(1)),
        revoked_at: None,
        parent_key_id: None,
    };
    store.insert_token(&token, None).await.unwrap();
    assert!(matches!(
        store
            .insert_token(
                &TokenRecord {
                    id: "tok_2".into(),
                    ..token.clone()
                },
                None
            )
            .await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(store.find_token("h1").await.unwrap(), Some(token.clone()));
    assert_eq!(store.find_token("h2").await.unwrap(), None);
    let page = store
        .list_tokens("tnt_1", "user:a", None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(
        !store
            .revoke_token("tnt_2", "user:a", "tok_1", T0, None)
            .await
            .unwrap(),
        "other tenant"
    );
    assert!(
        !store
            .revoke_token("tnt_1", "user:b", "tok_1", T0, None)
            .await
            .unwrap(),
        "other identity"
    );
    assert!(
        store
            .revoke_token("tnt_1", "user:a", "tok_1", T0, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_token("h1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    store
        .replace_token(&TokenRecord {
            token_hash: "h3".into(),
            ..token.clone()
        })
        .await
        .unwrap();
    assert!(store.find_token("h1").await.unwrap().is_none());

    // Tokens minted from a key are revoked with it, in the same transaction; other tokens of
    // the same identity are not.
    let key = TokenRecord {
        id: "key_p".into(),
        identity_id: "service_account:sva_p".into(),
        identity_type: "service_account".into(),
        token_hash: "hk".into(),
        kind: "api_key".into(),
        expires_at: None,
        ..token.clone()
    };
    store.insert_token(&key, None).await.unwrap();
    let child = |id: &str, parent: Option<&str>| TokenRecord {
        id: id.into(),
        token_hash: format!("h_{id}"),
        kind: "exchanged".into(),
        parent_key_id: parent.map(str::to_owned),
        ..key.clone()
    };
    for t in [
        child("tok_c1", Some("key_p")),
        child("tok_c2", Some("key_p")),
        child("tok_free", None),
    ] {
        store.insert_token(&t, None).await.unwrap();
    }
    assert_eq!(
        store.get_token("tok_c1").await.unwrap(),
        Some(child("tok_c1", Some("key_p"))),
        "the parent key round-trips"
    );
    assert_eq!(store.get_token("tok_none").await.unwrap(), None);
    assert!(
        store
            .revoke_token("tnt_1", "service_account:sva_p", "key_p", T0, None)
            .await
            .unwrap()
    );
    for (hash, revoked) in [
        ("hk", true),
        ("h_tok_c1", true),
        ("h_tok_c2", true),
        ("h_tok_free", false),
    ] {
        let t = store.find_token(hash).await.unwrap().unwrap();
        assert_eq!(t.revoked_at.is_some(), revoked, "{hash}");
    }
}

async fn access_counts(store: &dyn Store) {
    let hit = |n, at| AccessHit {
        tenant_id: "tnt_1".into(),
        path: "app/db".into(),
        count: n,
        last_at: at,
    };
    store
        .record_access(&[hit(3, T0 - Duration::days(40))])
        .await
        .unwrap();
    store
        .record_access(&[hit(2, T0 - Duration::days(1)), hit(5, T0)])
        .await
        .unwrap();
    let (count, last) = store
        .access_stats("tnt_1", "app/db", T0 - Duration::days(29))
        .await
        .unwrap();
    assert_eq!(count, 7, "only the last 30 days count");
    assert_eq!(last, Some(T0));
}

/// The outbox event of `action` on `path` by [`event`] (`aud_` becomes `evt_`).
fn event_id(tenant: &str, action: &str, path: &str, at: OffsetDateTime) -> String {
    format!("evt_{tenant}_{action}_{path}_{}", at.unix_timestamp())
}

fn event_data(e: &EventRecord) -> serde_json::Value {
    serde_json::from_str(&e.data).unwrap()
}

fn subscription(tenant: &str, id: &str, webhook: bool, start: u64) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: format!("{id} name"),
        paths: vec!["ev/*".into(), "other/**".into()],
        event_types: vec!["secret.rotated".into(), "secret.deleted".into()],
        tenants: vec![tenant.into(), "tnt_ev_b".into()],
        webhook_url: webhook.then(|| format!("https://hooks.example/{id}")),
        webhook_secret: webhook.then(|| SealedBlob {
            key_id: "dek_test".into(),
            ciphertext: format!("whsec-{id}").into_bytes(),
        }),
        owner_identity: "user:alice@acme.example".into(),
        owner_groups: vec!["group:dev".into(), "group:ops".into()],
        owner_is_admin: webhook,
        owner_is_partner_admin: !webhook,
        created_at: T0 + Duration::microseconds(123_456),
        start_seq: start,
        delivered_seq: start,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
    }
}

/// The event outbox: audited mutations emit their events in the same transaction (and failed
/// ones none), the cursor, expiry notices, subscriptions and webhook delivery state.
async fn events(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let (a, b) = ("tnt_ev_a", "tnt_ev_b");
    let both = vec![a.to_owned(), b.to_owned()];
    let start = store.last_event_seq().await.unwrap();
    let at = |s: i64| T0 + Duration::seconds(s);

    // Created, then updated (with the version it replaced).
    let mut w = put("ev/db", at(0));
    w.audit = Some(event(a, "write", "ev/db", at(0)));
    write(store, a, w, "v").await.unwrap();
    let mut w = put("ev/db", at(1));
    w.audit = Some(event(a, "write", "ev/db", at(1)));
    write(store, a, w, "v").await.unwrap();
    // A failed write (version conflict) emits nothing.
    let mut w = put("ev/db", at(2));
    w.expected_version = Some(9);
    w.audit = Some(event(a, "write", "ev/db", at(2)));
    assert!(matches!(
        write(store, a, w, "v").await,
        Err(StoreError::VersionConflict { current: 2 })
    ));
    // A rotation carries the old and the new version.
    let mut w = SecretWrite {
        mode: WriteMode::Rotate {
            retire_previous_at: at(3) + Duration::hours(1),
        },
        ..put("ev/db", at(3))
    };
    w.audit = Some(event(a, "rotate", "ev/db", at(3)));
    assert_eq!(write(store, a, w, "r").await.unwrap().version, 3);
    // Another tenant's write, then a soft delete and a policy change.
    let mut w = put("ev/other", at(4));
    w.audit = Some(event(b, "write", "ev/other", at(4)));
    write(store, b, w, "v").await.unwrap();
    store
        .soft_delete(a, "ev/db", at(5), Some(&event(a, "delete", "ev/db", at(5))))
        .await
        .unwrap();
    let policy = PolicyRecord {
        id: "pol_ev".into(),
        tenant_id: a.into(),
        name: "events".into(),
        description: None,
        rules: "[]".into(),
        created_at: at(6),
        updated_at: at(6),
    };
    let mut created = event(a, "create", "pol_ev", at(6));
    created.resource_type = "policy".into();
    store.insert_policy(&policy, Some(&created)).await.unwrap();

    let all = store.events_after(&both, start, 100).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|e| (e.tenant_id.as_str(), e.event_type.as_str()))
            .collect::<Vec<_>>(),
        [
            (a, "secret.created"),
            (a, "secret.updated"),
            (a, "secret.rotated"),
            (b, "secret.created"),
            (a, "secret.deleted"),
            (a, "policy.changed"),
        ],
        "in seq order, the failed write left no event"
    );
    assert!(all.iter().all(|e| e.seq > start));
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(all[0].id, event_id(a, "write", "ev/db", at(0)));
    assert_eq!(all[0].path.as_deref(), Some("ev/db"));
    assert_eq!(all[0].occurred_at, at(0));
    assert_eq!(event_data(&all[0]), serde_json::json!({ "version": 1 }));
    assert_eq!(all[1].id, event_id(a, "write", "ev/db", at(1)));
    assert_eq!(
        event_data(&all[1]),
        serde_json::json!({ "version": 2, "previous_version": 1 })
    );
    assert_eq!(all[2].id, event_id(a, "rotate", "ev/db", at(3)));
    assert_eq!(
        event_data(&all[2]),
        serde_json::json!({ "old_version": 2, "new_version": 3 })
    );
    assert_eq!(all[3].path.as_deref(), Some("ev/other"));
    assert_eq!(all[4].occurred_at, at(5));
    assert_eq!(
        event_data(&all[4]),
        serde_json::json!({ "permanent": false })
    );
    assert_eq!(all[5].path, None, "policy events carry no secret path");
    assert_eq!(
        event_data(&all[5]),
        serde_json::json!({ "change": "create", "policy": "pol_ev" })
    );

    // Filters: tenants, the cursor, the limit.
    let only_b = store
        .events_after(&[b.to_owned()], start, 100)
        .await
        .unwrap();
    assert_eq!(only_b, vec![all[3].clone()]);
    let only_a = store
        .events_after(&[a.to_owned()], start, 100)
        .await
        .unwrap();
    assert_eq!(only_a.len(), 5);
    assert!(only_a.iter().all(|e| e.tenant_id == a));
    assert!(
        store
            .events_after(&[], start, 100)
            .await
            .unwrap()
            .is_empty(),
        "no tenants, no events"
    );
    assert!(
        store
            .events_after(&["tnt_ev_none".to_owned()], 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let page = store.events_after(&both, all[1].seq, 2).await.unwrap();
    assert_eq!(page, all[2..4].to_vec());
    let rest = store.events_after(&both, page[1].seq, 100).await.unwrap();
    assert_eq!(rest, all[4..].to_vec());
    assert!(
        store
            .events_after(&both, all[5].seq, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_event_seq().await.unwrap(), all[5].seq);

    // Expiry notices: an id that exists is skipped, and only new ones count.
    let notice = |n: i64| NewEvent {
        id: format!("evt_ev_expiring_{n}"),
        tenant_id: b.into(),
        event_type: "secret.expiring".into(),
        path: Some("ev/other".into()),
        occurred_at: at(10 + n),
        data: format!(r#"{{"expires_at":{n}}}"#),
    };
    assert_eq!(store.insert_events(&[notice(1)]).await.unwrap(), 1);
    assert_eq!(
        store.insert_events(&[notice(1), notice(2)]).await.unwrap(),
        1
    );
    assert_eq!(store.insert_events(&[notice(2)]).await.unwrap(), 0);
    assert_eq!(store.insert_events(&[]).await.unwrap(), 0);
    let notices = store.events_after(&both, all[5].seq, 100).await.unwrap();
    assert_eq!(
        notices.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["evt_ev_expiring_1", "evt_ev_expiring_2"]
    );
    assert_eq!(notices[0].tenant_id, b);
    assert_eq!(notices[0].event_type, "secret.expiring");
    assert_eq!(notices[1].path.as_deref(), Some("ev/other"));
    assert_eq!(notices[1].occurred_at, at(12));
    assert_eq!(notices[1].data, r#"{"expires_at":2}"#);
    let last = store.last_event_seq().await.unwrap();
    assert_eq!(last, notices[1].seq);
    // A duplicate inserted together with nothing new changes nothing.
    assert_eq!(store.insert_events(&[notice(1)]).await.unwrap(), 0);
    assert!(
        store
            .events_after(&both, last, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Secrets expiring in a window, across tenants, soonest first (deleted ones left out).
    let far = T0 + Duration::days(400);
    for (tenant, path, days) in [
        (a, "exp/at-from", 0),
        (a, "exp/two", 2),
        (b, "exp/one", 1),
        (a, "exp/at-to", 3),
        (b, "exp/after", 4),
        (a, "exp/deleted", 1),
    ] {
        let mut w = put(path, T0);
        w.patch.expires_at = Some(far + Duration::days(days));
        write(store, tenant, w, "v").await.unwrap();
    }
    store.soft_delete(a, "exp/deleted", T0, None).await.unwrap();
    let window = store
        .secrets_expiring_between(far, far + Duration::days(3), 10)
        .await
        .unwrap();
    assert_eq!(
        window,
        vec![
            (b.to_owned(), "exp/one".to_owned(), far + Duration::days(1)),
            (a.to_owned(), "exp/two".to_owned(), far + Duration::days(2)),
            (
                a.to_owned(),
                "exp/at-to".to_owned(),
                far + Duration::days(3)
            ),
        ]
    );
    let limited = store
        .secrets_expiring_between(far, far + Duration::days(3), 2)
        .await
        .unwrap();
    assert_eq!(limited, window[..2].to_vec());
    assert_eq!(
        store.last_event_seq().await.unwrap(),
        last,
        "unaudited writes"
    );

    // Subscriptions: tenant-scoped, and creating or deleting one emits no event.
    let sub1 = subscription(a, "sub_ev_1", true, last);
    let sub2 = subscription(a, "sub_ev_2", false, last);
    let sub3 = subscription(b, "sub_ev_3", true, last);
    let mut audit = event(a, "create", "sub_ev_1", at(20));
    audit.resource_type = "subscription".into();
    store
        .insert_subscription(&sub1, Some(&audit))
        .await
        .unwrap();
    store.insert_subscription(&sub2, None).await.unwrap();
    store.insert_subscription(&sub3, None).await.unwrap();
    assert_eq!(
        store.get_subscription(a, "sub_ev_1").await.unwrap(),
        Some(sub1.clone())
    );
    assert_eq!(
        store.get_subscription(a, "sub_ev_2").await.unwrap(),
        Some(sub2.clone())
    );
    assert_eq!(store.get_subscription(b, "sub_ev_1").await.unwrap(), None);
    let page = store.list_subscriptions(a, None, 1).await.unwrap();
    assert_eq!(page.items, vec![sub1.clone()]);
    assert!(page.has_more);
    let page = store
        .list_subscriptions(a, Some("sub_ev_1"), 10)
        .await
        .unwrap();
    assert_eq!(page.items, vec![sub2.clone()]);
    assert!(!page.has_more);
    let page = store.list_subscriptions(b, None, 10).await.unwrap();
    assert_eq!(page.items, vec![sub3.clone()]);
    assert!(
        store
            .list_subscriptions("tnt_ev_none", None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // The webhook secret is replaceable, only on a subscription with a webhook, in its tenant.
    let rotated = SealedBlob {
        key_id: "dek_test_2".into(),
        ciphertext: b"whsec-rotated".to_vec(),
    };
    let mut audit = event(a, "rotate_secret", "sub_ev_1", at(21));
    audit.resource_type = "subscription".into();
    assert!(
        store
            .set_webhook_secret(a, "sub_ev_1", &rotated, Some(&audit))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_webhook_secret(b, "sub_ev_1", &rotated, None)
            .await
            .unwrap(),
        "other tenant"
    );
    assert!(
        !store
            .set_webhook_secret(a, "sub_ev_2", &rotated, None)
            .await
            .unwrap(),
        "no webhook"
    );
    assert!(
        !store
            .set_webhook_secret(a, "sub_ev_none", &rotated, None)
            .await
            .unwrap()
    );
    let sub1 = SubscriptionRecord {
        webhook_secret: Some(rotated),
        ..sub1
    };
    assert_eq!(
        store.get_subscription(a, "sub_ev_1").await.unwrap(),
        Some(sub1.clone())
    );
    assert_eq!(
        store.get_subscription(a, "sub_ev_2").await.unwrap(),
        Some(sub2.clone()),
        "untouched"
    );

    // The delivery worker sees every subscription with a webhook, across tenants.
    let hooks: Vec<_> = store
        .webhook_subscriptions()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.id.starts_with("sub_ev_"))
        .collect();
    assert_eq!(hooks, vec![sub1.clone(), sub3.clone()]);

    // Delivery state: a failed attempt, then the event given up on (a dead letter).
    store
        .record_delivery(&DeliveryState {
            subscription_id: "sub_ev_1",
            delivered_seq: notices[0].seq,
            attempts: 3,
            next_attempt_at: Some(at(30)),
            last_error: Some("HTTP 503"),
            dead: None,
        })
        .await
        .unwrap();
    let retrying = store
        .get_subscription(a, "sub_ev_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retrying.delivered_seq, notices[0].seq);
    assert_eq!(retrying.start_seq, last, "the start stays");
    assert_eq!(retrying.attempts, 3);
    assert_eq!(retrying.next_attempt_at, Some(at(30)));
    assert_eq!(retrying.last_error.as_deref(), Some("HTTP 503"));
    assert!(store.dead_letters("sub_ev_1").await.unwrap().is_empty());
    let dead = DeadLetter {
        subscription_id: "sub_ev_1".into(),
        event_id: notices[1].id.clone(),
        event_seq: notices[1].seq,
        attempts: 12,
        last_error: "HTTP 500".into(),
        failed_at: at(40) + Duration::microseconds(7),
    };
    store
        .record_delivery(&DeliveryState {
            subscription_id: "sub_ev_1",
            delivered_seq: notices[1].seq,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            dead: Some(&dead),
        })
        .await
        .unwrap();
    let moved_on = store
        .get_subscription(a, "sub_ev_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved_on.delivered_seq, notices[1].seq);
    assert_eq!(moved_on.attempts, 0);
    assert_eq!(moved_on.next_attempt_at, None);
    assert_eq!(moved_on.last_error, None);
    assert_eq!(
        store.dead_letters("sub_ev_1").await.unwrap(),
        vec![dead.clone()]
    );
    assert!(store.dead_letters("sub_ev_3").await.unwrap().is_empty());
    assert_eq!(
        store.get_subscription(b, "sub_ev_3").await.unwrap(),
        Some(sub3),
        "other subscriptions untouched"
    );

    // Deleting is tenant-scoped.
    assert!(
        !store
            .delete_subscription(b, "sub_ev_2", None)
            .await
            .unwrap()
    );
    let mut audit = event(a, "delete", "sub_ev_2", at(50));
    audit.resource_type = "subscription".into();
    assert!(
        store
            .delete_subscription(a, "sub_ev_2", Some(&audit))
            .await
            .unwrap()
    );
    assert_eq!(store.get_subscription(a, "sub_ev_2").await.unwrap(), None);
    assert!(
        !store
            .delete_subscription(a, "sub_ev_2", None)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_subscriptions(a, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store.last_event_seq().await.unwrap(),
        last,
        "subscription changes are audited but emit no event"
    );
}

fn secret_policy(tenant: &str, id: &str, name: &str) -> SecretPolicyRecord {
    SecretPolicyRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: name.into(),
        description: Some(format!("{name} values")),
        secret_type: "password".into(),
        fields: r#"[{"name":"password","generator":"password","config":{"length":32}}]"#.into(),
        created_at: T0 + Duration::microseconds(11),
        updated_at: T0 + Duration::microseconds(11),
    }
}

fn rotation_policy(tenant: &str, id: &str, name: &str) -> RotationPolicyRecord {
    RotationPolicyRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: name.into(),
        description: None,
        interval_secs: 30 * 86_400,
        grace_secs: 3_600,
        warn_before_secs: vec![7 * 86_400, 86_400],
        auto_generate: true,
        window: Some("0 3 * * 1-5".into()),
        created_at: T0 + Duration::microseconds(22),
        updated_at: T0 + Duration::microseconds(22),
    }
}

fn schedule(
    tenant: &str,
    path: &str,
    policy: &str,
    state: ScheduleState,
    next: OffsetDateTime,
    warning: Option<OffsetDateTime>,
) -> ScheduleRecord {
    ScheduleRecord {
        tenant_id: tenant.into(),
        path: path.into(),
        policy_id: policy.into(),
        state,
        next_rotation_at: next,
        next_warning_at: warning,
        attempts: 0,
        last_rotated_at: None,
        last_error: None,
        updated_at: T0 + Duration::microseconds(33),
    }
}

fn run(tenant: &str, id: &str, path: &str, status: RunStatus, at: OffsetDateTime) -> RunRecord {
    RunRecord {
        seq: 0,
        id: id.into(),
        tenant_id: tenant.into(),
        policy_id: Some("rot_2".into()),
        path: path.into(),
        trigger: RunTrigger::Schedule,
        status,
        attempt: 1,
        old_version: Some(1),
        new_version: None,
        error: None,
        started_at: at,
        finished_at: None,
    }
}

/// The audit event of a rotation step or of a rotation change (`resource_type` "rotation").
fn rotation_event(
    tenant: &str,
    action: &str,
    path: &str,
    at: OffsetDateTime,
    version: Option<u64>,
) -> AuditEvent {
    AuditEvent {
        resource_type: "rotation".into(),
        version,
        ..event(tenant, action, path, at)
    }
}

/// An explicit `rotation.*` event of a step.
fn rotation_notice(
    tenant: &str,
    event_type: &str,
    path: &str,
    at: OffsetDateTime,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent {
        id: format!("evt_{tenant}_{event_type}_{path}_{}", at.unix_timestamp()),
        tenant_id: tenant.into(),
        event_type: event_type.into(),
        path: Some(path.into()),
        occurred_at: at,
        data: data.to_string(),
    }
}

/// Only a step's schedule change, unaudited.
fn schedule_step(change: ScheduleChange) -> RotationStep {
    RotationStep {
        run: None,
        schedule: change,
        audit: None,
        events: vec![],
    }
}

/// Secret and rotation policies, schedules and runs: CRUD and paging, attaching and detaching,
/// the scheduler's queries, rotation steps (atomic, with their events).
async fn rotation(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let (a, b) = ("tnt_rot_a", "tnt_rot_b");
    let at = |s: i64| T0 + Duration::seconds(s) + Duration::microseconds(7);
    let events_start = store.last_event_seq().await.unwrap();

    // --- secret policies: CRUD, names unique per tenant, paging by id.
    let sp1 = secret_policy(a, "sp_1", "db-password");
    let mut audit = event(a, "create", "sp_1", at(0));
    audit.resource_type = "secret_policy".into();
    store
        .insert_secret_policy(&sp1, Some(&audit))
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_secret_policy(&secret_policy(a, "sp_1", "other"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store
            .insert_secret_policy(&secret_policy(a, "sp_x", "db-password"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    store
        .insert_secret_policy(&secret_policy(b, "sp_1", "db-password"), None)
        .await
        .unwrap();
    for (id, name) in [("sp_3", "api-key"), ("sp_2", "token")] {
        store
            .insert_secret_policy(&secret_policy(a, id, name), None)
            .await
            .unwrap();
    }
    assert_eq!(
        store.get_secret_policy(a, "sp_1").await.unwrap(),
        Some(sp1.clone())
    );
    assert_eq!(store.get_secret_policy(b, "sp_2").await.unwrap(), None);
    let updated = SecretPolicyRecord {
        name: "db-pass".into(),
        description: None,
        secret_type: "json".into(),
        fields: "[]".into(),
        updated_at: at(1),
        ..sp1.clone()
    };
    assert!(store.update_secret_policy(&updated, None).await.unwrap());
    assert_eq!(
        store.get_secret_policy(a, "sp_1").await.unwrap(),
        Some(updated.clone())
    );
    assert!(matches!(
        store
            .update_secret_policy(
                &SecretPolicyRecord {
                    name: "token".into(),
                    ..updated.clone()
                },
                None
            )
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(
        !store
            .update_secret_policy(&secret_policy(a, "sp_none", "x"), None)
            .await
            .unwrap()
    );
    let page = store.list_secret_policies(a, None, 2).await.unwrap();
    assert_eq!(
        page.items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["sp_1", "sp_2"]
    );
    assert!(page.has_more);
    let page = store
        .list_secret_policies(a, Some("sp_2"), 2)
        .await
        .unwrap();
    assert_eq!(page.items, vec![secret_policy(a, "sp_3", "api-key")]);
    assert!(!page.has_more);
    assert!(!store.delete_secret_policy(b, "sp_3", None).await.unwrap());
    assert!(store.delete_secret_policy(a, "sp_3", None).await.unwrap());
    assert!(!store.delete_secret_policy(a, "sp_3", None).await.unwrap());
    assert_eq!(store.get_secret_policy(a, "sp_3").await.unwrap(), None);
    assert_eq!(
        store
            .get_secret_policy(b, "sp_1")
            .await
            .unwrap()
            .unwrap()
            .tenant_id,
        b,
        "the other tenant's policy of the same id stays"
    );

    // --- rotation policies: the same, with every field round-tripped.
    let rot1 = rotation_policy(a, "rot_1", "monthly");
    let mut audit = event(a, "create", "rot_1", at(2));
    audit.resource_type = "rotation_policy".into();
    store
        .insert_rotation_policy(&rot1, Some(&audit))
        .await
        .unwrap();
    let rot2 = RotationPolicyRecord {
        description: Some("weekly, by hand".into()),
        interval_secs: 7 * 86_400,
        grace_secs: 0,
        warn_before_secs: vec![],
        auto_generate: false,
        window: None,
        ..rotation_policy(a, "rot_2", "weekly")
    };
    store.insert_rotation_policy(&rot2, None).await.unwrap();
    assert!(matches!(
        store
            .insert_rotation_policy(&rotation_policy(a, "rot_3", "weekly"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store
            .insert_rotation_policy(&rotation_policy(a, "rot_1", "other"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    // The same id in another tenant is another policy.
    store
        .insert_rotation_policy(&rotation_policy(b, "rot_1", "monthly"), None)
        .await
        .unwrap();
    assert_eq!(
        store.get_rotation_policy(a, "rot_1").await.unwrap(),
        Some(rot1.clone())
    );
    assert_eq!(
        store.get_rotation_policy(a, "rot_2").await.unwrap(),
        Some(rot2.clone())
    );
    assert_eq!(store.get_rotation_policy(b, "rot_2").await.unwrap(), None);
    let rot2_updated = RotationPolicyRecord {
        name: "fortnightly".into(),
        interval_secs: 14 * 86_400,
        warn_before_secs: vec![3_600],
        auto_generate: true,
        window: Some("* * * * *".into()),
        updated_at: at(3),
        ..rot2.clone()
    };
    assert!(
        store
            .update_rotation_policy(&rot2_updated, None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_rotation_policy(a, "rot_2").await.unwrap(),
        Some(rot2_updated.clone())
    );
    assert!(matches!(
        store
            .update_rotation_policy(
                &RotationPolicyRecord {
                    name: "monthly".into(),
                    ..rot2_updated.clone()
                },
                None
            )
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(
        !store
            .update_rotation_policy(&rotation_policy(a, "rot_none", "x"), None)
            .await
            .unwrap()
    );
    let page = store.list_rotation_policies(a, None, 1).await.unwrap();
    assert_eq!(page.items, vec![rot1.clone()]);
    assert!(page.has_more);
    let page = store
        .list_rotation_policies(a, Some("rot_1"), 5)
        .await
        .unwrap();
    assert_eq!(page.items, vec![rot2_updated.clone()]);
    assert!(!page.has_more);

    // --- attaching a policy to a secret (and its schedule), in one transaction.
    write(store, a, put("rot/db", T0), "v").await.unwrap();
    let before = store.get_secret(a, "rot/db").await.unwrap();
    // Read through (and, behind a cache, into the cache) before the change.
    let (cached, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(cached.rotation_policy_id, None);
    let db_schedule = schedule(
        a,
        "rot/db",
        "rot_1",
        ScheduleState::Scheduled,
        at(100_000),
        None,
    );
    assert!(
        store
            .set_secret_rotation_policy(
                a,
                "rot/db",
                Some("rot_1"),
                &ScheduleChange::Upsert(db_schedule.clone()),
                Some(&rotation_event(a, "attach", "rot/db", at(4), None)),
            )
            .await
            .unwrap()
    );
    let after = store.get_secret(a, "rot/db").await.unwrap();
    assert_eq!(after.rotation_policy_id.as_deref(), Some("rot_1"));
    assert_eq!(after.updated_at, before.updated_at, "not a change of value");
    let (read, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(read.rotation_policy_id.as_deref(), Some("rot_1"));
    assert_eq!(
        store.get_rotation_schedule(a, "rot/db").await.unwrap(),
        Some(db_schedule.clone())
    );
    assert_eq!(
        store.get_rotation_schedule(b, "rot/db").await.unwrap(),
        None
    );
    // No live secret: false, and the schedule is not written.
    write(store, a, put("rot/gone", T0), "v").await.unwrap();
    store.soft_delete(a, "rot/gone", T0, None).await.unwrap();
    for path in ["rot/none", "rot/gone"] {
        let change = ScheduleChange::Upsert(schedule(
            a,
            path,
            "rot_1",
            ScheduleState::Scheduled,
            at(5),
            None,
        ));
        assert!(
            !store
                .set_secret_rotation_policy(a, path, Some("rot_1"), &change, None)
                .await
                .unwrap(),
            "{path}"
        );
        assert_eq!(store.get_rotation_schedule(a, path).await.unwrap(), None);
    }
    assert!(
        !store
            .set_secret_rotation_policy(b, "rot/db", None, &ScheduleChange::Keep, None)
            .await
            .unwrap(),
        "another tenant's secret"
    );
    // A policy that does not exist (in this tenant) is refused, and so is another secret's
    // schedule; nothing changes.
    assert!(matches!(
        store
            .set_secret_rotation_policy(a, "rot/db", Some("rot_none"), &ScheduleChange::Keep, None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let elsewhere = ScheduleChange::Delete {
        tenant_id: b.into(),
        path: "rot/db".into(),
    };
    assert!(matches!(
        store
            .set_secret_rotation_policy(a, "rot/db", None, &elsewhere, None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        store
            .get_secret(a, "rot/db")
            .await
            .unwrap()
            .rotation_policy_id
            .as_deref(),
        Some("rot_1")
    );
    // Detaching removes the schedule; attaching again restores it.
    let detach = ScheduleChange::Delete {
        tenant_id: a.into(),
        path: "rot/db".into(),
    };
    assert!(
        store
            .set_secret_rotation_policy(a, "rot/db", None, &detach, None)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_secret(a, "rot/db")
            .await
            .unwrap()
            .rotation_policy_id,
        None
    );
    assert_eq!(
        store.get_rotation_schedule(a, "rot/db").await.unwrap(),
        None
    );
    store
        .set_secret_rotation_policy(
            a,
            "rot/db",
            Some("rot_1"),
            &ScheduleChange::Upsert(db_schedule.clone()),
            None,
        )
        .await
        .unwrap();

    // --- secrets whose schedule a crash left behind.
    let mut w = put("rot/orphan", T0);
    w.patch.rotation_policy_id = Some("rot_1".into());
    write(store, a, w, "v").await.unwrap();
    // A schedule of another policy than the secret's counts as missing.
    write(store, a, put("rot/moved", T0), "v").await.unwrap();
    store
        .set_secret_rotation_policy(
            a,
            "rot/moved",
            Some("rot_2"),
            &ScheduleChange::Upsert(schedule(
                a,
                "rot/moved",
                "rot_2",
                ScheduleState::Scheduled,
                at(200_000),
                None,
            )),
            None,
        )
        .await
        .unwrap();
    store
        .patch_secret(
            a,
            "rot/moved",
            &SecretPatch {
                rotation_policy_id: Some("rot_1".into()),
                ..Default::default()
            },
            T0,
            None,
        )
        .await
        .unwrap();
    // Soft-deleted secrets are left out.
    let mut w = put("rot/deleted", T0);
    w.patch.rotation_policy_id = Some("rot_1".into());
    write(store, a, w, "v").await.unwrap();
    store.soft_delete(a, "rot/deleted", T0, None).await.unwrap();
    // Another tenant's policy of the same id.
    let mut w = put("rot/b-orphan", T0);
    w.patch.rotation_policy_id = Some("rot_1".into());
    write(store, b, w, "v").await.unwrap();
    let mut unscheduled = store.unscheduled_rotations(100).await.unwrap();
    unscheduled.sort();
    let triple = |t: &str, p: &str, r: &str| (t.to_owned(), p.to_owned(), r.to_owned());
    assert_eq!(
        unscheduled,
        vec![
            triple(a, "rot/moved", "rot_1"),
            triple(a, "rot/orphan", "rot_1"),
            triple(b, "rot/b-orphan", "rot_1"),
        ]
    );
    assert_eq!(store.unscheduled_rotations(2).await.unwrap().len(), 2);

    // --- deleting a policy: its schedules go, its secrets are detached (this tenant's only).
    assert!(
        !store
            .delete_rotation_policy(b, "rot_2", None)
            .await
            .unwrap(),
        "another tenant's policy"
    );
    let (cached, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(cached.rotation_policy_id.as_deref(), Some("rot_1"));
    let mut audit = event(a, "delete", "rot_1", at(6));
    audit.resource_type = "rotation_policy".into();
    assert!(
        store
            .delete_rotation_policy(a, "rot_1", Some(&audit))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_rotation_policy(a, "rot_1", None)
            .await
            .unwrap()
    );
    assert_eq!(store.get_rotation_policy(a, "rot_1").await.unwrap(), None);
    assert!(
        store
            .get_rotation_policy(b, "rot_1")
            .await
            .unwrap()
            .is_some()
    );
    for path in ["rot/db", "rot/orphan", "rot/moved", "rot/deleted"] {
        assert_eq!(
            store.get_secret(a, path).await.unwrap().rotation_policy_id,
            None,
            "{path}"
        );
    }
    let (read, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(read.rotation_policy_id, None, "no stale record is served");
    assert_eq!(
        store.get_rotation_schedule(a, "rot/db").await.unwrap(),
        None
    );
    assert!(
        store
            .get_rotation_schedule(a, "rot/moved")
            .await
            .unwrap()
            .is_some(),
        "another policy's schedule stays"
    );
    assert_eq!(
        store
            .get_secret(b, "rot/b-orphan")
            .await
            .unwrap()
            .rotation_policy_id
            .as_deref(),
        Some("rot_1")
    );
    assert_eq!(
        store.unscheduled_rotations(100).await.unwrap(),
        vec![triple(b, "rot/b-orphan", "rot_1")]
    );
    // Clean up what the scheduler queries below look at.
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Delete {
            tenant_id: a.into(),
            path: "rot/moved".into(),
        }))
        .await
        .unwrap();

    // --- the scheduler's queries, across tenants (c and d have schedules only).
    let (c, d) = ("tnt_rot_c", "tnt_rot_d");
    let due_schedules = [
        schedule(
            c,
            "s/1",
            "rot_c",
            ScheduleState::Scheduled,
            at(10),
            Some(at(5)),
        ),
        schedule(
            d,
            "s/2",
            "rot_d",
            ScheduleState::Retrying,
            at(10),
            Some(at(1)),
        ),
        schedule(
            c,
            "s/0",
            "rot_c",
            ScheduleState::AwaitingValue,
            at(20),
            None,
        ),
        schedule(
            c,
            "s/3",
            "rot_c",
            ScheduleState::AwaitingValue,
            at(5),
            Some(at(3)),
        ),
        schedule(
            d,
            "s/4",
            "rot_d",
            ScheduleState::Scheduled,
            at(100),
            Some(at(8)),
        ),
        schedule(c, "s/5", "rot_c2", ScheduleState::Scheduled, at(15), None),
    ];
    for s in &due_schedules {
        assert_eq!(
            store
                .commit_rotation_step(&schedule_step(ScheduleChange::Upsert(s.clone())))
                .await
                .unwrap(),
            0,
            "no run, no seq"
        );
    }
    // An upsert replaces the row of (tenant, path); the same path of another tenant is another.
    let mut s1 = due_schedules[0].clone();
    s1.attempts = 2;
    s1.last_error = Some("timeout".into());
    s1.last_rotated_at = Some(at(-100));
    s1.updated_at = at(9);
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Upsert(s1.clone())))
        .await
        .unwrap();
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Upsert(schedule(
            d,
            "s/1",
            "rot_d",
            ScheduleState::AwaitingValue,
            at(10),
            None,
        ))))
        .await
        .unwrap();
    assert_eq!(
        store.get_rotation_schedule(c, "s/1").await.unwrap(),
        Some(s1.clone())
    );
    let paths = |v: &[ScheduleRecord]| {
        v.iter()
            .map(|s| format!("{}:{}", s.tenant_id, s.path))
            .collect::<Vec<_>>()
    };
    let due = store.due_rotations(at(30), 10).await.unwrap();
    assert_eq!(
        paths(&due),
        [format!("{c}:s/1"), format!("{d}:s/2"), format!("{c}:s/5")],
        "soonest first, then by path; awaiting a value left out"
    );
    assert_eq!(due[0], s1);
    assert_eq!(
        paths(&store.due_rotations(at(30), 2).await.unwrap()).len(),
        2
    );
    assert!(
        store.due_rotations(at(9), 10).await.unwrap().is_empty(),
        "s/3 is due but awaits a value"
    );
    assert_eq!(
        paths(&store.due_rotations(at(10), 10).await.unwrap()),
        [format!("{c}:s/1"), format!("{d}:s/2")],
        "due at exactly now"
    );
    let warnings = store.due_rotation_warnings(at(8), 10).await.unwrap();
    assert_eq!(
        paths(&warnings),
        [
            format!("{d}:s/2"),
            format!("{c}:s/3"),
            format!("{c}:s/1"),
            format!("{d}:s/4"),
        ]
    );
    assert_eq!(
        paths(&store.due_rotation_warnings(at(4), 1).await.unwrap()),
        [format!("{d}:s/2")]
    );

    // --- a tenant's schedules, by (next_rotation_at, path), with filters and the cursor.
    let mut q = ScheduleQuery {
        limit: 2,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_rotation_schedules(c, &q).await.unwrap();
        seen.extend(page.items.iter().map(|s| s.path.clone()));
        if !page.has_more {
            break;
        }
        let last = page.items.last().unwrap();
        q.after = Some((last.next_rotation_at, last.path.clone()));
    }
    assert_eq!(seen, ["s/3", "s/1", "s/5", "s/0"]);
    let page = store
        .list_rotation_schedules(
            c,
            &ScheduleQuery {
                policy_id: Some("rot_c".into()),
                due_before: Some(at(10)),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paths(&page.items), [format!("{c}:s/3"), format!("{c}:s/1")]);
    assert!(!page.has_more);
    let page = store
        .list_rotation_schedules(
            c,
            &ScheduleQuery {
                policy_id: Some("rot_c2".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paths(&page.items), [format!("{c}:s/5")]);
    let page = store
        .list_rotation_schedules(
            d,
            &ScheduleQuery {
                after: Some((at(10), "s/1".into())),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paths(&page.items), [format!("{d}:s/2"), format!("{d}:s/4")]);
    // Removing a schedule.
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Delete {
            tenant_id: c.into(),
            path: "s/5".into(),
        }))
        .await
        .unwrap();
    assert_eq!(store.get_rotation_schedule(c, "s/5").await.unwrap(), None);
    assert!(
        store
            .get_rotation_schedule(c, "s/1")
            .await
            .unwrap()
            .is_some()
    );

    // --- rotation steps: a run inserted, then its outcome recorded, with schedule and audit.
    let run1 = run(a, "rrun_1", "rot/moved", RunStatus::Running, at(40));
    let seq1 = store
        .commit_rotation_step(&RotationStep {
            run: Some(run1.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    assert!(seq1 > 0);
    let stored = RunRecord {
        seq: seq1,
        ..run1.clone()
    };
    assert_eq!(
        store.get_rotation_run(a, "rrun_1").await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.get_rotation_run(b, "rrun_1").await.unwrap(), None);
    let open: Vec<_> = store
        .open_rotation_runs(RunStatus::Running, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.tenant_id.starts_with("tnt_rot_"))
        .collect();
    assert_eq!(open, vec![stored.clone()]);
    // The outcome: status, attempt, versions, error and finish change; the rest stays.
    let failed = RunRecord {
        trigger: RunTrigger::Manual,
        started_at: at(0),
        status: RunStatus::Failed,
        attempt: 2,
        old_version: Some(3),
        new_version: Some(4),
        error: Some("generator failed".into()),
        finished_at: Some(at(41)),
        ..run1.clone()
    };
    let mut retrying = schedule(
        a,
        "rot/moved",
        "rot_2",
        ScheduleState::Retrying,
        at(1_000),
        None,
    );
    retrying.attempts = 1;
    retrying.last_error = Some("generator failed".into());
    let mut failed_audit = rotation_event(a, "failed", "rot/moved", at(41), None);
    failed_audit.outcome = "error".into();
    failed_audit.error_code = Some("rotation_failed".into());
    let failed_event = rotation_notice(
        a,
        "rotation.failed",
        "rot/moved",
        at(41),
        serde_json::json!({ "run_id": "rrun_1", "attempt": 2, "error": "generator failed" }),
    );
    assert_eq!(
        store
            .commit_rotation_step(&RotationStep {
                run: Some(failed.clone()),
                schedule: ScheduleChange::Upsert(retrying.clone()),
                audit: Some(failed_audit.clone()),
                events: vec![failed_event.clone()],
            })
            .await
            .unwrap(),
        seq1,
        "the same run keeps its seq"
    );
    let run1_failed = RunRecord {
        seq: seq1,
        trigger: RunTrigger::Schedule,
        started_at: at(40),
        ..failed.clone()
    };
    assert_eq!(
        store.get_rotation_run(a, "rrun_1").await.unwrap(),
        Some(run1_failed.clone())
    );
    assert_eq!(
        store.get_rotation_schedule(a, "rot/moved").await.unwrap(),
        Some(retrying.clone())
    );
    assert!(
        store
            .open_rotation_runs(RunStatus::Running, 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != "rrun_1")
    );
    assert_eq!(
        store
            .open_rotation_runs(RunStatus::Failed, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.tenant_id == a)
            .collect::<Vec<_>>(),
        vec![run1_failed.clone()]
    );

    // More runs: a success, a warning without a run, one awaiting a value, another tenant's.
    let succeeded = RunRecord {
        trigger: RunTrigger::Manual,
        status: RunStatus::Succeeded,
        old_version: Some(1),
        new_version: Some(2),
        finished_at: Some(at(43)),
        ..run(a, "rrun_2", "rot/moved", RunStatus::Succeeded, at(42))
    };
    let mut rescheduled = schedule(
        a,
        "rot/moved",
        "rot_2",
        ScheduleState::Scheduled,
        at(2_000),
        Some(at(1_500)),
    );
    rescheduled.last_rotated_at = Some(at(43));
    let seq2 = store
        .commit_rotation_step(&RotationStep {
            run: Some(succeeded.clone()),
            schedule: ScheduleChange::Upsert(rescheduled.clone()),
            audit: Some(rotation_event(a, "succeeded", "rot/moved", at(43), Some(2))),
            events: vec![rotation_notice(
                a,
                "rotation.succeeded",
                "rot/moved",
                at(43),
                serde_json::json!({ "run_id": "rrun_2", "old_version": 1, "new_version": 2 }),
            )],
        })
        .await
        .unwrap();
    assert!(seq2 > seq1);
    assert_eq!(
        store
            .commit_rotation_step(&RotationStep {
                run: None,
                schedule: ScheduleChange::Keep,
                audit: Some(rotation_event(a, "due", "rot/moved", at(44), Some(2))),
                // Two warnings at once (several thresholds passed while a node was down).
                events: vec![
                    rotation_notice(
                        a,
                        "rotation.due",
                        "rot/moved",
                        at(44),
                        serde_json::json!({ "due_at": 2_000, "warn_before": 86_400 }),
                    ),
                    rotation_notice(
                        a,
                        "rotation.due",
                        "rot/moved",
                        at(45),
                        serde_json::json!({ "due_at": 2_000, "warn_before": 3_600 }),
                    ),
                ],
            })
            .await
            .unwrap(),
        0
    );
    let awaiting = RunRecord {
        policy_id: None,
        ..run(a, "rrun_3", "rot/db", RunStatus::AwaitingValue, at(45))
    };
    let seq3 = store
        .commit_rotation_step(&RotationStep {
            run: Some(awaiting.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    let other = run(b, "rrun_b", "rot/moved", RunStatus::Running, at(46));
    let seq_b = store
        .commit_rotation_step(&RotationStep {
            run: Some(other.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    let running_a = run(a, "rrun_4", "rot/orphan", RunStatus::Running, at(47));
    let seq4 = store
        .commit_rotation_step(&RotationStep {
            run: Some(running_a.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    assert!(seq1 < seq2 && seq2 < seq3 && seq3 < seq_b && seq_b < seq4);

    // Open runs across tenants, oldest first.
    let ids = |runs: &[RunRecord]| runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let open = store
        .open_rotation_runs(RunStatus::Running, 100)
        .await
        .unwrap();
    assert_eq!(ids(&open), ["rrun_b", "rrun_4"]);
    assert_eq!(
        ids(&store
            .open_rotation_runs(RunStatus::Running, 1)
            .await
            .unwrap()),
        ["rrun_b"]
    );
    assert_eq!(
        store
            .open_rotation_runs(RunStatus::AwaitingValue, 100)
            .await
            .unwrap(),
        vec![RunRecord {
            seq: seq3,
            ..awaiting.clone()
        }]
    );

    // The history: newest first, filters, the cursor.
    let history = |q: RunQuery| async move { store.list_rotation_runs(a, &q).await.unwrap() };
    let all = history(RunQuery {
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&all.items), ["rrun_4", "rrun_3", "rrun_2", "rrun_1"]);
    assert!(!all.has_more);
    assert_eq!(all.items[3], run1_failed);
    assert_eq!(
        all.items[2],
        RunRecord {
            seq: seq2,
            ..succeeded.clone()
        }
    );
    let by_path = history(RunQuery {
        path: Some("rot/moved".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&by_path.items), ["rrun_2", "rrun_1"]);
    let by_policy = history(RunQuery {
        policy_id: Some("rot_2".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&by_policy.items), ["rrun_4", "rrun_2", "rrun_1"]);
    let by_status = history(RunQuery {
        status: Some(RunStatus::Failed),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&by_status.items), ["rrun_1"]);
    let combined = history(RunQuery {
        path: Some("rot/moved".into()),
        status: Some(RunStatus::Succeeded),
        policy_id: Some("rot_2".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&combined.items), ["rrun_2"]);
    let mut q = RunQuery {
        limit: 3,
        ..Default::default()
    };
    let first = history(q.clone()).await;
    assert_eq!(ids(&first.items), ["rrun_4", "rrun_3", "rrun_2"]);
    assert!(first.has_more);
    q.before_seq = Some(first.items[2].seq);
    let rest = history(q.clone()).await;
    assert_eq!(ids(&rest.items), ["rrun_1"]);
    assert!(!rest.has_more);
    q.before_seq = Some(seq1);
    assert!(history(q).await.items.is_empty());
    let theirs = store
        .list_rotation_runs(
            b,
            &RunQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        theirs.items,
        vec![RunRecord {
            seq: seq_b,
            ..other.clone()
        }]
    );

    // A run id of another tenant is refused, and nothing of that step is committed.
    let stolen = run(b, "rrun_1", "rot/dup", RunStatus::Failed, at(48));
    assert!(matches!(
        store
            .commit_rotation_step(&RotationStep {
                run: Some(stolen),
                schedule: ScheduleChange::Upsert(schedule(
                    b,
                    "rot/dup",
                    "rot_1",
                    ScheduleState::Scheduled,
                    at(48),
                    None,
                )),
                audit: None,
                events: vec![],
            })
            .await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(
        store.get_rotation_schedule(b, "rot/dup").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_rotation_run(a, "rrun_1").await.unwrap(),
        Some(run1_failed.clone())
    );

    // A step whose last part fails (here: its event's id is taken, so the outbox insert after
    // the audit entry fails) commits nothing: no run, no schedule change, no audit entry, no
    // event. (The audit append itself failing is `rotation_step_fails_closed`, run by each
    // runner without the audit key.)
    let events_before = store.last_event_seq().await.unwrap();
    let audit_before = store
        .query_audit(&AuditQuery {
            tenants: vec![a.into()],
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .len();
    assert!(
        store
            .commit_rotation_step(&RotationStep {
                run: Some(run(a, "rrun_5", "rot/moved", RunStatus::Failed, at(49))),
                schedule: ScheduleChange::Delete {
                    tenant_id: a.into(),
                    path: "rot/moved".into(),
                },
                audit: Some(rotation_event(a, "failed", "rot/moved", at(49), None)),
                events: vec![failed_event.clone()],
            })
            .await
            .is_err()
    );
    assert_eq!(store.get_rotation_run(a, "rrun_5").await.unwrap(), None);
    assert_eq!(
        store.get_rotation_schedule(a, "rot/moved").await.unwrap(),
        Some(rescheduled.clone())
    );
    assert_eq!(store.last_event_seq().await.unwrap(), events_before);
    assert_eq!(
        store
            .query_audit(&AuditQuery {
                tenants: vec![a.into()],
                limit: 1_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .len(),
        audit_before
    );
    for report in verify_all(store).await {
        assert_eq!(report.broken, None, "chain {}", report.chain);
    }

    // --- events: only the steps' own events went out (policy changes, attaching, and the
    // steps' audit entries emit none), in commit order, as given.
    let emitted = store
        .events_after(&[a.to_owned(), b.to_owned()], events_start, 100)
        .await
        .unwrap();
    assert_eq!(
        emitted
            .iter()
            .map(|e| (e.event_type.as_str(), e.path.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("rotation.failed", Some("rot/moved")),
            ("rotation.succeeded", Some("rot/moved")),
            ("rotation.due", Some("rot/moved")),
            ("rotation.due", Some("rot/moved")),
        ]
    );
    assert!(emitted.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        NewEvent {
            id: emitted[0].id.clone(),
            tenant_id: emitted[0].tenant_id.clone(),
            event_type: emitted[0].event_type.clone(),
            path: emitted[0].path.clone(),
            occurred_at: emitted[0].occurred_at,
            data: emitted[0].data.clone(),
        },
        failed_event
    );
    assert_eq!(
        event_data(&emitted[1]),
        serde_json::json!({ "run_id": "rrun_2", "old_version": 1, "new_version": 2 })
    );
    assert_eq!(
        event_data(&emitted[3]),
        serde_json::json!({ "due_at": 2_000, "warn_before": 3_600 })
    );
    // The steps' audit entries are in the tenant's chain.
    let trail = store
        .query_audit(&AuditQuery {
            tenants: vec![a.into()],
            resource_type: Some("rotation".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        trail
            .items
            .iter()
            .map(|e| e.event.action.as_str())
            .collect::<Vec<_>>(),
        ["due", "succeeded", "failed", "attach"]
    );
}

/// Without the audit key an audited rotation step is refused whole (run for runners' fail-closed
/// tests: the suite's store has its key).
pub async fn rotation_step_fails_closed(store: &dyn Store, tenant: &str) {
    let step = RotationStep {
        run: Some(run(tenant, "rrun_closed", "a/b", RunStatus::Running, T0)),
        schedule: ScheduleChange::Upsert(schedule(
            tenant,
            "a/b",
            "rot_1",
            ScheduleState::Scheduled,
            T0,
            None,
        )),
        audit: Some(rotation_event(tenant, "due", "a/b", T0, None)),
        events: vec![rotation_notice(
            tenant,
            "rotation.due",
            "a/b",
            T0,
            serde_json::json!({}),
        )],
    };
    let events = store.last_event_seq().await.unwrap();
    assert!(matches!(
        store.commit_rotation_step(&step).await,
        Err(StoreError::Audit(_))
    ));
    assert_eq!(store.last_event_seq().await.unwrap(), events);
    assert_eq!(
        store.get_rotation_run(tenant, "rrun_closed").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_rotation_schedule(tenant, "a/b").await.unwrap(),
        None
    );
    // Unaudited bookkeeping goes through.
    assert!(
        store
            .commit_rotation_step(&RotationStep {
                audit: None,
                ..step
            })
            .await
            .unwrap()
            > 0
    );
}

/// Entries past the window move to archive segments and leave the database; archive +
/// database verify as one chain; a damaged, missing or reordered segment is named; a crash
/// between writing a segment and pruning its rows is finished without a gap or an overlap.
async fn audit_archive(store: &dyn Store) {
    use scaivault_store::archive::{self, Archive};
    store.set_audit_mac(test_mac());
    let chain = "tnt_archive";
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::new(dir.path());
    // Day 0: 5 entries, day 1: 3, day 40: 2 (inside the window).
    let mut all = Vec::new();
    for (day, n) in [(0, 5), (1, 3), (40, 2)] {
        for i in 0..n {
            let at = T0 + Duration::days(day) + Duration::seconds(i);
            all.push(event(chain, "read", &format!("arch/{day}/{i}"), at));
        }
    }
    store.append_audit(all).await.unwrap();
    store
        .checkpoint_audit(T0 + Duration::days(41))
        .await
        .unwrap();

    // A crash after the first segment was written, before its rows were pruned.
    let first_day = store.audit_chain_page(chain, 0, 5).await.unwrap();
    archive.write_segment(chain, &first_day).unwrap();
    let before = T0 + Duration::days(30);
    let done = archive::archive_chain(store, &archive, chain, before, 1_000)
        .await
        .unwrap();
    assert_eq!(done.entries, 8);
    assert_eq!((done.first_chain_seq, done.last_chain_seq), (1, 8));
    let segments = archive.segments(chain).unwrap();
    assert_eq!(
        segments.len(),
        2,
        "one per day, the crashed one finished: {segments:?}"
    );
    let left = store.audit_chain_page(chain, 0, 100).await.unwrap();
    assert_eq!(
        left.iter().map(|e| e.chain_seq).collect::<Vec<_>>(),
        vec![9, 10],
        "archived rows are gone from the database"
    );
    // Nothing more to do; a rerun writes nothing.
    let again = archive::archive_chain(store, &archive, chain, before, 1_000)
        .await
        .unwrap();
    assert_eq!(again.entries, 0);

    let verify = || archive::verify_chain(store, Some(&archive), chain, test_mac());
    let report = verify().await.unwrap();
    assert_eq!(report.broken, None, "{report:?}");
    assert_eq!(report.entries_checked, 10);
    // The database alone still verifies from its anchor.
    let db_only = verify_audit_chain(store, chain, test_mac()).await.unwrap();
    assert_eq!(db_only.broken, None);
    assert_eq!(db_only.entries_checked, 2);

    let first = segments[0].path.clone();
    let second = segments[1].path.clone();
    let original = std::fs::read(&first).unwrap();
    let lines = || -> Vec<String> {
        let raw = zstd::decode_all(original.as_slice()).unwrap();
        String::from_utf8(raw)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let rewrite = |lines: &[String]| {
        let text = lines.join("\n") + "\n";
        std::fs::write(&first, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    };

    // Altered: an entry's actor edited.
    let mut edited = lines();
    edited[3] = edited[3].replace("user:alice@acme.example", "user:mallory@acme.example");
    rewrite(&edited);
    let report = verify().await.unwrap();
    assert!(
        matches!(
            report.broken,
            Some(ChainBreak::Altered { chain_seq: 3, .. })
        ),
        "{report:?}"
    );
    assert_eq!(report.segment.as_deref(), Some(segments[0].name().as_str()));

    // Reordered: two entries swapped.
    let mut swapped = lines();
    swapped.swap(2, 3);
    rewrite(&swapped);
    let report = verify().await.unwrap();
    assert!(
        matches!(report.broken, Some(ChainBreak::Unlinked { .. })),
        "{report:?}"
    );

    // Truncated: the last entry dropped (the header says 5).
    let mut short = lines();
    short.pop();
    rewrite(&short);
    let report = verify().await.unwrap();
    assert!(
        matches!(report.broken, Some(ChainBreak::Segment { .. })),
        "{report:?}"
    );
    // Cut mid-stream: not even decompressible.
    std::fs::write(&first, &original[..original.len() / 2]).unwrap();
    let report = verify().await.unwrap();
    assert!(report.broken.is_some(), "{report:?}");
    assert_eq!(report.segment.as_deref(), Some(segments[0].name().as_str()));

    // Missing: the first segment, then the last one.
    std::fs::remove_file(&first).unwrap();
    let report = verify().await.unwrap();
    assert!(
        matches!(
            report.broken,
            Some(ChainBreak::Unlinked {
                chain_seq: 6,
                expected_chain_seq: 1,
                ..
            })
        ),
        "{report:?}"
    );
    std::fs::write(&first, &original).unwrap();
    let last = std::fs::read(&second).unwrap();
    std::fs::remove_file(&second).unwrap();
    let report = verify().await.unwrap();
    assert!(
        matches!(
            report.broken,
            Some(ChainBreak::ArchiveGap {
                archived_through: 5,
                resumes_after: 8
            })
        ),
        "{report:?}"
    );
    // Reordered files: the second's content under the first's name and vice versa.
    std::fs::write(&second, &original).unwrap();
    std::fs::write(&first, &last).unwrap();
    let report = verify().await.unwrap();
    assert!(report.broken.is_some(), "{report:?}");
    std::fs::write(&first, &original).unwrap();
    std::fs::write(&second, &last).unwrap();
    assert_eq!(verify().await.unwrap().broken, None);

    // What uses the space: every table, with rows and bytes.
    let usage = store.storage_usage(T0 + Duration::days(40)).await.unwrap();
    assert_eq!(usage.tables.len(), scaivault_store::copy::TABLES.len());
    let log = usage.tables.iter().find(|t| t.name == "audit_log").unwrap();
    assert!(log.rows >= 2 && log.bytes > 0, "{log:?}");
    assert!(usage.database_bytes >= log.bytes);
    assert!(usage.audit_entries_since >= 2, "{usage:?}");
}

/// Events no subscription can receive are pruned at once; a subscriber's events stay for the
/// replay window (webhooks: until delivered); the newest seq is never handed out again.
async fn outbox_pruning(store: &dyn Store) {
    let t = "tnt_prune";
    let at = T0 + Duration::days(100);
    store
        .insert_events(&[outbox_event(t, "p/a", at)])
        .await
        .unwrap();
    let seq = store.last_event_seq().await.unwrap();
    store
        .prune_events(at - Duration::days(7), at - Duration::days(30))
        .await
        .unwrap();
    let left = store.events_after(&[t.to_owned()], 0, 100).await.unwrap();
    assert!(left.is_empty(), "no subscriber: not kept: {left:?}");

    // A poll subscriber: kept inside the replay window, pruned after it.
    let mut sub = subscription(t, "sub_prune_poll", false, seq);
    sub.tenants = vec![t.into()];
    store.insert_subscription(&sub, None).await.unwrap();
    store
        .insert_events(&[outbox_event(t, "p/b", at)])
        .await
        .unwrap();
    let kept = store.events_after(&[t.to_owned()], 0, 100).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].seq > seq, "a pruned seq is never reused");
    store
        .prune_events(at - Duration::days(7), at - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(
        store
            .events_after(&[t.to_owned()], seq, 100)
            .await
            .unwrap()
            .len(),
        1
    );
    let later = at + Duration::days(8);
    store
        .prune_events(later - Duration::days(7), later - Duration::days(30))
        .await
        .unwrap();
    assert!(
        store
            .events_after(&[t.to_owned()], seq, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // A webhook subscriber keeps what it has not delivered, past the window too.
    let start = store.last_event_seq().await.unwrap();
    let mut hook = subscription(t, "sub_prune_hook", true, start);
    hook.tenants = vec![t.into()];
    store.insert_subscription(&hook, None).await.unwrap();
    store
        .insert_events(&[outbox_event(t, "p/c", at)])
        .await
        .unwrap();
    store.prune_events(later, later).await.unwrap();
    assert_eq!(
        store
            .events_after(&[t.to_owned()], start, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

fn outbox_event(tenant: &str, path: &str, at: OffsetDateTime) -> NewEvent {
    NewEvent {
        id: format!("evt_{tenant}_{path}"),
        tenant_id: tenant.into(),
        event_type: "secret.created".into(),
        path: Some(path.into()),
        occurred_at: at,
        data: "{}".into(),
    }
}
