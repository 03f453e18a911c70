//! `/v1/auth/*`: identity and personal access tokens.

use reqwest::Method;
use scaivault_proto::auth::{
    CreateTokenRequest, CreateTokenResponse, TokenListResponse, WhoAmIResponse,
};

use crate::{Call, Client};

impl Client {
    /// `GET /v1/auth/whoami`
    pub fn whoami(&self) -> Call<'_, WhoAmIResponse> {
        self.call(Method::GET, self.url(&["v1", "auth", "whoami"], &[]))
    }

    /// `POST /v1/auth/tokens`: the response is the only place the token's plaintext appears.
    pub fn create_token(&self, request: &CreateTokenRequest) -> Call<'_, CreateTokenResponse> {
        self.call(Method::POST, self.url(&["v1", "auth", "tokens"], &[]))
            .json(request)
    }

    /// `GET /v1/auth/tokens`: one page of the caller's tokens.
    pub fn list_tokens(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Call<'_, TokenListResponse> {
        self.call(Method::GET, self.url(&["v1", "auth", "tokens"], &[]))
            .query_opt("cursor", cursor)
            .query_opt("limit", limit)
    }

    /// `DELETE /v1/auth/tokens/{id}`
    pub fn revoke_token(&self, id: &str) -> Call<'_, ()> {
        self.call(Method::DELETE, self.url(&["v1", "auth", "tokens", id], &[]))
    }
}
