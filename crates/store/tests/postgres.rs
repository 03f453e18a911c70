//! The PostgreSQL store: the shared conformance suite (`common/mod.rs`), plus what only a shared
//! database has: several nodes (stores with their own pools) writing the same secret and the same
//! audit chain, the audit cursor under late commits, and schema/connection errors.
//!
//! Needs a PostgreSQL server: `SCAIVAULT_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a database where the user may
//! `CREATE DATABASE`; each test creates a throwaway database and drops it at the end. Without a
//! server these tests fail (they never skip silently).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use common::rotation::rotation_step_fails_closed;
use common::*;
use scaivault_store::*;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use time::Duration;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of its own for one test, dropped when the test ends (passing or not).
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    #[allow(
        clippy::disallowed_methods,
        reason = "uniqueness across test processes, not time: the nanoseconds only vary the name"
    )]
    async fn create() -> Self {
        let admin_url =
            std::env::var("SCAIVAULT_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let options = PgConnectOptions::from_str(&admin_url)
            .unwrap_or_else(|e| panic!("SCAIVAULT_TEST_DATABASE_URL is not a PostgreSQL URL: {e}"));
        let mut admin = match PgConnection::connect_with(&options).await {
            Ok(conn) => conn,
            Err(e) => panic!(
                "the PostgreSQL tests need a server: cannot connect to {}:{} as {:?} ({e}). \
                 Start PostgreSQL or set SCAIVAULT_TEST_DATABASE_URL to a database where the \
                 user may CREATE DATABASE (default {DEFAULT_URL}).",
                options.get_host(),
                options.get_port(),
                options.get_username(),
            ),
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("scaivault_test_{}_{nanos}", std::process::id());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }

    async fn store(&self) -> PgStore {
        PgStore::connect(
            &self.url,
            PgOptions {
                max_connections: 8,
                ..PgOptions::default()
            },
        )
        .await
        .unwrap()
    }

    async fn raw(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await; a thread with its own runtime works inside or outside a runtime,
        // and also while a failed test unwinds. FORCE ends the stores' pooled connections.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                Ok::<_, String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `url` with its database replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[test]
fn database_names_are_swapped_in_urls() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
        "postgres://u:p@h:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
}

async fn open_postgres() -> (Arc<dyn Store>, TestDb) {
    let db = TestDb::create().await;
    let store = db.store().await;
    (Arc::new(store), db)
}

async fn open_cached_postgres() -> (Arc<dyn Store>, TestDb) {
    let db = TestDb::create().await;
    let store = db.store().await;
    (Arc::new(CachedStore::new(store, 16)), db)
}

/// The conformance suite on PostgreSQL, one test per behaviour (each in its own database).
mod postgres {
    use super::*;
    conformance_tests!(open_postgres);
}

/// The conformance suite through the read cache.
mod cached_postgres {
    use super::*;
    conformance_tests!(open_cached_postgres);
}

/// Reconnecting runs migrations idempotently and keeps the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_keeps_the_data() {
    let db = TestDb::create().await;
    let store = db.store().await;
    for at in [T0, T0 + Duration::minutes(5)] {
        write(&store, "tnt_1", put("app/db", at), "v")
            .await
            .unwrap();
    }
    store.close().await;
    let reopened = db.store().await;
    assert_eq!(
        reopened
            .get_secret("tnt_1", "app/db")
            .await
            .unwrap()
            .current_version,
        2
    );
    reopened.close().await;
}

/// Without the audit key, audited work is refused and nothing is written (fail closed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audited_work_fails_closed_without_the_audit_key() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let t = "tnt_x";
    assert!(matches!(
        store.append_audit(vec![event(t, "read", "a", T0)]).await,
        Err(StoreError::Audit(_))
    ));
    let mut w = put("a/b", T0);
    w.audit = Some(event(t, "write", "a/b", T0));
    assert!(matches!(
        write(&store, t, w, "v").await,
        Err(StoreError::Audit(_))
    ));
    assert!(matches!(
        store.get_secret(t, "a/b").await,
        Err(StoreError::NotFound(Entity::Secret))
    ));
    // An unaudited write goes through; audited mutations of it are refused and change nothing.
    write(&store, t, put("a/b", T0), "v").await.unwrap();
    assert!(matches!(
        store
            .soft_delete(t, "a/b", T0, Some(&event(t, "delete", "a/b", T0)))
            .await,
        Err(StoreError::Audit(_))
    ));
    assert!(
        store
            .get_secret(t, "a/b")
            .await
            .unwrap()
            .deleted_at
            .is_none()
    );
    let partner = PartnerRecord {
        id: "ptn_x".into(),
        name: "x".into(),
        created_at: T0,
    };
    assert!(matches!(
        store
            .insert_partner(&partner, Some(&event(t, "create", "p", T0)))
            .await,
        Err(StoreError::Audit(_))
    ));
    assert_eq!(store.get_partner("ptn_x").await.unwrap(), None);
    rotation_step_fails_closed(&store, t).await;

    let mut raw = db.raw().await;
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(entries, 0);
    let _ = raw.close().await;
    store.close().await;
}

/// Editing, deleting or reordering rows by hand is detected and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_audit_rows_is_detected() {
    let db = TestDb::create().await;
    let store = db.store().await;
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
    let mut raw = db.raw().await;
    let check = |expect: &'static str| {
        let store = store.clone();
        async move {
            let report = verify_audit_chain(&store, t, test_mac()).await.unwrap();
            let broken = report.broken.expect(expect);
            broken.to_string()
        }
    };
    let intact = || {
        let store = store.clone();
        async move {
            verify_audit_chain(&store, t, test_mac())
                .await
                .unwrap()
                .broken
        }
    };
    assert_eq!(intact().await, None);

    // Edit: the actor of entry 3 is changed (entries name their caller by number).
    let original: i64 =
        sqlx::query_scalar("SELECT caller FROM audit_log WHERE chain = $1 AND chain_seq = 3")
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
    for (caller, expect_broken) in [(mallory, true), (original, false)] {
        sqlx::query("UPDATE audit_log SET caller = $2 WHERE chain = $1 AND chain_seq = 3")
            .bind(t)
            .bind(caller)
            .execute(&mut raw)
            .await
            .unwrap();
        if expect_broken {
            let msg = check("an edit").await;
            assert!(msg.contains("#3") && msg.contains("altered"), "{msg}");
        }
    }
    assert_eq!(intact().await, None);

    // Reorder: entries 2 and 4 swap positions (through negative numbers: the positions stay
    // unique after each statement).
    let swap = || async {
        let mut raw = db.raw().await;
        sqlx::query(
            "UPDATE audit_log SET chain_seq = CASE chain_seq WHEN 2 THEN -4 WHEN 4 THEN -2 END
             WHERE chain = $1 AND chain_seq IN (2, 4)",
        )
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE audit_log SET chain_seq = -chain_seq WHERE chain = $1 AND chain_seq < 0",
        )
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
        let _ = raw.close().await;
    };
    swap().await;
    let msg = check("a reorder").await;
    assert!(msg.contains("#2"), "{msg}");
    swap().await;
    assert_eq!(intact().await, None);

    // Delete from the end (caught by the checkpoint), then from the middle.
    sqlx::query("DELETE FROM audit_log WHERE chain = $1 AND chain_seq = 6")
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
    let msg = check("a truncation").await;
    assert!(msg.contains("ends at #5"), "{msg}");
    sqlx::query("DELETE FROM audit_log WHERE chain = $1 AND chain_seq = 2")
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
    let msg = check("a deletion").await;
    assert!(msg.contains("#3") && msg.contains("expected #2"), "{msg}");

    // A forged checkpoint MAC is named too.
    sqlx::query("UPDATE audit_checkpoints SET mac = decode(repeat('00', 32), 'hex')")
        .execute(&mut raw)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE chain = $1 AND chain_seq > 1")
        .bind(t)
        .execute(&mut raw)
        .await
        .unwrap();
    let msg = check("a forged checkpoint").await;
    assert!(
        msg.contains("checkpoint") && msg.contains("invalid MAC"),
        "{msg}"
    );
    let _ = raw.close().await;
    store.close().await;
}

/// Three nodes (three stores, three pools) on one database: concurrent writes to one path get
/// unique, gap-free versions, and concurrent audit appends to one chain keep it verifiable.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn nodes_sharing_a_database_serialise_versions_and_the_audit_chain() {
    const NODES: usize = 3;
    const WRITES: usize = 30;
    let db = TestDb::create().await;
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        let store = db.store().await;
        store.set_audit_mac(test_mac());
        nodes.push(Arc::new(store));
    }
    let t = "tnt_nodes";
    let mut tasks = Vec::new();
    for (n, store) in nodes.iter().enumerate() {
        for i in 0..WRITES {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                // Every write also appends its audit entry to the tenant's chain, and every
                // node appends a read entry (through the batching appender) at the same time.
                let mut w = put("hot/shared", T0);
                w.patch.max_versions = Some(1_000);
                let mut audit = event(t, "write", "hot/shared", T0);
                audit.id = format!("aud_w_{n}_{i}");
                w.audit = Some(audit);
                let mut read = event(t, "read", "hot/shared", T0);
                read.id = format!("aud_r_{n}_{i}");
                let (written, appended) = tokio::join!(
                    write(store.as_ref(), t, w, "n"),
                    store.append_audit(vec![read])
                );
                appended.unwrap();
                written.unwrap().version
            }));
        }
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort_unstable();
    let total = (NODES * WRITES) as u64;
    assert_eq!(versions, (1..=total).collect::<Vec<u64>>());
    let listed = nodes[0].list_versions(t, "hot/shared", T0).await.unwrap();
    assert_eq!(listed.len() as u64, total);

    // One chain: every entry in order, each write's entry carrying its own version.
    let report = verify_audit_chain(nodes[1].as_ref(), t, test_mac())
        .await
        .unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(report.entries_checked, 2 * total);
    assert_eq!(report.last_chain_seq, 2 * total);
    let chain = nodes[2].audit_chain_page(t, 0, 1_000).await.unwrap();
    assert_eq!(
        chain.iter().map(|e| e.chain_seq).collect::<Vec<_>>(),
        (1..=2 * total).collect::<Vec<_>>()
    );
    let mut written: Vec<u64> = chain
        .iter()
        .filter(|e| e.event.action == "write")
        .map(|e| e.event.version.unwrap())
        .collect();
    written.sort_unstable();
    assert_eq!(written, (1..=total).collect::<Vec<u64>>());
    // The cursor sees every entry once, in increasing seq order.
    let since = nodes[0].audit_since(0, 1_000).await.unwrap();
    assert_eq!(since.len() as u64, 2 * total);
    assert!(since.windows(2).all(|w| w[0].seq < w[1].seq));
    // Checkpoints from two nodes at once record each head once.
    let (a, b) = tokio::join!(
        nodes[0].checkpoint_audit(T0 + Duration::seconds(1)),
        nodes[1].checkpoint_audit(T0 + Duration::seconds(1))
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    for store in &nodes {
        store.close().await;
    }
}

/// An entry whose transaction commits after a later-numbered one is not skipped by the cursor:
/// `audit_since` waits for appenders in flight instead of reading past their seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audit_cursor_never_skips_a_late_commit() {
    // The key of the high-water-mark lock in src/postgres/audit.rs.
    const SEQ_LOCK: i64 = 0x5343_4149_4155_4453;
    let db = TestDb::create().await;
    let store = db.store().await;
    store.set_audit_mac(test_mac());

    // A slow appender (another node, mid-transaction) takes seq 1 and does not commit yet.
    let mut slow = db.raw().await;
    let mut slow_tx = slow.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(SEQ_LOCK)
        .execute(&mut *slow_tx)
        .await
        .unwrap();
    sqlx::query(
        "WITH c AS (
            INSERT INTO audit_callers (actor_id, credential_id, actor_type, actor_tenant_id,
                partner_id, client_ip, user_agent)
            VALUES ('a', '', 'user', '', '', '', '') RETURNING id)
         INSERT INTO audit_log (entry_id, chain, chain_seq, occurred_at, request_id, caller,
            action, resource_type, outcome, hash)
         SELECT 'aud_slow', 'slow', 1, 0, 'r', c.id, 'read', 'secret', 'success',
            decode(repeat('00', 32), 'hex') FROM c",
    )
    .execute(&mut *slow_tx)
    .await
    .unwrap();
    // A fast one commits seq 2.
    store
        .append_audit(vec![event("tnt_fast", "read", "p", T0)])
        .await
        .unwrap();

    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.audit_since(0, 100).await.unwrap() })
    };
    // The event: the reader queues behind the appender's lock (PostgreSQL shows its request
    // to the high-water-mark lock as not granted). Until then it must not have answered.
    let mut observer = db.raw().await;
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        assert!(
            !reader.is_finished(),
            "the cursor read past an appender in flight"
        );
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut observer)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reader never waited for the appender"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert!(
        !reader.is_finished(),
        "the cursor read past an appender in flight"
    );
    let _ = observer.close().await;
    slow_tx.commit().await.unwrap();
    let entries = reader.await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0].event.id, "aud_slow",
        "the late commit comes first"
    );
    assert_eq!(
        entries[1].event.target_tenant_id.as_deref(),
        Some("tnt_fast")
    );
    assert!(entries[0].seq < entries[1].seq);
    let _ = slow.close().await;
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // Port 1 on localhost: nothing listens there.
    let err = PgStore::connect(
        "postgres://postgres@127.0.0.1:1/scaivault",
        PgOptions {
            connect_timeout: StdDuration::from_secs(5),
            ..PgOptions::default()
        },
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("cannot connect to PostgreSQL at 127.0.0.1:1/scaivault"),
        "{msg}"
    );
}

/// A database migrated by a newer ScaiVault (a migration this binary does not know) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let db = TestDb::create().await;
    db.store().await.close().await;
    let mut raw = db.raw().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let _ = raw.close().await;
    let err = PgStore::connect(&db.url, PgOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Migration(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("9999") && msg.contains("upgrade"), "{msg}");
}

/// Upgrading a database made before the identity scopes existed (see the SQLite twin in
/// conformance.rs): full-scope credentials get their role's new scopes, narrower ones nothing;
/// slugs become unique per partner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_gives_full_scope_credentials_the_new_scopes() {
    let db = TestDb::create().await;
    let mut raw = db.raw().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut migrator = sqlx::migrate::Migrator::new(path).await.unwrap();
    let older: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 8)
        .cloned()
        .collect();
    migrator.migrations = older.into();
    migrator.run(&mut raw).await.unwrap();
    let old_all = [
        "secrets:read",
        "secrets:write",
        "audit:read",
        "policies:read",
        "policies:write",
    ];
    for (id, scopes, partner_admin) in [
        ("tok_bootstrap", &old_all[..], true),
        ("tok_tenant_admin", &old_all[..], false),
        ("tok_reader", &old_all[..1], false),
    ] {
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, partner_id, identity_id, identity_type,
                token_hash, name, scopes, is_admin, created_at, kind, is_partner_admin)
             VALUES ($1, 'tnt_1', 'ptn_1', 'user:a', 'user', $1, 'n', $2, TRUE, 0, 'personal', $3)",
        )
        .bind(id)
        .bind(scopes)
        .bind(partner_admin)
        .execute(&mut raw)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO tenants (id, partner_id, slug, name, created_at)
         VALUES ('tnt_1', 'ptn_1', 'acme', 'Acme', 0)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    // Then up to the PKI era (before the dynamic scopes): a credential holding the thirteen
    // tenant scopes of that catalogue gets the dynamic ones; one without the PKI scopes
    // (narrowed) gains nothing.
    let mut migrator = sqlx::migrate::Migrator::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres"),
    )
    .await
    .unwrap();
    let older: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 11)
        .cloned()
        .collect();
    migrator.migrations = older.into();
    migrator.run(&mut raw).await.unwrap();
    let tenant_names: Vec<&str> = scaivault_core::Scope::TENANT
        .iter()
        .map(|s| s.as_str())
        .collect();
    let pki_era = &tenant_names[..13];
    assert_eq!(pki_era[12], "pki:admin");
    for (id, scopes, kind) in [
        ("tok_pki_era", pki_era, "personal"),
        ("tok_sa_key", pki_era, "api_key"),
        ("tok_no_pki", &tenant_names[..10], "personal"),
    ] {
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, partner_id, identity_id, identity_type,
                token_hash, name, scopes, is_admin, created_at, kind, is_partner_admin)
             VALUES ($1, 'tnt_1', 'ptn_1', 'user:a', 'user', $1, 'n', $2, FALSE, 0, $3, FALSE)",
        )
        .bind(id)
        .bind(scopes)
        .bind(kind)
        .execute(&mut raw)
        .await
        .unwrap();
    }
    let _ = raw.close().await;

    let store = db.store().await;
    let names = |scopes: &[scaivault_core::Scope]| -> Vec<String> {
        scopes.iter().map(|s| s.as_str().to_owned()).collect()
    };
    let scopes_of = |id: &'static str| {
        let store = store.clone();
        async move { store.find_token(id).await.unwrap().unwrap().scopes }
    };
    assert_eq!(
        scopes_of("tok_bootstrap").await,
        names(&scaivault_core::Scope::ALL)
    );
    assert_eq!(
        scopes_of("tok_tenant_admin").await,
        names(&scaivault_core::Scope::TENANT)
    );
    assert_eq!(
        scopes_of("tok_reader").await,
        vec!["secrets:read".to_owned()]
    );
    let tenant = names(&scaivault_core::Scope::TENANT);
    assert_eq!(scopes_of("tok_pki_era").await, tenant);
    assert_eq!(scopes_of("tok_sa_key").await, tenant);
    assert_eq!(scopes_of("tok_no_pki").await, tenant[..10].to_vec());
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
    store.close().await;
}

/// The copier's table list matches the migrated PostgreSQL schema (tables, columns, types,
/// key collations), as `operator migrate` checks before copying: a table a migration adds
/// (the dynamic-credentials ones, say) without a copier entry fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copier_lists_every_table_and_column_of_the_postgres_schema() {
    let db = TestDb::create().await;
    db.store().await.close().await;
    let mut target = scaivault_store::copy::Target::connect(&db.url)
        .await
        .unwrap();
    assert_eq!(target.check_schema().await.unwrap(), Vec::<String>::new());
    target.close().await;
}

/// `operator migrate`'s copier moves the dynamic-credentials tables from SQLite to PostgreSQL
/// intact: an engine's sealed secret byte for byte, a role's optional cap, a lease's boolean
/// and optional timestamps, and the copied leases are live for the sweeper on the new store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copier_moves_the_dynamic_tables() {
    use scaivault_store::copy::{Source, Target, table};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("source.db");
    let sqlite = SqliteStore::open(&file, 2).await.unwrap();
    let t = "tnt_copy";
    let engine = EngineRecord {
        tenant_id: t.into(),
        name: "pg-prod".into(),
        kind: "postgres".into(),
        config: r#"{"connection_url":"postgres://v:*****@db/app"}"#.into(),
        sealed_secret: SealedBlob {
            key_id: "dek_1".into(),
            ciphertext: vec![0, 159, 255, 1],
        },
        created_at: T0,
        updated_at: T0,
        root_rotated_at: Some(T0 + Duration::seconds(1)),
    };
    sqlite.insert_engine(&engine, None).await.unwrap();
    let capped = RoleRecord {
        tenant_id: t.into(),
        engine: "pg-prod".into(),
        name: "ro".into(),
        config: "{}".into(),
        default_ttl_secs: 3600,
        max_ttl_secs: 7200,
        max_leases: Some(3),
        created_at: T0,
        updated_at: T0,
    };
    let uncapped = RoleRecord {
        name: "rw".into(),
        max_leases: None,
        ..capped.clone()
    };
    for role in [&capped, &uncapped] {
        sqlite.insert_role(role, None).await.unwrap();
    }
    let lease = LeaseRecord {
        id: "lease_1".into(),
        tenant_id: t.into(),
        engine: "pg-prod".into(),
        role: "ro".into(),
        identity: "user:a".into(),
        status: "pending".into(),
        renewable: true,
        handle: "{}".into(),
        issued_at: T0,
        expires_at: T0 + Duration::hours(1),
        max_expires_at: T0 + Duration::hours(2),
        due_at: Some(T0 + Duration::minutes(5)),
        attempts: 0,
        last_error: None,
        revoked_at: None,
        updated_at: T0,
    };
    let revoked = LeaseRecord {
        id: "lease_2".into(),
        renewable: false,
        ..lease.clone()
    };
    for l in [&lease, &revoked] {
        sqlite
            .insert_lease(l, LeaseCaps::default(), None)
            .await
            .unwrap();
    }
    sqlite
        .fail_revocation("lease_2", "refused", T0, T0, None)
        .await
        .unwrap();
    sqlite
        .complete_revocation("lease_2", T0 + Duration::minutes(1), None)
        .await
        .unwrap();
    let revoked = sqlite.get_lease(t, "lease_2").await.unwrap().unwrap();
    drop(sqlite);

    let db = TestDb::create().await;
    let pg = db.store().await;
    let mut source = Source::open(&file).await.unwrap();
    let mut target = Target::connect(&db.url).await.unwrap();
    for name in ["dynamic_engines", "dynamic_roles", "dynamic_leases"] {
        let table = table(name).unwrap();
        let rows = source.page(table, None, 100).await.unwrap();
        assert_eq!(
            target.copy_batch(table, &rows, name).await.unwrap(),
            rows.len() as u64
        );
    }
    target.close().await;
    source.close().await;

    assert_eq!(pg.get_engine(t, "pg-prod").await.unwrap(), Some(engine));
    assert_eq!(pg.get_role(t, "pg-prod", "ro").await.unwrap(), Some(capped));
    assert_eq!(
        pg.get_role(t, "pg-prod", "rw").await.unwrap(),
        Some(uncapped)
    );
    assert_eq!(pg.get_lease(t, "lease_1").await.unwrap(), Some(lease));
    assert_eq!(pg.get_lease(t, "lease_2").await.unwrap(), Some(revoked));
    assert_eq!(
        pg.due_leases(T0 + Duration::hours(1), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        ["lease_1"]
    );
    pg.close().await;
}

/// Two nodes (two stores, each with its own pool, on one database) claiming due ACME orders at
/// once, four claimers each: every order is claimed exactly once, by one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_never_claim_the_same_acme_order() {
    let db = TestDb::create().await;
    let node_a: Arc<dyn Store> = Arc::new(db.store().await);
    let node_b: Arc<dyn Store> = Arc::new(db.store().await);
    let t = "tnt_acme_nodes";
    node_a
        .insert_acme_account(&common::acme::account(t, "acme_n"), None)
        .await
        .unwrap();
    for round in 0..3 {
        for i in 0..20 {
            node_a
                .insert_acme_order(
                    &common::acme::order(t, &format!("acmeo_{round}_{i:02}"), "acme_n", None, 0),
                    None,
                )
                .await
                .unwrap();
        }
        let claimers = (0..8)
            .map(|i| {
                if i % 2 == 0 {
                    node_a.clone()
                } else {
                    node_b.clone()
                }
            })
            .collect();
        let claimed = common::acme::claim_all(claimers, 20).await;
        assert!(
            claimed
                .iter()
                .all(|id| id.starts_with(&format!("acmeo_{round}_")))
        );
    }
    drop(node_a);
    drop(node_b);
}
