//! Several server processes on one PostgreSQL database behave as one service.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::prod::{ProdServer, TestDatabase};

/// Acknowledged writes: (path index, version, value, node index).
type Acked = std::sync::Arc<std::sync::Mutex<Vec<(usize, u64, String, usize)>>>;

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
    // Two more rounds of the deliverer after the last delivery: a duplicate, if any deliverer
    // sent one, would have been sent by now.
    db.wait_for_job_rounds("webhooks", 2).await;
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

/// The holder of each background job's lease, read from the shared database.
fn lease_holders(db: &TestDatabase) -> std::collections::HashMap<String, String> {
    let out = scaivault_testpeers::psql_command()
        .arg(&db.url)
        .args([
            "-At",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "SELECT job, holder FROM job_leases",
        ])
        .output()
        .expect("psql (the PostgreSQL client) is needed by the cluster tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(job, holder)| (job.to_owned(), holder.to_owned()))
        .collect()
}

/// Waits up to `secs` for `done`, failing with `what` (failover takes up to a lease, 15 s, plus
/// a round, 5 s: longer than `events::wait_until` allows).
async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(event_type, path)` of every delivery, and whether every id arrived exactly once.
fn delivered(receiver: &crate::events::Receiver) -> (Vec<(String, String)>, Vec<String>) {
    let deliveries = receiver.deliveries();
    assert!(
        deliveries.iter().all(|d| d["verified"] == true),
        "{deliveries:#?}"
    );
    let mut seen = Vec::new();
    let mut ids = Vec::new();
    for d in &deliveries {
        ids.push(d["id"].as_str().unwrap().to_owned());
        seen.push((
            d["body"]["event_type"].as_str().unwrap().to_owned(),
            d["body"]["path"].as_str().unwrap().to_owned(),
        ));
    }
    seen.sort_unstable();
    (seen, ids)
}

/// Three nodes on one database under concurrent writers and readers on every node; one node is
/// killed (SIGKILL) in the middle of the load. Nothing acknowledged is lost, versions stay
/// unique and gap-free, the survivors keep taking writes, background jobs (webhook delivery,
/// expiry notices) run on one node at a time and move to a survivor when their holder dies,
/// every event is delivered exactly once, and the audit chain written by all three verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_survive_a_node_kill_under_load() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    const PATHS: usize = 24;
    const WRITERS: usize = 6;
    const READERS: usize = 3;
    /// Writes acknowledged before the kill, then after it (max_versions 100 keeps them all).
    const BEFORE_KILL: usize = 480;
    const AFTER_KILL: usize = 480;

    let db = TestDatabase::create();
    let receiver = crate::events::Receiver::start(0);
    // Expiry notices every second (lease: 15 s); the webhook job's round is 5 s (lease 15 s).
    let mut a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\nwebhook_allowed_networks = [\"127.0.0.0/8\"]\nexpiry_check_interval = \"1s\"\nexpiry_warning = \"7d\"\n",
        db.url
    ));
    let b = a.spawn_node();
    let c = a.spawn_node();
    let nodes = [
        a.admin(),
        b.client(&a.admin_token),
        c.client(&a.admin_token),
    ];

    // Node A started first, so it holds every job's lease.
    let (s, sub) = nodes[0]
        .post(
            "/v1/subscriptions",
            json!({"name": "hooks", "paths": ["hooks/**"], "events": ["*"], "webhook": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    receiver.set_secret(sub["webhook_secret"].as_str().unwrap());
    let mut expected = Vec::new();
    for i in 0..6 {
        let path = format!("hooks/before/s{i}");
        let (s, body) = nodes[i % 3]
            .put(
                &format!("/v1/secrets/{path}"),
                json!({"data": {"i": i}, "options": {"expires_in": "1h"}}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        expected.push(("secret.created".to_owned(), path.clone()));
        expected.push(("secret.expiring".to_owned(), path));
    }
    expected.sort_unstable();
    wait_for("the events before the kill", 20, || {
        receiver.deliveries().len() >= expected.len()
    })
    .await;
    // Wait until the deliverer has recorded its cursor at the tenant's newest event (delivery
    // is at least once across a failover: an event delivered but not yet recorded when its
    // deliverer dies is delivered again).
    let sub_id = sub["id"].as_str().unwrap();
    wait_for("the delivery cursor to be recorded", 20, || {
        db.query(&format!(
            "SELECT s.delivered_seq >= (SELECT max(e.seq) FROM events e WHERE e.tenant_id = s.tenant_id)
             FROM subscriptions s WHERE s.id = '{sub_id}'"
        )) == "t"
    })
    .await;
    let holders = lease_holders(&db);
    let holder_a = holders["webhooks"].clone();
    assert_eq!(holders["expiry-notices"], holder_a, "{holders:?}");

    // Concurrent writers and readers on all three nodes, on shared paths.
    let acked_max: Arc<Vec<AtomicU64>> = Arc::new((0..PATHS).map(|_| AtomicU64::new(0)).collect());
    let acked: Acked = Arc::default();
    let issued = Arc::new(AtomicUsize::new(0));
    let a_dead = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (nodes, acked, acked_max, issued, a_dead, stop) = (
            nodes.clone(),
            acked.clone(),
            acked_max.clone(),
            issued.clone(),
            a_dead.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut k = w;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                let n = issued.fetch_add(1, Ordering::SeqCst);
                let p = n % PATHS;
                let dead = a_dead.load(Ordering::SeqCst);
                let node = if dead { 1 + k % 2 } else { k % 3 };
                let value = format!("w{w}-{n}");
                let api = &nodes[node];
                let sent = api
                    .request(reqwest::Method::PUT, &format!("/v1/secrets/load/p{p}"))
                    .json(&json!({"data": {"value": value}, "options": {"max_versions": 100}}))
                    .send()
                    .await;
                let resp = match sent {
                    Ok(r) => r,
                    // In flight to node A when it died: not acknowledged.
                    Err(e) if node == 0 && a_dead.load(Ordering::SeqCst) => {
                        let _ = e;
                        continue;
                    }
                    Err(e) => panic!("write to node {node}: {e}"),
                };
                let status = resp.status().as_u16();
                let body: serde_json::Value = match resp.json().await {
                    Ok(b) => b,
                    Err(_) if node == 0 && a_dead.load(Ordering::SeqCst) => continue,
                    Err(e) => panic!("write to node {node}: {e}"),
                };
                assert!(status == 200 || status == 201, "node {node}: {body}");
                let version = body["version"].as_u64().unwrap();
                acked_max[p].fetch_max(version, Ordering::SeqCst);
                acked.lock().unwrap().push((p, version, value, node));
            }
        }));
    }
    let mut readers = Vec::new();
    for r in 0..READERS {
        let (nodes, acked_max, a_dead, stop, reads) = (
            nodes.clone(),
            acked_max.clone(),
            a_dead.clone(),
            stop.clone(),
            reads.clone(),
        );
        readers.push(tokio::spawn(async move {
            let mut k = r;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                let p = (k * 7) % PATHS;
                let node = if a_dead.load(Ordering::SeqCst) {
                    1 + k % 2
                } else {
                    k % 3
                };
                // Every write acknowledged before the read starts is visible to it, on any node.
                let floor = acked_max[p].load(Ordering::SeqCst);
                let sent = nodes[node]
                    .request(reqwest::Method::GET, &format!("/v1/secrets/load/p{p}"))
                    .send()
                    .await;
                let resp = match sent {
                    Ok(r) => r,
                    Err(_) if node == 0 && a_dead.load(Ordering::SeqCst) => continue,
                    Err(e) => panic!("read from node {node}: {e}"),
                };
                let status = resp.status().as_u16();
                let Ok(body) = resp.json::<serde_json::Value>().await else {
                    assert!(node == 0 && a_dead.load(Ordering::SeqCst));
                    continue;
                };
                if floor == 0 && status == 404 {
                    continue;
                }
                assert_eq!(status, 200, "node {node}: {body}");
                let version = body["version"].as_u64().unwrap();
                assert!(
                    version >= floor,
                    "node {node} served load/p{p} v{version} after v{floor} was acknowledged"
                );
                reads.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }

    // Kill node A in the middle of the load.
    let count = |acked: &Acked| acked.lock().unwrap().len();
    wait_for("writes before the kill", 60, || {
        count(&acked) >= BEFORE_KILL
    })
    .await;
    a_dead.store(true, Ordering::SeqCst);
    a.kill();
    let killed_at = count(&acked);
    wait_for("writes after the kill", 60, || {
        count(&acked) >= killed_at + AFTER_KILL
    })
    .await;

    // Events written after the kill: node A still holds the leases until they expire, then a
    // survivor delivers them (and announces the new expiries) exactly once.
    for i in 0..4 {
        let path = format!("hooks/after/s{i}");
        let (s, body) = nodes[1 + i % 2]
            .put(
                &format!("/v1/secrets/{path}"),
                json!({"data": {"i": i}, "options": {"expires_in": "1h"}}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        expected.push(("secret.created".to_owned(), path.clone()));
        expected.push(("secret.expiring".to_owned(), path));
    }
    expected.sort_unstable();
    stop.store(true, Ordering::SeqCst);
    for t in writers.into_iter().chain(readers) {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.iter().skip(killed_at).any(|w| w.3 == 1)
            && acked.iter().skip(killed_at).any(|w| w.3 == 2),
        "both survivors took writes after the kill"
    );
    assert!(
        acked.iter().take(killed_at).any(|w| w.3 == 0),
        "node A took writes before the kill"
    );
    assert!(reads.load(Ordering::SeqCst) > 100, "readers ran");

    wait_for("the events after the kill (failover)", 45, || {
        receiver.deliveries().len() >= expected.len()
    })
    .await;
    // Two more rounds of the (surviving) deliverer after the last delivery: a duplicate, if any
    // deliverer sent one, would have been sent by now.
    db.wait_for_job_rounds("webhooks", 2).await;
    let (seen, mut ids) = delivered(&receiver);
    assert_eq!(seen, expected, "each event delivered exactly once");
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "no event id delivered twice");
    let holders = lease_holders(&db);
    for job in ["webhooks", "expiry-notices"] {
        assert_ne!(
            holders[job], holder_a,
            "{job}: a survivor took over the dead node's lease"
        );
    }

    // Every acknowledged write reads back on both survivors; versions are unique and gap-free.
    let mut by_path: Vec<Vec<(u64, String)>> = vec![Vec::new(); PATHS];
    for (p, version, value, _) in &acked {
        by_path[*p].push((*version, value.clone()));
    }
    let mut checks = Vec::new();
    for (p, writes) in by_path.into_iter().enumerate() {
        let mut versions: Vec<u64> = writes.iter().map(|w| w.0).collect();
        versions.sort_unstable();
        let unique = versions.len();
        versions.dedup();
        assert_eq!(
            versions.len(),
            unique,
            "load/p{p}: a version acknowledged twice"
        );
        for api in [nodes[1].clone(), nodes[2].clone()] {
            let writes = writes.clone();
            checks.push(tokio::spawn(async move {
                let (s, list) = api.get(&format!("/v1/secrets/load/p{p}/versions")).await;
                assert_eq!(s, 200, "{list}");
                let mut live: Vec<u64> = list["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["version"].as_u64().unwrap())
                    .collect();
                live.sort_unstable();
                // Writes in flight to node A may have committed unacknowledged: still no gaps.
                assert_eq!(
                    live,
                    (1..=live.len() as u64).collect::<Vec<u64>>(),
                    "load/p{p}"
                );
                for (version, value) in writes {
                    let (s, body) = api
                        .get(&format!("/v1/secrets/load/p{p}?version={version}"))
                        .await;
                    assert_eq!(s, 200, "load/p{p} v{version} lost: {body}");
                    assert_eq!(
                        body["data"]["value"],
                        value.as_str(),
                        "load/p{p} v{version}"
                    );
                }
            }));
        }
    }
    for t in checks {
        t.await.unwrap();
    }

    // The audit chain written by all three nodes verifies on a survivor.
    let (s, report) = nodes[2].post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(report["intact"], true, "{report}");
}

/// A data key rotated through one node: the other node (which leads the rewrap job, having
/// started first) reloads the keyring from the change feed, reads what the first node seals
/// under the new key, and re-seals every older value at once rather than at its next round.
#[tokio::test]
async fn a_rotation_on_one_node_reaches_the_other_and_the_rewrap_finishes() {
    let db = TestDatabase::create();
    let a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\n",
        db.url
    ));
    let on_a = a.admin();
    for i in 0..50 {
        let (s, body) = on_a
            .put(&format!("/v1/secrets/rot/s{i}"), json!({"data": {"v": i}}))
            .await;
        assert_eq!(s, 201, "{body}");
    }
    let b = a.spawn_node();
    let on_b = b.client(&a.admin_token);
    let (s, rotated) = on_b.post("/v1/sys/keys/rotate", json!({})).await;
    assert_eq!(s, 200, "{rotated}");
    let new_key = rotated["active_key_id"].as_str().unwrap().to_owned();

    // Sealed by b under the new key, read on a once its keyring has the key.
    let (s, body) = on_b
        .put("/v1/secrets/rot/after", json!({"data": {"v": "new"}}))
        .await;
    assert_eq!(s, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, body) = on_a.get("/v1/secrets/rot/after").await;
        if s == 200 {
            assert_eq!(body["data"]["v"], "new");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a never read the new key's value: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The rewrap (led by a, the job's lease holder since its start) finishes well inside its
    // 5-minute round.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, status) = on_a.get("/v1/sys/keys").await;
        assert_eq!(s, 200, "{status}");
        if status["rewrap"]["pending"] == 0 {
            assert_eq!(status["active_key_id"], new_key.as_str(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "rewrap did not finish: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 0..50 {
        let (s, body) = on_b.get(&format!("/v1/secrets/rot/s{i}")).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["data"]["v"], i);
    }
}
