//! The CSR workflow: submit, list, get, approve or reject (separation of duties), sign.

use super::*;

// ---------------------------------------------------------------------------------------------
// CSRs

pub(super) async fn load_csr(state: &AppState, tenant_id: &str, id: &str) -> ApiResult<CsrRecord> {
    state
        .store
        .get_csr(tenant_id, id)
        .await?
        .ok_or_else(csr_not_found)
}

pub(super) fn csr_names(csr: &pki::Csr) -> ApiResult<String> {
    let cn = csr.subject.common_name.trim();
    if cn.is_empty() && csr.sans.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidCsr,
            "invalid CSR: it names neither a common name nor a SAN",
        ));
    }
    Ok(cn.to_owned())
}

pub async fn submit_csr(
    state: &AppState,
    p: &Principal,
    request: ApiResult<SubmitCsrRequest>,
) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let parsed = pki::parse_csr(&request.csr).map_err(pki_error)?;
    let common_name = csr_names(&parsed)?;
    if parsed.key_type.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidCsr,
            "invalid CSR: its key is not one ScaiVault signs for (EC P-256/P-384, RSA 2048-4096, \
             Ed25519)",
        ));
    }
    if let Some(ca_id) = &request.ca_id {
        let ca = load_ca(state, &p.tenant_id, ca_id).await?;
        require_active(&ca)?;
        let slug = settings_of(&ca)?.slug;
        authorize_names(
            state,
            p,
            &slug,
            &common_name,
            &parsed.sans,
            Permission::Issue,
        )
        .await?;
        let issuer = issuer_of(state, &ca)?;
        issuer
            .check_names(&parsed.subject, &parsed.sans)
            .map_err(pki_error)?;
    }
    let now = state.clock.now();
    let record = CsrRecord {
        id: scaivault_crypto::random::random_id("csr_")?,
        tenant_id: p.tenant_id.clone(),
        csr_pem: parsed.pem.clone(),
        common_name,
        sans: parsed.sans.iter().map(ToString::to_string).collect(),
        key_type: parsed.key_type.map(|k| k.to_string()),
        status: "pending".to_owned(),
        submitted_by: p.identity_id.clone(),
        decided_by: None,
        decided_at: None,
        reason: None,
        cert_id: None,
        created_at: now,
    };
    audit::note_resource(&record.id);
    state
        .store
        .insert_csr(&record, audit::success_event(state).as_ref())
        .await?;
    audit::committed();
    Ok(csr_dto(&record))
}

pub async fn list_csrs(state: &AppState, p: &Principal, query: Option<&str>) -> ApiResult<CsrList> {
    require_scope(p, Scope::PkiRead)?;
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["status", "limit", "cursor"])?;
    let mut status = None;
    let mut limit = 50;
    let mut after = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "status" => {
                if !["pending", "approved", "rejected", "signed"].contains(&v.as_str()) {
                    return Err(ApiError::validation(
                        "status: pending, approved, rejected or signed",
                    ));
                }
                status = Some(v.clone());
            }
            "limit" => limit = parse_u64("limit", v, 1, 200)? as u32,
            _ => after = Some(crate::cursor::decode_path(v)?),
        }
    }
    let page = state
        .store
        .list_csrs(&p.tenant_id, status.as_deref(), after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |c| &c.id);
    Ok(CsrList {
        csrs: page.items.iter().map(csr_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_csr(state: &AppState, p: &Principal, id: &str) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiRead)?;
    Ok(csr_dto(&load_csr(state, &p.tenant_id, id).await?))
}

pub(super) fn not_pending(csr: &CsrRecord) -> ApiError {
    ApiError::new(
        ErrorCode::CsrNotApproved,
        format!("the CSR is {}, not pending", csr.status),
    )
}

pub(super) fn self_approval() -> ApiError {
    ApiError::new(
        ErrorCode::SeparationOfDuties,
        "separation of duties: the submitter of a CSR cannot approve it",
    )
}

/// Approves a pending CSR. When any CA of the tenant requires separation of duties, the
/// submitter cannot approve their own CSR (signing checks the signing CA's flag again).
pub async fn approve_csr(state: &AppState, p: &Principal, id: &str) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiAdmin)?;
    let csr = load_csr(state, &p.tenant_id, id).await?;
    if csr.status != "pending" {
        return Err(not_pending(&csr));
    }
    if csr.submitted_by == p.identity_id
        && all_cas(state, &p.tenant_id)
            .await?
            .iter()
            .any(|c| c.separation_of_duties)
    {
        return Err(self_approval());
    }
    decide(state, p, &csr, "approved", None).await
}

pub async fn reject_csr(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<RejectCsrRequest>,
) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    if let Some(reason) = &request.reason
        && (reason.chars().count() > 1000 || reason.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(ApiError::validation(
            "reason: at most 1000 printable characters",
        ));
    }
    let csr = load_csr(state, &p.tenant_id, id).await?;
    if csr.status != "pending" {
        return Err(not_pending(&csr));
    }
    decide(state, p, &csr, "rejected", request.reason.as_deref()).await
}

pub(super) async fn decide(
    state: &AppState,
    p: &Principal,
    csr: &CsrRecord,
    to: &str,
    reason: Option<&str>,
) -> ApiResult<Csr> {
    let now = state.clock.now();
    let moved = state
        .store
        .decide_csr(
            &p.tenant_id,
            &csr.id,
            "pending",
            to,
            &p.identity_id,
            now,
            reason,
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !moved {
        return Err(ApiError::new(
            ErrorCode::CsrNotApproved,
            "the CSR was decided meanwhile",
        ));
    }
    audit::committed();
    Ok(csr_dto(&load_csr(state, &p.tenant_id, &csr.id).await?))
}

/// Signs an approved CSR with the CA; the certificate is tracked like an issued one (without a
/// secret: the key stays with the requester).
pub async fn sign_csr(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<SignCsrRequest>,
) -> ApiResult<SignedCertificate> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    let usage = parse_usage(request.usage.as_deref())?;
    lifetime(request.validity_days, request.ttl.as_deref(), LEAF_DAYS)?;
    let csr = load_csr(state, &p.tenant_id, id).await?;
    if csr.status != "approved" {
        return Err(ApiError::new(
            ErrorCode::CsrNotApproved,
            format!("the CSR is {}; only an approved CSR is signed", csr.status),
        ));
    }
    let ca = load_ca(state, &p.tenant_id, &request.ca_id).await?;
    require_active(&ca)?;
    if ca.separation_of_duties && csr.decided_by.as_deref() == Some(csr.submitted_by.as_str()) {
        return Err(self_approval());
    }
    let parsed = pki::parse_csr(&csr.csr_pem).map_err(pki_error)?;
    let common_name = csr_names(&parsed)?;
    let slug = settings_of(&ca)?.slug;
    authorize_names(
        state,
        p,
        &slug,
        &common_name,
        &parsed.sans,
        Permission::Issue,
    )
    .await?;
    let now = state.clock.now();
    let length = leaf_lifetime(request.validity_days, request.ttl.as_deref(), now, &ca)?;
    let validity = validity_within(now, length, &ca)?;
    let issuer = std::sync::Arc::new(issuer_of(state, &ca)?);
    issuer
        .check_names(&parsed.subject, &parsed.sans)
        .map_err(pki_error)?;
    let chain = chain_of(state, &ca).await?;
    let cert_id = scaivault_crypto::random::random_id("cert_")?;
    for _ in 0..SERIAL_ATTEMPTS {
        let serial = pki::Serial::random();
        let spec = pki::LeafSpec {
            subject: parsed.subject.clone(),
            sans: parsed.sans.clone(),
            usage,
            validity,
            serial: serial.clone(),
            crl_url: Some(crl_url(state, &ca.id)),
            ocsp_url: Some(ocsp_url(state, &ca.id)),
        };
        let (signer, spki) = (issuer.clone(), parsed.public_key_der.clone());
        let der = blocking(move || pki::issue_leaf(&spec, &spki, &signer)).await?;
        let record = CertRecord {
            id: cert_id.clone(),
            tenant_id: p.tenant_id.clone(),
            ca_id: ca.id.clone(),
            serial: serial.to_hex(),
            common_name: common_name.clone(),
            sans: csr.sans.clone(),
            key_type: csr.key_type.clone(),
            usage: usage.to_string(),
            not_before: validity.not_before,
            not_after: validity.not_after,
            cert_der: der,
            secret_path: None,
            csr_id: Some(csr.id.clone()),
            revoked_at: None,
            revocation_reason: None,
            issued_by: p.identity_id.clone(),
            created_at: now,
        };
        let signed = state
            .store
            .sign_csr(
                &p.tenant_id,
                id,
                &record,
                audit::success_event(state).as_ref(),
            )
            .await;
        let signed = match signed {
            Err(StoreError::Duplicate) => continue,
            other => other?,
        };
        if !signed {
            return Err(ApiError::new(
                ErrorCode::CsrNotApproved,
                "the CSR is no longer approved (signed or decided meanwhile)",
            ));
        }
        audit::committed();
        return Ok(SignedCertificate {
            id: cert_id,
            csr_id: csr.id.clone(),
            serial: record.serial,
            certificate: pki::pem_encode("CERTIFICATE", &record.cert_der),
            chain,
            ca_id: ca.id.clone(),
            not_before: Timestamp::new(validity.not_before),
            not_after: Timestamp::new(validity.not_after),
        });
    }
    Err(ApiError::internal(
        "no free certificate serial after retries",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_name_segments_are_path_safe() {
        assert_eq!(slug("Acme Root CA"), "acme-root-ca");
        assert_eq!(slug("  int/2026 "), "int-2026");
        assert_eq!(slug(".."), "ca");
        assert_eq!(name_segment("*.Example.com"), "wildcard.example.com");
        assert_eq!(name_segment("api.svc"), "api.svc");
        assert_eq!(name_segment("Billing Service"), "billing-service");
        assert!(SecretPath::parse(&name_path("acme-root-ca", "*.example.com")).is_ok());
    }
}
