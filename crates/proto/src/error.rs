//! The error envelope `{"error": {"code", "message", "request_id"}}` and the code catalogue.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error code the API returns. The string form is the wire form and never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 404: the path does not exist in this tenant (or the caller may not know it exists).
    SecretNotFound,
    /// 409: the path is soft-deleted and inside its retention window; restore or hard-delete it.
    SecretExists,
    /// 404: the version aged out, was deleted, was retired after a rotation, or never existed.
    VersionNotFound,
    /// 400: the path breaks the path rules (docs/api.md).
    InvalidPath,
    /// 409: a concurrent write won, or `If-Match` named a version that is no longer current.
    VersionConflict,
    /// 403: the caller is authenticated but not allowed to do this.
    AccessDenied,
    /// 410: the secret's `expires_at` has passed.
    SecretExpired,
    /// 401: no bearer token, or it is unknown, revoked or expired.
    AuthenticationRequired,
    /// 400: the request body or a parameter is malformed or out of range.
    ValidationError,
    /// 429: too many requests.
    RateLimited,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 404: no such route or resource.
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 503: the server is not ready (store or keys unavailable).
    ServiceUnavailable,
    /// 503: the store cannot record changes or audit entries right now (disk full, I/O error,
    /// database unreachable or timing out). Nothing was changed and nothing was served; retry.
    StorageUnavailable,
    /// 500: something failed inside the server; the message says nothing more.
    InternalError,
    /// An object with this id or unique name already exists (tenants, partners, ...).
    Conflict,
    /// 404: no such certificate authority in this tenant.
    CaNotFound,
    /// 404: no such certificate in this tenant.
    CertificateNotFound,
    /// 404: no such certificate signing request in this tenant.
    CsrNotFound,
    /// 422: the CSR is not a PEM certificate request or its signature does not verify.
    InvalidCsr,
    /// 422: the requested validity ends after the issuing CA's own.
    ValidityExceedsCa,
    /// 422: a name is outside the CA's name constraints.
    NameNotPermitted,
    /// 409: the CSR is not in the state this step needs (sign before approve, a second decision).
    CsrNotApproved,
    /// 403: the CA requires separation of duties and the approver submitted the CSR.
    SeparationOfDuties,
    /// 409: the CA is disabled and issues nothing.
    CaDisabled,
    /// 404: no such dynamic engine in this tenant.
    EngineNotFound,
    /// 404: no such role on this dynamic engine.
    RoleNotFound,
    /// 404: no such lease in this tenant.
    LeaseNotFound,
    /// 409: the engine still has live leases; revoke them or delete with `force`.
    EngineHasLeases,
    /// 429: the role's or the tenant's cap on live leases is reached.
    LeaseLimitReached,
    /// 502: the engine's target (database, cloud API, ...) refused or could not be reached.
    EngineUnreachable,
    /// 409: the lease is not live (revoked or expired) or not renewable.
    LeaseNotRenewable,
    /// 502: the ACME CA refused the request or could not be reached (its problem document's
    /// type and detail are in the message).
    AcmeCaError,
    /// 503: the server is sealed: its root key provider (KMS, HSM, TPM) was unavailable at
    /// start. It unseals by itself when the provider is back, or on `operator unseal`.
    Sealed,
    /// 503: the root key provider failed during a key operation (rotation); nothing changed.
    KeyProviderUnavailable,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidPath | Self::ValidationError => 400,
            Self::AuthenticationRequired => 401,
            Self::AccessDenied | Self::SeparationOfDuties => 403,
            Self::SecretNotFound
            | Self::VersionNotFound
            | Self::NotFound
            | Self::CaNotFound
            | Self::CertificateNotFound
            | Self::CsrNotFound
            | Self::EngineNotFound
            | Self::RoleNotFound
            | Self::LeaseNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::SecretExists
            | Self::VersionConflict
            | Self::Conflict
            | Self::CsrNotApproved
            | Self::CaDisabled
            | Self::EngineHasLeases
            | Self::LeaseNotRenewable => 409,
            Self::SecretExpired => 410,
            Self::PayloadTooLarge => 413,
            Self::InvalidCsr | Self::ValidityExceedsCa | Self::NameNotPermitted => 422,
            Self::RateLimited | Self::LeaseLimitReached => 429,
            Self::InternalError => 500,
            Self::EngineUnreachable | Self::AcmeCaError => 502,
            Self::ServiceUnavailable
            | Self::StorageUnavailable
            | Self::Sealed
            | Self::KeyProviderUnavailable => 503,
        }
    }

    /// The wire string, e.g. `secret_not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretNotFound => "secret_not_found",
            Self::SecretExists => "secret_exists",
            Self::VersionNotFound => "version_not_found",
            Self::InvalidPath => "invalid_path",
            Self::VersionConflict => "version_conflict",
            Self::AccessDenied => "access_denied",
            Self::SecretExpired => "secret_expired",
            Self::AuthenticationRequired => "authentication_required",
            Self::ValidationError => "validation_error",
            Self::RateLimited => "rate_limited",
            Self::PayloadTooLarge => "payload_too_large",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::ServiceUnavailable => "service_unavailable",
            Self::StorageUnavailable => "storage_unavailable",
            Self::InternalError => "internal_error",
            Self::Conflict => "conflict",
            Self::CaNotFound => "ca_not_found",
            Self::CertificateNotFound => "certificate_not_found",
            Self::CsrNotFound => "csr_not_found",
            Self::InvalidCsr => "invalid_csr",
            Self::ValidityExceedsCa => "validity_exceeds_ca",
            Self::NameNotPermitted => "name_not_permitted",
            Self::CsrNotApproved => "csr_not_approved",
            Self::SeparationOfDuties => "separation_of_duties",
            Self::CaDisabled => "ca_disabled",
            Self::EngineNotFound => "engine_not_found",
            Self::RoleNotFound => "role_not_found",
            Self::LeaseNotFound => "lease_not_found",
            Self::EngineHasLeases => "engine_has_leases",
            Self::LeaseLimitReached => "lease_limit_reached",
            Self::EngineUnreachable => "engine_unreachable",
            Self::LeaseNotRenewable => "lease_not_renewable",
            Self::AcmeCaError => "acme_ca_error",
            Self::Sealed => "sealed",
            Self::KeyProviderUnavailable => "key_provider_unavailable",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// Human-readable; never contains a secret value or a token.
    pub message: String,
    /// The `X-Request-Id` of the request, for correlating with server logs.
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_string_matches_serde() {
        for code in [
            ErrorCode::SecretNotFound,
            ErrorCode::AuthenticationRequired,
            ErrorCode::PayloadTooLarge,
        ] {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }
}
