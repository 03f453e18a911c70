//! Secrets: versions, metadata, optimistic concurrency, group commit, tenancy, soft delete,
//! pruning, listing and read counters.

use std::sync::Arc;

use scaivault_store::*;
use time::Duration;

use super::*;

pub async fn versions_and_metadata(store: &dyn Store) {
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

pub async fn optimistic_concurrency_and_failed_seal(store: &dyn Store) {
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

pub async fn concurrent_writers(store: Arc<dyn Store>) {
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
pub async fn failed_writes_do_not_disturb_their_batch(store: Arc<dyn Store>) {
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

pub async fn tenants_are_isolated(store: &dyn Store) {
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

pub async fn delete_restore_purge(store: &dyn Store) {
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

pub async fn pruning_and_rotation(store: &dyn Store) {
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

pub async fn listing(store: &dyn Store) {
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

pub async fn access_counts(store: &dyn Store) {
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
