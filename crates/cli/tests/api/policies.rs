//! Path policies over HTTP: realistic setups, deny carve-outs, group vs user bindings, edits
//! taking effect at once, list filtering, explain, validation.

use serde_json::{Value, json};

use crate::common::assert_error;
use crate::common::idp::{Idp, SigningKey, claims};
use crate::common::prod::ProdServer;

struct Setup {
    server: ProdServer,
    signing: SigningKey,
    _idp: Idp,
}

impl Setup {
    fn start() -> Self {
        let signing = SigningKey::generate("policies");
        let idp = Idp::start(&[&signing]);
        let server = ProdServer::start(&idp.config());
        Self {
            server,
            signing,
            _idp: idp,
        }
    }

    /// A ScaiKey user of the operators' tenant, with groups and read/write scopes.
    fn user(&self, email: &str, groups: &[&str]) -> crate::common::Api {
        let mut c = claims(email, "tnt_ops", "ptn_ops");
        c["groups"] = json!(groups);
        self.server.client(&self.signing.sign(&c))
    }

    async fn policy(&self, body: Value) -> String {
        let (s, p) = self.server.admin().post("/v1/policies", body).await;
        assert_eq!(s, 201, "{p}");
        p["id"].as_str().unwrap().to_owned()
    }

    async fn bind(&self, policy: &str, kind: &str, id: &str) {
        let (s, b) = self
            .server
            .admin()
            .post(
                &format!("/v1/policies/{policy}/bindings"),
                json!({"identity_type": kind, "identity_id": id}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }

    async fn seed(&self, paths: &[&str]) {
        for p in paths {
            let (s, _) = self
                .server
                .admin()
                .put(&format!("/v1/secrets/{p}"), json!({"data": {"p": p}}))
                .await;
            assert_eq!(s, 201);
        }
    }
}

#[tokio::test]
async fn developers_read_production_but_not_payments_and_ci_writes_its_subtree() {
    let s = Setup::start();
    s.seed(&[
        "environments/production/db/password",
        "environments/production/payments/stripe",
        "environments/staging/db/password",
        "ci/deploy/token",
    ])
    .await;
    let prod_read = s
        .policy(json!({
            "name": "production-read-only",
            "description": "developers read production",
            "rules": [
                {"path": "environments/production/**", "permissions": ["read", "list"]},
                {"path": "environments/production/payments/**", "permissions": ["read"], "effect": "deny"}
            ]
        }))
        .await;
    s.bind(&prod_read, "group", "developers").await;

    let dev = s.user("dana@ops.example", &["developers"]);
    let outsider = s.user("omar@ops.example", &["marketing"]);
    assert_eq!(
        dev.get("/v1/secrets/environments/production/db/password")
            .await
            .0,
        200
    );
    let (st, body) = dev
        .get("/v1/secrets/environments/production/payments/stripe")
        .await;
    assert_error(st, &body, 403, "access_denied");
    let (st, body) = dev
        .get("/v1/secrets/environments/staging/db/password")
        .await;
    assert_error(st, &body, 403, "access_denied");
    let (st, body) = dev
        .put(
            "/v1/secrets/environments/production/db/password",
            json!({"data": {"x": 1}}),
        )
        .await;
    assert_error(st, &body, 403, "access_denied");
    let (st, body) = outsider
        .get("/v1/secrets/environments/production/db/password")
        .await;
    assert_error(st, &body, 403, "access_denied");
    // A missing path under an allowed glob is a 404; outside it, 403 (nothing leaks).
    assert_eq!(
        dev.get("/v1/secrets/environments/production/nope").await.0,
        404
    );
    assert_eq!(
        outsider
            .get("/v1/secrets/environments/production/nope")
            .await
            .0,
        403
    );

    // A user binding works like a group binding.
    s.bind(&prod_read, "user", "user:omar@ops.example").await;
    assert_eq!(
        outsider
            .get("/v1/secrets/environments/production/db/password")
            .await
            .0,
        200,
        "bindings take effect on the next request"
    );

    // The CI service account writes ci/** and nothing else.
    let admin = s.server.admin();
    let (_, sa) = admin
        .post(
            "/v1/service-accounts",
            json!({"name": "CI", "roles": ["secrets-writer"]}),
        )
        .await;
    let (_, key) = admin
        .post(
            &format!("/v1/service-accounts/{}/keys", sa["id"].as_str().unwrap()),
            json!({"name": "k"}),
        )
        .await;
    let ci_writer = s
        .policy(
            json!({"name": "ci-writer", "path": "ci/**", "permissions": ["read", "write", "list"]}),
        )
        .await;
    s.bind(&ci_writer, "service_account", sa["id"].as_str().unwrap())
        .await;
    let ci = s.server.client(key["key"].as_str().unwrap());
    assert_eq!(
        ci.put("/v1/secrets/ci/deploy/token", json!({"data": {"t": 2}}))
            .await
            .0,
        200
    );
    assert_eq!(
        ci.put("/v1/secrets/ci/new/one", json!({"data": {"t": 1}}))
            .await
            .0,
        201
    );
    let (st, body) = ci
        .put(
            "/v1/secrets/environments/production/db/password",
            json!({"data": {"t": 1}}),
        )
        .await;
    assert_error(st, &body, 403, "access_denied");

    // Editing the policy takes effect immediately: the carve-out removed, payments readable.
    let (st, _) = admin
        .put(
            &format!("/v1/policies/{prod_read}"),
            json!({"name": "production-read-only", "path": "environments/production/**", "permissions": ["read", "list"]}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        dev.get("/v1/secrets/environments/production/payments/stripe")
            .await
            .0,
        200
    );
    // Deleting it removes the access and its bindings.
    assert_eq!(
        admin.delete(&format!("/v1/policies/{prod_read}")).await.0,
        204
    );
    assert_eq!(
        dev.get("/v1/secrets/environments/production/db/password")
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn listing_shows_exactly_what_the_caller_may_list() {
    let s = Setup::start();
    let mut seeded = Vec::new();
    for area in ["team-a", "team-b", "team-c"] {
        for i in 0..7 {
            seeded.push(format!("{area}/svc{i}/key"));
        }
    }
    let refs: Vec<&str> = seeded.iter().map(String::as_str).collect();
    s.seed(&refs).await;
    let two = s
        .policy(json!({"name": "two-teams", "rules": [
            {"path": "team-a/**", "permissions": ["list", "read"]},
            {"path": "team-c/**", "permissions": ["list"]}
        ]}))
        .await;
    s.bind(&two, "user", "user:lee@ops.example").await;
    let lee = s.user("lee@ops.example", &[]);

    // Every page, followed by its cursor: exactly the 14 visible secrets, counted as 14.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/secrets?limit=4&cursor={c}"),
            None => "/v1/secrets?limit=4".to_owned(),
        };
        let (st, page) = lee.get(&url).await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(page["total_count"], 14, "{page}");
        for item in page["secrets"].as_array().unwrap() {
            seen.push(item["path"].as_str().unwrap().to_owned());
        }
        match page["cursor"].as_str() {
            Some(c) => {
                assert!(page["has_more"].as_bool().unwrap());
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    let mut expected: Vec<String> = seeded
        .iter()
        .filter(|p| !p.starts_with("team-b/"))
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
    // A prefix the caller cannot see: empty, not an error that would confirm it exists.
    let (st, page) = lee.get("/v1/secrets?prefix=team-b/").await;
    assert_eq!(st, 200);
    assert_eq!(page["total_count"], 0);
    assert_eq!(page["secrets"], json!([]));
    // The admin sees everything.
    let (_, page) = s.server.admin().get("/v1/secrets?limit=1").await;
    assert_eq!(page["total_count"], 21);
}

/// Regression (issue 14, item 5): a request refused by a deny rule answered "no policy allows
/// read", as if nothing had matched; the 403 now names the deny rule, as `policies test` does.
#[tokio::test]
async fn a_403_decided_by_a_deny_rule_says_so() {
    let s = Setup::start();
    s.seed(&[
        "environments/production/db/password",
        "environments/production/payments/stripe",
        "environments/staging/db/password",
    ])
    .await;
    let policy = s
        .policy(json!({
            "name": "production-read-only",
            "rules": [
                {"path": "environments/production/**", "permissions": ["read"]},
                {"path": "environments/production/payments/**", "permissions": ["read"], "effect": "deny"}
            ]
        }))
        .await;
    s.bind(&policy, "user", "user:dana@ops.example").await;
    let dev = s.user("dana@ops.example", &[]);

    let path = "environments/production/payments/stripe";
    let (st, body) = dev.get(&format!("/v1/secrets/{path}")).await;
    assert_error(st, &body, 403, "access_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "denied: rule 1 (environments/production/payments/**) of policy production-read-only ({policy}) denies read on {path}; a deny wins over any allow"
        )
    );
    // The same words as the explanation.
    let (st, r) = s
        .server
        .admin()
        .post(
            "/v1/policies/test",
            json!({"path": path, "permission": "read", "identity_id": "user:dana@ops.example"}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["explanation"], message);

    // Nothing matched: denied by default, and said so.
    let (st, body) = dev
        .get("/v1/secrets/environments/staging/db/password")
        .await;
    assert_error(st, &body, 403, "access_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("no policy allows read"), "{message}");
}

#[tokio::test]
async fn explain_names_the_deciding_policy_and_rule() {
    let s = Setup::start();
    let allow = s
        .policy(json!({"name": "prod-read", "path": "environments/production/**", "permissions": ["read"]}))
        .await;
    let deny = s
        .policy(json!({"name": "no-payments", "path": "environments/production/payments/*", "permissions": ["read"], "effect": "deny"}))
        .await;
    s.bind(&allow, "group", "developers").await;
    s.bind(&deny, "user", "user:dana@ops.example").await;
    let admin = s.server.admin();
    admin
        .put(
            "/v1/identity/users/user:dana@ops.example/groups",
            json!({"groups": ["developers"]}),
        )
        .await;

    let test = |path: &str, permission: &str| json!({"path": path, "permission": permission, "identity_id": "user:dana@ops.example"});
    let (st, r) = admin
        .post(
            "/v1/policies/test",
            test("environments/production/db", "read"),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["allowed"], true);
    assert_eq!(r["reason"], "allowed");
    assert_eq!(r["decided_by"]["policy_id"], allow);
    assert_eq!(r["decided_by"]["rule_index"], 0);
    assert_eq!(
        r["evaluated_identities"],
        json!(["user:dana@ops.example", "group:developers"])
    );

    let (_, r) = admin
        .post(
            "/v1/policies/test",
            test("environments/production/payments/stripe", "read"),
        )
        .await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["reason"], "denied");
    assert_eq!(r["decided_by"]["policy_name"], "no-payments");
    assert_eq!(r["decided_by"]["effect"], "deny");

    let (_, r) = admin
        .post(
            "/v1/policies/test",
            test("environments/production/db", "write"),
        )
        .await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["reason"], "no_match");
    assert!(
        r["explanation"]
            .as_str()
            .unwrap()
            .contains("denied by default")
    );

    // The caller about themselves: an admin may do everything.
    let (_, r) = admin
        .post(
            "/v1/policies/test",
            json!({"path": "x/y", "permission": "delete"}),
        )
        .await;
    assert_eq!(r["reason"], "tenant_admin");
    // A non-admin may explain only their own access.
    let dana = s.user("dana@ops.example", &["developers"]);
    let (st, r) = dana
        .post(
            "/v1/policies/test",
            json!({"path": "environments/production/db", "permission": "read"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(r["allowed"], true);
    let (st, body) = dana
        .post(
            "/v1/policies/test",
            test("environments/production/db", "read"),
        )
        .await;
    assert_eq!(st, 200, "asking about oneself by id is fine: {body}");
    let (st, body) = dana
        .post(
            "/v1/policies/test",
            json!({"path": "a", "permission": "read", "identity_id": "user:other@ops.example"}),
        )
        .await;
    assert_error(st, &body, 403, "access_denied");
}

#[tokio::test]
async fn bad_policies_are_refused_naming_the_field() {
    let s = Setup::start();
    let admin = s.server.admin();
    let cases = [
        (
            json!({"name": "x", "rules": [{"path": "a/**", "permissions": ["read"]}, {"path": "a**b", "permissions": ["read"]}]}),
            "rules[1].path",
        ),
        (
            json!({"name": "x", "rules": [{"path": "a/*", "permissions": ["read", "reed"]}]}),
            "rules[0].permissions[1]",
        ),
        (
            json!({"name": "x", "rules": [{"path": "a/*", "permissions": ["read"], "effect": "maybe"}]}),
            "rules[0].effect",
        ),
        (
            json!({"name": "x", "path": "/leading", "permissions": ["read"]}),
            "path",
        ),
        (
            json!({"name": "x", "path": "a/[bc]", "permissions": ["read"]}),
            "path",
        ),
        (json!({"name": "x", "rules": []}), "rules"),
        (json!({"name": "x"}), "rules"),
    ];
    for (body, field) in cases {
        let (st, err) = admin.post("/v1/policies", body.clone()).await;
        assert_error(st, &err, 400, "validation_error");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body} -> {message}");
    }
    let id = s
        .policy(json!({"name": "dup", "path": "a/**", "permissions": ["read"]}))
        .await;
    let (st, err) = admin
        .post(
            "/v1/policies",
            json!({"name": "dup", "path": "b/**", "permissions": ["read"]}),
        )
        .await;
    assert_error(st, &err, 409, "conflict");
    let (st, err) = admin
        .post(
            &format!("/v1/policies/{id}/bindings"),
            json!({"identity_type": "robot", "identity_id": "r2d2"}),
        )
        .await;
    assert_error(st, &err, 400, "validation_error");
    let (st, err) = admin
        .post(
            "/v1/policies/test",
            json!({"path": "a/b", "permission": "fly"}),
        )
        .await;
    assert_error(st, &err, 400, "validation_error");
    // A non-admin cannot manage policies.
    let user = s.user("u@ops.example", &[]);
    let (st, err) = user.get("/v1/policies").await;
    assert_error(st, &err, 403, "access_denied");
    // Listing, reading, bindings.
    let (st, list) = admin.get("/v1/policies").await;
    assert_eq!(st, 200);
    assert_eq!(list["policies"].as_array().unwrap().len(), 1);
    let (st, one) = admin.get(&format!("/v1/policies/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(one["rules"][0]["effect"], "allow");
    s.bind(&id, "group", "group:ops").await;
    let (st, b) = admin.get(&format!("/v1/policies/{id}/bindings")).await;
    assert_eq!(st, 200);
    assert_eq!(b["bindings"][0]["identity_id"], "group:ops");
    assert_eq!(
        admin
            .delete(&format!("/v1/policies/{id}/bindings/group:ops"))
            .await
            .0,
        204
    );
}
