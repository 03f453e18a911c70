//! Root key providers. The root key never encrypts data directly: it only wraps data keys.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::random::random_bytes;

const ROOT_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const WRAP_AAD_PREFIX: &[u8] = b"scaivault/wrap/v1\0";

/// Something that protects the root key and can wrap and unwrap data keys with it. The root key
/// wraps data keys only: values are sealed by the keyring, so a provider is off the read path.
///
/// Implementations: [`FileKeyProvider`] here; AWS KMS, PKCS#11 and TPM 2.0 in `scaivault-keys`.
/// Errors tell the server what to do: [`CryptoError::Unavailable`] (the provider cannot be
/// reached now) starts it sealed and it retries; [`CryptoError::Refused`] (wrong PIN, access
/// denied, wrong key) and [`CryptoError::OpenFailed`] stop it, since retrying cannot help and
/// may lock a PIN.
#[async_trait::async_trait]
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// A stable, non-secret description, e.g. `file:/etc/scaivault/root.key`; recorded beside
    /// each wrapped data key.
    fn describe(&self) -> String;
    /// The provider's kind as configured: `file`, `awskms`, `pkcs11` or `tpm`.
    fn kind(&self) -> &'static str;
    /// Encrypts a data key. `key_id` is bound as associated data.
    async fn wrap(&self, key_id: &str, key: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// Decrypts a data key wrapped by [`KeyProvider::wrap`] under the same `key_id`.
    async fn unwrap(&self, key_id: &str, wrapped: &[u8])
    -> Result<Zeroizing<Vec<u8>>, CryptoError>;
}

/// Reads a file that holds key material or a PIN, refusing one that group or others can
/// access (the root key file, PIN files). The text is wiped when dropped.
pub fn read_owner_only(path: &Path) -> Result<Zeroizing<String>, CryptoError> {
    let meta = fs::metadata(path)
        .map_err(|e| CryptoError::RootKey(format!("cannot read {}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CryptoError::RootKey(format!(
            "{} is accessible by group or others; run: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    let text = fs::read_to_string(path)
        .map_err(|e| CryptoError::RootKey(format!("cannot read {}: {e}", path.display())))?;
    Ok(Zeroizing::new(text))
}

/// A root key kept in a file (base64 of 32 random bytes), readable by its owner only.
/// Used by dev mode and by small installs without an HSM or KMS.
pub struct FileKeyProvider {
    path: PathBuf,
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for FileKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyProvider")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileKeyProvider {
    /// Loads the key file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let text = read_owner_only(path)?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| CryptoError::RootKey(format!("{} is not base64", path.display())))?,
        );
        if bytes.len() != ROOT_KEY_LEN {
            return Err(CryptoError::RootKey(format!(
                "{} must hold {ROOT_KEY_LEN} bytes, base64-encoded",
                path.display()
            )));
        }
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, &bytes).map_err(|_| CryptoError::Internal)?;
        Ok(Self {
            path: path.to_owned(),
            key,
        })
    }

    /// Creates a new random key file (mode 0600); fails if the file exists.
    pub fn create(path: &Path) -> Result<Self, CryptoError> {
        let key = random_bytes(ROOT_KEY_LEN)?;
        let encoded = Zeroizing::new(format!("{}\n", STANDARD.encode(key.as_slice())));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| CryptoError::RootKey(format!("cannot create {}: {e}", path.display())))?;
        file.write_all(encoded.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| CryptoError::RootKey(format!("cannot write {}: {e}", path.display())))?;
        Self::load(path)
    }

    /// Loads the key file, creating it first if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        if path.exists() {
            Self::load(path)
        } else {
            Self::create(path)
        }
    }
}

fn wrap_aad(key_id: &str) -> Vec<u8> {
    [WRAP_AAD_PREFIX, key_id.as_bytes()].concat()
}

#[async_trait::async_trait]
impl KeyProvider for FileKeyProvider {
    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }

    fn kind(&self) -> &'static str {
        "file"
    }

    async fn wrap(&self, key_id: &str, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut in_out = key.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(wrap_aad(key_id)), &mut in_out)
            .map_err(|_| CryptoError::Internal)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if wrapped.len() < NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(wrap_aad(key_id)), &mut in_out)
            .map_err(|_| CryptoError::OpenFailed)?
            .len();
        in_out.truncate(plain_len);
        Ok(in_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn created_key_file_is_private_and_wraps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let provider = FileKeyProvider::create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let wrapped = provider
            .wrap("key_1", b"0123456789abcdef0123456789abcdef")
            .await
            .unwrap();
        let reloaded = FileKeyProvider::load(&path).unwrap();
        assert_eq!(
            reloaded.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
            b"0123456789abcdef0123456789abcdef"
        );
        // Bound to its key id.
        assert!(matches!(
            reloaded.unwrap("key_2", &wrapped).await,
            Err(CryptoError::OpenFailed)
        ));
    }

    #[test]
    fn refuses_world_readable_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        FileKeyProvider::create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = FileKeyProvider::load(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[tokio::test]
    async fn other_root_key_cannot_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let a = FileKeyProvider::create(&dir.path().join("a.key")).unwrap();
        let b = FileKeyProvider::create(&dir.path().join("b.key")).unwrap();
        let wrapped = a.wrap("key_1", &[7u8; 32]).await.unwrap();
        assert!(b.unwrap("key_1", &wrapped).await.is_err());
    }
}
