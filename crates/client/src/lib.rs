//! Typed client of the ScaiVault HTTP API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), scaivault_client::Error> {
//! let client = scaivault_client::Client::new("http://127.0.0.1:8200")?.with_token("skt_...");
//! let secret = client.read_secret("app/db/credentials", None).await?;
//! // The same call, but the response body exactly as the server sent it:
//! let raw = client.read_secret("app/db/credentials", None).raw().await?;
//! # let _ = (secret, raw); Ok(()) }
//! ```
//!
//! Every method returns a [`Call`]: awaiting it yields the decoded proto type, while
//! [`Call::raw`] yields the body unchanged (what `scaivault ... --json` prints). Methods are
//! grouped per API area in their own modules (`audit`, `auth`, `secrets`, ...), each an
//! `impl Client` block, so that adding an area is adding a module.

mod acme;
mod audit;
mod auth;
mod dynamic;
mod error;
mod identity;
mod keys;
mod pki;
mod policies;
pub mod redact;
mod rotation;
mod secrets;
mod subscriptions;

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use audit::AuditFilter;
pub use dynamic::LeaseFilter;
pub use error::Error;
pub use pki::CertificateFilter;
pub use rotation::{RunFilter, RunHistoryQuery};
pub use scaivault_proto as proto;
pub use secrets::{DeleteMode, ExpiringQuery, ListSecretsQuery};
pub use subscriptions::PollQuery;

/// Default server address of a local `scaivault server`.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8200";

/// Header carrying an explicit partner context (`SCAIVAULT_PARTNER_ID`).
pub const PARTNER_HEADER: &str = "x-scaivault-partner-id";

/// The `User-Agent` of a client without [`Client::with_user_agent`].
pub const DEFAULT_USER_AGENT: &str = concat!("scaivault-client/", env!("CARGO_PKG_VERSION"));

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one ScaiVault server, optionally authenticated with a bearer token.
///
/// Cheap to clone (the underlying connection pool is shared).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    tenant_id: Option<String>,
    partner_id: Option<String>,
    /// Sent instead of the default `scaivault-client/<version>` when set.
    user_agent: Option<String>,
    debug: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| redact::REDACTED))
            .field("tenant_id", &self.tenant_id)
            .field("partner_id", &self.partner_id)
            .field("user_agent", &self.user_agent)
            .field("debug", &self.debug)
            .finish()
    }
}

impl Client {
    /// A client for the server at `base_url` (`http://` or `https://`, optionally with a path
    /// prefix such as `https://proxy.example/vault`).
    pub fn new(base_url: &str) -> Result<Self, Error> {
        Self::new_with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// Like [`Client::new`] with a per-request timeout other than the default 60 seconds.
    pub fn new_with_timeout(base_url: &str, timeout: Duration) -> Result<Self, Error> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let invalid = |reason: &str| Error::InvalidBaseUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = reqwest::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if parsed.host_str().is_none() {
            return Err(invalid("no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("a base URL has no query or fragment"));
        }
        let http = reqwest::Client::builder()
            .user_agent(DEFAULT_USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(timeout)
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            http,
            base_url: trimmed.to_string(),
            token: None,
            tenant_id: None,
            partner_id: None,
            user_agent: None,
            debug: false,
        })
    }

    /// Authenticate every request with `Authorization: Bearer <token>`.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Act as tenant `tenant_id` (partner admins): secret routes go to `/v1/t/{tenant_id}/...`.
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Send an explicit partner context in the [`PARTNER_HEADER`] header.
    pub fn with_partner_id(mut self, partner_id: impl Into<String>) -> Self {
        self.partner_id = Some(partner_id.into());
        self
    }

    /// Send `User-Agent: <user_agent>` instead of the default `scaivault-client/<version>`
    /// (the audit trail records it; `scaivault mcp` names the MCP client this way).
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The `User-Agent` this client sends.
    pub fn user_agent(&self) -> &str {
        self.user_agent.as_deref().unwrap_or(DEFAULT_USER_AGENT)
    }

    /// Print every request and response to stderr, with the `Authorization` header and secret
    /// values redacted (see [`redact`]).
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether a token is set.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `GET /v1/health`: liveness, no authentication needed.
    pub fn health(&self) -> Call<'_, proto::health::HealthResponse> {
        self.call(Method::GET, self.url(&["v1", "health"], &[]))
    }

    /// `GET /health/ready`: readiness. A `503` with the readiness body is returned as a
    /// response (`status: "not_ready"`), not as an error.
    pub fn ready(&self) -> Call<'_, proto::health::ReadyResponse> {
        let mut call = self.call(Method::GET, self.url(&["health", "ready"], &[]));
        call.accept.push(503);
        call
    }

    /// A call to `url`; the building block of every typed method.
    pub(crate) fn call<T>(&self, method: Method, url: Result<String, Error>) -> Call<'_, T> {
        Call {
            client: self,
            method,
            url,
            query: Vec::new(),
            body: None,
            accept: Vec::new(),
            timeout: None,
            _response: PhantomData,
        }
    }

    /// `base_url` + `/` + the percent-encoded `fixed` segments + the encoded segments of
    /// `path` (a secret path, validated).
    pub(crate) fn url(&self, fixed: &[&str], path: &[&str]) -> Result<String, Error> {
        let mut url = self.base_url.clone();
        for segment in fixed {
            url.push('/');
            encode_segment(segment, &mut url);
        }
        for segment in path {
            url.push('/');
            encode_segment(segment, &mut url);
        }
        Ok(url)
    }

    /// The URL of a tenant-scoped route (policies, service accounts): `/v1/...`, or
    /// `/v1/t/{tenant}/...` when the client acts as a tenant ([`Client::with_tenant_id`]).
    pub(crate) fn tenant_url(&self, fixed: &[&str]) -> Result<String, Error> {
        let mut segments: Vec<&str> = vec!["v1"];
        if let Some(tenant) = self.tenant_id.as_deref() {
            segments.extend(["t", tenant]);
        }
        segments.extend(fixed);
        self.url(&segments, &[])
    }

    /// The URL of a secret-area route: `/v1/secrets/...` or `/v1/t/{tenant}/secrets/...`,
    /// then `before` (e.g. `metadata`), the secret path, then `after` (e.g. `versions`).
    pub(crate) fn secrets_url(
        &self,
        before: &[&str],
        secret_path: Option<&str>,
        after: &[&str],
    ) -> Result<String, Error> {
        let mut fixed: Vec<&str> = vec!["v1"];
        if let Some(tenant) = self.tenant_id.as_deref() {
            fixed.extend(["t", tenant]);
        }
        fixed.push("secrets");
        fixed.extend(before);
        let mut segments = Vec::new();
        if let Some(path) = secret_path {
            segments = split_secret_path(path)?;
        }
        segments.extend(after);
        self.url(&fixed, &segments)
    }
}

/// Splits a secret path into segments, refusing what the URL layer would silently rewrite:
/// an empty path and `.`/`..` segments.
fn split_secret_path(path: &str) -> Result<Vec<&str>, Error> {
    if path.is_empty() {
        return Err(Error::InvalidPath("the secret path is empty".into()));
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(Error::InvalidPath(format!(
            "invalid secret path {path:?}: `.` and `..` segments are not allowed"
        )));
    }
    Ok(segments)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// A response body exactly as the server sent it.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The body, unchanged (empty for `204 No Content`).
    pub body: String,
}

/// One prepared API call. `.await` it for the typed response, or call [`Call::raw`] for the
/// body as sent.
#[must_use = "a Call does nothing until awaited"]
pub struct Call<'a, T> {
    client: &'a Client,
    method: Method,
    url: Result<String, Error>,
    query: Vec<(&'static str, String)>,
    body: Option<Result<Vec<u8>, Error>>,
    /// Error statuses whose body is a regular response of this route.
    accept: Vec<u16>,
    /// This request's timeout, instead of the client's (long-polls hold the request).
    timeout: Option<Duration>,
    _response: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Call<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().ok())
            .finish_non_exhaustive()
    }
}

impl<'a, T> Call<'a, T> {
    /// Adds a query parameter.
    pub(crate) fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    pub(crate) fn query_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Gives this request its own timeout instead of the client's.
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets a JSON request body.
    pub(crate) fn json(mut self, body: &impl Serialize) -> Self {
        self.body = Some(serde_json::to_vec(body).map_err(|e| Error::Decode {
            status: 0,
            reason: format!("could not encode the request: {e}"),
        }));
        self
    }

    /// Sends the request; the body of a success response, unchanged. Error statuses become
    /// [`Error::Api`] or [`Error::Http`].
    pub async fn raw(self) -> Result<RawResponse, Error> {
        let client = self.client;
        let url = self.url?;
        let mut request = client.http.request(self.method.clone(), &url);
        if !self.query.is_empty() {
            request = request.query(&self.query);
        }
        if let Some(token) = &client.token {
            request = request.bearer_auth(token);
        }
        if let Some(partner) = &client.partner_id {
            request = request.header(PARTNER_HEADER, partner);
        }
        if let Some(user_agent) = &client.user_agent {
            request = request.header(reqwest::header::USER_AGENT, user_agent);
        }
        let body = self.body.transpose()?;
        if let Some(body) = &body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        let request = request.build().map_err(|e| Error::Transport {
            url: url.clone(),
            reason: root_cause(&e),
        })?;
        let shown_url = request.url().to_string();
        if client.debug {
            debug_request(&request, body.as_deref(), client.token.is_some());
        }
        let started = Instant::now();
        let response = client
            .http
            .execute(request)
            .await
            .map_err(|e| transport_error(&shown_url, &e))?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&shown_url, &e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if client.debug {
            eprintln!(
                "[debug] < {} ({} ms){}",
                status,
                started.elapsed().as_millis(),
                request_id
                    .map(|id| format!(" x-request-id: {id}"))
                    .unwrap_or_default()
            );
            let shown = redact::redact_body(&text);
            if !shown.is_empty() {
                eprintln!("[debug] < {shown}");
            }
        }
        if (status.is_client_error() || status.is_server_error())
            && !self.accept.contains(&status.as_u16())
        {
            return Err(api_error(status, &text));
        }
        Ok(RawResponse {
            status: status.as_u16(),
            body: text,
        })
    }
}

impl<T: DeserializeOwned> Call<'_, T> {
    /// Sends the request and decodes the response.
    pub async fn send(self) -> Result<T, Error> {
        let raw = self.raw().await?;
        decode(&raw)
    }
}

/// Decodes a success body; an empty body decodes as JSON `null` (so `()` for 204).
pub fn decode<T: DeserializeOwned>(raw: &RawResponse) -> Result<T, Error> {
    let text = if raw.body.trim().is_empty() {
        "null"
    } else {
        raw.body.as_str()
    };
    serde_json::from_str(text).map_err(|e| Error::Decode {
        status: raw.status,
        reason: describe_json_error(&e),
    })
}

/// A JSON error without serde's excerpt of the offending value (which could be a secret).
fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match error.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "malformed JSON",
        Category::Data => "unexpected shape",
        Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

impl<'a, T: DeserializeOwned + 'a> IntoFuture for Call<'a, T> {
    type Output = Result<T, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

fn debug_request(request: &reqwest::Request, body: Option<&[u8]>, has_token: bool) {
    eprintln!("[debug] > {} {}", request.method(), request.url());
    if has_token {
        eprintln!("[debug] > authorization: Bearer {}", redact::REDACTED);
    }
    if let Some(partner) = request.headers().get(PARTNER_HEADER) {
        eprintln!(
            "[debug] > {PARTNER_HEADER}: {}",
            partner.to_str().unwrap_or("?")
        );
    }
    if let Some(body) = body {
        eprintln!(
            "[debug] > {}",
            redact::redact_body(&String::from_utf8_lossy(body))
        );
    }
}

/// The innermost error message of `error`'s source chain (e.g. "Connection refused (os
/// error 111)"), which names the actual failure without URLs or headers.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn is_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        current = e.source();
    }
    false
}

fn transport_error(url: &str, error: &reqwest::Error) -> Error {
    let url = strip_query(url);
    if error.is_connect() {
        Error::Connect {
            url,
            reason: root_cause(error),
            refused: is_refused(error),
        }
    } else if error.is_timeout() {
        Error::Transport {
            url,
            reason: "timed out".into(),
        }
    } else {
        Error::Transport {
            url,
            reason: root_cause(error),
        }
    }
}

fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

#[derive(serde::Deserialize)]
struct LooseErrorBody {
    error: LooseErrorDetail,
}

#[derive(serde::Deserialize)]
struct LooseErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

fn api_error(status: reqwest::StatusCode, body: &str) -> Error {
    let code = status.as_u16();
    if let Ok(parsed) = serde_json::from_str::<proto::ErrorBody>(body) {
        return Error::Api {
            status: code,
            body: parsed,
        };
    }
    if let Ok(loose) = serde_json::from_str::<LooseErrorBody>(body) {
        return Error::Http {
            status: code,
            code: Some(loose.error.code),
            message: loose.error.message,
        };
    }
    Error::Http {
        status: code,
        code: None,
        message: format!(
            "HTTP {} {}",
            code,
            status.canonical_reason().unwrap_or("error")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_urls_are_encoded_and_validated() {
        let c = Client::new("http://127.0.0.1:8200/").unwrap();
        assert_eq!(
            c.secrets_url(&[], Some("app/db creds/x?y"), &["versions"])
                .unwrap(),
            "http://127.0.0.1:8200/v1/secrets/app/db%20creds/x%3Fy/versions"
        );
        assert_eq!(
            c.secrets_url(&["metadata"], Some("a/b.json"), &[]).unwrap(),
            "http://127.0.0.1:8200/v1/secrets/metadata/a/b.json"
        );
        assert!(matches!(
            c.secrets_url(&[], Some("a/../b"), &[]),
            Err(Error::InvalidPath(_))
        ));
        assert!(matches!(
            c.secrets_url(&[], Some(""), &[]),
            Err(Error::InvalidPath(_))
        ));
        let t = c.clone().with_tenant_id("tnt_acme");
        assert_eq!(
            t.secrets_url(&[], Some("a"), &[]).unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/secrets/a"
        );
    }

    #[test]
    fn decode_errors_do_not_quote_values() {
        let raw = RawResponse {
            status: 200,
            body: r#"{"path":"a","version":"s3cret-value"}"#.into(),
        };
        let err = decode::<proto::secrets::VersionInfo>(&raw).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert_eq!(err.code(), "decode_error");
    }

    #[test]
    fn base_url_must_be_http() {
        assert!(Client::new("ftp://x").is_err());
        assert!(Client::new("not a url").is_err());
        assert!(Client::new("https://vault.example/prefix/").is_ok());
    }

    #[test]
    fn user_agent_defaults_and_can_be_replaced() {
        let c = Client::new("http://x").unwrap();
        assert_eq!(c.user_agent(), DEFAULT_USER_AGENT);
        assert!(DEFAULT_USER_AGENT.starts_with("scaivault-client/"));
        let mcp = c.with_user_agent("scaivault-mcp/0.1.0 (agent/1.0)");
        assert_eq!(mcp.user_agent(), "scaivault-mcp/0.1.0 (agent/1.0)");
        assert!(format!("{mcp:?}").contains("agent/1.0"));
    }

    #[test]
    fn debug_does_not_show_token() {
        let c = Client::new("http://x").unwrap().with_token("skt_secret");
        assert!(!format!("{c:?}").contains("skt_secret"));
    }

    #[test]
    fn error_bodies_are_classified() {
        let body = r#"{"error":{"code":"secret_not_found","message":"no","request_id":"r1"}}"#;
        let e = api_error(reqwest::StatusCode::NOT_FOUND, body);
        assert_eq!(e.code(), "secret_not_found");
        assert_eq!(e.status(), Some(404));
        let e = api_error(
            reqwest::StatusCode::CONFLICT,
            r#"{"error":{"code":"brand_new","message":"m"}}"#,
        );
        assert_eq!(e.code(), "brand_new");
        let e = api_error(reqwest::StatusCode::BAD_GATEWAY, "<html>");
        assert_eq!(e.code(), "http_502");
    }

    #[tokio::test]
    async fn refused_connection_is_reported_as_such() {
        // Port 9 (discard) is essentially never listening on loopback.
        let c = Client::new("http://127.0.0.1:9").unwrap();
        match c.health().await {
            Err(Error::Connect { refused, .. }) => assert!(refused),
            other => panic!("unexpected {other:?}"),
        }
    }
}
