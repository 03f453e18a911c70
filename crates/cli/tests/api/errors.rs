//! Bad input gets the documented code and nothing is stored.

use serde_json::json;

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn invalid_paths_are_refused() {
    let server = TestServer::start();
    let api = server.client();
    let long = format!("/v1/secrets/{}", "a".repeat(600));
    for path in [
        "/v1/secrets/app//db",
        "/v1/secrets/app/db%00x",
        "/v1/secrets/app/%25/x",
        "/v1/secrets/app/d%20b",
        "/v1/secrets/app/*",
        "/v1/secrets/expiring/x",
        "/v1/secrets/metadata",
        "/v1/secrets/app/db/versions",
        "/v1/secrets/app/db/rotate",
        "/v1/secrets/batch",
        "/v1/secrets/app/%FF",
        long.as_str(),
    ] {
        let (status, body) = api.put(path, json!({"data": {"k": "v"}})).await;
        assert_error(status, &body, 400, "invalid_path");
    }
    // HTTP clients normalise `..` and `%2e%2e` away; send them raw, as an attacker would.
    for path in [
        "app/../db",
        "app/%2e%2e/db",
        "app/%2E%2E/db",
        "app/.%2e/db",
        "..",
        "app/%2e",
    ] {
        let raw = raw_http(
            &server.base_url,
            &format!(
                "PUT /v1/secrets/{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{{\"data\": {{\"k\": \"v\"}}}}",
                server.root_token
            ),
        );
        assert!(raw.starts_with("HTTP/1.1 400"), "{path}: {raw}");
        assert!(raw.contains("invalid_path"), "{path}: {raw}");
    }
    let (_, listing) = api.get("/v1/secrets").await;
    assert_eq!(listing["total_count"], 0, "nothing was stored: {listing}");
    // Reads of traversal paths are refused the same way.
    let raw = raw_http(
        &server.base_url,
        &format!(
            "GET /v1/secrets/app/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            server.root_token
        ),
    );
    assert!(
        raw.starts_with("HTTP/1.1 400") && raw.contains("invalid_path"),
        "{raw}"
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_store_nothing() {
    let server = TestServer::start();
    let api = server.client();
    let path = "/v1/secrets/app/x";
    let cases = [
        json!({"data": "SECRET-IN-WRONG-PLACE"}),
        json!({"data": 12345678}),
        json!({"data": {"k": "v"}, "secret_type": "blob"}),
        json!({"data": {"k": "v"}, "options": {"max_versions": 0}}),
        json!({"data": {"k": "v"}, "options": {"max_versions": 101}}),
        json!({"data": {"k": "v"}, "options": {"max_versions": "ten"}}),
        json!({"data": {"k": "v"}, "options": {"expires_in": "soon"}}),
        json!({"data": {"k": "v"}, "options": {"expires_in": "90"}}),
        json!({"data": {"k": "v"}, "options": {"expires_in": "1d", "expires_at": "2999-01-01T00:00:00Z"}}),
        json!({"data": {"k": "v"}, "options": {"expires_at": "2000-01-01T00:00:00Z"}}),
        json!({"data": {"k": "v"}, "options": {"expires_at": "next week"}}),
        json!({"data": {"k": "v"}, "metadata": {"tags": "not-a-list"}}),
        json!({"data": {"k": "v"}, "metadata": {"colour": "blue"}}),
        json!({"data": {"k": "v"}, "optionz": {}}),
        json!({"secret_type": "kv"}),
        json!(["data"]),
        // Regression (found by schemathesis): serde builds structs from arrays too.
        json!({"data": {"k": "v"}, "options": [null, null]}),
        json!({"data": {"k": "v"}, "metadata": ["description"]}),
    ];
    for body in cases {
        let (status, err) = api.put(path, body.clone()).await;
        assert_error(status, &err, 400, "validation_error");
        assert!(
            !err.to_string().contains("SECRET-IN-WRONG-PLACE"),
            "error echoes a value: {err}"
        );
        assert!(
            !err.to_string().contains("12345678"),
            "error echoes a value: {err}"
        );
    }
    let raw = api
        .request(reqwest::Method::PUT, path)
        .header("content-type", "application/json")
        .body("{\"data\": {");
    let (status, err) = api.send(raw).await;
    assert_error(status, &err, 400, "validation_error");
    let (status, body) = api.get(path).await;
    assert_error(status, &body, 404, "secret_not_found");
    api.put(path, json!({"data": {"k": "v"}})).await;
    for patch in [json!([null, null]), json!({"options": [null, null]})] {
        let (status, err) = api.patch(path, patch).await;
        assert_error(status, &err, 400, "validation_error");
    }

    // Field-naming messages.
    let (_, err) = api
        .put(
            path,
            json!({"data": {"k": "v"}, "options": {"max_versions": 0}}),
        )
        .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("options.max_versions")
    );
    let (_, err) = api
        .put(
            path,
            json!({"data": {"k": "v"}, "options": {"expires_in": "soon"}}),
        )
        .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("options.expires_in")
    );
}

/// Sends raw bytes over TCP and returns the whole response.
fn raw_http(base_url: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let addr = base_url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// Uses curl, which handles a server that answers before the upload ends (reqwest reports
/// that as a broken connection).
#[tokio::test]
async fn oversized_body_is_413() {
    let server = TestServer::start();
    let api = server.client();
    let body = format!(
        "{{\"data\": {{\"blob\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let file = server.root.path().join("big.json");
    std::fs::write(&file, body).unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "-H",
        ])
        .arg(format!("Authorization: Bearer {}", server.root_token))
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg("-w")
        .arg("\n%{http_code}")
        .arg(server.url("/v1/secrets/app/big"))
        .output()
        .expect("curl is required for this test (apt-get install curl)");
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "413", "{text}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(api.get("/v1/secrets/app/big").await.0, 404);
}

#[tokio::test]
async fn auth_errors_and_unknown_routes() {
    let server = TestServer::start();
    let api = server.client();
    let resp = api
        .anonymous()
        .request(reqwest::Method::GET, "/v1/secrets/app/x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "authentication_required");
    let (status, body) = api.with_token("skt_wrong").get("/v1/auth/whoami").await;
    assert_error(status, &body, 401, "authentication_required");
    let malformed = api
        .anonymous()
        .request(reqwest::Method::GET, "/v1/auth/whoami")
        .header("authorization", "Basic Zm9vOmJhcg==");
    let (status, body) = api.send(malformed).await;
    assert_error(status, &body, 401, "authentication_required");

    let (status, body) = api.get("/v1/nothing-here").await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = api
        .send(api.request(reqwest::Method::DELETE, "/v1/auth/whoami"))
        .await;
    assert_error(status, &body, 405, "method_not_allowed");
    let (status, body) = api.post("/v1/secrets/app/x", json!({"data": {}})).await;
    assert_error(status, &body, 405, "method_not_allowed");
    let (status, body) = api.get("/v1/secrets/app/x?versoin=2").await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = api.get("/v1/secrets/app/x?version=0").await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = api.get("/v1/secrets/app/x").await;
    assert_error(status, &body, 404, "secret_not_found");
}
