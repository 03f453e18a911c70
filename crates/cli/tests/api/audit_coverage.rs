//! Audit coverage over HTTP (issue 15): every route of the OpenAPI document either declares its
//! audit operation (and every request to it, even one refused before authentication, leaves
//! exactly one entry naming it) or is on the short list of routes that touch no resource; and
//! every change, made successfully, leaves exactly one entry of its own, committed with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::common::{Api, TestServer};

/// Routes that touch no resource, so write no entry (docs/audit.md); and the public PKI
/// endpoints, which change nothing and state only what a CRL or OCSP response states to
/// anyone (rate limited instead: auditing every relying party's check would flood the chain).
const UNAUDITED: [(&str, &str); 10] = [
    ("GET", "/health"),
    ("GET", "/health/ready"),
    // The seal: answered by sealed servers too, touches no resource (docs/keys.md).
    ("GET", "/v1/sys/seal-status"),
    ("POST", "/v1/sys/unseal"),
    ("GET", "/v1/auth/whoami"),
    // A scrape every 15 s would bury the trail (docs/monitoring.md).
    ("GET", "/v1/sys/metrics"),
    ("GET", "/v1/pki/crl/{ca_id}"),
    ("POST", "/v1/pki/ocsp/{ca_id}"),
    ("GET", "/v1/pki/ocsp/{ca_id}/{request}"),
    // The ACME CA's http-01 request (docs/acme.md): answers a published token to anyone.
    ("GET", "/.well-known/acme-challenge/{token}"),
];

/// (method, OpenAPI path, action, resource type) of every audited route: the contract of
/// docs/audit.md. A service may refine the action of a request (a permanent delete is
/// `destroy`), never its resource type.
const DECLARED: &[(&str, &str, &str, &str)] = &[
    ("GET", "/v1/secrets", "list", "secret"),
    ("GET", "/v1/secrets/expiring", "list_expiring", "secret"),
    (
        "GET",
        "/v1/secrets/metadata/{path}",
        "read_metadata",
        "secret",
    ),
    ("GET", "/v1/secrets/{path}", "read", "secret"),
    ("PUT", "/v1/secrets/{path}", "write", "secret"),
    ("PATCH", "/v1/secrets/{path}", "update", "secret"),
    ("DELETE", "/v1/secrets/{path}", "delete", "secret"),
    (
        "GET",
        "/v1/secrets/{path}/versions",
        "list_versions",
        "secret",
    ),
    ("POST", "/v1/secrets/{path}/restore", "restore", "secret"),
    ("POST", "/v1/secrets/{path}/rotate", "rotate", "secret"),
    ("GET", "/v1/auth/tokens", "list", "token"),
    ("POST", "/v1/auth/tokens", "create", "token"),
    ("DELETE", "/v1/auth/tokens/{id}", "revoke", "token"),
    ("POST", "/v1/auth/exchange", "exchange", "token"),
    ("GET", "/v1/identity/partners", "list", "partner"),
    ("POST", "/v1/identity/partners", "create", "partner"),
    ("GET", "/v1/identity/tenants", "list", "tenant"),
    ("POST", "/v1/identity/tenants", "create", "tenant"),
    ("GET", "/v1/identity/tenants/{id}", "read", "tenant"),
    (
        "GET",
        "/v1/identity/users/{identity_id}/groups",
        "read",
        "groups",
    ),
    (
        "PUT",
        "/v1/identity/users/{identity_id}/groups",
        "update",
        "groups",
    ),
    ("POST", "/v1/identity/register", "register", "tenant"),
    ("GET", "/v1/service-accounts", "list", "service_account"),
    ("POST", "/v1/service-accounts", "create", "service_account"),
    (
        "GET",
        "/v1/service-accounts/{id}",
        "read",
        "service_account",
    ),
    (
        "DELETE",
        "/v1/service-accounts/{id}",
        "delete",
        "service_account",
    ),
    ("GET", "/v1/service-accounts/{id}/keys", "list", "api_key"),
    (
        "POST",
        "/v1/service-accounts/{id}/keys",
        "create",
        "api_key",
    ),
    (
        "DELETE",
        "/v1/service-accounts/{id}/keys/{key_id}",
        "delete",
        "api_key",
    ),
    ("GET", "/v1/policies", "list", "policy"),
    ("POST", "/v1/policies", "create", "policy"),
    ("POST", "/v1/policies/test", "test", "policy"),
    ("GET", "/v1/policies/{id}", "read", "policy"),
    ("PUT", "/v1/policies/{id}", "update", "policy"),
    ("DELETE", "/v1/policies/{id}", "delete", "policy"),
    (
        "GET",
        "/v1/policies/{id}/bindings",
        "list_bindings",
        "policy",
    ),
    ("POST", "/v1/policies/{id}/bindings", "bind", "policy"),
    (
        "DELETE",
        "/v1/policies/{id}/bindings/{identity_id}",
        "unbind",
        "policy",
    ),
    ("GET", "/v1/subscriptions", "list", "subscription"),
    ("POST", "/v1/subscriptions", "create", "subscription"),
    ("GET", "/v1/subscriptions/{id}", "read", "subscription"),
    ("DELETE", "/v1/subscriptions/{id}", "delete", "subscription"),
    ("GET", "/v1/subscriptions/{id}/poll", "poll", "subscription"),
    (
        "GET",
        "/v1/subscriptions/{id}/dead-letters",
        "dead_letters",
        "subscription",
    ),
    (
        "POST",
        "/v1/subscriptions/{id}/rotate-secret",
        "rotate_secret",
        "subscription",
    ),
    ("GET", "/v1/secret-policies", "list", "secret_policy"),
    ("POST", "/v1/secret-policies", "create", "secret_policy"),
    ("GET", "/v1/secret-policies/types", "types", "secret_policy"),
    ("GET", "/v1/secret-policies/{id}", "read", "secret_policy"),
    ("PUT", "/v1/secret-policies/{id}", "update", "secret_policy"),
    (
        "DELETE",
        "/v1/secret-policies/{id}",
        "delete",
        "secret_policy",
    ),
    (
        "POST",
        "/v1/secret-policies/{id}/generate",
        "generate",
        "secret_policy",
    ),
    ("GET", "/v1/rotation/policies", "list", "rotation_policy"),
    ("POST", "/v1/rotation/policies", "create", "rotation_policy"),
    (
        "GET",
        "/v1/rotation/policies/{id}",
        "read",
        "rotation_policy",
    ),
    (
        "PUT",
        "/v1/rotation/policies/{id}",
        "update",
        "rotation_policy",
    ),
    (
        "DELETE",
        "/v1/rotation/policies/{id}",
        "delete",
        "rotation_policy",
    ),
    (
        "POST",
        "/v1/rotation/policies/{id}/assign",
        "assign",
        "rotation_policy",
    ),
    (
        "POST",
        "/v1/rotation/policies/{id}/unassign",
        "unassign",
        "rotation_policy",
    ),
    (
        "POST",
        "/v1/rotation/policies/{id}/trigger",
        "trigger",
        "rotation_policy",
    ),
    (
        "GET",
        "/v1/rotation/policies/{id}/history",
        "list_runs",
        "rotation_policy",
    ),
    (
        "GET",
        "/v1/rotation/policies/{id}/secrets",
        "list_secrets",
        "rotation_policy",
    ),
    ("GET", "/v1/rotation/due", "list_due", "rotation_policy"),
    ("GET", "/v1/rotation/runs", "list_runs", "rotation_policy"),
    ("GET", "/v1/audit", "query", "audit"),
    ("GET", "/v1/audit/summary", "summary", "audit"),
    ("POST", "/v1/audit/verify", "verify", "audit"),
    ("GET", "/v1/audit/trail/{path}", "trail", "audit"),
    ("GET", "/v1/pki/cas", "list", "ca"),
    ("POST", "/v1/pki/cas", "create", "ca"),
    ("POST", "/v1/pki/cas/import", "import", "ca"),
    ("GET", "/v1/pki/cas/{id}", "read", "ca"),
    ("GET", "/v1/pki/cas/{id}/cert", "read_certificate", "ca"),
    ("POST", "/v1/pki/cas/{id}/disable", "disable", "ca"),
    ("GET", "/v1/pki/certs", "list", "certificate"),
    ("POST", "/v1/pki/certs", "issue", "certificate"),
    ("GET", "/v1/pki/certs/{id}", "read", "certificate"),
    ("POST", "/v1/pki/certs/{id}/revoke", "revoke", "certificate"),
    ("POST", "/v1/pki/certs/{id}/renew", "renew", "certificate"),
    ("GET", "/v1/pki/csrs", "list", "csr"),
    ("POST", "/v1/pki/csrs", "submit", "csr"),
    ("GET", "/v1/pki/csrs/{id}", "read", "csr"),
    ("POST", "/v1/pki/csrs/{id}/approve", "approve", "csr"),
    ("POST", "/v1/pki/csrs/{id}/reject", "reject", "csr"),
    ("POST", "/v1/pki/csrs/{id}/sign", "sign", "csr"),
    ("GET", "/v1/dynamic/engines", "list", "dynamic_engine"),
    ("POST", "/v1/dynamic/engines", "create", "dynamic_engine"),
    (
        "GET",
        "/v1/dynamic/engines/{engine}",
        "read",
        "dynamic_engine",
    ),
    (
        "PATCH",
        "/v1/dynamic/engines/{engine}",
        "update",
        "dynamic_engine",
    ),
    (
        "DELETE",
        "/v1/dynamic/engines/{engine}",
        "delete",
        "dynamic_engine",
    ),
    (
        "POST",
        "/v1/dynamic/engines/{engine}/rotate-root",
        "rotate_root",
        "dynamic_engine",
    ),
    (
        "GET",
        "/v1/dynamic/engines/{engine}/ca",
        "read_ca",
        "dynamic_engine",
    ),
    (
        "GET",
        "/v1/dynamic/engines/{engine}/roles",
        "list",
        "dynamic_role",
    ),
    (
        "POST",
        "/v1/dynamic/engines/{engine}/roles",
        "create",
        "dynamic_role",
    ),
    (
        "GET",
        "/v1/dynamic/engines/{engine}/roles/{role}",
        "read",
        "dynamic_role",
    ),
    (
        "PATCH",
        "/v1/dynamic/engines/{engine}/roles/{role}",
        "update",
        "dynamic_role",
    ),
    (
        "DELETE",
        "/v1/dynamic/engines/{engine}/roles/{role}",
        "delete",
        "dynamic_role",
    ),
    (
        "POST",
        "/v1/dynamic/engines/{engine}/creds/{role}",
        "create",
        "lease",
    ),
    ("GET", "/v1/dynamic/leases", "list", "lease"),
    (
        "POST",
        "/v1/dynamic/leases/revoke-prefix",
        "revoke_prefix",
        "lease",
    ),
    ("GET", "/v1/dynamic/leases/{id}", "read", "lease"),
    ("GET", "/v1/sys/keys", "read", "keyring"),
    ("POST", "/v1/sys/keys/rotate", "rotate", "keyring"),
    ("POST", "/v1/dynamic/leases/{id}/renew", "renew", "lease"),
    ("POST", "/v1/dynamic/leases/{id}/revoke", "revoke", "lease"),
    ("GET", "/v1/pki/acme/accounts", "list", "acme_account"),
    ("POST", "/v1/pki/acme/accounts", "create", "acme_account"),
    ("GET", "/v1/pki/acme/accounts/{id}", "read", "acme_account"),
    (
        "POST",
        "/v1/pki/acme/accounts/{id}/deactivate",
        "deactivate",
        "acme_account",
    ),
    ("GET", "/v1/pki/dns-providers", "list", "dns_provider"),
    ("POST", "/v1/pki/dns-providers", "create", "dns_provider"),
    ("GET", "/v1/pki/dns-providers/{id}", "read", "dns_provider"),
    (
        "DELETE",
        "/v1/pki/dns-providers/{id}",
        "delete",
        "dns_provider",
    ),
    ("GET", "/v1/pki/acme/orders", "list", "acme_order"),
    ("POST", "/v1/pki/acme/orders", "create", "acme_order"),
    ("GET", "/v1/pki/acme/orders/{id}", "read", "acme_order"),
];

/// The declared (action, resource type) of an OpenAPI operation.
fn declared(method: &str, template: &str) -> Option<(&'static str, &'static str)> {
    DECLARED
        .iter()
        .find(|(m, t, _, _)| *m == method && *t == template)
        .map(|(_, _, action, kind)| (*action, *kind))
}

/// A plausible value for a path parameter (as in scopes.rs): nothing of it exists.
fn fill(name: &str, description: &str) -> String {
    match name {
        "path" => "app/db".to_owned(),
        // Dynamic engines and roles are named by the tenant.
        "engine" => "pg".to_owned(),
        "role" => "readonly".to_owned(),
        // An ACME http-01 token (public, unaudited).
        "token" => "probe-token".to_owned(),
        "identity_id" => "user:someone-else@example.com".to_owned(),
        // An OCSP request in the GET form (unaudited).
        "request" => "MAA%3D".to_owned(),
        _ => match description.strip_suffix("...") {
            Some(prefix) if prefix.ends_with('_') => format!("{prefix}probe"),
            _ => panic!("no plausible value for path parameter {name} ({description}): add one"),
        },
    }
}

/// Sends a request; returns (status, body, request id).
async fn send(api: &Api, method: &str, path: &str, body: Option<&Value>) -> (u16, Value, String) {
    let mut request = api.request(method.parse().unwrap(), path);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, request_id)
}

/// Every entry in the caller's reach, by request id.
async fn entries_by_request(api: &Api) -> HashMap<String, Vec<Value>> {
    let mut by_request: HashMap<String, Vec<Value>> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/audit?limit=500&cursor={c}"),
            None => "/v1/audit?limit=500".to_owned(),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for entry in page["entries"].as_array().unwrap() {
            by_request
                .entry(entry["request_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(entry.clone());
        }
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return by_request,
        }
    }
}

/// Walks every operation of the served OpenAPI document. An audited route's request leaves
/// exactly one entry with its declared action, resource type and (the route's path parameters)
/// resource path, whether the dev root calls it or an anonymous caller is refused with 401
/// before anything else runs; an unaudited route's leaves none. A new route must be declared
/// (here and in docs/audit.md) or added to the short unaudited list.
#[tokio::test]
async fn every_route_declares_its_documented_audit_operation() {
    let server = TestServer::start();
    let root = server.client();
    let anonymous = root.anonymous();
    let (s, doc) = anonymous.get("/v1/openapi.json").await;
    assert_eq!(s, 200);

    let unaudited: BTreeSet<(String, String)> = UNAUDITED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    // (request id, route, expected (action, resource type, path); None: no entry).
    type Expected = (
        String,
        String,
        Option<(&'static str, &'static str, Option<String>)>,
    );
    let mut expected: Vec<Expected> = Vec::new();
    let mut seen = BTreeSet::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            if !["GET", "PUT", "POST", "PATCH", "DELETE"].contains(&method.as_str()) {
                continue;
            }
            let route = format!("{method} {template}");
            seen.insert((method.clone(), template.clone()));
            let mut values = BTreeMap::new();
            for param in operation["parameters"].as_array().into_iter().flatten() {
                if param["in"] == "path" {
                    let name = param["name"].as_str().unwrap();
                    let value = fill(name, param["description"].as_str().unwrap_or(""));
                    values.insert(name.to_owned(), value);
                }
            }
            let mut path = template.clone();
            for (name, value) in &values {
                path = path.replace(&format!("{{{name}}}"), value);
            }
            // The resource path: the parameters in the order the route names them.
            let mut in_order: Vec<(usize, &String)> = values
                .iter()
                .map(|(name, value)| (template.find(&format!("{{{name}}}")).unwrap(), value))
                .collect();
            in_order.sort();
            let resource = (!in_order.is_empty()).then(|| {
                in_order
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join("/")
            });
            let want = if unaudited.contains(&(method.clone(), template.clone())) {
                None
            } else {
                let (action, kind) = declared(&method, template).unwrap_or_else(|| {
                    panic!("{route} declares no audit operation here: add it to DECLARED")
                });
                Some((action, kind, resource))
            };
            let body = ["PUT", "POST", "PATCH"]
                .contains(&method.as_str())
                .then(|| json!({}));
            for caller in [&root, &anonymous] {
                let (_, _, request_id) = send(caller, &method, &path, body.as_ref()).await;
                expected.push((request_id, route.clone(), want.clone()));
            }
        }
    }
    let missing: Vec<_> = DECLARED
        .iter()
        .filter(|(m, t, _, _)| !seen.contains(&((*m).to_owned(), (*t).to_owned())))
        .collect();
    assert!(
        missing.is_empty(),
        "declared but not in the document: {missing:?}"
    );
    assert!(
        expected.len() >= 140,
        "is the document complete? {}",
        expected.len()
    );

    let entries = entries_by_request(&root).await;
    for (request_id, route, want) in &expected {
        let found = entries.get(request_id).map(Vec::as_slice).unwrap_or(&[]);
        let Some((action, kind, resource)) = want else {
            assert!(found.is_empty(), "{route} is not audited: {found:#?}");
            continue;
        };
        assert_eq!(found.len(), 1, "{route}: exactly one entry: {found:#?}");
        let entry = &found[0];
        assert_eq!(entry["action"], *action, "{route}: {entry}");
        assert_eq!(entry["resource_type"], *kind, "{route}: {entry}");
        assert_eq!(
            entry["path"].as_str(),
            resource.as_deref(),
            "{route}: {entry}"
        );
        if entry["identity_id"] == "anonymous" {
            assert_eq!(entry["outcome"], "denied", "{route}: {entry}");
            assert_eq!(entry["error_code"], "authentication_required", "{route}");
        }
    }
}

/// One successful call of a mutating route, and the entries it should leave besides its own.
struct Call {
    route: String,
    request_id: String,
    extra: Vec<&'static str>,
}

struct Script {
    calls: Vec<Call>,
}

impl Script {
    /// Calls `template` (with its parameters filled in as `path`) and requires success.
    async fn call(
        &mut self,
        api: &Api,
        method: &str,
        template: &str,
        path: &str,
        body: Value,
        extra: &[&'static str],
    ) -> Value {
        let (status, body, request_id) = send(api, method, path, Some(&body)).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {body}"
        );
        self.calls.push(Call {
            route: format!("{method} {template}"),
            request_id,
            extra: extra.to_vec(),
        });
        body
    }
}

/// Every POST, PUT, PATCH and DELETE of the OpenAPI document, called successfully, leaves
/// exactly one entry of its own (its declared action, committed with the change), and nothing
/// else except where listed below, with the reason.
#[tokio::test]
async fn every_change_leaves_exactly_one_entry_naming_it() {
    let server = TestServer::start_with_args(&["--dev-webhook-network", "127.0.0.0/8"]);
    let root = server.client();
    let mut script = Script { calls: Vec::new() };
    let s = &mut script;
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();

    let token = s
        .call(
            &root,
            "POST",
            "/v1/auth/tokens",
            "/v1/auth/tokens",
            json!({"name": "t", "scopes": ["secrets:read"], "ttl": "1h"}),
            &[],
        )
        .await;
    s.call(
        &root,
        "DELETE",
        "/v1/auth/tokens/{id}",
        &format!("/v1/auth/tokens/{}", id(&token)),
        json!({}),
        &[],
    )
    .await;

    let secret = "/v1/secrets/cov/db";
    for (method, template, path, body) in [
        (
            "PUT",
            "/v1/secrets/{path}",
            secret.to_owned(),
            json!({"data": {"p": "1"}}),
        ),
        (
            "PATCH",
            "/v1/secrets/{path}",
            secret.to_owned(),
            json!({"metadata": {"description": "d"}}),
        ),
        (
            "POST",
            "/v1/secrets/{path}/rotate",
            format!("{secret}/rotate"),
            json!({"new_value": {"p": "2"}}),
        ),
        ("DELETE", "/v1/secrets/{path}", secret.to_owned(), json!({})),
        (
            "POST",
            "/v1/secrets/{path}/restore",
            format!("{secret}/restore"),
            json!({}),
        ),
    ] {
        s.call(&root, method, template, &path, body, &[]).await;
    }

    let account = s
        .call(
            &root,
            "POST",
            "/v1/service-accounts",
            "/v1/service-accounts",
            json!({"name": "cov", "roles": ["secrets-reader"]}),
            &[],
        )
        .await;
    let account = id(&account);
    let key = s
        .call(
            &root,
            "POST",
            "/v1/service-accounts/{id}/keys",
            &format!("/v1/service-accounts/{account}/keys"),
            json!({"name": "k"}),
            &[],
        )
        .await;
    s.call(
        &root.with_token(key["key"].as_str().unwrap()),
        "POST",
        "/v1/auth/exchange",
        "/v1/auth/exchange",
        json!({}),
        &[],
    )
    .await;
    s.call(
        &root,
        "DELETE",
        "/v1/service-accounts/{id}/keys/{key_id}",
        &format!("/v1/service-accounts/{account}/keys/{}", id(&key)),
        json!({}),
        &[],
    )
    .await;
    s.call(
        &root,
        "DELETE",
        "/v1/service-accounts/{id}",
        &format!("/v1/service-accounts/{account}"),
        json!({}),
        &[],
    )
    .await;

    s.call(
        &root,
        "POST",
        "/v1/identity/partners",
        "/v1/identity/partners",
        json!({"name": "Coverage partner"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/identity/tenants",
        "/v1/identity/tenants",
        json!({"slug": "coverage"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "PUT",
        "/v1/identity/users/{identity_id}/groups",
        "/v1/identity/users/user:bob@dev.local/groups",
        json!({"groups": ["ops"]}),
        &[],
    )
    .await;
    // Registration creates a tenant and its admin's token: the token's entry goes on the new
    // tenant's chain (the tenant's trail starts with it), beside the request's own.
    let registered = s
        .call(
            &root,
            "POST",
            "/v1/identity/register",
            "/v1/identity/register",
            json!({"scope": "tenant", "tenant_slug": "cov-reg", "email": "admin@cov.example"}),
            &["create"],
        )
        .await;
    let new_admin = root.with_token(registered["token"].as_str().unwrap());
    let (s_, trail) = new_admin.get("/v1/audit").await;
    assert_eq!(s_, 200, "{trail}");
    let first = &trail["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(first["action"], "create", "{trail}");
    assert_eq!(first["resource_type"], "token");
    assert_eq!(first["path"], registered["token_id"]);
    assert_eq!(first["identity_id"], "user:root@dev.local");

    let policy_body = json!({"name": "cov", "path": "cov/**", "permissions": ["read"]});
    let policy = s
        .call(
            &root,
            "POST",
            "/v1/policies",
            "/v1/policies",
            policy_body.clone(),
            &[],
        )
        .await;
    let policy = id(&policy);
    s.call(
        &root,
        "PUT",
        "/v1/policies/{id}",
        &format!("/v1/policies/{policy}"),
        json!({"name": "cov", "path": "cov/**", "permissions": ["read", "list"]}),
        &[],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/policies/{id}/bindings",
        &format!("/v1/policies/{policy}/bindings"),
        json!({"identity_type": "user", "identity_id": "user:bob@dev.local"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "DELETE",
        "/v1/policies/{id}/bindings/{identity_id}",
        &format!("/v1/policies/{policy}/bindings/user:bob@dev.local"),
        json!({}),
        &[],
    )
    .await;
    // Explains access; changes nothing, still one entry.
    s.call(
        &root,
        "POST",
        "/v1/policies/test",
        "/v1/policies/test",
        json!({"path": "cov/db", "permission": "read"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "DELETE",
        "/v1/policies/{id}",
        &format!("/v1/policies/{policy}"),
        json!({}),
        &[],
    )
    .await;

    let subscription = s
        .call(
            &root,
            "POST",
            "/v1/subscriptions",
            "/v1/subscriptions",
            json!({"name": "cov", "paths": ["nothing/**"], "events": ["secret.created"],
                   "webhook": "http://127.0.0.1:9/hook"}),
            &[],
        )
        .await;
    let subscription = id(&subscription);
    s.call(
        &root,
        "POST",
        "/v1/subscriptions/{id}/rotate-secret",
        &format!("/v1/subscriptions/{subscription}/rotate-secret"),
        json!({}),
        &[],
    )
    .await;
    s.call(
        &root,
        "DELETE",
        "/v1/subscriptions/{id}",
        &format!("/v1/subscriptions/{subscription}"),
        json!({}),
        &[],
    )
    .await;
    // Verifies the chains; changes nothing, still one entry.
    s.call(
        &root,
        "POST",
        "/v1/audit/verify",
        "/v1/audit/verify",
        json!({}),
        &[],
    )
    .await;

    let generator = |length: u32| {
        json!({"name": format!("cov-{length}"), "fields": [
            {"name": "password", "generator": "random", "config": {"length": length}}]})
    };
    let secret_policy = s
        .call(
            &root,
            "POST",
            "/v1/secret-policies",
            "/v1/secret-policies",
            generator(24),
            &[],
        )
        .await;
    let secret_policy = id(&secret_policy);
    s.call(
        &root,
        "PUT",
        "/v1/secret-policies/{id}",
        &format!("/v1/secret-policies/{secret_policy}"),
        generator(20),
        &[],
    )
    .await;
    // A preview of generated values; changes nothing, still one entry.
    s.call(
        &root,
        "POST",
        "/v1/secret-policies/{id}/generate",
        &format!("/v1/secret-policies/{secret_policy}/generate"),
        json!({}),
        &[],
    )
    .await;

    let rotation = s
        .call(
            &root,
            "POST",
            "/v1/rotation/policies",
            "/v1/rotation/policies",
            json!({"name": "cov-rot", "interval": "90d"}),
            &[],
        )
        .await;
    let rotation = id(&rotation);
    s.call(
        &root,
        "PUT",
        "/v1/rotation/policies/{id}",
        &format!("/v1/rotation/policies/{rotation}"),
        json!({"name": "cov-rot", "interval": "30d"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "PUT",
        "/v1/secrets/{path}",
        "/v1/secrets/cov/rot",
        json!({"data": {"password": "initial"}, "options": {"secret_policy_id": secret_policy}}),
        &[],
    )
    .await;
    // Assigning, unassigning and triggering act on every matching secret: each secret changed
    // gets its own entry (on its trail), committed with its change, besides the request's own.
    let assign_body = json!({"paths": ["cov/rot"]});
    s.call(
        &root,
        "POST",
        "/v1/rotation/policies/{id}/assign",
        &format!("/v1/rotation/policies/{rotation}/assign"),
        assign_body.clone(),
        &["assign_rotation"],
    )
    .await;
    // The rotation of the one secret: the new version (`rotate`) and the run's end.
    s.call(
        &root,
        "POST",
        "/v1/rotation/policies/{id}/trigger",
        &format!("/v1/rotation/policies/{rotation}/trigger"),
        json!({}),
        &["rotate", "succeeded"],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/rotation/policies/{id}/unassign",
        &format!("/v1/rotation/policies/{rotation}/unassign"),
        assign_body,
        &["unassign_rotation"],
    )
    .await;
    s.call(
        &root,
        "DELETE",
        "/v1/rotation/policies/{id}",
        &format!("/v1/rotation/policies/{rotation}"),
        json!({}),
        &[],
    )
    .await;
    let unused = s
        .call(
            &root,
            "POST",
            "/v1/secret-policies",
            "/v1/secret-policies",
            generator(16),
            &[],
        )
        .await;
    s.call(
        &root,
        "DELETE",
        "/v1/secret-policies/{id}",
        &format!("/v1/secret-policies/{}", id(&unused)),
        json!({}),
        &[],
    )
    .await;

    // The internal CA: a root, an imported CA (made by OpenSSL), issue, renew, revoke, the
    // CSR steps, disable.
    let ca = s
        .call(
            &root,
            "POST",
            "/v1/pki/cas",
            "/v1/pki/cas",
            json!({"name": "cov", "common_name": "Coverage CA"}),
            &[],
        )
        .await;
    let ca = id(&ca);
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=Imported CA",
        "-days",
        "30",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "app.key",
        "-out",
        "app.csr",
        "-subj",
        "/CN=app.cov.example",
    ]);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    s.call(
        &root,
        "POST",
        "/v1/pki/cas/import",
        "/v1/pki/cas/import",
        json!({"name": "imported", "certificate": read("ca.pem"), "private_key": read("ca.key")}),
        &[],
    )
    .await;
    let cert = s
        .call(
            &root,
            "POST",
            "/v1/pki/certs",
            "/v1/pki/certs",
            json!({"ca_id": ca, "common_name": "cov.example.com"}),
            &[],
        )
        .await;
    let cert = id(&cert);
    s.call(
        &root,
        "POST",
        "/v1/pki/certs/{id}/renew",
        &format!("/v1/pki/certs/{cert}/renew"),
        json!({}),
        &[],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/pki/certs/{id}/revoke",
        &format!("/v1/pki/certs/{cert}/revoke"),
        json!({"reason": "superseded"}),
        &[],
    )
    .await;
    let csr = s
        .call(
            &root,
            "POST",
            "/v1/pki/csrs",
            "/v1/pki/csrs",
            json!({"csr": read("app.csr")}),
            &[],
        )
        .await;
    let csr = id(&csr);
    s.call(
        &root,
        "POST",
        "/v1/pki/csrs/{id}/approve",
        &format!("/v1/pki/csrs/{csr}/approve"),
        json!({}),
        &[],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/pki/csrs/{id}/sign",
        &format!("/v1/pki/csrs/{csr}/sign"),
        json!({"ca_id": ca}),
        &[],
    )
    .await;
    let rejected = s
        .call(
            &root,
            "POST",
            "/v1/pki/csrs",
            "/v1/pki/csrs",
            json!({"csr": read("app.csr")}),
            &[],
        )
        .await;
    s.call(
        &root,
        "POST",
        "/v1/pki/csrs/{id}/reject",
        &format!("/v1/pki/csrs/{}/reject", id(&rejected)),
        json!({"reason": "no"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/pki/cas/{id}/disable",
        &format!("/v1/pki/cas/{ca}/disable"),
        json!({}),
        &[],
    )
    .await;

    // Dynamic credentials: an SSH engine (no peer) for the engine and role changes and
    // rotate-root; a PostgreSQL engine (a real test cluster) for renewable leases.
    let pg = scaivault_testpeers::postgres::PgCluster::shared();
    for (method, template, path, body) in [
        (
            "POST",
            "/v1/dynamic/engines",
            "/v1/dynamic/engines".to_owned(),
            json!({"name": "cov-ssh", "type": "ssh"}),
        ),
        (
            "PATCH",
            "/v1/dynamic/engines/{engine}",
            "/v1/dynamic/engines/cov-ssh".to_owned(),
            json!({}),
        ),
        (
            "POST",
            "/v1/dynamic/engines/{engine}/rotate-root",
            "/v1/dynamic/engines/cov-ssh/rotate-root".to_owned(),
            json!({}),
        ),
        (
            "POST",
            "/v1/dynamic/engines/{engine}/roles",
            "/v1/dynamic/engines/cov-ssh/roles".to_owned(),
            json!({"name": "r", "allowed_users": ["someone"]}),
        ),
        (
            "PATCH",
            "/v1/dynamic/engines/{engine}/roles/{role}",
            "/v1/dynamic/engines/cov-ssh/roles/r".to_owned(),
            json!({"default_ttl": "10m"}),
        ),
        (
            "DELETE",
            "/v1/dynamic/engines/{engine}/roles/{role}",
            "/v1/dynamic/engines/cov-ssh/roles/r".to_owned(),
            json!({}),
        ),
        (
            "DELETE",
            "/v1/dynamic/engines/{engine}",
            "/v1/dynamic/engines/cov-ssh".to_owned(),
            json!({}),
        ),
    ] {
        s.call(&root, method, template, &path, body, &[]).await;
    }
    root.post(
        "/v1/dynamic/engines",
        json!({"name": "cov-pg", "type": "postgres", "connection_url": pg.admin_url()}),
    )
    .await;
    root.post(
        "/v1/dynamic/engines/cov-pg/roles",
        json!({"name": "ro", "creation_statements":
            "CREATE ROLE \"{{name}}\" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'"}),
    )
    .await;
    let creds_template = "/v1/dynamic/engines/{engine}/creds/{role}";
    let creds_path = "/v1/dynamic/engines/cov-pg/creds/ro";
    let lease = s
        .call(&root, "POST", creds_template, creds_path, json!({}), &[])
        .await;
    let lease = lease["lease_id"].as_str().unwrap().to_owned();
    s.call(
        &root,
        "POST",
        "/v1/dynamic/leases/{id}/renew",
        &format!("/v1/dynamic/leases/{lease}/renew"),
        json!({"ttl": "30m"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/dynamic/leases/{id}/revoke",
        &format!("/v1/dynamic/leases/{lease}/revoke"),
        json!({}),
        &[],
    )
    .await;
    s.call(&root, "POST", creds_template, creds_path, json!({}), &[])
        .await;
    // Each lease a prefix revocation tears down has its own `revoke` entry.
    s.call(
        &root,
        "POST",
        "/v1/dynamic/leases/revoke-prefix",
        "/v1/dynamic/leases/revoke-prefix",
        json!({"engine": "cov-pg"}),
        &["revoke"],
    )
    .await;

    // ACME: an account at a real CA (pebble), a DNS provider, an order (run afterwards by the
    // worker, whose entries are its own), the provider deleted, the account deactivated.
    let knot = scaivault_testpeers::knot::Knot::start("acme.test", &["www"]);
    let pebble =
        scaivault_testpeers::pebble::Pebble::start(&scaivault_testpeers::pebble::PebbleOptions {
            dns_port: knot.port(),
            ..Default::default()
        });
    let account = s
        .call(
            &root,
            "POST",
            "/v1/pki/acme/accounts",
            "/v1/pki/acme/accounts",
            json!({"provider": "custom", "directory_url": pebble.directory_url(),
                   "ca_bundle": pebble.tls_ca_pem(), "terms_of_service_agreed": true}),
            &[],
        )
        .await;
    let provider = s
        .call(
            &root,
            "POST",
            "/v1/pki/dns-providers",
            "/v1/pki/dns-providers",
            json!({"name": "cov", "type": "rfc2136",
                   "settings": {"server": format!("127.0.0.1:{}", knot.port()), "zone": "acme.test",
                                "tsig_key_name": knot.tsig_key_name()},
                   "credentials": {"tsig_secret": knot.tsig_secret_b64()}}),
            &[],
        )
        .await;
    s.call(
        &root,
        "POST",
        "/v1/pki/acme/orders",
        "/v1/pki/acme/orders",
        json!({"account_id": id(&account), "domains": ["www.acme.test"], "challenge": "http-01"}),
        &[],
    )
    .await;
    s.call(
        &root,
        "DELETE",
        "/v1/pki/dns-providers/{id}",
        &format!("/v1/pki/dns-providers/{}", id(&provider)),
        json!({}),
        &[],
    )
    .await;
    s.call(
        &root,
        "POST",
        "/v1/pki/acme/accounts/{id}/deactivate",
        &format!("/v1/pki/acme/accounts/{}/deactivate", id(&account)),
        json!({}),
        &[],
    )
    .await;

    s.call(
        &root,
        "POST",
        "/v1/sys/keys/rotate",
        "/v1/sys/keys/rotate",
        json!({}),
        &[],
    )
    .await;

    // Every mutating operation of the document was called (the public PKI endpoints change
    // nothing and are not audited).
    let (status, doc) = root.anonymous().get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut mutating = BTreeSet::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if UNAUDITED.contains(&(method.as_str(), template.as_str())) {
                continue;
            }
            if ["POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                mutating.insert(format!("{method} {template}"));
            }
        }
    }
    let called: BTreeSet<String> = script.calls.iter().map(|c| c.route.clone()).collect();
    assert_eq!(
        called, mutating,
        "every mutating route is called once successfully (add new ones here)"
    );

    let entries = entries_by_request(&root).await;
    for call in &script.calls {
        let (method, template) = call.route.split_once(' ').unwrap();
        let (action, kind) = declared(method, template).unwrap();
        let found = entries
            .get(&call.request_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let own: Vec<&Value> = found
            .iter()
            .filter(|e| e["action"] == action && e["resource_type"] == kind)
            .collect();
        assert_eq!(
            own.len(),
            1,
            "{}: one entry of its own: {found:#?}",
            call.route
        );
        assert_eq!(own[0]["outcome"], "success", "{}", call.route);
        let mut others: Vec<&str> = found
            .iter()
            .filter(|e| !(e["action"] == action && e["resource_type"] == kind))
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        others.sort();
        let mut extra = call.extra.clone();
        extra.sort();
        assert_eq!(others, extra, "{}: {found:#?}", call.route);
    }
}
