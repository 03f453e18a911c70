//! Root key providers: where the key that wraps ScaiVault's data keys lives.
//!
//! - `file` ([`scaivault_crypto::FileKeyProvider`]): a key file, mode 0600. Dev mode and small
//!   installs.
//! - [`awskms`]: a KMS key; data keys are wrapped with `Encrypt` and unwrapped with `Decrypt`,
//!   the key id bound as encryption context.
//! - [`pkcs11`]: an AES-256 key inside an HSM token (found by label), never extractable; data
//!   keys are wrapped with AES-GCM inside the HSM, the key id bound as associated data.
//! - [`tpm`] (feature `tpm`): a key inside a TPM 2.0, loaded from blobs only that TPM can open.
//!
//! Every provider only wraps and unwraps data keys: values are sealed by the keyring in
//! memory, so the provider is consulted at start, unseal and key rotation, never on a read.
//! Which errors mean "retry later" (sealed) and which mean "fix the setup" is documented on
//! [`scaivault_crypto::KeyProvider`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scaivault_crypto::{CryptoError, FileKeyProvider, KeyProvider};
use serde::Deserialize;
use zeroize::Zeroizing;

pub mod awskms;
pub mod pkcs11;
#[cfg(feature = "tpm")]
pub mod tpm;

/// Which provider holds the root key (`[root_key] provider = ...`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    #[default]
    File,
    Awskms,
    Pkcs11,
    Tpm,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Awskms => "awskms",
            Self::Pkcs11 => "pkcs11",
            Self::Tpm => "tpm",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "file" => Some(Self::File),
            "awskms" => Some(Self::Awskms),
            "pkcs11" => Some(Self::Pkcs11),
            "tpm" => Some(Self::Tpm),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A PIN or other secret setting: never printed, wiped when dropped.
#[derive(Clone, Deserialize)]
#[serde(from = "String")]
pub struct Pin(Zeroizing<String>);

impl From<String> for Pin {
    fn from(pin: String) -> Self {
        Self(Zeroizing::new(pin))
    }
}

impl Pin {
    pub fn new(pin: impl Into<String>) -> Self {
        Self(Zeroizing::new(pin.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a PIN file (surrounding whitespace trimmed); refuses one that group or others can
    /// read, as for the root key file.
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        let text = scaivault_crypto::provider::read_owner_only(path)?;
        let pin = text.trim();
        if pin.is_empty() {
            return Err(CryptoError::RootKey(format!("{} is empty", path.display())));
        }
        Ok(Self::new(pin))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// The PIN given inline (`pin`, typically from the environment) or in a file (`pin_file`).
fn resolve_pin(pin: Option<&Pin>, pin_file: Option<&Path>, what: &str) -> Result<Pin, CryptoError> {
    match (pin, pin_file) {
        (Some(_), Some(_)) => Err(CryptoError::RootKey(format!(
            "{what}: set pin or pin_file, not both"
        ))),
        (Some(pin), None) => Ok(pin.clone()),
        (None, Some(path)) => Pin::from_file(path),
        (None, None) => Err(CryptoError::RootKey(format!(
            "{what}: the user PIN is required (pin_file, or the environment variable)"
        ))),
    }
}

/// `[root_key.awskms]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKmsSettings {
    /// Key id, key ARN, alias name (`alias/scaivault`) or alias ARN.
    pub key_id: String,
    /// Region; default from the standard AWS chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Another endpoint (a VPC endpoint, or a test server).
    pub endpoint_url: Option<String>,
}

/// `[root_key.pkcs11]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Settings {
    /// The vendor's PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token's label; its slot is found by label (slot ids change, e.g. with SoftHSM).
    pub token_label: String,
    /// The label of the AES-256 key object.
    #[serde(default = "default_key_label")]
    pub key_label: String,
    /// The user PIN, inline (normally set as `SCAIVAULT_ROOT_KEY_PKCS11_PIN`).
    pub pin: Option<Pin>,
    /// A file holding the user PIN (mode 0600).
    pub pin_file: Option<PathBuf>,
}

impl Pkcs11Settings {
    pub fn user_pin(&self) -> Result<Pin, CryptoError> {
        resolve_pin(
            self.pin.as_ref(),
            self.pin_file.as_deref(),
            "[root_key.pkcs11]",
        )
    }
}

/// `[root_key.tpm]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmSettings {
    /// The TSS2 TCTI: `device:/dev/tpmrm0` (the kernel's resource manager) or
    /// `swtpm:host=127.0.0.1,port=2321`.
    #[serde(default = "default_tcti")]
    pub tcti: String,
    /// Where the key's TPM blobs are kept; default `<data_dir>/tpm-root-key.json`.
    pub key_file: Option<PathBuf>,
    /// The user PIN, inline (normally set as `SCAIVAULT_ROOT_KEY_TPM_PIN`).
    pub pin: Option<Pin>,
    /// A file holding the user PIN (mode 0600).
    pub pin_file: Option<PathBuf>,
}

impl TpmSettings {
    pub fn user_pin(&self) -> Result<Pin, CryptoError> {
        resolve_pin(
            self.pin.as_ref(),
            self.pin_file.as_deref(),
            "[root_key.tpm]",
        )
    }

    /// The key file, given or at its default place.
    pub fn key_file(&self, data_dir: &Path) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("tpm-root-key.json"))
    }
}

fn default_key_label() -> String {
    "scaivault-root-key".to_owned()
}

fn default_tcti() -> String {
    "device:/dev/tpmrm0".to_owned()
}

/// `[root_key]` in the server configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootKeyConfig {
    #[serde(default)]
    pub provider: ProviderKind,
    pub awskms: Option<AwsKmsSettings>,
    pub pkcs11: Option<Pkcs11Settings>,
    pub tpm: Option<TpmSettings>,
}

/// Where the file-based pieces live, resolved by the server from its configuration.
#[derive(Debug, Clone)]
pub struct Locations {
    pub data_dir: PathBuf,
    /// The `file` provider's key file (`root_key_file`, default `<data_dir>/root.key`).
    pub root_key_file: PathBuf,
}

impl RootKeyConfig {
    fn settings<'a, T>(
        &self,
        value: Option<&'a T>,
        kind: ProviderKind,
    ) -> Result<&'a T, CryptoError> {
        value.ok_or_else(|| {
            CryptoError::RootKey(format!(
                "provider \"{kind}\" needs a [root_key.{kind}] section (or its SCAIVAULT_ROOT_KEY_{}_* variables)",
                kind.as_str().to_ascii_uppercase()
            ))
        })
    }
}

/// Opens the provider `kind` (the configured one, or the target of a rewrap) for an existing
/// root key. Never creates one.
pub async fn open(
    config: &RootKeyConfig,
    kind: ProviderKind,
    at: &Locations,
) -> Result<Arc<dyn KeyProvider>, CryptoError> {
    match kind {
        ProviderKind::File => Ok(Arc::new(FileKeyProvider::load(&at.root_key_file)?)),
        ProviderKind::Awskms => {
            let settings = config.settings(config.awskms.as_ref(), kind)?;
            Ok(Arc::new(awskms::AwsKmsProvider::connect(settings).await?))
        }
        ProviderKind::Pkcs11 => {
            let settings = config.settings(config.pkcs11.as_ref(), kind)?;
            Ok(Arc::new(
                pkcs11::Pkcs11Provider::open(settings, false).await?,
            ))
        }
        ProviderKind::Tpm => open_tpm(config, at).await,
    }
}

/// Opens the provider `kind` for `operator init` (or a rewrap target), creating the root key
/// where ScaiVault can: the key file, or the HSM key (sensitive, never extractable) when none
/// has the label. A KMS key is created in AWS by its owner; a TPM key by `scaivault tpm init`.
pub async fn open_or_create(
    config: &RootKeyConfig,
    kind: ProviderKind,
    at: &Locations,
) -> Result<(Arc<dyn KeyProvider>, bool), CryptoError> {
    match kind {
        ProviderKind::File => {
            let created = !at.root_key_file.exists();
            Ok((
                Arc::new(FileKeyProvider::load_or_create(&at.root_key_file)?),
                created,
            ))
        }
        ProviderKind::Pkcs11 => {
            let settings = config.settings(config.pkcs11.as_ref(), kind)?;
            let provider = pkcs11::Pkcs11Provider::open(settings, true).await?;
            let created = provider.created_key();
            Ok((Arc::new(provider), created))
        }
        ProviderKind::Awskms | ProviderKind::Tpm => Ok((open(config, kind, at).await?, false)),
    }
}

#[cfg(feature = "tpm")]
async fn open_tpm(
    config: &RootKeyConfig,
    at: &Locations,
) -> Result<Arc<dyn KeyProvider>, CryptoError> {
    let settings = config.settings(config.tpm.as_ref(), ProviderKind::Tpm)?;
    Ok(Arc::new(
        tpm::TpmProvider::open(settings, &at.data_dir).await?,
    ))
}

#[cfg(not(feature = "tpm"))]
async fn open_tpm(
    _config: &RootKeyConfig,
    _at: &Locations,
) -> Result<Arc<dyn KeyProvider>, CryptoError> {
    Err(CryptoError::RootKey(
        "this build has no TPM support: build with `--features tpm` (needs libtss2-dev)".into(),
    ))
}
