//! Dynamic credentials' storage: engines, roles, leases with their caps, revocation requests,
//! the sweeper's scans, listings, and the audit entries and events the mutations commit.

use std::sync::Arc;

use scaivault_store::dynamic::{
    LEASE_ACTIVE, LEASE_PENDING, LEASE_REVOCATION_FAILED, LEASE_REVOKED, LEASE_REVOKING,
};
use scaivault_store::*;
use time::Duration;

use super::*;

/// An audit event of a dynamic-credentials operation on `resource_type`/`path`.
fn dyn_event(tenant: &str, resource_type: &str, action: &str, path: &str) -> AuditEvent {
    AuditEvent {
        id: format!("aud_{tenant}_{resource_type}_{action}_{path}"),
        resource_type: resource_type.into(),
        ..event(tenant, action, path, T0)
    }
}

fn engine(tenant: &str, name: &str) -> EngineRecord {
    EngineRecord {
        tenant_id: tenant.into(),
        name: name.into(),
        kind: "postgres".into(),
        config: r#"{"connection_url":"postgres://vault:*****@db:5432/app"}"#.into(),
        sealed_secret: SealedBlob {
            key_id: "dek_test".into(),
            ciphertext: format!("sealed root of {name}").into_bytes(),
        },
        created_at: T0,
        updated_at: T0,
        root_rotated_at: None,
    }
}

fn role(tenant: &str, engine: &str, name: &str, max_leases: Option<u32>) -> RoleRecord {
    RoleRecord {
        tenant_id: tenant.into(),
        engine: engine.into(),
        name: name.into(),
        config: r#"{"creation_statements":["CREATE ROLE \"{{name}}\""]}"#.into(),
        default_ttl_secs: 3600,
        max_ttl_secs: 86400,
        max_leases,
        created_at: T0,
        updated_at: T0,
    }
}

/// A pending lease issued at `T0 + minutes`, expiring an hour later, due (for cleanup of an
/// unfinished creation) five minutes after issue.
fn lease(tenant: &str, id: &str, engine: &str, role: &str, minutes: i64) -> LeaseRecord {
    let issued = T0 + Duration::minutes(minutes);
    LeaseRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        engine: engine.into(),
        role: role.into(),
        identity: "user:alice@acme.example".into(),
        status: LEASE_PENDING.into(),
        renewable: true,
        handle: "{}".into(),
        issued_at: issued,
        expires_at: issued + Duration::hours(1),
        max_expires_at: issued + Duration::hours(24),
        due_at: Some(issued + Duration::minutes(5)),
        attempts: 0,
        last_error: None,
        revoked_at: None,
        updated_at: issued,
    }
}

const NO_CAPS: LeaseCaps = LeaseCaps {
    role: None,
    tenant: None,
};

/// The tenant's audit entries, oldest first (`resource_type.action`).
async fn audit_actions(store: &dyn Store, tenant: &str) -> Vec<String> {
    let mut actions = store
        .query_audit(&AuditQuery {
            tenants: vec![tenant.to_owned()],
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| format!("{}.{}", e.event.resource_type, e.event.action))
        .collect::<Vec<_>>();
    // The query answers newest first.
    actions.reverse();
    actions
}

async fn event_types(store: &dyn Store, tenant: &str) -> Vec<(String, String)> {
    store
        .events_after(&[tenant.to_owned()], 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.data))
        .collect()
}

fn ids(leases: &[LeaseRecord]) -> Vec<&str> {
    leases.iter().map(|l| l.id.as_str()).collect()
}

pub async fn dynamic_engines_and_roles(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_dyn_eng";
    let pg = engine(t, "postgres-prod");
    store
        .insert_engine(
            &pg,
            Some(&dyn_event(t, "dynamic_engine", "create", "postgres-prod")),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_engine(t, "postgres-prod").await.unwrap(),
        Some(pg.clone())
    );
    assert_eq!(
        store
            .get_engine("tnt_other", "postgres-prod")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.insert_engine(&engine(t, "postgres-prod"), None).await,
        Err(StoreError::Duplicate)
    ));
    // Another tenant may use the name.
    store
        .insert_engine(&engine("tnt_dyn_eng2", "postgres-prod"), None)
        .await
        .unwrap();
    for name in ["aws-dev", "mysql-prod", "ssh-ca"] {
        store.insert_engine(&engine(t, name), None).await.unwrap();
    }

    // Listing: by name, with the cursor.
    let first = store.list_engines(t, None, 2).await.unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["aws-dev", "mysql-prod"]
    );
    assert!(first.has_more);
    let rest = store.list_engines(t, Some("mysql-prod"), 10).await.unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["postgres-prod", "ssh-ca"]
    );
    assert!(!rest.has_more);

    // Updating replaces the settings, the sealed secret and the rotation time.
    let rotated = EngineRecord {
        config: r#"{"connection_url":"postgres://vault:*****@db2:5432/app"}"#.into(),
        sealed_secret: SealedBlob {
            key_id: "dek_2".into(),
            ciphertext: b"sealed new root".to_vec(),
        },
        updated_at: T0 + Duration::hours(1),
        root_rotated_at: Some(T0 + Duration::hours(1)),
        ..pg.clone()
    };
    assert!(
        store
            .update_engine(
                &rotated,
                Some(&dyn_event(
                    t,
                    "dynamic_engine",
                    "rotate_root",
                    "postgres-prod"
                )),
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_engine(t, "postgres-prod").await.unwrap(),
        Some(rotated.clone())
    );
    assert!(
        !store
            .update_engine(
                &engine(t, "absent"),
                Some(&dyn_event(t, "dynamic_engine", "update", "absent"))
            )
            .await
            .unwrap()
    );

    // Roles: need their engine; unique per engine.
    assert!(matches!(
        store
            .insert_role(&role(t, "absent", "readonly", None), None)
            .await,
        Err(StoreError::NotFound(Entity::DynamicEngine))
    ));
    assert!(matches!(
        store
            .insert_role(&role("tnt_other", "postgres-prod", "readonly", None), None)
            .await,
        Err(StoreError::NotFound(Entity::DynamicEngine))
    ));
    let readonly = role(t, "postgres-prod", "readonly", Some(10));
    store
        .insert_role(
            &readonly,
            Some(&dyn_event(
                t,
                "dynamic_role",
                "create",
                "postgres-prod/readonly",
            )),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_role(&role(t, "postgres-prod", "readonly", None), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    for name in ["admin", "writer"] {
        store
            .insert_role(&role(t, "postgres-prod", name, None), None)
            .await
            .unwrap();
    }
    // The same role name on another engine.
    store
        .insert_role(&role(t, "mysql-prod", "readonly", None), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_role(t, "postgres-prod", "readonly")
            .await
            .unwrap(),
        Some(readonly.clone())
    );
    assert_eq!(
        store.get_role(t, "aws-dev", "readonly").await.unwrap(),
        None
    );
    let page = store.list_roles(t, "postgres-prod", None, 2).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["admin", "readonly"]
    );
    assert!(page.has_more);
    let page = store
        .list_roles(t, "postgres-prod", Some("readonly"), 2)
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["writer"]
    );
    assert!(!page.has_more);

    let changed = RoleRecord {
        config: r#"{"creation_statements":["CREATE ROLE x"]}"#.into(),
        default_ttl_secs: 60,
        max_ttl_secs: 120,
        max_leases: None,
        updated_at: T0 + Duration::hours(2),
        ..readonly.clone()
    };
    assert!(
        store
            .update_role(
                &changed,
                Some(&dyn_event(
                    t,
                    "dynamic_role",
                    "update",
                    "postgres-prod/readonly"
                )),
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_role(t, "postgres-prod", "readonly")
            .await
            .unwrap(),
        Some(changed)
    );
    assert!(
        !store
            .update_role(&role(t, "postgres-prod", "absent", None), None)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_role(
                t,
                "postgres-prod",
                "writer",
                Some(&dyn_event(
                    t,
                    "dynamic_role",
                    "delete",
                    "postgres-prod/writer"
                )),
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_role(t, "postgres-prod", "writer", None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_role(t, "postgres-prod", "writer").await.unwrap(),
        None
    );

    // Deleting an engine deletes its roles, keeps its leases (history) and nothing else.
    store
        .insert_lease(
            &lease(t, "lease_e1", "postgres-prod", "readonly", 0),
            NO_CAPS,
            None,
        )
        .await
        .unwrap();
    assert!(
        store
            .delete_engine(
                t,
                "postgres-prod",
                Some(&dyn_event(t, "dynamic_engine", "delete", "postgres-prod")),
            )
            .await
            .unwrap()
    );
    assert!(!store.delete_engine(t, "postgres-prod", None).await.unwrap());
    assert_eq!(store.get_engine(t, "postgres-prod").await.unwrap(), None);
    assert!(
        store
            .list_roles(t, "postgres-prod", None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(store.get_lease(t, "lease_e1").await.unwrap().is_some());
    assert_eq!(
        store
            .list_roles(t, "mysql-prod", None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        store
            .get_engine("tnt_dyn_eng2", "postgres-prod")
            .await
            .unwrap()
            .is_some()
    );
    // A new engine of the old name starts without the old roles.
    store.insert_engine(&pg, None).await.unwrap();
    assert!(
        store
            .list_roles(t, "postgres-prod", None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Every audited mutation (and only those that changed something) left its entry; engines
    // and roles emit no event.
    assert_eq!(
        audit_actions(store, t).await,
        [
            "dynamic_engine.create",
            "dynamic_engine.rotate_root",
            "dynamic_role.create",
            "dynamic_role.update",
            "dynamic_role.delete",
            "dynamic_engine.delete",
        ]
    );
    assert!(event_types(store, t).await.is_empty());
}

pub async fn dynamic_lease_caps(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_dyn_caps";
    let role_cap = LeaseCaps {
        role: Some(2),
        tenant: None,
    };
    for (id, role_name) in [("lease_c1", "ro"), ("lease_c2", "ro")] {
        store
            .insert_lease(&lease(t, id, "pg", role_name, 0), role_cap, None)
            .await
            .unwrap();
    }
    let refused = store
        .insert_lease(
            &lease(t, "lease_c3", "pg", "ro", 0),
            role_cap,
            Some(&dyn_event(t, "lease", "create", "lease_c3")),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::LimitReached(cap)) if cap == "the role's lease cap"),
        "{refused:?}"
    );
    // Nothing was written: neither the lease nor its audit entry nor its event.
    assert_eq!(store.get_lease(t, "lease_c3").await.unwrap(), None);
    assert!(audit_actions(store, t).await.is_empty());
    assert!(event_types(store, t).await.is_empty());
    // The cap is the role's: another role of the engine, the same role name on another engine
    // and another tenant are not counted.
    store
        .insert_lease(&lease(t, "lease_c4", "pg", "rw", 0), role_cap, None)
        .await
        .unwrap();
    store
        .insert_lease(&lease(t, "lease_c5", "mysql", "ro", 0), role_cap, None)
        .await
        .unwrap();
    store
        .insert_lease(
            &lease("tnt_dyn_caps2", "lease_c6", "pg", "ro", 0),
            role_cap,
            None,
        )
        .await
        .unwrap();

    // A revoked lease is not live and does not count; a revoking one still does.
    assert_eq!(
        store
            .request_revocation(t, &LeaseSelector::One("lease_c1".into()), T0, None)
            .await
            .unwrap(),
        ["lease_c1"]
    );
    assert!(matches!(
        store
            .insert_lease(&lease(t, "lease_c3", "pg", "ro", 0), role_cap, None)
            .await,
        Err(StoreError::LimitReached(_))
    ));
    assert!(
        store
            .complete_revocation("lease_c1", T0, None)
            .await
            .unwrap()
    );
    store
        .insert_lease(
            &lease(t, "lease_c3", "pg", "ro", 0),
            role_cap,
            Some(&dyn_event(t, "lease", "create", "lease_c3")),
        )
        .await
        .unwrap();
    // A taken id is a duplicate.
    assert!(matches!(
        store
            .insert_lease(&lease(t, "lease_c3", "pg", "x", 0), NO_CAPS, None)
            .await,
        Err(StoreError::Duplicate)
    ));

    // The tenant's cap counts every live lease of the tenant (4 now: c2, c3, c4, c5).
    assert_eq!(store.count_live_leases(t, None, None).await.unwrap(), 4);
    let tenant_cap = |n| LeaseCaps {
        role: None,
        tenant: Some(n),
    };
    let refused = store
        .insert_lease(&lease(t, "lease_c7", "ssh", "ops", 0), tenant_cap(4), None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::LimitReached(cap)) if cap == "the tenant's lease cap"),
        "{refused:?}"
    );
    store
        .insert_lease(&lease(t, "lease_c7", "ssh", "ops", 0), tenant_cap(5), None)
        .await
        .unwrap();
    // With both caps, the one reached is named.
    let both = LeaseCaps {
        role: Some(10),
        tenant: Some(5),
    };
    assert!(matches!(
        store
            .insert_lease(&lease(t, "lease_c8", "ssh", "ops", 0), both, None)
            .await,
        Err(StoreError::LimitReached("the tenant's lease cap"))
    ));
    let both = LeaseCaps {
        role: Some(1),
        tenant: Some(50),
    };
    assert!(matches!(
        store
            .insert_lease(&lease(t, "lease_c8", "ssh", "ops", 0), both, None)
            .await,
        Err(StoreError::LimitReached("the role's lease cap"))
    ));
    // Caps of zero refuse everything.
    assert!(matches!(
        store
            .insert_lease(
                &lease("tnt_dyn_caps3", "lease_c9", "pg", "ro", 0),
                tenant_cap(0),
                None
            )
            .await,
        Err(StoreError::LimitReached("the tenant's lease cap"))
    ));

    assert_eq!(store.count_live_leases(t, None, None).await.unwrap(), 5);
    assert_eq!(
        store.count_live_leases(t, Some("pg"), None).await.unwrap(),
        3
    );
    assert_eq!(
        store
            .count_live_leases(t, Some("pg"), Some("ro"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .count_live_leases(t, Some("absent"), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .count_live_leases("tnt_dyn_caps2", None, None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(audit_actions(store, t).await, ["lease.create"]);
    assert_eq!(
        event_types(store, t).await,
        [(
            "lease.created".to_owned(),
            r#"{"lease_id":"lease_c3"}"#.to_owned()
        )]
    );
}

/// 20 concurrent capped inserts on a role with a cap of 5: exactly 5 succeed, the others are
/// refused with the role's cap (on PostgreSQL the inserts run on several pooled connections).
pub async fn dynamic_concurrent_lease_caps(store: Arc<dyn Store>) {
    store.set_audit_mac(test_mac());
    let t = "tnt_dyn_race";
    let caps = LeaseCaps {
        role: Some(5),
        tenant: Some(100),
    };
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("lease_r{i:02}");
            store
                .insert_lease(
                    &lease(t, &id, "pg", "ro", 0),
                    caps,
                    Some(&dyn_event(t, "lease", "create", &id)),
                )
                .await
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => inserted += 1,
            Err(StoreError::LimitReached("the role's lease cap")) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(inserted, 5);
    assert_eq!(
        store
            .count_live_leases(t, Some("pg"), Some("ro"))
            .await
            .unwrap(),
        5
    );
    assert_eq!(audit_actions(store.as_ref(), t).await.len(), 5);
    assert_eq!(event_types(store.as_ref(), t).await.len(), 5);
    // Concurrent tenant-capped inserts across roles hold the tenant's cap too.
    let caps = LeaseCaps {
        role: None,
        tenant: Some(8),
    };
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("lease_s{i:02}");
            store
                .insert_lease(&lease(t, &id, "pg", &format!("role{i}"), 0), caps, None)
                .await
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => inserted += 1,
            Err(StoreError::LimitReached("the tenant's lease cap")) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(inserted, 3);
    assert_eq!(store.count_live_leases(t, None, None).await.unwrap(), 8);
}

pub async fn dynamic_lease_lifecycle(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_dyn_life";
    let other = "tnt_dyn_life2";
    let now = T0 + Duration::minutes(1);
    let l1 = lease(t, "lease_l1", "pg", "ro", 0);
    store
        .insert_lease(
            &l1,
            NO_CAPS,
            Some(&dyn_event(t, "lease", "create", "lease_l1")),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_lease(t, "lease_l1").await.unwrap(),
        Some(l1.clone())
    );
    // Leases are the tenant's.
    assert_eq!(store.get_lease(other, "lease_l1").await.unwrap(), None);
    assert!(
        !store
            .activate_lease(other, "lease_l1", "{}", now, None)
            .await
            .unwrap()
    );
    // Renewal needs an active lease.
    assert!(
        !store
            .renew_lease(t, "lease_l1", T0 + Duration::hours(2), now, None)
            .await
            .unwrap()
    );

    // Activation: the handle, due at expiry; only once.
    let handle = r#"{"username":"v_tnt_ro_l1"}"#;
    assert!(
        store
            .activate_lease(
                t,
                "lease_l1",
                handle,
                now,
                Some(&dyn_event(t, "lease", "activate", "lease_l1"))
            )
            .await
            .unwrap()
    );
    let active = store.get_lease(t, "lease_l1").await.unwrap().unwrap();
    assert_eq!(
        active,
        LeaseRecord {
            status: LEASE_ACTIVE.into(),
            handle: handle.into(),
            due_at: Some(l1.expires_at),
            updated_at: now,
            ..l1.clone()
        }
    );
    assert!(
        !store
            .activate_lease(t, "lease_l1", "{}", now, None)
            .await
            .unwrap()
    );

    // Renewal moves the expiry and the due time.
    let later = T0 + Duration::hours(3);
    let renewed_at = now + Duration::minutes(1);
    assert!(
        store
            .renew_lease(
                t,
                "lease_l1",
                later,
                renewed_at,
                Some(&dyn_event(t, "lease", "renew", "lease_l1"))
            )
            .await
            .unwrap()
    );
    let renewed = store.get_lease(t, "lease_l1").await.unwrap().unwrap();
    assert_eq!(renewed.expires_at, later);
    assert_eq!(renewed.due_at, Some(later));
    assert_eq!(renewed.updated_at, renewed_at);
    assert_eq!(renewed.max_expires_at, l1.max_expires_at);

    // More leases: of the engine's other role, of another engine, of another tenant.
    for l in [
        lease(t, "lease_l2", "pg", "rw", 1),
        lease(t, "lease_l3", "pg", "ro", 2),
        lease(t, "lease_l4", "aws", "ro", 3),
        lease(other, "lease_l5", "pg", "ro", 4),
    ] {
        store.insert_lease(&l, NO_CAPS, None).await.unwrap();
    }
    store
        .activate_lease(t, "lease_l3", "{}", now, None)
        .await
        .unwrap();
    store
        .activate_lease(other, "lease_l5", "{}", now, None)
        .await
        .unwrap();

    // By role: pending and active leases of the role become revoking, due now.
    let asked = T0 + Duration::minutes(10);
    let role_sel = LeaseSelector::Role {
        engine: "pg".into(),
        role: "ro".into(),
    };
    assert_eq!(
        store
            .request_revocation(
                t,
                &role_sel,
                asked,
                Some(&dyn_event(t, "lease", "revoke_prefix", "pg/ro"))
            )
            .await
            .unwrap(),
        ["lease_l1", "lease_l3"]
    );
    for id in ["lease_l1", "lease_l3"] {
        let l = store.get_lease(t, id).await.unwrap().unwrap();
        assert_eq!((l.status.as_str(), l.due_at), (LEASE_REVOKING, Some(asked)));
        assert_eq!(l.updated_at, asked);
    }
    // A revoking lease can be neither activated nor renewed.
    assert!(
        !store
            .renew_lease(t, "lease_l1", later, asked, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .activate_lease(t, "lease_l3", "{}", asked, None)
            .await
            .unwrap()
    );
    // The other tenant's lease of the same engine and role is untouched.
    assert_eq!(
        store
            .get_lease(other, "lease_l5")
            .await
            .unwrap()
            .unwrap()
            .status,
        LEASE_ACTIVE
    );

    // A failed attempt: revocation_failed, attempts counted, the error kept, due at the retry.
    let retry = asked + Duration::minutes(1);
    assert!(
        store
            .fail_revocation(
                "lease_l1",
                "connection refused",
                retry,
                asked,
                Some(&dyn_event(t, "lease", "revoke_failed", "lease_l1"))
            )
            .await
            .unwrap()
    );
    let retry2 = asked + Duration::minutes(3);
    assert!(
        store
            .fail_revocation("lease_l1", "timeout", retry2, retry, None)
            .await
            .unwrap()
    );
    let failed = store.get_lease(t, "lease_l1").await.unwrap().unwrap();
    assert_eq!(failed.status, LEASE_REVOCATION_FAILED);
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.last_error.as_deref(), Some("timeout"));
    assert_eq!(failed.due_at, Some(retry2));
    assert_eq!(failed.updated_at, retry);

    // By engine: every live lease of it, whatever its status; a failed one keeps its status
    // and attempts but is due now.
    let asked2 = asked + Duration::minutes(2);
    assert_eq!(
        store
            .request_revocation(t, &LeaseSelector::Engine("pg".into()), asked2, None)
            .await
            .unwrap(),
        ["lease_l1", "lease_l2", "lease_l3"]
    );
    let l1_now = store.get_lease(t, "lease_l1").await.unwrap().unwrap();
    assert_eq!(l1_now.status, LEASE_REVOCATION_FAILED);
    assert_eq!(l1_now.attempts, 2);
    assert_eq!(l1_now.due_at, Some(asked2));
    assert_eq!(
        store
            .get_lease(t, "lease_l2")
            .await
            .unwrap()
            .unwrap()
            .status,
        LEASE_REVOKING
    );
    assert_eq!(
        store
            .get_lease(t, "lease_l4")
            .await
            .unwrap()
            .unwrap()
            .status,
        LEASE_PENDING
    );

    // Completion: revoked, not due, the last error kept; only once.
    let done_at = asked2 + Duration::seconds(5);
    assert!(
        store
            .complete_revocation(
                "lease_l1",
                done_at,
                Some(&dyn_event(t, "lease", "revoke", "lease_l1"))
            )
            .await
            .unwrap()
    );
    let revoked = store.get_lease(t, "lease_l1").await.unwrap().unwrap();
    assert_eq!(revoked.status, LEASE_REVOKED);
    assert_eq!(revoked.due_at, None);
    assert_eq!(revoked.revoked_at, Some(done_at));
    assert_eq!(revoked.last_error.as_deref(), Some("timeout"));
    assert_eq!(revoked.attempts, 2);
    assert!(
        !store
            .complete_revocation("lease_l1", done_at, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .fail_revocation("lease_l1", "x", done_at, done_at, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_revocation("lease_absent", done_at, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .fail_revocation("lease_absent", "x", done_at, done_at, None)
            .await
            .unwrap()
    );

    // One lease: a revoked one or another tenant's is not matched, and nothing is written.
    for (tenant, id) in [
        (t, "lease_l1"),
        (t, "lease_l5"),
        (other, "lease_l4"),
        (t, "lease_absent"),
    ] {
        assert!(
            store
                .request_revocation(
                    tenant,
                    &LeaseSelector::One(id.into()),
                    done_at,
                    Some(&dyn_event(tenant, "lease", "revoke_request", id))
                )
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(
        store
            .request_revocation(t, &LeaseSelector::One("lease_l4".into()), done_at, None)
            .await
            .unwrap(),
        ["lease_l4"]
    );
    assert_eq!(
        store
            .get_lease(other, "lease_l5")
            .await
            .unwrap()
            .unwrap()
            .status,
        LEASE_ACTIVE
    );
    assert_eq!(store.count_live_leases(t, None, None).await.unwrap(), 3);

    // Every audited mutation committed its entry, and creation and revocation their events.
    assert_eq!(
        audit_actions(store, t).await,
        [
            "lease.create",
            "lease.activate",
            "lease.renew",
            "lease.revoke_prefix",
            "lease.revoke_failed",
            "lease.revoke",
        ]
    );
    assert!(audit_actions(store, other).await.is_empty());
    assert_eq!(
        event_types(store, t).await,
        [
            (
                "lease.created".to_owned(),
                r#"{"lease_id":"lease_l1"}"#.to_owned()
            ),
            (
                "lease.revoked".to_owned(),
                r#"{"lease_id":"lease_l1"}"#.to_owned()
            ),
        ]
    );
    assert!(verify_all(store).await.iter().all(|r| r.broken.is_none()));
}

pub async fn dynamic_sweeper_scans(store: &dyn Store) {
    let a = "tnt_dyn_sweep_a";
    let b = "tnt_dyn_sweep_b";
    let at = |minutes: i64| T0 + Duration::minutes(minutes);
    // Pending leases due 5 minutes after issue: a's at 5, 7, 9; b's at 6, 7.
    for (tenant, id, issued) in [
        (a, "lease_w1", 0),
        (a, "lease_w3", 2),
        (a, "lease_w5", 4),
        (b, "lease_w2", 1),
        (b, "lease_w4", 2),
    ] {
        store
            .insert_lease(&lease(tenant, id, "pg", "ro", issued), NO_CAPS, None)
            .await
            .unwrap();
    }
    assert!(store.due_leases(at(4), 100).await.unwrap().is_empty());
    assert_eq!(
        ids(&store.due_leases(at(5), 100).await.unwrap()),
        ["lease_w1"]
    );
    // Soonest first across tenants, then by id; at most `limit`.
    assert_eq!(
        ids(&store.due_leases(at(7), 100).await.unwrap()),
        ["lease_w1", "lease_w2", "lease_w3", "lease_w4"]
    );
    assert_eq!(
        ids(&store.due_leases(at(60), 3).await.unwrap()),
        ["lease_w1", "lease_w2", "lease_w3"]
    );
    // Active leases are due at expiry; revoked ones never.
    store
        .activate_lease(a, "lease_w1", "{}", at(1), None)
        .await
        .unwrap();
    store
        .complete_revocation("lease_w2", at(1), None)
        .await
        .unwrap();
    assert_eq!(
        ids(&store.due_leases(at(60), 100).await.unwrap()),
        ["lease_w3", "lease_w4", "lease_w5", "lease_w1"]
    );

    // The expiry notices: active leases expiring in (from, to], soonest first.
    store
        .activate_lease(a, "lease_w3", "{}", at(3), None)
        .await
        .unwrap(); // expires at 62
    store
        .activate_lease(b, "lease_w4", "{}", at(3), None)
        .await
        .unwrap(); // expires at 62
    store
        .activate_lease(a, "lease_w5", "{}", at(5), None)
        .await
        .unwrap(); // expires at 64
    // lease_w1 (expires at 60) renewed to 63.
    store
        .renew_lease(a, "lease_w1", at(63), at(6), None)
        .await
        .unwrap();
    assert_eq!(
        ids(&store
            .leases_expiring_between(at(61), at(64), 100)
            .await
            .unwrap()),
        ["lease_w3", "lease_w4", "lease_w1", "lease_w5"]
    );
    assert_eq!(
        ids(&store
            .leases_expiring_between(at(62), at(64), 100)
            .await
            .unwrap()),
        ["lease_w1", "lease_w5"]
    );
    assert_eq!(
        ids(&store
            .leases_expiring_between(at(61), at(64), 2)
            .await
            .unwrap()),
        ["lease_w3", "lease_w4"]
    );
    // Only active ones: a lease whose revocation is requested is no longer expiring.
    store
        .request_revocation(b, &LeaseSelector::One("lease_w4".into()), at(61), None)
        .await
        .unwrap();
    assert_eq!(
        ids(&store
            .leases_expiring_between(at(60), at(64), 100)
            .await
            .unwrap()),
        ["lease_w3", "lease_w1", "lease_w5"]
    );
    assert!(
        store
            .leases_expiring_between(at(64), at(90), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn dynamic_lease_listing(store: &dyn Store) {
    let t = "tnt_dyn_list";
    for (id, engine, role, identity) in [
        ("lease_a", "pg", "ro", "user:alice"),
        ("lease_b", "pg", "rw", "user:bob"),
        ("lease_c", "aws", "ro", "user:alice"),
        ("lease_d", "pg", "ro", "sa:ci"),
        ("lease_e", "pg", "ro", "user:alice"),
    ] {
        let l = LeaseRecord {
            identity: identity.into(),
            ..lease(t, id, engine, role, 0)
        };
        store.insert_lease(&l, NO_CAPS, None).await.unwrap();
    }
    store
        .insert_lease(
            &lease("tnt_dyn_list2", "lease_0", "pg", "ro", 0),
            NO_CAPS,
            None,
        )
        .await
        .unwrap();
    store
        .complete_revocation("lease_d", T0, None)
        .await
        .unwrap();

    let list = |q: LeaseQuery| async move {
        let page = store.list_leases(t, &q).await.unwrap();
        (
            page.items.into_iter().map(|l| l.id).collect::<Vec<_>>(),
            page.has_more,
        )
    };
    let q = |limit| LeaseQuery {
        limit,
        ..LeaseQuery::default()
    };
    assert_eq!(
        list(q(10)).await,
        (
            vec![
                "lease_a".into(),
                "lease_b".into(),
                "lease_c".into(),
                "lease_d".into(),
                "lease_e".into()
            ],
            false
        )
    );
    // The cursor.
    assert_eq!(
        list(q(2)).await,
        (vec!["lease_a".into(), "lease_b".into()], true)
    );
    assert_eq!(
        list(LeaseQuery {
            after: Some("lease_b".into()),
            ..q(2)
        })
        .await,
        (vec!["lease_c".into(), "lease_d".into()], true)
    );
    assert_eq!(
        list(LeaseQuery {
            after: Some("lease_d".into()),
            ..q(2)
        })
        .await,
        (vec!["lease_e".into()], false)
    );
    // The filters, alone and together.
    assert_eq!(
        list(LeaseQuery {
            engine: Some("pg".into()),
            ..q(10)
        })
        .await
        .0,
        ["lease_a", "lease_b", "lease_d", "lease_e"]
    );
    assert_eq!(
        list(LeaseQuery {
            engine: Some("pg".into()),
            role: Some("ro".into()),
            ..q(10)
        })
        .await
        .0,
        ["lease_a", "lease_d", "lease_e"]
    );
    assert_eq!(
        list(LeaseQuery {
            identity: Some("user:alice".into()),
            ..q(10)
        })
        .await
        .0,
        ["lease_a", "lease_c", "lease_e"]
    );
    assert_eq!(
        list(LeaseQuery {
            engine: Some("pg".into()),
            live_only: true,
            ..q(10)
        })
        .await
        .0,
        ["lease_a", "lease_b", "lease_e"]
    );
    assert_eq!(
        list(LeaseQuery {
            engine: Some("pg".into()),
            role: Some("ro".into()),
            identity: Some("user:alice".into()),
            live_only: true,
            after: Some("lease_a".into()),
            ..q(10)
        })
        .await
        .0,
        ["lease_e"]
    );
    assert!(
        list(LeaseQuery {
            engine: Some("absent".into()),
            ..q(10)
        })
        .await
        .0
        .is_empty()
    );
}
