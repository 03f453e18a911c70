//! The HTTP API dns-01 providers (Cloudflare, Google Cloud DNS, Azure DNS, DigitalOcean)
//! against in-process fakes of the vendors' APIs. No vendor service can run here, so each fake
//! is written from the vendor's published API reference (linked at each fake): it keeps the
//! records in memory and checks the Authorization header, the paths, the query and the body
//! shape strictly, answering the vendor's error JSON when they are wrong, and serves the
//! token endpoints (Google: the JWT's RS256 signature and claims; Azure: the client
//! credentials). These tests show the providers speak the documented API; they are not a
//! test against the real services.
//!
//! Every provider is made by `registry::build`, as the server makes it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must stop the test loudly"
)]
#![allow(
    clippy::result_large_err,
    reason = "the fakes' checks return the vendor's error answer as Err; size does not matter here"
)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use scaivault_acme::AcmeError;
use scaivault_acme::dns::{DnsProvider, TxtRecord, registry};

/// The challenge name a wildcard and its base share.
const NAME: &str = "_acme-challenge.example.com.";
/// A name with nothing at it before the test.
const SUB: &str = "_acme-challenge.sub.example.com.";
/// Two key authorization digests (base64url SHA-256, 43 characters).
const VALUE_A: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const VALUE_B: &str = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
/// A value someone else put at NAME: it must survive everything.
const FOREIGN: &str = "another-clients-value";

type Shared<T> = State<Arc<Mutex<T>>>;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The keys of a JSON object, when it is one.
fn keys(v: &Value) -> Option<BTreeSet<&str>> {
    Some(v.as_object()?.keys().map(String::as_str).collect())
}

fn subset(v: &Value, allowed: &[&str]) -> bool {
    keys(v).is_some_and(|k| k.iter().all(|x| allowed.contains(x)))
}

fn sorted(values: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

fn unquote(s: &str) -> String {
    s.trim_matches('"').to_owned()
}

fn txt(name: &str, value: &str) -> TxtRecord {
    TxtRecord {
        name: name.into(),
        value: value.into(),
    }
}

/// The DnsProvider contract, with `visible(name)` reading the fake's values at a name.
async fn contract(p: &dyn DnsProvider, visible: impl Fn(&str) -> Vec<String>) {
    let (a, b) = (txt(NAME, VALUE_A), txt(NAME, VALUE_B));
    assert_eq!(visible(NAME), sorted(&[FOREIGN]));
    p.present(&a).await.unwrap();
    assert_eq!(visible(NAME), sorted(&[FOREIGN, VALUE_A]));
    // Twice: still one.
    p.present(&a).await.unwrap();
    assert_eq!(visible(NAME), sorted(&[FOREIGN, VALUE_A]));
    // The wildcard's value beside the base's.
    p.present(&b).await.unwrap();
    assert_eq!(visible(NAME), sorted(&[FOREIGN, VALUE_A, VALUE_B]));
    p.cleanup(&a).await.unwrap();
    assert_eq!(visible(NAME), sorted(&[FOREIGN, VALUE_B]));
    p.cleanup(&a).await.unwrap();
    assert_eq!(visible(NAME), sorted(&[FOREIGN, VALUE_B]));
    p.cleanup(&b).await.unwrap();
    assert_eq!(visible(NAME), sorted(&[FOREIGN]));

    // A name with nothing at it: cleanup is a no-op, present then cleanup leaves nothing.
    let c = txt(SUB, VALUE_A);
    p.cleanup(&c).await.unwrap();
    p.present(&c).await.unwrap();
    assert_eq!(visible(SUB), sorted(&[VALUE_A]));
    p.cleanup(&c).await.unwrap();
    p.cleanup(&c).await.unwrap();
    assert!(visible(SUB).is_empty());
}

/// A refused credential: AcmeError::Dns naming the status, never the secret.
fn assert_refused(err: AcmeError, status: &str, secret: &str) {
    match err {
        AcmeError::Dns(msg) => {
            assert!(msg.contains(status), "{msg}");
            assert!(!msg.contains(secret), "{msg}");
        }
        other => panic!("expected AcmeError::Dns, got {other:?}"),
    }
}

/// registry::check: the configuration is accepted; an unknown field in either part, missing
/// or empty credentials and a secret put among the settings are refused, never quoting a value.
fn check_strictness(kind: &str, settings: &Value, credentials: &Value, secret_field: &str) {
    registry::check(kind, settings, credentials).unwrap();
    let mut typo = settings.clone();
    typo["zone_idd"] = json!("x");
    assert!(registry::check(kind, &typo, credentials).is_err());
    let mut extra = credentials.clone();
    extra["password"] = json!("hunter2-secret");
    let err = registry::check(kind, settings, &extra)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown field") && !err.contains("hunter2"),
        "{err}"
    );
    let err = registry::check(kind, settings, &json!({}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing field") && err.contains(secret_field),
        "{err}"
    );
    assert!(registry::check(kind, settings, &Value::Null).is_err());
    let mut leaked = settings.clone();
    leaked[secret_field] = credentials[secret_field].clone();
    assert!(registry::check(kind, &leaked, credentials).is_err());
    // A wrong type: a generic message, not the value.
    let mut wrong = credentials.clone();
    wrong[secret_field] = json!(123_456_789);
    let err = registry::check(kind, settings, &wrong)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("123456789"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Cloudflare API v4, DNS records:
// https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/create/
// https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/list/
// https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/delete/
// Envelope {"success", "errors": [{"code", "message"}], "messages", "result"}.

const CF_TOKEN: &str = "cf-token-0123456789abcdef";
const CF_ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";

struct CfRecord {
    id: String,
    name: String,
    content: String,
    ttl: u64,
}

struct Cloudflare {
    records: Vec<CfRecord>,
    next: u64,
}

fn cf_error(status: u16, code: u64, message: &str) -> Response {
    reply(
        status,
        json!({"success": false, "errors": [{"code": code, "message": message}],
            "messages": [], "result": null}),
    )
}

fn cf_ok(result: Value) -> Response {
    reply(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": result}),
    )
}

/// The auth and the zone id, as every endpoint checks them.
fn cf_gate(headers: &HeaderMap, zone: &str) -> Result<(), Response> {
    if bearer(headers) != Some(CF_TOKEN) {
        return Err(cf_error(403, 10000, "Authentication error"));
    }
    if zone != CF_ZONE {
        return Err(cf_error(
            400,
            7003,
            "Could not route to /zones/..., perhaps your object identifier is invalid?",
        ));
    }
    Ok(())
}

fn cf_json(r: &CfRecord) -> Value {
    // TXT content comes back quoted (as Cloudflare shows TXT content).
    json!({"id": r.id, "type": "TXT", "name": r.name, "content": format!("\"{}\"", r.content),
        "ttl": r.ttl, "proxied": false})
}

async fn cf_create(
    State(st): Shared<Cloudflare>,
    Path(zone): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = cf_gate(&headers, &zone) {
        return r;
    }
    let valid = keys(&body) == Some(BTreeSet::from(["type", "name", "content", "ttl"]))
        && body["type"] == "TXT"
        && body["name"]
            .as_str()
            .is_some_and(|n| n.ends_with(".example.com") && !n.ends_with('.'))
        && body["content"].as_str().is_some_and(|c| !c.is_empty())
        && body["ttl"]
            .as_u64()
            .is_some_and(|t| t == 1 || (60..=86400).contains(&t));
    if !valid {
        return cf_error(400, 9000, "DNS record is invalid");
    }
    let name = body["name"].as_str().unwrap().to_owned();
    let content = unquote(body["content"].as_str().unwrap());
    let mut st = st.lock().unwrap();
    if st
        .records
        .iter()
        .any(|r| r.name.eq_ignore_ascii_case(&name) && r.content == content)
    {
        return cf_error(400, 81058, "An identical record already exists.");
    }
    st.next += 1;
    let record = CfRecord {
        id: format!("rec{:029}", st.next),
        name,
        content,
        ttl: body["ttl"].as_u64().unwrap(),
    };
    let out = cf_json(&record);
    st.records.push(record);
    cf_ok(out)
}

async fn cf_list(
    State(st): Shared<Cloudflare>,
    Path(zone): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = cf_gate(&headers, &zone) {
        return r;
    }
    let known = q
        .keys()
        .all(|k| ["type", "name", "per_page", "page"].contains(&k.as_str()));
    let (Some(kind), Some(name)) = (q.get("type"), q.get("name")) else {
        return cf_error(400, 1004, "DNS Validation Error");
    };
    if !known || kind != "TXT" || name.ends_with('.') {
        return cf_error(400, 1004, "DNS Validation Error");
    }
    let st = st.lock().unwrap();
    let result: Vec<Value> = st
        .records
        .iter()
        .filter(|r| r.name.eq_ignore_ascii_case(name))
        .map(cf_json)
        .collect();
    let n = result.len();
    reply(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": result,
            "result_info": {"page": 1, "per_page": 100, "count": n, "total_count": n}}),
    )
}

async fn cf_delete(
    State(st): Shared<Cloudflare>,
    Path((zone, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = cf_gate(&headers, &zone) {
        return r;
    }
    let mut st = st.lock().unwrap();
    let before = st.records.len();
    st.records.retain(|r| r.id != id);
    if st.records.len() == before {
        return cf_error(404, 81044, "Record does not exist.");
    }
    cf_ok(json!({"id": id}))
}

async fn cloudflare_fake() -> (String, Arc<Mutex<Cloudflare>>) {
    let st = Arc::new(Mutex::new(Cloudflare {
        records: vec![CfRecord {
            id: "foreign".into(),
            name: "_acme-challenge.example.com".into(),
            content: FOREIGN.into(),
            ttl: 120,
        }],
        next: 0,
    }));
    let app = Router::new()
        .route(
            "/client/v4/zones/{zone}/dns_records",
            post(cf_create).get(cf_list),
        )
        .route(
            "/client/v4/zones/{zone}/dns_records/{id}",
            delete(cf_delete),
        )
        .with_state(st.clone());
    (format!("{}/client/v4", serve(app).await), st)
}

#[tokio::test]
async fn cloudflare_against_its_api_reference() {
    let (url, st) = cloudflare_fake().await;
    let settings = json!({"zone_id": CF_ZONE, "ttl": 60, "api_url": url,
        "propagation_timeout_seconds": 120});
    let credentials = json!({"api_token": CF_TOKEN});
    check_strictness("cloudflare", &settings, &credentials, "api_token");

    let built = registry::build("cloudflare", &settings, &credentials)
        .await
        .unwrap();
    assert_eq!(built.propagation.timeout.as_secs(), 120);
    let st2 = st.clone();
    contract(built.provider.as_ref(), move |name| {
        let name = name.trim_end_matches('.');
        let mut v: Vec<String> = st2
            .lock()
            .unwrap()
            .records
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.content.clone())
            .collect();
        v.sort();
        v
    })
    .await;

    let wrong = json!({"api_token": "cf-wrong-token-abcdef"});
    let built = registry::build("cloudflare", &settings, &wrong)
        .await
        .unwrap();
    let err = built
        .provider
        .present(&txt(NAME, VALUE_A))
        .await
        .unwrap_err();
    assert_refused(err, "403", "cf-wrong-token-abcdef");
    let err = built
        .provider
        .cleanup(&txt(NAME, VALUE_A))
        .await
        .unwrap_err();
    assert_refused(err, "403", "cf-wrong-token-abcdef");
    assert_eq!(st.lock().unwrap().records.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// DigitalOcean API v2, domain records:
// https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records
// List GET /v2/domains/{domain}/records?type=&name= (name fully qualified), create POST
// (name relative, "@" the apex), delete DELETE .../records/{id} (204). Errors {"id", "message"}.

const DO_TOKEN: &str = "dop_v1_0123456789abcdef0123456789abcdef";

struct DoRecord {
    id: u64,
    name: String,
    data: String,
    ttl: u64,
}

struct DigitalOcean {
    records: Vec<DoRecord>,
    next: u64,
}

fn do_error(status: u16, id: &str, message: &str) -> Response {
    reply(status, json!({"id": id, "message": message}))
}

fn do_gate(headers: &HeaderMap, domain: &str) -> Result<(), Response> {
    if bearer(headers) != Some(DO_TOKEN) {
        return Err(do_error(401, "unauthorized", "Unable to authenticate you."));
    }
    if domain != "example.com" {
        return Err(do_error(
            404,
            "not_found",
            "The resource you were accessing could not be found.",
        ));
    }
    Ok(())
}

fn do_json(r: &DoRecord) -> Value {
    json!({"id": r.id, "type": "TXT", "name": r.name, "data": r.data, "priority": null,
        "port": null, "ttl": r.ttl, "weight": null, "flags": null, "tag": null})
}

fn do_fqdn(relative: &str) -> String {
    if relative == "@" {
        "example.com".into()
    } else {
        format!("{relative}.example.com")
    }
}

async fn do_list(
    State(st): Shared<DigitalOcean>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = do_gate(&headers, &domain) {
        return r;
    }
    if !q
        .keys()
        .all(|k| ["type", "name", "per_page", "page"].contains(&k.as_str()))
        || q.get("name").is_some_and(|n| n.ends_with('.'))
    {
        return do_error(400, "bad_request", "invalid query");
    }
    let st = st.lock().unwrap();
    let list: Vec<Value> = st
        .records
        .iter()
        .filter(|_| q.get("type").is_none_or(|t| t == "TXT"))
        .filter(|r| q.get("name").is_none_or(|n| *n == do_fqdn(&r.name)))
        .map(do_json)
        .collect();
    let n = list.len();
    reply(
        200,
        json!({"domain_records": list, "links": {}, "meta": {"total": n}}),
    )
}

async fn do_create(
    State(st): Shared<DigitalOcean>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = do_gate(&headers, &domain) {
        return r;
    }
    let valid = keys(&body) == Some(BTreeSet::from(["type", "name", "data", "ttl"]))
        && body["type"] == "TXT"
        && body["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty() && !n.ends_with('.') && !n.ends_with("example.com"))
        && body["data"].as_str().is_some_and(|d| !d.is_empty())
        && body["ttl"].as_u64().is_some_and(|t| t >= 30);
    if !valid {
        return do_error(422, "unprocessable_entity", "Name or data is invalid");
    }
    let mut st = st.lock().unwrap();
    st.next += 1;
    let record = DoRecord {
        id: st.next,
        name: body["name"].as_str().unwrap().to_owned(),
        data: body["data"].as_str().unwrap().to_owned(),
        ttl: body["ttl"].as_u64().unwrap(),
    };
    let out = do_json(&record);
    st.records.push(record);
    reply(201, json!({"domain_record": out}))
}

async fn do_delete(
    State(st): Shared<DigitalOcean>,
    Path((domain, id)): Path<(String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = do_gate(&headers, &domain) {
        return r;
    }
    let mut st = st.lock().unwrap();
    let before = st.records.len();
    st.records.retain(|r| r.id != id);
    if st.records.len() == before {
        return do_error(
            404,
            "not_found",
            "The resource you were accessing could not be found.",
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

#[tokio::test]
async fn digitalocean_against_its_api_reference() {
    let st = Arc::new(Mutex::new(DigitalOcean {
        records: vec![DoRecord {
            id: 1000,
            name: "_acme-challenge".into(),
            data: FOREIGN.into(),
            ttl: 1800,
        }],
        next: 0,
    }));
    let app = Router::new()
        .route("/v2/domains/{domain}/records", get(do_list).post(do_create))
        .route("/v2/domains/{domain}/records/{id}", delete(do_delete))
        .with_state(st.clone());
    let url = format!("{}/v2", serve(app).await);
    let settings = json!({"domain": "example.com", "api_url": url,
        "nameservers": ["127.0.0.1:5353"]});
    let credentials = json!({"api_token": DO_TOKEN});
    check_strictness("digitalocean", &settings, &credentials, "api_token");
    assert!(
        registry::check(
            "digitalocean",
            &json!({"domain": "example.com", "ttl": 10}),
            &credentials
        )
        .is_err()
    );

    let built = registry::build("digitalocean", &settings, &credentials)
        .await
        .unwrap();
    assert_eq!(
        built.propagation.nameservers,
        vec!["127.0.0.1:5353".parse::<std::net::SocketAddr>().unwrap()]
    );
    let st2 = st.clone();
    contract(built.provider.as_ref(), move |name| {
        let fq = name.trim_end_matches('.');
        let mut v: Vec<String> = st2
            .lock()
            .unwrap()
            .records
            .iter()
            .filter(|r| do_fqdn(&r.name) == fq)
            .map(|r| r.data.clone())
            .collect();
        v.sort();
        v
    })
    .await;

    // A name outside the domain is refused before any request.
    let err = built
        .provider
        .present(&txt("_acme-challenge.example.org.", VALUE_A))
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::InvalidRequest(_)), "{err:?}");

    let wrong = json!({"api_token": "dop_v1_wrong_wrong_wrong"});
    let built = registry::build("digitalocean", &settings, &wrong)
        .await
        .unwrap();
    let err = built
        .provider
        .present(&txt(NAME, VALUE_A))
        .await
        .unwrap_err();
    assert_refused(err, "401", "dop_v1_wrong_wrong_wrong");
    assert_eq!(st.lock().unwrap().records.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Google Cloud DNS v1: https://cloud.google.com/dns/docs/reference/rest/v1
// resourceRecordSets.list GET /dns/v1/projects/{project}/managedZones/{zone}/rrsets?name=&type=
// (name fully qualified with its dot), changes.create POST .../changes {additions, deletions}
// (deletions must match the current set exactly: 412 conditionNotMet; an addition over an
// existing set: 409 alreadyExists). Errors {"error": {"code", "message", "status"}}.
// Service account tokens, the JWT bearer flow:
// https://developers.google.com/identity/protocols/oauth2/service-account#httprest
// Token errors {"error", "error_description"} (RFC 6749 §5.2).

const G_ACCESS: &str = "ya29.fake-access-token-0123456789";
const G_EMAIL: &str = "acme-dns@my-project.iam.gserviceaccount.com";
const G_SCOPE: &str = "https://www.googleapis.com/auth/ndev.clouddns.readwrite";

struct Google {
    public_pem: String,
    token_uri: String,
    token_requests: usize,
    /// Fully qualified name -> the TXT set (name, type, ttl, rrdatas).
    rrsets: HashMap<String, Value>,
    /// Another writer's value, written just before the next change is applied.
    race: Option<String>,
}

fn g_error(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        json!({"error": {"code": status, "message": message, "status": code,
            "errors": [{"message": message, "domain": "global", "reason": code}]}}),
    )
}

fn g_gate(headers: &HeaderMap, project: &str, zone: &str) -> Result<(), Response> {
    if bearer(headers) != Some(G_ACCESS) {
        return Err(g_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        ));
    }
    if project != "my-project" || zone != "example-zone" {
        return Err(g_error(
            404,
            "NOT_FOUND",
            "The 'parameters.managedZone' resource does not exist.",
        ));
    }
    Ok(())
}

async fn g_token(State(st): Shared<Google>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut st = st.lock().unwrap();
    st.token_requests += 1;
    if form.len() != 2
        || form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return reply(
            400,
            json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}),
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return reply(
            400,
            json!({"error": "invalid_request", "error_description": "Missing required parameter: assertion"}),
        );
    };
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(st.public_pem.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[&st.token_uri]);
    v.set_issuer(&[G_EMAIL]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = match jsonwebtoken::decode::<Value>(assertion, &key, &v) {
        Ok(data) if data.header.kid.as_deref() == Some("key-1") => data.claims,
        _ => {
            return reply(
                400,
                json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
            );
        }
    };
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    if claims["scope"] != G_SCOPE || !(1..=3600).contains(&lifetime) {
        return reply(
            400,
            json!({"error": "invalid_scope", "error_description": "Invalid OAuth scope or lifetime."}),
        );
    }
    reply(
        200,
        json!({"access_token": G_ACCESS, "expires_in": 3599, "token_type": "Bearer"}),
    )
}

async fn g_list(
    State(st): Shared<Google>,
    Path((project, zone)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = g_gate(&headers, &project, &zone) {
        return r;
    }
    if !q
        .keys()
        .all(|k| ["name", "type", "maxResults", "pageToken"].contains(&k.as_str()))
        || q.get("name").is_some_and(|n| !n.ends_with('.'))
        || (q.contains_key("type") && !q.contains_key("name"))
    {
        return g_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid value for 'parameters.name'",
        );
    }
    let st = st.lock().unwrap();
    let rrsets: Vec<Value> = st
        .rrsets
        .values()
        .filter(|s| q.get("name").is_none_or(|n| s["name"] == n.as_str()))
        .filter(|s| q.get("type").is_none_or(|t| s["type"] == t.as_str()))
        .cloned()
        .map(|mut s| {
            s["kind"] = json!("dns#resourceRecordSet");
            s
        })
        .collect();
    reply(
        200,
        json!({"kind": "dns#resourceRecordSetsListResponse", "rrsets": rrsets}),
    )
}

/// A record set as changes.create takes it: a TXT set in the zone, quoted rrdatas.
fn g_valid_set(s: &Value) -> bool {
    subset(s, &["kind", "name", "type", "ttl", "rrdatas"])
        && s["type"] == "TXT"
        && s["name"]
            .as_str()
            .is_some_and(|n| n.ends_with(".example.com."))
        && s["ttl"].as_u64().is_some()
        && s["rrdatas"].as_array().is_some_and(|r| {
            !r.is_empty()
                && r.iter().all(|d| {
                    d.as_str()
                        .is_some_and(|d| d.len() >= 2 && d.starts_with('"') && d.ends_with('"'))
                })
        })
}

fn g_core(s: &Value) -> Value {
    json!({"name": s["name"], "type": s["type"], "ttl": s["ttl"], "rrdatas": s["rrdatas"]})
}

async fn g_change(
    State(st): Shared<Google>,
    Path((project, zone)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = g_gate(&headers, &project, &zone) {
        return r;
    }
    let empty = vec![];
    let additions = body["additions"].as_array().unwrap_or(&empty);
    let deletions = body["deletions"].as_array().unwrap_or(&empty);
    if !subset(&body, &["kind", "additions", "deletions"])
        || (additions.is_empty() && deletions.is_empty())
        || !additions.iter().chain(deletions).all(g_valid_set)
    {
        return g_error(400, "INVALID_ARGUMENT", "Invalid value for 'entity.change'");
    }
    let mut st = st.lock().unwrap();
    if let Some(v) = st.race.take() {
        let name = additions.iter().chain(deletions).next().unwrap()["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let quoted = json!(format!("\"{v}\""));
        match st.rrsets.get_mut(&name) {
            Some(set) => set["rrdatas"].as_array_mut().unwrap().push(quoted),
            None => {
                st.rrsets.insert(
                    name.clone(),
                    json!({"name": name, "type": "TXT", "ttl": 60, "rrdatas": [quoted]}),
                );
            }
        }
    }
    let mut next = st.rrsets.clone();
    for (i, d) in deletions.iter().enumerate() {
        let name = d["name"].as_str().unwrap();
        if next.get(name).map(g_core) != Some(g_core(d)) {
            return g_error(
                412,
                "FAILED_PRECONDITION",
                &format!("Precondition not met for 'entity.change.deletions[{i}]'"),
            );
        }
        next.remove(name);
    }
    for (i, a) in additions.iter().enumerate() {
        let name = a["name"].as_str().unwrap();
        if next.contains_key(name) {
            return g_error(
                409,
                "ALREADY_EXISTS",
                &format!("The resource 'entity.change.additions[{i}]' already exists"),
            );
        }
        next.insert(name.to_owned(), g_core(a));
    }
    st.rrsets = next;
    reply(
        200,
        json!({"kind": "dns#change", "id": "1", "status": "done",
            "additions": additions, "deletions": deletions}),
    )
}

fn rsa_key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap()
}

fn key_file(private_pem: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": "key-1",
        "private_key": private_pem,
        "client_email": G_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

/// The fake Cloud DNS and token endpoint; the key file for `key`.
async fn google_fake(key: &rcgen::KeyPair) -> (String, Arc<Mutex<Google>>) {
    let st = Arc::new(Mutex::new(Google {
        public_pem: key.public_key_pem(),
        token_uri: String::new(),
        token_requests: 0,
        rrsets: HashMap::from([(
            NAME.to_owned(),
            json!({"name": NAME, "type": "TXT", "ttl": 300,
                "rrdatas": [format!("\"{FOREIGN}\"")]}),
        )]),
        race: None,
    }));
    let app = Router::new()
        .route("/token", post(g_token))
        .route(
            "/dns/v1/projects/{project}/managedZones/{zone}/rrsets",
            get(g_list),
        )
        .route(
            "/dns/v1/projects/{project}/managedZones/{zone}/changes",
            post(g_change),
        )
        .with_state(st.clone());
    let base = serve(app).await;
    st.lock().unwrap().token_uri = format!("{base}/token");
    (base, st)
}

fn google_values(st: &Mutex<Google>, name: &str) -> Vec<String> {
    let mut v: Vec<String> = st
        .lock()
        .unwrap()
        .rrsets
        .get(name)
        .map(|s| {
            s["rrdatas"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| unquote(d.as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn google_clouddns_against_its_api_reference() {
    let key = rsa_key();
    let (base, st) = google_fake(&key).await;
    let token_uri = format!("{base}/token");

    let settings = json!({"project": "my-project", "managed_zone": "example-zone",
        "api_url": format!("{base}/dns/v1")});
    let credentials = json!({"service_account_json": key_file(&key.serialize_pem(), &token_uri)});
    check_strictness(
        "google-clouddns",
        &settings,
        &credentials,
        "service_account_json",
    );
    // A key file that is not one, or whose key is not RSA PEM: refused without quoting it.
    let err = registry::check(
        "google-clouddns",
        &settings,
        &json!({"service_account_json": "{\"private_key\": \"sekrit-sekrit\"}"}),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("sekrit"), "{err}");
    let err = registry::check(
        "google-clouddns",
        &settings,
        &json!({"service_account_json": key_file("-----BEGIN PRIVATE KEY-----\nc2Vrcml0\n-----END PRIVATE KEY-----\n", &token_uri)}),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("c2Vrcml0"), "{err}");

    let built = registry::build("google-clouddns", &settings, &credentials)
        .await
        .unwrap();
    let st2 = st.clone();
    contract(built.provider.as_ref(), move |name| {
        google_values(&st2, name)
    })
    .await;
    {
        let st = st.lock().unwrap();
        // The access token was fetched once and cached; the empty set was deleted, not kept.
        assert_eq!(st.token_requests, 1);
        assert!(!st.rrsets.contains_key(SUB));
        assert_eq!(st.rrsets.len(), 1);
    }

    // A key the token endpoint does not know (another key pair): 400 invalid_grant.
    let other = rsa_key();
    let wrong_pem = other.serialize_pem();
    let wrong = json!({"service_account_json": key_file(&wrong_pem, &token_uri)});
    let built = registry::build("google-clouddns", &settings, &wrong)
        .await
        .unwrap();
    let err = built
        .provider
        .present(&txt(NAME, VALUE_A))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("invalid_grant"), "{text}");
    let pem_body: String = wrong_pem.lines().nth(1).unwrap().to_owned();
    assert_refused(err, "400", &pem_body);
    assert_eq!(st.lock().unwrap().rrsets.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Azure DNS, Resource Manager REST API 2018-05-01, record sets:
// https://learn.microsoft.com/en-us/rest/api/dns/record-sets
// GET/PUT/DELETE {management}/subscriptions/{sub}/resourceGroups/{rg}/providers/
// Microsoft.Network/dnsZones/{zone}/TXT/{relativeRecordSetName}?api-version=2018-05-01,
// body {"properties": {"TTL", "TXTRecords": [{"value": [".."]}]}}, etags with If-Match /
// If-None-Match (412 PreconditionFailed). Errors {"error": {"code", "message"}}.
// Tokens, client credentials:
// https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// Errors {"error", "error_description"}.

const AZ_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AZ_CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const AZ_SECRET: &str = "azure-client-secret-0123456789";
const AZ_ACCESS: &str = "eyJ0eXAiOiJKV1QifQ.fake-azure-access-token";
const AZ_SUB: &str = "00000000-0000-0000-0000-000000000001";

struct AzSet {
    etag: u64,
    ttl: u64,
    records: Vec<Vec<String>>,
}

struct Azure {
    management: String,
    token_requests: usize,
    /// Relative name (lower case) -> the TXT set.
    sets: HashMap<String, AzSet>,
    etags: u64,
    /// Another writer's value, written just before the next PUT or DELETE is applied.
    race: Option<String>,
}

impl Azure {
    fn other_writer(&mut self, name: &str) {
        if let Some(v) = self.race.take() {
            self.etags += 1;
            let etag = self.etags;
            let set = self.sets.entry(name.to_owned()).or_insert(AzSet {
                etag,
                ttl: 60,
                records: Vec::new(),
            });
            set.etag = etag;
            set.records.push(vec![v]);
        }
    }
}

fn az_error(status: u16, code: &str, message: &str) -> Response {
    reply(status, json!({"error": {"code": code, "message": message}}))
}

fn az_oauth_error(status: u16, error: &str, description: &str) -> Response {
    reply(
        status,
        json!({"error": error, "error_description": description, "error_codes": [7000215],
            "timestamp": "2026-12-04 05:00:00Z", "trace_id": "00000000", "correlation_id": "00000000"}),
    )
}

async fn az_token(
    State(st): Shared<Azure>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut st = st.lock().unwrap();
    st.token_requests += 1;
    let field = |k: &str| form.get(k).map(String::as_str);
    if tenant != AZ_TENANT {
        return az_oauth_error(400, "invalid_request", "AADSTS90002: Tenant not found.");
    }
    if form.len() != 4 || field("grant_type") != Some("client_credentials") {
        return az_oauth_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != Some(AZ_CLIENT) {
        return az_oauth_error(
            400,
            "unauthorized_client",
            "AADSTS700016: Application was not found in the directory.",
        );
    }
    if field("client_secret") != Some(AZ_SECRET) {
        return az_oauth_error(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if field("scope") != Some(format!("{}/.default", st.management).as_str()) {
        return az_oauth_error(
            400,
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    reply(
        200,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": AZ_ACCESS}),
    )
}

type AzPath = Path<(String, String, String, String)>;

/// Auth, api-version and the zone's coordinates; the set's key on success.
fn az_gate(
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    (sub, rg, zone, name): &(String, String, String, String),
) -> Result<String, Response> {
    if bearer(headers) != Some(AZ_ACCESS) {
        return Err(az_error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ));
    }
    if q.len() != 1 || q.get("api-version").map(String::as_str) != Some("2018-05-01") {
        return Err(az_error(
            400,
            "InvalidApiVersionParameter",
            "The api-version is invalid or missing.",
        ));
    }
    if sub != AZ_SUB || rg != "dns-rg" || zone != "example.com" {
        return Err(az_error(
            404,
            "ParentResourceNotFound",
            "Can not perform requested operation on nested resource. Parent resource not found.",
        ));
    }
    if name.is_empty() || name.ends_with('.') || name.ends_with("example.com") {
        return Err(az_error(
            400,
            "BadRequest",
            "The record set name is invalid.",
        ));
    }
    Ok(name.to_ascii_lowercase())
}

fn az_json(name: &str, s: &AzSet) -> Value {
    let records: Vec<Value> = s.records.iter().map(|v| json!({"value": v})).collect();
    json!({
        "id": format!("/subscriptions/{AZ_SUB}/resourceGroups/dns-rg/providers/Microsoft.Network/dnszones/example.com/TXT/{name}"),
        "name": name,
        "type": "Microsoft.Network/dnszones/TXT",
        "etag": s.etag.to_string(),
        "properties": {"fqdn": format!("{name}.example.com."), "TTL": s.ttl,
            "TXTRecords": records, "provisioningState": "Succeeded"}
    })
}

/// If-Match / If-None-Match against the current set.
fn az_precondition(headers: &HeaderMap, current: Option<&AzSet>) -> Result<(), Response> {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let ok = match (h("if-match"), h("if-none-match"), current) {
        (Some(etag), _, Some(s)) => etag == s.etag.to_string(),
        (Some(_), _, None) => false,
        (None, Some("*"), Some(_)) => false,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(az_error(
            412,
            "PreconditionFailed",
            "The condition specified in If-Match or If-None-Match is not met.",
        ))
    }
}

async fn az_get(
    State(st): Shared<Azure>,
    Path(p): AzPath,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let name = match az_gate(&headers, &q, &p) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let st = st.lock().unwrap();
    match st.sets.get(&name) {
        Some(s) => reply(200, az_json(&name, s)),
        None => az_error(
            404,
            "NotFound",
            "The resource record does not exist in resource group 'dns-rg'.",
        ),
    }
}

async fn az_put(
    State(st): Shared<Azure>,
    Path(p): AzPath,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let name = match az_gate(&headers, &q, &p) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let props = &body["properties"];
    let records = props["TXTRecords"].as_array().and_then(|r| {
        r.iter()
            .map(|rec| {
                let values: Option<Vec<String>> = (keys(rec) == Some(BTreeSet::from(["value"])))
                    .then(|| rec["value"].as_array())
                    .flatten()
                    .and_then(|v| {
                        v.iter()
                            .map(|s| s.as_str().filter(|s| s.len() <= 1024).map(str::to_owned))
                            .collect()
                    });
                values.filter(|v| !v.is_empty())
            })
            .collect::<Option<Vec<_>>>()
    });
    let valid = subset(&body, &["properties", "etag"])
        && subset(props, &["TTL", "TXTRecords", "metadata"])
        && props["TTL"].as_u64().is_some()
        && records.as_ref().is_some_and(|r| !r.is_empty());
    if !valid {
        return az_error(400, "BadRequest", "The record set is invalid.");
    }
    let mut st = st.lock().unwrap();
    st.other_writer(&name);
    if let Err(r) = az_precondition(&headers, st.sets.get(&name)) {
        return r;
    }
    st.etags += 1;
    let set = AzSet {
        etag: st.etags,
        ttl: props["TTL"].as_u64().unwrap(),
        records: records.unwrap(),
    };
    let out = az_json(&name, &set);
    let created = st.sets.insert(name, set).is_none();
    reply(if created { 201 } else { 200 }, out)
}

async fn az_delete(
    State(st): Shared<Azure>,
    Path(p): AzPath,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let name = match az_gate(&headers, &q, &p) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut st = st.lock().unwrap();
    st.other_writer(&name);
    if let Err(r) = az_precondition(&headers, st.sets.get(&name)) {
        return r;
    }
    match st.sets.remove(&name) {
        Some(_) => StatusCode::OK.into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn azure_fake() -> (String, Arc<Mutex<Azure>>) {
    let st = Arc::new(Mutex::new(Azure {
        management: String::new(),
        token_requests: 0,
        sets: HashMap::from([(
            "_acme-challenge".to_owned(),
            AzSet {
                etag: 1,
                ttl: 3600,
                records: vec![vec![FOREIGN.to_owned()]],
            },
        )]),
        etags: 1,
        race: None,
    }));
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(az_token))
        .route(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones/{zone}/TXT/{name}",
            get(az_get).put(az_put).delete(az_delete),
        )
        .with_state(st.clone());
    let base = serve(app).await;
    st.lock().unwrap().management = base.clone();
    (base, st)
}

fn azure_values(st: &Mutex<Azure>, name: &str) -> Vec<String> {
    let relative = name
        .trim_end_matches('.')
        .trim_end_matches("example.com")
        .trim_end_matches('.');
    let mut v: Vec<String> = st
        .lock()
        .unwrap()
        .sets
        .get(relative)
        .map(|s| s.records.iter().map(|r| r.concat()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn azure_settings(base: &str) -> Value {
    json!({"subscription_id": AZ_SUB, "resource_group": "dns-rg",
        "zone": "example.com", "tenant_id": AZ_TENANT, "client_id": AZ_CLIENT,
        "authority_url": base, "management_url": base})
}

#[tokio::test]
async fn azure_dns_against_its_api_reference() {
    let (base, st) = azure_fake().await;

    let settings = azure_settings(&base);
    let credentials = json!({"client_secret": AZ_SECRET});
    check_strictness("azure-dns", &settings, &credentials, "client_secret");
    let mut missing = settings.clone();
    missing.as_object_mut().unwrap().remove("tenant_id");
    assert!(registry::check("azure-dns", &missing, &credentials).is_err());

    let built = registry::build("azure-dns", &settings, &credentials)
        .await
        .unwrap();
    let st2 = st.clone();
    contract(built.provider.as_ref(), move |name| {
        azure_values(&st2, name)
    })
    .await;
    {
        let st = st.lock().unwrap();
        assert_eq!(st.token_requests, 1);
        assert!(!st.sets.contains_key("_acme-challenge.sub"));
        assert_eq!(st.sets.len(), 1);
    }

    let err = built
        .provider
        .present(&txt("_acme-challenge.example.org.", VALUE_A))
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::InvalidRequest(_)), "{err:?}");

    let wrong = json!({"client_secret": "azure-wrong-secret-xyz"});
    let built = registry::build("azure-dns", &settings, &wrong)
        .await
        .unwrap();
    let err = built
        .provider
        .present(&txt(NAME, VALUE_A))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("invalid_client"), "{text}");
    assert_refused(err, "401", "azure-wrong-secret-xyz");
}

#[test]
fn kinds_are_listed_in_order() {
    assert_eq!(
        registry::KINDS,
        &[
            "rfc2136",
            "route53",
            "cloudflare",
            "google-clouddns",
            "azure-dns",
            "digitalocean"
        ]
    );
}

/// Another writer changes the set between our read and our write: the write is refused (412,
/// or 409 for Google's addition of a set that now exists), the provider reads again, and both
/// writers' values survive.
#[tokio::test]
async fn google_and_azure_merge_with_a_concurrent_writer() {
    let key = rsa_key();
    let (base, st) = google_fake(&key).await;
    let settings = json!({"project": "my-project", "managed_zone": "example-zone",
        "api_url": format!("{base}/dns/v1")});
    let credentials =
        json!({"service_account_json": key_file(&key.serialize_pem(), &format!("{base}/token"))});
    let google = registry::build("google-clouddns", &settings, &credentials)
        .await
        .unwrap();
    st.lock().unwrap().race = Some("late-writer".into());
    google.provider.present(&txt(SUB, VALUE_A)).await.unwrap();
    assert_eq!(google_values(&st, SUB), sorted(&["late-writer", VALUE_A]));
    st.lock().unwrap().race = Some("late-writer-2".into());
    google.provider.cleanup(&txt(SUB, VALUE_A)).await.unwrap();
    assert_eq!(
        google_values(&st, SUB),
        sorted(&["late-writer", "late-writer-2"])
    );

    let (base, st) = azure_fake().await;
    let azure = registry::build(
        "azure-dns",
        &azure_settings(&base),
        &json!({"client_secret": AZ_SECRET}),
    )
    .await
    .unwrap();
    st.lock().unwrap().race = Some("late-writer".into());
    azure.provider.present(&txt(SUB, VALUE_A)).await.unwrap();
    assert_eq!(azure_values(&st, SUB), sorted(&["late-writer", VALUE_A]));
    st.lock().unwrap().race = Some("late-writer-2".into());
    azure.provider.cleanup(&txt(SUB, VALUE_A)).await.unwrap();
    assert_eq!(
        azure_values(&st, SUB),
        sorted(&["late-writer", "late-writer-2"])
    );
}
