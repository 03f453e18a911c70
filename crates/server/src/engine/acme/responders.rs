//! Who answers the CA's challenges: http-01 tokens published in the store (every node serves
//! them at `/.well-known/acme-challenge/{token}`), and `webhook` providers that hand a dns-01
//! record or an http-01 token to something else (a DNS API ScaiVault has no provider for,
//! another front end), signed like event webhooks.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use scaivault_acme::dns::{DnsProvider, TxtRecord};
use scaivault_acme::{AcmeError, Http01Responder};
use scaivault_store::Http01Token;
use serde_json::json;
use zeroize::Zeroizing;

use crate::state::AppState;

/// How long a published token is served at most (validation takes seconds; a crashed order's
/// token must not linger).
const TOKEN_LIFETIME: time::Duration = time::Duration::hours(1);

/// http-01 answers kept in the store, so whichever node the CA reaches answers.
pub(super) struct StoreHttp01 {
    pub state: AppState,
    pub tenant_id: String,
    pub order_id: String,
}

#[async_trait::async_trait]
impl Http01Responder for StoreHttp01 {
    async fn present(
        &self,
        _domain: &str,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), AcmeError> {
        let now = self.state.clock.now();
        self.state
            .store
            .put_http01_token(&Http01Token {
                token: token.to_owned(),
                tenant_id: self.tenant_id.clone(),
                order_id: self.order_id.clone(),
                key_authorization: key_authorization.to_owned(),
                expires_at: now + TOKEN_LIFETIME,
                created_at: now,
            })
            .await
            .map_err(|e| AcmeError::Responder(format!("publishing the token: {e}")))
    }

    async fn cleanup(&self, _domain: &str, token: &str) -> Result<(), AcmeError> {
        self.state
            .store
            .delete_http01_token(token, self.state.clock.now())
            .await
            .map_err(|e| AcmeError::Responder(format!("withdrawing the token: {e}")))
    }
}

/// `GET /.well-known/acme-challenge/{token}`: the key authorization as `text/plain`, or 404.
/// Unauthenticated by nature (the CA fetches it), never audited; answers only what the CA is
/// meant to see.
pub async fn serve_http01(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    // RFC 8555 §8.1: tokens are base64url; anything else is not ours.
    let well_formed = !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return StatusCode::NOT_FOUND.into_response();
    }
    match state
        .store
        .http01_key_authorization(&token, state.clock.now())
        .await
    {
        Ok(Some(key_authorization)) => (
            [(header::CONTENT_TYPE, "text/plain")],
            key_authorization,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "reading an http-01 token failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// A `webhook` provider: POSTs `{"action": "present"|"cleanup", ...}` with Standard Webhooks
/// signatures (the provider's `whsec_` secret) through the SSRF-checked webhook client; a 2xx
/// answer means done.
pub(super) struct Webhook {
    pub state: AppState,
    pub url: String,
    pub secret: Zeroizing<String>,
}

impl Webhook {
    async fn send(&self, body: serde_json::Value) -> Result<(), AcmeError> {
        let target = self
            .state
            .webhooks
            .target(&self.url)
            .await
            .map_err(|e| AcmeError::Dns(format!("webhook {}: {e}", self.url)))?;
        let id = scaivault_crypto::random::random_id("msg_")
            .map_err(|e| AcmeError::Dns(e.to_string()))?;
        let bytes = body.to_string().into_bytes();
        target
            .deliver(&id, &bytes, &self.secret, self.state.clock.now())
            .await
            .map_err(|e| AcmeError::Dns(format!("webhook {}: {e}", self.url)))
    }
}

#[async_trait::async_trait]
impl DnsProvider for Webhook {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.send(json!({"action": "present", "challenge": "dns-01",
            "name": record.name, "value": record.value}))
            .await
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.send(json!({"action": "cleanup", "challenge": "dns-01",
            "name": record.name, "value": record.value}))
            .await
    }
}

#[async_trait::async_trait]
impl Http01Responder for Webhook {
    async fn present(
        &self,
        domain: &str,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), AcmeError> {
        self.send(json!({"action": "present", "challenge": "http-01", "domain": domain,
            "token": token, "key_authorization": key_authorization}))
            .await
            .map_err(|e| AcmeError::Responder(e.to_string()))
    }

    async fn cleanup(&self, domain: &str, token: &str) -> Result<(), AcmeError> {
        self.send(json!({"action": "cleanup", "challenge": "http-01", "domain": domain,
            "token": token}))
            .await
            .map_err(|e| AcmeError::Responder(e.to_string()))
    }
}
