//! dns-01 on Cloudflare, API v4 (<https://developers.cloudflare.com/api/resources/dns/subresources/records/>):
//! one DNS record per TXT value, so a wildcard's and its base's values are separate records.
//! present creates the record (an identical one already there is success); cleanup lists
//! the TXT records at the name and deletes those holding our value.

use reqwest::Url;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::web;
use super::{DnsProvider, TxtRecord};
use crate::AcmeError;

pub const CLOUDFLARE_API: &str = "https://api.cloudflare.com/client/v4";

/// "An identical record already exists." / "A record with the same settings already exists."
const ALREADY_EXISTS: [i64; 2] = [81057, 81058];

#[derive(Clone)]
pub struct CloudflareConfig {
    pub zone_id: String,
    /// An API token (Bearer) with Zone.DNS edit on the zone.
    pub api_token: Zeroizing<String>,
    pub ttl: u32,
    /// [`CLOUDFLARE_API`] unless another endpoint is given.
    pub api_url: String,
}

impl std::fmt::Debug for CloudflareConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareConfig")
            .field("zone_id", &self.zone_id)
            .field("ttl", &self.ttl)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

pub struct CloudflareProvider {
    http: reqwest::Client,
    base: Url,
    zone_id: String,
    token: Zeroizing<String>,
    ttl: u32,
}

impl std::fmt::Debug for CloudflareProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareProvider")
            .field("base", &self.base.as_str())
            .field("zone_id", &self.zone_id)
            .finish_non_exhaustive()
    }
}

const VENDOR: &str = "cloudflare";

#[derive(Deserialize)]
struct ListResponse {
    result: Vec<DnsRecord>,
}

#[derive(Deserialize)]
struct DnsRecord {
    id: String,
    #[serde(default)]
    content: String,
}

impl CloudflareProvider {
    pub fn new(config: &CloudflareConfig) -> Result<CloudflareProvider, AcmeError> {
        if config.zone_id.trim().is_empty() {
            return Err(AcmeError::InvalidRequest(
                "cloudflare: zone_id is empty".into(),
            ));
        }
        if config.api_token.trim().is_empty() {
            return Err(AcmeError::InvalidRequest(
                "cloudflare: api_token is empty".into(),
            ));
        }
        Ok(CloudflareProvider {
            http: web::client()?,
            base: web::base_url("cloudflare api_url", &config.api_url)?,
            zone_id: config.zone_id.trim().to_owned(),
            token: Zeroizing::new(config.api_token.trim().to_owned()),
            ttl: config.ttl,
        })
    }

    fn records_url(&self) -> Result<Url, AcmeError> {
        web::join(&self.base, &["zones", &self.zone_id, "dns_records"])
    }

    fn err(&self, what: &str, status: reqwest::StatusCode, body: &[u8]) -> AcmeError {
        web::status_error(VENDOR, what, status, body, &[self.token.as_str()])
    }

    /// The TXT records at `name` (no trailing dot).
    async fn list(&self, name: &str) -> Result<Vec<DnsRecord>, AcmeError> {
        let what = "list TXT records";
        let resp = self
            .http
            .get(self.records_url()?)
            .bearer_auth(self.token.as_str())
            .query(&[("type", "TXT"), ("name", name), ("per_page", "100")])
            .send()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?;
        if !status.is_success() {
            return Err(self.err(what, status, &body));
        }
        let list: ListResponse =
            serde_json::from_slice(&body).map_err(|_| web::unexpected(VENDOR, what))?;
        Ok(list.result)
    }
}

#[async_trait::async_trait]
impl DnsProvider for CloudflareProvider {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let what = "create TXT record";
        let resp = self
            .http
            .post(self.records_url()?)
            .bearer_auth(self.token.as_str())
            .json(&json!({
                "type": "TXT",
                "name": web::plain_name(&record.name),
                "content": record.value,
                "ttl": self.ttl,
            }))
            .send()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.bytes().await.unwrap_or_default();
        if web::error_codes(&body)
            .iter()
            .any(|c| ALREADY_EXISTS.contains(c))
        {
            return Ok(());
        }
        Err(self.err(what, status, &body))
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let what = "delete TXT record";
        let ours = self
            .list(&web::plain_name(&record.name))
            .await?
            .into_iter()
            .filter(|r| web::unquoted(&r.content) == record.value);
        for r in ours {
            let resp = self
                .http
                .delete(web::join(
                    &self.base,
                    &["zones", &self.zone_id, "dns_records", &r.id],
                )?)
                .bearer_auth(self.token.as_str())
                .send()
                .await
                .map_err(|e| web::transport(VENDOR, what, &e))?;
            let status = resp.status();
            // Gone already (another cleanup raced this one): done too.
            if !status.is_success() && status != reqwest::StatusCode::NOT_FOUND {
                let body = resp.bytes().await.unwrap_or_default();
                return Err(self.err(what, status, &body));
            }
        }
        Ok(())
    }
}
