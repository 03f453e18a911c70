//! Every request of the Quickstart page, in order, checked field by field.

use serde_json::json;

use crate::common::TestServer;

const PATH: &str = "/v1/secrets/environments/production/salesforce/api-credentials";

#[tokio::test]
async fn quickstart_end_to_end() {
    let server = TestServer::start();
    let api = server.client();

    // 2. whoami
    let (status, me) = api.get("/v1/auth/whoami").await;
    assert_eq!(status, 200);
    assert_eq!(me["identity_id"], "user:root@dev.local");
    assert_eq!(me["identity_type"], "user");
    assert_eq!(me["tenant_id"], "tnt_dev");
    assert_eq!(me["partner_id"], "ptn_dev");
    assert_eq!(
        me["scopes"],
        json!([
            "secrets:read",
            "secrets:write",
            "audit:read",
            "policies:read",
            "policies:write",
            "identity:read",
            "identity:write",
            "service-accounts:read",
            "service-accounts:write",
            "tokens:write",
            "tenants:admin",
            "pki:read",
            "pki:issue",
            "pki:admin",
            "dynamic:read",
            "dynamic:creds",
            "dynamic:admin",
            "metrics:read"
        ]),
        "the dev root token has every scope"
    );

    // 3. write
    let (status, created) = api
        .put(
            PATH,
            json!({
                "data": {"client_id": "3MVG9...", "client_secret": "REDACTED"},
                "secret_type": "json",
                "metadata": {
                    "description": "Salesforce OAuth credentials",
                    "tags": ["salesforce", "production"]
                }
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["path"],
        "environments/production/salesforce/api-credentials"
    );
    assert_eq!(created["secret_type"], "json");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created"], true);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(created.get("data").is_none(), "writes never return data");
    assert!(!created.to_string().contains("REDACTED"));

    // 4. read
    let (status, secret) = api.get(PATH).await;
    assert_eq!(status, 200);
    assert_eq!(
        secret["path"],
        "environments/production/salesforce/api-credentials"
    );
    assert_eq!(secret["secret_type"], "json");
    assert_eq!(secret["version"], 1);
    assert_eq!(
        secret["data"],
        json!({"client_id": "3MVG9...", "client_secret": "REDACTED"})
    );
    assert_eq!(
        secret["metadata"],
        json!({"description": "Salesforce OAuth credentials", "tags": ["salesforce", "production"]})
    );
    assert_eq!(secret["created_at"], created["created_at"]);
    assert_eq!(secret["updated_at"], created["created_at"]);

    // 5. update
    let (status, updated) = api
        .put(
            PATH,
            json!({"data": {"client_id": "3MVG9...", "client_secret": "NEW_REDACTED"}, "secret_type": "json"}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["path"],
        "environments/production/salesforce/api-credentials"
    );
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["created"], false);
    assert_eq!(updated["previous_version"], 1);
    assert!(updated["updated_at"].as_str().unwrap().ends_with('Z'));

    let (_, v1) = api.get(&format!("{PATH}?version=1")).await;
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["data"]["client_secret"], "REDACTED");
    let (_, current) = api.get(PATH).await;
    assert_eq!(current["version"], 2);
    assert_eq!(current["data"]["client_secret"], "NEW_REDACTED");
    // Metadata given on create survives an update that does not mention it.
    assert_eq!(
        current["metadata"]["tags"],
        json!(["salesforce", "production"])
    );

    // 6. list
    let (status, listing) = api.get("/v1/secrets?prefix=environments/production/").await;
    assert_eq!(status, 200);
    assert_eq!(listing["has_more"], false);
    assert_eq!(listing["cursor"], serde_json::Value::Null);
    let secrets = listing["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        secrets[0]["path"],
        "environments/production/salesforce/api-credentials"
    );
    assert_eq!(secrets[0]["secret_type"], "json");
    assert_eq!(secrets[0]["version"], 2);
    assert_eq!(secrets[0]["updated_at"], updated["updated_at"]);
    assert_eq!(secrets[0]["tags"], json!(["salesforce", "production"]));
    assert!(secrets[0].get("data").is_none());
}
