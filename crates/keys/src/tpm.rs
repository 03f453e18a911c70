//! TPM 2.0: the root key lives inside the TPM, loaded from blobs (public + private parts) that
//! only that TPM can open; `scaivault tpm init/status/backup/restore` manage it.

use std::path::Path;

use scaivault_crypto::{CryptoError, KeyProvider};
use zeroize::Zeroizing;

use crate::TpmSettings;

#[derive(Debug)]
pub struct TpmProvider {
    tcti: String,
}

impl TpmProvider {
    /// Connects to the TPM, recreates the primary key and loads the root key from its blobs.
    pub async fn open(settings: &TpmSettings, data_dir: &Path) -> Result<Self, CryptoError> {
        let _ = data_dir;
        Err(CryptoError::Unavailable(format!(
            "TPM {} (not built yet)",
            settings.tcti
        )))
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

    async fn wrap(&self, _key_id: &str, _key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::Unavailable("not built yet".into()))
    }

    async fn unwrap(
        &self,
        _key_id: &str,
        _wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        Err(CryptoError::Unavailable("not built yet".into()))
    }
}
