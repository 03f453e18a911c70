//! Who answers the CA's challenges: http-01 tokens published in the store (every node serves
//! them at `/.well-known/acme-challenge/{token}`, routes/acme.rs), and `webhook` providers that hand a dns-01
//! record or an http-01 token to something else (a DNS API ScaiVault has no provider for,
//! another front end), signed like event webhooks.

use scaivault_acme::dns::{DnsProvider, TxtRecord};
use scaivault_acme::{AcmeError, Http01Responder};
use scaivault_store::{Http01Token, StoreError};
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

/// The key authorization to answer the CA's `GET /.well-known/acme-challenge/{token}` with,
/// if the token is published and not expired. Only base64url tokens (RFC 8555 §8.1) are looked
/// up.
pub async fn http01_answer(state: &AppState, token: &str) -> Result<Option<String>, StoreError> {
    let well_formed = !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Ok(None);
    }
    state
        .store
        .http01_key_authorization(token, state.clock.now())
        .await
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
        self.send(
            json!({"action": "present", "challenge": "http-01", "domain": domain,
            "token": token, "key_authorization": key_authorization}),
        )
        .await
        .map_err(|e| AcmeError::Responder(e.to_string()))
    }

    async fn cleanup(&self, domain: &str, token: &str) -> Result<(), AcmeError> {
        self.send(
            json!({"action": "cleanup", "challenge": "http-01", "domain": domain,
            "token": token}),
        )
        .await
        .map_err(|e| AcmeError::Responder(e.to_string()))
    }
}
