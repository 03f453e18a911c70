//! Value-generation policies (`sp_...`) per tenant, the generator catalogue, and previews
//! (`generate`, never stored): every operation behind `/v1/secret-policies`.
//!
//! Reading needs `policies:read`; creating, changing and deleting need a tenant admin with
//! `policies:write`. A preview returns fresh random values to anyone who may read the policy:
//! they are not anyone's secret until written.

use scaivault_core::{Principal, Scope};
use scaivault_proto::rotation::*;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::Entity;
use scaivault_store::{SecretPolicyRecord, StoreError};

use crate::audit;
use crate::auth::{require_admin, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

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

/// A validated request: (name, description, secret_type, fields JSON).
type Settings = (String, Option<String>, String, String);

/// Validates a request into its [`Settings`].
fn parse_request(request: SecretPolicyRequest) -> ApiResult<Settings> {
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
        .ok_or_else(|| ApiError::not_found(Entity::SecretPolicy))
}

/// Creates a secret policy; its id is derived from the name (`sp_strong_password`).
/// `request` is the body as parsed: its error counts only after authorization.
pub async fn create(
    state: &AppState,
    p: &Principal,
    request: ApiResult<SecretPolicyRequest>,
) -> ApiResult<SecretPolicy> {
    can_write(p)?;
    let (name, description, secret_type, fields) = parse_request(request?)?;
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
        .insert_secret_policy(&record, audit::success_event(state).as_ref())
        .await
        .map_err(conflict)?;
    audit::committed();
    dto(&record)
}

/// One page of the tenant's secret policies, by id; `query` holds `limit` and `cursor`.
pub async fn list(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<SecretPolicyList> {
    can_read(p)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_secret_policies(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(SecretPolicyList {
        secret_policies: page.items.iter().map(dto).collect::<ApiResult<_>>()?,
        cursor,
        has_more: page.has_more,
    })
}

/// The generators (with their settings) and the named character sets.
pub fn generator_types(p: &Principal) -> ApiResult<GeneratorCatalogue> {
    can_read(p)?;
    let catalogue = serde_json::to_value(scaivault_generate::catalogue())
        .map_err(|_| ApiError::internal("cannot render the generator catalogue"))?;
    let list = |key: &str| {
        catalogue
            .get(key)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    Ok(GeneratorCatalogue {
        generators: list("generators"),
        charsets: list("charsets"),
    })
}

pub async fn get(state: &AppState, p: &Principal, id: &str) -> ApiResult<SecretPolicy> {
    can_read(p)?;
    dto(&existing(state, p, id).await?)
}

/// Replaces a secret policy (the id stays); the body's error after authorization.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<SecretPolicyRequest>,
) -> ApiResult<SecretPolicy> {
    can_write(p)?;
    let (name, description, secret_type, fields) = parse_request(request?)?;
    let mut record = existing(state, p, id).await?;
    record.name = name;
    record.description = description;
    record.secret_type = secret_type;
    record.fields = fields;
    record.updated_at = state.clock.now();
    let updated = state
        .store
        .update_secret_policy(&record, audit::success_event(state).as_ref())
        .await
        .map_err(conflict)?;
    if !updated {
        return Err(ApiError::not_found(Entity::SecretPolicy));
    }
    audit::committed();
    dto(&record)
}

/// Deletes a secret policy. Secrets that name it keep the id.
pub async fn delete(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    can_write(p)?;
    let deleted = state
        .store
        .delete_secret_policy(&p.tenant_id, id, audit::success_event(state).as_ref())
        .await?;
    if !deleted {
        return Err(ApiError::not_found(Entity::SecretPolicy));
    }
    audit::committed();
    Ok(())
}

/// Generates a value with the policy and returns it without storing it anywhere.
pub async fn generate_preview(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<GeneratedValue> {
    can_read(p)?;
    existing(state, p, id).await?;
    let (secret_type, data) = crate::rotation::generate(state, &p.tenant_id, id)
        .await
        .map_err(|e| ApiError::validation(format!("cannot generate a value: {e}")))?;
    Ok(GeneratedValue {
        secret_policy_id: id.to_owned(),
        secret_type,
        data,
    })
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
