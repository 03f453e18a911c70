//! TPM 2.0: the root key lives inside the TPM, loaded from blobs (public + private parts) that
//! only that TPM can open; `scaivault tpm init/status/backup/restore` manage it.
//!
//! Layout (see docs/keys/tpm.md):
//! - The primary: an ECC P-256 storage key (restricted decrypt, fixedTPM/fixedParent,
//!   sensitiveDataOrigin, userWithAuth) made with CreatePrimary under the owner hierarchy from a
//!   fixed template each time: the same TPM seeds give the same primary, so nothing is persisted
//!   in the TPM. The owner hierarchy's auth is assumed empty (the default).
//! - The root key K (32 random bytes, made at init) imported twice under the primary:
//!   as a KEYEDHASH HMAC-SHA256 key (`hmac`: what wrap/unwrap use) and as a sealed data object
//!   (`seal`: K followed by the security officer's backup envelope; only `tpm backup` unseals
//!   it). Both have authValue = SHA-256 of the user PIN (see `pin_auth`), so the TPM checks the
//!   PIN, with its dictionary-attack protection.
//! - The key file (JSON, mode 0600) holds the four blobs; they load only in the TPM that made
//!   them (the private parts are encrypted under the primary, which only that TPM's owner seed
//!   recreates).
//! - wrap: nonce (32 random bytes); kek = HMAC(K, "scaivault/tpm-wrap/v1\0" || nonce || key_id)
//!   computed IN the TPM over a salted, parameter-encrypted session; then AES-256-GCM(kek,
//!   random IV, aad = key_id) in software. Output: 1 || nonce || IV || ciphertext+tag.
//!
//! tss-esapi's `Context` is not `Send`, so the provider does not keep one: each operation opens
//! a context inside `spawn_blocking` (behind a mutex that serializes TPM use), recreates the
//! primary, loads the HMAC key from its blobs and drops it all afterwards. This also means a
//! TPM (or swtpm) that restarts is picked up again on the next operation.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::pbkdf2;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use scaivault_crypto::random::random_bytes;
use scaivault_crypto::{CryptoError, KeyProvider};
use serde::{Deserialize, Serialize};
use tss_esapi::Context;
use tss_esapi::TctiNameConf;
use tss_esapi::attributes::{ObjectAttributesBuilder, SessionAttributesBuilder};
use tss_esapi::constants::response_code::{Tss2ResponseCode, Tss2ResponseCodeKind};
use tss_esapi::constants::{PropertyTag, SessionType};
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Auth, Digest, EccPoint, KeyedHashScheme, MaxBuffer, Private, Public, PublicBuilder,
    PublicEccParametersBuilder, PublicKeyedHashParameters, SensitiveData, SymmetricDefinition,
    SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use zeroize::Zeroizing;

use crate::{Pin, TpmSettings};

const KEY_FILE_FORMAT: u32 = 1;
const BACKUP_FORMAT: &str = "scaivault-tpm-backup";
const BACKUP_VERSION: u32 = 1;
const ROOT_KEY_LEN: usize = 32;
const WRAP_FORMAT: u8 = 1;
const WRAP_NONCE_LEN: usize = 32;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const SALT_LEN: usize = 16;
const WRAP_LABEL: &[u8] = b"scaivault/tpm-wrap/v1\0";
const PIN_AUTH_LABEL: &[u8] = b"scaivault/tpm-pin/v1\0";
const BACKUP_AAD_USER: &[u8] = b"scaivault/tpm-backup/v1\0user";
const BACKUP_AAD_SO: &[u8] = b"scaivault/tpm-backup/v1\0so";
/// PBKDF2-HMAC-SHA256 iterations for the backup envelopes (OWASP 2023: 600,000).
const PBKDF2_ITERATIONS: u32 = 600_000;
/// K || SO salt || SO IV || SO ciphertext+tag: what the sealed object holds (<= 128 bytes).
const SO_ENVELOPE_LEN: usize = SALT_LEN + IV_LEN + ROOT_KEY_LEN + TAG_LEN;

/// Serializes use of the TPM within this process (swtpm serves one connection at a time).
static TPM_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The key file: the TPM blobs of the root key, useless without the TPM that made them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyFile {
    format: u32,
    /// Which primary template the blobs were made under.
    primary: String,
    hmac_public: String,
    hmac_private: String,
    seal_public: String,
    seal_private: String,
}

const PRIMARY_TEMPLATE: &str = "ecc-p256-storage-aes128cfb/v1";

/// Blobs decoded from the key file.
#[derive(Clone)]
struct Blobs {
    hmac_public: Public,
    hmac_private: Private,
    seal_public: Public,
    seal_private: Private,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blobs(..)")
    }
}

/// The backup file written by `scaivault tpm backup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BackupFile {
    format: String,
    version: u32,
    kdf: String,
    iterations: u32,
    user: Envelope,
    so: Envelope,
}

/// K encrypted with AES-256-GCM under PBKDF2(PIN, salt).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Envelope {
    salt: String,
    iv: String,
    ciphertext: String,
}

#[derive(Debug)]
pub struct TpmProvider {
    tcti: String,
    key_file: PathBuf,
    inner: Arc<Inner>,
}

struct Inner {
    tcti: String,
    auth: Zeroizing<Vec<u8>>,
    blobs: Blobs,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("tcti", &self.tcti)
            .finish_non_exhaustive()
    }
}

impl TpmProvider {
    /// Connects to the TPM, recreates the primary key and loads the root key from its blobs;
    /// a test HMAC checks the user PIN.
    pub async fn open(settings: &TpmSettings, data_dir: &Path) -> Result<Self, CryptoError> {
        let pin = settings.user_pin()?;
        let key_file = settings.key_file(data_dir);
        let blobs = read_key_file(&key_file)?;
        let inner = Arc::new(Inner {
            tcti: settings.tcti.clone(),
            auth: pin_auth(&pin),
            blobs,
        });
        let check = Arc::clone(&inner);
        blocking(move || {
            with_tpm(&check.tcti, |ctx| {
                let primary = create_primary(ctx)?;
                let key = load(
                    ctx,
                    primary,
                    &check.blobs.hmac_public,
                    &check.blobs.hmac_private,
                )?;
                hmac_in_tpm(ctx, primary, key, &check.auth, b"scaivault/tpm-check/v1").map(drop)
            })
        })
        .await?;
        Ok(Self {
            tcti: settings.tcti.clone(),
            key_file,
            inner,
        })
    }

    /// The key file the blobs were read from.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    async fn kek(&self, nonce: &[u8], key_id: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let message = [WRAP_LABEL, nonce, key_id.as_bytes()].concat();
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            with_tpm(&inner.tcti, |ctx| {
                let primary = create_primary(ctx)?;
                let key = load(
                    ctx,
                    primary,
                    &inner.blobs.hmac_public,
                    &inner.blobs.hmac_private,
                )?;
                hmac_in_tpm(ctx, primary, key, &inner.auth, &message)
            })
        })
        .await
    }
}

#[async_trait::async_trait]
impl KeyProvider for TpmProvider {
    fn describe(&self) -> String {
        format!("tpm:{}", self.tcti)
    }

    fn kind(&self) -> &'static str {
        "tpm"
    }

    async fn wrap(&self, key_id: &str, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = random_bytes(WRAP_NONCE_LEN)?;
        let kek = self.kek(&nonce, key_id).await?;
        let iv = random_bytes(IV_LEN)?;
        let sealed = aead_seal(&kek, &iv, key_id.as_bytes(), key)?;
        let mut out = Vec::with_capacity(1 + WRAP_NONCE_LEN + IV_LEN + sealed.len());
        out.push(WRAP_FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if wrapped.len() < 1 + WRAP_NONCE_LEN + IV_LEN + TAG_LEN || wrapped[0] != WRAP_FORMAT {
            return Err(CryptoError::Malformed);
        }
        let (nonce, rest) = wrapped[1..].split_at(WRAP_NONCE_LEN);
        let (iv, sealed) = rest.split_at(IV_LEN);
        let kek = self.kek(nonce, key_id).await?;
        aead_open(&kek, iv, key_id.as_bytes(), sealed)
    }
}

/// What `scaivault tpm status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct TpmStatus {
    pub tcti: String,
    /// The TPM answered.
    pub present: bool,
    /// Why it did not, if it did not.
    pub error: Option<String>,
    /// TPM_PT_MANUFACTURER as text (e.g. "IBM" for swtpm).
    pub manufacturer: Option<String>,
    /// TPM_PT_FIRMWARE_VERSION_1 and _2, as `major.minor.x.y`.
    pub firmware_version: Option<String>,
    /// Whether the TPM is in dictionary-attack lockout (wrong PINs).
    pub lockout: Option<bool>,
    pub key_file: PathBuf,
    pub key_file_present: bool,
    /// Whether the key's blobs load under this TPM's primary (no PIN needed for that).
    pub blobs_load: Option<bool>,
    /// Why the key file or its blobs failed, if they did.
    pub key_error: Option<String>,
}

/// `scaivault tpm init`: makes a new root key in the TPM and writes the key file (refused if
/// it exists). The SO PIN protects the backup's second envelope.
pub async fn init(
    settings: &TpmSettings,
    data_dir: &Path,
    so_pin: &Pin,
    user_pin: &Pin,
) -> Result<(), CryptoError> {
    let key_file = settings.key_file(data_dir);
    if key_file.exists() {
        return Err(CryptoError::RootKey(format!(
            "{} exists: this host already has a TPM root key (remove it only if no data depends on it)",
            key_file.display()
        )));
    }
    check_pin(user_pin, "user PIN")?;
    check_pin(so_pin, "SO PIN")?;
    let root = random_bytes(ROOT_KEY_LEN)?;
    let so_envelope = seal_envelope(so_pin, &root, BACKUP_AAD_SO)?;
    let file = import_root_key(settings, &root, &so_envelope, user_pin).await?;
    write_private_file(&key_file, &file, false)
}

/// `scaivault tpm status`: never fails; what could not be checked is reported.
pub async fn status(settings: &TpmSettings, data_dir: &Path) -> TpmStatus {
    let key_file = settings.key_file(data_dir);
    let mut status = TpmStatus {
        tcti: settings.tcti.clone(),
        present: false,
        error: None,
        manufacturer: None,
        firmware_version: None,
        lockout: None,
        key_file_present: key_file.exists(),
        key_file: key_file.clone(),
        blobs_load: None,
        key_error: None,
    };
    let blobs = if status.key_file_present {
        match read_key_file(&key_file) {
            Ok(blobs) => Some(blobs),
            Err(e) => {
                status.key_error = Some(e.to_string());
                None
            }
        }
    } else {
        None
    };
    let tcti = settings.tcti.clone();
    let probed = blocking(move || {
        with_tpm(&tcti, |ctx| {
            let prop = |ctx: &mut Context, tag| ctx.get_tpm_property(tag).map_err(tpm_error);
            let manufacturer = prop(ctx, PropertyTag::Manufacturer)?.map(fourcc);
            let fw1 = prop(ctx, PropertyTag::FirmwareVersion1)?;
            let fw2 = prop(ctx, PropertyTag::FirmwareVersion2)?;
            let firmware = fw1.map(|v1| {
                let v2 = fw2.unwrap_or(0);
                format!("{}.{}.{}.{}", v1 >> 16, v1 & 0xffff, v2 >> 16, v2 & 0xffff)
            });
            // TPM_PT_PERMANENT bit 9: inLockout.
            let lockout = prop(ctx, PropertyTag::Permanent)?.map(|p| p & (1 << 9) != 0);
            let loaded = blobs.map(|blobs| {
                create_primary(ctx)
                    .and_then(|primary| {
                        load(ctx, primary, &blobs.hmac_public, &blobs.hmac_private)?;
                        load(ctx, primary, &blobs.seal_public, &blobs.seal_private)
                    })
                    .map(drop)
            });
            Ok((manufacturer, firmware, lockout, loaded))
        })
    })
    .await;
    match probed {
        Ok((manufacturer, firmware, lockout, loaded)) => {
            status.present = true;
            status.manufacturer = manufacturer;
            status.firmware_version = firmware;
            status.lockout = lockout;
            match loaded {
                Some(Ok(())) => status.blobs_load = Some(true),
                Some(Err(e)) => {
                    status.blobs_load = Some(false);
                    status.key_error = Some(e.to_string());
                }
                None => {}
            }
        }
        Err(e) => status.error = Some(e.to_string()),
    }
    status
}

/// `scaivault tpm backup`: unseals K in the TPM (the TPM checks the user PIN) and writes the
/// backup file (must not exist): K under a key derived from the user PIN, and the SO envelope
/// made at init. Never the plaintext key.
pub async fn backup(
    settings: &TpmSettings,
    data_dir: &Path,
    user_pin: &Pin,
    output: &Path,
) -> Result<(), CryptoError> {
    if output.exists() {
        return Err(CryptoError::RootKey(format!(
            "{} exists; choose another file",
            output.display()
        )));
    }
    let blobs = read_key_file(&settings.key_file(data_dir))?;
    let auth = pin_auth(user_pin);
    let tcti = settings.tcti.clone();
    let sealed = blocking(move || {
        with_tpm(&tcti, |ctx| {
            let primary = create_primary(ctx)?;
            let object = load(ctx, primary, &blobs.seal_public, &blobs.seal_private)?;
            unseal(ctx, primary, object, &auth)
        })
    })
    .await?;
    if sealed.len() != ROOT_KEY_LEN + SO_ENVELOPE_LEN {
        return Err(CryptoError::RootKey(
            "the sealed object in the TPM has an unexpected size".into(),
        ));
    }
    let (root, so) = sealed.split_at(ROOT_KEY_LEN);
    let file = BackupFile {
        format: BACKUP_FORMAT.into(),
        version: BACKUP_VERSION,
        kdf: "pbkdf2-hmac-sha256".into(),
        iterations: PBKDF2_ITERATIONS,
        user: envelope_to_json(&seal_envelope(user_pin, root, BACKUP_AAD_USER)?),
        so: envelope_to_json(so),
    };
    write_private_file(output, &file, false)
}

/// `scaivault tpm restore`: decrypts K from the backup with the user PIN (a wrong PIN is
/// `Refused`, and nothing is written), imports it into this host's TPM under the same user PIN
/// and writes the key file (an existing one only with `force`).
pub async fn restore(
    settings: &TpmSettings,
    data_dir: &Path,
    user_pin: &Pin,
    input: &Path,
    force: bool,
) -> Result<(), CryptoError> {
    restore_from(settings, data_dir, user_pin, None, input, force).await
}

/// `scaivault tpm restore --sopin`: as [`restore`], but decrypts the backup's SO envelope with
/// the security officer PIN (when the user PIN is lost); `new_user_pin` becomes the key's user
/// PIN in this TPM.
pub async fn restore_with_so_pin(
    settings: &TpmSettings,
    data_dir: &Path,
    so_pin: &Pin,
    new_user_pin: &Pin,
    input: &Path,
    force: bool,
) -> Result<(), CryptoError> {
    check_pin(new_user_pin, "user PIN")?;
    restore_from(settings, data_dir, new_user_pin, Some(so_pin), input, force).await
}

async fn restore_from(
    settings: &TpmSettings,
    data_dir: &Path,
    user_pin: &Pin,
    so_pin: Option<&Pin>,
    input: &Path,
    force: bool,
) -> Result<(), CryptoError> {
    let key_file = settings.key_file(data_dir);
    if key_file.exists() && !force {
        return Err(CryptoError::RootKey(format!(
            "{} exists; pass --force to replace it",
            key_file.display()
        )));
    }
    let text = std::fs::read_to_string(input)
        .map_err(|e| CryptoError::RootKey(format!("cannot read {}: {e}", input.display())))?;
    let file: BackupFile = serde_json::from_str(&text).map_err(|e| {
        CryptoError::RootKey(format!(
            "{} is not a ScaiVault TPM backup: {e}",
            input.display()
        ))
    })?;
    if file.format != BACKUP_FORMAT
        || file.version != BACKUP_VERSION
        || file.kdf != "pbkdf2-hmac-sha256"
    {
        return Err(CryptoError::RootKey(format!(
            "{} is not a version {BACKUP_VERSION} ScaiVault TPM backup",
            input.display()
        )));
    }
    let so = envelope_from_json(&file.so)?;
    if so.len() != SO_ENVELOPE_LEN {
        return Err(CryptoError::RootKey(format!(
            "{}: the SO envelope is malformed",
            input.display()
        )));
    }
    let root = match so_pin {
        Some(so_pin) => open_envelope(so_pin, &so, BACKUP_AAD_SO, file.iterations)?,
        None => {
            let user = envelope_from_json(&file.user)?;
            open_envelope(user_pin, &user, BACKUP_AAD_USER, file.iterations)?
        }
    };
    let blobs = import_root_key(settings, &root, &so, user_pin).await?;
    write_private_file(&key_file, &blobs, force)
}

/// Whether an error is the TPM rejecting the PIN (for the CLI's exit code 2).
pub fn is_wrong_pin(error: &CryptoError) -> bool {
    matches!(error, CryptoError::Refused(reason) if reason.starts_with(WRONG_PIN) || reason.starts_with(LOCKOUT))
}

const WRONG_PIN: &str = "wrong PIN";
const LOCKOUT: &str = "TPM in dictionary-attack lockout";

// --- TPM operations -------------------------------------------------------------------------

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CryptoError> + Send + 'static,
) -> Result<T, CryptoError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| CryptoError::Internal)?
}

/// Opens a context on `tcti` (under the process-wide TPM lock) and runs `f` with it.
fn with_tpm<T>(
    tcti: &str,
    f: impl FnOnce(&mut Context) -> Result<T, CryptoError>,
) -> Result<T, CryptoError> {
    let _guard = TPM_LOCK.lock().map_err(|_| CryptoError::Internal)?;
    let conf = TctiNameConf::from_str(tcti)
        .map_err(|e| CryptoError::RootKey(format!("TCTI {tcti:?} is not valid: {e}")))?;
    let mut ctx = Context::new(conf).map_err(|e| {
        CryptoError::Unavailable(format!("cannot connect to the TPM at {tcti}: {e}"))
    })?;
    f(&mut ctx)
}

/// The fixed storage primary template: ECC P-256, restricted decrypt, AES-128-CFB.
fn primary_template() -> Result<Public, CryptoError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_restricted(true)
        .with_decrypt(true)
        .build()
        .map_err(tpm_error)?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()
            .map_err(tpm_error)?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
        .map_err(tpm_error)
}

fn hmac_template() -> Result<Public, CryptoError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .with_sign_encrypt(true)
        .build()
        .map_err(tpm_error)?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(
            KeyedHashScheme::HMAC_SHA_256,
        ))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
        .map_err(tpm_error)
}

fn seal_template() -> Result<Public, CryptoError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .build()
        .map_err(tpm_error)?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
        .map_err(tpm_error)
}

fn create_primary(ctx: &mut Context) -> Result<KeyHandle, CryptoError> {
    let template = primary_template()?;
    ctx.execute_with_nullauth_session(|ctx| {
        ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
    })
    .map(|r| r.key_handle)
    .map_err(tpm_error)
}

fn load(
    ctx: &mut Context,
    primary: KeyHandle,
    public: &Public,
    private: &Private,
) -> Result<KeyHandle, CryptoError> {
    ctx.execute_with_nullauth_session(|ctx| ctx.load(primary, private.clone(), public.clone()))
        .map_err(|e| {
            match e {
            tss_esapi::Error::Tss2Error(rc)
                if matches!(
                    rc.kind(),
                    Some(Tss2ResponseCodeKind::Integrity | Tss2ResponseCodeKind::Value)
                ) =>
            {
                CryptoError::Refused(
                    "the key file's blobs do not load in this TPM (made by another TPM, or the TPM \
                     was cleared); restore from the backup with `scaivault tpm restore`"
                        .into(),
                )
            }
            e => tpm_error(e),
        }
        })
}

/// A session salted with the primary (so the PIN-derived HMACs and the parameters cannot be
/// replayed or read on the bus), with parameter encryption both ways.
fn salted_session(ctx: &mut Context, primary: KeyHandle) -> Result<AuthSession, CryptoError> {
    let session = ctx
        .start_auth_session(
            Some(primary),
            None,
            None,
            SessionType::Hmac,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(tpm_error)?
        .ok_or_else(|| CryptoError::RootKey("the TPM returned no session".into()))?;
    let (attributes, mask) = SessionAttributesBuilder::new()
        .with_decrypt(true)
        .with_encrypt(true)
        .build();
    ctx.tr_sess_set_attributes(session, attributes, mask)
        .map_err(tpm_error)?;
    Ok(session)
}

fn with_pin_session<T>(
    ctx: &mut Context,
    primary: KeyHandle,
    object: KeyHandle,
    auth: &[u8],
    f: impl FnOnce(&mut Context) -> tss_esapi::Result<T>,
) -> Result<T, CryptoError> {
    ctx.tr_set_auth(
        object.into(),
        Auth::try_from(auth.to_vec()).map_err(tpm_error)?,
    )
    .map_err(tpm_error)?;
    let session = salted_session(ctx, primary)?;
    let result = ctx.execute_with_session(Some(session), f);
    // A session that failed authorization is already gone; a flush error is not the news.
    let _ = ctx.flush_context(tss_esapi::handles::SessionHandle::from(session).into());
    result.map_err(tpm_error)
}

fn hmac_in_tpm(
    ctx: &mut Context,
    primary: KeyHandle,
    key: KeyHandle,
    auth: &[u8],
    message: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let buffer = MaxBuffer::try_from(message.to_vec()).map_err(tpm_error)?;
    let digest = with_pin_session(ctx, primary, key, auth, |ctx| {
        ctx.hmac(ObjectHandle::from(key), buffer, HashingAlgorithm::Sha256)
    })?;
    Ok(Zeroizing::new(digest.value().to_vec()))
}

fn unseal(
    ctx: &mut Context,
    primary: KeyHandle,
    object: KeyHandle,
    auth: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let data = with_pin_session(ctx, primary, object, auth, |ctx| {
        ctx.unseal(ObjectHandle::from(object))
    })?;
    Ok(Zeroizing::new(data.value().to_vec()))
}

/// Creates the primary in the configured TPM and imports `root` as the HMAC key and
/// `root || so_envelope` as the sealed object, both with the user PIN as their auth.
async fn import_root_key(
    settings: &TpmSettings,
    root: &[u8],
    so_envelope: &[u8],
    user_pin: &Pin,
) -> Result<KeyFile, CryptoError> {
    let auth = pin_auth(user_pin);
    let root = Zeroizing::new(root.to_vec());
    let sealed = Zeroizing::new([root.as_slice(), so_envelope].concat());
    let tcti = settings.tcti.clone();
    let (hmac, seal) = blocking(move || {
        with_tpm(&tcti, |ctx| {
            let primary = create_primary(ctx)?;
            let create = |ctx: &mut Context, template: Public, data: &[u8]| {
                let auth = Auth::try_from(auth.to_vec()).map_err(tpm_error)?;
                let data = SensitiveData::try_from(data.to_vec()).map_err(tpm_error)?;
                ctx.execute_with_nullauth_session(|ctx| {
                    ctx.create(primary, template, Some(auth), Some(data), None, None)
                })
                .map_err(tpm_error)
            };
            let hmac = create(ctx, hmac_template()?, &root)?;
            let seal = create(ctx, seal_template()?, &sealed)?;
            // Prove the new key computes with the PIN before anything is written.
            let key = load(ctx, primary, &hmac.out_public, &hmac.out_private)?;
            hmac_in_tpm(ctx, primary, key, &auth, b"scaivault/tpm-check/v1")?;
            Ok((
                (hmac.out_public, hmac.out_private),
                (seal.out_public, seal.out_private),
            ))
        })
    })
    .await?;
    Ok(KeyFile {
        format: KEY_FILE_FORMAT,
        primary: PRIMARY_TEMPLATE.into(),
        hmac_public: STANDARD.encode(hmac.0.marshall().map_err(tpm_error)?),
        hmac_private: STANDARD.encode(hmac.1.value()),
        seal_public: STANDARD.encode(seal.0.marshall().map_err(tpm_error)?),
        seal_private: STANDARD.encode(seal.1.value()),
    })
}

/// Maps a TSS error to the provider's error kinds. Messages carry TPM response codes only.
fn tpm_error(e: tss_esapi::Error) -> CryptoError {
    match e {
        tss_esapi::Error::WrapperError(kind) => {
            CryptoError::RootKey(format!("TPM library refused a parameter: {kind}"))
        }
        tss_esapi::Error::Tss2Error(rc) => {
            if let Some(layer) = rc_layer(rc)
                && layer != 0
            {
                // 10 = TCTI (the connection), 7/8 = ESAPI/SAPI, e.g. a dropped connection.
                return if layer == 10 {
                    CryptoError::Unavailable(format!("TPM connection failed: {rc}"))
                } else {
                    CryptoError::Unavailable(format!("TPM software stack error: {rc}"))
                };
            }
            match rc.kind() {
                Some(Tss2ResponseCodeKind::AuthFail | Tss2ResponseCodeKind::BadAuth) => {
                    CryptoError::Refused(format!(
                        "{WRONG_PIN} (the TPM counts it against its dictionary-attack limit)"
                    ))
                }
                Some(Tss2ResponseCodeKind::Lockout) => CryptoError::Refused(format!(
                    "{LOCKOUT}: wait for its recovery time, or reset it with the lockout auth \
                     (tpm2_dictionarylockout --clear-lockout)"
                )),
                Some(
                    Tss2ResponseCodeKind::Retry
                    | Tss2ResponseCodeKind::Testing
                    | Tss2ResponseCodeKind::Yielded
                    | Tss2ResponseCodeKind::Canceled
                    | Tss2ResponseCodeKind::ObjectMemory
                    | Tss2ResponseCodeKind::SessionMemory
                    | Tss2ResponseCodeKind::Memory
                    | Tss2ResponseCodeKind::NvRate
                    | Tss2ResponseCodeKind::NvUnavailable
                    | Tss2ResponseCodeKind::Initialize,
                ) => CryptoError::Unavailable(format!("TPM busy or not started: {rc}")),
                _ => CryptoError::Refused(format!("TPM error: {rc}")),
            }
        }
    }
}

/// The TSS layer of a response code (0 = the TPM itself), read from its display form, the only
/// place tss-esapi 7 exposes the raw value.
fn rc_layer(rc: Tss2ResponseCode) -> Option<u32> {
    let raw = match rc {
        Tss2ResponseCode::Success => return Some(0),
        Tss2ResponseCode::FormatZero(code) => code.to_string(),
        Tss2ResponseCode::FormatOne(code) => code.to_string(),
    };
    let hex = raw.rsplit("0x").next()?;
    u32::from_str_radix(hex.trim(), 16)
        .ok()
        .map(|v| (v >> 16) & 0xff)
}

/// TPM_PT_MANUFACTURER is four ASCII characters ("IBM ", "INTC", ...).
fn fourcc(value: u32) -> String {
    value
        .to_be_bytes()
        .iter()
        .filter(|b| b.is_ascii_graphic())
        .map(|&b| char::from(b))
        .collect()
}

// --- Software pieces --------------------------------------------------------------------------

/// The TPM authValue for a PIN: SHA-256 over a label and the PIN, so a PIN of any length fits
/// (authValue is at most the name hash's size).
fn pin_auth(pin: &Pin) -> Zeroizing<Vec<u8>> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(PIN_AUTH_LABEL);
    ctx.update(pin.expose().as_bytes());
    Zeroizing::new(ctx.finish().as_ref().to_vec())
}

fn check_pin(pin: &Pin, what: &str) -> Result<(), CryptoError> {
    if pin.expose().chars().count() < 4 {
        return Err(CryptoError::RootKey(format!(
            "the {what} must have at least 4 characters"
        )));
    }
    Ok(())
}

fn aead_key(key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::Internal)
}

fn aead_seal(key: &[u8], iv: &[u8], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = aead_key(key)?;
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| CryptoError::Internal)?;
    let mut in_out = plain.to_vec();
    key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut in_out)
        .map_err(|_| CryptoError::Internal)?;
    Ok(in_out)
}

fn aead_open(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let key = aead_key(key)?;
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| CryptoError::Malformed)?;
    let mut in_out = Zeroizing::new(sealed.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(aad), &mut in_out)
        .map_err(|_| CryptoError::OpenFailed)?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

fn pin_key(pin: &Pin, salt: &[u8], iterations: u32) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let iterations = std::num::NonZeroU32::new(iterations).ok_or(CryptoError::Malformed)?;
    let mut key = Zeroizing::new(vec![0u8; 32]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        pin.expose().as_bytes(),
        &mut key,
    );
    Ok(key)
}

/// salt || IV || AES-256-GCM(PBKDF2(pin, salt), IV, aad, root).
fn seal_envelope(pin: &Pin, root: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let salt = random_bytes(SALT_LEN)?;
    let iv = random_bytes(IV_LEN)?;
    let key = pin_key(pin, &salt, PBKDF2_ITERATIONS)?;
    let sealed = aead_seal(&key, &iv, aad, root)?;
    Ok([salt.as_slice(), iv.as_slice(), sealed.as_slice()].concat())
}

fn open_envelope(
    pin: &Pin,
    envelope: &[u8],
    aad: &[u8],
    iterations: u32,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if envelope.len() != SO_ENVELOPE_LEN {
        return Err(CryptoError::Malformed);
    }
    let (salt, rest) = envelope.split_at(SALT_LEN);
    let (iv, sealed) = rest.split_at(IV_LEN);
    let key = pin_key(pin, salt, iterations)?;
    aead_open(&key, iv, aad, sealed).map_err(|e| match e {
        CryptoError::OpenFailed => {
            CryptoError::Refused(format!("{WRONG_PIN}: the backup does not open with it"))
        }
        e => e,
    })
}

fn envelope_to_json(envelope: &[u8]) -> Envelope {
    let (salt, rest) = envelope.split_at(SALT_LEN.min(envelope.len()));
    let (iv, ciphertext) = rest.split_at(IV_LEN.min(rest.len()));
    Envelope {
        salt: STANDARD.encode(salt),
        iv: STANDARD.encode(iv),
        ciphertext: STANDARD.encode(ciphertext),
    }
}

fn envelope_from_json(envelope: &Envelope) -> Result<Vec<u8>, CryptoError> {
    let decode = |s: &str| STANDARD.decode(s).map_err(|_| CryptoError::Malformed);
    Ok([
        decode(&envelope.salt)?,
        decode(&envelope.iv)?,
        decode(&envelope.ciphertext)?,
    ]
    .concat())
}

fn read_key_file(path: &Path) -> Result<Blobs, CryptoError> {
    if !path.exists() {
        return Err(CryptoError::Refused(format!(
            "no TPM key file at {}: run `scaivault tpm init` (or `scaivault tpm restore` from a backup)",
            path.display()
        )));
    }
    let text = scaivault_crypto::provider::read_owner_only(path)?;
    let bad = |what: &str| CryptoError::RootKey(format!("{}: {what}", path.display()));
    let file: KeyFile = serde_json::from_str(&text)
        .map_err(|e| bad(&format!("not a ScaiVault TPM key file: {e}")))?;
    if file.format != KEY_FILE_FORMAT || file.primary != PRIMARY_TEMPLATE {
        return Err(bad(&format!(
            "key file format {} / primary {:?} is not supported",
            file.format, file.primary
        )));
    }
    let bytes = |s: &str| STANDARD.decode(s).map_err(|_| bad("a blob is not base64"));
    let public =
        |s: &str| Public::unmarshall(&bytes(s)?).map_err(|_| bad("a public blob is malformed"));
    let private =
        |s: &str| Private::try_from(bytes(s)?).map_err(|_| bad("a private blob is malformed"));
    Ok(Blobs {
        hmac_public: public(&file.hmac_public)?,
        hmac_private: private(&file.hmac_private)?,
        seal_public: public(&file.seal_public)?,
        seal_private: private(&file.seal_private)?,
    })
}

/// Writes JSON to `path`, mode 0600, via a temporary file and a rename (so a failure leaves
/// any old file as it was). Without `replace`, an existing file is an error.
fn write_private_file<T: Serialize>(
    path: &Path,
    value: &T,
    replace: bool,
) -> Result<(), CryptoError> {
    let text = serde_json::to_string_pretty(value).map_err(|_| CryptoError::Internal)?;
    let cannot =
        |e: std::io::Error| CryptoError::RootKey(format!("cannot write {}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(cannot)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(cannot)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(cannot)?;
    drop(file);
    if !replace && path.exists() {
        let _ = std::fs::remove_file(&tmp);
        return Err(CryptoError::RootKey(format!("{} exists", path.display())));
    }
    std::fs::rename(&tmp, path).map_err(cannot)
}
