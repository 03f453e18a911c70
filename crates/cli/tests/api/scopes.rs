//! Token scopes over HTTP: every route of the OpenAPI document refuses a token without the
//! scope the document says it needs, and no token creates a credential that can do more than
//! itself (issue 14).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{Api, TestServer, assert_error};

/// Routes that need no scope, only a valid credential (or none). Keep this list short: every
/// other route must name its scope in its OpenAPI operation.
const NO_SCOPE: [(&str, &str); 11] = [
    // Health: no credential at all, for load balancers and orchestrators.
    ("GET", "/health"),
    ("GET", "/health/ready"),
    // The seal: a sealed server cannot check a credential (docs/keys.md).
    ("GET", "/v1/sys/seal-status"),
    ("POST", "/v1/sys/unseal"),
    // Describes the caller's own credential (identity, tenant, scopes).
    ("GET", "/v1/auth/whoami"),
    // The caller's own tokens, metadata only (never a value).
    ("GET", "/v1/auth/tokens"),
    // An API key for a short-lived token with exactly its scopes, which dies with the key.
    ("POST", "/v1/auth/exchange"),
    // A CA's CRL and OCSP responder: public by nature (relying parties have no credential).
    ("GET", "/v1/pki/crl/{ca_id}"),
    ("POST", "/v1/pki/ocsp/{ca_id}"),
    ("GET", "/v1/pki/ocsp/{ca_id}/{request}"),
    // The ACME CA's http-01 request: public by nature (docs/acme.md).
    ("GET", "/.well-known/acme-challenge/{token}"),
];

/// A request body for routes whose scope depends on what is asked. Every other route checks
/// its scope before reading the body, so it gets `{}`.
fn body_for(method: &str, path: &str) -> Value {
    match (method, path) {
        // Explaining one's own access needs no scope; another identity's needs policies:read.
        ("POST", "/v1/policies/test") => json!({
            "path": "app/db", "permission": "read", "identity_id": "user:someone-else@example.com"
        }),
        _ => json!({}),
    }
}

/// A plausible value for a path parameter: the documented id prefix (`sva_...`), a secret
/// path, or another identity than the caller.
fn fill(name: &str, description: &str) -> String {
    match name {
        "path" => "app/db".to_owned(),
        // Dynamic engines and roles are named by the tenant.
        "engine" => "pg".to_owned(),
        "role" => "readonly".to_owned(),
        // An ACME http-01 token (public, unaudited).
        "token" => "probe-token".to_owned(),
        // Not the caller: reading one's own groups needs no scope.
        "identity_id" => "user:someone-else@example.com".to_owned(),
        _ => match description.strip_suffix("...") {
            Some(prefix) if prefix.ends_with('_') => format!("{prefix}probe"),
            _ => panic!("no plausible value for path parameter {name} ({description}): add one"),
        },
    }
}

/// The scopes an operation's `security` requirement lists; `None` without a requirement.
fn declared_scopes(operation: &Value) -> Option<Vec<String>> {
    let requirements = operation.get("security")?.as_array()?;
    let mut scopes = Vec::new();
    for requirement in requirements {
        for s in requirement["bearer"].as_array().unwrap() {
            scopes.push(s.as_str().unwrap().to_owned());
        }
    }
    Some(scopes)
}

/// Walks every operation of the served OpenAPI document. For each scope an operation lists, a
/// token holding every other scope (made by the dev root, a tenant and partner admin, so no
/// role is missing) must get 403 access_denied naming that scope. An operation listing no
/// scope must be on the allow-list above. So a new route cannot ship unscoped.
#[tokio::test]
async fn every_route_refuses_a_token_without_its_scope() {
    let server = TestServer::start();
    let root = server.client();
    let (s, me) = root.get("/v1/auth/whoami").await;
    assert_eq!(s, 200);
    let catalogue: Vec<String> = me["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert!(catalogue.len() >= 11, "the dev root has every scope: {me}");

    // For each scope, a token with all the others.
    let mut lacking = std::collections::BTreeMap::new();
    for scope in &catalogue {
        let others: Vec<&String> = catalogue.iter().filter(|s| *s != scope).collect();
        let (s, created) = root
            .post(
                "/v1/auth/tokens",
                json!({"name": format!("without {scope}"), "scopes": others, "ttl": "1h"}),
            )
            .await;
        assert_eq!(s, 201, "{created}");
        lacking.insert(
            scope.clone(),
            root.with_token(created["token"].as_str().unwrap()),
        );
    }

    let (s, doc) = root.anonymous().get("/v1/openapi.json").await;
    assert_eq!(s, 200);
    let mut checked = 0;
    let mut unscoped = BTreeSet::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            if !["GET", "PUT", "POST", "PATCH", "DELETE"].contains(&method.as_str()) {
                continue;
            }
            let route = format!("{method} {template}");
            let scopes = declared_scopes(operation).unwrap_or_default();
            if scopes.is_empty() {
                unscoped.insert((method.clone(), template.clone()));
                continue;
            }
            let mut path = template.clone();
            for param in operation["parameters"].as_array().into_iter().flatten() {
                if param["in"] == "path" {
                    let name = param["name"].as_str().unwrap();
                    let value = fill(name, param["description"].as_str().unwrap_or(""));
                    path = path.replace(&format!("{{{name}}}"), &value);
                }
            }
            assert!(!path.contains('{'), "{route}: unfilled parameter in {path}");
            for scope in &scopes {
                let api: &Api = lacking
                    .get(scope)
                    .unwrap_or_else(|| panic!("{route} lists {scope}, not a known scope"));
                let mut request = api.request(method.parse().unwrap(), &path);
                if ["PUT", "POST", "PATCH"].contains(&method.as_str()) {
                    request = request.json(&body_for(&method, template));
                }
                let (status, body) = api.send(request).await;
                assert_eq!(
                    status, 403,
                    "{route} ({path}) with a token without {scope}: {body}"
                );
                assert_error(status, &body, 403, "access_denied");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains(scope.as_str()),
                    "{route}: refused for another reason than {scope}: {message}"
                );
                checked += 1;
            }
        }
    }
    let allowed: BTreeSet<(String, String)> = NO_SCOPE
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        unscoped, allowed,
        "operations without a scope must be exactly the allow-list (a new route names its \
         scope in its OpenAPI security requirement)"
    );
    // 72 operations at the time of writing: a much smaller count means a truncated document.
    assert!(
        checked >= 60,
        "only {checked} checks: is the document complete?"
    );
}

/// The probe of issue 14: a token narrowed to a few scopes cannot make a service account, an
/// API key, a personal token or a registered admin with scopes it lacks.
#[tokio::test]
async fn a_token_never_creates_a_credential_beyond_its_scopes() {
    let server = TestServer::start();
    let root = server.client();
    let token = |scopes: Value| {
        let root = root.clone();
        async move {
            let (s, created) = root
                .post(
                    "/v1/auth/tokens",
                    json!({"name": "narrow", "scopes": scopes, "ttl": "1h"}),
                )
                .await;
            assert_eq!(s, 201, "{created}");
            root.with_token(created["token"].as_str().unwrap())
        }
    };

    // Only secrets:read, made by a tenant admin: none of the requests get through.
    let reader = token(json!(["secrets:read"])).await;
    let (s, sa) = root
        .post(
            "/v1/service-accounts",
            json!({"name": "existing", "roles": ["secrets-reader"]}),
        )
        .await;
    assert_eq!(s, 201, "{sa}");
    let sa_id = sa["id"].as_str().unwrap();
    // A tenant of the root's partner, within a partner admin's reach through /v1/t/.
    let (s, other) = root
        .post("/v1/identity/tenants", json!({"slug": "other"}))
        .await;
    assert_eq!(s, 201, "{other}");
    let other = other["id"].as_str().unwrap();
    for (method, path, body) in [
        (
            "POST",
            "/v1/service-accounts".to_owned(),
            json!({"name": "x", "roles": ["tenant-admin"]}),
        ),
        (
            "POST",
            format!("/v1/service-accounts/{sa_id}/keys"),
            json!({"name": "k"}),
        ),
        ("DELETE", format!("/v1/service-accounts/{sa_id}"), json!({})),
        (
            "PUT",
            "/v1/identity/users/user:bob@dev.local/groups".to_owned(),
            json!({"groups": ["admins"]}),
        ),
        (
            "POST",
            "/v1/policies/test".to_owned(),
            json!({"path": "app/db", "permission": "write", "identity_id": "user:bob@dev.local"}),
        ),
        (
            "POST",
            "/v1/identity/register".to_owned(),
            json!({"scope": "tenant", "tenant_slug": "evil", "email": "x@evil.example"}),
        ),
        (
            "POST",
            "/v1/identity/tenants".to_owned(),
            json!({"slug": "evil"}),
        ),
        (
            "POST",
            format!("/v1/t/{other}/service-accounts"),
            json!({"name": "x", "roles": ["secrets-reader"]}),
        ),
        (
            "POST",
            "/v1/auth/tokens".to_owned(),
            json!({"name": "longer", "scopes": ["secrets:read"], "ttl": "365d"}),
        ),
    ] {
        let request = reader.request(method.parse().unwrap(), &path).json(&body);
        let (s, body) = reader.send(request).await;
        assert_eq!(s, 403, "{method} {path}: {body}");
        assert_error(s, &body, 403, "access_denied");
    }
    // Its own access it may still explain.
    let (s, body) = reader
        .post(
            "/v1/policies/test",
            json!({"path": "app/db", "permission": "read"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    // May manage service accounts, but holds only secrets:read, pki:read (and tokens:write)
    // itself.
    let manager = token(json!([
        "service-accounts:read",
        "service-accounts:write",
        "secrets:read",
        "pki:read",
        "dynamic:read",
        "dynamic:creds",
        "tokens:write"
    ]))
    .await;
    for roles in [
        json!(["tenant-admin"]),
        json!(["secrets-writer"]),
        json!(["auditor"]),
    ] {
        let (s, body) = manager
            .post("/v1/service-accounts", json!({"name": "x", "roles": roles}))
            .await;
        assert_error(s, &body, 403, "access_denied");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("cannot grant"),
            "{body}"
        );
    }
    let (s, within) = manager
        .post(
            "/v1/service-accounts",
            json!({"name": "reader", "roles": ["secrets-reader"]}),
        )
        .await;
    assert_eq!(s, 201, "{within}");
    assert_eq!(
        within["scopes"],
        json!([
            "secrets:read",
            "tokens:write",
            "pki:read",
            "dynamic:read",
            "dynamic:creds"
        ])
    );
    // A key acts with its account's scopes: none for an account that can do more.
    let (s, admin_sa) = root
        .post(
            "/v1/service-accounts",
            json!({"name": "admin", "roles": ["tenant-admin"]}),
        )
        .await;
    assert_eq!(s, 201, "{admin_sa}");
    let (s, body) = manager
        .post(
            &format!(
                "/v1/service-accounts/{}/keys",
                admin_sa["id"].as_str().unwrap()
            ),
            json!({"name": "k"}),
        )
        .await;
    assert_error(s, &body, 403, "access_denied");
    let (s, key) = manager
        .post(
            &format!(
                "/v1/service-accounts/{}/keys",
                within["id"].as_str().unwrap()
            ),
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let (s, body) = manager
        .post(
            "/v1/auth/tokens",
            json!({"name": "more", "scopes": ["secrets:write"]}),
        )
        .await;
    assert_error(s, &body, 403, "access_denied");

    // Registration creates an admin with its role's scopes, which the caller must hold.
    let onboarder = token(json!(["tenants:admin", "identity:read", "secrets:read"])).await;
    for body in [
        json!({"scope": "tenant", "tenant_slug": "acme", "email": "admin@acme.example"}),
        json!({"scope": "partner", "partner_name": "Reseller", "email": "admin@reseller.example"}),
    ] {
        let (s, refused) = onboarder.post("/v1/identity/register", body).await;
        assert_error(s, &refused, 403, "access_denied");
    }
    let (s, registered) = root
        .post(
            "/v1/identity/register",
            json!({"scope": "tenant", "tenant_slug": "acme", "email": "admin@acme.example"}),
        )
        .await;
    assert_eq!(s, 201, "{registered}");
    let (_, me) = root
        .with_token(registered["token"].as_str().unwrap())
        .get("/v1/auth/whoami")
        .await;
    let scopes = me["scopes"].as_array().unwrap();
    assert!(
        !scopes.contains(&json!("tenants:admin")),
        "a tenant admin gets the tenant scopes only: {me}"
    );
    assert!(scopes.contains(&json!("service-accounts:write")), "{me}");
}
