//! `/v1/audit`: query, trail, summary and verification of the audit trail.
//!
//! Who may read it: tokens with the `audit:read` scope of tenant admins, over their own tenant
//! (partner admins over their partner's tenants once identities land). The reach is computed
//! here and passed to the store, which never returns entries of a tenant outside it.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_core::{Principal, Role, Scope};
use scaivault_proto::audit::*;
use scaivault_proto::{ErrorBody, Timestamp};
use scaivault_store::{AuditQuery, ChainBreak};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::op;
use crate::auth::{Authenticated, require_admin, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_u64, query_pairs, reject_unknown, truncate};
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;
const SUMMARY_TOP: u32 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit", get(query.layer(op("query", "audit"))))
        .route(
            "/v1/audit/summary",
            get(summary.layer(op("summary", "audit"))),
        )
        .route(
            "/v1/audit/verify",
            post(verify.layer(op("verify", "audit"))),
        )
        .route(
            "/v1/audit/trail/{*path}",
            get(trail.layer(op("trail", "audit"))),
        )
}

/// The chains whose entries the caller may see. A tenant's admins and auditors: their tenant.
/// A partner admin (not acting through `/v1/t/`): every tenant of the partner and the partner's
/// own chain (partner-scoped secrets). The operators' tenant also sees the chain of requests
/// that reached no tenant (`""`: unauthenticated ones).
async fn reach(state: &AppState, p: &Principal) -> ApiResult<Vec<String>> {
    require_scope(p, Scope::AuditRead)?;
    if !p.has_role(Role::Auditor) {
        require_admin(p, "reading the audit trail")?;
    }
    let at_home = p.tenant_id == p.home_tenant_id;
    let mut chains = vec![p.tenant_id.clone()];
    if p.is_partner_admin && at_home {
        let mut after: Option<String> = None;
        loop {
            let page = state
                .store
                .list_tenants(&p.partner_id, after.as_deref(), 200)
                .await?;
            after = page.items.last().map(|t| t.id.clone());
            chains.extend(page.items.into_iter().map(|t| t.id));
            if !page.has_more {
                break;
            }
        }
        chains.push(p.partner_id.clone());
        chains.sort();
        chains.dedup();
    }
    if at_home && p.home_tenant_id == state.limits.operator_tenant_id {
        chains.push(String::new());
    }
    Ok(chains)
}

/// `2026-04-22` (midnight UTC) or an RFC 3339 timestamp.
fn parse_time(name: &str, value: &str) -> ApiResult<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(t);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, date_format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            ApiError::validation(format!(
                "{name}: expected a date (2026-04-22) or an RFC 3339 timestamp, got '{}'",
                truncate(value)
            ))
        })
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn entry_dto(e: scaivault_store::AuditEntry) -> AuditEntry {
    let ev = e.event;
    AuditEntry {
        id: ev.id,
        sequence: e.seq,
        timestamp: Timestamp::new(ev.occurred_at),
        request_id: ev.request_id,
        identity_id: ev.actor_id,
        identity_type: ev.actor_type,
        actor_tenant_id: ev.actor_tenant_id,
        tenant_id: ev.target_tenant_id,
        partner_id: ev.partner_id,
        credential_id: ev.credential_id,
        action: ev.action,
        resource_type: ev.resource_type,
        path: ev.resource_path,
        version: ev.version,
        outcome: ev.outcome,
        error_code: ev.error_code,
        client_ip: ev.client_ip,
        user_agent: ev.user_agent,
        chain_sequence: e.chain_seq,
        hash: hex(&e.hash),
        prev_hash: hex(&e.prev_hash),
    }
}

/// Applies the filters common to query, trail and summary; returns the query and the limit.
async fn parse_filters(
    state: &AppState,
    p: &Principal,
    uri: &Uri,
    known: &[&str],
) -> ApiResult<(AuditQuery, Option<u64>)> {
    // The scope (in `reach`) before anything of the request is looked at.
    let tenants = reach(state, p).await?;
    let pairs = query_pairs(uri.query());
    reject_unknown(&pairs, known)?;
    let mut q = AuditQuery {
        tenants,
        limit: DEFAULT_LIMIT as u32,
        ..AuditQuery::default()
    };
    let mut cursor = None;
    for (k, v) in pairs {
        match k.as_str() {
            "action" => q.action = Some(v),
            "identity" => q.actor_id = Some(v),
            "resource_type" => q.resource_type = Some(v),
            "path_prefix" => q.path_prefix = Some(v),
            "outcome" => {
                if !["success", "denied", "error"].contains(&v.as_str()) {
                    return Err(ApiError::validation(
                        "outcome: expected success, denied or error",
                    ));
                }
                q.outcome = Some(v);
            }
            "start" => q.start = Some(parse_time("start", &v)?),
            "end" => q.end = Some(parse_time("end", &v)?),
            "tenant_id" => {
                if v.is_empty() || !q.tenants.contains(&v) {
                    return Err(ApiError::access_denied(
                        "tenant_id: outside the tenants whose audit trail you may read",
                    ));
                }
                q.tenants = vec![v];
            }
            "limit" => q.limit = parse_u64("limit", &v, 1, MAX_LIMIT)? as u32,
            "cursor" => cursor = Some(crate::cursor::decode_seq(&v)?),
            _ => {}
        }
    }
    if let (Some(start), Some(end)) = (q.start, q.end)
        && start >= end
    {
        return Err(ApiError::validation("start must be before end"));
    }
    Ok((q, cursor))
}

/// Entries past the retention window are in the archive, not the database: a range reaching
/// before it is answered from the database and says so, and where the rest is (reading the
/// archive is an operator's job: docs/audit.md).
fn archived_notice(state: &AppState, q: &AuditQuery) -> Option<AuditArchivedRange> {
    let before = crate::retention::cutoff(state)?;
    if q.start.is_some_and(|start| start >= before) {
        return None;
    }
    // Only chains that have an archive (a stat each: no archive, no notice).
    let locations: Vec<String> = q
        .tenants
        .iter()
        .map(|chain| state.storage.archive.chain_dir(chain))
        .filter(|dir| dir.is_dir())
        .map(|dir| dir.display().to_string())
        .collect();
    if locations.is_empty() {
        return None;
    }
    Some(AuditArchivedRange {
        before: Timestamp::new(before),
        locations,
        note: "entries that occurred before `before` were moved to the server's audit archive \
               (zstd JSON lines, one directory per tenant): this answer holds only the entries \
               still in the database"
            .to_owned(),
    })
}

async fn list(
    state: &AppState,
    mut q: AuditQuery,
    cursor: Option<u64>,
) -> ApiResult<AuditListResponse> {
    let archived = archived_notice(state, &q);
    q.before_seq = cursor;
    let page = state.store.query_audit(&q).await?;
    let cursor = match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(crate::cursor::encode_seq(last.seq)),
        _ => None,
    };
    Ok(AuditListResponse {
        entries: page.items.into_iter().map(entry_dto).collect(),
        cursor,
        has_more: page.has_more,
        archived,
    })
}

/// Audit entries, newest first, filtered.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(("action" = Option<String>, Query, description = "e.g. read, write, delete, rotate"),
           ("identity" = Option<String>, Query, description = "acting identity, e.g. user:alice@acme.example"),
           ("resource_type" = Option<String>, Query, description = "secret, token, audit, ..."),
           ("path_prefix" = Option<String>, Query, description = "resource paths starting with this"),
           ("outcome" = Option<String>, Query, description = "success, denied or error"),
           ("start" = Option<String>, Query, description = "inclusive; date or RFC 3339"),
           ("end" = Option<String>, Query, description = "exclusive; date or RFC 3339"),
           ("tenant_id" = Option<String>, Query, description = "one target tenant within your reach"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1-500, default 50"),
           ("cursor" = Option<String>, Query, description = "from a previous page")),
    responses((status = 200, body = AuditListResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn query(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<AuditListResponse>> {
    let (q, cursor) = parse_filters(
        &state,
        &p,
        &uri,
        &[
            "action",
            "identity",
            "resource_type",
            "path_prefix",
            "outcome",
            "start",
            "end",
            "tenant_id",
            "limit",
            "cursor",
        ],
    )
    .await?;
    Ok(Json(list(&state, q, cursor).await?))
}

/// The full history of one secret path, newest first.
#[utoipa::path(get, path = "/v1/audit/trail/{path}", tag = "audit",
    params(("path" = String, Path, description = "secret path"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1-500, default 50"),
           ("cursor" = Option<String>, Query, description = "from a previous page")),
    responses((status = 200, body = AuditListResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn trail(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(path): Path<String>,
    uri: Uri,
) -> ApiResult<Json<AuditListResponse>> {
    let (mut q, cursor) =
        parse_filters(&state, &p, &uri, &["limit", "cursor", "tenant_id"]).await?;
    q.path = Some(path);
    q.resource_type = Some("secret".to_owned());
    Ok(Json(list(&state, q, cursor).await?))
}

/// Counts by action, outcome and identity, and the most used paths, over a window
/// (default: the last 24 hours).
#[utoipa::path(get, path = "/v1/audit/summary", tag = "audit",
    params(("start" = Option<String>, Query, description = "inclusive; date or RFC 3339; default 24 hours ago"),
           ("end" = Option<String>, Query, description = "exclusive; date or RFC 3339"),
           ("tenant_id" = Option<String>, Query, description = "one target tenant within your reach")),
    responses((status = 200, body = AuditSummaryResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn summary(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<AuditSummaryResponse>> {
    let (mut q, _) = parse_filters(&state, &p, &uri, &["start", "end", "tenant_id"]).await?;
    if q.start.is_none() && q.end.is_none() {
        q.start = Some(state.clock.now() - time::Duration::days(1));
    }
    let s = state.store.audit_summary(&q, SUMMARY_TOP).await?;
    let counts = |v: Vec<(String, u64)>| {
        v.into_iter()
            .map(|(key, count)| AuditCount { key, count })
            .collect()
    };
    Ok(Json(AuditSummaryResponse {
        start: q.start.map(Timestamp::new),
        end: q.end.map(Timestamp::new),
        total: s.total,
        by_action: counts(s.by_action),
        by_outcome: counts(s.by_outcome),
        by_identity: counts(s.by_actor),
        top_paths: counts(s.top_paths),
    }))
}

/// Walks the hash chain of every tenant in reach and reports the first broken link of each.
#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerifyResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn verify(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<AuditVerifyResponse>> {
    let tenants = reach(&state, &p).await?;
    let mut chains = Vec::new();
    for tenant in tenants {
        // Archive segments first (entries past the retention), then the database.
        let report = scaivault_store::archive::verify_chain(
            state.store.as_ref(),
            Some(&state.storage.archive),
            &tenant,
            state.audit_mac.clone(),
        )
        .await?;
        let segments = {
            let archive = state.storage.archive.clone();
            let chain = tenant.clone();
            tokio::task::spawn_blocking(move || archive.segments(&chain))
                .await
                .map_err(|e| ApiError::internal(format!("archive listing failed: {e}")))??
                .len() as u64
        };
        let broken_at = report.broken.as_ref().map(|b| match b {
            ChainBreak::Altered { chain_seq, .. }
            | ChainBreak::Unlinked { chain_seq, .. }
            | ChainBreak::CheckpointMismatch { chain_seq }
            | ChainBreak::ForgedMarker { chain_seq, .. } => *chain_seq,
            ChainBreak::Truncated { last_seq, .. } => last_seq + 1,
            ChainBreak::ArchiveGap {
                archived_through, ..
            } => archived_through + 1,
            ChainBreak::Segment { .. } => report.last_chain_seq + 1,
        });
        chains.push(AuditChainReport {
            tenant_id: tenant,
            entries_checked: report.entries_checked,
            last_chain_sequence: report.last_chain_seq,
            intact: report.broken.is_none(),
            first_break: report.broken.map(|b| b.to_string()),
            broken_at_chain_sequence: broken_at,
            archive_segment: report.segment,
            archive_segments: segments,
        });
    }
    if chains.iter().any(|c| !c.intact) {
        tracing::error!("audit verification found a broken chain");
    }
    Ok(Json(AuditVerifyResponse {
        intact: chains.iter().all(|c| c.intact),
        chains,
    }))
}
