//! dns-01 on Amazon Route 53 (the AWS SDK; any endpoint speaking its API, e.g. moto in
//! tests). Route 53 replaces whole record sets, and a wildcard and its base name share one
//! `_acme-challenge` name, so the provider owns the TXT set at each challenge name: it keeps
//! the values it presents there and writes the whole set (UPSERT), or DELETEs it when the
//! last value goes. Only write calls are made (no ListResourceRecordSets read-modify-write:
//! one round trip per change, no read permission needed). A value something else wrote at
//! an `_acme-challenge` name is replaced; such names exist only for ACME.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_route53::config::Credentials;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{DnsProvider, TxtRecord};
use crate::AcmeError;

#[derive(Clone, Serialize, Deserialize)]
pub struct Route53Config {
    pub hosted_zone_id: String,
    /// Route 53 is global; the SDK still wants a region (us-east-1 when unset).
    #[serde(default)]
    pub region: Option<String>,
    /// Another endpoint (moto, a VPC endpoint); unset: AWS's.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Static keys; unset: the standard AWS credential chain.
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<Zeroizing<String>>,
    #[serde(default = "default_ttl")]
    pub ttl: i64,
}

fn default_ttl() -> i64 {
    60
}

impl std::fmt::Debug for Route53Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route53Config")
            .field("hosted_zone_id", &self.hosted_zone_id)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

pub struct Route53Provider {
    client: aws_sdk_route53::Client,
    zone_id: String,
    ttl: i64,
    /// Challenge name (lower case, no trailing dot) -> the values presented there now.
    owned: tokio::sync::Mutex<HashMap<String, Vec<String>>>,
}

impl std::fmt::Debug for Route53Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route53Provider")
            .field("zone_id", &self.zone_id)
            .finish_non_exhaustive()
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// TXT values travel quoted in Route 53's API.
fn quoted(value: &str) -> String {
    format!("\"{value}\"")
}

impl Route53Provider {
    pub async fn new(config: &Route53Config) -> Result<Route53Provider, AcmeError> {
        let zone_id = config
            .hosted_zone_id
            .trim()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        if zone_id.is_empty() {
            return Err(AcmeError::InvalidRequest("hosted_zone_id is empty".into()));
        }
        let region = config
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region));
        match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => {
                loader = loader.credentials_provider(Credentials::new(
                    id.clone(),
                    secret.to_string(),
                    None,
                    None,
                    "scaivault-acme",
                ));
            }
            (None, None) => {}
            _ => {
                return Err(AcmeError::InvalidRequest(
                    "route53: give both access_key_id and secret_access_key, or neither".into(),
                ));
            }
        }
        if let Some(endpoint) = config.endpoint_url.as_deref().filter(|e| !e.is_empty()) {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        Ok(Route53Provider {
            client: aws_sdk_route53::Client::new(&sdk),
            zone_id,
            ttl: config.ttl,
            owned: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn change(
        &self,
        action: ChangeAction,
        name: &str,
        values: &[String],
        ttl: i64,
    ) -> Result<(), AcmeError> {
        let records = values
            .iter()
            .map(|v| ResourceRecord::builder().value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AcmeError::Dns(format!("route53 record: {e}")))?;
        let set = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::Txt)
            .ttl(ttl)
            .set_resource_records(Some(records))
            .build()
            .map_err(|e| AcmeError::Dns(format!("route53 record set: {e}")))?;
        let change = Change::builder()
            .action(action)
            .resource_record_set(set)
            .build()
            .map_err(|e| AcmeError::Dns(format!("route53 change: {e}")))?;
        let batch = ChangeBatch::builder()
            .comment("scaivault ACME dns-01")
            .changes(change)
            .build()
            .map_err(|e| AcmeError::Dns(format!("route53 change batch: {e}")))?;
        self.client
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| AcmeError::Dns(format!("route53 ChangeResourceRecordSets: {e:?}")))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl DnsProvider for Route53Provider {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        // Held across the call: two presents at one name must not race each other's set.
        let mut owned = self.owned.lock().await;
        let mut values = owned.get(&key(&record.name)).cloned().unwrap_or_default();
        let value = quoted(&record.value);
        if !values.contains(&value) {
            values.push(value);
        }
        // Written even when unchanged: after a restart the set may be gone.
        self.change(ChangeAction::Upsert, &record.name, &values, self.ttl)
            .await?;
        owned.insert(key(&record.name), values);
        Ok(())
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let mut owned = self.owned.lock().await;
        let Some(values) = owned.get(&key(&record.name)).cloned() else {
            // Not presented by this provider (e.g. a restart lost its memory): remove the set
            // outright. DELETE must match the set exactly, so first make it a known one.
            let value = quoted(&record.value);
            let values = vec![value];
            self.change(ChangeAction::Upsert, &record.name, &values, self.ttl)
                .await?;
            return self
                .change(ChangeAction::Delete, &record.name, &values, self.ttl)
                .await;
        };
        let value = quoted(&record.value);
        let rest: Vec<String> = values.iter().filter(|v| **v != value).cloned().collect();
        if rest.len() == values.len() {
            return Ok(());
        }
        if rest.is_empty() {
            // DELETE must name the set exactly as written.
            self.change(ChangeAction::Delete, &record.name, &values, self.ttl)
                .await?;
            owned.remove(&key(&record.name));
        } else {
            self.change(ChangeAction::Upsert, &record.name, &rest, self.ttl)
                .await?;
            owned.insert(key(&record.name), rest);
        }
        Ok(())
    }
}
