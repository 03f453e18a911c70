//! Extractors whose rejections come out in the API's error envelope.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;
use scaivault_proto::ErrorCode;

/// A JSON body. The content type is not checked (curl's `-d` without `-H` still works); the
/// body must parse, and a type error names the offending field, e.g. `options.max_versions`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Like [`JsonBody`] but an empty body means `T::default()`.
pub struct OptionalJsonBody<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

/// Request members that are documents of their own; serde would also build them from a JSON
/// array (`"options": [null, null]`), so their shape is checked first.
const NESTED_OBJECTS: [&str; 2] = ["metadata", "options"];

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::validation(format!(
            "request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::validation("request body must be a JSON object"))?;
    for key in NESTED_OBJECTS {
        if let Some(member) = object.get(key)
            && !(member.is_object() || member.is_null())
        {
            return Err(ApiError::validation(format!(
                "{key}: must be a JSON object"
            )));
        }
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        // serde_json's messages name types and fields; values are redacted below.
        let message = strip_position(&e.into_inner().to_string());
        let what = if path == "." {
            format!("request body: {message}")
        } else if path.starts_with("data") || path.starts_with("new_value") {
            // Never echo anything of a secret payload.
            format!("{path}: must be a JSON object")
        } else {
            format!("{path}: {}", redact_value(&message))
        };
        ApiError::validation(what)
    })
}

/// serde's type errors quote the offending value (`invalid type: string "x", expected ...`);
/// keep the types, drop the value.
fn redact_value(message: &str) -> String {
    match (
        message.strip_prefix("invalid type: "),
        message.rfind(", expected"),
    ) {
        (Some(rest), Some(end)) => {
            let kind = rest.split([' ', ',']).next().unwrap_or("value");
            format!("invalid type: {kind}{}", &message[end..])
        }
        _ => message.to_owned(),
    }
}

/// serde_json appends " at line 1 column 42" to data errors; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
    } else {
        ApiError::validation("could not read the request body")
    }
}

/// Query parameters as (key, value) pairs, percent-decoded once. An empty `cursor`
/// (`?cursor=`, as clients send before the first page) counts as not given.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, v)| !(k == "cursor" && v.is_empty()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Rejects parameters a route does not know, naming them.
pub fn reject_unknown(pairs: &[(String, String)], known: &[&str]) -> Result<(), ApiError> {
    match pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(ApiError::validation(format!(
            "unknown query parameter '{}' (allowed: {})",
            truncate(k),
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

pub fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::validation(format!(
            "{name} must be true or false"
        ))),
    }
}

pub fn parse_u64(name: &str, value: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::validation(format!("{name} must be an integer from {min} to {max}"))
        })
}

pub fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The client's address: the TCP peer, or behind a trusted proxy the client it names in
/// `X-Forwarded-For` (see `client_ip.rs`). `None` without connection info (in-process tests).
pub fn client_ip(
    state: &AppState,
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| state.trusted_proxies.client(c.0.ip(), headers))
}

/// `limit` (1-200, default 50) and `cursor` of a list ordered by id; anything else is refused.
pub fn page_params(query: Option<&str>) -> Result<(u32, Option<String>), ApiError> {
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["limit", "cursor"])?;
    let mut limit = 50;
    let mut after = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => limit = parse_u64("limit", v, 1, 200)? as u32,
            _ => after = Some(crate::cursor::decode_path(v)?),
        }
    }
    Ok((limit, after))
}

/// An optional description: at most 1000 characters.
pub fn check_description(description: Option<&str>) -> Result<(), ApiError> {
    if description.is_some_and(|d| d.chars().count() > 1000) {
        return Err(ApiError::validation("description: at most 1000 characters"));
    }
    Ok(())
}

/// A display name: 1 to 100 characters without control characters, after trimming; returns
/// the trimmed name.
pub fn check_name<'a>(field: &str, name: &'a str) -> Result<&'a str, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control)
    {
        return Err(ApiError::validation(format!(
            "{field}: 1 to 100 printable characters"
        )));
    }
    Ok(trimmed)
}
