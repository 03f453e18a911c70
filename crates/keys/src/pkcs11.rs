//! PKCS#11: the root key is an AES-256 key object inside an HSM token (sensitive, never
//! extractable); data keys are wrapped with AES-GCM inside the HSM.

use scaivault_crypto::{CryptoError, KeyProvider};
use zeroize::Zeroizing;

use crate::Pkcs11Settings;

#[derive(Debug)]
pub struct Pkcs11Provider {
    token_label: String,
    key_label: String,
    created_key: bool,
}

impl Pkcs11Provider {
    /// Loads the module, finds the token by label, logs in with the user PIN and finds the key
    /// by label; with `create`, generates the key when the token has none by that label.
    pub async fn open(settings: &Pkcs11Settings, create: bool) -> Result<Self, CryptoError> {
        let _ = create;
        Err(CryptoError::Unavailable(format!(
            "PKCS#11 token {} (not built yet)",
            settings.token_label
        )))
    }

    /// Whether [`Pkcs11Provider::open`] generated the key.
    pub fn created_key(&self) -> bool {
        self.created_key
    }
}

#[async_trait::async_trait]
impl KeyProvider for Pkcs11Provider {
    fn describe(&self) -> String {
        format!("pkcs11:{}/{}", self.token_label, self.key_label)
    }

    fn kind(&self) -> &'static str {
        "pkcs11"
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
