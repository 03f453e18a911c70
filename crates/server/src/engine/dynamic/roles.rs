//! Roles of an engine: what a lease's credential may do and how long it lives.

use super::*;

/// The TTLs of a role: (default, max), each given or kept; the default never above the max.
fn ttls(
    default_ttl: Option<&str>,
    max_ttl: Option<&str>,
    current: (u64, u64),
) -> ApiResult<(u64, u64)> {
    let default = match default_ttl {
        Some(v) => parse_ttl("default_ttl", v)?,
        None => current.0,
    };
    let max = match max_ttl {
        Some(v) => parse_ttl("max_ttl", v)?,
        None => current.1,
    };
    if default > max {
        return Err(ApiError::validation(format!(
            "default_ttl ({default}s) is longer than max_ttl ({max}s)"
        )));
    }
    Ok((default, max))
}

fn check_max_leases(max_leases: Option<u32>) -> ApiResult<()> {
    if max_leases == Some(0) {
        return Err(ApiError::validation("max_leases: at least 1"));
    }
    Ok(())
}

pub async fn create_role(
    state: &AppState,
    p: &Principal,
    engine_name: &str,
    request: ApiResult<CreateRoleRequest>,
) -> ApiResult<Role> {
    authorize_admin(state, p, engine_name).await?;
    let request = request?;
    check_name("name", &request.name)?;
    audit::note_resource(&format!("{engine_name}/{}", request.name));
    let engine = load_engine(state, &p.tenant_id, engine_name).await?;
    let kind = kind_of(&engine)?;
    let (default_ttl, max_ttl) = ttls(
        request.default_ttl.as_deref(),
        request.max_ttl.as_deref(),
        (DEFAULT_TTL_SECS.min(MAX_TTL_SECS), MAX_TTL_SECS),
    )
    .or_else(|e| {
        // Only a default given, longer than the default max: the max follows it.
        match (&request.default_ttl, &request.max_ttl) {
            (Some(d), None) => {
                let d = parse_ttl("default_ttl", d)?;
                Ok((d, d.max(MAX_TTL_SECS)))
            }
            _ => Err(e),
        }
    })?;
    check_max_leases(request.max_leases)?;
    let config =
        dynamic::validate_role(kind, &Value::Object(request.settings)).map_err(dynamic_error)?;
    let now = state.clock.now();
    let record = RoleRecord {
        tenant_id: p.tenant_id.clone(),
        engine: engine_name.to_owned(),
        name: request.name.clone(),
        config: to_json(&config)?,
        default_ttl_secs: default_ttl,
        max_ttl_secs: max_ttl,
        max_leases: request.max_leases,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .insert_role(&record, audit::success_event(state).as_ref())
        .await
        .map_err(|e| {
            duplicate(
                e,
                format!("a role named {} in engine {engine_name}", request.name),
            )
        })?;
    audit::committed();
    role_dto(&record)
}

pub async fn list_roles(
    state: &AppState,
    p: &Principal,
    engine: &str,
    query: Option<&str>,
) -> ApiResult<RoleList> {
    require_scope(p, Scope::DynamicRead)?;
    let (limit, after) = crate::extract::page_params(query)?;
    load_engine(state, &p.tenant_id, engine).await?;
    let page = state
        .store
        .list_roles(&p.tenant_id, engine, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |r| &r.name);
    Ok(RoleList {
        roles: page.items.iter().map(role_dto).collect::<ApiResult<_>>()?,
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_role(
    state: &AppState,
    p: &Principal,
    engine: &str,
    name: &str,
) -> ApiResult<Role> {
    require_scope(p, Scope::DynamicRead)?;
    load_engine(state, &p.tenant_id, engine).await?;
    role_dto(&load_role(state, &p.tenant_id, engine, name).await?)
}

/// Changes a role: the settings given replace those of the same name, the rest are kept.
pub async fn update_role(
    state: &AppState,
    p: &Principal,
    engine_name: &str,
    name: &str,
    request: ApiResult<UpdateRoleRequest>,
) -> ApiResult<Role> {
    authorize_admin(state, p, engine_name).await?;
    let request = request?;
    let engine = load_engine(state, &p.tenant_id, engine_name).await?;
    let kind = kind_of(&engine)?;
    let mut role = load_role(state, &p.tenant_id, engine_name, name).await?;
    let (default_ttl, max_ttl) = ttls(
        request.default_ttl.as_deref(),
        request.max_ttl.as_deref(),
        (role.default_ttl_secs, role.max_ttl_secs),
    )?;
    check_max_leases(request.max_leases)?;
    let mut settings = match json_of("role settings", &role.config)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (k, v) in request.settings {
        if v.is_null() {
            settings.remove(&k);
        } else {
            settings.insert(k, v);
        }
    }
    let config = dynamic::validate_role(kind, &Value::Object(settings)).map_err(dynamic_error)?;
    role.config = to_json(&config)?;
    role.default_ttl_secs = default_ttl;
    role.max_ttl_secs = max_ttl;
    if request.max_leases.is_some() {
        role.max_leases = request.max_leases;
    }
    role.updated_at = state.clock.now();
    let updated = state
        .store
        .update_role(&role, audit::success_event(state).as_ref())
        .await?;
    if !updated {
        return Err(role_not_found());
    }
    audit::committed();
    role_dto(&role)
}

/// Deletes a role; refused while it has live leases (their revocation needs its statements).
pub async fn delete_role(
    state: &AppState,
    p: &Principal,
    engine: &str,
    name: &str,
) -> ApiResult<()> {
    authorize_admin(state, p, engine).await?;
    load_engine(state, &p.tenant_id, engine).await?;
    load_role(state, &p.tenant_id, engine, name).await?;
    let live = state
        .store
        .count_live_leases(&p.tenant_id, Some(engine), Some(name))
        .await?;
    if live > 0 {
        return Err(ApiError::new(
            ErrorCode::EngineHasLeases,
            format!(
                "role {name} has {live} live lease(s): revoke them first (leases revoke-prefix)"
            ),
        ));
    }
    let deleted = state
        .store
        .delete_role(
            &p.tenant_id,
            engine,
            name,
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !deleted {
        return Err(role_not_found());
    }
    audit::committed();
    Ok(())
}
