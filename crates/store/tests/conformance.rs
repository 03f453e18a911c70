//! Store conformance suite, run against the embedded SQLite store (the suite itself is in
//! `common/mod.rs`; `tests/postgres.rs` runs it against PostgreSQL), plus SQLite-specific tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::sync::Arc;

use common::rotation::rotation_step_fails_closed;
use common::*;
use scaivault_store::*;
use time::Duration;

async fn open_sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), 4)
        .await
        .unwrap();
    (Arc::new(store), dir)
}

async fn open_cached_sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), 4)
        .await
        .unwrap();
    (Arc::new(CachedStore::new(store, 16)), dir)
}

/// The conformance suite on the embedded store, one test per behaviour.
mod sqlite {
    use super::*;
    conformance_tests!(open_sqlite);
}

/// The conformance suite through the read cache.
mod cached_sqlite {
    use super::*;
    conformance_tests!(open_cached_sqlite);
}

/// Reopening runs migrations idempotently and keeps the data.
#[tokio::test]
async fn reopening_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), 4)
        .await
        .unwrap();
    for at in [T0, T0 + Duration::minutes(5)] {
        write(&store, "tnt_1", put("app/db", at), "v")
            .await
            .unwrap();
    }
    store.close().await;
    let reopened = SqliteStore::open(&dir.path().join("test.db"), 2)
        .await
        .unwrap();
    assert_eq!(
        reopened
            .get_secret("tnt_1", "app/db")
            .await
            .unwrap()
            .current_version,
        2
    );
}

/// Without the audit key, audited work is refused and nothing is written (fail closed).
#[tokio::test]
async fn audited_work_fails_closed_without_the_audit_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), 2)
        .await
        .unwrap();
    let t = "tnt_x";
    assert!(matches!(
        store.append_audit(vec![event(t, "read", "a", T0)]).await,
        Err(StoreError::Audit(_))
    ));
    let mut w = put("a/b", T0);
    w.audit = Some(event(t, "write", "a/b", T0));
    assert!(write(&store, t, w, "v").await.is_err());
    assert!(matches!(
        store.get_secret(t, "a/b").await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    rotation_step_fails_closed(&store, t).await;
}

/// Editing, deleting or reordering rows by hand is detected and named.
#[tokio::test]
async fn tampering_with_audit_rows_is_detected() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.db");
    let store = SqliteStore::open(&file, 2).await.unwrap();
    store.set_audit_mac(test_mac());
    let t = "tnt_t";
    for i in 0..6 {
        store
            .append_audit(vec![event(
                t,
                "read",
                &format!("p/{i}"),
                T0 + Duration::seconds(i),
            )])
            .await
            .unwrap();
    }
    store.checkpoint_audit(T0).await.unwrap();
    let url = format!("sqlite://{}", file.display());
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let check = |expect: &'static str| {
        let store = store.clone();
        async move {
            let report = verify_audit_chain(&store, t, test_mac()).await.unwrap();
            let broken = report.broken.expect(expect);
            broken.to_string()
        }
    };

    // Edit: the actor of entry 3 is changed (entries name their caller by number).
    let original: i64 =
        sqlx::query_scalar("SELECT caller FROM audit_log WHERE chain = ?1 AND chain_seq = 3")
            .bind(t)
            .fetch_one(&mut raw)
            .await
            .unwrap();
    let mallory: i64 = sqlx::query_scalar(
        "INSERT INTO audit_callers (actor_id, credential_id, actor_type, actor_tenant_id,
            partner_id, client_ip, user_agent)
         VALUES ('user:mallory', '', 'user', '', '', '', '') RETURNING id",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    let set_caller = |caller: i64| {
        sqlx::query("UPDATE audit_log SET caller = ?2 WHERE chain = ?1 AND chain_seq = 3")
            .bind(t)
            .bind(caller)
    };
    set_caller(mallory).execute(&mut raw).await.unwrap();
    let msg = check("an edit").await;
    assert!(msg.contains("#3") && msg.contains("altered"), "{msg}");
    set_caller(original).execute(&mut raw).await.unwrap();
    assert_eq!(
        verify_audit_chain(&store, t, test_mac())
            .await
            .unwrap()
            .broken,
        None
    );

    // Edit the shared caller row itself: every entry naming it is altered, the first reported.
    let actor: String = sqlx::query_scalar("SELECT actor_id FROM audit_callers WHERE id = ?1")
        .bind(original)
        .fetch_one(&mut raw)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_callers SET actor_id = 'user:mallory2' WHERE id = ?1")
        .bind(original)
        .execute(&mut raw)
        .await
        .unwrap();
    let msg = check("an edited caller").await;
    assert!(msg.contains("altered"), "{msg}");
    sqlx::query("UPDATE audit_callers SET actor_id = ?2 WHERE id = ?1")
        .bind(original)
        .bind(&actor)
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        verify_audit_chain(&store, t, test_mac())
            .await
            .unwrap()
            .broken,
        None
    );

    // Reorder: entries 2 and 4 swap positions.
    sqlx::query(
        "UPDATE audit_log SET chain_seq = CASE chain_seq WHEN 2 THEN -4 WHEN 4 THEN -2 END
         WHERE chain = ?1 AND chain_seq IN (2, 4)",
    )
    .bind(t)
    .execute(&mut raw)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_log SET chain_seq = -chain_seq WHERE chain = ?1 AND chain_seq < 0")
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
    let msg = check("a reorder").await;
    assert!(msg.contains("#2"), "{msg}");
    sqlx::query(
        "UPDATE audit_log SET chain_seq = CASE chain_seq WHEN 2 THEN -4 WHEN 4 THEN -2 END
         WHERE chain = ?1 AND chain_seq IN (2, 4)",
    )
    .bind(t)
    .execute(&mut raw)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_log SET chain_seq = -chain_seq WHERE chain = ?1 AND chain_seq < 0")
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        verify_audit_chain(&store, t, test_mac())
            .await
            .unwrap()
            .broken,
        None
    );

    // Delete from the middle, then from the end (caught by the checkpoint).
    sqlx::query("DELETE FROM audit_log WHERE chain = ?1 AND chain_seq = 6")
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
    let msg = check("a truncation").await;
    assert!(msg.contains("ends at #5"), "{msg}");
    sqlx::query("DELETE FROM audit_log WHERE chain = ?1 AND chain_seq = 2")
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
    let msg = check("a deletion").await;
    assert!(msg.contains("#3") && msg.contains("expected #2"), "{msg}");
}

/// Reads between and after writes always see the newest acknowledged version, through the cache.
#[tokio::test]
async fn cache_never_serves_a_superseded_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CachedStore::new(
        SqliteStore::open(&dir.path().join("test.db"), 4)
            .await
            .unwrap(),
        1000,
    ));
    write(store.as_ref(), "t", put("c/x", T0), "v")
        .await
        .unwrap();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..300 {
                store.read_secret("t", "c/x", None, T0).await.unwrap();
            }
        })
    };
    for expected in 2..=60u64 {
        let out = write(store.as_ref(), "t", put("c/x", T0), "v")
            .await
            .unwrap();
        assert_eq!(out.version, expected);
        let (_, v) = store.read_secret("t", "c/x", None, T0).await.unwrap();
        assert_eq!(v.version, expected, "read after an acknowledged write");
    }
    reader.await.unwrap();
    store.soft_delete("t", "c/x", T0, None).await.unwrap();
    assert!(matches!(
        store.read_secret("t", "c/x", None, T0).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    store.restore("t", "c/x", T0, None).await.unwrap();
    store.hard_delete("t", "c/x", None).await.unwrap();
    assert!(matches!(
        store.read_secret("t", "c/x", None, T0).await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
}

/// The migrator of the embedded schema, stopped before migration `before`: a database as an
/// older ScaiVault left it.
async fn migrator_before(dir: &str, before: i64) -> sqlx::migrate::Migrator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut migrator = sqlx::migrate::Migrator::new(path).await.unwrap();
    let older: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < before)
        .cloned()
        .collect();
    migrator.migrations = older.into();
    migrator
}

/// Upgrading a database made before the identity scopes existed: a credential that held every
/// scope of the old catalogue keeps its reach (its role's new scopes), a narrower one gains
/// nothing; tenants keep their slugs, now unique per partner.
#[tokio::test]
async fn an_upgrade_gives_full_scope_credentials_the_new_scopes() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.db");
    {
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        migrator_before("migrations/sqlite", 7)
            .await
            .run(&mut conn)
            .await
            .unwrap();
        let old_all =
            r#"["secrets:read","secrets:write","audit:read","policies:read","policies:write"]"#;
        for (id, scopes, partner_admin) in [
            ("tok_bootstrap", old_all, 1),
            ("tok_tenant_admin", old_all, 0),
            ("tok_reader", r#"["secrets:read"]"#, 0),
        ] {
            sqlx::query(
                "INSERT INTO tokens (id, tenant_id, partner_id, identity_id, identity_type,
                    token_hash, name, scopes, is_admin, created_at, kind, is_partner_admin)
                 VALUES (?1, 'tnt_1', 'ptn_1', 'user:a', 'user', ?1, 'n', ?2, 1, 0, 'personal', ?3)",
            )
            .bind(id)
            .bind(scopes)
            .bind(partner_admin)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO tenants (id, partner_id, slug, name, created_at)
             VALUES ('tnt_1', 'ptn_1', 'acme', 'Acme', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        // Then up to the PKI era (before the dynamic scopes): a credential holding the
        // thirteen tenant scopes of that catalogue gets the dynamic ones; one without the PKI
        // scopes (narrowed) gains nothing.
        migrator_before("migrations/sqlite", 10)
            .await
            .run(&mut conn)
            .await
            .unwrap();
        let pki_era = r#"["secrets:read","secrets:write","audit:read","policies:read","policies:write","identity:read","identity:write","service-accounts:read","service-accounts:write","tokens:write","pki:read","pki:issue","pki:admin"]"#;
        let no_pki = r#"["secrets:read","secrets:write","audit:read","policies:read","policies:write","identity:read","identity:write","service-accounts:read","service-accounts:write","tokens:write"]"#;
        for (id, scopes, kind) in [
            ("tok_pki_era", pki_era, "personal"),
            ("tok_sa_key", pki_era, "api_key"),
            ("tok_no_pki", no_pki, "personal"),
        ] {
            sqlx::query(
                "INSERT INTO tokens (id, tenant_id, partner_id, identity_id, identity_type,
                    token_hash, name, scopes, is_admin, created_at, kind, is_partner_admin)
                 VALUES (?1, 'tnt_1', 'ptn_1', 'user:a', 'user', ?1, 'n', ?2, 0, 0, ?3, 0)",
            )
            .bind(id)
            .bind(scopes)
            .bind(kind)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = SqliteStore::open(&file, 2).await.unwrap();
    let scopes = |id: &'static str| {
        let store = store.clone();
        async move { store.find_token(id).await.unwrap().unwrap().scopes }
    };
    let tenant: Vec<String> = scaivault_core::Scope::TENANT
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let all: Vec<String> = scaivault_core::Scope::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(scopes("tok_bootstrap").await, all);
    assert_eq!(scopes("tok_tenant_admin").await, tenant);
    assert_eq!(scopes("tok_reader").await, vec!["secrets:read".to_owned()]);
    assert_eq!(scopes("tok_pki_era").await, tenant);
    assert_eq!(scopes("tok_sa_key").await, tenant);
    assert_eq!(scopes("tok_no_pki").await, tenant[..10].to_vec());
    assert_eq!(
        store
            .get_token("tok_reader")
            .await
            .unwrap()
            .unwrap()
            .parent_key_id,
        None
    );
    assert_eq!(
        store.get_tenant("tnt_1").await.unwrap().unwrap().slug,
        "acme"
    );
    let elsewhere = TenantRecord {
        id: "tnt_2".into(),
        partner_id: "ptn_2".into(),
        slug: "acme".into(),
        name: "Acme too".into(),
        created_at: T0,
    };
    store.insert_tenant(&elsewhere, None).await.unwrap();
    assert!(matches!(
        store
            .insert_tenant(
                &TenantRecord {
                    id: "tnt_3".into(),
                    partner_id: "ptn_1".into(),
                    ..elsewhere
                },
                None
            )
            .await,
        Err(StoreError::Duplicate)
    ));
}

/// A measurement for the lead: `due_leases(now, 100)` with 100,000 live leases in a SQLite
/// store, when none are due and when all are. The leases are seeded in one transaction on a
/// connection of the test's own (100,000 audited inserts, each synced to disk, would measure
/// the disk instead); the query runs through the store. Run it with
/// `cargo test -p scaivault-store --test conformance -- --ignored --nocapture due_leases_timing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture"]
async fn due_leases_timing() {
    use sqlx::Connection;
    const LEASES: i64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.db");
    let store = SqliteStore::open(&file, 4).await.unwrap();
    let t0 = T0.unix_timestamp() * 1_000_000;
    let second = 1_000_000;
    {
        let url = format!("sqlite://{}", file.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        for i in 0..LEASES {
            // Active leases of 10 tenants, expiring (due) spread over the day after T0.
            let due = t0 + (1 + i % 86_400) * second;
            sqlx::query(
                "INSERT INTO dynamic_leases (id, tenant_id, engine, role, identity, status,
                    renewable, handle, issued_at, expires_at, max_expires_at, due_at, attempts,
                    updated_at)
                 VALUES ($1, $2, 'pg', 'ro', 'user:a', 'active', 1, '{}', $3, $4, $4, $4, 0, $3)",
            )
            .bind(format!("lease_{i:07}"))
            .bind(format!("tnt_{}", i % 10))
            .bind(t0)
            .bind(due)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        // The sweeper's and the expiry notices' scans read the due index, not the table.
        for scan in [
            "SELECT id FROM dynamic_leases WHERE due_at IS NOT NULL AND due_at <= 1
             ORDER BY due_at, id LIMIT 100",
            "SELECT id FROM dynamic_leases
             WHERE due_at IS NOT NULL AND due_at > 1 AND due_at <= 2 AND status = 'active'
               AND expires_at > 1 AND expires_at <= 2
             ORDER BY due_at, id LIMIT 100",
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {scan}")))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            let plan: Vec<String> = plan.into_iter().map(|row| row.3).collect();
            println!("plan: {plan:?}");
            assert!(
                plan.iter().any(|step| step.contains("dynamic_leases_due")),
                "{plan:?}"
            );
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{plan:?}"
            );
        }
        conn.close().await.unwrap();
    }
    assert_eq!(
        store.count_live_leases("tnt_3", None, None).await.unwrap(),
        (LEASES / 10) as u64
    );
    for (label, now, expected) in [
        ("none due", T0, 0),
        ("all due", T0 + Duration::days(2), 100),
    ] {
        let mut timings = Vec::new();
        for _ in 0..50 {
            let started = std::time::Instant::now();
            let due = store.due_leases(now, 100).await.unwrap();
            timings.push(started.elapsed());
            assert_eq!(due.len(), expected);
        }
        timings.sort_unstable();
        println!(
            "due_leases(now, 100) with {LEASES} live leases, {label}: median {:?}, max {:?} \
             (50 runs)",
            timings[timings.len() / 2],
            timings[timings.len() - 1]
        );
    }
}
