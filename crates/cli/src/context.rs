//! Configuration: `~/.scaivault/config.json` overridden by `SCAIVAULT_*` environment variables.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use scaivault_client::{Client, DEFAULT_BASE_URL};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::CliError;

pub const ENV_URL: &str = "SCAIVAULT_URL";
pub const ENV_TOKEN: &str = "SCAIVAULT_TOKEN";
pub const ENV_PARTNER: &str = "SCAIVAULT_PARTNER_ID";
pub const ENV_TENANT: &str = "SCAIVAULT_TENANT_ID";
pub const ENV_DEBUG: &str = "SCAIVAULT_DEBUG";

/// A configuration key, as typed on the command line and stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Key {
    /// Server URL (default http://127.0.0.1:8200); env SCAIVAULT_URL
    BaseUrl,
    /// Bearer token; env SCAIVAULT_TOKEN
    Token,
    /// Explicit partner context (admins); env SCAIVAULT_PARTNER_ID
    PartnerId,
    /// Explicit tenant context (admins); env SCAIVAULT_TENANT_ID
    TenantId,
}

impl Key {
    pub const ALL: [Key; 4] = [Key::BaseUrl, Key::Token, Key::PartnerId, Key::TenantId];

    pub fn name(self) -> &'static str {
        match self {
            Key::BaseUrl => "base_url",
            Key::Token => "token",
            Key::PartnerId => "partner_id",
            Key::TenantId => "tenant_id",
        }
    }

    pub fn env(self) -> &'static str {
        match self {
            Key::BaseUrl => ENV_URL,
            Key::Token => ENV_TOKEN,
            Key::PartnerId => ENV_PARTNER,
            Key::TenantId => ENV_TENANT,
        }
    }
}

/// The file's contents. Unknown keys are kept as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConfigFile {
    pub fn get(&self, key: Key) -> Option<&str> {
        match key {
            Key::BaseUrl => self.base_url.as_deref(),
            Key::Token => self.token.as_deref(),
            Key::PartnerId => self.partner_id.as_deref(),
            Key::TenantId => self.tenant_id.as_deref(),
        }
    }

    pub fn set(&mut self, key: Key, value: Option<String>) {
        let slot = match key {
            Key::BaseUrl => &mut self.base_url,
            Key::Token => &mut self.token,
            Key::PartnerId => &mut self.partner_id,
            Key::TenantId => &mut self.tenant_id,
        };
        *slot = value;
    }
}

/// Where an effective setting comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Env(&'static str),
    Config,
    Default,
}

impl Source {
    pub fn describe(self) -> String {
        match self {
            Source::Env(name) => format!("env {name}"),
            Source::Config => "config".into(),
            Source::Default => "default".into(),
        }
    }
}

/// Everything a command needs to know about where and who it is.
#[derive(Debug)]
pub struct Context {
    pub file: ConfigFile,
    /// `$HOME/.scaivault/config.json`, `None` when `HOME` is not set.
    pub path: Option<PathBuf>,
    pub debug: bool,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Context {
    /// Reads the config file (if any) and the environment.
    pub fn load() -> Result<Self, CliError> {
        let path = env_nonempty("HOME").map(|home| config_path(Path::new(&home)));
        let file = match &path {
            Some(p) => read_config(p)?,
            None => ConfigFile::default(),
        };
        let debug = env_nonempty(ENV_DEBUG)
            .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"));
        Ok(Self { file, path, debug })
    }

    /// The effective value of `key`: environment, then file, then default (base_url only).
    pub fn resolve(&self, key: Key) -> Option<(String, Source)> {
        if let Some(v) = env_nonempty(key.env()) {
            return Some((v, Source::Env(key.env())));
        }
        if let Some(v) = self.file.get(key).filter(|v| !v.is_empty()) {
            return Some((v.to_string(), Source::Config));
        }
        (key == Key::BaseUrl).then(|| (DEFAULT_BASE_URL.to_string(), Source::Default))
    }

    pub fn value(&self, key: Key) -> Option<String> {
        self.resolve(key).map(|(v, _)| v)
    }

    pub fn base_url(&self) -> String {
        self.value(Key::BaseUrl)
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
    }

    /// A client without a token (for `auth login`, which brings its own).
    pub fn anonymous_client(&self) -> Result<Client, CliError> {
        let mut client = Client::new(&self.base_url())?.with_debug(self.debug);
        if let Some(tenant) = self.value(Key::TenantId) {
            client = client.with_tenant_id(tenant);
        }
        if let Some(partner) = self.value(Key::PartnerId) {
            client = client.with_partner_id(partner);
        }
        Ok(client)
    }

    /// A client with the effective token; "Not authenticated" (exit 2) when there is none.
    pub fn client(&self) -> Result<Client, CliError> {
        let token = self
            .value(Key::Token)
            .ok_or_else(CliError::not_authenticated)?;
        Ok(self.anonymous_client()?.with_token(token))
    }

    /// The config file path, or an error when `HOME` is not set.
    pub fn require_path(&self) -> Result<&Path, CliError> {
        self.path.as_deref().ok_or_else(|| {
            CliError::general(
                "config_error",
                "HOME is not set, so there is no ~/.scaivault/config.json",
            )
        })
    }

    /// Writes the config file (directory 0700, file 0600, atomically).
    pub fn save(&self) -> Result<(), CliError> {
        write_config(self.require_path()?, &self.file)
    }
}

pub fn config_path(home: &Path) -> PathBuf {
    home.join(".scaivault").join("config.json")
}

fn read_config(path: &Path) -> Result<ConfigFile, CliError> {
    match fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(ConfigFile::default()),
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            CliError::general(
                "config_error",
                format!("{} is not a valid config file: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(CliError::io(&format!("reading {}", path.display()), &e)),
    }
}

fn write_config(path: &Path, file: &ConfigFile) -> Result<(), CliError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let mut text = serde_json::to_string_pretty(file)
        .map_err(|e| CliError::general("config_error", e.to_string()))?;
    text.push('\n');
    let tmp = dir.join(format!(".config.json.{}.tmp", std::process::id()));
    let result = (|| {
        let mut out = open_private(&tmp)?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(CliError::io(&format!("writing {}", path.display()), &e));
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CliError::io(&format!("creating {}", dir.display()), &e))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    fs::create_dir_all(dir).map_err(|e| CliError::io(&format!("creating {}", dir.display()), &e))
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}
