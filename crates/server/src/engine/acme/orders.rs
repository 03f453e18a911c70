//! ACME orders: create (checked here, run by the worker), list, get.

use scaivault_acme::{ChallengeKind, KeyType, OrderRequest};
use scaivault_core::SecretPath;
use scaivault_proto::Timestamp;
use scaivault_proto::acme::{AcmeOrder as OrderDto, AcmeOrderList, CreateAcmeOrderRequest};
use scaivault_store::AcmeOrderRecord;
use scaivault_store::acme::{
    ACCOUNT_VALID, CHALLENGE_DNS01, ORDER_FAILED, ORDER_PENDING, ORDER_PROCESSING, ORDER_SCHEDULED,
    ORDER_VALID,
};

use super::dns_providers::{WEBHOOK, load_dns_provider};
use super::*;
use crate::audit;

pub(super) fn key_type_name(k: KeyType) -> &'static str {
    match k {
        KeyType::EcdsaP256 => "ecdsa-p256",
        KeyType::Rsa2048 => "rsa-2048",
    }
}

pub(super) fn order_dto(o: &AcmeOrderRecord) -> OrderDto {
    OrderDto {
        id: o.id.clone(),
        account_id: o.account_id.clone(),
        domains: o.domains.clone(),
        challenge: o.challenge.clone(),
        dns_provider_id: o.dns_provider_id.clone(),
        key_type: o.key_type.clone(),
        status: o.status.clone(),
        order_url: o.order_url.clone(),
        certificate_id: o.certificate_id.clone(),
        secret_path: o.secret_path.clone(),
        problem: o
            .problem
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok()),
        attempts: o.attempts,
        next_attempt_at: Timestamp::new(o.next_attempt_at),
        renewal_of: o.renewal_of.clone(),
        requested_by: o.requested_by.clone(),
        created_at: Timestamp::new(o.created_at),
        updated_at: Timestamp::new(o.updated_at),
    }
}

/// Places an order: checked and recorded here (`pending`), run by the worker at once. The
/// answer comes before the CA is contacted; the order's status tells how it goes.
pub async fn create_order(
    state: &AppState,
    p: &Principal,
    request: ApiResult<CreateAcmeOrderRequest>,
) -> ApiResult<OrderDto> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let challenge: ChallengeKind = request
        .challenge
        .parse()
        .map_err(|_| ApiError::validation("challenge: http-01 or dns-01"))?;
    let key_type: KeyType = match request.key_type.as_deref() {
        None => KeyType::default(),
        Some(k) => k
            .parse()
            .map_err(|_| ApiError::validation("key_type: ecdsa-p256 or rsa-2048"))?,
    };
    let domains = OrderRequest {
        domains: request.domains.clone(),
        challenge,
        key_type,
    }
    .normalized_domains()
    .map_err(|e| ApiError::validation(e.to_string()))?;
    if !authz::is_unrestricted(p) {
        for name in &domains {
            authz::authorize(state, p, &name_path(name), Permission::Issue).await?;
        }
    }
    let secret_path = match request.path.as_deref() {
        Some(path) => {
            let path = SecretPath::parse(path)?;
            authz::authorize(state, p, path.as_str(), Permission::Write).await?;
            path
        }
        None => SecretPath::parse(&name_path(&domains[0]))?,
    };
    let account = super::accounts::load_account(state, &p.tenant_id, &request.account_id).await?;
    if account.status != ACCOUNT_VALID {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the ACME account is deactivated: register another",
        ));
    }
    let mut dns_provider_id = request.dns_provider_id.clone();
    match (&dns_provider_id, challenge) {
        // The CLI reference's `pki acme issue ... --challenge dns-01` names no provider: the
        // tenant's only one is meant.
        (None, ChallengeKind::Dns01) => {
            let page = state
                .store
                .list_dns_providers(&p.tenant_id, None, 2)
                .await?;
            match page.items.as_slice() {
                [only] => dns_provider_id = Some(only.id.clone()),
                [] => {
                    return Err(ApiError::validation(
                        "dns_provider_id: dns-01 needs a DNS provider; create one with POST /v1/pki/dns-providers",
                    ));
                }
                _ => {
                    return Err(ApiError::validation(
                        "dns_provider_id: the tenant has several DNS providers; name the one to use",
                    ));
                }
            }
        }
        (Some(id), _) => {
            let provider = load_dns_provider(state, &p.tenant_id, id).await?;
            if challenge == ChallengeKind::Http01 && provider.kind != WEBHOOK {
                return Err(ApiError::validation(
                    "dns_provider_id: an http-01 order takes only a webhook provider (which \
                     hands the token to another front end); leave it out to have ScaiVault \
                     answer the CA itself",
                ));
            }
        }
        (None, ChallengeKind::Http01) => {}
    }
    let id = scaivault_crypto::random::random_id("acmeo_")?;
    audit::note_resource(&id);
    let now = state.clock.now();
    let record = AcmeOrderRecord {
        id,
        tenant_id: p.tenant_id.clone(),
        account_id: account.id,
        domains,
        challenge: challenge.as_str().to_owned(),
        dns_provider_id,
        key_type: key_type_name(key_type).to_owned(),
        status: ORDER_PENDING.to_owned(),
        order_url: None,
        sealed_checkpoint: None,
        certificate_id: None,
        problem: None,
        attempts: 0,
        next_attempt_at: now,
        renewal_of: None,
        secret_path: secret_path.as_str().to_owned(),
        requested_by: p.identity_id.clone(),
        claimed_by: None,
        claim_expires_at: None,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .insert_acme_order(&record, audit::success_event(state).as_ref())
        .await?;
    audit::committed();
    state.acme.wake.notify_one();
    Ok(order_dto(&record))
}

pub async fn list_orders(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<AcmeOrderList> {
    require_scope(p, Scope::PkiRead)?;
    let pairs = crate::extract::query_pairs(query);
    crate::extract::reject_unknown(&pairs, &["status", "limit", "cursor"])?;
    let (mut status, mut limit, mut after) = (None, 50, None);
    for (k, v) in pairs {
        match k.as_str() {
            "status" => {
                let known = [
                    ORDER_PENDING,
                    ORDER_SCHEDULED,
                    ORDER_PROCESSING,
                    ORDER_VALID,
                    ORDER_FAILED,
                ];
                if !known.contains(&v.as_str()) {
                    return Err(ApiError::validation(
                        "status: pending, scheduled, processing, valid or failed",
                    ));
                }
                status = Some(v);
            }
            "limit" => limit = crate::extract::parse_u64("limit", &v, 1, 200)? as u32,
            _ => after = Some(crate::cursor::decode_path(&v)?),
        }
    }
    let page = state
        .store
        .list_acme_orders(&p.tenant_id, status.as_deref(), after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |o| &o.id);
    Ok(AcmeOrderList {
        orders: page.items.iter().map(order_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_order(state: &AppState, p: &Principal, id: &str) -> ApiResult<OrderDto> {
    require_scope(p, Scope::PkiRead)?;
    let order = state
        .store
        .get_acme_order(&p.tenant_id, id)
        .await?
        .ok_or_else(order_not_found)?;
    Ok(order_dto(&order))
}

/// Whether an order's challenge is dns-01 (the store keeps the wire name).
pub(super) fn is_dns01(o: &AcmeOrderRecord) -> bool {
    o.challenge == CHALLENGE_DNS01
}
