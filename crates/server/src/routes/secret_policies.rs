//! `/v1/secret-policies`: value-generation policies (`sp_...`) per tenant, the generator
//! catalogue, and previews (`generate`, never stored).
//!
//! Reading needs `policies:read`; creating, changing and deleting need a tenant admin with
//! `policies:write`. A preview returns fresh random values to anyone who may read the policy:
//! they are not anyone's secret until written.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_core::{Principal, Scope};
use scaivault_proto::rotation::*;
use scaivault_proto::{ErrorBody, ErrorCode, Timestamp};
use scaivault_store::{Entity, SecretPolicyRecord, StoreError};

use crate::audit;
use crate::auth::{Authenticated, require_admin, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/secret-policies",
            get(list_secret_policies).post(create_secret_policy),
        )
        .route("/v1/secret-policies/types", get(generator_types))
        .route(
            "/v1/secret-policies/{id}",
            get(get_secret_policy)
                .put(update_secret_policy)
                .delete(delete_secret_policy),
        )
        .route("/v1/secret-policies/{id}/generate", post(generate_preview))
}

fn can_read(p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesRead)
}

fn can_write(p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesWrite)?;
    require_admin(p, "changing secret policies")
}

/// `prefix` + the name in lower case with `_` between words (`Strong Password` ->
/// `sp_strong_password`), as the documentation's examples name them; a random id when the
/// name has no ASCII letters or digits.
pub fn id_from_name(prefix: &str, name: &str) -> ApiResult<String> {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug: String = slug.trim_end_matches('_').chars().take(48).collect();
    let slug = slug.trim_end_matches('_');
    if slug.is_empty() {
        return Ok(scaivault_crypto::random::random_id(prefix)?);
    }
    Ok(format!("{prefix}{slug}"))
}

fn dto(r: &SecretPolicyRecord) -> ApiResult<SecretPolicy> {
    Ok(SecretPolicy {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        secret_type: r.secret_type.clone(),
        fields: serde_json::from_str(&r.fields)
            .map_err(|_| ApiError::internal("stored secret policy fields are corrupt"))?,
        created_at: Timestamp::new(r.created_at),
        updated_at: Timestamp::new(r.updated_at),
    })
}

/// Validates a request: (name, description, secret_type, fields JSON).
fn parse_request(
    request: SecretPolicyRequest,
) -> ApiResult<(String, Option<String>, String, String)> {
    let name = crate::extract::check_name("name", &request.name)?.to_owned();
    crate::extract::check_description(request.description.as_deref())?;
    // A label of what the policy generates (`password`, `api_key`, `database`, ...), not the
    // secret's own `secret_type`, which a generated value never changes.
    let secret_type = request.secret_type.unwrap_or_else(|| "password".to_owned());
    if secret_type.is_empty()
        || secret_type.len() > 32
        || !secret_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(ApiError::validation(
            "secret_type: 1 to 32 characters from a-z, 0-9, '_' and '-' (e.g. password, api_key)",
        ));
    }
    let specs: Vec<scaivault_generate::FieldSpec> = request
        .fields
        .iter()
        .map(|f| scaivault_generate::FieldSpec {
            name: f.name.clone(),
            generator: f.generator.clone(),
            config: serde_json::Value::Object(f.config.clone()),
        })
        .collect();
    scaivault_generate::compile(&specs).map_err(|e| ApiError::validation(e.to_string()))?;
    let fields = serde_json::to_string(&request.fields).map_err(ApiError::internal)?;
    Ok((name, request.description, secret_type, fields))
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate => ApiError::new(
            ErrorCode::Conflict,
            "a secret policy with this name (or id) already exists in the tenant",
        ),
        e => e.into(),
    }
}

async fn existing(state: &AppState, p: &Principal, id: &str) -> ApiResult<SecretPolicyRecord> {
    state
        .store
        .get_secret_policy(&p.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::from(StoreError::NotFound(Entity::SecretPolicy)))
}

/// Creates a secret policy; its id is derived from the name (`sp_strong_password`).
#[utoipa::path(post, path = "/v1/secret-policies", tag = "secret-policies", request_body = SecretPolicyRequest,
    responses((status = 201, body = SecretPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn create_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<SecretPolicyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<SecretPolicy>)> {
    can_write(&p)?;
    let JsonBody(request) = body?;
    let (name, description, secret_type, fields) = parse_request(request)?;
    let now = state.clock.now();
    let record = SecretPolicyRecord {
        id: id_from_name("sp_", &name)?,
        tenant_id: p.tenant_id.clone(),
        name,
        description,
        secret_type,
        fields,
        created_at: now,
        updated_at: now,
    };
    audit::note_resource(&record.id);
    state
        .store
        .insert_secret_policy(&record, audit::success_event(&state).as_ref())
        .await
        .map_err(conflict)?;
    audit::committed();
    Ok((StatusCode::CREATED, Json(dto(&record)?)))
}

/// The tenant's secret policies, by id.
#[utoipa::path(get, path = "/v1/secret-policies", tag = "secret-policies",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = SecretPolicyList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_secret_policies(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<SecretPolicyList>> {
    can_read(&p)?;
    let (limit, after) = crate::extract::page_params(uri.query())?;
    let page = state
        .store
        .list_secret_policies(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(Json(SecretPolicyList {
        secret_policies: page.items.iter().map(dto).collect::<ApiResult<_>>()?,
        cursor,
        has_more: page.has_more,
    }))
}

/// The generators (with their settings) and the named character sets.
#[utoipa::path(get, path = "/v1/secret-policies/types", tag = "secret-policies",
    responses((status = 200, body = GeneratorCatalogue), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn generator_types(
    Authenticated(p): Authenticated,
) -> ApiResult<Json<GeneratorCatalogue>> {
    can_read(&p)?;
    let catalogue = serde_json::to_value(scaivault_generate::catalogue())
        .map_err(|_| ApiError::internal("cannot render the generator catalogue"))?;
    let list = |key: &str| {
        catalogue
            .get(key)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    Ok(Json(GeneratorCatalogue {
        generators: list("generators"),
        charsets: list("charsets"),
    }))
}

#[utoipa::path(get, path = "/v1/secret-policies/{id}", tag = "secret-policies",
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 200, body = SecretPolicy), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn get_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<SecretPolicy>> {
    can_read(&p)?;
    Ok(Json(dto(&existing(&state, &p, &id).await?)?))
}

/// Replaces a secret policy (the id stays); the next generated value uses the new fields.
#[utoipa::path(put, path = "/v1/secret-policies/{id}", tag = "secret-policies", request_body = SecretPolicyRequest,
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 200, body = SecretPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn update_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<SecretPolicyRequest>, ApiError>,
) -> ApiResult<Json<SecretPolicy>> {
    can_write(&p)?;
    let JsonBody(request) = body?;
    let (name, description, secret_type, fields) = parse_request(request)?;
    let mut record = existing(&state, &p, &id).await?;
    record.name = name;
    record.description = description;
    record.secret_type = secret_type;
    record.fields = fields;
    record.updated_at = state.clock.now();
    if !state
        .store
        .update_secret_policy(&record, audit::success_event(&state).as_ref())
        .await
        .map_err(conflict)?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::SecretPolicy)));
    }
    audit::committed();
    Ok(Json(dto(&record)?))
}

/// Deletes a secret policy. Secrets that name it keep the id: their next automatic rotation
/// fails (recorded, retried) until they get another one.
#[utoipa::path(delete, path = "/v1/secret-policies/{id}", tag = "secret-policies",
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn delete_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    if !state
        .store
        .delete_secret_policy(&p.tenant_id, &id, audit::success_event(&state).as_ref())
        .await?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::SecretPolicy)));
    }
    audit::committed();
    Ok(StatusCode::NO_CONTENT)
}

/// Generates a value with the policy and returns it without storing it anywhere.
#[utoipa::path(post, path = "/v1/secret-policies/{id}/generate", tag = "secret-policies",
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 200, body = GeneratedValue), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn generate_preview(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<GeneratedValue>> {
    can_read(&p)?;
    existing(&state, &p, &id).await?;
    let (secret_type, data) = crate::rotation::generate(&state, &p.tenant_id, &id)
        .await
        .map_err(|e| ApiError::validation(format!("cannot generate a value: {e}")))?;
    Ok(Json(GeneratedValue {
        secret_policy_id: id,
        secret_type,
        data,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_follow_the_documented_examples() {
        assert_eq!(
            id_from_name("sp_", "Strong Password").unwrap(),
            "sp_strong_password"
        );
        assert_eq!(id_from_name("rot_", "quarterly").unwrap(), "rot_quarterly");
        assert_eq!(
            id_from_name("rot_", "  90d / prod  ").unwrap(),
            "rot_90d_prod"
        );
        assert!(id_from_name("sp_", "ключ").unwrap().starts_with("sp_"));
    }
}
