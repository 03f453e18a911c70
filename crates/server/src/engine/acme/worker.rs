//! The order worker: every node runs one. It claims due orders in the store (one node per
//! order; a claim that expires, because its node died, is taken over with the CA's order URL
//! and the sealed checkpoint intact, so nothing is ordered twice) and drives each through the
//! RFC 8555 flow: a new order at the CA (checkpoint sealed and stored before any challenge is
//! answered), challenges (withdrawn afterwards, also on failure), finalization, download. The
//! certificate is stored like an internal CA's (a `certificate` secret at the order's path, in
//! the same transaction as its record and audit entry), and its renewal is scheduled as an
//! order due at two thirds of its lifetime (or earlier when the CA's ARI window says so).
//!
//! Failures: the CA's problem document is kept on the order and sent in `acme.order_failed`.
//! Transient ones (network, DNS, propagation, the CA's 429 and 5xx) are retried with backoff;
//! a first order gives up after [`MAX_ATTEMPTS`], a renewal keeps trying (a new CA order each
//! time the CA failed the last one) until the certificate has expired.

use std::sync::Arc;
use std::time::Duration;

use scaivault_acme::dns::BuiltProvider;
use scaivault_acme::renewal::{RenewalDecision, renewal_decision};
use scaivault_acme::{
    AcmeError, AcmeOrder, IssuedCertificate, KeyType, OrderCheckpoint, OrderRequest,
    ProblemDocument, Solver,
};
use scaivault_store::acme::{
    ACCOUNT_VALID, ORDER_FAILED, ORDER_PROCESSING, ORDER_SCHEDULED, ORDER_VALID,
};
use scaivault_store::{
    AcmeOrderRecord, CertRecord, NewEvent, OrderUpdate, SecretPatch, SecretWrite, StoreError,
    WriteMode,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::dns_providers::{WEBHOOK, WebhookCredentials, WebhookSettings};
use super::orders::is_dns01;
use super::responders::{StoreHttp01, Webhook};
use super::*;
use crate::audit::{StepActor, step_event};

/// How long a node holds an order while working on it: longer than the longest step (the
/// propagation wait is at most 10 minutes, each CA wait 2 minutes).
const CLAIM: time::Duration = time::Duration::minutes(20);
/// Orders one node works on at once.
const CONCURRENCY: usize = 4;
/// A first order is given up after this many failed attempts.
pub const MAX_ATTEMPTS: u32 = 5;
/// When a new certificate's renewal is first looked at, at the latest (ARI).
const FIRST_RENEWAL_CHECK: time::Duration = time::Duration::days(1);
/// The longest pause between attempts.
const MAX_BACKOFF: time::Duration = time::Duration::hours(6);

/// Runs rounds: at once, whenever an order is placed or the test clock moves, and every
/// `every` (orders of other nodes' API requests, retries coming due).
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            run_round(&state).await;
            tokio::select! {
                _ = state.acme.wake.notified() => {}
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}

/// Claims and works due orders until none is left (up to four at a time); returns
/// how many it took.
pub async fn run_round(state: &AppState) -> u64 {
    let mut tasks = tokio::task::JoinSet::new();
    let mut taken = 0;
    loop {
        while tasks.len() < CONCURRENCY {
            let now = state.clock.now();
            match state
                .store
                .claim_due_order(&state.node_id, now, now + CLAIM)
                .await
            {
                Ok(Some(order)) => {
                    taken += 1;
                    let state = state.clone();
                    tasks.spawn(async move { work(&state, order).await });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim ACME orders; trying again later");
                    break;
                }
            }
        }
        if tasks.join_next().await.is_none() {
            return taken;
        }
    }
}

/// How one attempt ended.
enum Outcome {
    /// The certificate is stored.
    Issued { certificate_id: String },
    /// A scheduled renewal whose time has not come (ARI, or the clock moved back).
    NotYet(OffsetDateTime),
    /// Nothing to renew any more (the certificate was revoked or is gone).
    Dropped(String),
}

/// A failed attempt: the problem, and whether trying again may help.
struct Failure {
    problem: ProblemDocument,
    transient: bool,
    /// The CA's order is dead (invalid): a retry needs a new one.
    order_dead: bool,
}

impl From<AcmeError> for Failure {
    fn from(e: AcmeError) -> Self {
        let (transient, order_dead) = match &e {
            AcmeError::OrderFailed { .. } => (true, true),
            AcmeError::Ca(p) => (p.status.is_none_or(|s| s == 429 || s >= 500), false),
            AcmeError::Timeout(_)
            | AcmeError::Protocol(_)
            | AcmeError::Dns(_)
            | AcmeError::Propagation { .. }
            | AcmeError::Responder(_) => (true, false),
            _ => (false, false),
        };
        let problem = match e.problem() {
            Some(p) => p.clone(),
            None => own_problem(kind_of(&e), &e.to_string()),
        };
        Failure {
            problem,
            transient,
            order_dead,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        // Store or keyring trouble on our side: worth another try.
        Failure {
            problem: own_problem("internal", &e.message),
            transient: true,
            order_dead: false,
        }
    }
}

fn kind_of(e: &AcmeError) -> &'static str {
    match e {
        AcmeError::Dns(_) => "dns",
        AcmeError::Propagation { .. } => "propagation",
        AcmeError::Responder(_) => "http01",
        AcmeError::Timeout(_) => "timeout",
        AcmeError::Protocol(_) => "protocol",
        AcmeError::Crypto(_) => "crypto",
        _ => "invalid",
    }
}

fn fatal(kind: &str, detail: &str) -> Failure {
    Failure {
        problem: own_problem(kind, detail),
        transient: false,
        order_dead: false,
    }
}

/// One claimed order, from wherever it stands to its next resting point.
async fn work(state: &AppState, order: AcmeOrderRecord) {
    let result = attempt(state, &order).await;
    if let Err(e) = settle(state, &order, result).await {
        // The claim lapses and the order is taken up again.
        tracing::warn!(order = %order.id, error = %e.message, "recording an ACME order's progress failed");
    }
}

async fn attempt(state: &AppState, order: &AcmeOrderRecord) -> Result<Outcome, Failure> {
    let tenant = order.tenant_id.as_str();
    let Some(account) = state
        .store
        .get_acme_account(tenant, &order.account_id)
        .await?
    else {
        return Err(fatal("account", "the ACME account no longer exists"));
    };
    if account.status != ACCOUNT_VALID {
        return Err(fatal("account", "the ACME account is deactivated"));
    }
    let live = live_account(state, &account).await.map_err(Failure::from)?;
    // A renewal starts by checking it is still wanted and due.
    let mut replaced_pem = None;
    if let Some(cert_id) = &order.renewal_of
        && order.order_url.is_none()
    {
        let Some(cert) = state.store.get_certificate(tenant, cert_id).await? else {
            return Ok(Outcome::Dropped("the certificate no longer exists".into()));
        };
        if cert.revoked_at.is_some() {
            return Ok(Outcome::Dropped(
                "the certificate was revoked: not renewed".into(),
            ));
        }
        let pem = scaivault_pki::pem_encode("CERTIFICATE", &cert.cert_der);
        if let Some(next) = renewal_not_due(state, &live, &cert, &pem).await {
            return Ok(Outcome::NotYet(next));
        }
        replaced_pem = Some(pem);
    }
    let acme_order = match &order.sealed_checkpoint {
        Some(blob) => {
            let checkpoint: OrderCheckpoint = open_json(state, tenant, &order.id, blob)?;
            live.resume_order(&checkpoint).await?
        }
        None => {
            let request = OrderRequest {
                domains: order.domains.clone(),
                challenge: order
                    .challenge
                    .parse()
                    .map_err(|_| fatal("invalid", "unknown challenge type"))?,
                key_type: order
                    .key_type
                    .parse::<KeyType>()
                    .map_err(|_| fatal("invalid", "unknown key type"))?,
            };
            let created = match &replaced_pem {
                Some(pem) => live.renewal_order(&request, pem).await?,
                None => live.new_order(&request).await?,
            };
            persist_checkpoint(state, order, &created).await?;
            created
        }
    };
    let solver = solver(state, order).await?;
    let issued = acme_order.complete(&solver, &state.acme.poll).await?;
    let (certificate_id, validity) = store_certificate(state, order, &issued).await?;
    schedule_renewal(state, order, &certificate_id, validity).await?;
    Ok(Outcome::Issued { certificate_id })
}

/// The CA's order exists: its URL and the sealed checkpoint (with the certificate key) are
/// stored before any challenge is answered, so a crash from here on resumes this order.
async fn persist_checkpoint(
    state: &AppState,
    order: &AcmeOrderRecord,
    created: &AcmeOrder,
) -> Result<(), Failure> {
    let now = state.clock.now();
    let sealed = seal_json(state, &order.tenant_id, &order.id, created.checkpoint())?;
    state
        .store
        .update_order(
            &order.tenant_id,
            &order.id,
            &state.node_id,
            &OrderUpdate {
                status: ORDER_PROCESSING.to_owned(),
                order_url: Some(created.url().to_owned()),
                sealed_checkpoint: Some(sealed),
                certificate_id: None,
                problem: order.problem.clone(),
                attempts: order.attempts,
                next_attempt_at: order.next_attempt_at,
                claim_until: Some(now + CLAIM),
                updated_at: now,
            },
            None,
        )
        .await?;
    Ok(())
}

/// When a scheduled renewal is not due yet: the next time to look (the two-thirds point,
/// the point picked in the CA's ARI window, or the CA's Retry-After for asking again).
async fn renewal_not_due(
    state: &AppState,
    live: &scaivault_acme::AcmeAccount,
    cert: &CertRecord,
    pem: &str,
) -> Option<OffsetDateTime> {
    let now = state.clock.now();
    let ari = match live.renewal_info(pem).await {
        Ok(window) => window,
        Err(e) => {
            tracing::info!(certificate = %cert.id, error = %e, "ARI unavailable; renewing by lifetime");
            None
        }
    };
    // A stable point in the ARI window per certificate (RFC 9773 asks for a random one).
    let jitter = f64::from(cert.serial.bytes().fold(0u8, |a, b| a.wrapping_add(b))) / 255.0;
    match renewal_decision(
        cert.not_before,
        cert.not_after,
        now,
        ari.as_ref().map(|w| (w.start, w.end)),
        jitter,
    ) {
        RenewalDecision::Renew(_) => None,
        RenewalDecision::NotYet { next_check } => {
            let ask_again = ari
                .as_ref()
                .and_then(|w| time::Duration::try_from(w.retry_after).ok())
                .map(|d| now + d.max(time::Duration::minutes(1)));
            Some(ask_again.map_or(next_check, |a| a.min(next_check)))
        }
    }
}

/// The order's challenge solver: ScaiVault's own http-01 answers, or the order's provider.
async fn solver(state: &AppState, order: &AcmeOrderRecord) -> Result<Solver, Failure> {
    let provider = match &order.dns_provider_id {
        Some(id) => Some(
            state
                .store
                .get_dns_provider(&order.tenant_id, id)
                .await?
                .ok_or_else(|| fatal("dns", "the order's DNS provider no longer exists"))?,
        ),
        None => None,
    };
    let Some(provider) = provider else {
        if is_dns01(order) {
            return Err(fatal("dns", "a dns-01 order without a DNS provider"));
        }
        return Ok(Solver::Http01(Arc::new(StoreHttp01 {
            state: state.clone(),
            tenant_id: order.tenant_id.clone(),
            order_id: order.id.clone(),
        })));
    };
    let settings: Value = serde_json::from_str(&provider.settings)
        .map_err(|_| fatal("dns", "the DNS provider's settings are unreadable"))?;
    let credentials: Zeroizing<Vec<u8>> = open(
        state,
        &provider.tenant_id,
        &provider.id,
        &provider.sealed_credentials,
    )?;
    let credentials: Value = serde_json::from_slice(&credentials)
        .map_err(|_| fatal("dns", "the DNS provider's credentials are unreadable"))?;
    if provider.kind == WEBHOOK {
        let s: WebhookSettings = serde_json::from_value(settings.clone())
            .map_err(|_| fatal("dns", "the webhook provider's settings are unreadable"))?;
        let c: WebhookCredentials = serde_json::from_value(credentials)
            .map_err(|_| fatal("dns", "the webhook provider's credentials are unreadable"))?;
        let hook = Arc::new(Webhook {
            state: state.clone(),
            url: s.url,
            secret: Zeroizing::new(c.secret.unwrap_or_default()),
        });
        if !is_dns01(order) {
            return Ok(Solver::Http01(hook));
        }
        let propagation = scaivault_acme::dns::registry::propagation(&settings)
            .map_err(|e| fatal("dns", &e.to_string()))?;
        return Ok(Solver::Dns01 {
            provider: hook,
            propagation,
        });
    }
    let BuiltProvider {
        provider,
        propagation,
    } = scaivault_acme::dns::registry::build(&provider.kind, &settings, &credentials).await?;
    Ok(Solver::Dns01 {
        provider,
        propagation,
    })
}

/// Stores the certificate and its key: the certificate record (`ca_id` the account) and a
/// new version of the `certificate` secret at the order's path, in one transaction with the
/// audit entry (`certificate.issued` follows from it). Its id derives from the order's, so a
/// retry after a crash finds it stored instead of storing it twice.
async fn store_certificate(
    state: &AppState,
    order: &AcmeOrderRecord,
    issued: &IssuedCertificate,
) -> Result<(String, (OffsetDateTime, OffsetDateTime)), Failure> {
    let tenant = order.tenant_id.as_str();
    let ders = scaivault_pki::pem_decode_cert(&issued.certificate_chain_pem)
        .map_err(|e| fatal("certificate", &format!("the CA's chain: {e}")))?;
    let Some(leaf) = ders.first() else {
        return Err(fatal("certificate", "the CA sent no certificate"));
    };
    let info = scaivault_pki::inspect(leaf)
        .map_err(|e| fatal("certificate", &format!("the CA's certificate: {e}")))?;
    let id = format!("cert_{}", order.id.trim_start_matches("acmeo_"));
    let now = state.clock.now();
    let record = CertRecord {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
        ca_id: order.account_id.clone(),
        serial: info.serial.to_hex(),
        common_name: order.domains.first().cloned().unwrap_or_default(),
        sans: order.domains.iter().map(|d| format!("DNS:{d}")).collect(),
        key_type: Some(order.key_type.clone()),
        usage: "server".to_owned(),
        not_before: info.not_before,
        not_after: info.not_after,
        cert_der: leaf.clone(),
        secret_path: Some(order.secret_path.clone()),
        csr_id: None,
        revoked_at: None,
        revocation_reason: None,
        issued_by: order.requested_by.clone(),
        created_at: now,
    };
    let chain: Vec<Value> = ders[1..]
        .iter()
        .map(|d| Value::String(scaivault_pki::pem_encode("CERTIFICATE", d)))
        .collect();
    let mut data = Map::new();
    data.insert(
        "certificate".into(),
        scaivault_pki::pem_encode("CERTIFICATE", leaf).into(),
    );
    data.insert("private_key".into(), issued.private_key_pem.as_str().into());
    data.insert("chain".into(), Value::Array(chain));
    data.insert("serial".into(), record.serial.clone().into());
    let plaintext = crate::secrets::serialize_data(&data)?;
    if let Some(Value::String(s)) = data.get_mut("private_key") {
        zeroize::Zeroize::zeroize(s);
    }
    let write = SecretWrite {
        path: order.secret_path.clone(),
        patch: SecretPatch {
            secret_type: Some("certificate".to_owned()),
            expires_at: Some(info.not_after),
            ..SecretPatch::default()
        },
        expected_version: None,
        mode: WriteMode::Put,
        now,
        audit: None,
    };
    let seal = crate::secrets::seal_value(state, tenant, &order.secret_path, plaintext);
    // The certificate and its secret version: `store` (no event yet; `certificate.issued`
    // follows from the order's completion, so a subscriber that hears of it finds the order
    // `valid`).
    let audit = step_event(
        state,
        StepActor::Acme,
        tenant,
        "store",
        "certificate",
        &id,
        None,
        "success",
        None,
    )?;
    match state
        .store
        .insert_certificate(&record, Some((write, seal)), Some(&audit))
        .await
    {
        Ok(_) | Err(StoreError::Duplicate) => {}
        Err(e) => return Err(ApiError::from(e).into()),
    }
    Ok((id, (info.not_before, info.not_after)))
}

/// Schedules the certificate's renewal as an order that is looked at within a day (ARI) and
/// runs when two thirds of the lifetime have passed or the CA's ARI window says so.
/// Idempotent.
async fn schedule_renewal(
    state: &AppState,
    order: &AcmeOrderRecord,
    certificate_id: &str,
    (not_before, not_after): (OffsetDateTime, OffsetDateTime),
) -> Result<(), Failure> {
    let now = state.clock.now();
    // The first look comes within a day (the CA's ARI window may ask for an early renewal,
    // e.g. before a mass revocation); without ARI it reschedules to the two-thirds point.
    let due = match renewal_decision(not_before, not_after, now, None, 0.0) {
        RenewalDecision::Renew(_) => now,
        RenewalDecision::NotYet { next_check } => next_check.min(now + FIRST_RENEWAL_CHECK),
    };
    // Never at once: a CA (or a clock) that hands out certificates already due would
    // otherwise have us order again and again, into its rate limits.
    let lifetime = not_after - not_before;
    let third: time::Duration = lifetime / 3;
    let due = due.max(now + third.min(FIRST_RENEWAL_CHECK));
    let renewal = AcmeOrderRecord {
        id: format!("acmeo_r{}", certificate_id.trim_start_matches("cert_")),
        status: ORDER_SCHEDULED.to_owned(),
        order_url: None,
        sealed_checkpoint: None,
        certificate_id: None,
        problem: None,
        attempts: 0,
        next_attempt_at: due,
        renewal_of: Some(certificate_id.to_owned()),
        claimed_by: None,
        claim_expires_at: None,
        created_at: now,
        updated_at: now,
        ..order.clone()
    };
    match state.store.insert_acme_order(&renewal, None).await {
        Ok(()) | Err(StoreError::Duplicate) => Ok(()),
        // The account or DNS provider went meanwhile: nothing to renew with.
        Err(StoreError::NotFound(_)) => Ok(()),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// The pause before attempt `attempts + 1`: a minute doubling, at most [`MAX_BACKOFF`].
fn backoff(attempts: u32) -> time::Duration {
    let minutes = 1i64 << attempts.saturating_sub(1).min(16);
    time::Duration::minutes(minutes).min(MAX_BACKOFF)
}

/// Writes the attempt's outcome (releasing the claim), with the audit entry of a failure and
/// its `acme.order_failed` event.
async fn settle(
    state: &AppState,
    order: &AcmeOrderRecord,
    result: Result<Outcome, Failure>,
) -> ApiResult<()> {
    let now = state.clock.now();
    // The attempt may have created the CA's order meanwhile (URL and checkpoint): re-read.
    let current = state
        .store
        .get_acme_order(&order.tenant_id, &order.id)
        .await?
        .unwrap_or_else(|| order.clone());
    let base = OrderUpdate {
        status: current.status.clone(),
        order_url: current.order_url.clone(),
        sealed_checkpoint: current.sealed_checkpoint.clone(),
        certificate_id: None,
        problem: order.problem.clone(),
        attempts: order.attempts,
        next_attempt_at: order.next_attempt_at,
        claim_until: None,
        updated_at: now,
    };
    let (update, failure) = match result {
        Ok(Outcome::Issued { certificate_id }) => (
            OrderUpdate {
                status: ORDER_VALID.to_owned(),
                certificate_id: Some(certificate_id),
                problem: None,
                attempts: order.attempts + 1,
                ..base
            },
            None,
        ),
        Ok(Outcome::NotYet(at)) => (
            OrderUpdate {
                status: ORDER_SCHEDULED.to_owned(),
                next_attempt_at: at,
                ..base
            },
            None,
        ),
        Ok(Outcome::Dropped(why)) => (
            OrderUpdate {
                status: ORDER_FAILED.to_owned(),
                problem: Some(problem_json(&own_problem("dropped", &why))),
                ..base
            },
            None,
        ),
        Err(f) => {
            let attempts = order.attempts + 1;
            let renewal_cert = match &order.renewal_of {
                Some(id) => state.store.get_certificate(&order.tenant_id, id).await?,
                None => None,
            };
            let next = now + backoff(attempts);
            // A renewal keeps trying while its certificate lasts; a first order a few times.
            let retry = f.transient
                && match &renewal_cert {
                    Some(cert) => next < cert.not_after && cert.revoked_at.is_none(),
                    None => order.renewal_of.is_none() && !f.order_dead && attempts < MAX_ATTEMPTS,
                };
            let status = if !retry {
                ORDER_FAILED
            } else if f.order_dead || current.order_url.is_none() {
                // The next attempt starts over with a new CA order.
                if order.renewal_of.is_some() {
                    ORDER_SCHEDULED
                } else {
                    scaivault_store::acme::ORDER_PENDING
                }
            } else {
                ORDER_PROCESSING
            };
            let fresh = retry && f.order_dead;
            (
                OrderUpdate {
                    status: status.to_owned(),
                    order_url: if fresh { None } else { base.order_url.clone() },
                    sealed_checkpoint: if fresh {
                        None
                    } else {
                        base.sealed_checkpoint.clone()
                    },
                    problem: Some(problem_json(&f.problem)),
                    attempts,
                    next_attempt_at: if retry { next } else { now },
                    ..base
                },
                Some((f.problem, retry)),
            )
        }
    };
    let audit = match (&failure, &update.certificate_id) {
        // The order's completion: `certificate.issued` derives from this entry.
        (None, Some(certificate_id)) => Some(step_event(
            state,
            StepActor::Acme,
            &order.tenant_id,
            if order.renewal_of.is_some() {
                "acme_renew"
            } else {
                "acme_issue"
            },
            "certificate",
            certificate_id,
            None,
            "success",
            None,
        )?),
        (Some(_), _) => Some(step_event(
            state,
            StepActor::Acme,
            &order.tenant_id,
            "fail",
            "acme_order",
            &order.id,
            None,
            "failure",
            Some(scaivault_proto::ErrorCode::AcmeCaError.as_str()),
        )?),
        (None, None) => None,
    };
    let updated = state
        .store
        .update_order(
            &order.tenant_id,
            &order.id,
            &state.node_id,
            &update,
            audit.as_ref(),
        )
        .await?;
    if audit.is_some() {
        state.events.committed();
    }
    if let Some((problem, will_retry)) = failure {
        tracing::warn!(order = %order.id, will_retry, problem = %problem, "ACME order attempt failed");
        emit_failure(state, &updated, &problem, will_retry).await;
    }
    Ok(())
}

fn problem_json(p: &ProblemDocument) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "{}".to_owned())
}

/// `acme.order_failed`, after the failure is recorded: the CA's problem document, whether the
/// order is retried and when. Its id is the order's and the attempt's, so it is sent once.
async fn emit_failure(
    state: &AppState,
    order: &AcmeOrderRecord,
    problem: &ProblemDocument,
    will_retry: bool,
) {
    let event = NewEvent {
        id: format!(
            "evt_acme_{}_{}",
            order.id.trim_start_matches("acmeo_"),
            order.attempts
        ),
        tenant_id: order.tenant_id.clone(),
        event_type: "acme.order_failed".to_owned(),
        path: None,
        occurred_at: order.updated_at,
        data: json!({
            "order_id": order.id,
            "domains": order.domains,
            "renewal_of": order.renewal_of,
            "attempts": order.attempts,
            "will_retry": will_retry,
            "next_attempt_at": will_retry.then(|| scaivault_proto::Timestamp::new(order.next_attempt_at)),
            "problem": problem,
        })
        .to_string(),
    };
    match state.store.insert_events(&[event]).await {
        Ok(n) if n > 0 => state.events.committed(),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(order = %order.id, error = %e, "recording acme.order_failed failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), time::Duration::minutes(1));
        assert_eq!(backoff(2), time::Duration::minutes(2));
        assert_eq!(backoff(4), time::Duration::minutes(8));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn failures_sort_into_transient_and_final() {
        let rate_limited = Failure::from(AcmeError::Ca(ProblemDocument {
            kind: Some("urn:ietf:params:acme:error:rateLimited".into()),
            detail: None,
            status: Some(429),
            subproblems: Vec::new(),
        }));
        assert!(rate_limited.transient && !rate_limited.order_dead);
        let refused = Failure::from(AcmeError::Ca(ProblemDocument {
            kind: Some("urn:ietf:params:acme:error:rejectedIdentifier".into()),
            detail: None,
            status: Some(400),
            subproblems: Vec::new(),
        }));
        assert!(!refused.transient);
        let dead = Failure::from(AcmeError::OrderFailed {
            order_url: "https://ca/order/1".into(),
            problem: own_problem("x", "y"),
        });
        assert!(dead.order_dead);
        let dns = Failure::from(AcmeError::Dns("refused".into()));
        assert!(dns.transient);
        assert_eq!(dns.problem.kind.as_deref(), Some("urn:scaivault:acme:dns"));
    }
}
