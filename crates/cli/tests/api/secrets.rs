//! The Managing Secrets page, request by request.

use serde_json::json;

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn write_with_options_patch_metadata_and_versions() {
    let server = TestServer::start();
    let api = server.client();
    let (status, policy) = api
        .post(
            "/v1/rotation/policies",
            json!({"name": "quarterly", "interval": "90d", "grace_period": "48h"}),
        )
        .await;
    assert_eq!(status, 201, "{policy}");
    let path = "/v1/secrets/environments/production/salesforce/api-credentials";
    let (status, created) = api
        .put(
            path,
            json!({
                "data": {"client_id": "3MVG9...", "client_secret": "REDACTED"},
                "secret_type": "json",
                "metadata": {"description": "Salesforce OAuth credentials", "tags": ["salesforce", "oauth", "production"], "owner": "group:platform"},
                "options": {"max_versions": 10, "expires_in": "90d", "rotation_policy_id": "rot_quarterly"}
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let created_at = time::OffsetDateTime::parse(
        created["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires_at = time::OffsetDateTime::parse(
        created["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires_at - created_at, time::Duration::days(90));

    // PATCH: metadata and options, no new version.
    let (status, meta) = api
        .patch(path, json!({"metadata": {"tags": ["postgres", "production", "critical"]}, "options": {"max_versions": 25}}))
        .await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["current_version"], 1);
    assert_eq!(meta["max_versions"], 25);
    assert_eq!(
        meta["metadata"]["tags"],
        json!(["postgres", "production", "critical"])
    );
    assert_eq!(
        meta["metadata"]["description"],
        "Salesforce OAuth credentials"
    );
    assert_eq!(meta["metadata"]["owner"], "group:platform");
    let (_, versions) = api.get(&format!("{path}/versions")).await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);

    // Reads count towards access statistics.
    for _ in 0..3 {
        assert_eq!(api.get(path).await.0, 200);
    }
    let (status, meta) = api
        .get("/v1/secrets/metadata/environments/production/salesforce/api-credentials")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        meta["path"],
        "environments/production/salesforce/api-credentials"
    );
    assert_eq!(meta["current_version"], 1);
    assert_eq!(meta["version_count"], 1);
    assert_eq!(meta["access_count_30d"], 3);
    assert!(meta["last_accessed_at"].as_str().is_some());
    assert_eq!(meta["rotation_policy"]["id"], "rot_quarterly");
    assert!(
        meta["rotation_policy"]["next_rotation"].is_string(),
        "{meta}"
    );
    assert!(meta.get("data").is_none());
}

#[tokio::test]
async fn versions_list_newest_first_and_prune_to_max_versions() {
    let server = TestServer::start();
    let api = server.client();
    let path = "/v1/secrets/app/db/password";
    for i in 1..=4 {
        let (status, _) = api
            .put(
                path,
                json!({"data": {"password": format!("p{i}")}, "options": {"max_versions": 2}}),
            )
            .await;
        assert!(status == 200 || status == 201);
    }
    let (status, body) = api.get(&format!("{path}/versions")).await;
    assert_eq!(status, 200);
    assert_eq!(body["path"], "app/db/password");
    let versions = body["versions"].as_array().unwrap();
    let numbers: Vec<u64> = versions
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![4, 3]);
    assert_eq!(versions[0]["is_current"], true);
    assert_eq!(versions[1]["is_current"], false);
    assert!(versions[0]["created_at"].as_str().unwrap().ends_with('Z'));
    let (status, body) = api.get(&format!("{path}?version=1")).await;
    assert_error(status, &body, 404, "version_not_found");
    let (_, v3) = api.get(&format!("{path}?version=3")).await;
    assert_eq!(v3["data"]["password"], "p3");
    let (status, body) = api.get(&format!("{path}?version=99")).await;
    assert_error(status, &body, 404, "version_not_found");
}

#[tokio::test]
async fn soft_delete_restore_and_permanent_delete() {
    let server = TestServer::start();
    let api = server.client();
    let path = "/v1/secrets/app/db/password";
    api.put(path, json!({"data": {"password": "one"}})).await;
    api.put(path, json!({"data": {"password": "two"}})).await;

    let (status, _) = api.delete(path).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(path).await;
    assert_error(status, &body, 404, "secret_not_found");
    let (_, listing) = api.get("/v1/secrets?prefix=app/").await;
    assert_eq!(listing["total_count"], 0);
    // Writing over a soft-deleted secret is refused while it can be restored.
    let (status, body) = api.put(path, json!({"data": {"password": "three"}})).await;
    assert_error(status, &body, 409, "secret_exists");

    let (status, body) = api.post(&format!("{path}/restore"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["current_version"], 2);
    let (_, secret) = api.get(path).await;
    assert_eq!(secret["data"]["password"], "two");

    let (status, _) = api.delete(&format!("{path}?permanent=true")).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(path).await;
    assert_error(status, &body, 404, "secret_not_found");
    let (status, body) = api.post(&format!("{path}/restore"), json!({})).await;
    assert_error(status, &body, 404, "secret_not_found");
    // The path is free again and starts over at version 1.
    let (status, body) = api.put(path, json!({"data": {"password": "new"}})).await;
    assert_eq!(status, 201);
    assert_eq!(body["version"], 1);
}

#[tokio::test]
async fn permanent_delete_requires_an_admin() {
    let server = TestServer::start();
    let api = server.client();
    api.put("/v1/secrets/app/x", json!({"data": {"k": "v"}}))
        .await;
    // A non-admin identity: a service account whose policy allows everything but `admin`.
    let (_, sa) = api
        .post(
            "/v1/service-accounts",
            json!({"name": "writer", "roles": ["secrets-writer"]}),
        )
        .await;
    let sa_id = sa["id"].as_str().unwrap();
    let (_, key) = api
        .post(
            &format!("/v1/service-accounts/{sa_id}/keys"),
            json!({"name": "k"}),
        )
        .await;
    let (_, policy) = api
        .post(
            "/v1/policies",
            json!({"name": "app-writer", "path": "app/**",
                   "permissions": ["read", "list", "write", "delete"]}),
        )
        .await;
    let policy_id = policy["id"].as_str().unwrap();
    let (status, _) = api
        .post(
            &format!("/v1/policies/{policy_id}/bindings"),
            json!({"identity_type": "service_account", "identity_id": sa_id}),
        )
        .await;
    assert_eq!(status, 201);
    let writer = api.with_token(key["key"].as_str().unwrap());
    let (status, body) = writer.delete("/v1/secrets/app/x?permanent=true").await;
    assert_error(status, &body, 403, "access_denied");
    assert_eq!(
        writer.get("/v1/secrets/app/x").await.0,
        200,
        "nothing was deleted"
    );
    // The admin permission on the path is enough.
    let (status, _) = api
        .put(
            &format!("/v1/policies/{policy_id}"),
            json!({"name": "app-writer", "path": "app/**",
                   "permissions": ["read", "list", "write", "delete", "admin"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        writer.delete("/v1/secrets/app/x?permanent=true").await.0,
        204
    );
}

#[tokio::test]
async fn delete_one_version() {
    let server = TestServer::start();
    let api = server.client();
    let path = "/v1/secrets/app/db/password";
    for p in ["a", "b", "c"] {
        api.put(path, json!({"data": {"password": p}})).await;
    }
    let (status, _) = api.delete(&format!("{path}?version=2")).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(&format!("{path}?version=2")).await;
    assert_error(status, &body, 404, "version_not_found");
    let (_, current) = api.get(path).await;
    assert_eq!(current["version"], 3);
    // Deleting the current version falls back to the newest remaining one.
    assert_eq!(api.delete(&format!("{path}?version=3")).await.0, 204);
    let (_, current) = api.get(path).await;
    assert_eq!(current["version"], 1);
    assert_eq!(current["data"]["password"], "a");
    // The last version cannot be deleted this way.
    let (status, body) = api.delete(&format!("{path}?version=1")).await;
    assert_error(status, &body, 400, "validation_error");
    // Version numbers are never reused.
    let (_, written) = api.put(path, json!({"data": {"password": "d"}})).await;
    assert_eq!(written["version"], 4);
}

#[tokio::test]
async fn rotate_keeps_the_old_version_for_the_grace_period() {
    let server = TestServer::start();
    let api = server.client();
    let path = "/v1/secrets/app/db/password";
    api.put(path, json!({"data": {"password": "old-strong-password"}}))
        .await;
    let (status, rotated) = api
        .post(
            &format!("{path}/rotate"),
            json!({"reason": "Suspected compromise", "new_value": {"password": "new-strong-password"}, "grace_period": "1h"}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["version"], 2);
    assert_eq!(rotated["previous_version"], 1);
    assert!(rotated.get("data").is_none() && !rotated.to_string().contains("new-strong"));
    let (_, current) = api.get(path).await;
    assert_eq!(current["data"]["password"], "new-strong-password");
    let (status, old) = api.get(&format!("{path}?version=1")).await;
    assert_eq!(status, 200, "old version readable during grace");
    assert_eq!(old["data"]["password"], "old-strong-password");
    let (_, versions) = api.get(&format!("{path}/versions")).await;
    assert!(versions["versions"][1]["retires_at"].as_str().is_some());

    // Without a grace period the previous version retires at once.
    let (status, _) = api
        .post(
            &format!("{path}/rotate"),
            json!({"new_value": {"password": "third"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = api.get(&format!("{path}?version=2")).await;
    assert_error(status, &body, 404, "version_not_found");
    // Version 1 is still inside its own grace period.
    assert_eq!(api.get(&format!("{path}?version=1")).await.0, 200);

    // Rotation needs a value until generators exist, and an existing secret.
    let (status, body) = api
        .post(&format!("{path}/rotate"), json!({"reason": "x"}))
        .await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = api
        .post(
            "/v1/secrets/app/missing/rotate",
            json!({"new_value": {"a": "b"}}),
        )
        .await;
    assert_error(status, &body, 404, "secret_not_found");
    let (status, body) = api
        .post(
            &format!("{path}/rotate"),
            json!({"new_value": {"a": "b"}, "grace_period": "soon"}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
}

#[tokio::test]
async fn expiring_and_expired_secrets() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    api.put(
        "/v1/secrets/test/oauth-token",
        json!({"data": {"t": "1"}, "options": {"expires_in": "9d"}}),
    )
    .await;
    api.put(
        "/v1/secrets/test/later",
        json!({"data": {"t": "1"}, "options": {"expires_in": "40d"}}),
    )
    .await;
    api.put(
        "/v1/secrets/other/soon",
        json!({"data": {"t": "1"}, "options": {"expires_in": "2d"}}),
    )
    .await;
    api.put("/v1/secrets/test/never", json!({"data": {"t": "1"}}))
        .await;

    let (status, body) = api.get("/v1/secrets/expiring?days=30").await;
    assert_eq!(status, 200, "{body}");
    let rows = body["secrets"].as_array().unwrap();
    let paths: Vec<&str> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        vec!["other/soon", "test/oauth-token"],
        "soonest first, within 30 days"
    );
    assert_eq!(rows[1]["days_remaining"], 9);
    assert!(rows[1]["expires_at"].as_str().is_some());
    let (_, body) = api.get("/v1/secrets/expiring?days=30&prefix=test/").await;
    assert_eq!(body["secrets"].as_array().unwrap().len(), 1);
    let (status, body) = api.get("/v1/secrets/expiring?days=0").await;
    assert_error(status, &body, 400, "validation_error");

    // An expired secret is gone from reads and default listings: it expires 3 s from now on
    // the test clock, is readable until then, and not once the clock has moved past it.
    let soon = api.clock_now().await + time::Duration::seconds(3);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, body) = api
        .put(
            "/v1/secrets/test/short",
            json!({"data": {"t": "1"}, "options": {"expires_at": soon}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(api.get("/v1/secrets/test/short").await.0, 200);
    api.advance_clock("2s").await;
    assert_eq!(api.get("/v1/secrets/test/short").await.0, 200, "not yet");
    api.advance_clock("2s").await;
    let (status, body) = api.get("/v1/secrets/test/short").await;
    assert_error(status, &body, 410, "secret_expired");
    let (_, listing) = api.get("/v1/secrets?prefix=test/").await;
    assert!(!listing.to_string().contains("test/short"));
    let (_, listing) = api
        .get("/v1/secrets?prefix=test/&include_expired=true")
        .await;
    assert!(listing.to_string().contains("test/short"));
}

#[tokio::test]
async fn list_filters_and_pagination() {
    let server = TestServer::start();
    let api = server.client();
    for i in 0..7 {
        let tags = if i % 2 == 0 {
            json!(["even", "all"])
        } else {
            json!(["odd", "all"])
        };
        let secret_type = if i < 3 { "json" } else { "kv" };
        api.put(
            &format!("/v1/secrets/environments/production/svc{i}"),
            json!({"data": {"n": i}, "secret_type": secret_type, "metadata": {"tags": tags, "description": format!("svc {i}")}}),
        )
        .await;
    }
    api.put(
        "/v1/secrets/environments/staging/svc",
        json!({"data": {"n": 1}}),
    )
    .await;

    // Follow cursors page by page.
    let mut seen = Vec::new();
    let mut url = "/v1/secrets?prefix=environments/production/&limit=3".to_owned();
    loop {
        let (status, page) = api.get(&url).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total_count"], 7);
        for s in page["secrets"].as_array().unwrap() {
            seen.push(s["path"].as_str().unwrap().to_owned());
        }
        if page["has_more"] == false {
            assert_eq!(page["cursor"], serde_json::Value::Null);
            break;
        }
        url = format!(
            "/v1/secrets?prefix=environments/production/&limit=3&cursor={}",
            page["cursor"].as_str().unwrap()
        );
    }
    let expected: Vec<String> = (0..7)
        .map(|i| format!("environments/production/svc{i}"))
        .collect();
    assert_eq!(seen, expected, "every secret once, in path order");

    let (_, body) = api.get("/v1/secrets?tag=even&tag=all").await;
    assert_eq!(body["total_count"], 4);
    let (_, body) = api.get("/v1/secrets?tag=even&tag=odd").await;
    assert_eq!(body["total_count"], 0);
    let (_, body) = api.get("/v1/secrets?secret_type=json").await;
    assert_eq!(body["total_count"], 3);
    let (_, body) = api.get("/v1/secrets?prefix=environments/").await;
    assert_eq!(body["total_count"], 8);
    let (_, body) = api
        .get("/v1/secrets?updated_after=2000-01-01T00:00:00Z&limit=1")
        .await;
    assert_eq!(body["total_count"], 8);
    assert_eq!(body["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(body["has_more"], true);
    let (_, body) = api
        .get("/v1/secrets?updated_after=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(body["total_count"], 0);
    let (_, body) = api
        .get("/v1/secrets?expires_before=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(body["total_count"], 0, "none of them expire");

    // Minimal by default, full metadata on request.
    let (_, body) = api
        .get("/v1/secrets?prefix=environments/production/svc0")
        .await;
    assert!(body["secrets"][0].get("description").is_none());
    let (_, body) = api
        .get("/v1/secrets?prefix=environments/production/svc0&include_metadata=true")
        .await;
    assert_eq!(body["secrets"][0]["description"], "svc 0");
    assert_eq!(body["secrets"][0]["max_versions"], 10);

    for bad in [
        "/v1/secrets?limit=0",
        "/v1/secrets?limit=201",
        "/v1/secrets?cursor=not-a-cursor",
        "/v1/secrets?secret_type=blob",
        "/v1/secrets?updated_after=yesterday",
        "/v1/secrets?include_expired=maybe",
        "/v1/secrets?prefx=app",
        "/v1/secrets?prefix=../",
    ] {
        let (status, body) = api.get(bad).await;
        assert!(status == 400, "{bad}: {status} {body}");
    }
}

#[tokio::test]
async fn optimistic_concurrency_with_if_match() {
    let server = TestServer::start();
    let api = server.client();
    let path = "/v1/secrets/app/config";
    api.put(path, json!({"data": {"a": "1"}})).await;
    let resp = api
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["etag"], "\"1\"");

    let ok = api
        .request(reqwest::Method::PUT, path)
        .header("If-Match", "\"1\"")
        .json(&json!({"data": {"a": "2"}}));
    let (status, body) = api.send(ok).await;
    assert_eq!(status, 200, "{body}");
    let stale = api
        .request(reqwest::Method::PUT, path)
        .header("If-Match", "\"1\"")
        .json(&json!({"data": {"a": "3"}}));
    let (status, body) = api.send(stale).await;
    assert_error(status, &body, 409, "version_conflict");
    let (_, current) = api.get(path).await;
    assert_eq!(
        current["data"]["a"], "2",
        "the conflicting write changed nothing"
    );

    let create_only = api
        .request(reqwest::Method::PUT, path)
        .header("If-None-Match", "*")
        .json(&json!({"data": {"a": "4"}}));
    let (status, body) = api.send(create_only).await;
    assert_error(status, &body, 409, "version_conflict");
}

/// Regression (issue 14, item 5): ~1,000 `tag` filters reached the store as one query clause
/// each and failed with a 500 (`Expression tree is too large`).
#[tokio::test]
async fn too_many_tag_filters_are_a_400_naming_the_limit() {
    let server = TestServer::start();
    let api = server.client();
    let tags: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    api.put(
        "/v1/secrets/tagged/all",
        json!({"data": {"v": 1}, "metadata": {"tags": tags}}),
    )
    .await;
    let query = |n: usize| {
        (0..n)
            .map(|i| format!("tag=t{i}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    // The limit itself is served (a secret can carry 50 tags, and this one matches).
    let (s, list) = api.get(&format!("/v1/secrets?{}", query(50))).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["secrets"].as_array().unwrap().len(), 1, "{list}");
    for n in [51, 1000] {
        let (s, body) = api.get(&format!("/v1/secrets?{}", query(n))).await;
        assert_error(s, &body, 400, "validation_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("tag:") && message.contains("50"),
            "{message}"
        );
    }
}
