//! `/v1/secrets`: the routes of the Managing Secrets page.
//!
//! Secret paths contain `/`, so everything under `/v1/secrets/` arrives at one wildcard route
//! per method and is dispatched here by a fixed rule (reserved names are refused as secret
//! paths by `SecretPath`, so no secret can be mistaken for a route):
//! `GET expiring`, `GET metadata/{path}`, `GET {path}/versions`, `POST {path}/restore`,
//! `POST {path}/rotate`; anything else is the secret at `{path}`.

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use scaivault_core::{Scope, SecretPath};
use scaivault_proto::ErrorBody;
use scaivault_proto::secrets::*;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::ListQuery;

use crate::audit::{self, Operation, op};
use crate::auth::{Authenticated, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    JsonBody, OptionalJsonBody, parse_bool, parse_u64, query_pairs, reject_unknown, truncate,
};
use crate::metrics::RouteTemplate;
use crate::secrets::{self as service, DeleteKind};
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/secrets", get(list_secrets.layer(op("list", "secret"))))
        .route(
            "/v1/secrets/",
            get(list_secrets.layer(op("list", "secret"))),
        )
        .route("/v1/secrets/{*rest}", any(dispatch))
}

/// What a request under `/v1/secrets/` asks for: the dispatch rule of the module docs, applied
/// once for routing and for the audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretRoute<'a> {
    Expiring,
    Metadata(&'a str),
    Versions(&'a str),
    Read(&'a str),
    Write(&'a str),
    Patch(&'a str),
    Delete(&'a str),
    Restore(&'a str),
    Rotate(&'a str),
    /// POST to a secret itself: refused (writes use PUT), audited as an attempted write.
    PostToSecret(&'a str),
    /// Another method (HEAD, OPTIONS, ...): refused, touches nothing, not audited.
    Unsupported,
}

impl<'a> SecretRoute<'a> {
    fn of(method: &Method, rest: &'a str) -> Self {
        match *method {
            Method::GET if rest == "expiring" => Self::Expiring,
            Method::GET => match rest.strip_prefix("metadata/") {
                Some(path) => Self::Metadata(path),
                None => match rest.strip_suffix("/versions") {
                    Some(path) => Self::Versions(path),
                    None => Self::Read(rest),
                },
            },
            Method::PUT => Self::Write(rest),
            Method::PATCH => Self::Patch(rest),
            Method::DELETE => Self::Delete(rest),
            Method::POST => match (rest.strip_suffix("/restore"), rest.strip_suffix("/rotate")) {
                (Some(path), _) => Self::Restore(path),
                (_, Some(path)) => Self::Rotate(path),
                _ => Self::PostToSecret(rest),
            },
            _ => Self::Unsupported,
        }
    }

    /// The route's template in the OpenAPI document.
    fn template(self) -> &'static str {
        match self {
            Self::Expiring => "/v1/secrets/expiring",
            Self::Metadata(_) => "/v1/secrets/metadata/{path}",
            Self::Versions(_) => "/v1/secrets/{path}/versions",
            Self::Restore(_) => "/v1/secrets/{path}/restore",
            Self::Rotate(_) => "/v1/secrets/{path}/rotate",
            Self::Read(_)
            | Self::Write(_)
            | Self::Patch(_)
            | Self::Delete(_)
            | Self::PostToSecret(_)
            | Self::Unsupported => "/v1/secrets/{path}",
        }
    }

    /// The audit operation and the secret path it names.
    fn audit(self) -> Option<(Operation, Option<&'a str>)> {
        let (action, path) = match self {
            Self::Expiring => ("list_expiring", None),
            Self::Metadata(p) => ("read_metadata", Some(p)),
            Self::Versions(p) => ("list_versions", Some(p)),
            Self::Read(p) => ("read", Some(p)),
            Self::Write(p) | Self::PostToSecret(p) => ("write", Some(p)),
            Self::Patch(p) => ("update", Some(p)),
            Self::Delete(p) => ("delete", Some(p)),
            Self::Restore(p) => ("restore", Some(p)),
            Self::Rotate(p) => ("rotate", Some(p)),
            Self::Unsupported => return None,
        };
        Some((Operation::new(action, "secret"), path))
    }
}

async fn dispatch(
    State(state): State<AppState>,
    rest: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request: Request,
) -> Response {
    // A path that is not UTF-8 is refused below; its entry names it as best it can.
    let rest = rest.map(|Path(rest)| rest).map_err(|_| {
        let raw = uri.path().strip_prefix("/v1/secrets/").unwrap_or_default();
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    });
    let decoded = match &rest {
        Ok(rest) | Err(rest) => rest.as_str(),
    };
    let route = SecretRoute::of(&method, decoded);
    // Declared before authentication and the body are read, so their refusals are audited.
    if let Some((operation, path)) = route.audit() {
        audit::declare(operation, path.map(str::to_owned));
    }
    let mut response = 'answer: {
        let (mut parts, body) = request.into_parts();
        let auth = match Authenticated::from_request_parts(&mut parts, &state).await {
            Ok(auth) => auth,
            Err(e) => break 'answer e.into_response(),
        };
        let request = Request::from_parts(parts, body);
        if rest.is_err() {
            break 'answer ApiError::new(ErrorCode::InvalidPath, "invalid path: not valid UTF-8")
                .into_response();
        }
        let query = uri.query();
        // The scope of a request with a body is checked before the body is read: a token without
        // it gets 403 whatever it sends (the services check every scope again).
        if matches!(method, Method::PUT | Method::PATCH | Method::POST)
            && let Err(e) = require_scope(&auth.0, Scope::SecretsWrite)
        {
            break 'answer e.into_response();
        }
        // A write to a reserved or malformed path is refused before its body is read.
        if let SecretRoute::Write(path) | SecretRoute::Patch(path) = route
            && let Err(e) = SecretPath::parse(path)
        {
            break 'answer ApiError::from(e).into_response();
        }
        let result = match route {
            SecretRoute::Expiring => expiring(&state, &auth, query)
                .await
                .map(IntoResponse::into_response),
            SecretRoute::Metadata(path) => metadata(&state, &auth, path, query).await,
            SecretRoute::Versions(path) => versions(&state, &auth, path, query).await,
            SecretRoute::Read(path) => read_secret(&state, &auth, path, query).await,
            SecretRoute::Write(path) => match JsonBody::from_request(request, &state).await {
                Ok(JsonBody(body)) => {
                    write_secret(&state, &auth, path, &headers, query, body).await
                }
                Err(e) => Err(e),
            },
            SecretRoute::Patch(path) => match JsonBody::from_request(request, &state).await {
                Ok(JsonBody(body)) => patch_secret(&state, &auth, path, query, body).await,
                Err(e) => Err(e),
            },
            SecretRoute::Delete(path) => delete_secret(&state, &auth, path, query).await,
            SecretRoute::Restore(path) => restore_secret(&state, &auth, path, query).await,
            SecretRoute::Rotate(path) => {
                match OptionalJsonBody::from_request(request, &state).await {
                    Ok(OptionalJsonBody(body)) => {
                        rotate_secret(&state, &auth, path, query, body).await
                    }
                    Err(e) => Err(e),
                }
            }
            SecretRoute::PostToSecret(_) => Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                "POST is only for {path}/restore and {path}/rotate; write secrets with PUT",
            )),
            SecretRoute::Unsupported => Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )),
        };
        result.unwrap_or_else(IntoResponse::into_response)
    };
    // The metrics and the request's span name the operation's own template, not the one
    // wildcard route they all share (docs/monitoring.md).
    response
        .extensions_mut()
        .insert(RouteTemplate(route.template()));
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static(allowed_methods(decoded)),
        );
    }
    response
}

/// The methods the dispatch rule serves for `rest`, for the `Allow` header of a 405.
fn allowed_methods(rest: &str) -> &'static str {
    if rest == "expiring" || rest.starts_with("metadata/") || rest.ends_with("/versions") {
        "GET"
    } else if rest.ends_with("/restore") || rest.ends_with("/rotate") {
        "POST"
    } else {
        "GET, PUT, PATCH, DELETE"
    }
}

use axum::extract::{FromRequest, FromRequestParts};

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn no_query(query: Option<&str>) -> ApiResult<()> {
    reject_unknown(&query_pairs(query), &[])
}

/// `If-Match: "3"` (the version the client read) or `If-None-Match: *` (create only).
fn expected_version(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    if let Some(v) = headers.get(header::IF_MATCH) {
        let raw = v.to_str().unwrap_or("");
        let trimmed = raw.trim().trim_start_matches("W/").trim_matches('"');
        return trimmed
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::validation("If-Match must be a version such as \"3\""));
    }
    if let Some(v) = headers.get(header::IF_NONE_MATCH) {
        return match v.to_str().map(str::trim) {
            Ok("*") => Ok(Some(0)),
            _ => Err(ApiError::validation(
                "If-None-Match supports only '*' (create only)",
            )),
        };
    }
    Ok(None)
}

/// Read the current value, or `?version=N`.
#[utoipa::path(get, path = "/v1/secrets/{path}", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path, e.g. app/db/password (slashes allowed; rules in docs/api.md)"),
           ("version" = Option<u64>, Query, minimum = 1, description = "A specific version")),
    responses((status = 200, body = ReadSecretResponse),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "secret_not_found or version_not_found"),
              (status = 410, body = ErrorBody, description = "secret_expired")),
    security(("bearer" = ["secrets:read"])))]
pub async fn read_secret(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    query: Option<&str>,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["version"])?;
    let version = match pairs.first() {
        Some((_, v)) => Some(parse_u64("version", v, 1, i64::MAX as u64)?),
        None => None,
    };
    let secret = service::read(state, p, &path, version).await?;
    let body = secret.to_json()?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag(secret.version)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

/// Create a secret (201) or add a version (200). Returns metadata only, never the data.
#[utoipa::path(put, path = "/v1/secrets/{path}", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path"),
           ("If-Match" = Option<String>, Header, description = "Only write if the current version is this one, e.g. \"3\""),
           ("If-None-Match" = Option<String>, Header, description = "'*': only create")),
    request_body = WriteSecretRequest,
    responses((status = 201, body = WriteSecretResponse), (status = 200, body = WriteSecretResponse),
              (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "secret_exists or version_conflict"),
              (status = 413, body = ErrorBody)),
    security(("bearer" = ["secrets:write"])))]
pub async fn write_secret(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    body: WriteSecretRequest,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    no_query(query)?;
    let expected = expected_version(headers)?;
    let (created, response) = service::write(state, p, &path, body, expected).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let tag = etag(response.version);
    let mut response = (status, Json(response)).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    Ok(response)
}

/// Update metadata and options without creating a version.
#[utoipa::path(patch, path = "/v1/secrets/{path}", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path")),
    request_body = PatchSecretRequest,
    responses((status = 200, body = SecretMetadataResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:write"])))]
pub async fn patch_secret(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    query: Option<&str>,
    body: PatchSecretRequest,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    no_query(query)?;
    Ok(Json(service::patch(state, p, &path, body).await?).into_response())
}

/// Soft delete (restorable for the retention period), `?permanent=true` (tenant admins), or
/// `?version=N` (one version).
#[utoipa::path(delete, path = "/v1/secrets/{path}", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path"),
           ("permanent" = Option<bool>, Query, description = "Hard delete; requires a tenant admin"),
           ("version" = Option<u64>, Query, minimum = 1, description = "Delete only this version")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:write"])))]
pub async fn delete_secret(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    query: Option<&str>,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["permanent", "version"])?;
    let mut kind = DeleteKind::Soft;
    for (k, v) in &pairs {
        let next = match k.as_str() {
            "permanent" if parse_bool("permanent", v)? => DeleteKind::Permanent,
            "permanent" => DeleteKind::Soft,
            _ => DeleteKind::Version(parse_u64("version", v, 1, i64::MAX as u64)?),
        };
        if kind != DeleteKind::Soft && next != DeleteKind::Soft {
            return Err(ApiError::validation(
                "permanent and version cannot be combined",
            ));
        }
        if next != DeleteKind::Soft {
            kind = next;
        }
    }
    service::delete(state, p, &path, kind).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Restore a soft-deleted secret.
#[utoipa::path(post, path = "/v1/secrets/{path}/restore", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path")),
    responses((status = 200, body = RestoreSecretResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:write"])))]
pub async fn restore_secret(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    query: Option<&str>,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    no_query(query)?;
    Ok(Json(service::restore(state, p, &path).await?).into_response())
}

/// Rotate now: writes `new_value` as a new version; the previous version stays readable for
/// `grace_period` (default: retired at once).
#[utoipa::path(post, path = "/v1/secrets/{path}/rotate", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path")),
    request_body = RotateSecretRequest,
    responses((status = 200, body = RotateSecretResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:write"])))]
pub async fn rotate_secret(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    query: Option<&str>,
    body: RotateSecretRequest,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    no_query(query)?;
    Ok(Json(service::rotate(state, p, &path, body).await?).into_response())
}

/// Versions of a secret, newest first.
#[utoipa::path(get, path = "/v1/secrets/{path}/versions", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path")),
    responses((status = 200, body = VersionsResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn versions(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    query: Option<&str>,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    no_query(query)?;
    Ok(Json(service::versions(state, p, &path).await?).into_response())
}

/// Metadata without the value: versions, tags, access statistics, rotation policy.
#[utoipa::path(get, path = "/v1/secrets/metadata/{path}", tag = "secrets",
    params(("path" = String, Path, pattern = r"^[^\x00-\x20\x7f-\x9f%*?\[\]{}#\\]+$", description = "Secret path")),
    responses((status = 200, body = SecretMetadataResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn metadata(
    state: &AppState,
    Authenticated(p): &Authenticated,
    raw_path: &str,
    query: Option<&str>,
) -> ApiResult<Response> {
    let path = SecretPath::parse(raw_path)?;
    no_query(query)?;
    Ok(Json(service::metadata(state, p, &path).await?).into_response())
}

/// Secrets expiring within `days` (default 30), soonest first.
#[utoipa::path(get, path = "/v1/secrets/expiring", tag = "secrets",
    params(("days" = Option<u64>, Query, minimum = 1, maximum = 3650, description = "Window in days, 1-3650 (default 30)"),
           ("prefix" = Option<String>, Query, description = "Path prefix"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
           ("cursor" = Option<String>, Query, description = "From a previous page")),
    responses((status = 200, body = ExpiringSecretsResponse), (status = 400, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn expiring(
    state: &AppState,
    Authenticated(p): &Authenticated,
    query: Option<&str>,
) -> ApiResult<Json<ExpiringSecretsResponse>> {
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["days", "prefix", "limit", "cursor"])?;
    let (mut days, mut prefix, mut limit, mut after) = (30, String::new(), DEFAULT_LIMIT, None);
    for (k, v) in pairs {
        match k.as_str() {
            "days" => days = parse_u64("days", &v, 1, 3650)?,
            "prefix" => prefix = v,
            "limit" => limit = parse_u64("limit", &v, 1, MAX_LIMIT)?,
            _ => after = Some(crate::cursor::decode_expiring(&v)?),
        }
    }
    Ok(Json(
        service::expiring(state, p, days, prefix, after, limit as u32).await?,
    ))
}

/// List secrets (values are never listed).
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets",
    params(("prefix" = Option<String>, Query, description = "Path prefix"),
           ("tag" = Option<Vec<String>>, Query, description = "Tag; repeat for several, at most 50 (all must match)"),
           ("secret_type" = Option<SecretType>, Query, description = "kv, json, certificate, ssh_key, api_key"),
           ("expires_before" = Option<String>, Query, description = "RFC 3339 timestamp"),
           ("updated_after" = Option<String>, Query, description = "RFC 3339 timestamp"),
           ("include_expired" = Option<bool>, Query, description = "Include secrets past expires_at"),
           ("include_metadata" = Option<bool>, Query, description = "Full metadata per secret"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
           ("cursor" = Option<String>, Query, description = "From a previous page")),
    responses((status = 200, body = ListSecretsResponse), (status = 400, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn list_secrets(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<ListSecretsResponse>> {
    let pairs = query_pairs(uri.query());
    reject_unknown(
        &pairs,
        &[
            "prefix",
            "tag",
            "secret_type",
            "expires_before",
            "updated_after",
            "include_expired",
            "include_metadata",
            "limit",
            "cursor",
        ],
    )?;
    let mut query = ListQuery {
        limit: DEFAULT_LIMIT as u32,
        ..ListQuery::default()
    };
    let mut include_metadata = false;
    let timestamp = |name: &str, v: &str| {
        Timestamp::parse(v)
            .map(Timestamp::as_offset_date_time)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "{name} must be an RFC 3339 timestamp such as 2026-04-23T14:30:00Z"
                ))
            })
    };
    for (k, v) in pairs {
        match k.as_str() {
            "prefix" => query.prefix = v,
            "tag" => {
                // A secret holds at most MAX_TAGS tags, so more filters can never match; and
                // each one is a clause of the store's query, which has a size limit.
                if query.tags.len() == service::MAX_TAGS {
                    return Err(ApiError::validation(format!(
                        "tag: at most {} tag filters per request",
                        service::MAX_TAGS
                    )));
                }
                query.tags.push(v)
            }
            "secret_type" => {
                let t = SecretType::parse(&v).ok_or_else(|| {
                    ApiError::validation(format!(
                        "secret_type '{}' is unknown (kv, json, certificate, ssh_key, api_key)",
                        truncate(&v)
                    ))
                })?;
                query.secret_type = Some(t.as_str().to_owned());
            }
            "expires_before" => query.expires_before = Some(timestamp("expires_before", &v)?),
            "updated_after" => query.updated_after = Some(timestamp("updated_after", &v)?),
            "include_expired" => query.include_expired = parse_bool("include_expired", &v)?,
            "include_metadata" => include_metadata = parse_bool("include_metadata", &v)?,
            "limit" => query.limit = parse_u64("limit", &v, 1, MAX_LIMIT)? as u32,
            _ => query.after_path = Some(crate::cursor::decode_path(&v)?),
        }
    }
    Ok(Json(
        service::list(&state, &p, query, include_metadata).await?,
    ))
}
