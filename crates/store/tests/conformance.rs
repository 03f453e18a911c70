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

use common::*;
use scaivault_store::*;
use time::Duration;

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), 4)
        .await
        .unwrap();
    suite(Arc::new(store.clone())).await;
    store.close().await;
    // Reopening runs migrations idempotently and keeps the data.
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
        Err(StoreError::NotFound)
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

    // Edit: the actor of entry 3 is changed.
    sqlx::query(
        "UPDATE audit_log SET actor_id = 'user:mallory' WHERE chain = ?1 AND chain_seq = 3",
    )
    .bind(t)
    .execute(&mut raw)
    .await
    .unwrap();
    let msg = check("an edit").await;
    assert!(msg.contains("#3") && msg.contains("altered"), "{msg}");
    sqlx::query("UPDATE audit_log SET actor_id = 'user:alice@acme.example' WHERE chain = ?1 AND chain_seq = 3")
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

#[tokio::test]
async fn cached_sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), 4)
        .await
        .unwrap();
    suite(Arc::new(CachedStore::new(store, 16))).await;
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
        Err(StoreError::NotFound)
    ));
    store.restore("t", "c/x", T0, None).await.unwrap();
    store.hard_delete("t", "c/x", None).await.unwrap();
    assert!(matches!(
        store.read_secret("t", "c/x", None, T0).await,
        Err(StoreError::NotFound)
    ));
}
