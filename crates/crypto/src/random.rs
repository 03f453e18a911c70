//! Randomness from the operating system's CSPRNG (through aws-lc-rs), nothing else.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::CryptoError;

/// `n` random bytes, zeroized on drop.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CryptoError::Internal)?;
    Ok(buf)
}

/// A random identifier such as `tok_3q2...` (not secret; 16 random bytes, base64url).
pub fn random_id(prefix: &str) -> Result<String, CryptoError> {
    let bytes = random_bytes(16)?;
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(bytes.as_slice())
    ))
}
