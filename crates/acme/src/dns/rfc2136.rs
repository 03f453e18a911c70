//! dns-01 through RFC 2136 dynamic updates signed with TSIG (RFC 8945): any standard DNS
//! server (BIND, Knot, PowerDNS, Windows DNS). The update goes to the zone's primary over TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hickory_client::client::{Client, ClientHandle};
use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm as HickoryTsigAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::runtime::TokioRuntimeProvider;
use hickory_proto::tcp::TcpClientStream;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{DnsProvider, TxtRecord, fqdn};
use crate::AcmeError;

/// The TSIG MACs hickory can compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TsigAlgorithm {
    #[default]
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    #[serde(rename = "hmac-sha384")]
    HmacSha384,
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl TsigAlgorithm {
    fn hickory(self) -> HickoryTsigAlgorithm {
        match self {
            TsigAlgorithm::HmacSha256 => HickoryTsigAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => HickoryTsigAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => HickoryTsigAlgorithm::HmacSha512,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Rfc2136Config {
    /// The zone's primary (address and port).
    pub server: SocketAddr,
    /// The zone to update, e.g. `example.com` (records must lie inside it).
    pub zone: String,
    pub tsig_key_name: String,
    #[serde(default)]
    pub tsig_algorithm: TsigAlgorithm,
    /// The TSIG secret, base64 as `keymgr`/`tsig-keygen` print it.
    pub tsig_secret_b64: Zeroizing<String>,
    /// TTL of the TXT records (short: they live minutes).
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

fn default_ttl() -> u32 {
    60
}

impl std::fmt::Debug for Rfc2136Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136Config")
            .field("server", &self.server)
            .field("zone", &self.zone)
            .field("tsig_key_name", &self.tsig_key_name)
            .field("tsig_algorithm", &self.tsig_algorithm)
            .finish_non_exhaustive()
    }
}

pub struct Rfc2136Provider {
    server: SocketAddr,
    zone: Name,
    signer: TSigner,
    ttl: u32,
}

impl std::fmt::Debug for Rfc2136Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136Provider")
            .field("server", &self.server)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

/// Clock skew TSIG tolerates (RFC 8945 recommends 300 s).
const TSIG_FUDGE: u16 = 300;
const UPDATE_TIMEOUT: Duration = Duration::from_secs(10);

impl Rfc2136Provider {
    pub fn new(config: &Rfc2136Config) -> Result<Rfc2136Provider, AcmeError> {
        let secret = Zeroizing::new(
            STANDARD
                .decode(config.tsig_secret_b64.trim())
                .map_err(|_| AcmeError::InvalidRequest("TSIG secret is not base64".into()))?,
        );
        if secret.is_empty() {
            return Err(AcmeError::InvalidRequest("TSIG secret is empty".into()));
        }
        let key_name = fqdn(&config.tsig_key_name)?;
        let signer = TSigner::new(
            secret.to_vec(),
            config.tsig_algorithm.hickory(),
            key_name,
            TSIG_FUDGE,
        )
        .map_err(|e| AcmeError::InvalidRequest(format!("TSIG key: {e}")))?;
        Ok(Rfc2136Provider {
            server: config.server,
            zone: fqdn(&config.zone)?,
            signer,
            ttl: config.ttl,
        })
    }

    fn record(&self, record: &TxtRecord) -> Result<Record, AcmeError> {
        let name = fqdn(&record.name)?;
        // hickory asserts this; refuse instead of panicking on a mis-configured zone.
        if !self.zone.zone_of(&name) {
            return Err(AcmeError::InvalidRequest(format!(
                "{name} is not inside the zone {}",
                self.zone
            )));
        }
        Ok(Record::from_rdata(
            name,
            self.ttl,
            RData::TXT(TXT::new(vec![record.value.clone()])),
        ))
    }

    async fn client(&self) -> Result<Client, AcmeError> {
        let (stream, sender) = TcpClientStream::new(
            self.server,
            None,
            Some(UPDATE_TIMEOUT),
            TokioRuntimeProvider::new(),
        );
        let (client, background) = Client::with_timeout(
            stream,
            sender,
            UPDATE_TIMEOUT,
            Some(Arc::new(self.signer.clone())),
        )
        .await
        .map_err(|e| AcmeError::Dns(format!("connecting to {}: {e}", self.server)))?;
        tokio::spawn(background);
        Ok(client)
    }

    fn check(&self, what: &str, code: ResponseCode) -> Result<(), AcmeError> {
        if code == ResponseCode::NoError {
            Ok(())
        } else {
            Err(AcmeError::Dns(format!(
                "{what} refused by {}: {code} (check the TSIG key and the server's update ACL)",
                self.server
            )))
        }
    }
}

#[async_trait::async_trait]
impl DnsProvider for Rfc2136Provider {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let rr = self.record(record)?;
        let mut client = self.client().await?;
        // Append, not replace: a wildcard and its base name share `_acme-challenge`.
        let response = client
            .append(rr, self.zone.clone(), false)
            .await
            .map_err(|e| AcmeError::Dns(format!("update to {}: {e}", self.server)))?;
        self.check("adding the TXT record", response.response_code())
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let rr = self.record(record)?;
        let mut client = self.client().await?;
        let response = client
            .delete_by_rdata(rr, self.zone.clone())
            .await
            .map_err(|e| AcmeError::Dns(format!("update to {}: {e}", self.server)))?;
        self.check("deleting the TXT record", response.response_code())
    }
}
