//! Data key rotation and the background rewrap, through the API and the CLI (docs/keys.md).
//! The provider tests (AWS KMS, PKCS#11, TPM; sealed start) are in keys_providers.rs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Api, BIN, TestServer, assert_error};

async fn keyring(api: &Api) -> Value {
    let (s, body) = api.get("/v1/sys/keys").await;
    assert_eq!(s, 200, "{body}");
    body
}

/// Waits until the rewrap has re-sealed everything under the active key (an event the status
/// reports), with a deadline.
async fn wait_for_rewrap(api: &Api) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = keyring(api).await;
        if status["rewrap"]["pending"] == 0 && status["rewrap"]["running"] == false {
            return status;
        }
        assert!(Instant::now() < deadline, "rewrap did not finish: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// "Key rotation under load loses nothing": reads and writes during the rotation and the
/// rewrap all succeed, every old version still opens afterwards (also after a restart), and
/// every kind of sealed value (secret versions, a CA key, a webhook secret) ends up under the
/// new key.
#[tokio::test]
async fn rotation_under_load_loses_nothing() {
    let mut server = TestServer::start_with_args(&["--dev-webhook-network", "127.0.0.0/8"]);
    let api = server.client();

    // 200 secrets with two versions each, a CA, a webhook subscription.
    let mut expected: HashMap<(String, u64), String> = HashMap::new();
    for i in 0..200 {
        for v in 1..=2u64 {
            let value = format!("value-{i}-{v}");
            let (s, body) = api
                .put(
                    &format!("/v1/secrets/load/s{i}"),
                    json!({"data": {"v": value}}),
                )
                .await;
            assert!(s == 200 || s == 201, "{body}");
            expected.insert((format!("load/s{i}"), v), value);
        }
    }
    let (s, ca) = api
        .post(
            "/v1/pki/cas",
            json!({"name": "rot", "common_name": "Rotation CA"}),
        )
        .await;
    assert_eq!(s, 201, "{ca}");
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "hook", "paths": ["**"], "events": ["secret.rotated"], "webhook": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");

    let before = keyring(&api).await;
    let old_key = before["active_key_id"].as_str().unwrap().to_owned();
    // 400 versions + the CA key + the webhook secret.
    let sealed_before: u64 = before["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["sealed_values"].as_u64().unwrap())
        .sum();
    assert_eq!(sealed_before, 402, "{before}");

    // Load: readers and writers run while the key rotates and the rewrap works.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..4 {
        let api = api.clone();
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut written = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let i = (n * 7 + worker) % 200;
                let (s, body) = api.get(&format!("/v1/secrets/load/s{i}?version=1")).await;
                assert_eq!(s, 200, "read during rotation: {body}");
                assert_eq!(body["data"]["v"], format!("value-{i}-1"));
                let path = format!("load/w{worker}-{n}");
                let (s, body) = api
                    .put(&format!("/v1/secrets/{path}"), json!({"data": {"v": n}}))
                    .await;
                assert!(s == 200 || s == 201, "write during rotation: {body}");
                written.push((path, n));
                n += 1;
            }
            written
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = std::process::Command::new(BIN)
        .args(["operator", "rotate-keys", "--json"])
        .env("SCAIVAULT_URL", &server.base_url)
        .env("SCAIVAULT_TOKEN", &server.root_token)
        .env_remove("SCAIVAULT_TENANT_ID")
        .env_remove("SCAIVAULT_PARTNER_ID")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "operator rotate-keys: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_key = rotated["active_key_id"].as_str().unwrap().to_owned();
    assert_ne!(new_key, old_key);

    let done = wait_for_rewrap(&api).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut written = Vec::new();
    for task in load {
        written.extend(task.await.unwrap());
    }
    assert!(!written.is_empty());
    assert_eq!(done["rewrap"]["failed"], 0, "{done}");
    let keys = done["keys"].as_array().unwrap();
    let data_keys: Vec<&Value> = keys.iter().filter(|k| k["purpose"] == "data").collect();
    assert_eq!(data_keys.len(), 2, "{done}");
    for key in &data_keys {
        let active = key["key_id"] == new_key.as_str();
        assert_eq!(key["active"], active, "{done}");
        // Everything is under the new key now; the old one seals nothing but stays.
        if !active {
            assert_eq!(key["sealed_values"], 0, "{done}");
        }
    }
    assert!(
        !done.to_string().contains("wrapped\""),
        "no wrapped key material in the status: {done}"
    );

    // After a restart (the keyring loads from the store again), everything opens.
    server.restart();
    let api = server.client();
    for ((path, version), value) in &expected {
        let (s, body) = api
            .get(&format!("/v1/secrets/{path}?version={version}"))
            .await;
        assert_eq!(s, 200, "{path} v{version}: {body}");
        assert_eq!(body["data"]["v"], value.as_str());
    }
    for (path, n) in &written {
        let (s, body) = api.get(&format!("/v1/secrets/{path}")).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert_eq!(body["data"]["v"], *n);
    }
    // The CA still signs with its (re-sealed) key.
    let (s, cert) = api
        .post(
            "/v1/pki/certs",
            json!({"ca_id": ca["id"], "common_name": "svc.rot.example", "validity_days": 1}),
        )
        .await;
    assert_eq!(s, 201, "{cert}");
    let after = keyring(&api).await;
    assert_eq!(after["active_key_id"], new_key.as_str(), "{after}");
}

/// Only operators see and rotate the keyring.
#[tokio::test]
async fn keyring_is_for_operators_only() {
    let server = TestServer::start();
    let api = server.client();
    let (s, token) = api
        .post(
            "/v1/auth/tokens",
            json!({"name": "writer", "scopes": ["secrets:read", "secrets:write"], "ttl": "1h"}),
        )
        .await;
    assert_eq!(s, 201, "{token}");
    let writer = api.with_token(token["token"].as_str().unwrap());
    let (s, body) = writer.post("/v1/sys/keys/rotate", json!({})).await;
    assert_error(s, &body, 403, "access_denied");
    let (s, body) = writer.get("/v1/sys/keys").await;
    assert_error(s, &body, 403, "access_denied");
    let (s, body) = api.anonymous().post("/v1/sys/keys/rotate", json!({})).await;
    assert_error(s, &body, 401, "authentication_required");
    // The seal status needs no token, and an unsealed server says so.
    let (s, body) = api.anonymous().get("/v1/sys/seal-status").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["sealed"], false);
    assert_eq!(body["provider"], "file");
    let (s, body) = api.anonymous().post("/v1/sys/unseal", json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["sealed"], false);
}
