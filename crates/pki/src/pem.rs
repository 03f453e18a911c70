//! PEM armour.

use crate::PkiError;

/// PEM-encodes `der` under `label` ("CERTIFICATE", "X509 CRL", ...), LF line endings, 64
/// columns, ending with a newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    todo!()
}

/// Every CERTIFICATE block of `pem`, in order, as DER. Text around and between blocks is
/// ignored; no CERTIFICATE block at all is PkiError::InvalidCertificate.
pub fn pem_decode_cert(pem: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    todo!()
}
