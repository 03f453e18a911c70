//! Several server processes on one PostgreSQL database behave as one service.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::prod::{ProdServer, TestDatabase};

#[tokio::test]
async fn two_nodes_on_one_postgres_database_act_as_one_service() {
    let db = TestDatabase::create();
    let mut a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\n",
        db.url
    ));
    let b = a.spawn_node();
    let on_a = a.admin();
    let on_b = b.client(&a.admin_token);

    // A write on one node is read on the other at once.
    assert_eq!(
        on_a.put("/v1/secrets/app/db", json!({"data": {"v": "a1"}}))
            .await
            .0,
        201
    );
    let (s, body) = on_b.get("/v1/secrets/app/db").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["v"], "a1");
    assert_eq!(
        on_b.put("/v1/secrets/app/db", json!({"data": {"v": "b2"}}))
            .await
            .0,
        200
    );
    let (_, body) = on_a.get("/v1/secrets/app/db").await;
    assert_eq!(
        body["data"]["v"], "b2",
        "no stale read cache on a shared store"
    );

    // Concurrent writers on both nodes get unique, gap-free versions.
    let mut tasks = Vec::new();
    for (node, api) in [("a", on_a.clone()), ("b", on_b.clone())] {
        for i in 0..15 {
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                let (s, body) = api
                    .put(
                        "/v1/secrets/app/counter",
                        json!({"data": {"by": format!("{node}{i}")}}),
                    )
                    .await;
                assert!(s == 200 || s == 201, "{body}");
                body["version"].as_u64().unwrap()
            }));
        }
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=30).collect::<Vec<u64>>());

    // A token revoked on node A is refused by node B at once, although B had it cached.
    let (_, pat) = on_a
        .post(
            "/v1/auth/tokens",
            json!({"name": "short", "scopes": ["secrets:read"]}),
        )
        .await;
    let pat_on_b = b.client(pat["token"].as_str().unwrap());
    assert_eq!(
        pat_on_b.get("/v1/auth/whoami").await.0,
        200,
        "now cached on B"
    );
    assert_eq!(
        on_a.delete(&format!("/v1/auth/tokens/{}", pat["id"].as_str().unwrap()))
            .await
            .0,
        204
    );
    let revoked = Instant::now();
    while pat_on_b.get("/v1/auth/whoami").await.0 != 401 {
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "node B kept accepting a revoked token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A policy created on node A reaches node B's cache at once (LISTEN/NOTIFY).
    let (_, sa) = on_a
        .post(
            "/v1/service-accounts",
            json!({"name": "reader", "roles": ["secrets-reader"]}),
        )
        .await;
    let (_, key) = on_a
        .post(
            &format!("/v1/service-accounts/{}/keys", sa["id"].as_str().unwrap()),
            json!({"name": "k"}),
        )
        .await;
    let reader_b = b.client(key["key"].as_str().unwrap());
    assert_eq!(reader_b.get("/v1/secrets/app/db").await.0, 403);
    let (_, policy) = on_a
        .post(
            "/v1/policies",
            json!({"name": "app", "path": "app/**", "permissions": ["read"]}),
        )
        .await;
    on_a.post(
        &format!("/v1/policies/{}/bindings", policy["id"].as_str().unwrap()),
        json!({"identity_type": "service_account", "identity_id": sa["id"]}),
    )
    .await;
    let changed = Instant::now();
    while reader_b.get("/v1/secrets/app/db").await.0 != 200 {
        assert!(
            changed.elapsed() < Duration::from_secs(5),
            "policy never reached node B"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The audit chain written by both nodes verifies, from either.
    let (s, report) = on_b.post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(report["intact"], true, "{report}");

    // Node A dies; node B keeps serving everything acknowledged.
    a.kill();
    let (s, body) = on_b.get("/v1/secrets/app/counter").await;
    assert_eq!(s, 200);
    assert_eq!(body["version"], 30);
}

#[tokio::test]
async fn one_node_delivers_webhooks_without_duplicates() {
    let db = TestDatabase::create();
    let receiver = crate::events::Receiver::start(0);
    let a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\nwebhook_allowed_networks = [\"127.0.0.0/8\"]\n",
        db.url
    ));
    let b = a.spawn_node();
    let on_a = a.admin();
    let on_b = b.client(&a.admin_token);
    let (s, sub) = on_a
        .post(
            "/v1/subscriptions",
            json!({"name": "hooks", "paths": ["svc/**"], "events": ["*"], "webhook": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    receiver.set_secret(sub["webhook_secret"].as_str().unwrap());
    for i in 0..10 {
        let api = if i % 2 == 0 { &on_a } else { &on_b };
        assert_eq!(
            api.put(&format!("/v1/secrets/svc/s{i}"), json!({"data": {"i": i}}))
                .await
                .0,
            201
        );
    }
    crate::events::wait_until("ten deliveries", || receiver.deliveries().len() >= 10).await;
    // Give a second deliverer, if there were one, time to duplicate.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deliveries = receiver.deliveries();
    let mut ids: Vec<&str> = deliveries
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), 10, "every event delivered");
    assert_eq!(total, 10, "and only once, by one node: {deliveries:#?}");
    assert!(deliveries.iter().all(|d| d["verified"] == true));
}
