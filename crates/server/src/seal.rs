//! The sealed server. When the root key provider (KMS, HSM, TPM) cannot be reached at start,
//! the keyring cannot be unwrapped, so nothing can be decrypted or authenticated: the server
//! listens anyway, answers `/health` (live) and `/health/ready` (503, `sealed`), answers every
//! other request with `503 sealed`, and keeps trying the provider. Once it answers, the full
//! API takes over the same listener. There is never a fallback to an unprotected key.
//!
//! The detailed reason (which host, which error) goes to the log only: these answers need no
//! token, so they name the provider's kind and nothing else.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorCode;
use scaivault_proto::health::ReadyResponse;
use scaivault_proto::keys::SealStatus;
use tower::ServiceExt;

use crate::error::ApiError;

/// How long `POST /v1/sys/unseal` waits for the attempt it asked for.
const UNSEAL_WAIT: Duration = Duration::from_secs(30);

/// Sits in front of the API: the sealed answers until [`Gate::open`] installs the real router.
#[derive(Clone)]
pub struct Gate(Arc<GateInner>);

struct GateInner {
    router: RwLock<Option<Router>>,
    provider: String,
    retry: tokio::sync::Notify,
    /// Counts finished unseal attempts, so a caller can wait for the next one.
    attempts: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("provider", &self.0.provider)
            .field("sealed", &self.is_sealed())
            .finish()
    }
}

impl Gate {
    pub fn new(provider_kind: &str) -> Self {
        Self(Arc::new(GateInner {
            router: RwLock::new(None),
            provider: provider_kind.to_owned(),
            retry: tokio::sync::Notify::new(),
            attempts: tokio::sync::watch::channel(0).0,
        }))
    }

    pub fn is_sealed(&self) -> bool {
        self.current().is_none()
    }

    fn current(&self) -> Option<Router> {
        self.0
            .router
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Unsealed: from now on every request goes to `router`.
    pub fn open(&self, router: Router) {
        *self
            .0
            .router
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(router);
    }

    /// An unseal attempt finished (successful or not).
    pub fn attempted(&self) {
        self.0.attempts.send_modify(|n| *n += 1);
    }

    /// Waits until the next attempt is due: `interval` passed or someone asked to unseal.
    pub async fn wait_for_retry(&self, interval: Duration) {
        tokio::select! {
            () = self.0.retry.notified() => {}
            () = tokio::time::sleep(interval) => {}
        }
    }

    fn public_reason(&self) -> String {
        format!("root key provider {} unavailable", self.0.provider)
    }

    fn status(&self) -> SealStatus {
        let sealed = self.is_sealed();
        SealStatus {
            sealed,
            provider: self.0.provider.clone(),
            reason: sealed.then(|| self.public_reason()),
        }
    }

    /// The service the listener serves: the real router once open, the sealed one before.
    pub fn service(&self) -> Router {
        let sealed = Router::new()
            .route("/health", get(crate::routes::health::health))
            .route("/v1/health", get(crate::routes::health::health))
            .route("/health/ready", get(ready))
            .route("/v1/sys/seal-status", get(seal_status))
            .route("/v1/sys/unseal", post(unseal))
            .fallback(sealed_error)
            .layer(axum::middleware::from_fn(crate::routes::request_context))
            .with_state(self.clone());
        let gate = self.clone();
        Router::new().fallback(move |request: Request| {
            let gate = gate.clone();
            let sealed = sealed.clone();
            async move {
                match gate.current() {
                    Some(router) => router.oneshot(request).await.into_response(),
                    None => sealed.oneshot(request).await.into_response(),
                }
            }
        })
    }
}

async fn ready(State(gate): State<Gate>) -> (StatusCode, Json<ReadyResponse>) {
    let checks = BTreeMap::from([(
        "keys".to_owned(),
        format!("sealed: {}", gate.public_reason()),
    )]);
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(ReadyResponse {
            status: "sealed".to_owned(),
            checks,
        }),
    )
}

async fn seal_status(State(gate): State<Gate>) -> Json<SealStatus> {
    Json(gate.status())
}

/// Asks for an unseal attempt now and waits for it (at most 30 s).
async fn unseal(State(gate): State<Gate>) -> Response {
    let mut attempts = gate.0.attempts.subscribe();
    attempts.mark_unchanged();
    gate.0.retry.notify_one();
    let _ = tokio::time::timeout(UNSEAL_WAIT, attempts.changed()).await;
    let status = gate.status();
    let code = if status.sealed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(status)).into_response()
}

async fn sealed_error(State(gate): State<Gate>) -> Response {
    let mut response = ApiError::new(
        ErrorCode::Sealed,
        format!(
            "ScaiVault is sealed: {}. It unseals by itself when the provider is back, or on \
             `scaivault operator unseal`",
            gate.public_reason()
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
