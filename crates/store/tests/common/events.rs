//! The event outbox and subscriptions.

use scaivault_store::*;
use time::{Duration, OffsetDateTime};

use super::*;

/// The outbox event of `action` on `path` by [`event`] (`aud_` becomes `evt_`).
fn event_id(tenant: &str, action: &str, path: &str, at: OffsetDateTime) -> String {
    format!("evt_{tenant}_{action}_{path}_{}", at.unix_timestamp())
}

pub fn event_data(e: &EventRecord) -> serde_json::Value {
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
pub async fn events(store: &dyn Store) {
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

/// Events no subscription can receive are pruned at once; a subscriber's events stay for the
/// replay window (webhooks: until delivered); the newest seq is never handed out again.
pub async fn outbox_pruning(store: &dyn Store) {
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
