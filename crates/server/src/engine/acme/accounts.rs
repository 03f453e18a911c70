//! ACME accounts: register (at the CA, the key generated and sealed here), list, get,
//! deactivate.

use scaivault_acme::{AcmeAccount, Eab, Provider, RegisterRequest};
use scaivault_proto::Timestamp;
use scaivault_proto::acme::{
    AcmeAccount as AccountDto, AcmeAccountList, RegisterAcmeAccountRequest,
};
use scaivault_store::AcmeAccountRecord;
use scaivault_store::acme::{ACCOUNT_DEACTIVATED, ACCOUNT_VALID};

use super::*;
use crate::audit;

fn account_dto(a: &AcmeAccountRecord) -> AccountDto {
    AccountDto {
        id: a.id.clone(),
        provider: a.provider.clone(),
        directory_url: a.directory_url.clone(),
        contacts: a.contacts.clone(),
        status: a.status.clone(),
        account_url: a.account_url.clone(),
        eab_kid: a.eab_kid.clone(),
        created_at: Timestamp::new(a.created_at),
        updated_at: Timestamp::new(a.updated_at),
    }
}

pub(super) async fn load_account(
    state: &AppState,
    tenant_id: &str,
    id: &str,
) -> ApiResult<AcmeAccountRecord> {
    state
        .store
        .get_acme_account(tenant_id, id)
        .await?
        .ok_or_else(account_not_found)
}

/// Registers an account at the CA. Nothing is stored unless the CA accepted it; the EAB HMAC
/// key is used for this request only.
pub async fn register_account(
    state: &AppState,
    p: &Principal,
    request: ApiResult<RegisterAcmeAccountRequest>,
) -> ApiResult<AccountDto> {
    authorize_admin(state, p).await?;
    let request = request?;
    let provider: Provider = request.provider.parse().map_err(acme_error)?;
    let eab = match (&request.eab_kid, &request.eab_hmac_key) {
        (Some(kid), Some(key)) => Some(Eab::from_base64url(kid, key).map_err(acme_error)?),
        (None, None) => None,
        _ => {
            return Err(ApiError::validation(
                "eab_kid and eab_hmac_key go together: give both or neither",
            ));
        }
    };
    let eab_kid = eab.as_ref().map(|e| e.kid.clone());
    let contacts: Vec<String> = request.email.iter().cloned().collect();
    let (_, stored) = AcmeAccount::register(RegisterRequest {
        provider,
        directory_url: request.directory_url.clone(),
        contacts: contacts.clone(),
        terms_of_service_agreed: request.terms_of_service_agreed,
        eab,
        ca_bundle_pem: request.ca_bundle.clone(),
    })
    .await
    .map_err(acme_error)?;
    let id = scaivault_crypto::random::random_id("acme_")?;
    audit::note_resource(&id);
    let now = state.clock.now();
    let record = AcmeAccountRecord {
        id: id.clone(),
        tenant_id: p.tenant_id.clone(),
        provider: provider.as_str().to_owned(),
        directory_url: stored.directory_url.clone(),
        contacts: contacts
            .iter()
            .map(|c| format!("mailto:{}", c.trim().trim_start_matches("mailto:")))
            .collect(),
        status: ACCOUNT_VALID.to_owned(),
        account_url: stored.account_url.clone(),
        sealed_credentials: seal_json(state, &p.tenant_id, &id, &stored)?,
        eab_kid,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .insert_acme_account(&record, audit::success_event(state).as_ref())
        .await?;
    audit::committed();
    Ok(account_dto(&record))
}

pub async fn list_accounts(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<AcmeAccountList> {
    require_scope(p, Scope::PkiRead)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_acme_accounts(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |a| &a.id);
    Ok(AcmeAccountList {
        accounts: page.items.iter().map(account_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_account(state: &AppState, p: &Principal, id: &str) -> ApiResult<AccountDto> {
    require_scope(p, Scope::PkiRead)?;
    Ok(account_dto(&load_account(state, &p.tenant_id, id).await?))
}

/// Deactivates the account at the CA (for good: RFC 8555 has no way back), then here. Its
/// orders still pending fail when the worker reaches them; issued certificates stay valid.
pub async fn deactivate_account(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<AccountDto> {
    authorize_admin(state, p).await?;
    let record = load_account(state, &p.tenant_id, id).await?;
    if record.status == ACCOUNT_DEACTIVATED {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the account is already deactivated",
        ));
    }
    live_account(state, &record)
        .await?
        .deactivate()
        .await
        .map_err(acme_error)?;
    let now = state.clock.now();
    state
        .store
        .set_acme_account_status(
            &p.tenant_id,
            id,
            ACCOUNT_DEACTIVATED,
            now,
            audit::success_event(state).as_ref(),
        )
        .await?;
    audit::committed();
    Ok(account_dto(&AcmeAccountRecord {
        status: ACCOUNT_DEACTIVATED.to_owned(),
        updated_at: now,
        ..record
    }))
}
