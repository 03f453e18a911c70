//! JWKS fetching: lazy first fetch, rotation, unknown-kid refresh and its rate limit,
//! single-flight under concurrency, staleness, and failures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use jsonwebtoken::Header;
use scaivault_jwt::{JwtError, VerifierOptions};

/// Options with no rate limit, so each refresh trigger fetches.
fn eager() -> VerifierOptions {
    VerifierOptions {
        unknown_kid_refresh_min_interval: Duration::ZERO,
        ..Default::default()
    }
}

fn with_kid(key: &TestKey, kid: &str) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(kid.to_owned());
    key.sign_with(header, &claims())
}

#[tokio::test]
async fn key_rotation_without_restart() {
    let key_a = TestKey::rsa("key-a");
    let key_b = TestKey::ec_p256("key-b");
    let server = JwksServer::start(jwks(&[&key_a])).await;
    let v = verifier(server.key_source(), eager());

    v.verify(&key_a.sign(&claims())).await.unwrap();
    assert_eq!(server.fetches(), 1);

    // The issuer rotates: only key B is published now.
    server.set_jwks(jwks(&[&key_b]));
    v.verify(&key_b.sign(&claims())).await.unwrap();
    assert_eq!(
        server.fetches(),
        2,
        "the unknown kid triggered exactly one refresh"
    );
    v.verify(&key_b.sign(&claims())).await.unwrap();
    assert_eq!(server.fetches(), 2);

    // Keys are replaced wholesale: the rotated-out key no longer verifies.
    assert_refused(&v, &key_a.sign(&claims()), JwtError::UnknownKey).await;
}

#[tokio::test]
async fn unknown_kid_is_refused_after_one_refresh() {
    let key = TestKey::ed25519("known");
    let server = JwksServer::start(jwks(&[&key])).await;
    let v = verifier(server.key_source(), eager());
    assert_refused(&v, &with_kid(&key, "unknown"), JwtError::UnknownKey).await;
    assert_eq!(
        server.fetches(),
        2,
        "initial fetch plus one refresh for the unknown kid"
    );
}

#[tokio::test]
async fn unknown_kid_refreshes_are_rate_limited() {
    let key = TestKey::ec_p256("known");
    let server = JwksServer::start(jwks(&[&key])).await;
    let options = VerifierOptions {
        unknown_kid_refresh_min_interval: Duration::from_millis(500),
        ..Default::default()
    };
    let v = verifier(server.key_source(), options);

    for i in 0..25 {
        assert_refused(
            &v,
            &with_kid(&key, &format!("made-up-{i}")),
            JwtError::UnknownKey,
        )
        .await;
    }
    assert_eq!(
        server.fetches(),
        1,
        "no refetch within the minimum interval"
    );
    v.verify(&key.sign(&claims())).await.unwrap();

    // Once the interval has passed, one unknown kid may refresh again, and only one.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for i in 0..25 {
        assert_refused(
            &v,
            &with_kid(&key, &format!("again-{i}")),
            JwtError::UnknownKey,
        )
        .await;
    }
    assert_eq!(server.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifies_on_a_cold_cache_fetch_once() {
    let key = TestKey::rsa("k");
    let server = JwksServer::start(jwks(&[&key])).await;
    // A slow IdP, so all verifies pile up behind the first fetch.
    server.set_delay(Duration::from_millis(200));
    let v = Arc::new(verifier(server.key_source(), eager()));
    let token = Arc::new(key.sign(&claims()));

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (v, token) = (Arc::clone(&v), Arc::clone(&token));
            tokio::spawn(async move { v.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kids_share_one_refresh() {
    let key = TestKey::rsa("k");
    let server = JwksServer::start(jwks(&[&key])).await;
    let v = Arc::new(verifier(server.key_source(), eager()));
    v.verify(&key.sign(&claims())).await.unwrap();
    server.set_delay(Duration::from_millis(200));

    let tokens: Vec<String> = (0..20)
        .map(|i| with_kid(&key, &format!("unknown-{i}")))
        .collect();
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let v = Arc::clone(&v);
            tokio::spawn(async move { v.verify(&token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err(), JwtError::UnknownKey);
    }
    assert_eq!(
        server.fetches(),
        2,
        "waiters reuse the refresh that completed while they waited"
    );
}

#[tokio::test]
async fn first_fetch_is_lazy_and_failure_without_cache_is_distinct() {
    let key = TestKey::ed25519("k");
    let server = JwksServer::start(jwks(&[&key])).await;
    server.set_failing(true); // The IdP is not up yet.
    let options = VerifierOptions {
        unknown_kid_refresh_min_interval: Duration::from_millis(300),
        ..Default::default()
    };
    let v = verifier(server.key_source(), options);
    assert_eq!(
        server.fetches(),
        0,
        "constructing the verifier fetches nothing"
    );

    let token = key.sign(&claims());
    let err = v.verify(&token).await.unwrap_err();
    assert!(matches!(err, JwtError::JwksUnavailable(_)), "{err:?}");
    assert_eq!(server.fetches(), 1);
    // Retries are spaced too.
    assert!(matches!(
        v.verify(&token).await,
        Err(JwtError::JwksUnavailable(_))
    ));
    assert_eq!(server.fetches(), 1);

    // The IdP comes up: after the interval, the next verify fetches and succeeds.
    server.set_failing(false);
    tokio::time::sleep(Duration::from_millis(400)).await;
    v.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn stale_keys_are_refreshed_and_kept_when_the_refresh_fails() {
    let key = TestKey::rsa("k");
    let server = JwksServer::start(jwks(&[&key])).await;
    let options = VerifierOptions {
        jwks_refresh_interval: Duration::from_millis(100),
        unknown_kid_refresh_min_interval: Duration::ZERO,
        ..Default::default()
    };
    let v = verifier(server.key_source(), options);
    let token = key.sign(&claims());
    v.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 1);

    tokio::time::sleep(Duration::from_millis(150)).await;
    v.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 2, "a stale set is refreshed");

    // The IdP goes down: the cached keys keep working.
    server.set_failing(true);
    tokio::time::sleep(Duration::from_millis(150)).await;
    v.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 3);

    // An invalid document is a failure too, not an empty key set.
    server.set_failing(false);
    server.set_jwks(serde_json::json!({ "not": "a jwks" }));
    tokio::time::sleep(Duration::from_millis(150)).await;
    v.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 4);
}

#[tokio::test]
async fn slow_jwks_endpoint_times_out() {
    let key = TestKey::rsa("k");
    let server = JwksServer::start(jwks(&[&key])).await;
    server.set_delay(Duration::from_secs(3));
    let options = VerifierOptions {
        http_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let v = verifier(server.key_source(), options);
    let started = std::time::Instant::now();
    let err = v.verify(&key.sign(&claims())).await.unwrap_err();
    assert_eq!(
        err,
        JwtError::JwksUnavailable("JWKS fetch timed out".to_owned())
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    // Bind then drop, so the port is (almost certainly) closed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let v = verifier(
        scaivault_jwt::KeySource::JwksUrl(format!("http://{addr}/jwks")),
        VerifierOptions::default(),
    );
    let key = TestKey::ed25519("k");
    let err = v.verify(&key.sign(&claims())).await.unwrap_err();
    assert!(matches!(err, JwtError::JwksUnavailable(_)), "{err:?}");
}
