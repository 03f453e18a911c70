//! DNS providers for dns-01 (and `webhook` ones, which also take http-01 tokens for another
//! front end): create (checked, credentials sealed), list, get, delete. docs/dns-providers.md.

use serde_json::{Map, Value};

use scaivault_proto::Timestamp;
use scaivault_proto::acme::{
    CreateDnsProviderRequest, DnsProvider as DnsProviderDto, DnsProviderList,
};
use scaivault_store::{DnsProviderRecord, StoreError};

use super::*;
use crate::audit;

/// The kind handled here rather than by `scaivault_acme::dns::registry`: it goes through the
/// server's webhook client (SSRF checks, Standard Webhooks signatures).
pub const WEBHOOK: &str = "webhook";

/// Every kind, in the docs' order.
pub fn kinds() -> Vec<&'static str> {
    let mut all = scaivault_acme::dns::KINDS.to_vec();
    all.push(WEBHOOK);
    all
}

/// A `webhook` provider's settings.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookSettings {
    pub url: String,
    /// The propagation settings every kind takes: accepted here (unknown fields are refused),
    /// read by `scaivault_acme::dns::registry::propagation` from the settings themselves.
    #[serde(default, rename = "nameservers")]
    _nameservers: Option<Value>,
    #[serde(default, rename = "propagation_timeout_seconds")]
    _propagation_timeout_seconds: Option<Value>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookCredentials {
    #[serde(default)]
    pub secret: Option<String>,
}

fn dto(
    p: &DnsProviderRecord,
    credential_fields: Vec<String>,
    webhook_secret: Option<String>,
) -> ApiResult<DnsProviderDto> {
    let settings: Map<String, Value> = serde_json::from_str(&p.settings).map_err(|_| {
        ApiError::internal(format!("DNS provider {} has unreadable settings", p.id))
    })?;
    Ok(DnsProviderDto {
        id: p.id.clone(),
        name: p.name.clone(),
        kind: p.kind.clone(),
        settings,
        credential_fields,
        webhook_secret,
        created_at: Timestamp::new(p.created_at),
        updated_at: Timestamp::new(p.updated_at),
    })
}

/// The credentials' field names (the values stay sealed).
fn credential_fields(state: &AppState, p: &DnsProviderRecord) -> ApiResult<Vec<String>> {
    let creds: Map<String, Value> = open_json(state, &p.tenant_id, &p.id, &p.sealed_credentials)?;
    Ok(creds.keys().cloned().collect())
}

fn check_provider_name(name: &str) -> ApiResult<()> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(
            "name: 1 to 64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
        ))
    }
}

/// Creates a DNS provider after checking its settings and credentials (no DNS change is made:
/// the first order shows whether the credentials work).
pub async fn create_dns_provider(
    state: &AppState,
    p: &Principal,
    request: ApiResult<CreateDnsProviderRequest>,
) -> ApiResult<DnsProviderDto> {
    authorize_admin(state, p).await?;
    let request = request?;
    check_provider_name(&request.name)?;
    let mut credentials = request.credentials.clone();
    let mut generated = None;
    if request.kind == WEBHOOK {
        let settings: WebhookSettings =
            serde_json::from_value(Value::Object(request.settings.clone())).map_err(|e| {
                ApiError::validation(format!(
                    "webhook settings: {}",
                    scaivault_acme::dns::registry::field_error(&e)
                ))
            })?;
        let creds: WebhookCredentials = serde_json::from_value(Value::Object(credentials.clone()))
            .map_err(|e| {
                ApiError::validation(format!(
                    "webhook credentials: {}",
                    scaivault_acme::dns::registry::field_error(&e)
                ))
            })?;
        state
            .webhooks
            .check_url(&settings.url)
            .await
            .map_err(|e| ApiError::validation(format!("settings.url: {e}")))?;
        // The propagation settings every kind shares, by the registry's rules.
        scaivault_acme::dns::registry::propagation(&Value::Object(request.settings.clone()))
            .map_err(|e| ApiError::validation(e.to_string()))?;
        if creds.secret.is_none() {
            let secret = crate::webhooks::new_secret()?;
            credentials.insert("secret".into(), Value::String(secret.to_string()));
            generated = Some(secret.to_string());
        }
    } else {
        scaivault_acme::dns::registry::check(
            &request.kind,
            &Value::Object(request.settings.clone()),
            &Value::Object(credentials.clone()),
        )
        .map_err(|e| match e {
            scaivault_acme::AcmeError::InvalidRequest(m) => ApiError::validation(m),
            other => acme_error(other),
        })?;
    }
    let id = scaivault_crypto::random::random_id("dnsp_")?;
    audit::note_resource(&id);
    let now = state.clock.now();
    let record = DnsProviderRecord {
        id: id.clone(),
        tenant_id: p.tenant_id.clone(),
        name: request.name.clone(),
        kind: request.kind.clone(),
        settings: serde_json::to_string(&request.settings).map_err(ApiError::internal)?,
        sealed_credentials: seal_json(state, &p.tenant_id, &id, &credentials)?,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .insert_dns_provider(&record, audit::success_event(state).as_ref())
        .await
        .map_err(|e| match e {
            StoreError::Duplicate => ApiError::new(
                ErrorCode::Conflict,
                format!("a DNS provider named {} exists", request.name),
            ),
            other => other.into(),
        })?;
    audit::committed();
    dto(&record, credentials.keys().cloned().collect(), generated)
}

pub async fn list_dns_providers(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<DnsProviderList> {
    require_scope(p, Scope::PkiRead)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_dns_providers(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |d| &d.id);
    let mut dns_providers = Vec::with_capacity(page.items.len());
    for d in &page.items {
        dns_providers.push(dto(d, credential_fields(state, d)?, None)?);
    }
    Ok(DnsProviderList {
        dns_providers,
        cursor,
        has_more: page.has_more,
    })
}

pub(super) async fn load_dns_provider(
    state: &AppState,
    tenant_id: &str,
    id: &str,
) -> ApiResult<DnsProviderRecord> {
    state
        .store
        .get_dns_provider(tenant_id, id)
        .await?
        .ok_or_else(dns_provider_not_found)
}

pub async fn get_dns_provider(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<DnsProviderDto> {
    require_scope(p, Scope::PkiRead)?;
    let d = load_dns_provider(state, &p.tenant_id, id).await?;
    dto(&d, credential_fields(state, &d)?, None)
}

/// Deletes a DNS provider; refused (409) while an unfinished order, or a certificate's
/// scheduled renewal, uses it.
pub async fn delete_dns_provider(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    authorize_admin(state, p).await?;
    state
        .store
        .delete_dns_provider(&p.tenant_id, id, audit::success_event(state).as_ref())
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => dns_provider_not_found(),
            StoreError::Conflict(_) => ApiError::new(
                ErrorCode::Conflict,
                "the DNS provider is used by an unfinished order or a certificate's scheduled \
                 renewal: let them finish, or revoke the certificate, first",
            ),
            other => other.into(),
        })?;
    audit::committed();
    Ok(())
}
