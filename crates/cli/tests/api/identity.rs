//! Identities and tenancy over HTTP: ScaiKey JWTs against a real JWKS endpoint, service
//! accounts and API keys, the cross-tenant isolation matrix, rate limits.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::assert_error;
use crate::common::idp::{self, Idp, SigningKey, claims};
use crate::common::prod::ProdServer;

/// Creates partner `id` and a tenant `slug` in it as the operator; returns the tenant id.
async fn tenant(admin: &crate::common::Api, partner: &str, slug: &str) -> String {
    let (s, _) = admin
        .post(
            "/v1/identity/partners",
            json!({"id": partner, "name": partner}),
        )
        .await;
    assert!(s == 201 || s == 409, "partner {partner}: {s}");
    let (s, t) = admin
        .post(
            "/v1/identity/tenants",
            json!({"slug": slug, "partner_id": partner}),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    assert!(t["id"].as_str().unwrap().starts_with("tnt_"));
    t["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn scaikey_jwts_are_verified_against_the_issuers_jwks() {
    let key_a = SigningKey::generate("key-a");
    let idp = Idp::start(&[&key_a]);
    let server = ProdServer::start(&idp.config());
    let t = tenant(&server.admin(), "ptn_jwt", "jwt-co").await;

    // A valid token: the identity, tenant, partner and groups come from its claims.
    let mut c = claims("alice@jwt.example", &t, "ptn_jwt");
    c["groups"] = json!(["developers"]);
    c["roles"] = json!(["tenant-admin"]);
    let alice = server.client(&key_a.sign(&c));
    let (s, me) = alice.get("/v1/auth/whoami").await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["identity_id"], "user:alice@jwt.example");
    assert_eq!(me["tenant_id"], t);
    assert_eq!(me["partner_id"], "ptn_jwt");
    assert_eq!(me["scopes"], json!(["secrets:read", "secrets:write"]));
    assert_eq!(
        alice
            .put("/v1/secrets/jwt/hello", json!({"data": {"v": 1}}))
            .await
            .0,
        201
    );

    // Every kind of bad token is a 401 authentication_required.
    let refused = |name: &'static str, token: String| {
        let server = &server;
        async move {
            let (s, body) = server.client(&token).get("/v1/auth/whoami").await;
            assert_eq!(s, 401, "{name}: {body}");
            assert_eq!(body["error"]["code"], "authentication_required", "{name}");
        }
    };
    let mut expired = claims("alice@jwt.example", &t, "ptn_jwt");
    expired["exp"] = json!(idp::now() - 3600);
    refused("expired", key_a.sign(&expired)).await;
    let mut wrong_aud = claims("alice@jwt.example", &t, "ptn_jwt");
    wrong_aud["aud"] = json!("another-service");
    refused("wrong audience", key_a.sign(&wrong_aud)).await;
    let mut wrong_iss = claims("alice@jwt.example", &t, "ptn_jwt");
    wrong_iss["iss"] = json!("https://evil.example");
    refused("wrong issuer", key_a.sign(&wrong_iss)).await;
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none_token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims("alice@jwt.example", &t, "ptn_jwt"))
    );
    refused("alg none", none_token).await;
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some("key-a".into());
    let confused = jsonwebtoken::encode(
        &hs_header,
        &claims("alice@jwt.example", &t, "ptn_jwt"),
        &jsonwebtoken::EncodingKey::from_secret(&key_a.public_bytes),
    )
    .unwrap();
    refused("HS256 with the public key as secret", confused).await;
    let stranger = SigningKey::generate("key-unknown");
    refused(
        "unknown kid",
        stranger.sign(&claims("alice@jwt.example", &t, "ptn_jwt")),
    )
    .await;
    let forged = SigningKey::generate("key-a");
    refused(
        "known kid, other key",
        forged.sign(&claims("alice@jwt.example", &t, "ptn_jwt")),
    )
    .await;
    // A tenant named like a partner would reach the partner's secrets as its own.
    let mut partner_named = claims("mallory@jwt.example", "ptn_jwt", "ptn_jwt");
    partner_named["jti"] = json!("partner-named");
    refused("tenant named like a partner", key_a.sign(&partner_named)).await;
    let mut tenant_as_partner = claims("mallory@jwt.example", "tnt_new_one", &t);
    tenant_as_partner["jti"] = json!("tenant-as-partner");
    refused(
        "partner named like a tenant",
        key_a.sign(&tenant_as_partner),
    )
    .await;
    let mut other_partner = claims("alice@jwt.example", &t, "ptn_somebody_else");
    other_partner["jti"] = json!("other-partner");
    refused(
        "partner that does not own the tenant",
        key_a.sign(&other_partner),
    )
    .await;

    // Key rotation at the IdP, without restarting ScaiVault: the new key's tokens work after
    // one JWKS refresh, the retired key's tokens stop working.
    let key_b = SigningKey::generate("key-b");
    idp.publish(&[&key_b]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut c = claims("bob@jwt.example", &t, "ptn_jwt");
    c["jti"] = json!("after-rotation-b");
    let (s, me) = server.client(&key_b.sign(&c)).get("/v1/auth/whoami").await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["identity_id"], "user:bob@jwt.example");
    let mut c = claims("carol@jwt.example", &t, "ptn_jwt");
    c["jti"] = json!("after-rotation-a");
    refused("retired key", key_a.sign(&c)).await;
    assert!(
        !server.log().contains(&key_b.sign(&c)),
        "tokens are never logged"
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_used_listed_and_revoked() {
    let server = ProdServer::start("");
    let admin = server.admin();
    let (s, sa) = admin
        .post(
            "/v1/service-accounts",
            json!({"name": "CI Pipeline", "roles": ["secrets-reader"]}),
        )
        .await;
    assert_eq!(s, 201, "{sa}");
    let sa_id = sa["id"].as_str().unwrap();
    assert!(sa_id.starts_with("sva_"));
    assert_eq!(sa["identity_id"], format!("service_account:{sa_id}"));
    assert_eq!(
        sa["scopes"],
        json!([
            "secrets:read",
            "tokens:write",
            "pki:read",
            "dynamic:read",
            "dynamic:creds"
        ])
    );
    let (s, body) = admin
        .post(
            "/v1/service-accounts",
            json!({"name": "x", "roles": ["root"]}),
        )
        .await;
    assert_error(s, &body, 400, "validation_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("roles[0]")
    );

    let (s, created) = admin
        .post(
            &format!("/v1/service-accounts/{sa_id}/keys"),
            json!({"name": "Production Key"}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("svk_") && key_id.starts_with("key_"));

    // Used directly as a bearer: reads allowed, writes not (secrets-reader).
    assert_eq!(
        admin
            .put("/v1/secrets/ci/token", json!({"data": {"t": "x"}}))
            .await
            .0,
        201
    );
    // Its reads are allowed by a policy on ci/**, bound to the account.
    let (s, policy) = admin
        .post(
            "/v1/policies",
            json!({"name": "ci-read", "path": "ci/**", "permissions": ["read", "list"]}),
        )
        .await;
    assert_eq!(s, 201, "{policy}");
    let (s, _) = admin
        .post(
            &format!("/v1/policies/{}/bindings", policy["id"].as_str().unwrap()),
            json!({"identity_type": "service_account", "identity_id": sa["identity_id"]}),
        )
        .await;
    assert_eq!(s, 201);
    let ci = server.client(&key);
    let (s, me) = ci.get("/v1/auth/whoami").await;
    assert_eq!(s, 200);
    assert_eq!(me["identity_type"], "service_account");
    assert_eq!(me["tenant_id"], "tnt_ops");
    assert_eq!(ci.get("/v1/secrets/ci/token").await.0, 200);
    let (s, body) = ci.put("/v1/secrets/ci/token", json!({"data": {}})).await;
    assert_error(s, &body, 403, "access_denied");

    // Exchanged for a short-lived token with the same identity.
    let (s, exchanged) = ci.post("/v1/auth/exchange", json!({"ttl": "5m"})).await;
    assert_eq!(s, 201, "{exchanged}");
    let short = server.client(exchanged["token"].as_str().unwrap());
    assert_eq!(short.get("/v1/secrets/ci/token").await.0, 200);
    let (s, body) = admin.post("/v1/auth/exchange", json!({})).await;
    assert_error(s, &body, 403, "access_denied");

    // Listed without plaintext.
    let (s, keys) = admin
        .get(&format!("/v1/service-accounts/{sa_id}/keys"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["id"], key_id);
    assert!(!keys.to_string().contains(&key));

    // Deleted: refused from the next request on.
    assert_eq!(
        admin
            .delete(&format!("/v1/service-accounts/{sa_id}/keys/{key_id}"))
            .await
            .0,
        204
    );
    let (s, body) = ci.get("/v1/secrets/ci/token").await;
    assert_error(s, &body, 401, "authentication_required");
    let (s, body) = admin
        .delete(&format!("/v1/service-accounts/{sa_id}/keys/{key_id}"))
        .await;
    assert_error(s, &body, 404, "not_found");

    // The plaintext is nowhere in the database file.
    let db = std::fs::read(server.data_dir().join("scaivault.db")).unwrap();
    let needle = key.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle));
}

/// Who (row) may do what (column) where: the full expected table, asserted over HTTP.
#[tokio::test]
async fn isolation_matrix_across_partners_tenants_and_roles() {
    let signing = SigningKey::generate("matrix");
    let idp = Idp::start(&[&signing]);
    let server = ProdServer::start(&idp.config());
    let admin = server.admin();
    // Partner one has tenants a and b; partner two has tenant c.
    let ta = tenant(&admin, "ptn_one", "one-a").await;
    let tb = tenant(&admin, "ptn_one", "one-b").await;
    let tc = tenant(&admin, "ptn_two", "two-c").await;

    let jwt = |sub: &str, tenant: &str, partner: &str, roles: &[&str], groups: &[&str]| {
        let mut c = claims(sub, tenant, partner);
        c["roles"] = json!(roles);
        c["groups"] = json!(groups);
        if !roles.is_empty() {
            c.as_object_mut().unwrap().remove("scopes");
        }
        server.client(&signing.sign(&c))
    };
    let mut actors: BTreeMap<&str, crate::common::Api> = BTreeMap::new();
    actors.insert(
        "user_a",
        jwt("ann@one.example", &ta, "ptn_one", &[], &["developers"]),
    );
    actors.insert("user_b", jwt("ben@one.example", &tb, "ptn_one", &[], &[]));
    actors.insert("user_c", jwt("cat@two.example", &tc, "ptn_two", &[], &[]));
    actors.insert(
        "admin_a",
        jwt("ada@one.example", &ta, "ptn_one", &["tenant-admin"], &[]),
    );
    actors.insert(
        "padmin_1",
        jwt("pat@one.example", &ta, "ptn_one", &["partner-admin"], &[]),
    );
    actors.insert(
        "padmin_2",
        jwt("pia@two.example", &tc, "ptn_two", &["partner-admin"], &[]),
    );
    // A service account of tenant a, created by its partner admin through /t/.
    let (s, sa) = actors["padmin_1"]
        .post(
            &format!("/v1/t/{ta}/service-accounts"),
            json!({"name": "deployer", "roles": ["secrets-writer"]}),
        )
        .await;
    assert_eq!(s, 201, "{sa}");
    let (s, key) = actors["padmin_1"]
        .post(
            &format!(
                "/v1/t/{ta}/service-accounts/{}/keys",
                sa["id"].as_str().unwrap()
            ),
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    actors.insert("sa_a", server.client(key["key"].as_str().unwrap()));

    // In each tenant a policy lets its people work on app/** and matrix/**: bound to a user,
    // to a group (developers, from the JWT), and to the service account.
    let sa_identity = sa["identity_id"].as_str().unwrap().to_owned();
    for (padmin, t, members) in [
        (
            "padmin_1",
            &ta,
            vec![
                ("group", "group:developers"),
                ("service_account", sa_identity.as_str()),
            ],
        ),
        ("padmin_1", &tb, vec![("user", "user:ben@one.example")]),
        ("padmin_2", &tc, vec![("user", "user:cat@two.example")]),
    ] {
        let (s, policy) = actors[padmin]
            .post(
                &format!("/v1/t/{t}/policies"),
                json!({"name": "team", "rules": [
                    {"path": "app/**", "permissions": ["read", "list", "write", "delete"]},
                    {"path": "matrix/**", "permissions": ["read", "list", "write", "delete"]}
                ]}),
            )
            .await;
        assert_eq!(s, 201, "{policy}");
        for (kind, id) in members {
            let (s, body) = actors[padmin]
                .post(
                    &format!(
                        "/v1/t/{t}/policies/{}/bindings",
                        policy["id"].as_str().unwrap()
                    ),
                    json!({"identity_type": kind, "identity_id": id}),
                )
                .await;
            assert_eq!(s, 201, "{body}");
        }
    }

    // Each tenant has a secret at the same path, written by its own people.
    for (who, t) in [("user_a", &ta), ("user_b", &tb), ("user_c", &tc)] {
        let (s, _) = actors[who]
            .put("/v1/secrets/app/db", json!({"data": {"owner": t}}))
            .await;
        assert_eq!(s, 201);
    }
    // Partner secrets: written by each partner's admin.
    for (who, partner) in [("padmin_1", "ptn_one"), ("padmin_2", "ptn_two")] {
        let (s, body) = actors[who]
            .put(
                "/v1/partner/secrets/shared/ca",
                json!({"data": {"partner": partner}, "secret_type": "certificate"}),
            )
            .await;
        assert_eq!(s, 201, "{who}: {body}");
    }

    // Home: through /v1/secrets, everyone reads their own tenant's value.
    let home = [
        ("user_a", &ta),
        ("user_b", &tb),
        ("user_c", &tc),
        ("admin_a", &ta),
        ("padmin_1", &ta),
        ("padmin_2", &tc),
        ("sa_a", &ta),
    ];
    for (who, t) in home {
        let (s, body) = actors[who].get("/v1/secrets/app/db").await;
        assert_eq!(s, 200, "{who}");
        assert_eq!(body["data"]["owner"], **t, "{who} reads its own tenant");
    }

    // Cross-tenant through /v1/t/{tenant}/: allowed for the own tenant, and for partner admins
    // on their partner's tenants; 403 otherwise, whether the tenant exists or not.
    let targets = [
        ("a", ta.as_str()),
        ("b", tb.as_str()),
        ("c", tc.as_str()),
        ("ghost", "tnt_does_not_exist"),
    ];
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("user_a", &["a"][..]),
        ("user_b", &["b"][..]),
        ("user_c", &["c"][..]),
        ("admin_a", &["a"][..]),
        ("sa_a", &["a"][..]),
        ("padmin_1", &["a", "b"][..]),
        ("padmin_2", &["c"][..]),
    ]);
    let mut table = Vec::new();
    for (who, api) in &actors {
        for (name, t) in targets {
            let base = format!("/v1/t/{t}/secrets");
            let read = api.get(&format!("{base}/app/db")).await;
            let list = api.get(&format!("{base}?prefix=app/")).await;
            let write = api
                .put(
                    &format!("{base}/matrix/{who}"),
                    json!({"data": {"by": who}}),
                )
                .await;
            let meta = api.get(&format!("{base}/metadata/app/db")).await;
            let delete = api.delete(&format!("{base}/matrix/{who}")).await;
            let expect_ok = allowed[who].contains(&name);
            for (op, (status, body), ok_status) in [
                ("read", &read, 200),
                ("list", &list, 200),
                ("write", &write, 201),
                ("metadata", &meta, 200),
                ("delete", &delete, 204),
            ] {
                let want = if expect_ok { ok_status } else { 403 };
                table.push(format!("{who} {op} {name}: {status}"));
                assert_eq!(*status, want, "{who} {op} on tenant {name}: {body}");
                if !expect_ok {
                    assert_eq!(body["error"]["code"], "access_denied");
                }
            }
            if expect_ok {
                assert_eq!(
                    read.1["data"]["owner"], t,
                    "{who} reads tenant {name}'s value"
                );
                assert_eq!(list.1["total_count"], 1);
            }
        }
    }
    assert_eq!(table.len(), actors.len() * targets.len() * 5);

    // Partner-scoped secrets: every identity of the partner reads its partner's value; only
    // partner admins write.
    for (who, api) in &actors {
        let partner = if ["user_c", "padmin_2"].contains(who) {
            "ptn_two"
        } else {
            "ptn_one"
        };
        let (s, body) = api.get("/v1/partner/secrets/shared/ca").await;
        assert_eq!(s, 200, "{who}");
        assert_eq!(body["data"]["partner"], partner, "{who}");
    }
    for (who, api) in &actors {
        let (s, body) = api
            .put(
                "/v1/partner/secrets/shared/ca",
                json!({"data": {"partner": "overwritten"}}),
            )
            .await;
        if who.starts_with("padmin") {
            assert_eq!(s, 200, "{who}: {body}");
        } else {
            assert_error(s, &body, 403, "access_denied");
        }
    }
    // The partner's secrets are not a tenant's secrets.
    let (s, body) = actors["admin_a"].get("/v1/secrets/shared/ca").await;
    assert_error(s, &body, 404, "secret_not_found");
    // Without a policy on the path, a non-admin gets 403 whether the secret exists or not.
    let (s, body) = actors["user_a"].get("/v1/secrets/shared/ca").await;
    assert_error(s, &body, 403, "access_denied");
    let (s, body) = actors["user_a"].get("/v1/secrets/app/db").await;
    assert_eq!(s, 200, "{body}");

    // Audit entries record the acting identity and tenant and the target tenant.
    let (s, entries) = actors["padmin_1"]
        .get(&format!("/v1/audit?tenant_id={tb}&action=write"))
        .await;
    assert_eq!(s, 200, "{entries}");
    let by_padmin: Vec<&Value> = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["identity_id"] == "user:pat@one.example")
        .collect();
    assert!(!by_padmin.is_empty());
    assert_eq!(by_padmin[0]["actor_tenant_id"], ta);
    assert_eq!(by_padmin[0]["tenant_id"], tb);
    let (s, body) = actors["padmin_1"]
        .get(&format!("/v1/audit?tenant_id={tc}"))
        .await;
    assert_error(s, &body, 403, "access_denied");
}

#[tokio::test]
async fn rate_limits_answer_429_with_headers_and_recover() {
    let server = ProdServer::start(
        "[rate_limits]\nidentity = { per_second = 2, burst = 3 }\nauth_failures = { per_second = 1, burst = 2 }\n",
    );
    let admin = server.admin();
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..6 {
        let response = admin
            .request(reqwest::Method::GET, "/v1/auth/whoami")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    assert_eq!(&statuses[..3], &[200, 200, 200], "the burst is served");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after));
    assert_eq!(refused.headers()["x-ratelimit-limit"], "3");
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    // It recovers. A production server limits on the wall clock (dev mode has no limits to
    // put on the test clock; ratelimit.rs checks the refill to the microsecond on a
    // ManualClock), so wait for the event, served again, under a deadline. A refused request
    // spends no cell, so asking again does not delay the recovery.
    let refused_at = std::time::Instant::now();
    loop {
        let status = admin.get("/v1/auth/whoami").await.0;
        if status != 429 {
            assert_eq!(status, 200, "recovers");
            break;
        }
        assert!(
            refused_at.elapsed() < std::time::Duration::from_secs(retry_after + 3),
            "still refused long after Retry-After: {retry_after} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Failed authentications from one address are slowed down: 401, 401, then 429.
    let guesser = server.client("skt_guess");
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(guesser.get("/v1/auth/whoami").await.0);
    }
    assert_eq!(codes, [401, 401, 429]);
}

/// Sends a request with a bearer `token` and an `X-Forwarded-For` header; returns the status.
async fn whoami_from(http: &reqwest::Client, base: &str, token: &str, forwarded_for: &str) -> u16 {
    http.get(format!("{base}/v1/auth/whoami"))
        .bearer_auth(token)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Sends bad tokens from one client until the failure limit answers 429; returns how many
/// 401s came first (panics if no 429 comes within `max` tries).
async fn fail_until_limited(
    http: &reqwest::Client,
    base: &str,
    forwarded_for: impl Fn(usize) -> String,
    max: usize,
) -> usize {
    for i in 0..max {
        match whoami_from(http, base, &format!("skt_guess_{i}"), &forwarded_for(i)).await {
            401 => continue,
            429 => return i,
            other => panic!("a bad token answered {other}"),
        }
    }
    panic!("no 429 after {max} bad tokens");
}

/// Regression (issue 14, item 4): a few bad tokens from one address made every request from it,
/// valid tokens included, answer 429; behind a proxy that is every client.
#[tokio::test]
async fn failed_logins_never_lock_out_valid_tokens_and_count_per_forwarded_client() {
    // The test client (127.0.0.1) is the trusted proxy; 127.0.0.2 is an untrusted peer.
    let server = ProdServer::start(
        "trusted_proxies = [\"127.0.0.1/32\"]\n[rate_limits]\nauth_failures = { per_second = 1, burst = 3 }\n",
    );
    let base = server.base_url.clone();
    let proxy = reqwest::Client::new();
    let client_a = |_: usize| "198.51.100.1".to_owned();

    // Client A (behind the proxy) is locked out of failing; its valid token still works. The
    // lock is bracketed by two 429s so the 200 is known to have come while it held (a slow
    // machine may let a cell replenish: then try again).
    let mut bracketed = false;
    for round in 0..5 {
        let failures = fail_until_limited(&proxy, &base, client_a, 50).await;
        if round == 0 {
            assert!(
                failures >= 3,
                "the burst of 3 failures is answered 401 first"
            );
        }
        assert_eq!(
            whoami_from(&proxy, &base, &server.admin_token, "198.51.100.1").await,
            200,
            "a valid token is never refused by the failure limit"
        );
        if whoami_from(&proxy, &base, "skt_guess_again", "198.51.100.1").await == 429 {
            bracketed = true;
            break;
        }
    }
    assert!(
        bracketed,
        "the lock-out never held across the valid request"
    );

    // Client B behind the same proxy has its own budget: its first failure is a 401.
    assert_eq!(
        whoami_from(&proxy, &base, "skt_guess_b", "198.51.100.2").await,
        401
    );

    // An untrusted peer cannot pick its key with a forged header: changing X-Forwarded-For on
    // every request still exhausts one budget (with the header believed, no 429 would come).
    let untrusted = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let forged = |i: usize| format!("203.0.113.{}", i % 250 + 1);
    let failures = fail_until_limited(&untrusted, &base, forged, 20).await;
    assert!(failures >= 3, "{failures}");
    assert_eq!(
        whoami_from(&untrusted, &base, &server.admin_token, "203.0.113.1").await,
        200
    );

    // Audit entries name the forwarded client (behind the trusted proxy) or the peer.
    let admin = server.admin();
    assert_eq!(
        admin
            .put("/v1/secrets/xff/probe", json!({"data": {"v": 1}}))
            .await
            .0,
        201
    );
    for (http, forwarded_for, expected) in [
        (&proxy, "198.51.100.9", "198.51.100.9"),
        (&untrusted, "198.51.100.9", "127.0.0.2"),
    ] {
        let status = http
            .get(format!("{base}/v1/secrets/xff/probe"))
            .bearer_auth(&server.admin_token)
            .header("x-forwarded-for", forwarded_for)
            .header("x-request-id", format!("xff-{expected}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        let (s, entries) = admin.get("/v1/audit?action=read").await;
        assert_eq!(s, 200, "{entries}");
        let entry = entries["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["request_id"] == format!("xff-{expected}"))
            .unwrap_or_else(|| panic!("no audit entry: {entries}"));
        assert_eq!(entry["client_ip"], expected, "{entry}");
    }
}

/// Regression (issue 14, item 5): a JWT `sub` with control characters became the identity id
/// (`user:x\n`, forging audit and log lines), and `sub: "service_account:..."` made a user with
/// a service account's id.
#[tokio::test]
async fn jwt_subjects_must_be_printable_and_agree_with_the_identity_type() {
    let key = SigningKey::generate("key-sub");
    let idp = Idp::start(&[&key]);
    // Eleven refusals in a row: keep the failure limit out of the way.
    let server = ProdServer::start(&format!(
        "{}[rate_limits]\nauth_failures = {{ per_second = 0 }}\n",
        idp.config()
    ));
    let t = tenant(&server.admin(), "ptn_sub", "sub-co").await;
    let token = |sub: &str, identity_type: Option<&str>, jti: &str| {
        let mut c = claims(sub, &t, "ptn_sub");
        c["jti"] = json!(jti);
        if let Some(kind) = identity_type {
            c["identity_type"] = json!(kind);
        }
        key.sign(&c)
    };
    let long = "a".repeat(300);
    for (name, bad) in [
        ("newline", token("user:x\n", None, "j1")),
        ("NUL", token("x\u{0}y", None, "j2")),
        ("escape", token("x\u{1b}[31m", None, "j3")),
        ("space", token("a b", None, "j4")),
        (
            "service account id as a user",
            token("service_account:sva_x", None, "j5"),
        ),
        (
            "user id as a service account",
            token("user:alice", Some("service_account"), "j6"),
        ),
        ("group id", token("group:admins", None, "j7")),
        ("unknown prefix", token("urn:x", None, "j8")),
        ("empty name", token("user:", None, "j9")),
        ("too long", token(&long, None, "j10")),
        ("jti with a newline", token("alice", None, "j11\nforged")),
    ] {
        let (s, body) = server.client(&bad).get("/v1/auth/whoami").await;
        assert_eq!(s, 401, "{name}: {body}");
        assert_eq!(body["error"]["code"], "authentication_required", "{name}");
    }

    // Well-formed subjects: bare or prefixed with the token's own type.
    for (sub, kind, expected_id, expected_type) in [
        ("alice@sub.example", None, "user:alice@sub.example", "user"),
        ("user:bob@sub.example", None, "user:bob@sub.example", "user"),
        (
            "sva_robot",
            Some("service_account"),
            "service_account:sva_robot",
            "service_account",
        ),
        (
            "service_account:sva_other",
            Some("service_account"),
            "service_account:sva_other",
            "service_account",
        ),
    ] {
        let (s, me) = server
            .client(&token(sub, kind, &format!("ok-{sub}")))
            .get("/v1/auth/whoami")
            .await;
        assert_eq!(s, 200, "{sub}: {me}");
        assert_eq!(me["identity_id"], expected_id);
        assert_eq!(me["identity_type"], expected_type);
    }
}

/// Tokens minted from an API key (a personal token made with the key, a token exchanged for
/// it, and a token made with that one) die with the key: when it is revoked, when it expires,
/// and when its service account is deleted. Each is used before, so it is in the credential
/// cache when the key goes.
#[tokio::test]
async fn tokens_minted_from_a_key_die_with_it() {
    let server = crate::common::TestServer::start_with_args(&["--dev-test-clock"]);
    let root = server.client();
    let minted = |key: String| {
        let root = root.clone();
        async move {
            let key = root.with_token(&key);
            let (s, long) = key
                .post(
                    "/v1/auth/tokens",
                    json!({"name": "a year", "scopes": ["secrets:read"], "ttl": "365d"}),
                )
                .await;
            assert_eq!(s, 201, "{long}");
            let (s, exchanged) = key.post("/v1/auth/exchange", json!({"ttl": "1h"})).await;
            assert_eq!(s, 201, "{exchanged}");
            let exchanged = root.with_token(exchanged["token"].as_str().unwrap());
            let (s, grandchild) = exchanged
                .post(
                    "/v1/auth/tokens",
                    json!({"name": "from the exchanged", "scopes": ["secrets:read"]}),
                )
                .await;
            assert_eq!(s, 201, "{grandchild}");
            let tokens = vec![
                root.with_token(long["token"].as_str().unwrap()),
                exchanged,
                root.with_token(grandchild["token"].as_str().unwrap()),
            ];
            for t in &tokens {
                assert_eq!(t.get("/v1/auth/whoami").await.0, 200);
            }
            tokens
        }
    };
    let all_refused = |tokens: Vec<crate::common::Api>, what: &'static str| async move {
        for (i, t) in tokens.iter().enumerate() {
            let (s, body) = t.get("/v1/auth/whoami").await;
            assert_eq!(s, 401, "token {i} after {what}: {body}");
            assert_error(s, &body, 401, "authentication_required");
        }
    };
    let (s, sa) = root
        .post(
            "/v1/service-accounts",
            json!({"name": "ci", "roles": ["secrets-reader"]}),
        )
        .await;
    assert_eq!(s, 201, "{sa}");
    let sa_id = sa["id"].as_str().unwrap().to_owned();
    let new_key = |ttl: Option<&'static str>| {
        let root = root.clone();
        let sa_id = sa_id.clone();
        async move {
            let mut body = json!({"name": "k"});
            if let Some(ttl) = ttl {
                body["ttl"] = json!(ttl);
            }
            let (s, key) = root
                .post(&format!("/v1/service-accounts/{sa_id}/keys"), body)
                .await;
            assert_eq!(s, 201, "{key}");
            (
                key["id"].as_str().unwrap().to_owned(),
                key["key"].as_str().unwrap().to_owned(),
            )
        }
    };

    // Revoked: the key and everything minted from it, at once; another key's tokens live on.
    let (key_id, key) = new_key(None).await;
    let (_, other_key) = new_key(None).await;
    let children = minted(key.clone()).await;
    let others = minted(other_key).await;
    let (s, _) = root
        .delete(&format!("/v1/service-accounts/{sa_id}/keys/{key_id}"))
        .await;
    assert_eq!(s, 204);
    all_refused(vec![root.with_token(&key)], "revoking the key").await;
    all_refused(children, "revoking the key").await;
    for t in &others {
        assert_eq!(t.get("/v1/auth/whoami").await.0, 200, "another key's token");
    }

    // Expired: a key with a lifetime takes its year-long tokens with it.
    let (_, short_key) = new_key(Some("2h")).await;
    let children = minted(short_key).await;
    crate::rotation::advance(&root, "3h").await;
    all_refused(children, "the key expired").await;

    // Deleted account: every key and token of it.
    assert_eq!(
        root.delete(&format!("/v1/service-accounts/{sa_id}"))
            .await
            .0,
        204
    );
    all_refused(others, "deleting the account").await;
}

/// Tenant slugs are unique within a partner only: another partner's admin creating a tenant
/// learns nothing about this partner's slugs.
#[tokio::test]
async fn tenant_slugs_do_not_reveal_other_partners_tenants() {
    let server = crate::common::TestServer::start();
    let operator = server.client();
    let mut admins = Vec::new();
    for name in ["Reseller One", "Reseller Two"] {
        let (s, registered) = operator
            .post(
                "/v1/identity/register",
                json!({"scope": "partner", "partner_name": name,
                       "email": format!("admin@{}.example", name.replace(' ', "-").to_lowercase())}),
            )
            .await;
        assert_eq!(s, 201, "{registered}");
        admins.push(operator.with_token(registered["token"].as_str().unwrap()));
    }
    for admin in &admins {
        let (s, tenant) = admin
            .post("/v1/identity/tenants", json!({"slug": "acme"}))
            .await;
        assert_eq!(s, 201, "the slug is free in each partner: {tenant}");
    }
    // Within one partner a slug is still taken (the partner's own information).
    let (s, body) = admins[0]
        .post("/v1/identity/tenants", json!({"slug": "acme"}))
        .await;
    assert_error(s, &body, 409, "conflict");
    let (s, listed) = admins[1].get("/v1/identity/tenants").await;
    assert_eq!(s, 200);
    let slugs: Vec<&str> = listed["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs.iter().filter(|s| **s == "acme").count(),
        1,
        "{listed}"
    );
}

/// A tenant and partner first seen in a JWT are registered each with its audit entry
/// (`create`, on its own chain), naming the token's identity: no change without its entry.
#[tokio::test]
async fn tenants_first_seen_in_a_jwt_are_registered_with_their_audit_entries() {
    let signing = SigningKey::generate("first-seen");
    let idp = Idp::start(&[&signing]);
    let server = ProdServer::start(&idp.config());
    let mut c = claims("pat@jit.example", "tnt_jit_new", "ptn_jit");
    c["roles"] = json!(["partner-admin"]);
    c.as_object_mut().unwrap().remove("scopes");
    let padmin = server.client(&signing.sign(&c));
    let (s, me) = padmin.get("/v1/auth/whoami").await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["tenant_id"], "tnt_jit_new");
    // A second identity of the same tenant registers nothing more.
    let mut other = claims("ann@jit.example", "tnt_jit_new", "ptn_jit");
    other["roles"] = json!(["tenant-admin"]);
    other.as_object_mut().unwrap().remove("scopes");
    assert_eq!(
        server
            .client(&signing.sign(&other))
            .get("/v1/auth/whoami")
            .await
            .0,
        200
    );

    let (s, page) = padmin.get("/v1/audit?action=create").await;
    assert_eq!(s, 200, "{page}");
    let created: Vec<(&str, &str, &str, &str)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["resource_type"].as_str().unwrap(),
                e["path"].as_str().unwrap(),
                e["tenant_id"].as_str().unwrap(),
                e["identity_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        created,
        vec![
            (
                "tenant",
                "tnt_jit_new",
                "tnt_jit_new",
                "user:pat@jit.example"
            ),
            ("partner", "ptn_jit", "ptn_jit", "user:pat@jit.example"),
        ],
        "newest first: {page}"
    );
    let (s, report) = padmin.post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
}
