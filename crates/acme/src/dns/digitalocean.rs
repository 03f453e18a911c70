//! dns-01 on DigitalOcean, API v2 (<https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records>):
//! one domain record per TXT value, names relative to the domain. present lists the TXT
//! records at the name and creates ours unless it is there; cleanup deletes the records
//! holding our value.

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::web;
use super::{DnsProvider, TxtRecord};
use crate::AcmeError;

pub const DIGITALOCEAN_API: &str = "https://api.digitalocean.com/v2";

#[derive(Clone)]
pub struct DigitalOceanConfig {
    /// The domain (zone) as DigitalOcean has it, e.g. `example.com`.
    pub domain: String,
    /// A personal access token with write scope (Bearer).
    pub api_token: Zeroizing<String>,
    /// At least 30 (DigitalOcean's minimum).
    pub ttl: u32,
    /// [`DIGITALOCEAN_API`] unless another endpoint is given.
    pub api_url: String,
}

impl std::fmt::Debug for DigitalOceanConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitalOceanConfig")
            .field("domain", &self.domain)
            .field("ttl", &self.ttl)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

pub struct DigitalOceanProvider {
    http: reqwest::Client,
    base: Url,
    domain: String,
    token: Zeroizing<String>,
    ttl: u32,
    /// One list-then-create at a time from this process (two presents of one value must
    /// not both create it).
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DigitalOceanProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitalOceanProvider")
            .field("base", &self.base.as_str())
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

const VENDOR: &str = "digitalocean";

#[derive(Deserialize)]
struct ListResponse {
    domain_records: Vec<DomainRecord>,
}

#[derive(Deserialize)]
struct DomainRecord {
    id: u64,
    #[serde(default)]
    data: String,
}

impl DigitalOceanProvider {
    pub fn new(config: &DigitalOceanConfig) -> Result<DigitalOceanProvider, AcmeError> {
        let domain = web::plain_name(config.domain.trim());
        if domain.is_empty() {
            return Err(AcmeError::InvalidRequest(
                "digitalocean: domain is empty".into(),
            ));
        }
        if config.api_token.trim().is_empty() {
            return Err(AcmeError::InvalidRequest(
                "digitalocean: api_token is empty".into(),
            ));
        }
        if config.ttl < 30 {
            return Err(AcmeError::InvalidRequest(
                "digitalocean: ttl must be at least 30".into(),
            ));
        }
        Ok(DigitalOceanProvider {
            http: web::client()?,
            base: web::base_url("digitalocean api_url", &config.api_url)?,
            domain,
            token: Zeroizing::new(config.api_token.trim().to_owned()),
            ttl: config.ttl,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    fn err(&self, what: &str, status: StatusCode, body: &[u8]) -> AcmeError {
        web::status_error(VENDOR, what, status, body, &[self.token.as_str()])
    }

    /// The TXT records at `record`'s name holding its value.
    async fn ours(&self, record: &TxtRecord) -> Result<Vec<DomainRecord>, AcmeError> {
        let what = "list TXT records";
        let resp = self
            .http
            .get(web::join(
                &self.base,
                &["domains", &self.domain, "records"],
            )?)
            .bearer_auth(self.token.as_str())
            .query(&[
                ("type", "TXT"),
                ("name", web::plain_name(&record.name).as_str()),
                ("per_page", "200"),
            ])
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
        Ok(list
            .domain_records
            .into_iter()
            .filter(|r| web::unquoted(&r.data) == record.value)
            .collect())
    }
}

#[async_trait::async_trait]
impl DnsProvider for DigitalOceanProvider {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let name = web::relative_name(&record.name, &self.domain)?;
        let _one = self.lock.lock().await;
        if !self.ours(record).await?.is_empty() {
            return Ok(());
        }
        let what = "create TXT record";
        let resp = self
            .http
            .post(web::join(
                &self.base,
                &["domains", &self.domain, "records"],
            )?)
            .bearer_auth(self.token.as_str())
            .json(&json!({"type": "TXT", "name": name, "data": record.value, "ttl": self.ttl}))
            .send()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(self.err(what, status, &body))
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        web::relative_name(&record.name, &self.domain)?;
        let what = "delete TXT record";
        for r in self.ours(record).await? {
            let id = r.id.to_string();
            let resp = self
                .http
                .delete(web::join(
                    &self.base,
                    &["domains", &self.domain, "records", &id],
                )?)
                .bearer_auth(self.token.as_str())
                .send()
                .await
                .map_err(|e| web::transport(VENDOR, what, &e))?;
            let status = resp.status();
            if !status.is_success() && status != StatusCode::NOT_FOUND {
                let body = resp.bytes().await.unwrap_or_default();
                return Err(self.err(what, status, &body));
            }
        }
        Ok(())
    }
}
