//! dns-01 on Azure DNS, the Resource Manager REST API 2018-05-01
//! (<https://learn.microsoft.com/en-us/rest/api/dns/record-sets>): a TXT record set holds every
//! value at a name; present and cleanup read it (404: none), merge or remove our value and PUT
//! it back (`If-Match` its etag, or `If-None-Match: *` when creating, so a concurrent writer
//! is not overwritten: on 412 the set is read again), or DELETE it when no value is left.
//!
//! Access tokens: OAuth2 client credentials at the Microsoft identity platform
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>),
//! scope `{management_url}/.default`, cached until shortly before they expire.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::Zeroizing;

use super::web;
use super::{DnsProvider, TxtRecord};
use crate::AcmeError;

pub const AZURE_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const AZURE_MANAGEMENT: &str = "https://management.azure.com";
pub const AZURE_DNS_API_VERSION: &str = "2018-05-01";

const ATTEMPTS: usize = 4;

#[derive(Clone)]
pub struct AzureConfig {
    pub subscription_id: String,
    pub resource_group: String,
    /// The DNS zone's name, e.g. `example.com`.
    pub zone: String,
    pub tenant_id: String,
    /// The app registration (service principal) id.
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
    pub ttl: u32,
    /// [`AZURE_AUTHORITY`] unless another (a national cloud, a test) is given.
    pub authority_url: String,
    /// [`AZURE_MANAGEMENT`] unless another is given.
    pub management_url: String,
}

impl std::fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureConfig")
            .field("subscription_id", &self.subscription_id)
            .field("resource_group", &self.resource_group)
            .field("zone", &self.zone)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("ttl", &self.ttl)
            .field("authority_url", &self.authority_url)
            .field("management_url", &self.management_url)
            .finish_non_exhaustive()
    }
}

pub struct AzureProvider {
    http: reqwest::Client,
    token_url: Url,
    scope: String,
    management: Url,
    subscription_id: String,
    resource_group: String,
    zone: String,
    client_id: String,
    client_secret: Zeroizing<String>,
    ttl: u32,
    token: web::CachedToken,
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AzureProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureProvider")
            .field("management", &self.management.as_str())
            .field("subscription_id", &self.subscription_id)
            .field("resource_group", &self.resource_group)
            .field("zone", &self.zone)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

const VENDOR: &str = "azure-dns";

#[derive(Deserialize)]
struct RecordSet {
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    properties: Properties,
}

#[derive(Deserialize, Default)]
struct Properties {
    #[serde(rename = "TTL", default)]
    ttl: Option<u32>,
    #[serde(rename = "TXTRecords", default)]
    txt_records: Vec<TxtValue>,
}

/// One TXT record: its character strings (joined, they are the value).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
struct TxtValue {
    #[serde(default)]
    value: Vec<String>,
}

impl TxtValue {
    fn joined(&self) -> String {
        self.value.concat()
    }
}

impl AzureProvider {
    pub fn new(config: &AzureConfig) -> Result<AzureProvider, AcmeError> {
        for (field, v) in [
            ("subscription_id", &config.subscription_id),
            ("resource_group", &config.resource_group),
            ("zone", &config.zone),
            ("tenant_id", &config.tenant_id),
            ("client_id", &config.client_id),
        ] {
            if v.trim().is_empty() {
                return Err(AcmeError::InvalidRequest(format!(
                    "azure-dns: {field} is empty"
                )));
            }
        }
        if config.client_secret.is_empty() {
            return Err(AcmeError::InvalidRequest(
                "azure-dns: client_secret is empty".into(),
            ));
        }
        let authority = web::base_url("azure-dns authority_url", &config.authority_url)?;
        let management = web::base_url("azure-dns management_url", &config.management_url)?;
        Ok(AzureProvider {
            http: web::client()?,
            token_url: web::join(
                &authority,
                &[config.tenant_id.trim(), "oauth2", "v2.0", "token"],
            )?,
            scope: format!("{}/.default", management.as_str().trim_end_matches('/')),
            management,
            subscription_id: config.subscription_id.trim().to_owned(),
            resource_group: config.resource_group.trim().to_owned(),
            zone: web::plain_name(config.zone.trim()),
            client_id: config.client_id.trim().to_owned(),
            client_secret: config.client_secret.clone(),
            ttl: config.ttl,
            token: web::CachedToken::default(),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    async fn access_token(&self) -> Result<Zeroizing<String>, AcmeError> {
        self.token.get(|| self.fetch_token()).await
    }

    async fn fetch_token(&self) -> Result<(Zeroizing<String>, Duration), AcmeError> {
        let what = "token";
        let resp = self
            .http
            .post(self.token_url.clone())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("scope", self.scope.as_str()),
            ])
            .send()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?;
        if !resp.status().is_success() {
            return Err(web::read_error(VENDOR, what, resp, &[self.client_secret.as_str()]).await);
        }
        let body = Zeroizing::new(
            resp.bytes()
                .await
                .map_err(|e| web::transport(VENDOR, what, &e))?
                .to_vec(),
        );
        let token: web::TokenResponse =
            serde_json::from_slice(&body).map_err(|_| web::unexpected(VENDOR, what))?;
        Ok((
            token.access_token,
            Duration::from_secs(token.expires_in.unwrap_or(3600)),
        ))
    }

    fn set_url(&self, relative: &str) -> Result<Url, AcmeError> {
        let mut url = web::join(
            &self.management,
            &[
                "subscriptions",
                &self.subscription_id,
                "resourceGroups",
                &self.resource_group,
                "providers",
                "Microsoft.Network",
                "dnsZones",
                &self.zone,
                "TXT",
                relative,
            ],
        )?;
        url.query_pairs_mut()
            .append_pair("api-version", AZURE_DNS_API_VERSION);
        Ok(url)
    }

    async fn call(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>, Zeroizing<String>), AcmeError> {
        let token = self.access_token().await?;
        let resp = req
            .bearer_auth(token.as_str())
            .send()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED {
            self.token.clear().await;
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?
            .to_vec();
        Ok((status, body, token))
    }

    fn err(&self, what: &str, status: StatusCode, body: &[u8], token: &str) -> AcmeError {
        web::status_error(
            VENDOR,
            what,
            status,
            body,
            &[token, self.client_secret.as_str()],
        )
    }

    async fn read(&self, url: &Url) -> Result<Option<RecordSet>, AcmeError> {
        let what = "get record set";
        let (status, body, token) = self.call(what, self.http.get(url.clone())).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.err(what, status, &body, &token));
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|_| web::unexpected(VENDOR, what))
    }

    /// Reads the set, lets `edit` change its values, writes it back when they changed.
    async fn update(
        &self,
        record: &TxtRecord,
        edit: impl Fn(&mut Vec<TxtValue>),
    ) -> Result<(), AcmeError> {
        let relative = web::relative_name(&record.name, &self.zone)?;
        let url = self.set_url(&relative)?;
        let _one = self.lock.lock().await;
        for _ in 0..ATTEMPTS {
            let current = self.read(&url).await?;
            let mut values = current
                .as_ref()
                .map(|s| s.properties.txt_records.clone())
                .unwrap_or_default();
            let before = values.clone();
            edit(&mut values);
            if values == before {
                return Ok(());
            }
            let etag = current.as_ref().and_then(|s| s.etag.clone());
            let (what, req) = if values.is_empty() {
                let req = self.http.delete(url.clone());
                ("delete record set", req)
            } else {
                let ttl = current
                    .as_ref()
                    .and_then(|s| s.properties.ttl)
                    .map_or(self.ttl, |t| t.min(self.ttl));
                let req = self.http.put(url.clone()).json(&json!({
                    "properties": {"TTL": ttl, "TXTRecords": values}
                }));
                ("put record set", req)
            };
            let req = match (&current, etag) {
                (Some(_), Some(etag)) => req.header("If-Match", etag),
                (None, _) => req.header("If-None-Match", "*"),
                (Some(_), None) => req,
            };
            let (status, body, token) = self.call(what, req).await?;
            if status.is_success() {
                return Ok(());
            }
            if status == StatusCode::PRECONDITION_FAILED {
                continue;
            }
            if status == StatusCode::NOT_FOUND && values.is_empty() {
                return Ok(());
            }
            return Err(self.err(what, status, &body, &token));
        }
        Err(AcmeError::Dns(format!(
            "{VENDOR}: the TXT set {relative} in {} kept changing; tried {ATTEMPTS} times",
            self.zone
        )))
    }
}

#[async_trait::async_trait]
impl DnsProvider for AzureProvider {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.update(record, |values| {
            if !values.iter().any(|v| v.joined() == record.value) {
                values.push(TxtValue {
                    value: vec![record.value.clone()],
                });
            }
        })
        .await
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.update(record, |values| {
            values.retain(|v| v.joined() != record.value);
        })
        .await
    }
}
