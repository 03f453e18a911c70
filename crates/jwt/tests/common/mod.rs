//! Shared test helpers: real key pairs, token signing, and an HTTP JWKS server on 127.0.0.1.
#![allow(dead_code, reason = "each test binary uses a subset")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair, RsaPublicKeyComponents,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header};
use scaivault_jwt::{IssuerConfig, JwtError, JwtVerifier, KeySource, VerifierOptions};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://scaikey.test/realms/main";
pub const AUDIENCE: &str = "scaivault";

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[allow(
    clippy::disallowed_methods,
    reason = "jsonwebtoken checks exp/nbf against the real time, so test tokens are minted on it"
)]
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A real key pair: signs tokens, and exposes its public half as JWK, SPKI DER and PEM.
pub struct TestKey {
    pub kid: String,
    pub alg: jsonwebtoken::Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
    pub public_der: Vec<u8>,
    pub public_pem: String,
}

impl TestKey {
    pub fn rsa(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8: Pkcs8V1Der = pair.as_der().unwrap();
        // jsonwebtoken's RSA signer wants PKCS#1; its PEM loader unwraps PKCS#8 for us.
        let encoding =
            EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes()).unwrap();
        let parts = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let spki: PublicKeyX509Der = pair.public_key().as_der().unwrap();
        Self::new(
            kid,
            jsonwebtoken::Algorithm::RS256,
            encoding,
            json!({ "kty": "RSA", "kid": kid, "use": "sig", "n": b64url(&parts.n), "e": b64url(&parts.e) }),
            spki.as_ref().to_vec(),
        )
    }

    pub fn ec_p256(kid: &str) -> Self {
        Self::ec(
            kid,
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            "P-256",
            jsonwebtoken::Algorithm::ES256,
        )
    }

    pub fn ec_p384(kid: &str) -> Self {
        Self::ec(
            kid,
            &ECDSA_P384_SHA384_FIXED_SIGNING,
            "P-384",
            jsonwebtoken::Algorithm::ES384,
        )
    }

    fn ec(
        kid: &str,
        signing: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
        crv: &str,
        alg: jsonwebtoken::Algorithm,
    ) -> Self {
        let pair = EcdsaKeyPair::generate(signing).unwrap();
        let encoding = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
        let point = pair.public_key().as_ref();
        assert_eq!(point[0], 0x04, "uncompressed point");
        let (x, y) = point[1..].split_at((point.len() - 1) / 2);
        let spki: PublicKeyX509Der = pair.public_key().as_der().unwrap();
        Self::new(
            kid,
            alg,
            encoding,
            json!({ "kty": "EC", "kid": kid, "crv": crv, "x": b64url(x), "y": b64url(y) }),
            spki.as_ref().to_vec(),
        )
    }

    pub fn ed25519(kid: &str) -> Self {
        let pair = Ed25519KeyPair::generate().unwrap();
        let encoding = EncodingKey::from_ed_der(pair.to_pkcs8().unwrap().as_ref());
        let x = pair.public_key().as_ref();
        let spki: PublicKeyX509Der = pair.public_key().as_der().unwrap();
        Self::new(
            kid,
            jsonwebtoken::Algorithm::EdDSA,
            encoding,
            json!({ "kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64url(x) }),
            spki.as_ref().to_vec(),
        )
    }

    fn new(
        kid: &str,
        alg: jsonwebtoken::Algorithm,
        encoding: EncodingKey,
        jwk: Value,
        public_der: Vec<u8>,
    ) -> Self {
        let public_pem = pem("PUBLIC KEY", &public_der);
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
            public_der,
            public_pem,
        }
    }

    /// Signs `claims` with this key's algorithm and `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs an arbitrary header JSON (for headers jsonwebtoken would not produce).
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, self.alg).unwrap();
        format!("{message}.{signature}")
    }
}

/// A token with the given header and claims and a literal (possibly empty) signature part.
pub fn unsigned_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

/// Valid claims for [`ISSUER`]/[`AUDIENCE`], expiring in 5 minutes.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-123",
        "exp": now() + 300,
        "iat": now(),
    })
}

/// `claims()` with `changes` merged in (`null` removes a claim).
pub fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

pub fn issuer(key_source: KeySource) -> IssuerConfig {
    IssuerConfig {
        issuer: ISSUER.to_owned(),
        audiences: vec![AUDIENCE.to_owned()],
        key_source,
    }
}

pub fn verifier(key_source: KeySource, options: VerifierOptions) -> JwtVerifier {
    JwtVerifier::new(vec![issuer(key_source)], options).unwrap()
}

/// Asserts the refusal, and that the error text echoes no part of the token.
pub async fn assert_refused(verifier: &JwtVerifier, token: &str, expected: JwtError) {
    let err = verifier
        .verify(token)
        .await
        .expect_err("token must be refused");
    assert_eq!(err, expected);
    let shown = format!("{err} {err:?}");
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(!shown.contains(part), "error text leaks the token: {shown}");
    }
}

/// An HTTP JWKS endpoint whose document, availability and latency the test controls.
pub struct JwksServer {
    pub url: String,
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
}

#[derive(Clone)]
struct ServerState {
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
}

async fn serve_jwks(State(state): State<ServerState>) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let body = state.jwks.lock().unwrap().clone();
    Json(body).into_response()
}

impl JwksServer {
    pub async fn start(initial: Value) -> Self {
        let state = ServerState {
            jwks: Arc::new(Mutex::new(initial)),
            fetches: Arc::new(AtomicUsize::new(0)),
            failing: Arc::new(AtomicBool::new(false)),
            delay_ms: Arc::new(AtomicU64::new(0)),
        };
        let app = axum::Router::new()
            .route("/jwks", axum::routing::get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/jwks"),
            jwks: state.jwks,
            fetches: state.fetches,
            failing: state.failing,
            delay_ms: state.delay_ms,
        }
    }

    pub fn key_source(&self) -> KeySource {
        KeySource::JwksUrl(self.url.clone())
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.jwks.lock().unwrap() = jwks;
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}
