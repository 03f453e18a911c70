//! `/v1/secrets/*`: read, write, patch, list, versions, metadata, delete, restore, rotate,
//! expiring.

use reqwest::Method;
use scaivault_proto::secrets::{
    ExpiringSecretsResponse, ListSecretsResponse, PatchSecretRequest, ReadSecretResponse,
    RestoreSecretResponse, RotateSecretRequest, RotateSecretResponse, SecretMetadataResponse,
    SecretType, VersionsResponse, WriteSecretRequest, WriteSecretResponse,
};

use crate::{Call, Client};

/// What `DELETE /v1/secrets/{path}` removes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeleteMode {
    /// Soft delete: restorable during the retention window.
    #[default]
    Soft,
    /// `?permanent=true`: gone for good.
    Permanent,
    /// `?version=N`: only that version.
    Version(u64),
}

/// Filters of `GET /v1/secrets`.
#[derive(Clone, Debug, Default)]
pub struct ListSecretsQuery {
    pub prefix: Option<String>,
    /// Repeatable `tag` filter.
    pub tags: Vec<String>,
    pub secret_type: Option<SecretType>,
    pub expires_before: Option<String>,
    pub updated_after: Option<String>,
    pub include_expired: bool,
    pub include_metadata: bool,
    /// Page size (server default 50, max 200).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Parameters of `GET /v1/secrets/expiring`.
#[derive(Clone, Debug, Default)]
pub struct ExpiringQuery {
    pub days: Option<u32>,
    pub prefix: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl Client {
    /// `GET /v1/secrets/{path}[?version=N]`
    pub fn read_secret(&self, path: &str, version: Option<u64>) -> Call<'_, ReadSecretResponse> {
        self.call(Method::GET, self.secrets_url(&[], Some(path), &[]))
            .query_opt("version", version)
    }

    /// `PUT /v1/secrets/{path}`: creates the secret or a new version of it.
    pub fn write_secret(
        &self,
        path: &str,
        request: &WriteSecretRequest,
    ) -> Call<'_, WriteSecretResponse> {
        self.call(Method::PUT, self.secrets_url(&[], Some(path), &[]))
            .json(request)
    }

    /// `PATCH /v1/secrets/{path}`: metadata and options only.
    pub fn patch_secret(
        &self,
        path: &str,
        request: &PatchSecretRequest,
    ) -> Call<'_, SecretMetadataResponse> {
        self.call(Method::PATCH, self.secrets_url(&[], Some(path), &[]))
            .json(request)
    }

    /// `DELETE /v1/secrets/{path}` (`204 No Content`).
    pub fn delete_secret(&self, path: &str, mode: DeleteMode) -> Call<'_, ()> {
        let call = self.call(Method::DELETE, self.secrets_url(&[], Some(path), &[]));
        match mode {
            DeleteMode::Soft => call,
            DeleteMode::Permanent => call.query("permanent", "true"),
            DeleteMode::Version(v) => call.query("version", v),
        }
    }

    /// `GET /v1/secrets?...`: one page.
    pub fn list_secrets(&self, query: &ListSecretsQuery) -> Call<'_, ListSecretsResponse> {
        let mut call = self
            .call(Method::GET, self.secrets_url(&[], None, &[]))
            .query_opt("prefix", query.prefix.as_deref());
        for tag in &query.tags {
            call = call.query("tag", tag);
        }
        call = call
            .query_opt("secret_type", query.secret_type.map(SecretType::as_str))
            .query_opt("expires_before", query.expires_before.as_deref())
            .query_opt("updated_after", query.updated_after.as_deref())
            .query_opt("include_expired", query.include_expired.then_some("true"))
            .query_opt("include_metadata", query.include_metadata.then_some("true"))
            .query_opt("limit", query.limit)
            .query_opt("cursor", query.cursor.as_deref());
        call
    }

    /// `GET /v1/secrets/{path}/versions`, newest first.
    pub fn secret_versions(&self, path: &str) -> Call<'_, VersionsResponse> {
        self.call(
            Method::GET,
            self.secrets_url(&[], Some(path), &["versions"]),
        )
    }

    /// `GET /v1/secrets/metadata/{path}`
    pub fn secret_metadata(&self, path: &str) -> Call<'_, SecretMetadataResponse> {
        self.call(
            Method::GET,
            self.secrets_url(&["metadata"], Some(path), &[]),
        )
    }

    /// `POST /v1/secrets/{path}/restore`
    pub fn restore_secret(&self, path: &str) -> Call<'_, RestoreSecretResponse> {
        self.call(
            Method::POST,
            self.secrets_url(&[], Some(path), &["restore"]),
        )
    }

    /// `POST /v1/secrets/{path}/rotate`
    pub fn rotate_secret(
        &self,
        path: &str,
        request: &RotateSecretRequest,
    ) -> Call<'_, RotateSecretResponse> {
        self.call(Method::POST, self.secrets_url(&[], Some(path), &["rotate"]))
            .json(request)
    }

    /// `GET /v1/secrets/expiring?days=N&prefix=P`, soonest first.
    pub fn expiring_secrets(&self, query: &ExpiringQuery) -> Call<'_, ExpiringSecretsResponse> {
        self.call(Method::GET, self.secrets_url(&["expiring"], None, &[]))
            .query_opt("days", query.days)
            .query_opt("prefix", query.prefix.as_deref())
            .query_opt("limit", query.limit)
            .query_opt("cursor", query.cursor.as_deref())
    }
}
