//! The secrets service: validation, authorization by scope, sealing and opening values, and the
//! store calls behind every `/v1/secrets` route. Handlers in `routes::secrets` only translate
//! HTTP to these calls.

use scaivault_core::{Principal, Scope, SecretPath, parse_duration, validate_prefix};
use scaivault_crypto::{SealedValue, secret_aad};
use scaivault_proto::secrets::*;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::{
    Entity, ExpiringQuery, ListQuery, SealFn, SealedBlob, SecretPatch, SecretRecord, SecretWrite,
    StoreError, WriteMode,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit;
use crate::auth::require_scope;
use crate::authz;
use crate::error::{ApiError, ApiResult, duration_error};
use crate::state::AppState;
use scaivault_core::policy::Permission;

pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
pub const MAX_OWNER_CHARS: usize = 256;
pub const MAX_VERSIONS_LIMIT: u32 = 100;

fn ts(t: OffsetDateTime) -> Timestamp {
    Timestamp::new(t)
}

fn secret_type(record: &SecretRecord) -> ApiResult<SecretType> {
    SecretType::parse(&record.secret_type)
        .ok_or_else(|| ApiError::internal("stored secret has an unknown type"))
}

fn metadata_of(record: &SecretRecord) -> SecretMetadata {
    SecretMetadata {
        description: record.description.clone(),
        tags: Some(record.tags.clone()),
        owner: record.owner.clone(),
    }
}

/// Checks metadata and options and turns them into a store patch.
pub fn build_patch(
    secret_type: Option<SecretType>,
    metadata: Option<&SecretMetadata>,
    options: Option<&SecretOptions>,
    now: OffsetDateTime,
) -> ApiResult<SecretPatch> {
    let mut patch = SecretPatch {
        secret_type: secret_type.map(|t| t.as_str().to_owned()),
        ..SecretPatch::default()
    };
    if let Some(m) = metadata {
        if let Some(d) = &m.description {
            check_text("metadata.description", d, MAX_DESCRIPTION_CHARS, true)?;
        }
        if let Some(o) = &m.owner {
            check_text("metadata.owner", o, MAX_OWNER_CHARS, false)?;
        }
        if let Some(tags) = &m.tags {
            if tags.len() > MAX_TAGS {
                return Err(ApiError::validation(format!(
                    "metadata.tags: at most {MAX_TAGS} tags"
                )));
            }
            for tag in tags {
                check_text("metadata.tags", tag, MAX_TAG_CHARS, false)?;
                if tag.is_empty() {
                    return Err(ApiError::validation("metadata.tags: tags cannot be empty"));
                }
            }
            let mut unique = tags.clone();
            unique.dedup();
            patch.tags = Some(unique);
        }
        patch.description = m.description.clone();
        patch.owner = m.owner.clone();
    }
    if let Some(o) = options {
        if let Some(n) = o.max_versions {
            if !(1..=MAX_VERSIONS_LIMIT).contains(&n) {
                return Err(ApiError::validation(format!(
                    "options.max_versions must be between 1 and {MAX_VERSIONS_LIMIT}"
                )));
            }
            patch.max_versions = Some(n);
        }
        patch.expires_at = match (&o.expires_in, o.expires_at) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "options.expires_in and options.expires_at are mutually exclusive",
                ));
            }
            (Some(rel), None) => {
                let d = parse_duration(rel).map_err(|e| duration_error("options.expires_in", e))?;
                Some(now + d)
            }
            (None, Some(at)) => {
                let at = at.as_offset_date_time();
                if at <= now {
                    return Err(ApiError::validation(
                        "options.expires_at must be in the future",
                    ));
                }
                Some(at)
            }
            (None, None) => None,
        };
        for (field, value) in [
            ("options.rotation_policy_id", &o.rotation_policy_id),
            ("options.secret_policy_id", &o.secret_policy_id),
        ] {
            if let Some(id) = value {
                check_id(field, id)?;
            }
        }
        patch.rotation_policy_id = o.rotation_policy_id.clone();
        patch.secret_policy_id = o.secret_policy_id.clone();
    }
    Ok(patch)
}

fn check_text(field: &str, value: &str, max_chars: usize, allow_newlines: bool) -> ApiResult<()> {
    if value.chars().count() > max_chars {
        return Err(ApiError::validation(format!(
            "{field}: at most {max_chars} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t')))
    {
        return Err(ApiError::validation(format!(
            "{field}: control characters are not allowed"
        )));
    }
    Ok(())
}

fn check_id(field: &str, id: &str) -> ApiResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{field}: expected an id such as rot_quarterly (letters, digits, '_', '-')"
        )))
    }
}

/// The sealing step of a write, owning what it needs: the store calls it inside its write
/// transaction (possibly on its writer task) with the version number it assigned.
pub(crate) fn seal_value(
    state: &AppState,
    tenant_id: &str,
    path: &str,
    plaintext: Zeroizing<Vec<u8>>,
) -> Box<SealFn> {
    let (state, tenant_id, path) = (state.clone(), tenant_id.to_owned(), path.to_owned());
    Box::new(move |version| {
        state
            .keyring()
            .seal(&secret_aad(&tenant_id, &path, version), &plaintext)
            .map(|s| SealedBlob {
                key_id: s.key_id,
                ciphertext: s.ciphertext,
            })
            .map_err(|e| {
                tracing::error!(error = %e, "sealing a secret value failed");
            })
    })
}

pub(crate) fn serialize_data(data: &Map<String, Value>) -> ApiResult<Zeroizing<Vec<u8>>> {
    serde_json::to_vec(data)
        .map(Zeroizing::new)
        .map_err(|_| ApiError::internal("could not serialize secret data"))
}

/// PUT: returns (created, response).
pub async fn write(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
    request: WriteSecretRequest,
    expected_version: Option<u64>,
) -> ApiResult<(bool, WriteSecretResponse)> {
    require_scope(principal, Scope::SecretsWrite)?;
    authz::authorize(state, principal, path.as_str(), Permission::Write).await?;
    let now = state.clock.now();
    let patch = build_patch(
        request.secret_type,
        request.metadata.as_ref(),
        request.options.as_ref(),
        now,
    )?;
    let plaintext = serialize_data(&request.data)?;
    let tenant = principal.tenant_id.as_str();
    crate::rotation::check_references(state, tenant, &patch).await?;
    let attach = patch.rotation_policy_id.clone();
    let write = SecretWrite {
        path: path.as_str().to_owned(),
        patch,
        expected_version,
        mode: WriteMode::Put,
        now,
        audit: audit::success_event(state),
    };
    let seal = seal_value(state, tenant, path.as_str(), plaintext);
    let outcome = state.store.write_secret(tenant, write, seal).await?;
    audit::committed();
    if let Some(policy_id) = &attach {
        crate::rotation::schedule_attached(state, tenant, path.as_str(), policy_id).await?;
    }
    let record = &outcome.record;
    let response = if outcome.created {
        WriteSecretResponse {
            path: record.path.clone(),
            secret_type: Some(secret_type(record)?),
            version: outcome.version,
            created: true,
            previous_version: None,
            created_at: Some(ts(record.created_at)),
            updated_at: None,
            expires_at: record.expires_at.map(ts),
        }
    } else {
        WriteSecretResponse {
            path: record.path.clone(),
            secret_type: None,
            version: outcome.version,
            created: false,
            previous_version: outcome.previous_version,
            created_at: None,
            updated_at: Some(ts(record.updated_at)),
            expires_at: record.expires_at.map(ts),
        }
    };
    Ok((outcome.created, response))
}

/// GET a value.
/// A secret version as read: the decrypted payload stays the JSON text it was stored as.
pub struct SecretValue {
    pub record: SecretRecord,
    pub version: u64,
    plaintext: Zeroizing<Vec<u8>>,
}

/// The wire shape of [`ReadSecretResponse`], borrowing the payload as raw JSON so a read does not
/// parse and re-serialize it (a measurable share of a read's CPU, docs/benchmarks.md). Field
/// order and names must stay those of `ReadSecretResponse` (the Quickstart test and the typed
/// client, which decodes `ReadSecretResponse`, check it).
#[derive(serde::Serialize)]
struct ReadSecretBody<'a> {
    path: &'a str,
    secret_type: SecretType,
    version: u64,
    data: &'a serde_json::value::RawValue,
    metadata: SecretMetadata,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
}

impl SecretValue {
    /// The `GET /v1/secrets/{path}` response body.
    pub fn to_json(&self) -> ApiResult<Vec<u8>> {
        let data: &serde_json::value::RawValue = serde_json::from_slice(&self.plaintext)
            .map_err(|_| ApiError::internal("stored secret value is not valid JSON"))?;
        let record = &self.record;
        serde_json::to_vec(&ReadSecretBody {
            path: &record.path,
            secret_type: secret_type(record)?,
            version: self.version,
            data,
            metadata: metadata_of(record),
            created_at: ts(record.created_at),
            updated_at: ts(record.updated_at),
            expires_at: record.expires_at.map(ts),
        })
        .map_err(|_| ApiError::internal("could not serialize a secret"))
    }
}

/// GET a value.
pub async fn read(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
    version: Option<u64>,
) -> ApiResult<SecretValue> {
    require_scope(principal, Scope::SecretsRead)?;
    authz::authorize(state, principal, path.as_str(), Permission::Read).await?;
    let tenant = principal.tenant_id.as_str();
    let now = state.clock.now();
    let (record, version) = state
        .store
        .read_secret(tenant, path.as_str(), version, now)
        .await?;
    if record.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::new(
            ErrorCode::SecretExpired,
            "the secret has expired",
        ));
    }
    let sealed = version
        .sealed
        .ok_or_else(|| ApiError::internal("version read without its value"))?;
    let sealed = SealedValue {
        key_id: sealed.key_id,
        ciphertext: sealed.ciphertext,
    };
    let plaintext = state
        .keyring()
        .open(&sealed, &secret_aad(tenant, path.as_str(), version.version))?;
    state.access.record(tenant, path.as_str(), now);
    audit::note_version(version.version);
    Ok(SecretValue {
        record,
        version: version.version,
        plaintext,
    })
}

pub async fn metadata(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
) -> ApiResult<SecretMetadataResponse> {
    require_scope(principal, Scope::SecretsRead)?;
    authz::authorize(state, principal, path.as_str(), Permission::Read).await?;
    let tenant = principal.tenant_id.as_str();
    let record = state.store.get_secret(tenant, path.as_str()).await?;
    if record.deleted_at.is_some() {
        return Err(StoreError::NotFound(Entity::Secret).into());
    }
    metadata_response(state, tenant, record).await
}

async fn metadata_response(
    state: &AppState,
    tenant: &str,
    record: SecretRecord,
) -> ApiResult<SecretMetadataResponse> {
    let now = state.clock.now();
    let (stored_count, stored_last) = state
        .store
        .access_stats(tenant, &record.path, now - time::Duration::days(29))
        .await?;
    let (pending_count, pending_last) = state.access.pending(tenant, &record.path);
    let version_count = if record.version_count == 0 {
        state
            .store
            .get_secret(tenant, &record.path)
            .await?
            .version_count
    } else {
        record.version_count
    };
    Ok(SecretMetadataResponse {
        path: record.path.clone(),
        secret_type: secret_type(&record)?,
        current_version: record.current_version,
        version_count,
        metadata: metadata_of(&record),
        max_versions: record.max_versions,
        created_at: ts(record.created_at),
        updated_at: ts(record.updated_at),
        expires_at: record.expires_at.map(ts),
        last_accessed_at: stored_last.max(pending_last).map(ts),
        access_count_30d: stored_count + pending_count,
        rotation_policy: match &record.rotation_policy_id {
            Some(id) => Some(RotationPolicyRef {
                id: id.clone(),
                next_rotation: state
                    .store
                    .get_rotation_schedule(tenant, &record.path)
                    .await?
                    .filter(|s| &s.policy_id == id)
                    .map(|s| ts(s.next_rotation_at)),
            }),
            None => None,
        },
        secret_policy_id: record.secret_policy_id.clone(),
    })
}

pub async fn patch(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
    request: PatchSecretRequest,
) -> ApiResult<SecretMetadataResponse> {
    require_scope(principal, Scope::SecretsWrite)?;
    authz::authorize(state, principal, path.as_str(), Permission::Write).await?;
    let now = state.clock.now();
    let patch = build_patch(
        None,
        request.metadata.as_ref(),
        request.options.as_ref(),
        now,
    )?;
    let tenant = principal.tenant_id.as_str();
    crate::rotation::check_references(state, tenant, &patch).await?;
    let record = state
        .store
        .patch_secret(
            tenant,
            path.as_str(),
            &patch,
            now,
            audit::success_event(state).as_ref(),
        )
        .await?;
    audit::committed();
    if let Some(policy_id) = &patch.rotation_policy_id {
        crate::rotation::schedule_attached(state, tenant, path.as_str(), policy_id).await?;
    }
    metadata_response(state, tenant, record).await
}

pub async fn list(
    state: &AppState,
    principal: &Principal,
    mut query: ListQuery,
    include_metadata: bool,
) -> ApiResult<ListSecretsResponse> {
    require_scope(principal, Scope::SecretsRead)?;
    validate_prefix(&query.prefix)?;
    query.now = Some(state.clock.now());
    let page = match authz::caller_policies(state, principal).await? {
        None => {
            state
                .store
                .list_secrets(&principal.tenant_id, &query)
                .await?
        }
        Some(set) => {
            visible_page(state, &principal.tenant_id, &query, |path| {
                set.allows(path, Permission::List)
            })
            .await?
        }
    };
    let cursor = match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(crate::cursor::encode_path(&last.path)),
        _ => None,
    };
    let secrets = page
        .items
        .iter()
        .map(|r| {
            Ok(SecretSummary {
                path: r.path.clone(),
                secret_type: secret_type(r)?,
                version: r.current_version,
                updated_at: ts(r.updated_at),
                expires_at: r.expires_at.map(ts),
                tags: r.tags.clone(),
                description: include_metadata.then(|| r.description.clone()).flatten(),
                owner: include_metadata.then(|| r.owner.clone()).flatten(),
                created_at: include_metadata.then(|| ts(r.created_at)),
                max_versions: include_metadata.then_some(r.max_versions),
                rotation_policy_id: include_metadata
                    .then(|| r.rotation_policy_id.clone())
                    .flatten(),
                secret_policy_id: include_metadata
                    .then(|| r.secret_policy_id.clone())
                    .flatten(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ListSecretsResponse {
        secrets,
        cursor,
        has_more: page.has_more,
        total_count: page.total_count,
    })
}

/// Rows fetched per store call while filtering a listing through policies.
const SCAN_PAGE: u32 = 500;

/// A page of only the secrets the caller may list. Scans every match of the query (from the
/// start, to count them), so `total_count`, `has_more` and the cursor (the last *visible*
/// path) reveal nothing about secrets the caller cannot see. Costs one pass over the matches.
async fn visible_page(
    state: &AppState,
    tenant: &str,
    query: &ListQuery,
    visible: impl Fn(&str) -> bool,
) -> ApiResult<scaivault_store::Page<SecretRecord>> {
    let mut scan = query.clone();
    scan.after_path = None;
    scan.limit = SCAN_PAGE;
    let mut items = Vec::new();
    let mut total = 0;
    let mut has_more = false;
    loop {
        let page = state.store.list_secrets(tenant, &scan).await?;
        let last = page.items.last().map(|r| r.path.clone());
        for record in page.items {
            if !visible(&record.path) {
                continue;
            }
            total += 1;
            let past_cursor = query
                .after_path
                .as_deref()
                .is_none_or(|after| record.path.as_str() > after);
            if past_cursor {
                if items.len() < query.limit as usize {
                    items.push(record);
                } else {
                    has_more = true;
                }
            }
        }
        match (page.has_more, last) {
            (true, Some(last)) => scan.after_path = Some(last),
            _ => break,
        }
    }
    Ok(scaivault_store::Page {
        items,
        has_more,
        total_count: total,
    })
}

pub async fn expiring(
    state: &AppState,
    principal: &Principal,
    days: u64,
    prefix: String,
    after: Option<(OffsetDateTime, String)>,
    limit: u32,
) -> ApiResult<ExpiringSecretsResponse> {
    require_scope(principal, Scope::SecretsRead)?;
    validate_prefix(&prefix)?;
    let now = state.clock.now();
    let days_i64 = i64::try_from(days).map_err(|_| ApiError::validation("days is too large"))?;
    let query = ExpiringQuery {
        prefix,
        now,
        before: now + time::Duration::days(days_i64),
        after,
        limit,
    };
    let page = match authz::caller_policies(state, principal).await? {
        None => {
            state
                .store
                .list_expiring(&principal.tenant_id, &query)
                .await?
        }
        Some(set) => {
            // Scan until a page of visible entries is found (the cursor is the last one shown).
            let mut scan = query.clone();
            scan.limit = SCAN_PAGE;
            let mut items = Vec::new();
            let mut has_more = false;
            loop {
                let page = state
                    .store
                    .list_expiring(&principal.tenant_id, &scan)
                    .await?;
                let last = page
                    .items
                    .last()
                    .and_then(|r| r.expires_at.map(|at| (at, r.path.clone())));
                for record in page.items {
                    if set.allows(&record.path, Permission::List) {
                        if items.len() < query.limit as usize {
                            items.push(record);
                        } else {
                            has_more = true;
                        }
                    }
                }
                match (page.has_more && !has_more, last) {
                    (true, Some(last)) => scan.after = Some(last),
                    _ => break,
                }
            }
            scaivault_store::Page {
                total_count: items.len() as u64,
                items,
                has_more,
            }
        }
    };
    let cursor = match (page.has_more, page.items.last()) {
        (true, Some(last)) => last
            .expires_at
            .map(|at| crate::cursor::encode_expiring(at, &last.path)),
        _ => None,
    };
    let secrets = page
        .items
        .iter()
        .filter_map(|r| {
            let at = r.expires_at?;
            let left = (at - now).whole_seconds().max(0) as u64;
            Some(ExpiringSecret {
                path: r.path.clone(),
                expires_at: ts(at),
                days_remaining: left.div_ceil(86_400),
            })
        })
        .collect();
    Ok(ExpiringSecretsResponse {
        secrets,
        cursor,
        has_more: page.has_more,
    })
}

pub async fn versions(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
) -> ApiResult<VersionsResponse> {
    require_scope(principal, Scope::SecretsRead)?;
    authz::authorize(state, principal, path.as_str(), Permission::Read).await?;
    let tenant = principal.tenant_id.as_str();
    let now = state.clock.now();
    let record = state.store.get_secret(tenant, path.as_str()).await?;
    let versions = state
        .store
        .list_versions(tenant, path.as_str(), now)
        .await?;
    Ok(VersionsResponse {
        path: path.to_string(),
        versions: versions
            .into_iter()
            .map(|v| VersionInfo {
                version: v.version,
                created_at: ts(v.created_at),
                is_current: v.version == record.current_version,
                retires_at: v.retires_at.map(ts),
            })
            .collect(),
    })
}

/// What a DELETE asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteKind {
    Soft,
    Permanent,
    Version(u64),
}

pub async fn delete(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
    kind: DeleteKind,
) -> ApiResult<()> {
    require_scope(principal, Scope::SecretsWrite)?;
    authz::authorize(state, principal, path.as_str(), Permission::Delete).await?;
    let tenant = principal.tenant_id.as_str();
    let now = state.clock.now();
    match kind {
        DeleteKind::Soft => {
            let event = audit::success_event(state);
            state
                .store
                .soft_delete(tenant, path.as_str(), now, event.as_ref())
                .await?
        }
        DeleteKind::Permanent => {
            audit::note_action("destroy");
            // Tenant admins, or a policy granting `admin` on the path.
            authz::authorize(state, principal, path.as_str(), Permission::Admin)
                .await
                .map_err(|_| {
                    ApiError::access_denied(
                        "permanent deletion requires a tenant admin or the admin permission on the path",
                    )
                })?;
            let event = audit::success_event(state);
            state
                .store
                .hard_delete(tenant, path.as_str(), event.as_ref())
                .await?;
        }
        DeleteKind::Version(v) => {
            audit::note_action("delete_version");
            audit::note_version(v);
            let event = audit::success_event(state);
            state
                .store
                .delete_version(tenant, path.as_str(), v, now, event.as_ref())
                .await?
        }
    }
    audit::committed();
    Ok(())
}

pub async fn restore(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
) -> ApiResult<RestoreSecretResponse> {
    require_scope(principal, Scope::SecretsWrite)?;
    authz::authorize(state, principal, path.as_str(), Permission::Write).await?;
    let now = state.clock.now();
    let record = state
        .store
        .restore(
            &principal.tenant_id,
            path.as_str(),
            now,
            audit::success_event(state).as_ref(),
        )
        .await?;
    audit::committed();
    Ok(RestoreSecretResponse {
        path: record.path,
        restored: true,
        current_version: record.current_version,
    })
}

pub async fn rotate(
    state: &AppState,
    principal: &Principal,
    path: &SecretPath,
    request: RotateSecretRequest,
) -> ApiResult<RotateSecretResponse> {
    require_scope(principal, Scope::SecretsWrite)?;
    authz::authorize(state, principal, path.as_str(), Permission::Rotate).await?;
    let grace = request
        .grace_period
        .as_deref()
        .map(|g| parse_duration(g).map_err(|e| duration_error("grace_period", e)))
        .transpose()?;
    if let Some(reason) = &request.reason {
        check_text("reason", reason, MAX_DESCRIPTION_CHARS, true)?;
    }
    let tenant = principal.tenant_id.as_str();
    let secret = state.store.get_secret(tenant, path.as_str()).await?;
    if secret.deleted_at.is_some() {
        return Err(StoreError::NotFound(Entity::Secret).into());
    }
    let (value, grace, policy) = crate::rotation::prepare_manual(
        state,
        tenant,
        crate::rotation::ManualRotation {
            secret: &secret,
            new_value: request.new_value,
            grace,
        },
    )
    .await?;
    let plaintext = serialize_data(&value)?;
    drop(value);
    let now = state.clock.now();
    let retire_previous_at = now + grace;
    let write = SecretWrite {
        path: path.as_str().to_owned(),
        patch: SecretPatch::default(),
        expected_version: None,
        mode: WriteMode::Rotate { retire_previous_at },
        now,
        audit: audit::success_event(state),
    };
    let seal = seal_value(state, tenant, path.as_str(), plaintext);
    let outcome = state.store.write_secret(tenant, write, seal).await?;
    audit::committed();
    tracing::info!(path = %path, version = outcome.version, "secret rotated");
    // The write is acknowledged; the run and the next cycle follow (settled on restart if lost).
    if let Err(e) = crate::rotation::finish_manual(
        state,
        principal,
        &outcome,
        policy.as_ref(),
        retire_previous_at,
    )
    .await
    {
        tracing::warn!(path = %path, error = %e.message, "recording a manual rotation failed");
    }
    Ok(RotateSecretResponse {
        path: outcome.record.path,
        version: outcome.version,
        previous_version: outcome.previous_version.unwrap_or(0),
        rotated_at: ts(now),
        previous_version_retires_at: ts(retire_previous_at),
    })
}
