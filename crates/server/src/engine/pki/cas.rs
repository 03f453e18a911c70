//! Certificate authorities: create (root or intermediate), import, list, get, their certificate and chain, disable.

use super::*;

// ---------------------------------------------------------------------------------------------
// Certificate authorities

/// Every CA of the tenant (for slug uniqueness and the separation-of-duties rule).
pub(super) async fn all_cas(state: &AppState, tenant_id: &str) -> ApiResult<Vec<CaRecord>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state
            .store
            .list_cas(tenant_id, after.as_deref(), 200)
            .await?;
        let last = page.items.last().map(|c| c.id.clone());
        out.extend(page.items);
        match (page.has_more, last) {
            (true, Some(last)) => after = Some(last),
            _ => return Ok(out),
        }
    }
}

/// Checks the name and its slug are free in the tenant; returns (name, slug).
pub(super) async fn new_ca_name(
    state: &AppState,
    tenant_id: &str,
    name: &str,
) -> ApiResult<(String, String)> {
    let name = crate::extract::check_name("name", name)?.to_owned();
    let slug = slug(&name);
    if slug == crate::engine::acme::POLICY_SLUG {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "the policy name pki/{slug} is reserved for certificates from ACME CAs: choose another name"
            ),
        ));
    }
    let taken = all_cas(state, tenant_id)
        .await?
        .into_iter()
        .any(|c| c.name == name || settings_of(&c).is_ok_and(|s| s.slug == slug));
    if taken {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("a CA named {name} (or with the policy name pki/{slug}) exists"),
        ));
    }
    Ok((name, slug))
}

pub(super) fn check_domains(field: &str, domains: &[String]) -> ApiResult<Vec<String>> {
    let mut out = Vec::with_capacity(domains.len());
    for d in domains {
        let d = d.trim().trim_start_matches('.').to_lowercase();
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return Err(ApiError::validation(format!(
                "{field}: {d:?} is not a DNS domain"
            )));
        }
        out.push(d);
    }
    Ok(out)
}

pub(super) fn insert_failed(e: StoreError, name: &str) -> ApiError {
    match e {
        StoreError::Duplicate => {
            ApiError::new(ErrorCode::Conflict, format!("a CA named {name} exists"))
        }
        e => e.into(),
    }
}

pub async fn create_ca(
    state: &AppState,
    p: &Principal,
    request: ApiResult<CreateCaRequest>,
) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    let tenant = p.tenant_id.as_str();
    let (name, slug) = new_ca_name(state, tenant, &request.name).await?;
    authz::authorize(state, p, &format!("pki/{slug}"), Permission::Write).await?;
    let common_name = check_common_name(&request.common_name)?;
    let subject = pki::Subject {
        common_name: common_name.clone(),
        organization: request.organization.clone(),
        organizational_unit: request.organizational_unit.clone(),
        country: request.country.clone(),
        state: request.state.clone(),
        locality: request.locality.clone(),
    };
    for (field, value) in [
        ("organization", &subject.organization),
        ("organizational_unit", &subject.organizational_unit),
        ("country", &subject.country),
        ("state", &subject.state),
        ("locality", &subject.locality),
    ] {
        if let Some(v) = value {
            check_text(field, v)?;
        }
    }
    let key_type = parse_key_type(request.key_type.as_deref())?;
    let permitted = check_domains("permitted_dns_domains", &request.permitted_dns_domains)?;
    let excluded = check_domains("excluded_dns_domains", &request.excluded_dns_domains)?;
    let now = state.clock.now();
    let parent = match &request.parent_ca_id {
        Some(id) => {
            let parent = load_ca(state, tenant, id).await?;
            require_active(&parent)?;
            let parent_slug = settings_of(&parent)?.slug;
            authz::authorize(state, p, &format!("pki/{parent_slug}"), Permission::Issue).await?;
            Some(parent)
        }
        None => None,
    };
    let default_days = if parent.is_some() {
        INTERMEDIATE_DAYS
    } else {
        ROOT_DAYS
    };
    let length = lifetime(request.validity_days, None, default_days)?;
    let validity = match &parent {
        Some(parent) => validity_within(now, length, parent)?,
        None => pki::Validity {
            not_before: now,
            not_after: now + length,
        },
    };
    let id = scaivault_crypto::random::random_id("ca_")?;
    let spec = pki::CaSpec {
        subject,
        validity,
        serial: pki::Serial::random(),
        path_len: request.path_len,
        permitted_dns_domains: permitted.clone(),
        excluded_dns_domains: excluded.clone(),
        crl_url: parent.as_ref().map(|p| crl_url(state, &p.id)),
        ocsp_url: parent.as_ref().map(|p| ocsp_url(state, &p.id)),
    };
    let parent_issuer = match &parent {
        Some(parent) => Some(issuer_of(state, parent)?),
        None => None,
    };
    let (key, cert_der) = blocking(move || {
        let key = pki::PrivateKey::generate(key_type)?;
        let der = match &parent_issuer {
            Some(issuer) => pki::create_intermediate_ca(&spec, &key, issuer)?,
            None => pki::create_root_ca(&spec, &key)?,
        };
        Ok((key, der))
    })
    .await?;
    let info = pki::inspect(&cert_der).map_err(ApiError::internal)?;
    let settings = CaSettings {
        slug,
        path_len: info.path_len,
        permitted_dns_domains: permitted,
        excluded_dns_domains: excluded,
    };
    let record = CaRecord {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
        name: name.clone(),
        parent_ca_id: parent.as_ref().map(|p| p.id.clone()),
        common_name,
        key_type: key_type.to_string(),
        sealed_key: seal_ca_key(state, tenant, &id, &key)?,
        serial: info.serial.to_hex(),
        not_before: info.not_before,
        not_after: info.not_after,
        status: "active".to_owned(),
        separation_of_duties: request.require_separate_approver,
        settings: serde_json::to_string(&settings).map_err(ApiError::internal)?,
        imported: false,
        cert_der,
        created_at: now,
        updated_at: now,
    };
    audit::note_resource(&id);
    state
        .store
        .insert_ca(&record, audit::success_event(state).as_ref())
        .await
        .map_err(|e| insert_failed(e, &name))?;
    audit::committed();
    ca_dto(state, &record)
}

pub async fn import_ca(
    state: &AppState,
    p: &Principal,
    request: ApiResult<ImportCaRequest>,
) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    let tenant = p.tenant_id.as_str();
    let (name, slug) = new_ca_name(state, tenant, &request.name).await?;
    authz::authorize(state, p, &format!("pki/{slug}"), Permission::Write).await?;
    let (cert_der, key, info) =
        pki::import_ca(&request.certificate, &request.private_key).map_err(pki_error)?;
    let id = scaivault_crypto::random::random_id("ca_")?;
    let now = state.clock.now();
    // The imported certificate's own constraints are kept in it; ScaiVault checks names
    // against the certificate when it issues (issue_leaf).
    let issuer = pki::Issuer::new(cert_der.clone(), key).map_err(pki_error)?;
    let settings = CaSettings {
        slug,
        path_len: info.path_len,
        permitted_dns_domains: issuer.permitted_dns_domains().to_vec(),
        excluded_dns_domains: issuer.excluded_dns_domains().to_vec(),
    };
    let record = CaRecord {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
        name: name.clone(),
        parent_ca_id: None,
        common_name: info.subject.common_name.clone(),
        key_type: info
            .key_type
            .map(|k| k.to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
        sealed_key: seal_ca_key(state, tenant, &id, issuer.key())?,
        serial: info.serial.to_hex(),
        not_before: info.not_before,
        not_after: info.not_after,
        status: "active".to_owned(),
        separation_of_duties: request.require_separate_approver,
        settings: serde_json::to_string(&settings).map_err(ApiError::internal)?,
        imported: true,
        cert_der,
        created_at: now,
        updated_at: now,
    };
    audit::note_resource(&id);
    state
        .store
        .insert_ca(&record, audit::success_event(state).as_ref())
        .await
        .map_err(|e| insert_failed(e, &name))?;
    audit::committed();
    ca_dto(state, &record)
}

pub async fn list_cas(state: &AppState, p: &Principal, query: Option<&str>) -> ApiResult<CaList> {
    require_scope(p, Scope::PkiRead)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_cas(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |c| &c.id);
    Ok(CaList {
        cas: page
            .items
            .iter()
            .map(|c| ca_dto(state, c))
            .collect::<ApiResult<_>>()?,
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_ca(state: &AppState, p: &Principal, id: &str) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiRead)?;
    ca_dto(state, &load_ca(state, &p.tenant_id, id).await?)
}

/// A CA certificate as served: its content type and body.
pub struct CaCertificate {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The CA certificate: `format` `pem` (default) or `der`; `chain=true` adds the parents (PEM).
pub async fn ca_certificate(
    state: &AppState,
    p: &Principal,
    id: &str,
    query: Option<&str>,
) -> ApiResult<CaCertificate> {
    require_scope(p, Scope::PkiRead)?;
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["format", "chain"])?;
    let mut der = false;
    let mut chain = false;
    for (k, v) in &pairs {
        match (k.as_str(), v.as_str()) {
            ("format", "pem") => der = false,
            ("format", "der") => der = true,
            ("format", _) => return Err(ApiError::validation("format: pem or der")),
            (_, v) => chain = crate::extract::parse_bool("chain", v)?,
        }
    }
    if der && chain {
        return Err(ApiError::validation(
            "chain=true is served as PEM only (DER holds one certificate)",
        ));
    }
    let ca = load_ca(state, &p.tenant_id, id).await?;
    if der {
        return Ok(CaCertificate {
            content_type: "application/pkix-cert",
            body: ca.cert_der,
        });
    }
    let pems = if chain {
        chain_of(state, &ca).await?
    } else {
        vec![pki::pem_encode("CERTIFICATE", &ca.cert_der)]
    };
    Ok(CaCertificate {
        content_type: "application/x-pem-file",
        body: pems.concat().into_bytes(),
    })
}

pub async fn disable_ca(state: &AppState, p: &Principal, id: &str) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiAdmin)?;
    let ca = load_ca(state, &p.tenant_id, id).await?;
    let slug = settings_of(&ca)?.slug;
    authz::authorize(state, p, &format!("pki/{slug}"), Permission::Write).await?;
    let now = state.clock.now();
    let disabled = state
        .store
        .disable_ca(&p.tenant_id, id, now, audit::success_event(state).as_ref())
        .await?;
    if !disabled {
        return Err(ca_not_found());
    }
    audit::committed();
    ca_dto(state, &load_ca(state, &p.tenant_id, id).await?)
}
