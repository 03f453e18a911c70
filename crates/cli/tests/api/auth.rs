//! Personal access tokens and scopes.

use serde_json::json;

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn scoped_tokens_are_enforced_listed_and_revoked() {
    let server = TestServer::start();
    let api = server.client();
    api.put("/v1/secrets/app/db", json!({"data": {"password": "pw"}}))
        .await;

    let (status, created) = api
        .post(
            "/v1/auth/tokens",
            json!({"name": "ci read-only", "scopes": ["secrets:read"], "ttl": "1h"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("skt_"));
    assert!(created["id"].as_str().unwrap().starts_with("tok_"));
    assert_eq!(created["scopes"], json!(["secrets:read"]));
    assert!(created["expires_at"].as_str().is_some());

    let reader = api.with_token(&token);
    let (_, me) = reader.get("/v1/auth/whoami").await;
    assert_eq!(me["scopes"], json!(["secrets:read"]));
    assert_eq!(me["identity_id"], "user:root@dev.local");
    assert_eq!(reader.get("/v1/secrets/app/db").await.0, 200);
    let (status, body) = reader
        .put("/v1/secrets/app/db", json!({"data": {"password": "x"}}))
        .await;
    assert_error(status, &body, 403, "access_denied");
    let (status, body) = reader.delete("/v1/secrets/app/db").await;
    assert_error(status, &body, 403, "access_denied");
    // A token cannot mint more than it has.
    let (status, body) = reader
        .post(
            "/v1/auth/tokens",
            json!({"name": "escalate", "scopes": ["secrets:write"]}),
        )
        .await;
    assert_error(status, &body, 403, "access_denied");

    // Listed without plaintext.
    let (status, list) = api.get("/v1/auth/tokens").await;
    assert_eq!(status, 200);
    assert!(!list.to_string().contains(&token));
    assert!(
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == created["id"])
    );

    // Revocation takes effect on the next request, cache or not.
    let (status, _) = api
        .delete(&format!(
            "/v1/auth/tokens/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 204);
    let (status, body) = reader.get("/v1/secrets/app/db").await;
    assert_error(status, &body, 401, "authentication_required");
    let (status, body) = api
        .delete(&format!(
            "/v1/auth/tokens/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn token_requests_are_validated_and_tokens_expire() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    for bad in [
        json!({"name": "x", "scopes": ["secrets:admin"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "", "scopes": ["secrets:read"]}),
        json!({"name": "x", "scopes": ["secrets:read"], "ttl": "forever"}),
        json!({"name": "x", "scopes": ["secrets:read"], "ttl": "400d"}),
    ] {
        let (status, body) = api.post("/v1/auth/tokens", bad).await;
        assert_error(status, &body, 400, "validation_error");
    }
    let (_, created) = api
        .post(
            "/v1/auth/tokens",
            json!({"name": "short", "scopes": ["secrets:read"], "ttl": "3s"}),
        )
        .await;
    let short = api.with_token(created["token"].as_str().unwrap());
    assert_eq!(short.get("/v1/auth/whoami").await.0, 200);
    api.advance_clock("2s").await;
    assert_eq!(short.get("/v1/auth/whoami").await.0, 200, "not yet expired");
    api.advance_clock("2s").await;
    let (status, body) = short.get("/v1/auth/whoami").await;
    assert_error(status, &body, 401, "authentication_required");
}
