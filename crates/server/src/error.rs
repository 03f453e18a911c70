//! The one error type of the HTTP layer and the only place that picks an HTTP status.
//! 5xx bodies say nothing internal: the cause is logged (without secrets) where it is mapped.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use scaivault_core::{DurationError, PathError};
use scaivault_proto::{ErrorBody, ErrorCode, ErrorDetail};
use scaivault_store::{Entity, StoreError};

tokio::task_local! {
    /// The id of the request being served; set by the request-context middleware.
    pub static REQUEST_ID: String;
}

/// The current request's id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Set for 429s: becomes `Retry-After` and `X-RateLimit-*`.
    refusal: Option<crate::ratelimit::Refusal>,
    /// Set for `storage_unavailable`: why the store could not commit (for readiness).
    storage_cause: Option<StorageFailure>,
}

/// Rides on a `storage_unavailable` response so the audit middleware can tell readiness why.
#[derive(Debug, Clone, Copy)]
pub struct StorageFailure(pub &'static str);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            refusal: None,
            storage_cause: None,
        }
    }

    /// 429 `rate_limited`, with the headers that say when to retry.
    pub fn rate_limited(refusal: crate::ratelimit::Refusal) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: String::new(),
            refusal: Some(refusal),
            storage_cause: None,
        }
    }

    /// `not_found` (`secret_not_found` for a secret) naming what was not found.
    pub fn not_found(what: scaivault_store::Entity) -> Self {
        scaivault_store::StoreError::NotFound(what).into()
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AuthenticationRequired, message)
    }

    /// 503 `storage_unavailable`: the store cannot write now (disk full, I/O, connection).
    /// Logs `cause`; the body says what the client needs to know and nothing internal.
    pub fn storage_unavailable(error: &StoreError) -> Self {
        tracing::error!(%error, "storage unavailable");
        let mut e = Self::new(
            ErrorCode::StorageUnavailable,
            "the store cannot record changes or audit entries right now; nothing was changed, \
             retry later (GET /health/ready says why)",
        );
        if let StoreError::Unavailable { cause, .. } = error {
            e.storage_cause = Some(StorageFailure(cause));
        }
        e
    }

    /// An internal failure: logs `cause` and returns a body that reveals nothing.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::InternalError, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(refusal) = self.refusal {
            return crate::ratelimit::refusal_response(refusal);
        }
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                request_id: current_request_id(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        // For the audit trail's outcome of this request.
        response.extensions_mut().insert(self.code);
        if let Some(cause) = self.storage_cause {
            response.extensions_mut().insert(cause);
        }
        if self.code == ErrorCode::AuthenticationRequired {
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<PathError> for ApiError {
    fn from(e: PathError) -> Self {
        Self::new(ErrorCode::InvalidPath, format!("invalid path: {e}"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(Entity::Secret) => {
                Self::new(ErrorCode::SecretNotFound, "secret not found")
            }
            StoreError::NotFound(what @ Entity::DynamicEngine) => {
                Self::new(ErrorCode::EngineNotFound, format!("no such {what}"))
            }
            StoreError::NotFound(what @ Entity::DynamicRole) => {
                Self::new(ErrorCode::RoleNotFound, format!("no such {what}"))
            }
            StoreError::NotFound(what @ Entity::Lease) => {
                Self::new(ErrorCode::LeaseNotFound, format!("no such {what}"))
            }
            StoreError::NotFound(what) => Self::new(ErrorCode::NotFound, format!("no such {what}")),
            StoreError::SoftDeleted => Self::new(
                ErrorCode::SecretExists,
                "a soft-deleted secret exists at this path; restore it or delete it with ?permanent=true",
            ),
            StoreError::VersionNotFound => Self::new(
                ErrorCode::VersionNotFound,
                "version not found (it may have aged out, been deleted, or retired after a rotation)",
            ),
            StoreError::VersionConflict { current } => Self::new(
                ErrorCode::VersionConflict,
                format!("version conflict: the current version is {current}; refetch and retry"),
            ),
            StoreError::Invalid(message) => Self::validation(message),
            StoreError::Conflict(message) => Self::new(ErrorCode::Conflict, message),
            StoreError::Duplicate => Self::new(ErrorCode::VersionConflict, "already exists"),
            StoreError::LimitReached(which) => Self::new(
                ErrorCode::LeaseLimitReached,
                format!("{which} is reached; revoke leases or raise the cap"),
            ),
            e @ StoreError::Unavailable { .. } => Self::storage_unavailable(&e),
            other => Self::internal(other),
        }
    }
}

impl From<scaivault_crypto::CryptoError> for ApiError {
    fn from(e: scaivault_crypto::CryptoError) -> Self {
        Self::internal(e)
    }
}

/// Formats a duration problem for field `field`.
pub fn duration_error(field: &str, e: DurationError) -> ApiError {
    ApiError::validation(format!("{field}: {e}"))
}
