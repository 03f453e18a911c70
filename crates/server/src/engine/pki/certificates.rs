//! Certificates: issuance (stored as a `certificate` secret in the same transaction), renewal, list, get, revocation.

use super::*;

// ---------------------------------------------------------------------------------------------
// Issuance

/// What to issue, checked.
pub(super) struct Issuance {
    ca: CaRecord,
    subject: pki::Subject,
    sans: Vec<pki::San>,
    key_type: pki::KeyType,
    usage: pki::Usage,
    validity: pki::Validity,
    secret_path: SecretPath,
}

/// Generates the key, signs, and stores certificate and secret in one transaction with the
/// request's audit entry (retrying on a taken serial).
pub(super) async fn issue_checked(
    state: &AppState,
    p: &Principal,
    it: Issuance,
) -> ApiResult<IssuedCertificate> {
    let tenant = p.tenant_id.as_str();
    let issuer = std::sync::Arc::new(issuer_of(state, &it.ca)?);
    let key_type = it.key_type;
    let key = blocking(move || pki::PrivateKey::generate(key_type)).await?;
    let public_key = key.public_key_der();
    let chain = chain_of(state, &it.ca).await?;
    let now = state.clock.now();
    let sans: Vec<String> = it.sans.iter().map(ToString::to_string).collect();
    let id = scaivault_crypto::random::random_id("cert_")?;
    audit::note_resource(&id);
    let (crl_url, ocsp_url) = (crl_url(state, &it.ca.id), ocsp_url(state, &it.ca.id));
    let private_key = key.to_pkcs8_pem();
    for _ in 0..SERIAL_ATTEMPTS {
        let serial = pki::Serial::random();
        let spec = pki::LeafSpec {
            subject: it.subject.clone(),
            sans: it.sans.clone(),
            usage: it.usage,
            validity: it.validity,
            serial: serial.clone(),
            crl_url: Some(crl_url.clone()),
            ocsp_url: Some(ocsp_url.clone()),
        };
        let (signer, spki) = (issuer.clone(), public_key.clone());
        let der = blocking(move || pki::issue_leaf(&spec, &spki, &signer)).await?;
        let certificate = pki::pem_encode("CERTIFICATE", &der);
        let record = CertRecord {
            id: id.clone(),
            tenant_id: tenant.to_owned(),
            ca_id: it.ca.id.clone(),
            serial: serial.to_hex(),
            common_name: it.subject.common_name.clone(),
            sans: sans.clone(),
            key_type: Some(key_type.to_string()),
            usage: it.usage.to_string(),
            not_before: it.validity.not_before,
            not_after: it.validity.not_after,
            cert_der: der,
            secret_path: Some(it.secret_path.as_str().to_owned()),
            csr_id: None,
            revoked_at: None,
            revocation_reason: None,
            issued_by: p.identity_id.clone(),
            created_at: now,
        };
        let mut data = serde_json::Map::new();
        data.insert("certificate".into(), certificate.clone().into());
        data.insert("private_key".into(), private_key.as_str().into());
        data.insert("chain".into(), chain.clone().into());
        data.insert("serial".into(), record.serial.clone().into());
        let plaintext = crate::secrets::serialize_data(&data)?;
        // The data map holds a copy of the key: clear it as soon as it is serialized.
        if let Some(serde_json::Value::String(s)) = data.get_mut("private_key") {
            zeroize::Zeroize::zeroize(s);
        }
        let write = SecretWrite {
            path: it.secret_path.as_str().to_owned(),
            patch: SecretPatch {
                secret_type: Some("certificate".to_owned()),
                expires_at: Some(it.validity.not_after),
                ..SecretPatch::default()
            },
            expected_version: None,
            mode: WriteMode::Put,
            now,
            // The request's one entry is the certificate's (below), not the secret write's.
            audit: None,
        };
        let seal = crate::secrets::seal_value(state, tenant, it.secret_path.as_str(), plaintext);
        let outcome = state
            .store
            .insert_certificate(
                &record,
                Some((write, seal)),
                audit::success_event(state).as_ref(),
            )
            .await;
        let outcome = match outcome {
            Err(StoreError::Duplicate) => continue,
            other => other?,
        };
        audit::committed();
        let version = outcome.map(|o| o.version).unwrap_or(1);
        return Ok(IssuedCertificate {
            id,
            serial: record.serial,
            certificate,
            private_key: private_key.to_string(),
            chain,
            ca_id: it.ca.id.clone(),
            common_name: record.common_name,
            sans,
            not_before: Timestamp::new(record.not_before),
            not_after: Timestamp::new(record.not_after),
            secret_path: it.secret_path.as_str().to_owned(),
            secret_version: version,
        });
    }
    Err(ApiError::internal(
        "no free certificate serial after retries",
    ))
}

/// The secret path of an issued certificate: `requested` (which also needs `write` on it), or
/// `pki/<ca slug>/<common name>`.
pub(super) async fn secret_path(
    state: &AppState,
    p: &Principal,
    slug: &str,
    common_name: &str,
    requested: Option<&str>,
) -> ApiResult<SecretPath> {
    match requested {
        Some(path) => {
            let path = SecretPath::parse(path)?;
            authz::authorize(state, p, path.as_str(), Permission::Write).await?;
            Ok(path)
        }
        None => SecretPath::parse(&name_path(slug, common_name)).map_err(|e| {
            ApiError::validation(format!(
                "the default secret path of this common name is not a valid path ({e}): give `path`"
            ))
        }),
    }
}

pub async fn issue(
    state: &AppState,
    p: &Principal,
    request: ApiResult<IssueCertificateRequest>,
) -> ApiResult<IssuedCertificate> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let common_name = check_common_name(&request.common_name)?;
    let sans = sans_with_common_name(&common_name, parse_sans(&request.sans)?);
    let key_type = parse_key_type(request.key_type.as_deref())?;
    let usage = parse_usage(request.usage.as_deref())?;
    let ca = load_ca(state, &p.tenant_id, &request.ca_id).await?;
    require_active(&ca)?;
    let slug = settings_of(&ca)?.slug;
    authorize_names(state, p, &slug, &common_name, &sans, Permission::Issue).await?;
    let secret_path = secret_path(state, p, &slug, &common_name, request.path.as_deref()).await?;
    let now = state.clock.now();
    let length = leaf_lifetime(request.validity_days, request.ttl.as_deref(), now, &ca)?;
    let validity = validity_within(now, length, &ca)?;
    issue_checked(
        state,
        p,
        Issuance {
            ca,
            subject: pki::Subject::cn(common_name),
            sans,
            key_type,
            usage,
            validity,
            secret_path,
        },
    )
    .await
}

/// A fresh certificate with the same subject, SANs, usage, key type and secret path (a new
/// version of the secret); the lifetime is the original's unless the request says otherwise.
pub async fn renew(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<CertRenewRequest>,
) -> ApiResult<IssuedCertificate> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let old = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    if crate::engine::acme::is_acme_certificate(&old) {
        return Err(ApiError::validation(
            "a certificate from an ACME CA renews by itself (see its `renewal`); to renew it now, \
             order again with POST /v1/pki/acme/orders and the same path",
        ));
    }
    let ca = load_ca(state, &p.tenant_id, &old.ca_id).await?;
    require_active(&ca)?;
    let slug = settings_of(&ca)?.slug;
    let Some(path) = &old.secret_path else {
        return Err(ApiError::validation(
            "this certificate was signed from a CSR and its key is not held here: submit a new CSR",
        ));
    };
    let sans = old
        .sans
        .iter()
        .map(|s| pki::San::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    authorize_names(state, p, &slug, &old.common_name, &sans, Permission::Issue).await?;
    let secret_path = SecretPath::parse(path)?;
    authz::authorize(state, p, secret_path.as_str(), Permission::Write).await?;
    let original = old.not_after - old.not_before;
    let length = if request.validity_days.is_none() && request.ttl.is_none() {
        original
    } else {
        lifetime(request.validity_days, request.ttl.as_deref(), LEAF_DAYS)?
    };
    let validity = validity_within(state.clock.now(), length, &ca)?;
    let key_type = parse_key_type(old.key_type.as_deref())?;
    let usage = parse_usage(Some(old.usage.as_str()))?;
    issue_checked(
        state,
        p,
        Issuance {
            ca,
            subject: pki::Subject::cn(old.common_name.clone()),
            sans,
            key_type,
            usage,
            validity,
            secret_path,
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Certificates: list, get, revoke

pub(super) fn cert_query(query: Option<&str>, now: OffsetDateTime) -> ApiResult<CertQuery> {
    let pairs = query_pairs(query);
    reject_unknown(
        &pairs,
        &["ca_id", "status", "expiring_within", "limit", "cursor"],
    )?;
    let mut q = CertQuery {
        ca_id: None,
        status: None,
        expiring_before: None,
        now,
        after: None,
        limit: 50,
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "ca_id" => q.ca_id = Some(v.clone()),
            "status" => {
                q.status = Some(match v.as_str() {
                    "valid" => CertStatusFilter::Valid,
                    "revoked" => CertStatusFilter::Revoked,
                    "expired" => CertStatusFilter::Expired,
                    _ => return Err(ApiError::validation("status: valid, revoked or expired")),
                })
            }
            "expiring_within" => {
                let d = parse_duration(v).map_err(|e| duration_error("expiring_within", e))?;
                q.expiring_before = Some(now + d);
            }
            "limit" => q.limit = parse_u64("limit", v, 1, 200)? as u32,
            _ => q.after = Some(crate::cursor::decode_path(v)?),
        }
    }
    Ok(q)
}

pub async fn list_certificates(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<CertificateList> {
    require_scope(p, Scope::PkiRead)?;
    let now = state.clock.now();
    let q = cert_query(query, now)?;
    let page = state.store.list_certificates(&p.tenant_id, &q).await?;
    let cursor = crate::cursor::next_page_cursor(&page, |c| &c.id);
    let mut certificates = Vec::with_capacity(page.items.len());
    for c in &page.items {
        let mut dto = cert_dto(c, now);
        dto.renewal = crate::engine::acme::renewal_of(state, c).await?;
        certificates.push(dto);
    }
    Ok(CertificateList {
        certificates,
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_certificate(state: &AppState, p: &Principal, id: &str) -> ApiResult<Certificate> {
    require_scope(p, Scope::PkiRead)?;
    let cert = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    let mut dto = cert_dto(&cert, state.clock.now());
    dto.renewal = crate::engine::acme::renewal_of(state, &cert).await?;
    Ok(dto)
}

pub async fn revoke(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<RevokeRequest>,
) -> ApiResult<Certificate> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let reason = parse_reason(request.reason.as_deref())?;
    let cert = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    let acme = crate::engine::acme::is_acme_certificate(&cert);
    let ca = if acme {
        None
    } else {
        Some(load_ca(state, &p.tenant_id, &cert.ca_id).await?)
    };
    let slug = match &ca {
        Some(ca) => settings_of(ca)?.slug,
        None => crate::engine::acme::POLICY_SLUG.to_owned(),
    };
    authz::authorize(
        state,
        p,
        &name_path(&slug, &cert.common_name),
        Permission::Revoke,
    )
    .await?;
    if cert.revoked_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the certificate is already revoked",
        ));
    }
    if acme {
        // The CA publishes the revocation (its CRL and OCSP); recorded here once it accepted.
        crate::engine::acme::revoke_at_ca(state, &cert, reason.as_str()).await?;
    }
    let now = state.clock.now();
    let revoked = state
        .store
        .revoke_certificate(
            &p.tenant_id,
            id,
            now,
            reason.as_str(),
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !revoked {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the certificate is already revoked",
        ));
    }
    audit::committed();
    // The CRL follows at once; if that fails the revocation stands, OCSP already says so,
    // and the next CRL fetch regenerates it.
    if let Some(ca) = &ca
        && let Err(e) = refresh_crl(state, ca).await
    {
        tracing::warn!(ca = %ca.id, error = %e.message, "regenerating the CRL after a revocation failed");
    }
    let cert = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    Ok(cert_dto(&cert, now))
}
