//! What the HTTP API providers (Cloudflare, Google Cloud DNS, Azure DNS, DigitalOcean) share:
//! the client (with a timeout), URLs built segment by segment, the record name relative to
//! the zone, errors that carry the HTTP status and the vendor's error code and message (never
//! a token, never the whole body), and a cached OAuth2 access token.

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::{StatusCode, Url};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::AcmeError;

/// One request's whole time limit.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// The longest vendor message kept in an error.
const MAX_MESSAGE: usize = 200;

pub(crate) fn client() -> Result<reqwest::Client, AcmeError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("scaivault-acme/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AcmeError::Dns(format!("HTTP client: {e}")))
}

/// An API base URL from the settings: http or https, no query; trailing slashes dropped.
pub(crate) fn base_url(what: &str, s: &str) -> Result<Url, AcmeError> {
    let url = Url::parse(s.trim_end_matches('/'))
        .map_err(|_| AcmeError::InvalidRequest(format!("{what}: not a URL")))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.cannot_be_a_base()
    {
        return Err(AcmeError::InvalidRequest(format!(
            "{what}: an http(s) URL without a query"
        )));
    }
    Ok(url)
}

/// `base` with `segments` appended, each percent-encoded (a zone id or a name cannot change
/// the path).
pub(crate) fn join(base: &Url, segments: &[&str]) -> Result<Url, AcmeError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| AcmeError::Dns(format!("{base} cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// `name` (fully qualified, trailing dot or not) relative to `zone`: `_acme-challenge` or
/// `_acme-challenge.sub`, `@` for the zone's apex. A name outside the zone is refused (a
/// suffix must end on a label boundary: `badexample.com` is not inside `example.com`).
pub fn relative_name(name: &str, zone: &str) -> Result<String, AcmeError> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let z = zone.trim_end_matches('.').to_ascii_lowercase();
    if n.is_empty() || z.is_empty() {
        return Err(AcmeError::InvalidRequest(format!(
            "DNS name {name:?} or zone {zone:?} is empty"
        )));
    }
    if n == z {
        return Ok("@".to_owned());
    }
    match n.strip_suffix(&z).and_then(|p| p.strip_suffix('.')) {
        Some(rel) if !rel.is_empty() && !rel.ends_with('.') => Ok(rel.to_owned()),
        _ => Err(AcmeError::InvalidRequest(format!(
            "{name} is not inside the zone {zone}"
        ))),
    }
}

/// The name without its trailing dot, lower case (how the APIs compare names).
pub(crate) fn plain_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A TXT value with the surrounding quotes some APIs add taken off.
pub(crate) fn unquoted(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// A request that did not get an answer.
pub(crate) fn transport(vendor: &str, what: &str, e: &reqwest::Error) -> AcmeError {
    // reqwest's text names the URL (never a header or a body): no secret in it.
    AcmeError::Dns(format!("{vendor} {what}: {e}"))
}

/// A 2xx body that is not what the API documents (serde's text could quote a value: not kept).
pub(crate) fn unexpected(vendor: &str, what: &str) -> AcmeError {
    AcmeError::Dns(format!(
        "{vendor} {what}: the response is not the documented JSON"
    ))
}

/// An error answer: the status, and the vendor's error code and message when its JSON error
/// body has them. `secrets` are blanked should the vendor echo one.
pub(crate) fn status_error(
    vendor: &str,
    what: &str,
    status: StatusCode,
    body: &[u8],
    secrets: &[&str],
) -> AcmeError {
    let mut msg = format!("{vendor} {what}: HTTP {}", status.as_u16());
    if let Some(detail) = vendor_detail(body) {
        msg.push_str(": ");
        msg.push_str(&detail);
    }
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        msg = msg.replace(s, "[redacted]");
    }
    AcmeError::Dns(msg)
}

/// Reads an error answer's body and makes the error.
pub(crate) async fn read_error(
    vendor: &str,
    what: &str,
    resp: reqwest::Response,
    secrets: &[&str],
) -> AcmeError {
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    status_error(vendor, what, status, &body, secrets)
}

/// The code and message of the error bodies the four vendors document:
/// - Cloudflare v4: `{"success": false, "errors": [{"code": 81058, "message": ".."}]}`;
/// - Google and Azure Resource Manager: `{"error": {"code": .., "message": ".."}}`;
/// - OAuth2 token endpoints (Google, Microsoft identity platform): `{"error": "invalid_grant",
///   "error_description": ".."}`;
/// - DigitalOcean: `{"id": "unauthorized", "message": ".."}`.
fn vendor_detail(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let (code, message) = match (v.get("error"), v.get("errors").and_then(|e| e.get(0))) {
        (Some(e @ Value::Object(_)), _) => {
            (e.get("status").or_else(|| e.get("code")), e.get("message"))
        }
        (Some(e), _) => (Some(e), v.get("error_description")),
        (None, Some(e)) => (e.get("code"), e.get("message")),
        (None, None) => (v.get("id"), v.get("message")),
    };
    let text = |x: Option<&Value>| match x {
        Some(Value::String(s)) => Some(shorten(s)),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match (text(code), text(message)) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(c), None) => Some(c),
        (None, Some(m)) => Some(m),
        (None, None) => None,
    }
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// The error codes in a Cloudflare-style `errors` list.
pub(crate) fn error_codes(body: &[u8]) -> Vec<i64> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("code").and_then(Value::as_i64))
        .collect()
}

/// An OAuth2 token endpoint's answer (RFC 6749 §5.1).
#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: Zeroizing<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// An access token kept until shortly before it expires.
#[derive(Default)]
pub(crate) struct CachedToken {
    inner: tokio::sync::Mutex<Option<(Zeroizing<String>, Instant)>>,
}

impl CachedToken {
    /// The cached token, or a new one from `fetch` (its token and lifetime). One fetch at a
    /// time: concurrent callers wait for it.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Zeroizing<String>, AcmeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Zeroizing<String>, Duration), AcmeError>>,
    {
        let mut guard = self.inner.lock().await;
        if let Some((token, until)) = guard.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch().await?;
        // Renewed two minutes early (half the lifetime for short-lived tokens).
        let margin = Duration::from_secs(120).min(lifetime / 2);
        *guard = Some((token.clone(), Instant::now() + (lifetime - margin)));
        Ok(token)
    }

    /// Forgets the token (the API refused it).
    pub(crate) async fn clear(&self) {
        *self.inner.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_relative_to_the_zone() {
        let r = |n: &str, z: &str| relative_name(n, z).ok();
        assert_eq!(
            r("_acme-challenge.example.com.", "example.com"),
            Some("_acme-challenge".into())
        );
        assert_eq!(
            r("_acme-challenge.Sub.Example.com.", "example.COM."),
            Some("_acme-challenge.sub".into())
        );
        assert_eq!(
            r("_acme-challenge.example.com", "example.com."),
            Some("_acme-challenge".into())
        );
        assert_eq!(r("example.com.", "example.com"), Some("@".into()));
        // Outside the zone, or a suffix not on a label boundary.
        assert_eq!(r("_acme-challenge.example.org.", "example.com"), None);
        assert_eq!(r("_acme-challenge.badexample.com.", "example.com"), None);
        assert_eq!(r("com.", "example.com"), None);
        assert_eq!(r("_acme-challenge..example.com.", "example.com"), None);
        assert_eq!(r("", "example.com"), None);
        assert_eq!(r("_acme-challenge.example.com.", ""), None);
    }

    #[test]
    fn vendor_errors_keep_code_and_message_only() {
        let d = |b: &str| vendor_detail(b.as_bytes());
        assert_eq!(
            d(
                r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"result":null}"#
            ),
            Some("10000: Authentication error".into())
        );
        assert_eq!(
            d(r#"{"error":{"code":403,"message":"Forbidden","status":"PERMISSION_DENIED"}}"#),
            Some("PERMISSION_DENIED: Forbidden".into())
        );
        assert_eq!(
            d(r#"{"error":{"code":"AuthenticationFailed","message":"bad token"}}"#),
            Some("AuthenticationFailed: bad token".into())
        );
        assert_eq!(
            d(r#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#),
            Some("invalid_client: AADSTS7000215".into())
        );
        assert_eq!(
            d(r#"{"id":"unauthorized","message":"Unable to authenticate you."}"#),
            Some("unauthorized: Unable to authenticate you.".into())
        );
        assert_eq!(d("<html>bad gateway</html>"), None);
        let long = format!(r#"{{"id":"x","message":"{}"}}"#, "a".repeat(500));
        assert!(d(&long).is_some_and(|s| s.len() < 220));
        let e = status_error(
            "v",
            "w",
            StatusCode::UNAUTHORIZED,
            br#"{"id":"unauthorized","message":"token tok-123 refused"}"#,
            &["tok-123"],
        )
        .to_string();
        assert!(e.contains("401") && !e.contains("tok-123"), "{e}");
    }

    #[test]
    fn urls_are_built_by_segment() {
        let base = base_url("api_url", "https://api.example.com/v2/").ok();
        let url = base.and_then(|b| join(&b, &["domains", "a/b?c", "records"]).ok());
        assert_eq!(
            url.map(|u| u.to_string()),
            Some("https://api.example.com/v2/domains/a%2Fb%3Fc/records".into())
        );
        assert!(base_url("api_url", "ftp://x").is_err());
        assert!(base_url("api_url", "https://x/?q=1").is_err());
        assert!(base_url("api_url", "not a url").is_err());
        assert_eq!(unquoted("\"abc\""), "abc");
        assert_eq!(unquoted("abc"), "abc");
    }
}
