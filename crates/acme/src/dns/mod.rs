//! dns-01: the [`DnsProvider`] trait (present a TXT record, clean it up; lego's two-method
//! shape), the providers, and the propagation check that runs outside them: before the CA is
//! asked to validate, the record must be visible on the zone's authoritative servers (or the
//! configured ones), so the CA does not look too early and fail the order.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_client::client::{Client, ClientHandle};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::runtime::TokioRuntimeProvider;
use hickory_proto::udp::UdpClientStream;

use crate::AcmeError;

pub mod azure;
pub mod cloudflare;
pub mod digitalocean;
pub mod google;
pub mod registry;
pub mod rfc2136;
pub mod route53;
mod web;

pub use azure::{AzureConfig, AzureProvider};
pub use cloudflare::{CloudflareConfig, CloudflareProvider};
pub use digitalocean::{DigitalOceanConfig, DigitalOceanProvider};
pub use google::{GoogleConfig, GoogleProvider};
pub use registry::{BuiltProvider, KINDS};
pub use rfc2136::{Rfc2136Config, Rfc2136Provider, TsigAlgorithm};
pub use route53::{Route53Config, Route53Provider};
pub use web::relative_name;

/// A dns-01 TXT record: `_acme-challenge.<domain>.` and the key authorization digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtRecord {
    /// Fully qualified, with the trailing dot.
    pub name: String,
    pub value: String,
}

/// A DNS API that can add and remove one TXT value. Both must be idempotent and must leave
/// other values at the same name alone (a wildcard and its base share one name).
#[async_trait::async_trait]
pub trait DnsProvider: Send + Sync {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError>;
    /// Called after validation, also after a failure.
    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError>;
}

/// Where and how long to look for a presented TXT value before asking the CA to validate.
#[derive(Debug, Clone)]
pub struct PropagationCheck {
    /// Query these servers; empty: find the zone's authoritative servers (NS) through the
    /// system resolver and query each of them on port 53.
    pub nameservers: Vec<SocketAddr>,
    /// The whole wait, bounded.
    pub timeout: Duration,
    /// First pause between queries; doubled after each miss up to `max_delay`.
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for PropagationCheck {
    fn default() -> Self {
        PropagationCheck {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(180),
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// One query's time limit.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn fqdn(name: &str) -> Result<Name, AcmeError> {
    let mut n = Name::from_str(name)
        .map_err(|e| AcmeError::InvalidRequest(format!("DNS name {name:?}: {e}")))?;
    n.set_fqdn(true);
    Ok(n)
}

impl PropagationCheck {
    /// Checks only the given servers (e.g. the RFC 2136 primary).
    pub fn on(nameservers: Vec<SocketAddr>) -> PropagationCheck {
        PropagationCheck {
            nameservers,
            ..PropagationCheck::default()
        }
    }

    /// Waits until every server answers `record.value` among the TXT values at its name.
    pub async fn wait_visible(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let name = fqdn(&record.name)?;
        let servers = if self.nameservers.is_empty() {
            authoritative_servers(&name).await?
        } else {
            self.nameservers.clone()
        };
        let start = Instant::now();
        for server in servers {
            let mut delay = self.initial_delay;
            loop {
                match txt_values(server, &name).await {
                    Ok(values) if values.iter().any(|v| v == &record.value) => break,
                    Ok(_) => {}
                    Err(e) => tracing::debug!(%server, error = %e, "TXT propagation query failed"),
                }
                if start.elapsed() + delay > self.timeout {
                    return Err(AcmeError::Propagation {
                        name: record.name.clone(),
                        server: server.to_string(),
                        waited: start.elapsed(),
                    });
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.max_delay);
            }
        }
        Ok(())
    }
}

/// The TXT values `server` answers for `name` (each value's strings joined, RFC 7208 style).
pub async fn txt_values(server: SocketAddr, name: &Name) -> Result<Vec<String>, AcmeError> {
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::new())
        .with_timeout(Some(QUERY_TIMEOUT))
        .build();
    let (mut client, background) = Client::connect(stream)
        .await
        .map_err(|e| AcmeError::Dns(format!("connecting to {server}: {e}")))?;
    let bg = tokio::spawn(background);
    let response = client
        .query(name.clone(), DNSClass::IN, RecordType::TXT)
        .await
        .map_err(|e| AcmeError::Dns(format!("TXT {name} at {server}: {e}")));
    bg.abort();
    let response = response?;
    Ok(response
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::TXT(txt) => Some(
                txt.txt_data()
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect())
}

/// The authoritative servers of the zone holding `name`: walk up until a name has NS
/// records, resolve each NS host (system resolver), port 53.
async fn authoritative_servers(name: &Name) -> Result<Vec<SocketAddr>, AcmeError> {
    let resolver = hickory_resolver::TokioResolver::builder_tokio()
        .map_err(|e| AcmeError::Dns(format!("system resolver: {e}")))?
        .build();
    let mut zone = name.clone();
    while zone.num_labels() > 1 {
        zone = zone.base_name();
        let Ok(ns) = resolver.lookup(zone.clone(), RecordType::NS).await else {
            continue;
        };
        let hosts: Vec<Name> = ns
            .iter()
            .filter_map(|r| match r {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        if hosts.is_empty() {
            continue;
        }
        let mut servers = Vec::new();
        for host in hosts {
            if let Ok(ips) = resolver.lookup_ip(host).await {
                servers.extend(ips.iter().map(|ip| SocketAddr::new(ip, 53)));
            }
        }
        if servers.is_empty() {
            return Err(AcmeError::Dns(format!(
                "no address for the name servers of {zone}"
            )));
        }
        return Ok(servers);
    }
    Err(AcmeError::Dns(format!(
        "no zone with NS records above {name}"
    )))
}
