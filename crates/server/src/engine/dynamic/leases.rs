//! Leases: credentials created for one lease (recorded first), listed, renewed (never past the
//! role's max TTL from issue) and revoked, one by one or by engine or role.

use super::*;

/// Whether a new lease of this kind and role can be renewed: database users (their validity is
/// extended) and IAM users; STS sessions and SSH certificates end when they end.
fn renewable(kind: EngineKind, role: &Value) -> bool {
    match kind {
        EngineKind::Postgres | EngineKind::Mysql => true,
        EngineKind::Aws => role
            .get("credential_type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "iam_user"),
        EngineKind::Ssh => false,
    }
}

/// A new lease on a credential of `role`. The lease is recorded (`pending`) before the
/// credential is created, then activated with the request's audit entry (`lease.created`); a
/// failed creation is cleaned up at once (or by the sweeper if the target is down).
pub async fn create_creds(
    state: &AppState,
    p: &Principal,
    engine_name: &str,
    role_name: &str,
    request: ApiResult<CredsRequest>,
) -> ApiResult<LeaseCreated> {
    require_scope(p, Scope::DynamicCreds)?;
    let request = request?;
    let tenant = p.tenant_id.as_str();
    let engine = load_engine(state, tenant, engine_name).await?;
    let role = load_role(state, tenant, engine_name, role_name).await?;
    authz::authorize(
        state,
        p,
        &role_path(engine_name, role_name),
        Permission::Lease,
    )
    .await?;
    let kind = kind_of(&engine)?;
    // As Vault does: a TTL above the role's max is cut to the max, not refused.
    let ttl = match &request.ttl {
        Some(v) => parse_ttl("ttl", v)?,
        None => role.default_ttl_secs,
    }
    .min(role.max_ttl_secs);
    let role_config = json_of("role settings", &role.config)?;
    let backend = backend_for(state, &engine).await?;
    let now = state.clock.now();
    let expires_at = now + time::Duration::seconds(ttl as i64);
    let id = scaivault_crypto::random::random_id("lease_")?;
    let handle = dynamic::initial_handle(kind, tenant, role_name, &id);
    audit::note_resource(&id);
    let lease = LeaseRecord {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
        engine: engine_name.to_owned(),
        role: role_name.to_owned(),
        identity: p.identity_id.clone(),
        status: scaivault_store::dynamic::LEASE_PENDING.to_owned(),
        renewable: renewable(kind, &role_config),
        handle: to_json(&handle)?,
        issued_at: now,
        expires_at,
        max_expires_at: now + time::Duration::seconds(role.max_ttl_secs as i64),
        due_at: Some(now + CREATION_GRACE),
        attempts: 0,
        last_error: None,
        revoked_at: None,
        updated_at: now,
    };
    let caps = scaivault_store::LeaseCaps {
        role: role.max_leases,
        tenant: Some(state.limits.dynamic_max_leases_per_tenant),
    };
    state.store.insert_lease(&lease, caps, None).await?;
    let create = dynamic::CreateRequest {
        role: &role_config,
        handle: &handle,
        expires_at,
        now,
        public_key: request.public_key.as_deref(),
    };
    let credential = match backend.create(&create).await {
        Ok(c) => c,
        Err(e) => {
            // Whatever the creation left is torn down now; if the target is down, the sweeper
            // retries (the lease is revoking or revocation_failed, never lost).
            let cleanup = state
                .store
                .request_revocation(
                    tenant,
                    &scaivault_store::LeaseSelector::One(id.clone()),
                    now,
                    None,
                )
                .await;
            if cleanup.is_ok() {
                match backend.revoke(&role_config, &handle).await {
                    Ok(()) => {
                        let _ = state
                            .store
                            .complete_revocation(&id, state.clock.now(), None)
                            .await;
                    }
                    Err(cleanup_error) => {
                        let _ = state
                            .store
                            .fail_revocation(
                                &id,
                                &cleanup_error.to_string(),
                                now + retry_delay(0),
                                now,
                                None,
                            )
                            .await;
                    }
                }
            }
            return Err(dynamic_error(e));
        }
    };
    let handle_text = to_json(&credential.handle)?;
    let activated = state
        .store
        .activate_lease(
            tenant,
            &id,
            &handle_text,
            state.clock.now(),
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !activated {
        // A revocation (prefix, engine deletion) won the race: the sweeper tears the lease down
        // with its recorded handle; the credential just created goes with it.
        let _ = backend.revoke(&role_config, &credential.handle).await;
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the lease was revoked while its credential was being created",
        ));
    }
    audit::committed();
    state.events.committed();
    Ok(LeaseCreated {
        lease_id: id,
        lease_duration: ttl,
        renewable: lease.renewable && credential.renewable,
        expires_at: Timestamp::new(expires_at),
        data: credential.data,
    })
}

/// The filters of a lease listing.
fn lease_query(query: Option<&str>) -> ApiResult<scaivault_store::LeaseQuery> {
    let pairs = crate::extract::query_pairs(query);
    crate::extract::reject_unknown(
        &pairs,
        &["engine", "role", "identity", "status", "cursor", "limit"],
    )?;
    let mut q = scaivault_store::LeaseQuery {
        limit: 50,
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "engine" => q.engine = Some(v),
            "role" => q.role = Some(v),
            "identity" => q.identity = Some(v),
            "status" => match v.as_str() {
                "live" => q.live_only = true,
                "all" => q.live_only = false,
                _ => return Err(ApiError::validation("status: live or all")),
            },
            "limit" => q.limit = crate::extract::parse_u64("limit", &v, 1, 200)? as u32,
            _ => q.after = Some(crate::cursor::decode_path(&v)?),
        }
    }
    if q.role.is_some() && q.engine.is_none() {
        return Err(ApiError::validation("role: needs engine"));
    }
    Ok(q)
}

pub async fn list_leases(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<LeaseList> {
    require_scope(p, Scope::DynamicRead)?;
    let q = lease_query(query)?;
    let page = state.store.list_leases(&p.tenant_id, &q).await?;
    let cursor = crate::cursor::next_page_cursor(&page, |l| &l.id);
    Ok(LeaseList {
        leases: page.items.iter().map(lease_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_lease(state: &AppState, p: &Principal, id: &str) -> ApiResult<Lease> {
    require_scope(p, Scope::DynamicRead)?;
    Ok(lease_dto(&load_lease(state, &p.tenant_id, id).await?))
}

/// Extends an active, renewable lease by `ttl` from now (default the role's default TTL), cut
/// at its `max_expires_at`.
pub async fn renew_lease(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<LeaseRenewRequest>,
) -> ApiResult<Lease> {
    require_scope(p, Scope::DynamicCreds)?;
    let lease = load_lease(state, &p.tenant_id, id).await?;
    authorize_lease(state, p, &lease).await?;
    let request = request?;
    let now = state.clock.now();
    if lease.status != scaivault_store::dynamic::LEASE_ACTIVE || lease.expires_at <= now {
        return Err(ApiError::new(
            ErrorCode::LeaseNotRenewable,
            format!("lease {id} is {} and cannot be renewed", lease.status),
        ));
    }
    if !lease.renewable {
        return Err(ApiError::new(
            ErrorCode::LeaseNotRenewable,
            format!("lease {id} is not renewable (its credential ends at its expiry)"),
        ));
    }
    let engine = load_engine(state, &p.tenant_id, &lease.engine).await?;
    let role = load_role(state, &p.tenant_id, &lease.engine, &lease.role).await?;
    let ttl = match &request.ttl {
        Some(v) => parse_ttl("ttl", v)?,
        None => role.default_ttl_secs,
    };
    let expires_at = (now + time::Duration::seconds(ttl as i64)).min(lease.max_expires_at);
    let backend = backend_for(state, &engine).await?;
    let role_config = json_of("role settings", &role.config)?;
    let handle = json_of("lease handle", &lease.handle)?;
    backend
        .renew(&role_config, &handle, expires_at)
        .await
        .map_err(dynamic_error)?;
    let renewed = state
        .store
        .renew_lease(
            &p.tenant_id,
            id,
            expires_at,
            now,
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !renewed {
        return Err(ApiError::new(
            ErrorCode::LeaseNotRenewable,
            format!("lease {id} was revoked meanwhile"),
        ));
    }
    audit::committed();
    Ok(lease_dto(&load_lease(state, &p.tenant_id, id).await?))
}

/// The answer of a single revocation: whether it completed now.
pub struct RevokeOutcome {
    pub lease: Lease,
    /// False: the target refused or was down; the sweeper retries (202).
    pub completed: bool,
}

/// Revokes one lease now. A target that is down leaves it `revocation_failed`, retried by the
/// sweeper with back-off.
pub async fn revoke_lease(state: &AppState, p: &Principal, id: &str) -> ApiResult<RevokeOutcome> {
    require_scope(p, Scope::DynamicCreds)?;
    let lease = load_lease(state, &p.tenant_id, id).await?;
    authorize_lease(state, p, &lease).await?;
    if lease.status == scaivault_store::dynamic::LEASE_REVOKED {
        return Ok(RevokeOutcome {
            lease: lease_dto(&lease),
            completed: true,
        });
    }
    let now = state.clock.now();
    state
        .store
        .request_revocation(
            &p.tenant_id,
            &scaivault_store::LeaseSelector::One(id.to_owned()),
            now,
            None,
        )
        .await?;
    let lease = load_lease(state, &p.tenant_id, id).await?;
    let attempt = attempt_revocation(state, Revoker::Caller(p), &lease, None).await?;
    // The entry of each step was committed with it.
    audit::committed();
    Ok(RevokeOutcome {
        lease: lease_dto(&load_lease(state, &p.tenant_id, id).await?),
        completed: attempt == Attempt::Revoked,
    })
}

/// Revokes every live lease an engine (or one of its roles) has.
pub async fn revoke_prefix(
    state: &AppState,
    p: &Principal,
    request: ApiResult<RevokePrefixRequest>,
) -> ApiResult<RevokePrefixResult> {
    require_scope(p, Scope::DynamicAdmin)?;
    let request = request?;
    check_name("engine", &request.engine)?;
    let selector = match &request.role {
        Some(role) => {
            audit::note_resource(&format!("{}/{role}", request.engine));
            scaivault_store::LeaseSelector::Role {
                engine: request.engine.clone(),
                role: role.clone(),
            }
        }
        None => {
            audit::note_resource(&request.engine);
            scaivault_store::LeaseSelector::Engine(request.engine.clone())
        }
    };
    authorize_admin(state, p, &request.engine).await?;
    load_engine(state, &p.tenant_id, &request.engine).await?;
    if let Some(role) = &request.role {
        load_role(state, &p.tenant_id, &request.engine, role).await?;
    }
    revoke_selected(state, p, &selector).await
}

/// Marks the selected leases for revocation and attempts each now; what fails stays with the
/// sweeper.
pub(super) async fn revoke_selected(
    state: &AppState,
    p: &Principal,
    selector: &scaivault_store::LeaseSelector,
) -> ApiResult<RevokePrefixResult> {
    let ids = state
        .store
        .request_revocation(&p.tenant_id, selector, state.clock.now(), None)
        .await?;
    let mut result = RevokePrefixResult {
        revoked: 0,
        pending: 0,
    };
    // Every lease here is of one engine: once its target is down, the rest wait for the
    // sweeper's retries instead of each waiting out a connection timeout.
    let mut down: Option<String> = None;
    for id in ids {
        let Some(lease) = state.store.get_lease(&p.tenant_id, &id).await? else {
            continue;
        };
        match attempt_revocation(state, Revoker::Caller(p), &lease, down.as_deref()).await? {
            Attempt::Revoked => result.revoked += 1,
            Attempt::Failed { error, target_down } => {
                result.pending += 1;
                if target_down {
                    down = Some(error);
                }
            }
        }
    }
    Ok(result)
}
