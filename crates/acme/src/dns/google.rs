//! dns-01 on Google Cloud DNS, API v1 (<https://cloud.google.com/dns/docs/reference/rest/v1>):
//! a TXT record set holds every value at a name, so present and cleanup read the set and send
//! one change replacing it whole (the set as read in `deletions`, the new one in `additions`);
//! Cloud DNS refuses the change when the set moved meanwhile, and the provider reads again.
//!
//! Access tokens come from the service account key file by the OAuth2 JWT bearer flow
//! (<https://developers.google.com/identity/protocols/oauth2/service-account#httprest>): an
//! RS256 JWT signed with the key, exchanged at the key file's `token_uri`, cached until
//! shortly before it expires.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::Zeroizing;

use super::web;
use super::{DnsProvider, TxtRecord};
use crate::AcmeError;

pub const GOOGLE_DNS_API: &str = "https://dns.googleapis.com/dns/v1";
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_DNS_SCOPE: &str = "https://www.googleapis.com/auth/ndev.clouddns.readwrite";

/// Attempts when the record set changed between the read and the change.
const ATTEMPTS: usize = 4;

#[derive(Clone)]
pub struct GoogleConfig {
    pub project: String,
    /// The managed zone's name (not its DNS name).
    pub managed_zone: String,
    /// The service account key file, as JSON text.
    pub service_account_json: Zeroizing<String>,
    pub ttl: u32,
    /// [`GOOGLE_DNS_API`] unless another endpoint is given.
    pub api_url: String,
}

impl std::fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("project", &self.project)
            .field("managed_zone", &self.managed_zone)
            .field("ttl", &self.ttl)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The fields of a service account key file this provider uses.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    client_email: String,
    private_key: Zeroizing<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// A parsed key file: who signs, with what, for which token endpoint.
pub(crate) struct ServiceAccount {
    client_email: String,
    key_id: Option<String>,
    key: EncodingKey,
    token_uri: Url,
}

/// Reads and checks a key file (no network). Errors never quote the file.
pub(crate) fn service_account(json_text: &str) -> Result<ServiceAccount, AcmeError> {
    let bad = |why: &str| {
        AcmeError::InvalidRequest(format!("google-clouddns service_account_json: {why}"))
    };
    let file: KeyFile = serde_json::from_str(json_text).map_err(|_| {
        bad("not a service account key file (JSON with client_email and private_key)")
    })?;
    if file.kind.as_deref().is_some_and(|k| k != "service_account") {
        return Err(bad("type is not service_account"));
    }
    if file.client_email.trim().is_empty() {
        return Err(bad("client_email is empty"));
    }
    let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes())
        .map_err(|_| bad("private_key is not an RSA private key in PEM"))?;
    let token_uri = web::base_url(
        "google-clouddns service_account_json token_uri",
        file.token_uri.as_deref().unwrap_or(GOOGLE_TOKEN_URI),
    )?;
    Ok(ServiceAccount {
        client_email: file.client_email.trim().to_owned(),
        key_id: file.private_key_id,
        key,
        token_uri,
    })
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

pub struct GoogleProvider {
    http: reqwest::Client,
    base: Url,
    project: String,
    zone: String,
    account: ServiceAccount,
    ttl: u32,
    token: web::CachedToken,
    /// One read-modify-write at a time from this process.
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for GoogleProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleProvider")
            .field("base", &self.base.as_str())
            .field("project", &self.project)
            .field("managed_zone", &self.zone)
            .field("client_email", &self.account.client_email)
            .finish_non_exhaustive()
    }
}

const VENDOR: &str = "google-clouddns";

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
struct RecordSet {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    ttl: u32,
    rrdatas: Vec<String>,
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    rrsets: Vec<RecordSet>,
}

/// How a change ended.
enum Outcome {
    Done,
    /// The set is not as read (409 alreadyExists, 412 conditionNotMet): read again.
    Moved,
}

impl GoogleProvider {
    pub fn new(config: &GoogleConfig) -> Result<GoogleProvider, AcmeError> {
        if config.project.trim().is_empty() || config.managed_zone.trim().is_empty() {
            return Err(AcmeError::InvalidRequest(
                "google-clouddns: project and managed_zone are required".into(),
            ));
        }
        Ok(GoogleProvider {
            http: web::client()?,
            base: web::base_url("google-clouddns api_url", &config.api_url)?,
            project: config.project.trim().to_owned(),
            zone: config.managed_zone.trim().to_owned(),
            account: service_account(&config.service_account_json)?,
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
        #[allow(
            clippy::disallowed_methods,
            reason = "the JWT's iat and exp are checked against Google's real clock, not a test clock"
        )]
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            iss: &self.account.client_email,
            scope: GOOGLE_DNS_SCOPE,
            aud: self.account.token_uri.as_str(),
            iat: now,
            exp: now + 3600,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.account.key_id);
        let assertion = Zeroizing::new(
            jsonwebtoken::encode(&header, &claims, &self.account.key)
                .map_err(|e| AcmeError::Dns(format!("{VENDOR} signing the token request: {e}")))?,
        );
        let resp = self
            .http
            .post(self.account.token_uri.clone())
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| web::transport(VENDOR, what, &e))?;
        if !resp.status().is_success() {
            return Err(web::read_error(VENDOR, what, resp, &[assertion.as_str()]).await);
        }
        let body = Zeroizing::new(
            resp.bytes()
                .await
                .map_err(|e| web::transport(VENDOR, what, &e))?
                .to_vec(),
        );
        let token: web::TokenResponse =
            serde_json::from_slice(&body).map_err(|_| web::unexpected(VENDOR, what))?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        Ok((token.access_token, lifetime))
    }

    fn zone_url(&self, tail: &str) -> Result<Url, AcmeError> {
        web::join(
            &self.base,
            &["projects", &self.project, "managedZones", &self.zone, tail],
        )
    }

    /// A request with the bearer token; a 401 forgets the cached token.
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

    /// The TXT set at `fqdn` (with its trailing dot), if any.
    async fn read(&self, fqdn: &str) -> Result<Option<RecordSet>, AcmeError> {
        let what = "list record sets";
        let req = self
            .http
            .get(self.zone_url("rrsets")?)
            .query(&[("name", fqdn), ("type", "TXT")]);
        let (status, body, token) = self.call(what, req).await?;
        if !status.is_success() {
            return Err(web::status_error(
                VENDOR,
                what,
                status,
                &body,
                &[token.as_str()],
            ));
        }
        let list: ListResponse =
            serde_json::from_slice(&body).map_err(|_| web::unexpected(VENDOR, what))?;
        Ok(list
            .rrsets
            .into_iter()
            .find(|s| s.kind == "TXT" && s.name.eq_ignore_ascii_case(fqdn)))
    }

    async fn change(
        &self,
        deletion: Option<&RecordSet>,
        addition: Option<&RecordSet>,
    ) -> Result<Outcome, AcmeError> {
        let what = "change record sets";
        let body = json!({
            "kind": "dns#change",
            "additions": addition.into_iter().collect::<Vec<_>>(),
            "deletions": deletion.into_iter().collect::<Vec<_>>(),
        });
        let req = self.http.post(self.zone_url("changes")?).json(&body);
        let (status, body, token) = self.call(what, req).await?;
        if status.is_success() {
            Ok(Outcome::Done)
        } else if status == StatusCode::CONFLICT || status == StatusCode::PRECONDITION_FAILED {
            Ok(Outcome::Moved)
        } else {
            Err(web::status_error(
                VENDOR,
                what,
                status,
                &body,
                &[token.as_str()],
            ))
        }
    }

    /// Reads the set, lets `edit` change its values, writes it back when they changed.
    async fn update(
        &self,
        record: &TxtRecord,
        edit: impl Fn(&mut Vec<String>),
    ) -> Result<(), AcmeError> {
        let _one = self.lock.lock().await;
        let fqdn = format!("{}.", web::plain_name(&record.name));
        for _ in 0..ATTEMPTS {
            let current = self.read(&fqdn).await?;
            let mut values = current
                .as_ref()
                .map(|s| s.rrdatas.clone())
                .unwrap_or_default();
            let before = values.clone();
            edit(&mut values);
            if values == before {
                return Ok(());
            }
            let next = (!values.is_empty()).then(|| RecordSet {
                name: fqdn.clone(),
                kind: "TXT".into(),
                ttl: current.as_ref().map_or(self.ttl, |s| s.ttl.min(self.ttl)),
                rrdatas: values,
            });
            match self.change(current.as_ref(), next.as_ref()).await? {
                Outcome::Done => return Ok(()),
                Outcome::Moved => continue,
            }
        }
        Err(AcmeError::Dns(format!(
            "{VENDOR}: the TXT set at {fqdn} kept changing; tried {ATTEMPTS} times"
        )))
    }
}

/// Cloud DNS keeps TXT data as quoted character strings.
fn quoted(value: &str) -> String {
    format!("\"{value}\"")
}

#[async_trait::async_trait]
impl DnsProvider for GoogleProvider {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.update(record, |values| {
            if !values.iter().any(|v| web::unquoted(v) == record.value) {
                values.push(quoted(&record.value));
            }
        })
        .await
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.update(record, |values| {
            values.retain(|v| web::unquoted(v) != record.value);
        })
        .await
    }
}
