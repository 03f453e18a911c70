//! Bearer JWTs: `JwtVerifier::verify` on an arbitrary token string against one fixed Ed25519
//! key (no network: the key is pinned in the configuration). Nothing panics, and a token that
//! verifies names the configured issuer. `seeds/jwt/valid_eddsa` is signed by that key's
//! private half (not kept), so the fuzzer starts from a token that passes every check.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scaivault_jwt::{Algorithm, IssuerConfig, JwtVerifier, KeySource, VerifierOptions};

const ISSUER: &str = "https://scaikey.fuzz";
const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAli0g2vLcI4LtOjHuYXLlc4fc7DyXayLMOF7M7NVc48Q=
-----END PUBLIC KEY-----
";

fn verifier() -> &'static (JwtVerifier, tokio::runtime::Runtime) {
    static VERIFIER: OnceLock<(JwtVerifier, tokio::runtime::Runtime)> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let issuer = IssuerConfig {
            issuer: ISSUER.to_owned(),
            audiences: vec!["scaivault".to_owned()],
            key_source: KeySource::PublicKeyPem {
                pem: PUBLIC_KEY.to_owned(),
                algorithm: Algorithm::EdDsa,
                kid: None,
            },
        };
        let verifier = JwtVerifier::new(vec![issuer], VerifierOptions::default())
            .expect("the fixed key configures a verifier");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        (verifier, runtime)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = scaivault_jwt::looks_like_jwt(token);
    let (verifier, runtime) = verifier();
    if let Ok(claims) = runtime.block_on(verifier.verify(token)) {
        assert_eq!(claims.issuer, ISSUER);
    }
});
