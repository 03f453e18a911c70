//! `/v1/pki/*`: the internal CA: CAs, issued certificates, revocation and the CSR workflow
//! (docs/pki.md). When the client acts as a tenant ([`Client::with_tenant_id`]) the routes are
//! sent under `/v1/t/{tenant}/`. The public CRL and OCSP endpoints are fetched by relying
//! parties (OpenSSL, browsers) directly.

use reqwest::Method;
use scaivault_proto::pki::{
    Ca, CaList, CertRenewRequest, Certificate, CertificateList, CreateCaRequest, Csr, CsrList,
    ImportCaRequest, IssueCertificateRequest, IssuedCertificate, RejectCsrRequest, RevokeRequest,
    SignCsrRequest, SignedCertificate, SubmitCsrRequest,
};

use crate::{Call, Client};

/// Filters of `GET /v1/pki/certs`.
#[derive(Debug, Clone, Default)]
pub struct CertificateFilter {
    pub ca_id: Option<String>,
    /// `valid`, `revoked` or `expired`.
    pub status: Option<String>,
    /// e.g. `30d`.
    pub expiring_within: Option<String>,
}

impl Client {
    /// `POST /v1/pki/cas`: a root CA, or an intermediate with `parent_ca_id`.
    pub fn create_ca(&self, request: &CreateCaRequest) -> Call<'_, Ca> {
        self.call(Method::POST, self.tenant_url(&["pki", "cas"]))
            .json(request)
    }

    /// `POST /v1/pki/cas/import`
    pub fn import_ca(&self, request: &ImportCaRequest) -> Call<'_, Ca> {
        self.call(Method::POST, self.tenant_url(&["pki", "cas", "import"]))
            .json(request)
    }

    /// `GET /v1/pki/cas`: one page.
    pub fn list_cas(&self, limit: Option<u32>, cursor: Option<&str>) -> Call<'_, CaList> {
        self.call(Method::GET, self.tenant_url(&["pki", "cas"]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/pki/cas/{id}`
    pub fn get_ca(&self, id: &str) -> Call<'_, Ca> {
        self.call(Method::GET, self.tenant_url(&["pki", "cas", id]))
    }

    /// `GET /v1/pki/cas/{id}/cert?format=pem`: the PEM text (with `chain`, the CA and its
    /// parents) as the raw body.
    pub fn ca_certificate_pem(&self, id: &str, chain: bool) -> Call<'_, ()> {
        self.call(Method::GET, self.tenant_url(&["pki", "cas", id, "cert"]))
            .query("format", "pem")
            .query_opt("chain", chain.then_some("true"))
    }

    /// `POST /v1/pki/cas/{id}/disable`
    pub fn disable_ca(&self, id: &str) -> Call<'_, Ca> {
        self.call(
            Method::POST,
            self.tenant_url(&["pki", "cas", id, "disable"]),
        )
    }

    /// `POST /v1/pki/certs`: the private key is in this response only.
    pub fn issue_certificate(
        &self,
        request: &IssueCertificateRequest,
    ) -> Call<'_, IssuedCertificate> {
        self.call(Method::POST, self.tenant_url(&["pki", "certs"]))
            .json(request)
    }

    /// `GET /v1/pki/certs`: one page.
    pub fn list_certificates(
        &self,
        filter: &CertificateFilter,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, CertificateList> {
        self.call(Method::GET, self.tenant_url(&["pki", "certs"]))
            .query_opt("ca_id", filter.ca_id.as_deref())
            .query_opt("status", filter.status.as_deref())
            .query_opt("expiring_within", filter.expiring_within.as_deref())
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/pki/certs/{id}`
    pub fn get_certificate(&self, id: &str) -> Call<'_, Certificate> {
        self.call(Method::GET, self.tenant_url(&["pki", "certs", id]))
    }

    /// `POST /v1/pki/certs/{id}/revoke`
    pub fn revoke_certificate(&self, id: &str, request: &RevokeRequest) -> Call<'_, Certificate> {
        self.call(
            Method::POST,
            self.tenant_url(&["pki", "certs", id, "revoke"]),
        )
        .json(request)
    }

    /// `POST /v1/pki/certs/{id}/renew`
    pub fn renew_certificate(
        &self,
        id: &str,
        request: &CertRenewRequest,
    ) -> Call<'_, IssuedCertificate> {
        self.call(
            Method::POST,
            self.tenant_url(&["pki", "certs", id, "renew"]),
        )
        .json(request)
    }

    /// `POST /v1/pki/csrs`
    pub fn submit_csr(&self, request: &SubmitCsrRequest) -> Call<'_, Csr> {
        self.call(Method::POST, self.tenant_url(&["pki", "csrs"]))
            .json(request)
    }

    /// `GET /v1/pki/csrs`: one page, optionally of one status.
    pub fn list_csrs(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, CsrList> {
        self.call(Method::GET, self.tenant_url(&["pki", "csrs"]))
            .query_opt("status", status)
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/pki/csrs/{id}`
    pub fn get_csr(&self, id: &str) -> Call<'_, Csr> {
        self.call(Method::GET, self.tenant_url(&["pki", "csrs", id]))
    }

    /// `POST /v1/pki/csrs/{id}/approve`
    pub fn approve_csr(&self, id: &str) -> Call<'_, Csr> {
        self.call(
            Method::POST,
            self.tenant_url(&["pki", "csrs", id, "approve"]),
        )
    }

    /// `POST /v1/pki/csrs/{id}/reject`
    pub fn reject_csr(&self, id: &str, request: &RejectCsrRequest) -> Call<'_, Csr> {
        self.call(
            Method::POST,
            self.tenant_url(&["pki", "csrs", id, "reject"]),
        )
        .json(request)
    }

    /// `POST /v1/pki/csrs/{id}/sign`
    pub fn sign_csr(&self, id: &str, request: &SignCsrRequest) -> Call<'_, SignedCertificate> {
        self.call(Method::POST, self.tenant_url(&["pki", "csrs", id, "sign"]))
            .json(request)
    }
}
