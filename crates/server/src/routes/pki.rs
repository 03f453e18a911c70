//! `/v1/pki`: the internal CA (docs/pki.md). Each handler extracts the request and calls one
//! function of `engine::pki`, which holds the rules. The CRL and OCSP endpoints are public by
//! nature (relying parties fetch them without credentials): rate limited per client address,
//! not audited (they change nothing and answer only what a CRL or OCSP response states).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::pki::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::pki::{self, OcspInput, PublicBody};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/pki/cas",
            get(list_cas.layer(op("list", "ca"))).post(create_ca.layer(op("create", "ca"))),
        )
        .route(
            "/v1/pki/cas/import",
            post(import_ca.layer(op("import", "ca"))),
        )
        .route("/v1/pki/cas/{id}", get(get_ca.layer(op("read", "ca"))))
        .route(
            "/v1/pki/cas/{id}/cert",
            get(ca_certificate.layer(op("read_certificate", "ca"))),
        )
        .route(
            "/v1/pki/cas/{id}/disable",
            post(disable_ca.layer(op("disable", "ca"))),
        )
        .route(
            "/v1/pki/certs",
            get(list_certificates.layer(op("list", "certificate")))
                .post(issue.layer(op("issue", "certificate"))),
        )
        .route(
            "/v1/pki/certs/{id}",
            get(get_certificate.layer(op("read", "certificate"))),
        )
        .route(
            "/v1/pki/certs/{id}/revoke",
            post(revoke.layer(op("revoke", "certificate"))),
        )
        .route(
            "/v1/pki/certs/{id}/renew",
            post(renew.layer(op("renew", "certificate"))),
        )
        .route(
            "/v1/pki/csrs",
            get(list_csrs.layer(op("list", "csr"))).post(submit_csr.layer(op("submit", "csr"))),
        )
        .route("/v1/pki/csrs/{id}", get(get_csr.layer(op("read", "csr"))))
        .route(
            "/v1/pki/csrs/{id}/approve",
            post(approve_csr.layer(op("approve", "csr"))),
        )
        .route(
            "/v1/pki/csrs/{id}/reject",
            post(reject_csr.layer(op("reject", "csr"))),
        )
        .route(
            "/v1/pki/csrs/{id}/sign",
            post(sign_csr.layer(op("sign", "csr"))),
        )
        .route("/v1/pki/crl/{ca_id}", get(crl))
        .route("/v1/pki/ocsp/{ca_id}", post(ocsp_post))
        .route("/v1/pki/ocsp/{ca_id}/{*request}", get(ocsp_get))
}

fn json_body<T>(body: Result<JsonBody<T>, ApiError>) -> ApiResult<T> {
    body.map(|JsonBody(r)| r)
}

fn optional_body<T>(body: Result<OptionalJsonBody<T>, ApiError>) -> ApiResult<T> {
    body.map(|OptionalJsonBody(r)| r)
}

/// A DER or PEM body with its content type.
fn binary(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The per-address limit of unauthenticated requests, for the public endpoints.
fn rate_limit<B>(state: &AppState, request: &Request<B>) -> ApiResult<()> {
    if let Some(ip) = crate::extract::client_ip(state, request.extensions(), request.headers()) {
        state
            .rate_limits
            .check_unauthenticated(ip)
            .map_err(ApiError::rate_limited)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CAs

/// Creates a root CA, or with `parent_ca_id` an intermediate; the key is generated and sealed
/// in the server and never returned.
#[utoipa::path(post, path = "/v1/pki/cas", tag = "pki", request_body = CreateCaRequest,
    responses((status = 201, body = Ca), (status = 404, body = ErrorBody, description = "ca_not_found (parent)"),
              (status = 409, body = ErrorBody, description = "conflict: the name is taken"),
              (status = 422, body = ErrorBody, description = "validity_exceeds_ca, name_not_permitted")),
    security(("bearer" = ["pki:admin"])))]
pub async fn create_ca(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateCaRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Ca>)> {
    let ca = pki::create_ca(&state, &p, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(ca)))
}

/// Imports an existing CA (certificate and matching key, PEM).
#[utoipa::path(post, path = "/v1/pki/cas/import", tag = "pki", request_body = ImportCaRequest,
    responses((status = 201, body = Ca), (status = 409, body = ErrorBody)),
    security(("bearer" = ["pki:admin"])))]
pub async fn import_ca(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<ImportCaRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Ca>)> {
    let ca = pki::import_ca(&state, &p, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(ca)))
}

#[utoipa::path(get, path = "/v1/pki/cas", tag = "pki",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = CaList)),
    security(("bearer" = ["pki:read"])))]
pub async fn list_cas(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<CaList>> {
    Ok(Json(pki::list_cas(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/pki/cas/{id}", tag = "pki",
    params(("id" = String, Path, description = "ca_...")),
    responses((status = 200, body = Ca), (status = 404, body = ErrorBody, description = "ca_not_found")),
    security(("bearer" = ["pki:read"])))]
pub async fn get_ca(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Ca>> {
    Ok(Json(pki::get_ca(&state, &p, &id).await?))
}

/// The CA certificate: PEM (default) or DER; `chain=true` adds its parents (PEM, CA first).
#[utoipa::path(get, path = "/v1/pki/cas/{id}/cert", tag = "pki",
    params(("id" = String, Path, description = "ca_..."),
           ("format" = Option<String>, Query, description = "pem (default) or der"),
           ("chain" = Option<bool>, Query, description = "PEM of the CA and its parents")),
    responses((status = 200, description = "PEM (application/x-pem-file) or DER (application/pkix-cert)",
               content((String = "application/x-pem-file"), ([u8] = "application/pkix-cert"))),
              (status = 404, body = ErrorBody, description = "ca_not_found")),
    security(("bearer" = ["pki:read"])))]
pub async fn ca_certificate(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let cert = pki::ca_certificate(&state, &p, &id, uri.query()).await?;
    Ok(binary(cert.content_type, cert.body))
}

/// Disables a CA: it issues nothing more; its CRL and OCSP responder keep answering.
#[utoipa::path(post, path = "/v1/pki/cas/{id}/disable", tag = "pki",
    params(("id" = String, Path, description = "ca_...")),
    responses((status = 200, body = Ca), (status = 404, body = ErrorBody, description = "ca_not_found")),
    security(("bearer" = ["pki:admin"])))]
pub async fn disable_ca(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Ca>> {
    Ok(Json(pki::disable_ca(&state, &p, &id).await?))
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// Issues a certificate: generates the key pair, signs, and stores certificate and key as a
/// `certificate` secret; the private key is in this response only.
#[utoipa::path(post, path = "/v1/pki/certs", tag = "pki", request_body = IssueCertificateRequest,
    responses((status = 201, body = IssuedCertificate),
              (status = 404, body = ErrorBody, description = "ca_not_found"),
              (status = 409, body = ErrorBody, description = "ca_disabled"),
              (status = 422, body = ErrorBody, description = "validity_exceeds_ca, name_not_permitted")),
    security(("bearer" = ["pki:issue"])))]
pub async fn issue(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<IssueCertificateRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<IssuedCertificate>)> {
    let issued = pki::issue(&state, &p, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[utoipa::path(get, path = "/v1/pki/certs", tag = "pki",
    params(("ca_id" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "valid, revoked or expired"),
           ("expiring_within" = Option<String>, Query, description = "e.g. 30d: not_after within it"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = CertificateList)),
    security(("bearer" = ["pki:read"])))]
pub async fn list_certificates(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<CertificateList>> {
    Ok(Json(pki::list_certificates(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/pki/certs/{id}", tag = "pki",
    params(("id" = String, Path, description = "cert_...")),
    responses((status = 200, body = Certificate), (status = 404, body = ErrorBody, description = "certificate_not_found")),
    security(("bearer" = ["pki:read"])))]
pub async fn get_certificate(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Certificate>> {
    Ok(Json(pki::get_certificate(&state, &p, &id).await?))
}

/// Revokes a certificate with an RFC 5280 reason; the CA's CRL is regenerated at once.
#[utoipa::path(post, path = "/v1/pki/certs/{id}/revoke", tag = "pki", request_body = RevokeRequest,
    params(("id" = String, Path, description = "cert_...")),
    responses((status = 200, body = Certificate), (status = 404, body = ErrorBody, description = "certificate_not_found"),
              (status = 409, body = ErrorBody, description = "conflict: already revoked")),
    security(("bearer" = ["pki:issue"])))]
pub async fn revoke(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<OptionalJsonBody<RevokeRequest>, ApiError>,
) -> ApiResult<Json<Certificate>> {
    Ok(Json(
        pki::revoke(&state, &p, &id, optional_body(body)).await?,
    ))
}

/// Issues a fresh certificate with the same subject, SANs, usage and key type, stored as a new
/// version of the same secret.
#[utoipa::path(post, path = "/v1/pki/certs/{id}/renew", tag = "pki", request_body = CertRenewRequest,
    params(("id" = String, Path, description = "cert_...")),
    responses((status = 201, body = IssuedCertificate), (status = 404, body = ErrorBody, description = "certificate_not_found")),
    security(("bearer" = ["pki:issue"])))]
pub async fn renew(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<OptionalJsonBody<CertRenewRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<IssuedCertificate>)> {
    let issued = pki::renew(&state, &p, &id, optional_body(body)).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

// ---------------------------------------------------------------------------------------------
// CSRs

/// Submits a PEM CSR (its signature is verified; with `ca_id`, its names are checked against
/// that CA's constraints at once). It waits for approval.
#[utoipa::path(post, path = "/v1/pki/csrs", tag = "pki", request_body = SubmitCsrRequest,
    responses((status = 201, body = Csr), (status = 422, body = ErrorBody, description = "invalid_csr, name_not_permitted")),
    security(("bearer" = ["pki:issue"])))]
pub async fn submit_csr(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<SubmitCsrRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Csr>)> {
    let csr = pki::submit_csr(&state, &p, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(csr)))
}

#[utoipa::path(get, path = "/v1/pki/csrs", tag = "pki",
    params(("status" = Option<String>, Query, description = "pending, approved, rejected or signed"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = CsrList)),
    security(("bearer" = ["pki:read"])))]
pub async fn list_csrs(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<CsrList>> {
    Ok(Json(pki::list_csrs(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/pki/csrs/{id}", tag = "pki",
    params(("id" = String, Path, description = "csr_...")),
    responses((status = 200, body = Csr), (status = 404, body = ErrorBody, description = "csr_not_found")),
    security(("bearer" = ["pki:read"])))]
pub async fn get_csr(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Csr>> {
    Ok(Json(pki::get_csr(&state, &p, &id).await?))
}

/// Approves a pending CSR (not by its submitter when the tenant's CAs require separation of
/// duties).
#[utoipa::path(post, path = "/v1/pki/csrs/{id}/approve", tag = "pki",
    params(("id" = String, Path, description = "csr_...")),
    responses((status = 200, body = Csr), (status = 403, body = ErrorBody, description = "separation_of_duties"),
              (status = 404, body = ErrorBody, description = "csr_not_found"),
              (status = 409, body = ErrorBody, description = "csr_not_approved: not pending")),
    security(("bearer" = ["pki:admin"])))]
pub async fn approve_csr(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Csr>> {
    Ok(Json(pki::approve_csr(&state, &p, &id).await?))
}

#[utoipa::path(post, path = "/v1/pki/csrs/{id}/reject", tag = "pki", request_body = RejectCsrRequest,
    params(("id" = String, Path, description = "csr_...")),
    responses((status = 200, body = Csr), (status = 404, body = ErrorBody, description = "csr_not_found"),
              (status = 409, body = ErrorBody, description = "csr_not_approved: not pending")),
    security(("bearer" = ["pki:admin"])))]
pub async fn reject_csr(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<OptionalJsonBody<RejectCsrRequest>, ApiError>,
) -> ApiResult<Json<Csr>> {
    Ok(Json(
        pki::reject_csr(&state, &p, &id, optional_body(body)).await?,
    ))
}

/// Signs an approved CSR with the CA.
#[utoipa::path(post, path = "/v1/pki/csrs/{id}/sign", tag = "pki", request_body = SignCsrRequest,
    params(("id" = String, Path, description = "csr_...")),
    responses((status = 201, body = SignedCertificate), (status = 404, body = ErrorBody, description = "csr_not_found, ca_not_found"),
              (status = 409, body = ErrorBody, description = "csr_not_approved"),
              (status = 422, body = ErrorBody, description = "validity_exceeds_ca, name_not_permitted")),
    security(("bearer" = ["pki:admin"])))]
pub async fn sign_csr(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<SignCsrRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<SignedCertificate>)> {
    let signed = pki::sign_csr(&state, &p, &id, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(signed)))
}

// ---------------------------------------------------------------------------------------------
// Public: CRL and OCSP

fn public(answer: PublicBody) -> Response {
    binary(answer.content_type, answer.body)
}

/// The CA's CRL (DER; `format=pem` for PEM). Public, rate limited per client address.
#[utoipa::path(get, path = "/v1/pki/crl/{ca_id}", tag = "pki",
    params(("ca_id" = String, Path, description = "ca_..."),
           ("format" = Option<String>, Query, description = "der (default) or pem")),
    responses((status = 200, description = "DER (application/pkix-crl) or PEM (application/x-pem-file)",
               content(([u8] = "application/pkix-crl"), (String = "application/x-pem-file"))),
              (status = 400, body = ErrorBody, description = "validation_error: an unknown format"),
              (status = 404, body = ErrorBody, description = "ca_not_found"),
              (status = 429, body = ErrorBody)))]
pub async fn crl(
    State(state): State<AppState>,
    Path(ca_id): Path<String>,
    request: Request<axum::body::Body>,
) -> ApiResult<Response> {
    rate_limit(&state, &request)?;
    Ok(public(
        pki::crl(&state, &ca_id, request.uri().query()).await?,
    ))
}

/// OCSP (RFC 6960), POST form: the DER request as `application/ocsp-request`. Answers good,
/// revoked (with time and reason) or unknown, signed by the CA; problems are answered in-band.
#[utoipa::path(post, path = "/v1/pki/ocsp/{ca_id}", tag = "pki",
    params(("ca_id" = String, Path, description = "ca_...")),
    request_body(description = "DER OCSPRequest (the content type is not checked)",
                 content(([u8] = "application/ocsp-request"), ([u8] = "application/octet-stream"))),
    responses((status = 200, description = "DER OCSPResponse", body = [u8], content_type = "application/ocsp-response"),
              (status = 400, body = ErrorBody, description = "validation_error: no request body"),
              (status = 429, body = ErrorBody)))]
pub async fn ocsp_post(
    State(state): State<AppState>,
    Path(ca_id): Path<String>,
    request: Request<axum::body::Body>,
) -> ApiResult<Response> {
    rate_limit(&state, &request)?;
    let limit = state.limits.max_body_bytes;
    let body: Bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::validation("could not read the OCSP request"))?;
    if body.is_empty() {
        return Err(ApiError::validation(
            "no OCSP request: POST the DER OCSPRequest as the body",
        ));
    }
    Ok(public(
        pki::ocsp(&state, &ca_id, OcspInput::Der(&body)).await?,
    ))
}

/// OCSP, GET form: the base64 of the DER request as the last path segment(s).
#[utoipa::path(get, path = "/v1/pki/ocsp/{ca_id}/{request}", tag = "pki",
    params(("ca_id" = String, Path, description = "ca_..."),
           ("request" = String, Path, description = "base64 of the DER OCSPRequest (URL-encoded)")),
    responses((status = 200, description = "DER OCSPResponse", body = [u8], content_type = "application/ocsp-response"),
              (status = 429, body = ErrorBody)))]
pub async fn ocsp_get(
    State(state): State<AppState>,
    Path((ca_id, encoded)): Path<(String, String)>,
    request: Request<axum::body::Body>,
) -> ApiResult<Response> {
    rate_limit(&state, &request)?;
    Ok(public(
        pki::ocsp(&state, &ca_id, OcspInput::GetPath(&encoded)).await?,
    ))
}
