//! Engines: create (the connection checked first), list, get, update, delete (forced: live
//! leases revoked first), rotate-root, and an SSH engine's CA public key.

use super::*;

/// Creates an engine after checking that its connection works: nothing is stored otherwise.
pub async fn create_engine(
    state: &AppState,
    p: &Principal,
    request: ApiResult<CreateEngineRequest>,
) -> ApiResult<Engine> {
    require_scope(p, Scope::DynamicAdmin)?;
    let request = request?;
    check_name("name", &request.name)?;
    audit::note_resource(&request.name);
    authorize_admin(state, p, &request.name).await?;
    let kind = EngineKind::parse(&request.kind)
        .ok_or_else(|| ApiError::validation("type: one of postgres, mysql, aws, ssh"))?;
    let tenant = p.tenant_id.as_str();
    if state
        .store
        .get_engine(tenant, &request.name)
        .await?
        .is_some()
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("an engine named {} exists", request.name),
        ));
    }
    let prepared = dynamic::prepare_engine(kind, &Value::Object(request.settings), None)
        .map_err(dynamic_error)?;
    let backend: Arc<dyn Backend> =
        Arc::from(dynamic::open(kind, &prepared.config, &prepared.secret).map_err(dynamic_error)?);
    backend.verify().await.map_err(dynamic_error)?;
    let now = state.clock.now();
    let record = EngineRecord {
        tenant_id: tenant.to_owned(),
        name: request.name.clone(),
        kind: kind.as_str().to_owned(),
        config: to_json(&prepared.config)?,
        sealed_secret: seal_secret(state, tenant, &request.name, &prepared.secret)?,
        created_at: now,
        updated_at: now,
        root_rotated_at: None,
    };
    state
        .store
        .insert_engine(&record, audit::success_event(state).as_ref())
        .await
        .map_err(|e| duplicate(e, format!("an engine named {}", request.name)))?;
    audit::committed();
    state.dynamic.put(&record, backend);
    engine_dto(state, &record).await
}

pub async fn list_engines(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<EngineList> {
    require_scope(p, Scope::DynamicRead)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_engines(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |e| &e.name);
    let mut engines = Vec::with_capacity(page.items.len());
    for e in &page.items {
        engines.push(engine_dto(state, e).await?);
    }
    Ok(EngineList {
        engines,
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_engine(state: &AppState, p: &Principal, name: &str) -> ApiResult<Engine> {
    require_scope(p, Scope::DynamicRead)?;
    engine_dto(state, &load_engine(state, &p.tenant_id, name).await?).await
}

/// Changes an engine's settings (a secret left out is kept); the connection is checked again
/// before anything is stored.
pub async fn update_engine(
    state: &AppState,
    p: &Principal,
    name: &str,
    request: ApiResult<UpdateEngineRequest>,
) -> ApiResult<Engine> {
    authorize_admin(state, p, name).await?;
    let request = request?;
    let mut engine = load_engine(state, &p.tenant_id, name).await?;
    let kind = kind_of(&engine)?;
    let existing = json_of("engine settings", &engine.config)?;
    let secret = open_secret(state, &engine)?;
    let prepared = dynamic::prepare_engine(
        kind,
        &Value::Object(request.settings),
        Some((&existing, secret.as_str())),
    )
    .map_err(dynamic_error)?;
    let backend: Arc<dyn Backend> =
        Arc::from(dynamic::open(kind, &prepared.config, &prepared.secret).map_err(dynamic_error)?);
    backend.verify().await.map_err(dynamic_error)?;
    engine.config = to_json(&prepared.config)?;
    engine.sealed_secret = seal_secret(state, &p.tenant_id, name, &prepared.secret)?;
    engine.updated_at = state.clock.now();
    let updated = state
        .store
        .update_engine(&engine, audit::success_event(state).as_ref())
        .await?;
    if !updated {
        return Err(engine_not_found());
    }
    audit::committed();
    state.dynamic.put(&engine, backend);
    engine_dto(state, &engine).await
}

/// Deletes an engine and its roles. Refused while leases are live unless `force=true`, which
/// revokes them first; when any cannot be revoked the engine is kept (502).
pub async fn delete_engine(
    state: &AppState,
    p: &Principal,
    name: &str,
    query: Option<&str>,
) -> ApiResult<()> {
    authorize_admin(state, p, name).await?;
    let pairs = crate::extract::query_pairs(query);
    crate::extract::reject_unknown(&pairs, &["force"])?;
    let mut force = false;
    for (_, v) in &pairs {
        force = crate::extract::parse_bool("force", v)?;
    }
    let tenant = p.tenant_id.as_str();
    load_engine(state, tenant, name).await?;
    let live = state
        .store
        .count_live_leases(tenant, Some(name), None)
        .await?;
    if live > 0 {
        if !force {
            return Err(ApiError::new(
                ErrorCode::EngineHasLeases,
                format!(
                    "engine {name} has {live} live lease(s): revoke them first, or delete with force=true"
                ),
            ));
        }
        let result = revoke_selected(
            state,
            p,
            &scaivault_store::LeaseSelector::Engine(name.to_owned()),
        )
        .await?;
        if result.pending > 0 {
            return Err(ApiError::new(
                ErrorCode::EngineUnreachable,
                format!(
                    "{} lease(s) of engine {name} could not be revoked (the target refused or is down); \
                     the engine is kept and revocation is retried",
                    result.pending
                ),
            ));
        }
    }
    let deleted = state
        .store
        .delete_engine(tenant, name, audit::success_event(state).as_ref())
        .await?;
    if !deleted {
        return Err(engine_not_found());
    }
    audit::committed();
    state.dynamic.forget(tenant, name);
    Ok(())
}

/// Replaces the engine's own credential at the target with one only ScaiVault knows.
pub async fn rotate_root(state: &AppState, p: &Principal, name: &str) -> ApiResult<Engine> {
    authorize_admin(state, p, name).await?;
    let mut engine = load_engine(state, &p.tenant_id, name).await?;
    let backend = backend_for(state, &engine).await?;
    let secret = backend.rotate_root().await.map_err(dynamic_error)?;
    // AWS has a new access key id, SSH a new CA public key: stored with the new secret.
    if let Some(config) = backend.current_config() {
        engine.config = to_json(&config)?;
    }
    let now = state.clock.now();
    engine.sealed_secret = seal_secret(state, &p.tenant_id, name, &secret)?;
    engine.updated_at = now;
    engine.root_rotated_at = Some(now);
    // The target already has the new credential: store it even if this request is cancelled.
    let updated = state
        .store
        .update_engine(&engine, audit::success_event(state).as_ref())
        .await?;
    if !updated {
        return Err(engine_not_found());
    }
    audit::committed();
    state.dynamic.forget(&p.tenant_id, name);
    engine_dto(state, &engine).await
}

/// An SSH engine's CA public key (OpenSSH format), for hosts' `TrustedUserCAKeys`.
pub async fn ssh_ca_key(state: &AppState, p: &Principal, name: &str) -> ApiResult<String> {
    require_scope(p, Scope::DynamicRead)?;
    let engine = load_engine(state, &p.tenant_id, name).await?;
    if kind_of(&engine)? != EngineKind::Ssh {
        return Err(ApiError::validation(format!(
            "engine {name} is of type {}: only ssh engines have a CA key",
            engine.kind
        )));
    }
    let config = json_of("engine settings", &engine.config)?;
    let key = config
        .get("public_key")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::internal(format!("engine {name} has no CA public key")))?;
    Ok(format!("{}\n", key.trim_end()))
}
