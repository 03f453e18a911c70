//! DNS providers by kind, as the server's API takes them: a kind name, non-secret `settings`
//! and secret `credentials` (two JSON objects, the second sealed by the server). [`check`]
//! refuses a bad configuration before anything is stored (no network); [`build`] makes the
//! provider and its propagation check when an order needs it.
//!
//! Settings every kind accepts beside its own:
//! - `nameservers`: `["ip:port", ...]`, where to look for the TXT record before asking the CA
//!   to validate; default the kind's own server (rfc2136) or the zone's authoritative servers;
//! - `propagation_timeout_seconds`: how long to wait for it (default 180, at most 600).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::azure::{AZURE_AUTHORITY, AZURE_MANAGEMENT};
use super::cloudflare::CLOUDFLARE_API;
use super::digitalocean::DIGITALOCEAN_API;
use super::google::GOOGLE_DNS_API;
use super::{
    AzureConfig, AzureProvider, CloudflareConfig, CloudflareProvider, DigitalOceanConfig,
    DigitalOceanProvider, DnsProvider, GoogleConfig, GoogleProvider, PropagationCheck,
    Rfc2136Config, Rfc2136Provider, Route53Config, Route53Provider, TsigAlgorithm,
};
use crate::AcmeError;

/// The kinds [`build`] knows, in the order the docs list them.
pub const KINDS: &[&str] = &[
    "rfc2136",
    "route53",
    "cloudflare",
    "google-clouddns",
    "azure-dns",
    "digitalocean",
];

/// A provider ready for one order: the DNS API and where to check propagation.
#[derive(Clone)]
pub struct BuiltProvider {
    pub provider: Arc<dyn DnsProvider>,
    pub propagation: PropagationCheck,
}

impl std::fmt::Debug for BuiltProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltProvider")
            .field("propagation", &self.propagation)
            .finish_non_exhaustive()
    }
}

/// At most ten minutes: the order worker holds an order for twenty.
const MAX_PROPAGATION: u64 = 600;

/// The settings every kind shares (taken out before the kind's own are read).
#[derive(Debug, Default)]
struct Common {
    nameservers: Vec<SocketAddr>,
    timeout: Option<Duration>,
}

fn common(settings: &mut Map<String, Value>) -> Result<Common, AcmeError> {
    let mut out = Common::default();
    if let Some(v) = settings.remove("nameservers") {
        let list: Vec<String> = serde_json::from_value(v).map_err(|_| {
            AcmeError::InvalidRequest("settings.nameservers: a list of \"ip:port\"".into())
        })?;
        for s in list {
            let addr = s
                .parse::<SocketAddr>()
                .or_else(|_| {
                    s.parse::<std::net::IpAddr>()
                        .map(|ip| SocketAddr::new(ip, 53))
                })
                .map_err(|_| {
                    AcmeError::InvalidRequest(format!(
                        "settings.nameservers: {s:?} is not an IP address (with an optional :port)"
                    ))
                })?;
            out.nameservers.push(addr);
        }
    }
    if let Some(v) = settings.remove("propagation_timeout_seconds") {
        let secs = v
            .as_u64()
            .filter(|s| (1..=MAX_PROPAGATION).contains(s))
            .ok_or_else(|| {
                AcmeError::InvalidRequest(format!(
                    "settings.propagation_timeout_seconds: 1 to {MAX_PROPAGATION}"
                ))
            })?;
        out.timeout = Some(Duration::from_secs(secs));
    }
    Ok(out)
}

fn object(what: &str, v: &Value) -> Result<Map<String, Value>, AcmeError> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::Null => Ok(Map::new()),
        _ => Err(AcmeError::InvalidRequest(format!(
            "{what} must be an object"
        ))),
    }
}

/// Reads one part strictly: unknown fields are refused, so a typo is not silently ignored.
/// Serde's message names the field, never a value.
fn part<T: DeserializeOwned>(
    kind: &str,
    what: &str,
    m: Map<String, Value>,
) -> Result<T, AcmeError> {
    serde_json::from_value(Value::Object(m))
        .map_err(|e| AcmeError::InvalidRequest(format!("{kind} {what}: {}", field_error(&e))))
}

/// serde's message when it names a field (unknown or missing); a generic one otherwise,
/// because "invalid type" messages quote the value, which may be a secret.
pub fn field_error(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    };
    if s.starts_with("unknown field") || s.starts_with("missing field") {
        s
    } else {
        "a field has the wrong type or value".to_owned()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rfc2136Settings {
    server: String,
    zone: String,
    tsig_key_name: String,
    #[serde(default)]
    tsig_algorithm: TsigAlgorithm,
    #[serde(default)]
    ttl: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rfc2136Credentials {
    tsig_secret: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Route53Settings {
    hosted_zone_id: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    endpoint_url: Option<String>,
    #[serde(default)]
    ttl: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Route53Credentials {
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    secret_access_key: Option<Zeroizing<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudflareSettings {
    zone_id: String,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(default)]
    api_url: Option<String>,
}

/// Cloudflare's and DigitalOcean's: one API token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenCredentials {
    api_token: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoogleSettings {
    project: String,
    managed_zone: String,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(default)]
    api_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoogleCredentials {
    service_account_json: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureSettings {
    subscription_id: String,
    resource_group: String,
    zone: String,
    tenant_id: String,
    client_id: String,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(default)]
    authority_url: Option<String>,
    #[serde(default)]
    management_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureCredentials {
    client_secret: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DigitalOceanSettings {
    domain: String,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(default)]
    api_url: Option<String>,
}

/// The TTL of the TXT records when the settings give none.
const DEFAULT_TTL: u32 = 60;

/// One kind's configuration, read and checked.
enum Config {
    Rfc2136(Rfc2136Config),
    Route53(Route53Config),
    Cloudflare(CloudflareConfig),
    Google(GoogleConfig),
    Azure(AzureConfig),
    DigitalOcean(DigitalOceanConfig),
}

fn socket_addr(what: &str, s: &str) -> Result<SocketAddr, AcmeError> {
    s.parse::<SocketAddr>()
        .or_else(|_| {
            s.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| {
            AcmeError::InvalidRequest(format!(
                "{what}: {s:?} is not an IP address (with an optional :port)"
            ))
        })
}

fn read(
    kind: &str,
    settings: Map<String, Value>,
    credentials: Map<String, Value>,
) -> Result<Config, AcmeError> {
    match kind {
        "rfc2136" => {
            let s: Rfc2136Settings = part(kind, "settings", settings)?;
            let c: Rfc2136Credentials = part(kind, "credentials", credentials)?;
            let config = Rfc2136Config {
                server: socket_addr("settings.server", &s.server)?,
                zone: s.zone,
                tsig_key_name: s.tsig_key_name,
                tsig_algorithm: s.tsig_algorithm,
                tsig_secret_b64: c.tsig_secret,
                ttl: s.ttl.unwrap_or(60),
            };
            // Decodes the secret and the names: a bad key is refused at creation.
            Rfc2136Provider::new(&config)?;
            Ok(Config::Rfc2136(config))
        }
        "route53" => {
            let s: Route53Settings = part(kind, "settings", settings)?;
            let c: Route53Credentials = part(kind, "credentials", credentials)?;
            if s.hosted_zone_id.trim().is_empty() {
                return Err(AcmeError::InvalidRequest(
                    "route53 settings: hosted_zone_id is empty".into(),
                ));
            }
            if c.access_key_id.is_some() != c.secret_access_key.is_some() {
                return Err(AcmeError::InvalidRequest(
                    "route53 credentials: give both access_key_id and secret_access_key, or neither (the AWS credential chain)".into(),
                ));
            }
            Ok(Config::Route53(Route53Config {
                hosted_zone_id: s.hosted_zone_id,
                region: s.region,
                endpoint_url: s.endpoint_url,
                access_key_id: c.access_key_id,
                secret_access_key: c.secret_access_key,
                ttl: s.ttl.unwrap_or(60),
            }))
        }
        "cloudflare" => {
            let s: CloudflareSettings = part(kind, "settings", settings)?;
            let c: TokenCredentials = part(kind, "credentials", credentials)?;
            let config = CloudflareConfig {
                zone_id: s.zone_id,
                api_token: c.api_token,
                ttl: s.ttl.unwrap_or(DEFAULT_TTL),
                api_url: s.api_url.unwrap_or_else(|| CLOUDFLARE_API.to_owned()),
            };
            CloudflareProvider::new(&config)?;
            Ok(Config::Cloudflare(config))
        }
        "google-clouddns" => {
            let s: GoogleSettings = part(kind, "settings", settings)?;
            let c: GoogleCredentials = part(kind, "credentials", credentials)?;
            let config = GoogleConfig {
                project: s.project,
                managed_zone: s.managed_zone,
                service_account_json: c.service_account_json,
                ttl: s.ttl.unwrap_or(DEFAULT_TTL),
                api_url: s.api_url.unwrap_or_else(|| GOOGLE_DNS_API.to_owned()),
            };
            // Parses the key file and its RSA key: a bad one is refused at creation.
            GoogleProvider::new(&config)?;
            Ok(Config::Google(config))
        }
        "azure-dns" => {
            let s: AzureSettings = part(kind, "settings", settings)?;
            let c: AzureCredentials = part(kind, "credentials", credentials)?;
            let config = AzureConfig {
                subscription_id: s.subscription_id,
                resource_group: s.resource_group,
                zone: s.zone,
                tenant_id: s.tenant_id,
                client_id: s.client_id,
                client_secret: c.client_secret,
                ttl: s.ttl.unwrap_or(DEFAULT_TTL),
                authority_url: s
                    .authority_url
                    .unwrap_or_else(|| AZURE_AUTHORITY.to_owned()),
                management_url: s
                    .management_url
                    .unwrap_or_else(|| AZURE_MANAGEMENT.to_owned()),
            };
            AzureProvider::new(&config)?;
            Ok(Config::Azure(config))
        }
        "digitalocean" => {
            let s: DigitalOceanSettings = part(kind, "settings", settings)?;
            let c: TokenCredentials = part(kind, "credentials", credentials)?;
            let config = DigitalOceanConfig {
                domain: s.domain,
                api_token: c.api_token,
                ttl: s.ttl.unwrap_or(DEFAULT_TTL),
                api_url: s.api_url.unwrap_or_else(|| DIGITALOCEAN_API.to_owned()),
            };
            DigitalOceanProvider::new(&config)?;
            Ok(Config::DigitalOcean(config))
        }
        other => Err(AcmeError::InvalidRequest(format!(
            "unknown DNS provider type {other:?}; one of {}",
            KINDS.join(", ")
        ))),
    }
}

/// Checks a configuration without touching the network: the kind exists, required fields are
/// there, no unknown field, secrets decode.
pub fn check(kind: &str, settings: &Value, credentials: &Value) -> Result<(), AcmeError> {
    let mut settings = object("settings", settings)?;
    common(&mut settings)?;
    read(kind, settings, object("credentials", credentials)?).map(|_| ())
}

/// Makes the provider and its propagation check.
pub async fn build(
    kind: &str,
    settings: &Value,
    credentials: &Value,
) -> Result<BuiltProvider, AcmeError> {
    let mut settings = object("settings", settings)?;
    let common = common(&mut settings)?;
    let (provider, own_server): (Arc<dyn DnsProvider>, Option<SocketAddr>) =
        match read(kind, settings, object("credentials", credentials)?)? {
            Config::Rfc2136(c) => (Arc::new(Rfc2136Provider::new(&c)?), Some(c.server)),
            Config::Route53(c) => (Arc::new(Route53Provider::new(&c).await?), None),
            Config::Cloudflare(c) => (Arc::new(CloudflareProvider::new(&c)?), None),
            Config::Google(c) => (Arc::new(GoogleProvider::new(&c)?), None),
            Config::Azure(c) => (Arc::new(AzureProvider::new(&c)?), None),
            Config::DigitalOcean(c) => (Arc::new(DigitalOceanProvider::new(&c)?), None),
        };
    let defaults = PropagationCheck::default();
    let propagation = PropagationCheck {
        nameservers: if common.nameservers.is_empty() {
            // The primary an RFC 2136 update went to answers first; others follow by NOTIFY.
            own_server.into_iter().collect()
        } else {
            common.nameservers
        },
        timeout: common.timeout.unwrap_or(defaults.timeout),
        ..defaults
    };
    Ok(BuiltProvider {
        provider,
        propagation,
    })
}

/// The propagation check of the common settings alone (`nameservers`,
/// `propagation_timeout_seconds`; other fields are ignored), for a provider kind the caller
/// implements itself (the server's `webhook`). No `nameservers`: the zone's authoritative
/// servers.
pub fn propagation(settings: &Value) -> Result<PropagationCheck, AcmeError> {
    let mut settings = object("settings", settings)?;
    let common = common(&mut settings)?;
    let mut check = PropagationCheck::on(common.nameservers);
    if let Some(t) = common.timeout {
        check.timeout = t;
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc2136_is_checked() {
        let settings = json!({"server": "127.0.0.1:5353", "zone": "example.com",
            "tsig_key_name": "acme", "nameservers": ["127.0.0.1:5353"]});
        assert!(check("rfc2136", &settings, &json!({"tsig_secret": "c2VjcmV0"})).is_ok());
        // A typo, a missing secret, a bad secret, a secret among the settings.
        assert!(check("rfc2136", &json!({"servr": "127.0.0.1"}), &json!({})).is_err());
        assert!(check("rfc2136", &settings, &json!({})).is_err());
        assert!(check("rfc2136", &settings, &json!({"tsig_secret": "not base64!"})).is_err());
        let mut leaked = settings.clone();
        leaked["tsig_secret"] = json!("c2VjcmV0");
        assert!(check("rfc2136", &leaked, &json!({"tsig_secret": "c2VjcmV0"})).is_err());
    }

    #[test]
    fn errors_never_echo_a_secret() {
        let err = check(
            "route53",
            &json!({"hosted_zone_id": "Z1"}),
            &json!({"access_key_id": "AKIA", "secret_access_key": 12345, "x": "hunter2"}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(!err.is_empty());
        assert!(!err.contains("hunter2") && !err.contains("12345"), "{err}");
    }

    #[test]
    fn route53_keys_come_in_pairs_and_unknown_kinds_are_named() {
        assert!(check("route53", &json!({"hosted_zone_id": "Z1"}), &json!({})).is_ok());
        assert!(
            check(
                "route53",
                &json!({"hosted_zone_id": "Z1"}),
                &json!({"access_key_id": "AKIA"})
            )
            .is_err()
        );
        let err = check("bind", &json!({}), &json!({}))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("rfc2136")));
        assert!(
            check(
                "rfc2136",
                &json!({"server": "x", "zone": "z.com", "tsig_key_name": "k",
                    "propagation_timeout_seconds": 0}),
                &json!({"tsig_secret": "c2VjcmV0"})
            )
            .is_err()
        );
    }
}
