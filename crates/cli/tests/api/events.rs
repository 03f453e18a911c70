//! Events over HTTP: long-poll (prompt, resumable across restarts, filtered by policies),
//! signed webhooks verified by an independent receiver, retries, dead letters, SSRF guard.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::prod::ProdServer;
use crate::common::{TestServer, assert_error};

/// The Python receiver (`common/webhook_receiver.py`), killed on drop.
pub(crate) struct Receiver {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Receiver {
    pub(crate) fn start(fail_first: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/common/webhook_receiver.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path().join("secret"))
            .arg(dir.path().join("log.jsonl"))
            .arg(fail_first.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("receiver port");
        Self { child, port, dir }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn set_secret(&self, secret: &str) {
        std::fs::write(self.dir.path().join("secret"), secret).unwrap();
    }

    pub(crate) fn deliveries(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_waiting_poll_gets_an_event_promptly_and_resumes_after_restart() {
    let mut server = TestServer::start();
    let api = server.client();
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "app", "paths": ["app/**"], "events": ["secret.created", "secret.rotated", "secret.updated"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("sub_"));

    // A poll that waits; the write lands while it waits.
    let poller = {
        let api = api.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let (s, body) = api
                .get(&format!("/v1/subscriptions/{id}/poll?wait=10s"))
                .await;
            (s, body, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        api.put("/v1/secrets/app/db", json!({"data": {"v": 1}}))
            .await
            .0,
        201
    );
    let written = Instant::now();
    let (s, body, answered) = poller.await.unwrap();
    assert_eq!(s, 200, "{body}");
    let lag = answered.saturating_duration_since(written);
    assert!(
        lag < Duration::from_millis(100),
        "delivered {lag:?} after the write"
    );
    assert_eq!(body["events"][0]["event_type"], "secret.created");
    assert_eq!(body["events"][0]["path"], "app/db");
    assert_eq!(body["events"][0]["tenant_id"], "tnt_dev");
    assert!(
        body["events"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("evt_")
    );
    let cursor = body["cursor"].as_str().unwrap().to_owned();

    // Nothing new: an immediate poll returns empty with a cursor.
    let (_, empty) = api
        .get(&format!(
            "/v1/subscriptions/{id}/poll?wait=0s&cursor={cursor}"
        ))
        .await;
    assert_eq!(empty["events"], json!([]), "{empty}");

    // Events written before a restart are there after it, from the saved cursor.
    api.post(
        "/v1/secrets/app/db/rotate",
        json!({"new_value": {"v": 2}, "grace_period": "1h"}),
    )
    .await;
    api.put("/v1/secrets/other/x", json!({"data": {"v": 1}}))
        .await;
    server.restart();
    let api = server.client();
    let (s, body) = api
        .get(&format!(
            "/v1/subscriptions/{id}/poll?wait=0s&cursor={cursor}"
        ))
        .await;
    assert_eq!(s, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "other/x is outside app/**: {body}");
    assert_eq!(events[0]["event_type"], "secret.rotated");
    assert_eq!(events[0]["data"]["old_version"], 1);
    assert_eq!(events[0]["data"]["new_version"], 2);

    let (s, body) = api
        .get(&format!("/v1/subscriptions/{id}/poll?wait=2m"))
        .await;
    assert_error(s, &body, 400, "validation_error");
    let (s, body) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "x", "paths": ["a/**"], "events": ["secret.exploded"]}),
        )
        .await;
    assert_error(s, &body, 400, "validation_error");
}

#[tokio::test]
async fn subscribers_hear_only_about_paths_they_may_read() {
    let server = TestServer::start();
    let admin = server.client();
    let (_, sa) = admin
        .post(
            "/v1/service-accounts",
            json!({"name": "watcher", "roles": ["secrets-reader"]}),
        )
        .await;
    let (_, key) = admin
        .post(
            &format!("/v1/service-accounts/{}/keys", sa["id"].as_str().unwrap()),
            json!({"name": "k"}),
        )
        .await;
    let (_, policy) = admin
        .post(
            "/v1/policies",
            json!({"name": "team-a", "path": "team-a/**", "permissions": ["read"]}),
        )
        .await;
    admin
        .post(
            &format!("/v1/policies/{}/bindings", policy["id"].as_str().unwrap()),
            json!({"identity_type": "service_account", "identity_id": sa["id"]}),
        )
        .await;
    let watcher = server.client().with_token(key["key"].as_str().unwrap());
    let (s, sub) = watcher
        .post(
            "/v1/subscriptions",
            json!({"name": "all", "paths": ["**"], "events": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    admin
        .put("/v1/secrets/team-a/x", json!({"data": {"v": 1}}))
        .await;
    admin
        .put("/v1/secrets/team-b/y", json!({"data": {"v": 1}}))
        .await;
    let (_, body) = watcher
        .get(&format!(
            "/v1/subscriptions/{}/poll?wait=0s",
            sub["id"].as_str().unwrap()
        ))
        .await;
    let paths: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, ["team-a/x"], "{body}");
    // A partner admin only subscribes to tenants of its partner; a tenant user to none.
    let (s, body) = watcher
        .post(
            "/v1/subscriptions",
            json!({"name": "x", "paths": ["**"], "events": ["*"], "tenants": ["tnt_other"]}),
        )
        .await;
    assert_error(s, &body, 403, "access_denied");
}

#[tokio::test]
async fn webhooks_are_signed_retried_in_order_and_dead_lettered() {
    let receiver = Receiver::start(2);
    let server = ProdServer::start(
        "webhook_allowed_networks = [\"127.0.0.0/8\"]\nwebhook_retry_base = \"100ms\"\nwebhook_retry_window = \"1s\"\n",
    );
    let admin = server.admin();
    let (s, sub) = admin
        .post(
            "/v1/subscriptions",
            json!({"name": "hooks", "paths": ["svc/**"], "events": ["*"], "webhook": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let secret = sub["webhook_secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    receiver.set_secret(secret);
    let (_, again) = admin
        .get(&format!(
            "/v1/subscriptions/{}",
            sub["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        again.get("webhook_secret").is_none(),
        "the secret is shown once"
    );

    // Three paths, two versions each: six events, delivered after two forced failures.
    for v in 1..=2 {
        for p in ["a", "b", "c"] {
            let (s, _) = admin
                .put(&format!("/v1/secrets/svc/{p}"), json!({"data": {"v": v}}))
                .await;
            assert!(s == 201 || s == 200);
        }
    }
    wait_until("six delivered events", || {
        receiver
            .deliveries()
            .iter()
            .filter(|d| d["status"] == 200)
            .count()
            >= 6
    })
    .await;
    let deliveries = receiver.deliveries();
    assert!(
        deliveries.iter().all(|d| d["verified"] == true),
        "{deliveries:#?}"
    );
    let failed: Vec<&Value> = deliveries.iter().filter(|d| d["status"] == 500).collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(
        failed[0]["id"], failed[1]["id"],
        "the same event is retried with its id"
    );
    let ok: Vec<&Value> = deliveries.iter().filter(|d| d["status"] == 200).collect();
    let mut ids: Vec<&str> = ok.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(
        ok[0]["id"], failed[0]["id"],
        "retried until it succeeded, first"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        6,
        "each event delivered exactly once successfully"
    );
    // In order per path: created before updated.
    for p in ["svc/a", "svc/b", "svc/c"] {
        let types: Vec<&str> = ok
            .iter()
            .filter(|d| d["body"]["path"] == p)
            .map(|d| d["body"]["event_type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["secret.created", "secret.updated"], "{p}");
    }

    // Rotating the signing secret: the new one (shown once) signs the next deliveries.
    let (s, rotated) = admin
        .post(
            &format!(
                "/v1/subscriptions/{}/rotate-secret",
                sub["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{rotated}");
    let new_secret = rotated["webhook_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    receiver.set_secret(new_secret);
    admin
        .put("/v1/secrets/svc/d", json!({"data": {"v": 1}}))
        .await;
    wait_until("the event after rotation", || {
        receiver
            .deliveries()
            .iter()
            .any(|d| d["body"]["path"] == "svc/d" && d["status"] == 200)
    })
    .await;
    let after = receiver.deliveries();
    let d = after.iter().find(|d| d["body"]["path"] == "svc/d").unwrap();
    assert_eq!(d["verified"], true, "signed with the rotated secret");

    // A receiver that never recovers: retried for the window, then dead-lettered.
    let (s, dead_sub) = admin
        .post(
            "/v1/subscriptions",
            json!({"name": "broken", "paths": ["dl/**"], "events": ["*"], "webhook": receiver.url("/always-fail")}),
        )
        .await;
    assert_eq!(s, 201);
    admin
        .put("/v1/secrets/dl/x", json!({"data": {"v": 1}}))
        .await;
    let dead_id = dead_sub["id"].as_str().unwrap().to_owned();
    let mut dead = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let (_, body) = admin
            .get(&format!("/v1/subscriptions/{dead_id}/dead-letters"))
            .await;
        if !body["dead_letters"].as_array().unwrap().is_empty() {
            dead = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(dead["dead_letters"][0]["last_error"], "HTTP 500", "{dead}");
    assert!(dead["dead_letters"][0]["attempts"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn webhooks_to_internal_addresses_are_refused() {
    let server = TestServer::start();
    let api = server.client();
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "file:///etc/passwd",
        // Regression (issue 14, item 5): IPv6 forms embedding internal IPv4 addresses (NAT64,
        // 6to4, IPv4-compatible, IPv4-translated) and special-purpose ranges were accepted.
        "http://[64:ff9b::7f00:1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b:1::7f00:1]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://[::7f00:1]/hook",
        "http://[::ffff:0:7f00:1]/hook",
        "http://[2001::1]/hook",
        "http://[100::1]/hook",
        "http://192.0.0.1/hook",
    ] {
        let (s, body) = api
            .post(
                "/v1/subscriptions",
                json!({"name": "x", "paths": ["**"], "events": ["*"], "webhook": url}),
            )
            .await;
        assert_error(s, &body, 400, "validation_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("webhook:"),
            "{url}: {body}"
        );
    }
}

/// `--dev-webhook-network` opens exactly the network it names: a receiver on this machine is
/// reachable, the same address through a NAT64 or 6to4 form is not.
#[tokio::test]
async fn the_dev_webhook_network_opens_only_itself() {
    let server = TestServer::start_with_args(&["--dev-webhook-network", "127.0.0.0/8"]);
    let api = server.client();
    let subscribe = |url: &'static str| {
        let api = api.clone();
        async move {
            api.post(
                "/v1/subscriptions",
                json!({"name": "x", "paths": ["**"], "events": ["*"], "webhook": url}),
            )
            .await
        }
    };
    let (s, body) = subscribe("http://127.0.0.1:9/hook").await;
    assert_eq!(s, 201, "{body}");
    for url in [
        "http://[64:ff9b::7f00:1]:9/hook",
        "http://[2002:7f00:1::]:9/hook",
        "http://10.0.0.5/hook",
    ] {
        let (s, body) = subscribe(url).await;
        assert_error(s, &body, 400, "validation_error");
    }
}

/// On the dev test clock: each check is a clock move, so "announced once" is checked over
/// rounds that certainly ran, not over a wait that hopes they did.
#[tokio::test]
async fn expiry_is_announced_once_before_and_once_after() {
    // The dev defaults: expiry_warning 7d.
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let admin = server.client();
    let (s, sub) = admin
        .post(
            "/v1/subscriptions",
            json!({"name": "expiry", "paths": ["exp/**"], "events": ["secret.expiring", "secret.expired"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    let (s, body) = admin
        .put(
            "/v1/secrets/exp/token",
            json!({"data": {"t": 1}, "options": {"expires_in": "3s"}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    // Within the warning: announced at the first check, not again at the next.
    let moved = admin.advance_clock("1s").await;
    assert_eq!(moved["expiry_notices"], 1, "{moved}");
    let moved = admin.advance_clock("1s").await;
    assert_eq!(moved["expiry_notices"], 0, "{moved}");
    // Past its expiry: announced once, and never again at later checks.
    let moved = admin.advance_clock("2s").await;
    assert_eq!(moved["expiry_notices"], 1, "{moved}");
    for _ in 0..3 {
        let moved = admin.advance_clock("1s").await;
        assert_eq!(moved["expiry_notices"], 0, "{moved}");
    }
    let (s, page) = admin
        .get(&format!("/v1/subscriptions/{id}/poll?wait=0s"))
        .await;
    assert_eq!(s, 200, "{page}");
    let seen = page["events"].as_array().unwrap();
    let types: Vec<&str> = seen
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["secret.expiring", "secret.expired"], "{seen:#?}");
    assert_eq!(seen[0]["path"], "exp/token");
    assert_eq!(seen[0]["data"]["days_remaining"], 1);
    assert_eq!(seen[1]["data"]["days_remaining"], 0);
}
