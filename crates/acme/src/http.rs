//! The HTTPS client instant-acme talks through: the platform's trust store, plus an optional
//! PEM bundle of extra roots for private CAs (step-ca, pebble, a corporate ACME server).

use std::sync::Arc;

use bytes::Bytes;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, HttpClient};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::AcmeError;

/// Parses every certificate in a PEM bundle; an empty or malformed bundle is an error (a
/// silently empty trust list would only fail later, less clearly).
pub(crate) fn parse_bundle(pem: &str) -> Result<Vec<CertificateDer<'static>>, AcmeError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AcmeError::CaBundle(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(AcmeError::CaBundle("no certificate in the bundle".into()));
    }
    Ok(certs)
}

/// The client: platform roots, plus `extra_roots_pem` when given.
pub(crate) fn client(extra_roots_pem: Option<&str>) -> Result<Box<dyn HttpClient>, AcmeError> {
    let extra = match extra_roots_pem {
        Some(pem) => parse_bundle(pem)?,
        None => Vec::new(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| AcmeError::CaBundle(format!("trust store: {e}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AcmeError::Protocol(format!("TLS config: {e}")))?
        // The platform verifier, not a bypass: it checks chains against the platform roots
        // and the extra ones.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client: HyperClient<_, BodyWrapper<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build(connector);
    Ok(Box::new(client))
}
