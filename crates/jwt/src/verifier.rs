use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::claims::{RawClaims, VerifiedClaims};
use crate::config::{Algorithm, IssuerConfig, KeySource, VerifierOptions};
use crate::error::JwtError;
use crate::keys::{KeySet, VerificationKey};
use crate::remote::RemoteJwks;

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 32 * 1024;

/// Verifies bearer JWTs against the configured issuers. Share one instance (e.g. in an `Arc`):
/// it holds the JWKS caches.
#[derive(Debug)]
pub struct JwtVerifier {
    issuers: HashMap<String, Issuer>,
    options: VerifierOptions,
}

#[derive(Debug)]
struct Issuer {
    name: String,
    audiences: Vec<String>,
    keys: Keys,
}

#[derive(Debug)]
enum Keys {
    Static(Arc<KeySet>),
    Remote(Box<RemoteJwks>),
}

/// The header members we act on, read before the signature is checked.
#[derive(Deserialize)]
struct UnverifiedHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Only used to pick the issuer configuration; `iss` is checked again once signed.
#[derive(Deserialize)]
struct UnverifiedClaims {
    iss: Option<String>,
}

impl JwtVerifier {
    /// Builds the verifier. Inline and PEM keys are parsed now (a bad one is `InvalidConfig`);
    /// JWKS URLs are only checked for syntax and fetched on first use.
    pub fn new(issuers: Vec<IssuerConfig>, options: VerifierOptions) -> Result<Self, JwtError> {
        // Make the backend choice explicit rather than inferred from crate features; an error
        // only means a provider is already installed for the process.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        // Built only if some issuer needs it, so key-only configurations never touch TLS setup.
        let mut client: Option<reqwest::Client> = None;

        let mut by_name = HashMap::with_capacity(issuers.len());
        for config in issuers {
            let invalid =
                |what: &str| JwtError::InvalidConfig(format!("issuer `{}`: {what}", config.issuer));
            if config.issuer.is_empty() {
                return Err(JwtError::InvalidConfig(
                    "issuer must not be empty".to_owned(),
                ));
            }
            if config.audiences.is_empty() || config.audiences.iter().any(String::is_empty) {
                return Err(invalid(
                    "audiences must be a non-empty list of non-empty strings",
                ));
            }
            let keys = match &config.key_source {
                KeySource::JwksUrl(url) => {
                    let url = reqwest::Url::parse(url)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "https" | "http"))
                        .ok_or_else(|| invalid("JWKS URL must be an http(s) URL"))?;
                    Keys::Remote(Box::new(RemoteJwks::new(
                        config.issuer.clone(),
                        url,
                        http_client(&mut client, &options)?,
                    )))
                }
                KeySource::InlineJwks(json) => {
                    let set = KeySet::from_jwks_json(json.as_bytes())
                        .map_err(|e| invalid(&format!("inline JWKS: {e}")))?;
                    if set.is_empty() {
                        return Err(invalid("inline JWKS holds no usable key"));
                    }
                    Keys::Static(Arc::new(set))
                }
                KeySource::PublicKeyPem {
                    pem,
                    algorithm,
                    kid,
                } => Keys::Static(Arc::new(
                    KeySet::from_pem(pem, *algorithm, kid.clone()).map_err(|e| invalid(&e))?,
                )),
            };
            let issuer = Issuer {
                name: config.issuer.clone(),
                audiences: config.audiences,
                keys,
            };
            if by_name.insert(config.issuer.clone(), issuer).is_some() {
                return Err(invalid("configured twice"));
            }
        }
        Ok(Self {
            issuers: by_name,
            options,
        })
    }

    /// The configured issuer names.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.keys().map(String::as_str)
    }

    /// Verifies a compact JWT and returns its claims. May fetch the issuer's JWKS (first use,
    /// stale set, unknown `kid`), bounded by the options' timeout and rate limit.
    pub async fn verify(&self, token: &str) -> Result<VerifiedClaims, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed);
        }
        let (header, unverified) = parse_unverified(token)?;
        let alg = Algorithm::from_name(&header.alg)
            .ok_or_else(|| JwtError::UnsupportedAlgorithm(printable_alg(&header.alg)))?;
        // We implement no JWS extensions, so a token that marks any as critical is refused
        // (RFC 7515 §4.1.11).
        if header.crit.is_some() {
            return Err(JwtError::Malformed);
        }
        let iss = unverified.iss.ok_or(JwtError::MissingClaim("iss"))?;
        let issuer = self.issuers.get(&iss).ok_or(JwtError::UnknownIssuer)?;
        let kid = header.kid.as_deref();

        let keys = match &issuer.keys {
            Keys::Static(set) => Arc::clone(set),
            Keys::Remote(remote) => {
                let snapshot = remote.current(&self.options).await?;
                match (kid, snapshot.keys.select(kid, alg)) {
                    // The issuer may have rotated in a new key since we fetched.
                    (Some(_), Err(JwtError::UnknownKey)) => {
                        remote
                            .refresh_after_unknown_kid(snapshot.generation, &self.options)
                            .await?
                    }
                    _ => snapshot.keys,
                }
            }
        };
        let key = keys.select(kid, alg)?;
        issuer.decode(token, alg, key, &self.options)
    }
}

impl Issuer {
    /// Signature and registered-claim checks, done by jsonwebtoken with exactly one algorithm
    /// (the header's, already known to fit the key).
    fn decode(
        &self,
        token: &str,
        alg: Algorithm,
        key: &VerificationKey,
        options: &VerifierOptions,
    ) -> Result<VerifiedClaims, JwtError> {
        let mut validation = jsonwebtoken::Validation::new(alg.to_library());
        validation.leeway = options.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.name]);
        validation.set_audience(&self.audiences);
        let data = jsonwebtoken::decode::<RawClaims>(token, &key.key, &validation)
            .map_err(|e| JwtError::from_library(&e))?;
        data.claims.into_verified()
    }
}

/// The shared JWKS client, built on first need.
fn http_client(
    slot: &mut Option<reqwest::Client>,
    options: &VerifierOptions,
) -> Result<reqwest::Client, JwtError> {
    if let Some(client) = slot {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .timeout(options.http_timeout)
        .connect_timeout(options.http_timeout)
        .build()
        .map_err(|e| JwtError::InvalidConfig(format!("HTTP client: {e}")))?;
    *slot = Some(client.clone());
    Ok(client)
}

/// Splits the compact form and reads header and claims without checking anything.
fn parse_unverified(token: &str) -> Result<(UnverifiedHeader, UnverifiedClaims), JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed)
    };
    let header: UnverifiedHeader =
        serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Malformed)?;
    let claims: UnverifiedClaims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| JwtError::Malformed)?;
    Ok((header, claims))
}

/// The header's `alg` is attacker-chosen: echo it only if it looks like an algorithm name.
fn printable_alg(alg: &str) -> String {
    if !alg.is_empty()
        && alg.len() <= 16
        && alg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        alg.to_owned()
    } else {
        "unrecognized".to_owned()
    }
}
