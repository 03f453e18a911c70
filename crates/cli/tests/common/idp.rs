//! A stand-in for ScaiKey: real ES256 keys generated here, a JWKS served over HTTP on
//! 127.0.0.1, and JWT signing. The keys it serves can be rotated while the server runs.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://scaikey.test/realms/scailabs";
pub const AUDIENCE: &str = "scaivault";

#[allow(
    clippy::disallowed_methods,
    reason = "jsonwebtoken checks exp/nbf against the real time, so test tokens are minted on it"
)]
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Value,
    /// The public point, for the algorithm-confusion test (an HMAC "signed" with public bytes).
    pub public_bytes: Vec<u8>,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let encoding = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
        let point = pair.public_key().as_ref().to_vec();
        let (x, y) = point[1..].split_at(32);
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        Self {
            kid: kid.to_owned(),
            encoding,
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "x": b64(x), "y": b64(y)}),
            public_bytes: point,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// Claims of a ScaiKey user token, valid for 5 minutes.
pub fn claims(sub: &str, tenant: &str, partner: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "tenant_id": tenant,
        "partner_id": partner,
        "scopes": ["secrets:read", "secrets:write"],
        "iat": now(),
        "exp": now() + 300,
        "jti": format!("jti-{sub}-{}", now()),
    })
}

/// A JWKS endpoint whose key set the test controls. It runs on its own thread and runtime
/// (tests are async; a runtime cannot be started or dropped inside another).
pub struct Idp {
    pub jwks_url: String,
    keys: Arc<Mutex<Value>>,
}

impl Idp {
    pub fn start(initial: &[&SigningKey]) -> Self {
        let keys = Arc::new(Mutex::new(jwks(initial)));
        let served = keys.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().route(
                    "/jwks.json",
                    axum::routing::get(move || {
                        let served = served.clone();
                        async move { axum::Json(served.lock().unwrap().clone()) }
                    }),
                );
                let _ = axum::serve(listener, app).await;
            });
        });
        let addr = rx.recv().unwrap();
        Self {
            jwks_url: format!("http://{addr}/jwks.json"),
            keys,
        }
    }

    /// Replaces the published key set (a key rotation at the IdP).
    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.keys.lock().unwrap() = jwks(keys);
    }

    /// The `[[jwt_issuers]]` table for the server's configuration.
    pub fn config(&self) -> String {
        format!(
            "jwt_jwks_min_refresh = \"1s\"\n[[jwt_issuers]]\nissuer = \"{ISSUER}\"\naudiences = [\"{AUDIENCE}\"]\nkey_source = {{ jwks_url = \"{}\" }}\n",
            self.jwks_url
        )
    }
}

fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}
