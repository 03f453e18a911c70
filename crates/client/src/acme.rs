//! `/v1/pki/acme/*` and `/v1/pki/dns-providers`: certificates from ACME CAs (docs/acme.md).
//! When the client acts as a tenant ([`Client::with_tenant_id`]) the routes are sent under
//! `/v1/t/{tenant}/`.

use reqwest::Method;
use scaivault_proto::acme::{
    AcmeAccount, AcmeAccountList, AcmeOrder, AcmeOrderList, CreateAcmeOrderRequest,
    CreateDnsProviderRequest, DnsProvider, DnsProviderList, RegisterAcmeAccountRequest,
};

use crate::{Call, Client};

impl Client {
    /// `POST /v1/pki/acme/accounts`: registers at the CA (terms of service agreed explicitly).
    pub fn register_acme_account(
        &self,
        request: &RegisterAcmeAccountRequest,
    ) -> Call<'_, AcmeAccount> {
        self.call(Method::POST, self.tenant_url(&["pki", "acme", "accounts"]))
            .json(request)
    }

    /// `GET /v1/pki/acme/accounts`: one page.
    pub fn list_acme_accounts(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, AcmeAccountList> {
        self.call(Method::GET, self.tenant_url(&["pki", "acme", "accounts"]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/pki/acme/accounts/{id}`
    pub fn get_acme_account(&self, id: &str) -> Call<'_, AcmeAccount> {
        self.call(
            Method::GET,
            self.tenant_url(&["pki", "acme", "accounts", id]),
        )
    }

    /// `POST /v1/pki/acme/accounts/{id}/deactivate`: for good, at the CA too.
    pub fn deactivate_acme_account(&self, id: &str) -> Call<'_, AcmeAccount> {
        self.call(
            Method::POST,
            self.tenant_url(&["pki", "acme", "accounts", id, "deactivate"]),
        )
    }

    /// `POST /v1/pki/dns-providers`
    pub fn create_dns_provider(&self, request: &CreateDnsProviderRequest) -> Call<'_, DnsProvider> {
        self.call(Method::POST, self.tenant_url(&["pki", "dns-providers"]))
            .json(request)
    }

    /// `GET /v1/pki/dns-providers`: one page.
    pub fn list_dns_providers(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, DnsProviderList> {
        self.call(Method::GET, self.tenant_url(&["pki", "dns-providers"]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/pki/dns-providers/{id}`
    pub fn get_dns_provider(&self, id: &str) -> Call<'_, DnsProvider> {
        self.call(Method::GET, self.tenant_url(&["pki", "dns-providers", id]))
    }

    /// `DELETE /v1/pki/dns-providers/{id}`
    pub fn delete_dns_provider(&self, id: &str) -> Call<'_, ()> {
        self.call(
            Method::DELETE,
            self.tenant_url(&["pki", "dns-providers", id]),
        )
    }

    /// `POST /v1/pki/acme/orders`: answered at once (`202`); the order runs in the background.
    pub fn create_acme_order(&self, request: &CreateAcmeOrderRequest) -> Call<'_, AcmeOrder> {
        self.call(Method::POST, self.tenant_url(&["pki", "acme", "orders"]))
            .json(request)
    }

    /// `GET /v1/pki/acme/orders`: one page, optionally of one status.
    pub fn list_acme_orders(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, AcmeOrderList> {
        self.call(Method::GET, self.tenant_url(&["pki", "acme", "orders"]))
            .query_opt("status", status)
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/pki/acme/orders/{id}`
    pub fn get_acme_order(&self, id: &str) -> Call<'_, AcmeOrder> {
        self.call(Method::GET, self.tenant_url(&["pki", "acme", "orders", id]))
    }
}
