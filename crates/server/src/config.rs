//! Server configuration: a TOML file for production, overridable key by key with `SCAIVAULT_*`
//! environment variables (`listen` <- `SCAIVAULT_LISTEN`, `data_dir` <- `SCAIVAULT_DATA_DIR`,
//! ...). Dev mode needs none of it. Every key is documented in docs/configuration.md.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

use crate::StartupError;

/// Keys that may come from the environment (so unrelated `SCAIVAULT_*` variables of the CLI,
/// such as `SCAIVAULT_TOKEN`, are never mistaken for configuration).
const ENV_KEYS: [&str; 45] = [
    "listen",
    "public_url",
    "data_dir",
    "storage",
    "database_url",
    "database_max_connections",
    "database_statement_timeout",
    "tls_cert_file",
    "tls_key_file",
    "allow_plain_http",
    "root_key_file",
    "unseal_retry_interval",
    "log_format",
    "log_level",
    "bootstrap_tenant_id",
    "bootstrap_partner_id",
    "soft_delete_retention",
    "max_body_bytes",
    "read_connections",
    "audit_retention",
    "audit_archive_dir",
    "min_free_disk",
    "event_replay_window",
    "dead_letter_retention",
    "audit_checkpoint_interval",
    "audit_log_file",
    "audit_log_file_max_bytes",
    "audit_log_file_keep",
    "audit_syslog",
    "jwt_jwks_min_refresh",
    "webhook_timeout",
    "webhook_retry_base",
    "webhook_retry_window",
    "expiry_warning",
    "expiry_check_interval",
    "rotation_check_interval",
    "lease_sweep_interval",
    "dynamic_max_leases_per_tenant",
    "acme_check_interval",
    "acme_http01_listen",
    "metrics_enabled",
    "metrics_listen",
    "metrics_per_tenant",
    "metrics_refresh_interval",
    "otlp_endpoint",
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The base URL clients reach this server at (`https://vault.example.com`): issued
    /// certificates name their CA's CRL and OCSP endpoints under it. Default: the listen
    /// address (`http://127.0.0.1:8200`), right for dev mode only.
    pub public_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub storage: Storage,
    pub database_url: Option<String>,
    /// PostgreSQL pool size per node.
    #[serde(default = "default_database_max_connections")]
    pub database_max_connections: u32,
    /// PostgreSQL: the server-side limit on every statement; a request whose statement runs
    /// longer (a held lock, an overloaded database) fails with 503 and changes nothing.
    #[serde(default = "default_database_statement_timeout")]
    pub database_statement_timeout: String,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Serve plain HTTP without TLS. Only behind a TLS-terminating proxy on a trusted network.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// The root key file (base64, 32 bytes, mode 0600) of the `file` provider; created by
    /// `scaivault operator init`.
    pub root_key_file: Option<PathBuf>,
    /// Where the root key lives: `[root_key] provider = "file" | "awskms" | "pkcs11" | "tpm"`
    /// and each provider's section (docs/keys.md).
    #[serde(default)]
    pub root_key: scaivault_keys::RootKeyConfig,
    /// How often a sealed server (root key provider unavailable at start) tries it again.
    #[serde(default = "default_unseal_retry_interval")]
    pub unseal_retry_interval: String,
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Tenant and partner of the bootstrap admin created by `operator init` (named so that the
    /// CLI's `SCAIVAULT_TENANT_ID` / `SCAIVAULT_PARTNER_ID` never configure a server by accident).
    #[serde(default = "default_tenant")]
    pub bootstrap_tenant_id: String,
    #[serde(default = "default_partner")]
    pub bootstrap_partner_id: String,
    #[serde(default = "default_retention")]
    pub soft_delete_retention: String,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    #[serde(default = "default_read_connections")]
    pub read_connections: u32,
    /// Audit entries older than this are archived (zstd segments in `audit_archive_dir`) and
    /// pruned from the database, chains staying verifiable; `"forever"` keeps everything.
    #[serde(default = "default_audit_retention")]
    pub audit_retention: String,
    /// Where archived audit segments go; default `<data_dir>/audit-archive`.
    pub audit_archive_dir: Option<PathBuf>,
    /// Below this much free space on the data (and archive) disk `/health/ready` warns:
    /// bytes (`"1GiB"`, `"500MB"`) or a share of the disk (`"5%"`).
    #[serde(default = "default_min_free_disk")]
    pub min_free_disk: String,
    /// Outbox events stay this long for polls to replay (webhook subscriptions keep theirs
    /// until delivered); events no subscription could receive are pruned at once.
    #[serde(default = "default_event_replay_window")]
    pub event_replay_window: String,
    /// Dead-lettered webhook deliveries are listed this long.
    #[serde(default = "default_dead_letter_retention")]
    pub dead_letter_retention: String,
    #[serde(default = "default_checkpoint_interval")]
    pub audit_checkpoint_interval: String,
    /// SIEM sink: append every audit entry as a JSON line to this file.
    pub audit_log_file: Option<PathBuf>,
    #[serde(default = "default_audit_file_max")]
    pub audit_log_file_max_bytes: u64,
    #[serde(default = "default_audit_file_keep")]
    pub audit_log_file_keep: u32,
    /// SIEM sink: send every audit entry to this syslog receiver (`host:port`, UDP, RFC 5424).
    pub audit_syslog: Option<String>,
    /// Trusted ScaiKey issuers (`[[jwt_issuers]]` tables); none: JWTs are refused.
    #[serde(default)]
    pub jwt_issuers: Vec<scaivault_jwt::IssuerConfig>,
    /// Fetch an issuer's JWKS at most this often (first fetch, refresh on an unknown `kid`).
    #[serde(default = "default_jwks_min_refresh")]
    pub jwt_jwks_min_refresh: String,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`["10.0.0.0/8"]`); see
    /// `client_ip.rs`. Empty: the TCP peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Networks webhooks may point into although they are internal (`["10.0.0.0/8"]`).
    #[serde(default)]
    pub webhook_allowed_networks: Vec<String>,
    #[serde(default = "default_webhook_timeout")]
    pub webhook_timeout: String,
    /// First retry delay of a failing webhook (doubling, capped at 1h, with jitter).
    #[serde(default = "default_webhook_retry_base")]
    pub webhook_retry_base: String,
    /// How long a failing event is retried before it is dead-lettered.
    #[serde(default = "default_webhook_retry_window")]
    pub webhook_retry_window: String,
    /// `secret.expiring` is announced when a secret is this close to its expiry.
    #[serde(default = "default_expiry_warning")]
    pub expiry_warning: String,
    /// How often expiry notices are checked for.
    #[serde(default = "default_expiry_check_interval")]
    pub expiry_check_interval: String,
    /// How often the rotation scheduler looks for due rotations and warnings.
    #[serde(default = "default_rotation_check_interval")]
    pub rotation_check_interval: String,
    /// How often the lease sweeper revokes expired leases and retries failed revocations.
    #[serde(default = "default_lease_sweep_interval")]
    pub lease_sweep_interval: String,
    /// Cap on a tenant's live dynamic-credential leases.
    #[serde(default = "default_dynamic_max_leases_per_tenant")]
    pub dynamic_max_leases_per_tenant: u32,
    /// How often the ACME order worker looks for due orders and renewals besides being woken
    /// by a new order (docs/acme.md).
    #[serde(default = "default_acme_check_interval")]
    pub acme_check_interval: String,
    /// A plain-HTTP listener answering only `/.well-known/acme-challenge/{token}` (the CA
    /// connects to port 80 of the names ordered with http-01); the API listener answers it too.
    pub acme_http01_listen: Option<String>,
    /// Prometheus metrics at `/v1/sys/metrics` (docs/monitoring.md); off: nothing recorded.
    #[serde(default = "default_true")]
    pub metrics_enabled: bool,
    /// A second, unauthenticated listener serving only `/metrics` (an internal address).
    pub metrics_listen: Option<String>,
    /// Tenant ids as labels of `scaivault_tenant_requests_total` (cardinality grows with tenants).
    #[serde(default)]
    pub metrics_per_tenant: bool,
    /// How often the store-derived gauges (secret counts, expiring, backlog) are re-read.
    #[serde(default = "default_metrics_refresh_interval")]
    pub metrics_refresh_interval: String,
    /// OTLP/HTTP endpoint of a trace collector (`http://collector:4318`); unset: no tracing.
    pub otlp_endpoint: Option<String>,
    /// `[rate_limits]`: per identity, per tenant, per client IP (docs/configuration.md).
    #[serde(default)]
    pub rate_limits: crate::ratelimit::RateLimitConfig,
}

/// Parses the duration `value` of configuration key `key`, which must be at least one second.
fn at_least_one_second(key: &str, value: &str) -> Result<Duration, StartupError> {
    let d = scaivault_core::parse_duration(value)
        .map_err(|e| StartupError::Config(format!("{key}: {e}")))?;
    if d < Duration::from_secs(1) {
        return Err(StartupError::Config(format!("{key} must be at least 1s")));
    }
    Ok(d)
}

fn default_true() -> bool {
    true
}
fn default_metrics_refresh_interval() -> String {
    "60s".to_owned()
}
fn default_listen() -> String {
    "127.0.0.1:8200".to_owned()
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_tenant() -> String {
    "tnt_default".to_owned()
}
fn default_partner() -> String {
    "ptn_default".to_owned()
}
fn default_retention() -> String {
    "30d".to_owned()
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_read_connections() -> u32 {
    4
}
fn default_expiry_warning() -> String {
    "7d".to_owned()
}
fn default_expiry_check_interval() -> String {
    "60s".to_owned()
}
fn default_rotation_check_interval() -> String {
    "10s".to_owned()
}
fn default_lease_sweep_interval() -> String {
    "5s".to_owned()
}
fn default_acme_check_interval() -> String {
    "30s".to_owned()
}
fn default_dynamic_max_leases_per_tenant() -> u32 {
    1000
}
fn default_database_max_connections() -> u32 {
    16
}
fn default_database_statement_timeout() -> String {
    "30s".to_owned()
}
fn default_webhook_timeout() -> String {
    "10s".to_owned()
}
fn default_webhook_retry_base() -> String {
    "1s".to_owned()
}
fn default_webhook_retry_window() -> String {
    "24h".to_owned()
}
fn default_jwks_min_refresh() -> String {
    "10s".to_owned()
}
fn default_audit_retention() -> String {
    "30d".to_owned()
}

fn default_event_replay_window() -> String {
    "7d".to_owned()
}

fn default_dead_letter_retention() -> String {
    "30d".to_owned()
}

fn default_min_free_disk() -> String {
    "1GiB".to_owned()
}

fn default_checkpoint_interval() -> String {
    "60s".to_owned()
}
fn default_audit_file_max() -> u64 {
    100 * 1024 * 1024
}
fn default_audit_file_keep() -> u32 {
    5
}

fn default_unseal_retry_interval() -> String {
    "5s".into()
}

/// The `[root_key]` settings that may come from the environment:
/// `SCAIVAULT_ROOT_KEY_PROVIDER` -> `root_key.provider`, `SCAIVAULT_ROOT_KEY_PKCS11_PIN` ->
/// `root_key.pkcs11.pin`, ... (the variable names without their prefix, lowercased).
fn root_key_env_key(key: &str) -> Option<String> {
    const KEYS: [&str; 13] = [
        "provider",
        "awskms.key_id",
        "awskms.region",
        "awskms.endpoint_url",
        "pkcs11.module",
        "pkcs11.token_label",
        "pkcs11.key_label",
        "pkcs11.pin",
        "pkcs11.pin_file",
        "tpm.tcti",
        "tpm.key_file",
        "tpm.pin",
        "tpm.pin_file",
    ];
    let key = key.to_ascii_lowercase();
    KEYS.iter()
        .find(|k| k.replacen('.', "_", 1) == key)
        .map(|k| format!("root_key.{k}"))
}

impl Config {
    /// Reads `file` (if given) and then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, StartupError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                return Err(StartupError::Config(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("SCAIVAULT_").only(&ENV_KEYS));
        figment = figment.merge(
            Env::prefixed("SCAIVAULT_ROOT_KEY_")
                .filter_map(|key| root_key_env_key(key.as_str()).map(Into::into)),
        );
        let config: Config = figment
            .extract()
            .map_err(|e| StartupError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The defaults, as dev mode uses them.
    pub fn dev_defaults() -> Self {
        Self {
            listen: default_listen(),
            public_url: None,
            data_dir: None,
            storage: Storage::Sqlite,
            database_url: None,
            database_max_connections: default_database_max_connections(),
            database_statement_timeout: default_database_statement_timeout(),
            tls_cert_file: None,
            tls_key_file: None,
            allow_plain_http: true,
            root_key_file: None,
            root_key: scaivault_keys::RootKeyConfig::default(),
            unseal_retry_interval: default_unseal_retry_interval(),
            log_format: LogFormat::Text,
            log_level: default_log_level(),
            bootstrap_tenant_id: "tnt_dev".to_owned(),
            bootstrap_partner_id: "ptn_dev".to_owned(),
            soft_delete_retention: default_retention(),
            max_body_bytes: default_max_body(),
            read_connections: default_read_connections(),
            audit_retention: default_audit_retention(),
            audit_archive_dir: None,
            min_free_disk: default_min_free_disk(),
            event_replay_window: default_event_replay_window(),
            dead_letter_retention: default_dead_letter_retention(),
            audit_checkpoint_interval: default_checkpoint_interval(),
            audit_log_file: None,
            audit_log_file_max_bytes: default_audit_file_max(),
            audit_log_file_keep: default_audit_file_keep(),
            audit_syslog: None,
            jwt_issuers: Vec::new(),
            webhook_allowed_networks: Vec::new(),
            trusted_proxies: Vec::new(),
            expiry_warning: default_expiry_warning(),
            expiry_check_interval: default_expiry_check_interval(),
            rotation_check_interval: default_rotation_check_interval(),
            lease_sweep_interval: default_lease_sweep_interval(),
            dynamic_max_leases_per_tenant: default_dynamic_max_leases_per_tenant(),
            acme_check_interval: default_acme_check_interval(),
            acme_http01_listen: None,
            metrics_enabled: true,
            metrics_listen: None,
            metrics_per_tenant: false,
            metrics_refresh_interval: default_metrics_refresh_interval(),
            otlp_endpoint: None,
            webhook_timeout: default_webhook_timeout(),
            webhook_retry_base: default_webhook_retry_base(),
            webhook_retry_window: default_webhook_retry_window(),
            jwt_jwks_min_refresh: default_jwks_min_refresh(),
            // Dev servers are hammered locally by tests and tools: no per-IP limits there.
            rate_limits: crate::ratelimit::RateLimitConfig {
                unauthenticated: crate::ratelimit::Limit::OFF,
                auth_failures: crate::ratelimit::Limit::OFF,
                ..crate::ratelimit::RateLimitConfig::default()
            },
        }
    }

    fn validate(&self) -> Result<(), StartupError> {
        if self.storage == Storage::Postgres && self.database_url.is_none() {
            return Err(StartupError::Config(
                "storage = \"postgres\" needs database_url (or SCAIVAULT_DATABASE_URL)".into(),
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(StartupError::Config(
                "tls_cert_file and tls_key_file must be set together".into(),
            ));
        }
        self.retention()?;
        if self.bootstrap_tenant_id.starts_with("ptn_")
            || !self.bootstrap_partner_id.starts_with("ptn_")
        {
            return Err(StartupError::Config(
                "bootstrap_partner_id must start with ptn_ and bootstrap_tenant_id must not".into(),
            ));
        }
        self.audit_retention()?;
        self.min_free_disk()?;
        self.event_retention()?;
        self.audit_checkpoint_interval()?;
        self.jwt_options()?;
        self.webhooks()?;
        self.trusted_proxies()?;
        self.expiry_notices()?;
        self.lease_sweep_interval()?;
        self.acme_check_interval()?;
        self.metrics_refresh_interval()?;
        if let Some(endpoint) = &self.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(StartupError::Config(
                "otlp_endpoint must be an http:// or https:// URL (OTLP over HTTP)".into(),
            ));
        }
        if self.dynamic_max_leases_per_tenant == 0 {
            return Err(StartupError::Config(
                "dynamic_max_leases_per_tenant must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(StartupError::Config(
                "public_url must be an http:// or https:// URL".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(StartupError::Config(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    pub fn database_statement_timeout(&self) -> Result<Duration, StartupError> {
        at_least_one_second(
            "database_statement_timeout",
            &self.database_statement_timeout,
        )
    }

    pub fn retention(&self) -> Result<Duration, StartupError> {
        scaivault_core::parse_duration(&self.soft_delete_retention)
            .map_err(|e| StartupError::Config(format!("soft_delete_retention: {e}")))
    }

    /// `None`: `"forever"`.
    pub fn audit_retention(&self) -> Result<Option<Duration>, StartupError> {
        if self.audit_retention.trim() == "forever" {
            return Ok(None);
        }
        let d = scaivault_core::parse_duration(&self.audit_retention)
            .map_err(|e| StartupError::Config(format!("audit_retention: {e} (or \"forever\")")))?;
        if d < Duration::from_secs(3600) {
            return Err(StartupError::Config(
                "audit_retention must be at least 1h (or \"forever\")".into(),
            ));
        }
        Ok(Some(d))
    }

    /// The audit archive's directory.
    pub fn audit_archive_dir(&self, data_dir: &Path) -> PathBuf {
        self.audit_archive_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("audit-archive"))
    }

    /// (`event_replay_window`, `dead_letter_retention`).
    pub fn event_retention(&self) -> Result<(Duration, Duration), StartupError> {
        let replay = scaivault_core::parse_duration(&self.event_replay_window)
            .map_err(|e| StartupError::Config(format!("event_replay_window: {e}")))?;
        let dead = scaivault_core::parse_duration(&self.dead_letter_retention)
            .map_err(|e| StartupError::Config(format!("dead_letter_retention: {e}")))?;
        Ok((replay, dead))
    }

    pub fn min_free_disk(&self) -> Result<crate::disk::MinFree, StartupError> {
        crate::disk::MinFree::parse(&self.min_free_disk)
            .map_err(|e| StartupError::Config(format!("min_free_disk: {e}")))
    }

    pub fn audit_checkpoint_interval(&self) -> Result<Duration, StartupError> {
        at_least_one_second("audit_checkpoint_interval", &self.audit_checkpoint_interval)
    }

    pub fn jwt_options(&self) -> Result<scaivault_jwt::VerifierOptions, StartupError> {
        let min_refresh = scaivault_core::parse_duration(&self.jwt_jwks_min_refresh)
            .map_err(|e| StartupError::Config(format!("jwt_jwks_min_refresh: {e}")))?;
        Ok(scaivault_jwt::VerifierOptions {
            unknown_kid_refresh_min_interval: min_refresh,
            ..scaivault_jwt::VerifierOptions::default()
        })
    }

    /// The webhook client and delivery settings.
    pub fn webhooks(
        &self,
    ) -> Result<
        (
            crate::webhooks::WebhookClient,
            crate::events::DeliveryConfig,
        ),
        StartupError,
    > {
        let duration = |key: &str, v: &str| {
            scaivault_core::parse_duration(v)
                .map_err(|e| StartupError::Config(format!("{key}: {e}")))
        };
        let allowed = networks("webhook_allowed_networks", &self.webhook_allowed_networks)?;
        Ok((
            crate::webhooks::WebhookClient::new(
                duration("webhook_timeout", &self.webhook_timeout)?,
                allowed,
            ),
            crate::events::DeliveryConfig {
                retry_base: duration("webhook_retry_base", &self.webhook_retry_base)?,
                retry_window: duration("webhook_retry_window", &self.webhook_retry_window)?,
            },
        ))
    }

    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> Result<crate::client_ip::TrustedProxies, StartupError> {
        networks("trusted_proxies", &self.trusted_proxies)
            .map(crate::client_ip::TrustedProxies::new)
    }

    /// (check interval, warning window) of expiry notices.
    pub fn expiry_notices(&self) -> Result<(Duration, Duration), StartupError> {
        let every = scaivault_core::parse_duration(&self.expiry_check_interval)
            .map_err(|e| StartupError::Config(format!("expiry_check_interval: {e}")))?;
        let warning = scaivault_core::parse_duration(&self.expiry_warning)
            .map_err(|e| StartupError::Config(format!("expiry_warning: {e}")))?;
        Ok((every, warning))
    }

    /// `data_dir`, which every command on an installation's files needs.
    pub fn required_data_dir(&self) -> Result<PathBuf, StartupError> {
        self.data_dir
            .clone()
            .ok_or_else(|| StartupError::Config("data_dir is required".into()))
    }

    pub fn unseal_retry_interval(&self) -> Result<Duration, StartupError> {
        at_least_one_second("unseal_retry_interval", &self.unseal_retry_interval)
    }

    /// Where the file-based root key pieces are.
    pub fn key_locations(&self, data_dir: &Path) -> scaivault_keys::Locations {
        scaivault_keys::Locations {
            data_dir: data_dir.to_owned(),
            root_key_file: crate::serve::root_key_path(self, data_dir),
        }
    }

    pub fn metrics_refresh_interval(&self) -> Result<Duration, StartupError> {
        at_least_one_second("metrics_refresh_interval", &self.metrics_refresh_interval)
    }

    pub fn acme_check_interval(&self) -> Result<Duration, StartupError> {
        at_least_one_second("acme_check_interval", &self.acme_check_interval)
    }

    pub fn lease_sweep_interval(&self) -> Result<Duration, StartupError> {
        at_least_one_second("lease_sweep_interval", &self.lease_sweep_interval)
    }

    pub fn rotation_check_interval(&self) -> Result<Duration, StartupError> {
        scaivault_core::parse_duration(&self.rotation_check_interval)
            .map_err(|e| StartupError::Config(format!("rotation_check_interval: {e}")))
    }

    pub fn audit_sink(&self) -> crate::audit_sink::SinkConfig {
        crate::audit_sink::SinkConfig {
            file: self.audit_log_file.clone(),
            file_max_bytes: self.audit_log_file_max_bytes,
            file_keep: self.audit_log_file_keep,
            syslog: self.audit_syslog.clone(),
        }
    }

    pub fn tls(&self) -> Option<(PathBuf, PathBuf)> {
        self.tls_cert_file.clone().zip(self.tls_key_file.clone())
    }
}

/// Parses `10.0.0.0/8`-style networks (a bare address is a /32 or /128), naming `key` and the
/// first entry that is neither.
fn networks(key: &str, entries: &[String]) -> Result<Vec<ipnet::IpNet>, StartupError> {
    entries
        .iter()
        .map(|n| {
            n.parse::<ipnet::IpNet>()
                .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    StartupError::Config(format!(
                        "{key}: '{n}' is not a network such as 10.0.0.0/8"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_variables_map_to_their_settings() {
        for (variable, key) in [
            ("PROVIDER", "root_key.provider"),
            ("AWSKMS_KEY_ID", "root_key.awskms.key_id"),
            ("AWSKMS_ENDPOINT_URL", "root_key.awskms.endpoint_url"),
            ("PKCS11_TOKEN_LABEL", "root_key.pkcs11.token_label"),
            ("PKCS11_PIN_FILE", "root_key.pkcs11.pin_file"),
            ("pkcs11_pin", "root_key.pkcs11.pin"),
            ("TPM_TCTI", "root_key.tpm.tcti"),
        ] {
            assert_eq!(
                root_key_env_key(variable).as_deref(),
                Some(key),
                "{variable}"
            );
        }
        for unknown in ["FILE", "PKCS11", "AWSKMS_SECRET", "TPM_PIN_FILES", ""] {
            assert_eq!(root_key_env_key(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn root_key_section_parses_and_hides_pins() {
        let config: Config = Figment::new()
            .merge(Toml::string(
                r#"
                [root_key]
                provider = "pkcs11"
                [root_key.pkcs11]
                module = "/usr/lib/softhsm/libsofthsm2.so"
                token_label = "scaivault"
                pin = "1234-secret-pin"
                "#,
            ))
            .extract()
            .unwrap();
        assert_eq!(
            config.root_key.provider,
            scaivault_keys::ProviderKind::Pkcs11
        );
        let pkcs11 = config.root_key.pkcs11.as_ref().unwrap();
        assert_eq!(pkcs11.key_label, "scaivault-root-key");
        assert_eq!(pkcs11.user_pin().unwrap().expose(), "1234-secret-pin");
        assert!(!format!("{config:?}").contains("1234-secret-pin"));
        // An unknown provider or setting is refused, not ignored.
        for bad in [
            "[root_key]\nprovider = \"vault\"",
            "[root_key.pkcs11]\nmodule = \"m\"\ntoken_label = \"t\"\nslot = 3",
        ] {
            assert!(
                Figment::new()
                    .merge(Toml::string(bad))
                    .extract::<Config>()
                    .is_err(),
                "{bad}"
            );
        }
    }
}
