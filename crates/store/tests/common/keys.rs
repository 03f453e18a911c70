//! The keyring's data keys and the values they seal: data key rotation (a new active key, the
//! old ones kept), root key migration (every wrapped key replaced in one transaction), and the
//! background rewrap's view of the four tables that hold sealed values (paging through what is
//! not under the active key, compare-and-swap reseal, counts per key).

use scaivault_store::*;
use time::Duration;

use super::*;

fn data_key(key_id: &str, purpose: &str, provider: &str, minutes: i64, active: bool) -> StoredKey {
    StoredKey {
        key_id: key_id.into(),
        purpose: purpose.into(),
        provider: provider.into(),
        wrapped: format!("{key_id} wrapped by {provider}").into_bytes(),
        created_at: T0 + Duration::minutes(minutes),
        active,
    }
}

fn blob(key_id: &str, ciphertext: &str) -> SealedBlob {
    SealedBlob {
        key_id: key_id.into(),
        ciphertext: ciphertext.as_bytes().to_vec(),
    }
}

/// The keys as listed, by key id: (purpose, provider, wrapped, created_at, active).
async fn keys_by_id(store: &dyn Store) -> Vec<(String, String, String, Vec<u8>, bool)> {
    let mut keys: Vec<_> = store
        .list_data_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.key_id, k.purpose, k.provider, k.wrapped, k.active))
        .collect();
    keys.sort();
    keys
}

/// Rotation switches the active key of one purpose, keeps the old keys as they were, and does
/// nothing at all when the new key cannot be inserted.
pub async fn keys_data_key_rotation(store: &dyn Store) {
    let dek_1 = data_key("dek_1", "data", "local", 0, true);
    let pep_1 = data_key("pep_1", "token_pepper", "local", 0, true);
    store.insert_data_key(&dek_1).await.unwrap();
    store.insert_data_key(&pep_1).await.unwrap();

    // Inserted as the active key even when the caller left `active` false.
    let dek_2 = data_key("dek_2", "data", "local", 10, false);
    store.rotate_data_key(&dek_2).await.unwrap();
    let listed = store.list_data_keys().await.unwrap();
    assert_eq!(
        listed,
        vec![
            StoredKey {
                active: false,
                ..dek_1.clone()
            },
            pep_1.clone(),
            StoredKey {
                active: true,
                ..dek_2.clone()
            },
        ]
    );

    // Another rotation: the one active key of the purpose changes again, the pepper stays.
    let dek_3 = data_key("dek_3", "data", "local", 20, true);
    store.rotate_data_key(&dek_3).await.unwrap();
    let active: Vec<_> = store
        .list_data_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.active)
        .map(|k| k.key_id)
        .collect();
    assert_eq!(active, vec!["pep_1".to_string(), "dek_3".to_string()]);

    // A key id that exists: Duplicate, and the deactivation is rolled back with it.
    let before = store.list_data_keys().await.unwrap();
    let again = data_key("dek_2", "data", "local", 30, true);
    assert!(matches!(
        store.rotate_data_key(&again).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(store.list_data_keys().await.unwrap(), before);

    // Rotating the pepper leaves the data keys alone.
    store
        .rotate_data_key(&data_key("pep_2", "token_pepper", "local", 40, true))
        .await
        .unwrap();
    let active: Vec<_> = store
        .list_data_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.active)
        .map(|k| k.key_id)
        .collect();
    assert_eq!(active, vec!["dek_3".to_string(), "pep_2".to_string()]);
}

/// Root key migration replaces `wrapped` and `provider` of every listed key, nothing else, all
/// or nothing.
pub async fn keys_root_key_migration(store: &dyn Store) {
    let k1 = data_key("dek_m1", "data", "local", 0, false);
    let k2 = data_key("dek_m2", "data", "local", 5, true);
    let k3 = data_key("pep_m1", "token_pepper", "local", 5, true);
    for k in [&k1, &k2, &k3] {
        store.insert_data_key(k).await.unwrap();
    }

    // Purpose, created_at and active of the argument are ignored: only the wrap changes.
    let rewrapped: Vec<StoredKey> = [&k1, &k2, &k3]
        .into_iter()
        .map(|k| StoredKey {
            purpose: "ignored".into(),
            provider: "awskms".into(),
            wrapped: format!("{} wrapped by kms", k.key_id).into_bytes(),
            created_at: T0 + Duration::days(1),
            active: !k.active,
            key_id: k.key_id.clone(),
        })
        .collect();
    store.replace_wrapped_keys(&rewrapped).await.unwrap();
    let expected: Vec<StoredKey> = [&k1, &k2, &k3]
        .into_iter()
        .map(|k| StoredKey {
            provider: "awskms".into(),
            wrapped: format!("{} wrapped by kms", k.key_id).into_bytes(),
            ..k.clone()
        })
        .collect();
    assert_eq!(store.list_data_keys().await.unwrap(), expected);

    // One missing key id: NotFound, and the keys listed before it are not replaced either.
    let partial = vec![
        StoredKey {
            provider: "pkcs11".into(),
            wrapped: b"dek_m1 wrapped by hsm".to_vec(),
            ..k1.clone()
        },
        StoredKey {
            provider: "pkcs11".into(),
            ..data_key("dek_missing", "data", "local", 0, false)
        },
    ];
    assert!(matches!(
        store.replace_wrapped_keys(&partial).await,
        Err(StoreError::NotFound(Entity::DataKey))
    ));
    assert_eq!(store.list_data_keys().await.unwrap(), expected);

    // Nothing to replace is fine.
    store.replace_wrapped_keys(&[]).await.unwrap();
    assert_eq!(store.list_data_keys().await.unwrap(), expected);
    assert_eq!(keys_by_id(store).await.len(), 3);
}

/// Writes one version of `path` sealed under `key_id` with ciphertext `tag@version`.
async fn write_under(store: &dyn Store, tenant: &str, path: &str, key_id: &'static str, at: i64) {
    let seal = move |version: u64| {
        Ok(SealedBlob {
            key_id: key_id.into(),
            ciphertext: format!("{key_id}@{version}").into_bytes(),
        })
    };
    store
        .write_secret(
            tenant,
            put(path, T0 + Duration::minutes(at)),
            Box::new(seal),
        )
        .await
        .unwrap();
}

fn subscription(tenant: &str, id: &str, secret: Option<SealedBlob>) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: format!("{id} name"),
        paths: vec!["app/*".into()],
        event_types: vec!["secret.rotated".into()],
        tenants: vec![tenant.into()],
        webhook_url: secret
            .as_ref()
            .map(|_| format!("https://hooks.example/{id}")),
        webhook_secret: secret,
        owner_identity: "user:alice@acme.example".into(),
        owner_groups: vec![],
        owner_is_admin: true,
        owner_is_partner_admin: false,
        created_at: T0,
        start_seq: 0,
        delivered_seq: 0,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
    }
}

fn ca(tenant: &str, id: &str, sealed_key: SealedBlob) -> CaRecord {
    CaRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: format!("{id} name"),
        parent_ca_id: None,
        common_name: format!("{id} CA"),
        key_type: "ec-p256".into(),
        cert_der: vec![0x30, 0x82, 1, 2, 3],
        sealed_key,
        serial: "01ab".into(),
        not_before: T0,
        not_after: T0 + Duration::days(3650),
        status: "active".into(),
        separation_of_duties: false,
        settings: "{}".into(),
        imported: false,
        created_at: T0,
        updated_at: T0,
    }
}

fn engine(tenant: &str, name: &str, sealed_secret: SealedBlob) -> EngineRecord {
    EngineRecord {
        tenant_id: tenant.into(),
        name: name.into(),
        kind: "postgres".into(),
        config: "{}".into(),
        sealed_secret,
        created_at: T0,
        updated_at: T0,
        root_rotated_at: None,
    }
}

fn at(tenant: &str, id: &str, version: u64) -> SealedLocator {
    SealedLocator {
        tenant_id: tenant.into(),
        id: id.into(),
        version,
    }
}

/// All rows of `kind` not under `active`, fetched `page` at a time.
async fn all_not_under(
    store: &dyn Store,
    kind: SealedKind,
    active: &str,
    page: u32,
) -> Vec<SealedRow> {
    let mut rows = Vec::new();
    let mut after: Option<SealedLocator> = None;
    loop {
        let got = store
            .sealed_not_under(kind, active, after.as_ref(), page)
            .await
            .unwrap();
        assert!(got.len() <= page as usize);
        let Some(last) = got.last() else {
            return rows;
        };
        after = Some(last.at.clone());
        rows.extend(got);
    }
}

/// Counts per key id as a sorted list (keys with nothing sealed are absent).
async fn counts(store: &dyn Store) -> Vec<(String, u64)> {
    let mut c = store.count_sealed_by_key().await.unwrap();
    c.sort();
    c
}

fn count(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// The rewrap's view: pages of sealed values of each kind not under the active key, in
/// (tenant, id, version) order; compare-and-swap reseal that changes nothing else; counts.
pub async fn keys_sealed_values_rewrap(store: &dyn Store) {
    let (ta, tb) = ("tnt_kr_a", "tnt_kr_b");
    assert_eq!(counts(store).await, count(&[]));

    // Secret versions: app/x v1, v2 under the old key and v3 under the new one; app/y (two
    // tenants) under the old key.
    write_under(store, ta, "app/x", "dek_old", 0).await;
    write_under(store, ta, "app/x", "dek_old", 1).await;
    write_under(store, ta, "app/x", "dek_new", 2).await;
    write_under(store, ta, "app/y", "dek_old", 3).await;
    write_under(store, tb, "app/x", "dek_old", 4).await;
    // Subscriptions: one webhook secret per key, one subscription without a webhook.
    for s in [
        subscription(ta, "sub_kr_1", Some(blob("dek_old", "whsec 1"))),
        subscription(ta, "sub_kr_2", None),
        subscription(tb, "sub_kr_3", Some(blob("dek_new", "whsec 3"))),
        subscription(tb, "sub_kr_4", Some(blob("dek_old", "whsec 4"))),
    ] {
        store.insert_subscription(&s, None).await.unwrap();
    }
    // CAs and engines.
    store
        .insert_ca(&ca(tb, "ca_kr_1", blob("dek_old", "ca key 1")), None)
        .await
        .unwrap();
    store
        .insert_ca(&ca(ta, "ca_kr_2", blob("dek_new", "ca key 2")), None)
        .await
        .unwrap();
    store
        .insert_engine(&engine(ta, "pg", blob("dek_old", "root of pg")), None)
        .await
        .unwrap();
    store
        .insert_engine(&engine(ta, "mysql", blob("dek_old", "root of mysql")), None)
        .await
        .unwrap();
    store
        .insert_engine(&engine(tb, "pg", blob("dek_new", "root of pg b")), None)
        .await
        .unwrap();

    // 4 versions + 2 webhook secrets + 1 CA + 2 engines under the old key.
    assert_eq!(
        counts(store).await,
        count(&[("dek_new", 4), ("dek_old", 9)])
    );

    // Secret versions, paged two at a time, in (tenant, path, version) order.
    let first = store
        .sealed_not_under(SealedKind::SecretVersion, "dek_new", None, 2)
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|r| r.at.clone()).collect::<Vec<_>>(),
        vec![at(ta, "app/x", 1), at(ta, "app/x", 2)]
    );
    assert_eq!(first[0].kind, SealedKind::SecretVersion);
    assert_eq!(first[0].sealed, blob("dek_old", "dek_old@1"));
    let second = store
        .sealed_not_under(SealedKind::SecretVersion, "dek_new", Some(&first[1].at), 2)
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|r| r.at.clone()).collect::<Vec<_>>(),
        vec![at(ta, "app/y", 1), at(tb, "app/x", 1)]
    );
    let third = store
        .sealed_not_under(SealedKind::SecretVersion, "dek_new", Some(&second[1].at), 2)
        .await
        .unwrap();
    assert!(third.is_empty());
    // From the other side: only app/x v3 is not under the old key.
    let under_new = all_not_under(store, SealedKind::SecretVersion, "dek_old", 1).await;
    assert_eq!(under_new.len(), 1);
    assert_eq!(under_new[0].at, at(ta, "app/x", 3));
    assert_eq!(under_new[0].sealed, blob("dek_new", "dek_new@3"));

    // Webhook secrets: version 0, the subscription without a webhook is skipped.
    let hooks = all_not_under(store, SealedKind::WebhookSecret, "dek_new", 1).await;
    assert_eq!(
        hooks
            .iter()
            .map(|r| (r.kind, r.at.clone(), r.sealed.clone()))
            .collect::<Vec<_>>(),
        vec![
            (
                SealedKind::WebhookSecret,
                at(ta, "sub_kr_1", 0),
                blob("dek_old", "whsec 1")
            ),
            (
                SealedKind::WebhookSecret,
                at(tb, "sub_kr_4", 0),
                blob("dek_old", "whsec 4")
            ),
        ]
    );
    let hooks_old = all_not_under(store, SealedKind::WebhookSecret, "dek_old", 10).await;
    assert_eq!(hooks_old.len(), 1);
    assert_eq!(hooks_old[0].at, at(tb, "sub_kr_3", 0));
    // CA keys and engine secrets.
    let cas = all_not_under(store, SealedKind::CaKey, "dek_new", 1).await;
    assert_eq!(cas.len(), 1);
    assert_eq!(
        (cas[0].kind, cas[0].at.clone(), cas[0].sealed.clone()),
        (
            SealedKind::CaKey,
            at(tb, "ca_kr_1", 0),
            blob("dek_old", "ca key 1")
        )
    );
    let engines = all_not_under(store, SealedKind::EngineSecret, "dek_new", 1).await;
    assert_eq!(
        engines
            .iter()
            .map(|r| (r.kind, r.at.clone(), r.sealed.clone()))
            .collect::<Vec<_>>(),
        vec![
            (
                SealedKind::EngineSecret,
                at(ta, "mysql", 0),
                blob("dek_old", "root of mysql")
            ),
            (
                SealedKind::EngineSecret,
                at(ta, "pg", 0),
                blob("dek_old", "root of pg")
            ),
        ]
    );
    // A page size larger than what is left; a key nothing is sealed under sees everything.
    assert_eq!(
        all_not_under(store, SealedKind::SecretVersion, "dek_none", 100)
            .await
            .len(),
        5
    );

    // Reseal a secret's current version: the cached current version (read first, so a cache
    // holds it) is replaced; nothing else of the secret changes.
    let record_before = store.get_secret(tb, "app/x").await.unwrap();
    let (read_before, current) = store.read_secret(tb, "app/x", None, T0).await.unwrap();
    assert_eq!(current.sealed, Some(blob("dek_old", "dek_old@1")));
    let row = second[1].clone();
    assert_eq!(row.at, at(tb, "app/x", 1));
    let new = blob("dek_new", "rewrapped tb app/x 1");
    assert!(store.reseal(&row, &new).await.unwrap());
    let (record, current) = store.read_secret(tb, "app/x", None, T0).await.unwrap();
    assert_eq!(current.sealed, Some(new.clone()));
    assert_eq!(current.version, 1);
    assert_eq!(record, read_before);
    assert_eq!(store.get_secret(tb, "app/x").await.unwrap(), record_before);
    // Once only: the row no longer holds what was read.
    assert!(!store.reseal(&row, &new).await.unwrap());
    assert!(
        !store
            .reseal(&row, &blob("dek_new", "another"))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .read_secret(tb, "app/x", Some(1), T0)
            .await
            .unwrap()
            .1
            .sealed,
        Some(new)
    );

    // An older version, read by number.
    let row = first[0].clone();
    let new = blob("dek_new", "rewrapped ta app/x 1");
    assert!(store.reseal(&row, &new).await.unwrap());
    let (_, v1) = store.read_secret(ta, "app/x", Some(1), T0).await.unwrap();
    assert_eq!(v1.sealed, Some(new));
    let (_, v2) = store.read_secret(ta, "app/x", Some(2), T0).await.unwrap();
    assert_eq!(v2.sealed, Some(blob("dek_old", "dek_old@2")));

    // A locator that names no row (another version, another tenant): false.
    let mut elsewhere = first[1].clone();
    elsewhere.at.version = 9;
    assert!(
        !store
            .reseal(&elsewhere, &blob("dek_new", "x"))
            .await
            .unwrap()
    );
    let mut elsewhere = first[1].clone();
    elsewhere.at.tenant_id = tb.into();
    assert!(
        !store
            .reseal(&elsewhere, &blob("dek_new", "x"))
            .await
            .unwrap()
    );

    // A version deleted meanwhile: false.
    store
        .delete_version(ta, "app/x", 2, T0 + Duration::minutes(30), None)
        .await
        .unwrap();
    assert!(
        !store
            .reseal(&first[1], &blob("dek_new", "x"))
            .await
            .unwrap()
    );

    // A webhook secret changed meanwhile (same key, new ciphertext): false, the new one stays.
    let changed = blob("dek_old", "whsec 1 rotated");
    assert!(
        store
            .set_webhook_secret(ta, "sub_kr_1", &changed, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reseal(&hooks[0], &blob("dek_new", "x"))
            .await
            .unwrap()
    );
    let sub = store
        .get_subscription(ta, "sub_kr_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.webhook_secret, Some(changed));
    // The other one is resealed.
    let new = blob("dek_new", "whsec 4 rewrapped");
    assert!(store.reseal(&hooks[1], &new).await.unwrap());
    let sub = store
        .get_subscription(tb, "sub_kr_4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub, subscription(tb, "sub_kr_4", Some(new.clone())));
    // A subscription without a webhook has nothing to reseal.
    let no_hook = SealedRow {
        kind: SealedKind::WebhookSecret,
        at: at(ta, "sub_kr_2", 0),
        sealed: blob("dek_old", "whsec 1"),
    };
    assert!(!store.reseal(&no_hook, &blob("dek_new", "x")).await.unwrap());
    assert_eq!(
        store.get_subscription(ta, "sub_kr_2").await.unwrap(),
        Some(subscription(ta, "sub_kr_2", None))
    );

    // The CA key: the record is the same but for the sealed key (updated_at stays).
    let new = blob("dek_new", "ca key 1 rewrapped");
    assert!(store.reseal(&cas[0], &new).await.unwrap());
    assert_eq!(
        store.get_ca(tb, "ca_kr_1").await.unwrap(),
        Some(ca(tb, "ca_kr_1", new.clone()))
    );
    assert!(!store.reseal(&cas[0], &new).await.unwrap());
    // A version other than 0 names no CA.
    let mut odd = cas[0].clone();
    odd.at.version = 1;
    odd.sealed = new.clone();
    assert!(!store.reseal(&odd, &blob("dek_new", "x")).await.unwrap());

    // Engine secrets: one resealed, the engine's record otherwise unchanged.
    let new = blob("dek_new", "root of mysql rewrapped");
    assert!(store.reseal(&engines[0], &new).await.unwrap());
    assert_eq!(
        store.get_engine(ta, "mysql").await.unwrap(),
        Some(engine(ta, "mysql", new))
    );
    assert_eq!(
        store.get_engine(ta, "pg").await.unwrap(),
        Some(engine(ta, "pg", blob("dek_old", "root of pg")))
    );

    // What is left under the old key: app/y v1, sub_kr_1 (changed meanwhile), pg's root.
    let left: Vec<(SealedKind, SealedLocator)> = {
        let mut left = Vec::new();
        for kind in SealedKind::ALL {
            for row in all_not_under(store, kind, "dek_new", 2).await {
                assert_eq!(row.sealed.key_id, "dek_old");
                left.push((row.kind, row.at));
            }
        }
        left
    };
    assert_eq!(
        left,
        vec![
            (SealedKind::SecretVersion, at(ta, "app/y", 1)),
            (SealedKind::WebhookSecret, at(ta, "sub_kr_1", 0)),
            (SealedKind::EngineSecret, at(ta, "pg", 0)),
        ]
    );
    // 9 under the old key, less 5 resealed, less the deleted version.
    assert_eq!(
        counts(store).await,
        count(&[("dek_new", 9), ("dek_old", 3)])
    );
}
