//! The audit trail over HTTP: one entry per request (allowed, denied or failed), no secrets in
//! it, fail-closed reads and writes, tamper detection, queries.

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{TestServer, assert_error};

/// Sends a request and returns (status, body, request id).
async fn call(
    api: &crate::common::Api,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    let mut rb = api.request(method, path);
    if let Some(body) = body {
        rb = rb.json(&body);
    }
    let response = rb.send().await.unwrap();
    let status = response.status().as_u16();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, request_id)
}

/// Every audit entry of the dev tenant, oldest first.
async fn all_entries(api: &crate::common::Api) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/audit?limit=500&cursor={c}"),
            None => "/v1/audit?limit=500".to_owned(),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200, "{page}");
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    entries.reverse();
    entries
}

/// Runs SQL against the server's live database file (python3's sqlite3 module).
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
        .expect("python3 is needed by the audit tests");
    assert!(
        out.status.success(),
        "sql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (request id, action, outcome, error code, version) of one request's expected entry.
type Expected = (
    String,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<u64>,
);

#[tokio::test]
async fn every_request_writes_exactly_one_entry_with_the_right_fields() {
    let server = TestServer::start();
    let api = server.client();
    let marker = "AUDIT-MARKER-7f3a9c";
    let path = "/v1/secrets/apps/billing/db";
    let mut expected: Vec<Expected> = Vec::new();
    use reqwest::Method as M;

    let (s, _, id) = call(
        &api,
        M::PUT,
        path,
        Some(json!({"data": {"password": marker}})),
    )
    .await;
    assert_eq!(s, 201);
    expected.push((id, "write", "success", None, Some(1)));
    let (s, _, id) = call(
        &api,
        M::PUT,
        path,
        Some(json!({"data": {"password": format!("{marker}-2")}})),
    )
    .await;
    assert_eq!(s, 200);
    expected.push((id, "write", "success", None, Some(2)));
    let (s, body, id) = call(&api, M::GET, path, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["password"], format!("{marker}-2"));
    expected.push((id, "read", "success", None, Some(2)));
    let (s, _, id) = call(&api, M::GET, &format!("{path}?version=1"), None).await;
    assert_eq!(s, 200);
    expected.push((id, "read", "success", None, Some(1)));
    let (s, _, id) = call(&api, M::GET, "/v1/secrets?prefix=apps/", None).await;
    assert_eq!(s, 200);
    expected.push((id, "list", "success", None, None));
    let (s, _, id) = call(&api, M::GET, "/v1/secrets/metadata/apps/billing/db", None).await;
    assert_eq!(s, 200);
    expected.push((id, "read_metadata", "success", None, None));
    let (s, _, id) = call(&api, M::GET, &format!("{path}/versions"), None).await;
    assert_eq!(s, 200);
    expected.push((id, "list_versions", "success", None, None));
    let (s, _, id) = call(
        &api,
        M::PATCH,
        path,
        Some(json!({"metadata": {"description": "db"}})),
    )
    .await;
    assert_eq!(s, 200);
    expected.push((id, "update", "success", None, None));
    let (s, _, id) = call(
        &api,
        M::POST,
        &format!("{path}/rotate"),
        Some(json!({"new_value": {"password": format!("{marker}-3")}})),
    )
    .await;
    assert_eq!(s, 200);
    expected.push((id, "rotate", "success", None, Some(3)));
    let (s, _, id) = call(&api, M::DELETE, path, None).await;
    assert_eq!(s, 204);
    expected.push((id, "delete", "success", None, None));
    let (s, _, id) = call(&api, M::POST, &format!("{path}/restore"), None).await;
    assert_eq!(s, 200);
    expected.push((id, "restore", "success", None, None));
    // Failures and denials are recorded too.
    let (s, _, id) = call(&api, M::GET, "/v1/secrets/apps/missing", None).await;
    assert_eq!(s, 404);
    expected.push((id, "read", "error", Some("secret_not_found"), None));
    let (s, _, id) = call(
        &api,
        M::PUT,
        "/v1/secrets/apps/bad",
        Some(json!({"data": "not an object"})),
    )
    .await;
    assert_eq!(s, 400);
    expected.push((id, "write", "error", Some("validation_error"), None));
    let response = api
        .request(M::PUT, path)
        .header("if-match", "\"1\"")
        .json(&json!({"data": {"x": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    expected.push((id, "write", "error", Some("version_conflict"), None));
    let (s, _, id) = call(&api.with_token("skt_not_a_real_token"), M::GET, path, None).await;
    assert_eq!(s, 401);
    let unauthenticated = id;
    // A narrower token: the denial names the caller.
    let (s, created, id) = call(
        &api,
        M::POST,
        "/v1/auth/tokens",
        Some(json!({"name": "reader", "scopes": ["secrets:read"]})),
    )
    .await;
    assert_eq!(s, 201);
    expected.push((id, "create", "success", None, None));
    let reader_token = created["token"].as_str().unwrap().to_owned();
    let reader = api.with_token(&reader_token);
    let (s, _, id) = call(&reader, M::PUT, path, Some(json!({"data": {"x": 1}}))).await;
    assert_eq!(s, 403);
    let denied = id;
    let (s, _, id) = call(&reader, M::GET, "/v1/audit", None).await;
    assert_eq!(s, 403);
    let audit_denied = id;
    let (s, _, id) = call(
        &api,
        M::DELETE,
        &format!("/v1/auth/tokens/{}", created["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, 204);
    expected.push((id, "revoke", "success", None, None));
    // Routes that touch no resource are not audited.
    assert_eq!(api.get("/health").await.0, 200);
    assert_eq!(api.get("/v1/auth/whoami").await.0, 200);

    let entries = all_entries(&api).await;
    let mut by_request: HashMap<String, Vec<&Value>> = HashMap::new();
    for e in &entries {
        by_request
            .entry(e["request_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(e);
    }
    for (request_id, action, outcome, code, version) in &expected {
        let found = by_request.get(request_id).unwrap_or_else(|| {
            panic!("no entry for {action} ({request_id}); entries: {entries:#?}")
        });
        assert_eq!(found.len(), 1, "exactly one entry per request: {found:#?}");
        let e = found[0];
        assert_eq!(e["action"], *action, "{e}");
        assert_eq!(e["outcome"], *outcome, "{e}");
        assert_eq!(e["error_code"].as_str(), *code, "{e}");
        assert_eq!(e["version"].as_u64(), *version, "{e}");
        assert_eq!(e["identity_id"], "user:root@dev.local");
        assert_eq!(e["identity_type"], "user");
        assert_eq!(e["tenant_id"], "tnt_dev");
        assert_eq!(e["actor_tenant_id"], "tnt_dev");
        assert_eq!(e["partner_id"], "ptn_dev");
        assert_eq!(e["client_ip"], "127.0.0.1");
        assert!(e["id"].as_str().unwrap().starts_with("aud_"));
        assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let write = by_request[&expected[0].0][0];
    assert_eq!(write["path"], "apps/billing/db");
    assert_eq!(write["resource_type"], "secret");
    assert_eq!(write["credential_id"], "tok_dev_root");

    // Unauthenticated requests reach no tenant: they are on the operators' view only.
    let anon = by_request[&unauthenticated][0];
    assert_eq!(anon["identity_id"], "anonymous");
    assert!(anon.get("tenant_id").is_none());
    assert_eq!(anon["outcome"], "denied");
    assert_eq!(anon["error_code"], "authentication_required");
    let d = by_request[&denied][0];
    assert_eq!(d["outcome"], "denied");
    assert_eq!(d["error_code"], "access_denied");
    assert_ne!(d["credential_id"], "tok_dev_root");
    assert_eq!(by_request[&audit_denied][0]["action"], "query");

    // Exactly the requests above (plus the audit queries just made) and nothing else.
    let audited: usize = expected.len() + 3;
    let non_query = entries
        .iter()
        .filter(|e| e["resource_type"] != "audit" || e["outcome"] != "success")
        .count();
    assert_eq!(non_query, audited, "{entries:#?}");

    // No entry carries a secret value or a token.
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(marker));
    assert!(!text.contains(&server.root_token));
    assert!(!text.contains(&reader_token));
    assert!(!text.contains("skt_not_a_real_token"));

    // The trail of one secret, newest first, and filters.
    let (s, trail) = api.get("/v1/audit/trail/apps/billing/db").await;
    assert_eq!(s, 200);
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.last(), Some(&"write"));
    assert!(actions.contains(&"rotate") && actions.contains(&"restore"));
    let (s, reads) = api.get("/v1/audit?action=read&outcome=success").await;
    assert_eq!(s, 200);
    assert_eq!(reads["entries"].as_array().unwrap().len(), 2);
    let (s, summary) = api.get("/v1/audit/summary").await;
    assert_eq!(s, 200);
    assert!(summary["total"].as_u64().unwrap() >= audited as u64);
    assert!(
        summary["by_action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "write" && c["count"] == 5),
        "two writes, a bad body, a conflict and a denial: {summary}"
    );
    assert_eq!(summary["top_paths"][0]["key"], "apps/billing/db");
    let (s, body) = api.get("/v1/audit?outcome=maybe").await;
    assert_error(s, &body, 400, "validation_error");
    let (s, body) = api.get("/v1/audit?start=yesterday").await;
    assert_error(s, &body, 400, "validation_error");
    let (s, body) = api.get("/v1/audit?tenant_id=tnt_other").await;
    assert_error(s, &body, 403, "access_denied");

    let (s, report) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(report["intact"], true, "{report}");
}

#[tokio::test]
async fn reads_and_writes_fail_closed_when_the_audit_trail_cannot_be_written() {
    let server = TestServer::start();
    let api = server.client();
    let path = "/v1/secrets/apps/failclosed";
    let marker = "FAIL-CLOSED-MARKER-1e2d";
    assert_eq!(
        api.put(path, json!({"data": {"v": format!("{marker}-1")}}))
            .await
            .0,
        201
    );
    // The audit table refuses every insert from now on (as a full or read-only disk would).
    sql(
        &server,
        "CREATE TRIGGER audit_refuses BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit disk full'); END;",
    );

    let (s, body) = api.get(path).await;
    assert_error(s, &body, 500, "internal_error");
    assert!(
        !body.to_string().contains(marker),
        "no value served unaudited"
    );
    let (s, body) = api
        .put(path, json!({"data": {"v": format!("{marker}-2")}}))
        .await;
    assert_error(s, &body, 500, "internal_error");
    let (s, body) = api.delete(path).await;
    assert_error(s, &body, 500, "internal_error");
    let (s, body) = api
        .post(
            "/v1/auth/tokens",
            json!({"name": "x", "scopes": ["secrets:read"]}),
        )
        .await;
    assert_error(s, &body, 500, "internal_error");
    assert!(body.get("token").is_none());

    sql(&server, "DROP TRIGGER audit_refuses;");
    let (s, body) = api.get(path).await;
    assert_eq!(s, 200);
    assert_eq!(body["version"], 1, "the refused write did not happen");
    assert_eq!(body["data"]["v"], format!("{marker}-1"));
    let (s, tokens) = api.get("/v1/auth/tokens").await;
    assert_eq!(s, 200);
    assert!(
        tokens["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "x"),
        "no token was created: {tokens}"
    );
}

/// The dev tenant's chain in a verify report (the root token, a partner admin, also sees the
/// partner's chain and the chain of unauthenticated requests).
fn dev_chain(report: &Value) -> &Value {
    report["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tenant_id"] == "tnt_dev")
        .unwrap_or_else(|| panic!("no tnt_dev chain: {report}"))
}

#[tokio::test]
async fn tampering_with_the_database_is_named_by_verify() {
    let server = TestServer::start();
    let api = server.client();
    for i in 0..5 {
        assert_eq!(
            api.put(&format!("/v1/secrets/t/s{i}"), json!({"data": {"i": i}}))
                .await
                .0,
            201
        );
    }
    let (_, report) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(report["intact"], true);

    // Edit the third entry by hand.
    sql(
        &server,
        "UPDATE audit_log SET action = 'read' WHERE chain = 'tnt_dev' AND chain_seq = 3;",
    );
    let (s, report) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(report["intact"], false);
    let chain = dev_chain(&report);
    assert_eq!(chain["tenant_id"], "tnt_dev");
    assert_eq!(chain["broken_at_chain_sequence"], 3);
    assert!(chain["first_break"].as_str().unwrap().contains("altered"));

    // The CLI says so too, and exits non-zero.
    let out = Command::new(crate::common::BIN)
        .args(["audit", "verify"])
        .env("SCAIVAULT_URL", &server.base_url)
        .env("SCAIVAULT_TOKEN", &server.root_token)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("#3"), "{stdout}");

    // Put it back, then delete a row instead.
    sql(
        &server,
        "UPDATE audit_log SET action = 'write' WHERE chain = 'tnt_dev' AND chain_seq = 3;",
    );
    let (_, report) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(report["intact"], true, "{report}");
    sql(
        &server,
        "DELETE FROM audit_log WHERE chain = 'tnt_dev' AND chain_seq = 2;",
    );
    let (_, report) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(report["intact"], false);
    assert_eq!(dev_chain(&report)["broken_at_chain_sequence"], 3);
}

#[tokio::test]
async fn entries_stream_to_the_siem_file_at_least_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("audit.jsonl");
    let server = crate::common::prod::ProdServer::start(&format!(
        "audit_log_file = \"{}\"\naudit_log_file_max_bytes = 4096\naudit_log_file_keep = 2\n",
        sink.display()
    ));
    let admin = server.admin();
    let marker = "SIEM-MARKER-c0ffee";
    let mut request_ids = Vec::new();
    for i in 0..20 {
        let (s, _, id) = call(
            &admin,
            reqwest::Method::PUT,
            &format!("/v1/secrets/siem/s{i}"),
            Some(json!({"data": {"v": marker}})),
        )
        .await;
        assert_eq!(s, 201);
        request_ids.push(id);
    }
    // Delivered in the background: wait for the last request's line.
    let read_all = || {
        let mut text = String::new();
        for name in ["audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"] {
            text.push_str(&std::fs::read_to_string(dir.path().join(name)).unwrap_or_default());
        }
        text
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !read_all().contains(request_ids.last().unwrap()) {
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered: {}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let text = read_all();
    assert!(!text.contains(marker), "no secret value in the SIEM stream");
    assert!(!text.contains(&server.admin_token));
    for line in text.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert!(entry["id"].as_str().unwrap().starts_with("aud_"));
    }
    // The file rotated (4 KiB) and kept at most two old files; the newest entries are there.
    assert!(dir.path().join("audit.jsonl.1").exists());
    assert!(!dir.path().join("audit.jsonl.3").exists());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sink).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn entries_are_sent_to_syslog() {
    let listener = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    listener
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = crate::common::prod::ProdServer::start(&format!("audit_syslog = \"{addr}\"\n"));
    let (s, _, request_id) = call(
        &server.admin(),
        reqwest::Method::GET,
        "/v1/secrets/syslog/missing",
        None,
    )
    .await;
    assert_eq!(s, 404);
    // Messages arrive in commit order; read until this request's entry shows up.
    let mut buf = [0u8; 65536];
    loop {
        let n = listener
            .recv(&mut buf)
            .expect("a syslog message within 10 s");
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            message.starts_with("<36>1 ") || message.starts_with("<37>1 "),
            "RFC 5424 with facility auth: {message}"
        );
        assert!(message.contains(" scaivault - audit - {"), "{message}");
        if message.contains(&request_id) {
            // A 404 is an error outcome: severity warning (4), so PRI 4*8+4 = 36.
            assert!(message.starts_with("<36>1 "), "{message}");
            assert!(
                message.contains("\"error_code\":\"secret_not_found\""),
                "{message}"
            );
            break;
        }
    }
}
