//! AWS KMS: the root key is a KMS key; data keys are wrapped with `Encrypt` and unwrapped with
//! `Decrypt`, each bound to its key id by the encryption context.

use scaivault_crypto::{CryptoError, KeyProvider};
use zeroize::Zeroizing;

use crate::AwsKmsSettings;

#[derive(Debug)]
pub struct AwsKmsProvider {
    key_id: String,
}

impl AwsKmsProvider {
    /// Builds a client from the standard AWS chain and checks the key is usable.
    pub async fn connect(settings: &AwsKmsSettings) -> Result<Self, CryptoError> {
        Err(CryptoError::Unavailable(format!(
            "AWS KMS key {} (not built yet)",
            settings.key_id
        )))
    }
}

#[async_trait::async_trait]
impl KeyProvider for AwsKmsProvider {
    fn describe(&self) -> String {
        format!("awskms:{}", self.key_id)
    }

    fn kind(&self) -> &'static str {
        "awskms"
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
