//! Rotation over HTTP on the dev test clock (`--dev-test-clock`): a simulated year of a
//! quarterly policy, a failing generator backing off, the OAuth flow with a webhook consumer
//! supplying the value, and a restart in the middle of a rotation.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Api, TestServer, assert_error};
use crate::events::{Receiver, wait_until};

const CLOCK: &str = "/v1/sys/test-clock";

/// Moves the server's clock and runs the scheduler's round; returns the round's counts.
pub(crate) async fn advance(api: &Api, by: &str) -> Value {
    let (s, body) = api.post(CLOCK, json!({ "advance": by })).await;
    assert_eq!(s, 200, "{body}");
    body["rotation"].clone()
}

/// The events of a poll subscription after `cursor`, moving it.
async fn events_since(api: &Api, subscription: &str, cursor: &mut Option<String>) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let after = cursor
            .as_deref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let (s, body) = api
            .get(&format!(
                "/v1/subscriptions/{subscription}/poll?wait=0s&limit=100{after}"
            ))
            .await;
        assert_eq!(s, 200, "{body}");
        let batch = body["events"].as_array().unwrap().clone();
        if let Some(c) = body["cursor"].as_str() {
            *cursor = Some(c.to_owned());
        }
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

fn count(events: &[Value], event_type: &str) -> usize {
    events
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .count()
}

async fn audit_count(api: &Api, action: &str, resource_type: &str) -> usize {
    let (s, body) = api
        .get(&format!(
            "/v1/audit?action={action}&resource_type={resource_type}&limit=200"
        ))
        .await;
    assert_eq!(s, 200, "{body}");
    body["entries"].as_array().unwrap().len()
}

async fn setup_policies(api: &Api) {
    let (s, body) = api
        .post(
            "/v1/secret-policies",
            json!({"name": "Strong Password", "secret_type": "kv", "fields": [
                {"name": "password", "generator": "random",
                 "config": {"length": 32, "charset": "alphanumeric"}}]}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["id"], "sp_strong_password");
    let (s, body) = api
        .post(
            "/v1/rotation/policies",
            json!({"name": "quarterly", "interval": "90d", "grace_period": "48h",
                   "warn_before": ["7d", "1d"]}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["id"], "rot_quarterly");
    assert_eq!(body["warn_before"], json!(["7d", "1d"]));
}

#[tokio::test]
async fn a_quarterly_policy_rotates_four_times_in_a_simulated_year() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    setup_policies(&api).await;
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "rotations", "paths": ["app/**"],
                   "events": ["rotation.due", "rotation.succeeded", "rotation.failed",
                              "secret.rotated"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let sub = sub["id"].as_str().unwrap().to_owned();

    let (_, start) = api.get(CLOCK).await;
    let (s, body) = api
        .put(
            "/v1/secrets/app/db/password",
            json!({"data": {"password": "initial"},
                   "options": {"rotation_policy_id": "rot_quarterly",
                               "secret_policy_id": "sp_strong_password"}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (_, meta) = api.get("/v1/secrets/metadata/app/db/password").await;
    assert_eq!(meta["rotation_policy"]["id"], "rot_quarterly");
    let start = time::OffsetDateTime::parse(
        start["now"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let next = time::OffsetDateTime::parse(
        meta["rotation_policy"]["next_rotation"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(next - start, time::Duration::days(90));

    // A year in steps of one day; after each rotation, hour steps across the grace period.
    // Like a real consumer, it polls its events as they come (the outbox keeps delivered
    // events for the 7-day replay window) and counts audit entries each quarter (older ones
    // move to the archive after 30 days).
    let mut elapsed = time::Duration::ZERO;
    let mut rotated_at = Vec::new();
    let mut values = vec!["initial".to_owned()];
    let mut events = Vec::new();
    let mut cursor = None;
    let mut audited = [0; 3];
    while elapsed < time::Duration::days(365) {
        let round = advance(&api, "1d").await;
        elapsed += time::Duration::days(1);
        events.extend(events_since(&api, &sub, &mut cursor).await);
        if round["rotations"] == 0 {
            continue;
        }
        assert_eq!(round["rotations"], 1);
        audited[0] += audit_count(&api, "rotate", "secret").await;
        audited[1] += audit_count(&api, "succeeded", "rotation").await;
        audited[2] += audit_count(&api, "due", "rotation").await;
        let (_, entries) = api
            .get("/v1/audit?action=rotate&resource_type=secret")
            .await;
        assert_eq!(entries["entries"][0]["identity_id"], "system:rotation");
        rotated_at.push(elapsed.whole_days());
        let (_, now) = api.get("/v1/secrets/app/db/password").await;
        let version = now["version"].as_u64().unwrap();
        let value = now["data"]["password"].as_str().unwrap().to_owned();
        assert_eq!(value.len(), 32);
        assert!(value.chars().all(|c| c.is_ascii_alphanumeric()), "{value}");
        assert!(!values.contains(&value), "a fresh value every time");
        values.push(value);
        // The previous version stays readable for exactly the 48 h grace period.
        let old = format!("/v1/secrets/app/db/password?version={}", version - 1);
        assert_eq!(api.get(&old).await.0, 200);
        advance(&api, "47h").await;
        let (s, body) = api.get(&old).await;
        assert_eq!(s, 200, "still in grace at 47h: {body}");
        advance(&api, "1h").await;
        let (s, body) = api.get(&old).await;
        assert_error(s, &body, 404, "version_not_found");
        elapsed += time::Duration::hours(48);
    }
    assert_eq!(rotated_at, [90, 180, 270, 360]);
    let (_, now) = api.get("/v1/secrets/app/db/password").await;
    assert_eq!(now["version"], 5);

    // Events: two warnings before each rotation, then rotated + succeeded.
    events.extend(events_since(&api, &sub, &mut cursor).await);
    assert_eq!(count(&events, "secret.rotated"), 4);
    assert_eq!(count(&events, "rotation.succeeded"), 4);
    assert_eq!(count(&events, "rotation.failed"), 0);
    let warnings: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "rotation.due")
        .collect();
    assert_eq!(warnings.len(), 8, "{warnings:?}");
    let offsets: Vec<&str> = warnings
        .iter()
        .map(|e| e["data"]["warn_before"].as_str().unwrap())
        .collect();
    assert_eq!(offsets, ["7d", "1d"].repeat(4));
    let succeeded = events
        .iter()
        .find(|e| e["event_type"] == "rotation.succeeded")
        .unwrap();
    assert_eq!(succeeded["data"]["old_version"], 1);
    assert_eq!(succeeded["data"]["new_version"], 2);
    assert_eq!(succeeded["path"], "app/db/password");

    // An audit entry for every step, by the scheduler.
    assert_eq!(audited, [4, 4, 8]);

    // History: four scheduled runs, newest first, with their versions.
    let (s, history) = api.get("/v1/rotation/policies/rot_quarterly/history").await;
    assert_eq!(s, 200, "{history}");
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(
        runs.iter()
            .all(|r| r["status"] == "succeeded" && r["trigger"] == "schedule")
    );
    assert_eq!(runs[0]["old_version"], 4);
    assert_eq!(runs[0]["new_version"], 5);

    // No secret value in the audit trail or the event data.
    let (_, all) = api.get("/v1/audit?limit=200").await;
    for value in &values[1..] {
        assert!(!all.to_string().contains(value.as_str()));
        assert!(
            !serde_json::to_string(&events)
                .unwrap()
                .contains(value.as_str())
        );
    }

    // `due` lists it only within the window.
    let (_, due) = api.get("/v1/rotation/due?within_hours=24").await;
    assert_eq!(due["secrets"].as_array().unwrap().len(), 0);
    let (_, due) = api.get("/v1/rotation/due?within_hours=2200").await;
    assert_eq!(due["secrets"][0]["path"], "app/db/password");
}

#[tokio::test]
async fn a_failing_generator_is_recorded_and_retried_with_backoff() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let (s, body) = api
        .post(
            "/v1/secret-policies",
            json!({"name": "token", "fields": [{"name": "token", "generator": "bytes"}]}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = api
        .post(
            "/v1/rotation/policies",
            json!({"name": "hourly", "interval": "1h"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    api.put(
        "/v1/secrets/ci/token",
        json!({"data": {"token": "t0"},
               "options": {"rotation_policy_id": "rot_hourly", "secret_policy_id": "sp_token"}}),
    )
    .await;
    // The generator disappears: every attempt fails until it is back.
    assert_eq!(api.delete("/v1/secret-policies/sp_token").await.0, 204);
    assert_eq!(advance(&api, "1h").await["rotations"], 1);
    assert_eq!(
        advance(&api, "59s").await["rotations"],
        0,
        "first retry after 1m"
    );
    assert_eq!(advance(&api, "1s").await["rotations"], 1);
    assert_eq!(
        advance(&api, "119s").await["rotations"],
        0,
        "second retry after 2m"
    );
    assert_eq!(advance(&api, "1s").await["rotations"], 1);
    let (_, failed) = api
        .get("/v1/rotation/policies/rot_hourly/history?status=failed")
        .await;
    let failed = failed["runs"].as_array().unwrap().clone();
    assert_eq!(failed.len(), 3);
    assert_eq!(failed[0]["attempt"], 3);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{failed:?}"
    );
    let (_, due) = api.get("/v1/rotation/due?within_hours=1").await;
    assert_eq!(due["secrets"][0]["state"], "retrying");
    assert_eq!(due["secrets"][0]["attempts"], 3);
    assert_eq!(audit_count(&api, "failed", "rotation").await, 3);
    let (_, v) = api.get("/v1/secrets/ci/token").await;
    assert_eq!(v["version"], 1, "nothing written by a failed attempt");

    // Fixed: the same name gives the same id back, and the next retry succeeds.
    api.post(
        "/v1/secret-policies",
        json!({"name": "token", "fields": [{"name": "token", "generator": "bytes"}]}),
    )
    .await;
    assert_eq!(advance(&api, "4m").await["rotations"], 1);
    let (_, v) = api.get("/v1/secrets/ci/token").await;
    assert_eq!(v["version"], 2);
    assert_eq!(
        v["data"]["token"].as_str().unwrap().len(),
        64,
        "32 bytes, hex"
    );
    let (_, due) = api.get("/v1/rotation/due?within_hours=2").await;
    assert_eq!(due["secrets"][0]["state"], "scheduled");
    assert_eq!(due["secrets"][0]["attempts"], 0);
}

/// "Rotate an OAuth Credential End-to-End": no generator, so the due rotation goes to a
/// webhook consumer, which supplies the new value through the rotate endpoint; the app reads
/// the new value while the old one stays readable through the grace period.
#[tokio::test]
async fn a_webhook_consumer_supplies_the_value_of_a_due_rotation() {
    let receiver = Receiver::start(0);
    let server =
        TestServer::start_with_args(&["--dev-test-clock", "--dev-webhook-network", "127.0.0.0/8"]);
    let api = server.client();
    let (s, body) = api
        .post(
            "/v1/rotation/policies",
            json!({"name": "monthly oauth", "interval": "30d", "grace_period": "1h",
                   "auto_generate": false}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "oauth rotations", "paths": ["environments/production/**"],
                   "events": ["rotation.due", "secret.rotated"],
                   "webhook": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    receiver.set_secret(sub["webhook_secret"].as_str().unwrap());
    let path = "environments/production/salesforce/oauth";
    api.put(
        &format!("/v1/secrets/{path}"),
        json!({"data": {"client_secret": "old-secret"}, "secret_type": "json"}),
    )
    .await;
    let (s, assigned) = api
        .post(
            "/v1/rotation/policies/rot_monthly_oauth/assign",
            json!({"paths": ["environments/production/salesforce/*"]}),
        )
        .await;
    assert_eq!(s, 200, "{assigned}");
    assert_eq!(assigned["paths"], json!([path]));

    advance(&api, "30d").await;
    wait_until("rotation.due at the receiver", || {
        receiver
            .deliveries()
            .iter()
            .any(|d| d["body"]["event_type"] == "rotation.due")
    })
    .await;
    let due = receiver
        .deliveries()
        .into_iter()
        .find(|d| d["body"]["event_type"] == "rotation.due")
        .unwrap();
    assert_eq!(due["verified"], true);
    assert_eq!(due["body"]["path"], path);
    assert_eq!(due["body"]["data"]["awaiting_value"], true);
    // Waiting: the scheduler does not announce it again.
    assert_eq!(advance(&api, "1h").await["rotations"], 0);
    let (_, runs) = api.get("/v1/rotation/runs?status=awaiting_value").await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    // Triggering it again answers with the same waiting run.
    let (s, triggered) = api
        .post("/v1/rotation/policies/rot_monthly_oauth/trigger", json!({}))
        .await;
    assert_eq!(s, 200, "{triggered}");
    assert_eq!(triggered["runs"][0]["id"], runs["runs"][0]["id"]);
    let (_, runs) = api.get("/v1/rotation/runs?status=awaiting_value").await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);

    // The consumer rotates with the value it obtained from the provider.
    let (s, rotated) = api
        .post(
            &format!("/v1/secrets/{path}/rotate"),
            json!({"new_value": {"client_secret": "new-secret"}, "reason": "scheduled"}),
        )
        .await;
    assert_eq!(s, 200, "{rotated}");
    assert_eq!(rotated["version"], 2);
    let (_, read) = api.get(&format!("/v1/secrets/{path}")).await;
    assert_eq!(read["data"]["client_secret"], "new-secret");
    let old = format!("/v1/secrets/{path}?version=1");
    advance(&api, "59m").await;
    let (_, old_read) = api.get(&old).await;
    assert_eq!(old_read["data"]["client_secret"], "old-secret");
    advance(&api, "1m").await;
    let (s, body) = api.get(&old).await;
    assert_error(s, &body, 404, "version_not_found");

    // The waiting run completed; the next cycle starts from the rotation.
    let (_, history) = api
        .get("/v1/rotation/policies/rot_monthly_oauth/history")
        .await;
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["trigger"], "schedule");
    assert_eq!(runs[0]["new_version"], 2);
    let (_, meta) = api.get(&format!("/v1/secrets/metadata/{path}")).await;
    assert!(meta["rotation_policy"]["next_rotation"].is_string());
    wait_until("secret.rotated at the receiver", || {
        receiver
            .deliveries()
            .iter()
            .any(|d| d["body"]["event_type"] == "secret.rotated")
    })
    .await;
}

/// Runs SQL against the (stopped) server's database file.
fn sql(server: &TestServer, statement: &str) {
    let db = server.data_dir().join("scaivault.db");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=30)\nc.executescript(sys.argv[2])\nc.commit()",
        ])
        .arg(&db)
        .arg(statement)
        .output()
        .expect("python3 runs sqlite3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A node that died mid-rotation left a `running` run: on restart the rotation is neither
/// lost (the write had not landed: it runs once) nor doubled (it had landed: recorded only).
#[tokio::test]
async fn a_restart_mid_rotation_neither_loses_nor_doubles_it() {
    let mut server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    setup_policies(&api).await;
    for path in ["app/a", "app/b"] {
        let (s, body) = api
            .put(
                &format!("/v1/secrets/{path}"),
                json!({"data": {"password": "v1"},
                       "options": {"rotation_policy_id": "rot_quarterly",
                                   "secret_policy_id": "sp_strong_password"}}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
    // app/b's rotation wrote version 2, then the node died before recording the run.
    api.put("/v1/secrets/app/b", json!({"data": {"password": "v2"}}))
        .await;
    // Ten minutes before the server's (test) clock: a restarted clock starts later still.
    let now = api.clock_now().await;
    server.kill();
    let started = (now - time::Duration::minutes(10)).unix_timestamp_nanos() / 1000;
    sql(
        &server,
        &format!(
            "INSERT INTO rotation_runs (id, tenant_id, policy_id, path, trigger, status, attempt,
                 old_version, started_at)
             SELECT 'rrun_a', tenant_id, 'rot_quarterly', 'app/a', 'trigger', 'running', 1, 1,
                 {started} FROM secrets WHERE path = 'app/a';
             INSERT INTO rotation_runs (id, tenant_id, policy_id, path, trigger, status, attempt,
                 old_version, started_at)
             SELECT 'rrun_b', tenant_id, 'rot_quarterly', 'app/b', 'trigger', 'running', 1, 1,
                 {started} FROM secrets WHERE path = 'app/b';"
        ),
    );
    server.restart_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let round = advance(&api, "1s").await;
    let (_, all) = api.get("/v1/rotation/runs").await;
    assert_eq!(round["settled"], 2, "{round} {all}");
    let (_, b) = api.get("/v1/rotation/runs?path=app/b").await;
    assert_eq!(b["runs"][0]["status"], "succeeded", "{b}");
    assert_eq!(b["runs"][0]["new_version"], 2);
    let (_, a) = api.get("/v1/rotation/runs?path=app/a").await;
    assert_eq!(a["runs"][0]["status"], "failed", "{a}");
    // The lost one runs again (after the first back-off step) — once.
    advance(&api, "1m").await;
    advance(&api, "1m").await;
    let (_, va) = api.get("/v1/secrets/app/a").await;
    assert_eq!(va["version"], 2, "rotated exactly once");
    let (_, vb) = api.get("/v1/secrets/app/b").await;
    assert_eq!(vb["version"], 2, "not rotated a second time");
    let (_, a) = api.get("/v1/rotation/runs?path=app/a").await;
    let statuses: Vec<&str> = a["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["succeeded", "failed"]);
}

#[tokio::test]
async fn rotation_input_is_validated_with_named_fields() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    for (body, needle) in [
        (json!({"name": "x", "interval": "30s"}), "interval"),
        (
            json!({"name": "x", "interval": "1d", "grace_period": "2d"}),
            "grace_period",
        ),
        (
            json!({"name": "x", "interval": "1d", "warn_before": ["2d"]}),
            "warn_before[0]",
        ),
        (
            json!({"name": "x", "interval": "1d", "window": "0 2 * *"}),
            "window",
        ),
        (json!({"name": "x", "interval": "soon"}), "interval"),
    ] {
        let (s, err) = api.post("/v1/rotation/policies", body).await;
        assert_error(s, &err, 400, "validation_error");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{err}"
        );
    }
    let (s, err) = api
        .post(
            "/v1/secret-policies",
            json!({"name": "bad", "fields": [{"name": "p", "generator": "random",
                   "config": {"length": 2}}]}),
        )
        .await;
    assert_error(s, &err, 400, "validation_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fields[0]"),
        "{err}"
    );
    // A write naming a policy that does not exist is refused, nothing is written.
    let (s, err) = api
        .put(
            "/v1/secrets/app/x",
            json!({"data": {"a": "b"}, "options": {"rotation_policy_id": "rot_nope"}}),
        )
        .await;
    assert_error(s, &err, 400, "validation_error");
    assert_eq!(api.get("/v1/secrets/app/x").await.0, 404);
    // The test clock exists only when asked for.
    let plain = TestServer::start();
    let (s, _) = plain.client().get(CLOCK).await;
    assert_eq!(s, 404);
}

/// Two nodes on one PostgreSQL database: the scheduler rotates a due secret exactly once
/// (one node holds the `rotation` lease; the write is conditional on the run's old version).
#[tokio::test]
async fn two_nodes_rotate_a_due_secret_exactly_once() {
    use crate::common::prod::{ProdServer, TestDatabase};
    let db = TestDatabase::create();
    let a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\nrotation_check_interval = \"1s\"\n",
        db.url
    ));
    let b = a.spawn_node();
    let on_a = a.admin();
    let on_b = b.client(&a.admin_token);
    setup_policies(&on_a).await;
    let (s, body) = on_b
        .post(
            "/v1/rotation/policies",
            json!({"name": "every minute", "interval": "1m"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = on_b
        .put(
            "/v1/secrets/app/minutely",
            json!({"data": {"password": "v1"},
                   "options": {"rotation_policy_id": "rot_every_minute",
                               "secret_policy_id": "sp_strong_password"}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(100);
    loop {
        let (_, v) = on_a.get("/v1/secrets/app/minutely").await;
        if v["version"] == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not rotated within 100 s: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // The scheduler keeps running its rounds (four more, seen as lease renewals: the 4 s the
    // test used to sleep); nothing rotates it again in this cycle.
    db.wait_for_job_rounds(scaivault_server::rotation::JOB, 4)
        .await;
    let (_, v) = on_b.get("/v1/secrets/app/minutely").await;
    assert_eq!(v["version"], 2);
    let (_, runs) = on_a.get("/v1/rotation/runs?path=app/minutely").await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["trigger"], "schedule");
    assert_eq!(audit_count(&on_b, "succeeded", "rotation").await, 1);
    let (s, verify) = on_a.post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200, "{verify}");
    assert_eq!(verify["intact"], true, "{verify}");
}

/// After downtime a missed rotation runs once, on start, not once per missed interval.
#[tokio::test]
async fn missed_rotations_run_once_after_downtime() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    setup_policies(&api).await;
    api.put(
        "/v1/secrets/app/idle",
        json!({"data": {"password": "v1"},
               "options": {"rotation_policy_id": "rot_quarterly",
                           "secret_policy_id": "sp_strong_password"}}),
    )
    .await;
    // Four intervals pass at once (the server was down): one rotation, one warning at most.
    let round = advance(&api, "400d").await;
    assert_eq!(round["rotations"], 1, "{round}");
    assert_eq!(advance(&api, "1d").await["rotations"], 0);
    let (_, v) = api.get("/v1/secrets/app/idle").await;
    assert_eq!(v["version"], 2);
    let (_, due) = api.get("/v1/rotation/due?within_hours=2200").await;
    let next = due["secrets"][0]["next_rotation"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = due["secrets"][0]["last_rotated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!(parse(&next) - parse(&last), time::Duration::days(90));
}
