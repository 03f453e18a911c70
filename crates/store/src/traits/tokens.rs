//! Bearer tokens (personal tokens, service-account API keys, the dev root token), by hash.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::audit::*;
use crate::model::*;

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(&self, token: &TokenRecord, audit: Option<&AuditEvent>) -> Result<()>;

    /// Replaces the token with the same id (used for the dev root token on each start).
    async fn replace_token(&self, token: &TokenRecord) -> Result<()>;

    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>>;

    async fn list_tokens(
        &self,
        tenant_id: &str,
        identity_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenRecord>>;

    /// The token with this id, live or not.
    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>>;

    /// Marks the token revoked, and in the same transaction every token minted from it (when
    /// it is an API key); false when no such token of this identity exists.
    async fn revoke_token(
        &self,
        tenant_id: &str,
        identity_id: &str,
        token_id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
}
