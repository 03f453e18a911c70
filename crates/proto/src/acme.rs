//! `/v1/pki/acme` and `/v1/pki/dns-providers`: certificates from ACME CAs (Let's Encrypt,
//! ZeroSSL, Buypass, Google, any RFC 8555 CA). Accounts, DNS providers for dns-01, and orders
//! that run asynchronously; the certificates they yield are tracked with the PKI's
//! (`/v1/pki/certs`). docs/acme.md.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Timestamp;

/// `POST /v1/pki/acme/accounts`: registers a new account at the CA (a fresh key, generated and
/// sealed here). Its `Debug` leaves the EAB HMAC key out.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAcmeAccountRequest {
    /// `letsencrypt`, `letsencrypt-staging`, `zerossl`, `buypass`, `buypass-staging`,
    /// `google`, `google-staging` or `custom` (any RFC 8555 CA, with `directory_url`).
    pub provider: String,
    /// The contact address the CA sends expiry and policy notices to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Required for `custom`; the presets know theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_url: Option<String>,
    /// External account binding: required by ZeroSSL and Google, optional elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
    /// The EAB HMAC key as the CA prints it (base64url). Used once, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_hmac_key: Option<String>,
    /// PEM roots to trust for the CA's HTTPS endpoint (a private CA); default the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// Must be `true`: the CA's terms of service were shown and agreed to.
    #[serde(default)]
    pub terms_of_service_agreed: bool,
}

impl std::fmt::Debug for RegisterAcmeAccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterAcmeAccountRequest")
            .field("provider", &self.provider)
            .field("email", &self.email)
            .field("directory_url", &self.directory_url)
            .field("eab_kid", &self.eab_kid)
            .field("terms_of_service_agreed", &self.terms_of_service_agreed)
            .finish_non_exhaustive()
    }
}

/// An account at an ACME CA. Its key never leaves the server.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AcmeAccount {
    /// `acme_...`
    pub id: String,
    pub provider: String,
    pub directory_url: String,
    /// `mailto:` URLs.
    pub contacts: Vec<String>,
    /// `valid` or `deactivated`.
    pub status: String,
    /// The account's URL at the CA.
    pub account_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AcmeAccountList {
    pub accounts: Vec<AcmeAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/pki/dns-providers`: a DNS API for dns-01 challenges (docs/dns-providers.md).
/// `credentials` are sealed at once and never returned.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDnsProviderRequest {
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9][a-z0-9._-]*$")]
    pub name: String,
    /// `rfc2136`, `route53`, `cloudflare`, `google-clouddns`, `azure-dns`, `digitalocean` or
    /// `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's settings, none of them secret.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// The type's secrets (TSIG key, API token, ...).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub credentials: Map<String, Value>,
}

impl std::fmt::Debug for CreateDnsProviderRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateDnsProviderRequest")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field(
                "credentials",
                &format_args!("<{} fields>", self.credentials.len()),
            )
            .finish()
    }
}

/// A DNS provider; never its credentials.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct DnsProvider {
    /// `dnsp_...`
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// The names of the stored credentials, never their values.
    pub credential_fields: Vec<String>,
    /// `webhook` only, in the answer to its creation when ScaiVault generated it: the
    /// `whsec_...` secret the receiver verifies signatures with. Shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for DnsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field("credential_fields", &self.credential_fields)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DnsProviderList {
    pub dns_providers: Vec<DnsProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/pki/acme/orders`: a certificate from the account's CA. The order runs in the
/// background; poll `GET /v1/pki/acme/orders/{id}` (or wait for `certificate.issued`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAcmeOrderRequest {
    /// `acme_...`
    pub account_id: String,
    /// DNS names; `*.name` wildcards need dns-01. The first is the certificate's subject.
    pub domains: Vec<String>,
    /// `http-01` or `dns-01`.
    pub challenge: String,
    /// dns-01: the DNS provider (`dnsp_...`); may be left out when the tenant has exactly one.
    /// http-01: optionally a `webhook` provider that receives the token for another front end;
    /// without it ScaiVault answers the CA itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_provider_id: Option<String>,
    /// `ecdsa-p256` (default) or `rsa-2048` (what every public ACME CA accepts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// Where the certificate and key are stored as a secret; default `pki/acme/<first name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// An order and where it stands.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AcmeOrder {
    /// `acmeo_...`
    pub id: String,
    pub account_id: String,
    pub domains: Vec<String>,
    pub challenge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_provider_id: Option<String>,
    pub key_type: String,
    /// `pending` (not started), `scheduled` (a renewal waiting for its time), `processing`
    /// (at the CA), `valid` (the certificate is stored) or `failed` (see `problem`).
    pub status: String,
    /// The order's URL at the CA, once created there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_url: Option<String>,
    /// The issued certificate (`cert_...`), once `valid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// The secret the certificate and key are written to.
    pub secret_path: String,
    /// The CA's problem document (RFC 7807) of the last failure, or ScaiVault's own in the
    /// same shape (`type` `urn:scaivault:acme:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub problem: Option<Value>,
    /// Attempts so far (retries back off).
    pub attempts: u32,
    /// When the order is next worked on (unless final).
    pub next_attempt_at: Timestamp,
    /// The certificate this order renews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_of: Option<String>,
    pub requested_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AcmeOrderList {
    pub orders: Vec<AcmeOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}
