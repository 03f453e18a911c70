//! `/v1/service-accounts/*` and `/v1/identity/*`: service accounts and their API keys,
//! partners, tenants, synced group membership, and ScaiKey registration.
//!
//! Service-account routes are tenant-scoped: when the client acts as a tenant
//! ([`Client::with_tenant_id`]) they are sent under `/v1/t/{tenant}/`. The identity routes are
//! about partners and tenants themselves and are always sent as they are.

use reqwest::Method;
use scaivault_proto::identity::{
    ApiKeyList, CreateApiKeyRequest, CreateApiKeyResponse, CreatePartnerRequest,
    CreateServiceAccountRequest, CreateTenantRequest, GroupsResponse, Partner, PartnerList,
    RegisterRequest, RegisterResponse, ServiceAccount, ServiceAccountList, SetGroupsRequest,
    Tenant, TenantList,
};

use crate::{Call, Client};

impl Client {
    // --- Service accounts and API keys ----------------------------------------------------

    /// `POST /v1/service-accounts`
    pub fn create_service_account(
        &self,
        request: &CreateServiceAccountRequest,
    ) -> Call<'_, ServiceAccount> {
        self.call(Method::POST, self.tenant_url(&["service-accounts"]))
            .json(request)
    }

    /// `GET /v1/service-accounts`: one page.
    pub fn list_service_accounts(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, ServiceAccountList> {
        self.call(Method::GET, self.tenant_url(&["service-accounts"]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/service-accounts/{id}`
    pub fn get_service_account(&self, id: &str) -> Call<'_, ServiceAccount> {
        self.call(Method::GET, self.tenant_url(&["service-accounts", id]))
    }

    /// `DELETE /v1/service-accounts/{id}` (`204 No Content`): its keys stop working at once.
    pub fn delete_service_account(&self, id: &str) -> Call<'_, ()> {
        self.call(Method::DELETE, self.tenant_url(&["service-accounts", id]))
    }

    /// `POST /v1/service-accounts/{id}/keys`: the response is the only place the key's
    /// plaintext (`svk_...`) appears.
    pub fn create_api_key(
        &self,
        service_account_id: &str,
        request: &CreateApiKeyRequest,
    ) -> Call<'_, CreateApiKeyResponse> {
        self.call(
            Method::POST,
            self.tenant_url(&["service-accounts", service_account_id, "keys"]),
        )
        .json(request)
    }

    /// `GET /v1/service-accounts/{id}/keys`: one page of active keys, never their values.
    pub fn list_api_keys(
        &self,
        service_account_id: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, ApiKeyList> {
        self.call(
            Method::GET,
            self.tenant_url(&["service-accounts", service_account_id, "keys"]),
        )
        .query_opt("limit", limit)
        .query_opt("cursor", cursor)
    }

    /// `DELETE /v1/service-accounts/{id}/keys/{key_id}` (`204 No Content`): the key is refused
    /// from the next request on.
    pub fn delete_api_key(&self, service_account_id: &str, key_id: &str) -> Call<'_, ()> {
        self.call(
            Method::DELETE,
            self.tenant_url(&["service-accounts", service_account_id, "keys", key_id]),
        )
    }

    // --- Partners, tenants, groups, registration -------------------------------------------

    /// `GET /v1/identity/partners`: one page (operators only).
    pub fn list_partners(&self, limit: Option<u32>, cursor: Option<&str>) -> Call<'_, PartnerList> {
        self.call(Method::GET, self.url(&["v1", "identity", "partners"], &[]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `POST /v1/identity/partners` (operators only).
    pub fn create_partner(&self, request: &CreatePartnerRequest) -> Call<'_, Partner> {
        self.call(Method::POST, self.url(&["v1", "identity", "partners"], &[]))
            .json(request)
    }

    /// `GET /v1/identity/tenants`: one page of the tenants in reach (a partner admin: the
    /// partner's; a tenant admin: its own).
    pub fn list_tenants(&self, limit: Option<u32>, cursor: Option<&str>) -> Call<'_, TenantList> {
        self.call(Method::GET, self.url(&["v1", "identity", "tenants"], &[]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/identity/tenants/{id}`
    pub fn get_tenant(&self, id: &str) -> Call<'_, Tenant> {
        self.call(
            Method::GET,
            self.url(&["v1", "identity", "tenants", id], &[]),
        )
    }

    /// `POST /v1/identity/tenants` (partner admins).
    pub fn create_tenant(&self, request: &CreateTenantRequest) -> Call<'_, Tenant> {
        self.call(Method::POST, self.url(&["v1", "identity", "tenants"], &[]))
            .json(request)
    }

    /// `GET /v1/identity/users/{identity_id}/groups`
    pub fn identity_groups(&self, identity_id: &str) -> Call<'_, GroupsResponse> {
        self.call(
            Method::GET,
            self.tenant_url(&["identity", "users", identity_id, "groups"]),
        )
    }

    /// `PUT /v1/identity/users/{identity_id}/groups`: replaces the identity's synced groups.
    pub fn set_identity_groups(
        &self,
        identity_id: &str,
        request: &SetGroupsRequest,
    ) -> Call<'_, GroupsResponse> {
        self.call(
            Method::PUT,
            self.tenant_url(&["identity", "users", identity_id, "groups"]),
        )
        .json(request)
    }

    /// `POST /v1/identity/register`: a new tenant (or partner) and its first admin. The
    /// response is the only place the admin's token appears.
    pub fn register(&self, request: &RegisterRequest) -> Call<'_, RegisterResponse> {
        self.call(Method::POST, self.url(&["v1", "identity", "register"], &[]))
            .json(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_routes_are_encoded_and_follow_the_tenant_context() {
        let c = Client::new("http://127.0.0.1:8200").unwrap();
        assert_eq!(
            c.delete_api_key("sva_a", "key/b").url.unwrap(),
            "http://127.0.0.1:8200/v1/service-accounts/sva_a/keys/key%2Fb"
        );
        let t = c.clone().with_tenant_id("tnt_acme");
        assert_eq!(
            t.list_api_keys("sva_a", None, None).url.unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/service-accounts/sva_a/keys"
        );
        assert_eq!(
            t.identity_groups("user:a@b.example").url.unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/identity/users/user%3Aa%40b.example/groups"
        );
        // Registration and tenant listing are not about one tenant.
        assert_eq!(
            t.list_tenants(None, None).url.unwrap(),
            "http://127.0.0.1:8200/v1/identity/tenants"
        );
        let register = t.register(&RegisterRequest {
            scope: "tenant".into(),
            tenant_slug: Some("acme".into()),
            partner_name: None,
            email: "admin@acme.example".into(),
            partner_id: None,
        });
        assert_eq!(
            register.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/identity/register"
        );
    }
}
