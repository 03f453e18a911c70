//! Token verification: accepted tokens and their claims, every refusal, and the key sources.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::*;
use jsonwebtoken::Header;
use scaivault_jwt::{
    Algorithm, IssuerConfig, JwtError, JwtVerifier, KeySource, VerifierOptions, looks_like_jwt,
};
use serde_json::json;

/// Three keys of different types behind a real HTTP JWKS endpoint.
struct Fixture {
    rsa: TestKey,
    ec: TestKey,
    ed: TestKey,
    server: JwksServer,
    verifier: JwtVerifier,
}

async fn fixture() -> Fixture {
    let rsa = TestKey::rsa("rsa-1");
    let ec = TestKey::ec_p256("ec-1");
    let ed = TestKey::ed25519("ed-1");
    let server = JwksServer::start(jwks(&[&rsa, &ec, &ed])).await;
    let verifier = verifier(server.key_source(), VerifierOptions::default());
    Fixture {
        rsa,
        ec,
        ed,
        server,
        verifier,
    }
}

#[tokio::test]
async fn valid_tokens_of_each_algorithm_verify_over_http() {
    let f = fixture().await;
    assert_eq!(
        f.server.fetches(),
        0,
        "nothing is fetched before the first verify"
    );
    for key in [&f.rsa, &f.ec, &f.ed] {
        let claims = f.verifier.verify(&key.sign(&claims())).await.unwrap();
        assert_eq!(claims.subject, "user-123");
        assert_eq!(claims.issuer, ISSUER);
    }
    // PS256 with the same RSA key.
    let mut header = Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some(f.rsa.kid.clone());
    f.verifier
        .verify(&f.rsa.sign_with(header, &claims()))
        .await
        .unwrap();
    assert_eq!(f.server.fetches(), 1, "one fetch serves all later verifies");
}

#[tokio::test]
async fn es384_verifies() {
    let key = TestKey::ec_p384("ec384");
    let verifier = verifier(
        KeySource::InlineJwks(jwks(&[&key]).to_string()),
        Default::default(),
    );
    verifier.verify(&key.sign(&claims())).await.unwrap();
}

#[tokio::test]
async fn claims_are_parsed() {
    let f = fixture().await;
    let exp = now() + 120;
    let token = f.rsa.sign(&claims_with(json!({
        "exp": exp,
        "tenant_id": "tenant-a",
        "partner_id": "partner-b",
        "scopes": ["secrets:read", "secrets:write"],
        "groups": ["ops", "dev team"],
        "roles": ["admin"],
        "identity_type": "user",
        "jti": "jwt-42",
        "unrelated": {"ignored": true},
    })));
    let claims = f.verifier.verify(&token).await.unwrap();
    assert_eq!(claims.subject, "user-123");
    assert_eq!(claims.issuer, ISSUER);
    assert_eq!(claims.tenant_id.as_deref(), Some("tenant-a"));
    assert_eq!(claims.partner_id.as_deref(), Some("partner-b"));
    assert_eq!(claims.scopes, ["secrets:read", "secrets:write"]);
    assert_eq!(claims.groups, ["ops", "dev team"]);
    assert_eq!(claims.roles, ["admin"]);
    assert_eq!(claims.identity_type.as_deref(), Some("user"));
    assert_eq!(claims.jwt_id.as_deref(), Some("jwt-42"));
    assert_eq!(claims.expires_at, exp);

    // Optional claims absent: empty lists and None.
    let claims = f
        .verifier
        .verify(&f.ec.sign(&common::claims()))
        .await
        .unwrap();
    assert!(claims.scopes.is_empty() && claims.groups.is_empty() && claims.roles.is_empty());
    assert_eq!(
        (claims.tenant_id, claims.identity_type, claims.jwt_id),
        (None, None, None)
    );
}

#[tokio::test]
async fn scope_string_form() {
    let f = fixture().await;
    let token =
        f.ed.sign(&claims_with(json!({ "scope": "secrets:read  audit:read" })));
    let claims = f.verifier.verify(&token).await.unwrap();
    assert_eq!(claims.scopes, ["secrets:read", "audit:read"]);
    // `scopes` wins over `scope` when both are present.
    let token =
        f.ed.sign(&claims_with(json!({ "scopes": ["a"], "scope": "b c" })));
    assert_eq!(f.verifier.verify(&token).await.unwrap().scopes, ["a"]);
}

#[tokio::test]
async fn claim_of_wrong_type_is_malformed() {
    let f = fixture().await;
    let token = f.rsa.sign(&claims_with(json!({ "groups": "ops" })));
    assert_refused(&f.verifier, &token, JwtError::Malformed).await;
}

#[tokio::test]
async fn expiry_is_enforced_with_leeway() {
    let f = fixture().await;
    let expired = f.rsa.sign(&claims_with(json!({ "exp": now() - 3600 })));
    assert_refused(&f.verifier, &expired, JwtError::Expired).await;
    // Within the default 30 s leeway.
    let just_expired = f.rsa.sign(&claims_with(json!({ "exp": now() - 5 })));
    f.verifier.verify(&just_expired).await.unwrap();

    let strict = verifier(
        f.server.key_source(),
        VerifierOptions {
            leeway: std::time::Duration::ZERO,
            ..Default::default()
        },
    );
    assert_refused(&strict, &just_expired, JwtError::Expired).await;
}

#[tokio::test]
async fn exp_sub_are_required() {
    let f = fixture().await;
    let no_exp = f.rsa.sign(&claims_with(json!({ "exp": null })));
    assert_refused(&f.verifier, &no_exp, JwtError::MissingClaim("exp")).await;
    let no_sub = f.rsa.sign(&claims_with(json!({ "sub": null })));
    assert_refused(&f.verifier, &no_sub, JwtError::MissingClaim("sub")).await;
    let empty_sub = f.rsa.sign(&claims_with(json!({ "sub": "" })));
    assert_refused(&f.verifier, &empty_sub, JwtError::MissingClaim("sub")).await;
}

#[tokio::test]
async fn not_before_in_future_is_refused() {
    let f = fixture().await;
    let future = f.ec.sign(&claims_with(json!({ "nbf": now() + 3600 })));
    assert_refused(&f.verifier, &future, JwtError::NotYetValid).await;
    let past = f.ec.sign(&claims_with(json!({ "nbf": now() - 10 })));
    f.verifier.verify(&past).await.unwrap();
}

#[tokio::test]
async fn audience_must_intersect() {
    let f = fixture().await;
    let wrong = f.rsa.sign(&claims_with(json!({ "aud": "someone-else" })));
    assert_refused(&f.verifier, &wrong, JwtError::WrongAudience).await;
    let wrong_list = f.rsa.sign(&claims_with(json!({ "aud": ["a", "b"] })));
    assert_refused(&f.verifier, &wrong_list, JwtError::WrongAudience).await;
    let missing = f.rsa.sign(&claims_with(json!({ "aud": null })));
    assert_refused(&f.verifier, &missing, JwtError::MissingClaim("aud")).await;
    let list = f
        .rsa
        .sign(&claims_with(json!({ "aud": ["other", AUDIENCE] })));
    f.verifier.verify(&list).await.unwrap();
}

#[tokio::test]
async fn untrusted_or_missing_issuer_is_refused() {
    let f = fixture().await;
    let other = f.rsa.sign(&claims_with(
        json!({ "iss": "https://evil.test/realms/main" }),
    ));
    assert_refused(&f.verifier, &other, JwtError::UnknownIssuer).await;
    // Exact match: no normalisation of a trailing slash.
    let slash = f
        .rsa
        .sign(&claims_with(json!({ "iss": format!("{ISSUER}/") })));
    assert_refused(&f.verifier, &slash, JwtError::UnknownIssuer).await;
    let missing = f.rsa.sign(&claims_with(json!({ "iss": null })));
    assert_refused(&f.verifier, &missing, JwtError::MissingClaim("iss")).await;
    assert_eq!(
        f.server.fetches(),
        0,
        "tokens of unknown issuers cause no fetch"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = fixture().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": f.rsa.kid });
        for signature in ["", "c2ln"] {
            let token = unsigned_token(&header, &claims(), signature);
            assert_refused(
                &f.verifier,
                &token,
                JwtError::UnsupportedAlgorithm(alg.to_owned()),
            )
            .await;
        }
    }
    // An alg we do not know is refused too, and echoed only when it looks like a name.
    let header = json!({ "alg": "RS256\n<script>", "kid": f.rsa.kid });
    let token = unsigned_token(&header, &claims(), "c2ln");
    let unrecognized = JwtError::UnsupportedAlgorithm("unrecognized".to_owned());
    assert_refused(&f.verifier, &token, unrecognized).await;
    assert_eq!(f.server.fetches(), 0);
}

/// The classic confusion: HMAC "signed" with the issuer's RSA public key as the secret.
#[tokio::test]
async fn hmac_with_public_key_as_secret_is_refused() {
    let f = fixture().await;
    let n = f.rsa.jwk["n"].as_str().unwrap().to_owned();
    let secrets: [&[u8]; 3] = [f.rsa.public_pem.as_bytes(), &f.rsa.public_der, n.as_bytes()];
    for secret in secrets {
        for alg in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS384,
            jsonwebtoken::Algorithm::HS512,
        ] {
            let mut header = Header::new(alg);
            header.kid = Some(f.rsa.kid.clone());
            let token = jsonwebtoken::encode(
                &header,
                &claims(),
                &jsonwebtoken::EncodingKey::from_secret(secret),
            )
            .unwrap();
            let expected = JwtError::UnsupportedAlgorithm(format!("{alg:?}"));
            assert_refused(&f.verifier, &token, expected).await;
        }
    }
    // An HMAC key published in the JWKS is never used either.
    let secret = b"0123456789abcdef0123456789abcdef";
    f.server.set_jwks(json!({ "keys": [
        f.rsa.jwk.clone(),
        { "kty": "oct", "kid": "hmac", "k": b64url(secret) },
    ]}));
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("hmac".to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap();
    assert_refused(
        &f.verifier,
        &token,
        JwtError::UnsupportedAlgorithm("HS256".to_owned()),
    )
    .await;
}

#[tokio::test]
async fn algorithm_must_fit_the_key_type() {
    let f = fixture().await;
    // Correctly signed by the EC key, but naming the RSA key's kid.
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(f.rsa.kid.clone());
    assert_refused(
        &f.verifier,
        &f.ec.sign_with(header, &claims()),
        JwtError::KeyTypeMismatch,
    )
    .await;
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(f.ec.kid.clone());
    assert_refused(
        &f.verifier,
        &f.ed.sign_with(header, &claims()),
        JwtError::KeyTypeMismatch,
    )
    .await;
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(f.ed.kid.clone());
    assert_refused(
        &f.verifier,
        &f.rsa.sign_with(header, &claims()),
        JwtError::KeyTypeMismatch,
    )
    .await;
}

#[tokio::test]
async fn signature_by_another_key_is_refused() {
    let f = fixture().await;
    // Same kid as a published key, different private key.
    let impostor = TestKey::rsa(&f.rsa.kid);
    assert_refused(
        &f.verifier,
        &impostor.sign(&claims()),
        JwtError::InvalidSignature,
    )
    .await;
    let impostor = TestKey::ec_p256(&f.ec.kid);
    assert_refused(
        &f.verifier,
        &impostor.sign(&claims()),
        JwtError::InvalidSignature,
    )
    .await;
    let impostor = TestKey::ed25519(&f.ed.kid);
    assert_refused(
        &f.verifier,
        &impostor.sign(&claims()),
        JwtError::InvalidSignature,
    )
    .await;

    // A genuine token whose payload was swapped after signing.
    let genuine = f.rsa.sign(&claims());
    let forged_payload = b64url(
        claims_with(json!({ "sub": "admin" }))
            .to_string()
            .as_bytes(),
    );
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_refused(&f.verifier, &forged, JwtError::InvalidSignature).await;
}

#[tokio::test]
async fn garbage_is_malformed() {
    let f = fixture().await;
    let valid = f.rsa.sign(&claims());
    let parts: Vec<&str> = valid.split('.').collect();
    let not_json = b64url(b"not json");
    let too_long = format!("{}.{}.{}", parts[0], "A".repeat(40_000), parts[2]);
    let garbage = [
        String::new(),
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        "a.b".to_owned(),
        format!("{valid}.extra"),
        format!("{}.{}", parts[0], parts[1]),
        format!("{not_json}.{}.{}", parts[1], parts[2]),
        format!("{}.{not_json}.{}", parts[0], parts[2]),
        format!("{}.{}.%%%", parts[0], parts[1]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        too_long,
    ];
    for token in garbage {
        assert_refused(&f.verifier, &token, JwtError::Malformed).await;
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let f = fixture().await;
    let header = json!({ "alg": "RS256", "kid": f.rsa.kid, "crit": ["exp"], "exp": 1 });
    assert_refused(
        &f.verifier,
        &f.rsa.sign_raw(&header, &claims()),
        JwtError::Malformed,
    )
    .await;
    // Without crit the same construction verifies (sign_raw itself is sound).
    let header = json!({ "alg": "RS256", "kid": f.rsa.kid, "typ": "at+jwt" });
    f.verifier
        .verify(&f.rsa.sign_raw(&header, &claims()))
        .await
        .unwrap();
}

#[tokio::test]
async fn kidless_token_uses_the_single_compatible_key() {
    let f = fixture().await;
    for key in [&f.rsa, &f.ec, &f.ed] {
        let token = key.sign_with(Header::new(key.alg), &claims());
        f.verifier.verify(&token).await.unwrap();
    }
    // Two RSA keys: a kid-less RS256 token is ambiguous.
    let second = TestKey::rsa("rsa-2");
    f.server.set_jwks(jwks(&[&f.rsa, &second]));
    let v = verifier(f.server.key_source(), VerifierOptions::default());
    let token = f.rsa.sign_with(Header::new(f.rsa.alg), &claims());
    assert_refused(&v, &token, JwtError::UnknownKey).await;
}

#[tokio::test]
async fn inline_jwks_needs_no_server() {
    let rsa = TestKey::rsa("a");
    let ed = TestKey::ed25519("b");
    let v = verifier(
        KeySource::InlineJwks(jwks(&[&rsa, &ed]).to_string()),
        Default::default(),
    );
    v.verify(&rsa.sign(&claims())).await.unwrap();
    v.verify(&ed.sign(&claims())).await.unwrap();
    let stranger = TestKey::ec_p256("c");
    assert_refused(&v, &stranger.sign(&claims()), JwtError::UnknownKey).await;
}

#[tokio::test]
async fn pem_keys_need_no_server() {
    let rsa = TestKey::rsa("rsa-kid");
    let v = verifier(
        KeySource::PublicKeyPem {
            pem: rsa.public_pem.clone(),
            algorithm: Algorithm::Rs256,
            kid: None,
        },
        Default::default(),
    );
    // No kid configured: any kid, or none, selects the pinned key.
    v.verify(&rsa.sign(&claims())).await.unwrap();
    v.verify(&rsa.sign_with(Header::new(rsa.alg), &claims()))
        .await
        .unwrap();
    // The key is pinned to RS256.
    let mut header = Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some(rsa.kid.clone());
    assert_refused(
        &v,
        &rsa.sign_with(header, &claims()),
        JwtError::KeyTypeMismatch,
    )
    .await;
    assert_refused(
        &v,
        &TestKey::rsa("x").sign(&claims()),
        JwtError::InvalidSignature,
    )
    .await;

    let ec = TestKey::ec_p256("ec-kid");
    let v = verifier(
        KeySource::PublicKeyPem {
            pem: ec.public_pem.clone(),
            algorithm: Algorithm::Es256,
            kid: Some("ec-kid".to_owned()),
        },
        Default::default(),
    );
    v.verify(&ec.sign(&claims())).await.unwrap();
    let mut header = Header::new(ec.alg);
    header.kid = Some("other".to_owned());
    assert_refused(&v, &ec.sign_with(header, &claims()), JwtError::UnknownKey).await;

    let ed = TestKey::ed25519("ed");
    let v = verifier(
        KeySource::PublicKeyPem {
            pem: ed.public_pem.clone(),
            algorithm: Algorithm::EdDsa,
            kid: None,
        },
        Default::default(),
    );
    v.verify(&ed.sign(&claims())).await.unwrap();
}

#[tokio::test]
async fn tokens_are_checked_against_their_own_issuer_only() {
    let key_a = TestKey::rsa("a");
    let key_b = TestKey::ec_p256("b");
    let issuer_b = "https://partner.test";
    let v = JwtVerifier::new(
        vec![
            issuer(KeySource::InlineJwks(jwks(&[&key_a]).to_string())),
            IssuerConfig {
                issuer: issuer_b.to_owned(),
                audiences: vec!["vault-b".to_owned()],
                key_source: KeySource::InlineJwks(jwks(&[&key_b]).to_string()),
            },
        ],
        VerifierOptions::default(),
    )
    .unwrap();
    let b_claims = claims_with(json!({ "iss": issuer_b, "aud": "vault-b" }));
    assert_eq!(
        v.verify(&key_b.sign(&b_claims)).await.unwrap().issuer,
        issuer_b
    );
    // Issuer A's key cannot vouch for issuer B, nor B's audience pass for A.
    assert_refused(&v, &key_a.sign(&b_claims), JwtError::UnknownKey).await;
    let a_with_b_aud = claims_with(json!({ "aud": "vault-b" }));
    assert_refused(&v, &key_a.sign(&a_with_b_aud), JwtError::WrongAudience).await;
    let mut issuers: Vec<&str> = v.issuers().collect();
    issuers.sort_unstable();
    assert_eq!(issuers, [issuer_b, ISSUER]);
}

#[test]
fn bad_configuration_is_refused_eagerly() {
    let rsa = TestKey::rsa("rsa");
    let ec = TestKey::ec_p256("ec");
    let ec384 = TestKey::ec_p384("ec384");
    let new = |issuers: Vec<IssuerConfig>| JwtVerifier::new(issuers, VerifierOptions::default());
    let pem = |pem: &str, algorithm| KeySource::PublicKeyPem {
        pem: pem.to_owned(),
        algorithm,
        kid: None,
    };
    let bad = [
        vec![issuer(pem(&ec.public_pem, Algorithm::Rs256))],
        vec![issuer(pem(&rsa.public_pem, Algorithm::Es256))],
        vec![issuer(pem(&ec384.public_pem, Algorithm::Es256))],
        vec![issuer(pem(&rsa.public_pem, Algorithm::EdDsa))],
        vec![issuer(pem("not a pem", Algorithm::Rs256))],
        vec![issuer(KeySource::InlineJwks("{".to_owned()))],
        vec![issuer(KeySource::InlineJwks(
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.to_owned(),
        ))],
        vec![issuer(KeySource::JwksUrl("not a url".to_owned()))],
        vec![issuer(KeySource::JwksUrl(
            "file:///etc/jwks.json".to_owned(),
        ))],
        vec![IssuerConfig {
            audiences: vec![],
            ..issuer(pem(&rsa.public_pem, Algorithm::Rs256))
        }],
        vec![IssuerConfig {
            audiences: vec![String::new()],
            ..issuer(pem(&rsa.public_pem, Algorithm::Rs256))
        }],
        vec![IssuerConfig {
            issuer: String::new(),
            ..issuer(pem(&rsa.public_pem, Algorithm::Rs256))
        }],
        vec![
            issuer(pem(&rsa.public_pem, Algorithm::Rs256)),
            issuer(pem(&ec.public_pem, Algorithm::Es256)),
        ],
    ];
    for (i, issuers) in bad.into_iter().enumerate() {
        match new(issuers) {
            Err(JwtError::InvalidConfig(_)) => {}
            other => panic!("case {i}: expected InvalidConfig, got {other:?}"),
        }
    }
    // An empty issuer list is valid and trusts nothing.
    assert!(new(vec![]).is_ok());
}

#[test]
fn configuration_deserializes() {
    let issuers: Vec<IssuerConfig> = serde_json::from_value(json!([
        { "issuer": "https://a", "audiences": ["v"], "key_source": { "jwks_url": "https://a/jwks" } },
        { "issuer": "https://b", "audiences": ["v"], "key_source": { "inline_jwks": "{\"keys\":[]}" } },
        { "issuer": "https://c", "audiences": ["v"],
          "key_source": { "public_key_pem": { "pem": "...", "algorithm": "EdDSA", "kid": "k" } } },
    ]))
    .unwrap();
    assert_eq!(
        issuers[0].key_source,
        KeySource::JwksUrl("https://a/jwks".to_owned())
    );
    assert_eq!(
        issuers[2].key_source,
        KeySource::PublicKeyPem {
            pem: "...".to_owned(),
            algorithm: Algorithm::EdDsa,
            kid: Some("k".to_owned())
        }
    );
    // HMAC cannot even be configured.
    let hmac = serde_json::from_value::<KeySource>(
        json!({ "public_key_pem": { "pem": "...", "algorithm": "HS256" } }),
    );
    assert!(hmac.is_err());
}

#[test]
fn routing_helper() {
    let key = TestKey::ed25519("k");
    assert!(looks_like_jwt(&key.sign(&claims())));
    assert!(!looks_like_jwt("skt_0123456789abcdef"));
    assert!(!looks_like_jwt("key_0123456789abcdef"));
}
