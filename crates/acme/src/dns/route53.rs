//! dns-01 on Amazon Route 53 (the AWS SDK; any endpoint speaking its API, e.g. moto in
//! tests). Route 53 replaces whole record sets, so present/cleanup read the TXT set at the
//! name and write it back with one value added or removed: a wildcard and its base name
//! share `_acme-challenge`.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_route53::config::Credentials;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
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

#[derive(Debug, Clone)]
pub struct Route53Provider {
    client: aws_sdk_route53::Client,
    zone_id: String,
    ttl: i64,
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
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
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region));
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
        })
    }

    /// The TXT values (quoted) at `name`, and the set's TTL, if the set exists.
    async fn current(&self, name: &str) -> Result<Option<(Vec<String>, i64)>, AcmeError> {
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .start_record_name(name)
            .start_record_type(RrType::Txt)
            .max_items(1)
            .send()
            .await
            .map_err(|e| AcmeError::Dns(format!("route53 ListResourceRecordSets: {e:?}")))?;
        Ok(out
            .resource_record_sets()
            .iter()
            .find(|s| same_name(s.name(), name) && s.r#type() == &RrType::Txt)
            .map(|s| {
                (
                    s.resource_records()
                        .iter()
                        .map(|r| r.value().to_owned())
                        .collect(),
                    s.ttl().unwrap_or(self.ttl),
                )
            }))
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
        let value = quoted(&record.value);
        let mut values = match self.current(&record.name).await? {
            Some((values, _)) => values,
            None => Vec::new(),
        };
        if values.contains(&value) {
            return Ok(());
        }
        values.push(value);
        self.change(ChangeAction::Upsert, &record.name, &values, self.ttl)
            .await
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let value = quoted(&record.value);
        let Some((values, ttl)) = self.current(&record.name).await? else {
            return Ok(());
        };
        if !values.contains(&value) {
            return Ok(());
        }
        let rest: Vec<String> = values.iter().filter(|v| **v != value).cloned().collect();
        if rest.is_empty() {
            // DELETE must name the set exactly as it is.
            self.change(ChangeAction::Delete, &record.name, &values, ttl)
                .await
        } else {
            self.change(ChangeAction::Upsert, &record.name, &rest, ttl)
                .await
        }
    }
}
