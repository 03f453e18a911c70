//! PEM armour.

use crate::PkiError;

/// PEM-encodes `der` under `label` ("CERTIFICATE", "X509 CRL", ...), LF line endings, 64
/// columns, ending with a newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    // Fails only for a label that is not valid RFC 7468 (ours are constants) or a length
    // overflow; an empty string then makes the caller's parse fail rather than panic here.
    let mut pem =
        pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).unwrap_or_default();
    if !pem.is_empty() && !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem
}

/// Every CERTIFICATE block of `pem`, in order, as DER. Text around and between blocks is
/// ignored; no CERTIFICATE block at all is PkiError::InvalidCertificate.
pub fn pem_decode_cert(pem: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block =
            block.map_err(|e| PkiError::InvalidCertificate(format!("malformed PEM: {e}")))?;
        if block.label == "CERTIFICATE" {
            out.push(block.contents);
        }
    }
    if out.is_empty() {
        return Err(PkiError::InvalidCertificate(
            "no PEM CERTIFICATE block found".to_string(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_several_blocks() {
        let a = pem_encode("CERTIFICATE", &[1u8; 100]);
        let b = pem_encode("CERTIFICATE", &[2u8; 3]);
        assert!(a.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(a.ends_with("-----END CERTIFICATE-----\n"));
        let key = pem_encode("PRIVATE KEY", &[3u8; 5]);
        let bundle = format!("leading text\n{a}between\n{key}{b}");
        assert_eq!(
            pem_decode_cert(&bundle).unwrap(),
            vec![vec![1u8; 100], vec![2u8; 3]]
        );
        assert!(pem_decode_cert(&key).is_err());
        assert!(pem_decode_cert("garbage").is_err());
    }
}
