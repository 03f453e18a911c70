//! The AWS KMS root key provider against a real `moto_server` (PyPI `moto[server]`, started by
//! scaivault-testpeers; IAM authentication enforced, so wrong credentials are refused as on AWS).
//!
//! Credentials: the environment is process-wide (and setting it is `unsafe` in edition 2024), so
//! tests in this binary give credentials through [`AwsKmsProvider::connect_with`] with an
//! explicit provider. The standard chain reading `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! through [`scaivault_keys::open`] is tested in a fresh process: `env_chain_in_a_new_process`
//! runs this binary again (the ignored `child_env_chain` test) with its own environment.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must fail the test loudly"
)]

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_kms::config::Credentials;
use scaivault_crypto::{CryptoError, KeyProvider};
use scaivault_keys::awskms::AwsKmsProvider;
use scaivault_keys::{AwsKmsSettings, Locations, ProviderKind, RootKeyConfig};
use scaivault_testpeers::moto::Moto;

const REGION: &str = "us-east-1";

fn settings(moto: &Moto, key_id: &str) -> AwsKmsSettings {
    AwsKmsSettings {
        key_id: key_id.to_owned(),
        region: Some(REGION.to_owned()),
        endpoint_url: Some(moto.endpoint()),
    }
}

fn loader(access_key_id: &str, secret_access_key: &str) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).credentials_provider(Credentials::new(
        access_key_id,
        secret_access_key,
        None,
        None,
        "scaivault-test",
    ))
}

fn admin_loader(moto: &Moto) -> ConfigLoader {
    let (id, secret) = moto.root_keys();
    loader(&id, &secret)
}

async fn connect(moto: &Moto, key_id: &str) -> Result<AwsKmsProvider, CryptoError> {
    AwsKmsProvider::connect_with(&settings(moto, key_id), admin_loader(moto)).await
}

fn data_key(fill: u8) -> Vec<u8> {
    (0..32u8).map(|i| i ^ fill).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test]
async fn round_trip_by_key_id_alias_and_arn() {
    let moto = Moto::shared();
    let key = moto.create_kms_key(Some("alias/scaivault-round-trip"));
    let alias_arn = format!(
        "arn:aws:kms:{REGION}:{}:alias/scaivault-round-trip",
        key.arn.split(':').nth(4).unwrap()
    );
    let mut providers = Vec::new();
    for given in [
        key.key_id.as_str(),
        key.arn.as_str(),
        "alias/scaivault-round-trip",
        alias_arn.as_str(),
    ] {
        let started = Instant::now();
        let provider = connect(moto, given)
            .await
            .unwrap_or_else(|e| panic!("connect with {given}: {e}"));
        eprintln!("connect ({given}): {:.1} ms", millis(started.elapsed()));
        assert_eq!(provider.describe(), format!("awskms:{}", key.arn));
        assert_eq!(provider.kind(), "awskms");
        providers.push(provider);
    }
    // Each wraps; every other one (same key, named differently) unwraps.
    for (i, wrapper) in providers.iter().enumerate() {
        let plain = data_key(i as u8);
        let wrapped = wrapper.wrap("key_1", &plain).await.unwrap();
        assert!(!wrapped.windows(plain.len()).any(|w| w == plain.as_slice()));
        for unwrapper in &providers {
            let opened = unwrapper.unwrap("key_1", &wrapped).await.unwrap();
            assert_eq!(opened.as_slice(), plain.as_slice());
        }
    }
    // Any length goes through (the caller checks the length of a data key).
    let wrapped = providers[0].wrap("key_1", b"short").await.unwrap();
    assert_eq!(
        providers[0]
            .unwrap("key_1", &wrapped)
            .await
            .unwrap()
            .as_slice(),
        b"short"
    );

    // Latency against moto (local; AWS adds its round trip).
    let provider = &providers[0];
    let rounds = 50;
    let (mut wrap_total, mut unwrap_total) = (Duration::ZERO, Duration::ZERO);
    for i in 0..rounds {
        let plain = data_key(i);
        let started = Instant::now();
        let wrapped = provider.wrap("key_latency", &plain).await.unwrap();
        wrap_total += started.elapsed();
        let started = Instant::now();
        let opened = provider.unwrap("key_latency", &wrapped).await.unwrap();
        unwrap_total += started.elapsed();
        assert_eq!(opened.as_slice(), plain.as_slice());
    }
    eprintln!(
        "moto latency over {rounds} rounds: wrap {:.2} ms, unwrap {:.2} ms (mean)",
        millis(wrap_total) / f64::from(rounds),
        millis(unwrap_total) / f64::from(rounds)
    );
}

#[tokio::test]
async fn wrapped_key_is_bound_to_its_key_id() {
    let moto = Moto::shared();
    let key = moto.create_kms_key(None);
    let provider = connect(moto, &key.key_id).await.unwrap();
    let wrapped = provider.wrap("key_1", &data_key(1)).await.unwrap();
    let err = provider.unwrap("key_2", &wrapped).await.unwrap_err();
    assert!(matches!(err, CryptoError::OpenFailed), "{err:?}");
    // Tampered blob.
    let mut tampered = wrapped.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let err = provider.unwrap("key_1", &tampered).await.unwrap_err();
    assert!(matches!(err, CryptoError::OpenFailed), "{err:?}");
    // Not a KMS ciphertext at all.
    let err = provider
        .unwrap("key_1", b"not a ciphertext")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CryptoError::OpenFailed | CryptoError::Refused(_)),
        "{err:?}"
    );
    // Still opens under its own key id.
    assert_eq!(
        provider.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
        data_key(1).as_slice()
    );
}

#[tokio::test]
async fn blob_from_another_kms_key_is_not_opened() {
    let moto = Moto::shared();
    let a = connect(moto, &moto.create_kms_key(None).key_id)
        .await
        .unwrap();
    let b = connect(moto, &moto.create_kms_key(None).key_id)
        .await
        .unwrap();
    let wrapped = a.wrap("key_1", &data_key(2)).await.unwrap();
    // AWS answers IncorrectKeyException (OpenFailed); moto answers AccessDeniedException
    // (Refused). Either stops the server; neither hands out the key.
    let err = b.unwrap("key_1", &wrapped).await.unwrap_err();
    eprintln!("other key's blob: {err}");
    assert!(
        matches!(err, CryptoError::OpenFailed | CryptoError::Refused(_)),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(!text.contains(&hex(&data_key(2))), "{text}");
}

#[tokio::test]
async fn disabled_or_deleted_key_is_refused() {
    let moto = Moto::shared();
    let key = moto.create_kms_key(Some("alias/scaivault-disabled"));
    moto.disable_kms_key(&key.key_id);
    for given in [key.key_id.as_str(), "alias/scaivault-disabled"] {
        let err = connect(moto, given).await.unwrap_err();
        match &err {
            CryptoError::Refused(m) => assert!(m.contains("Disabled"), "{m}"),
            other => panic!("expected Refused, got {other:?}"),
        }
    }
    let key = moto.create_kms_key(None);
    moto.schedule_kms_key_deletion(&key.key_id);
    let err = connect(moto, &key.key_id).await.unwrap_err();
    match &err {
        CryptoError::Refused(m) => assert!(m.contains("PendingDeletion"), "{m}"),
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn key_of_the_wrong_kind_is_refused() {
    let moto = Moto::shared();
    for (spec, usage) in [
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
    ] {
        let code = format!(
            r#"print(client("kms").create_key(KeySpec={spec:?}, KeyUsage={usage:?})["KeyMetadata"]["KeyId"])"#
        );
        let key_id = moto.python(moto.root(), &code).unwrap();
        let err = connect(moto, key_id.trim()).await.unwrap_err();
        match &err {
            CryptoError::Refused(m) => assert!(m.contains("SYMMETRIC_DEFAULT"), "{m}"),
            other => panic!("{spec}: expected Refused, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn unknown_key_is_refused() {
    let moto = Moto::shared();
    for given in [
        "11111111-2222-3333-4444-555555555555",
        "alias/scaivault-no-such-alias",
        "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    ] {
        let err = connect(moto, given).await.unwrap_err();
        assert!(matches!(err, CryptoError::Refused(_)), "{given}: {err:?}");
        eprintln!("unknown key: {err}");
    }
    // Empty key id: a configuration error before any call.
    let err = connect(moto, " ").await.unwrap_err();
    assert!(matches!(err, CryptoError::RootKey(_)), "{err:?}");
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let moto = Moto::shared();
    let key = moto.create_kms_key(None);
    let settings = settings(moto, &key.key_id);
    let (id, secret) = moto.root_keys();

    // An access key AWS does not know.
    let err = AwsKmsProvider::connect_with(&settings, loader("AKIAUNKNOWNUNKNOWN00", &secret))
        .await
        .unwrap_err();
    assert!(matches!(err, CryptoError::Refused(_)), "{err:?}");
    assert!(!err.to_string().contains(&secret), "{err}");
    eprintln!("unknown access key: {err}");

    // A known access key with the wrong secret.
    let wrong_secret = "wrong-secret-wrong-secret-wrong-secret00";
    let err = AwsKmsProvider::connect_with(&settings, loader(&id, wrong_secret))
        .await
        .unwrap_err();
    assert!(matches!(err, CryptoError::Refused(_)), "{err:?}");
    assert!(!err.to_string().contains(wrong_secret), "{err}");
    eprintln!("wrong secret: {err}");

    // Valid credentials without the KMS permissions.
    let (id, secret) = moto.new_user("scaivault-no-kms", &["iam:GetUser"]);
    let err = AwsKmsProvider::connect_with(&settings, loader(&id, &secret))
        .await
        .unwrap_err();
    match &err {
        CryptoError::Refused(m) => assert!(m.contains("AccessDenied"), "{m}"),
        other => panic!("expected Refused, got {other:?}"),
    }

    // Allowed DescribeKey only: connects, then Encrypt is refused.
    let (id, secret) = moto.new_user("scaivault-describe-only", &["kms:DescribeKey"]);
    let provider = AwsKmsProvider::connect_with(&settings, loader(&id, &secret))
        .await
        .unwrap();
    let err = provider.wrap("key_1", &data_key(3)).await.unwrap_err();
    assert!(matches!(err, CryptoError::Refused(_)), "{err:?}");
}

#[tokio::test]
async fn endpoint_down_is_unavailable_within_the_timeouts() {
    let moto = Moto::shared();
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let settings = AwsKmsSettings {
        key_id: "alias/scaivault".to_owned(),
        region: Some(REGION.to_owned()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
    };
    let started = Instant::now();
    let err = AwsKmsProvider::connect_with(&settings, admin_loader(moto))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    eprintln!("closed port: {err} after {:.0} ms", millis(elapsed));
    assert!(matches!(err, CryptoError::Unavailable(_)), "{err:?}");
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let (_, secret) = moto.root_keys();
    assert!(!err.to_string().contains(&secret), "{err}");
}

/// A port that accepts connections and never answers: the attempt timeout fires, the call is
/// retried, and the operation timeout ends it.
#[tokio::test]
async fn endpoint_that_never_answers_is_unavailable_within_the_timeouts() {
    let moto = Moto::shared();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection, reading nothing back.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let settings = AwsKmsSettings {
        key_id: "alias/scaivault".to_owned(),
        region: Some(REGION.to_owned()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
    };
    let started = Instant::now();
    let err = AwsKmsProvider::connect_with(&settings, admin_loader(moto))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    holder.abort();
    eprintln!("silent endpoint: {err} after {:.0} ms", millis(elapsed));
    assert!(matches!(err, CryptoError::Unavailable(_)), "{err:?}");
    assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
}

#[tokio::test]
async fn reconnect_opens_old_wraps() {
    let moto = Moto::shared();
    let key = moto.create_kms_key(Some("alias/scaivault-reconnect"));
    let first = connect(moto, "alias/scaivault-reconnect").await.unwrap();
    let wrapped = first.wrap("key_7", &data_key(7)).await.unwrap();
    drop(first);
    let second = connect(moto, &key.arn).await.unwrap();
    assert_eq!(
        second.unwrap("key_7", &wrapped).await.unwrap().as_slice(),
        data_key(7).as_slice()
    );
}

/// The standard chain in a new process: credentials from `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY`, the provider opened by `scaivault_keys::open` as the server does,
/// opening a key wrapped here (a restart of our side); and a wrong secret in the environment
/// is refused.
#[tokio::test]
async fn env_chain_in_a_new_process() {
    let moto = Moto::shared();
    let key = moto.create_kms_key(Some("alias/scaivault-env-chain"));
    let provider = connect(moto, &key.key_id).await.unwrap();
    let plain = data_key(9);
    let wrapped = provider.wrap("key_9", &plain).await.unwrap();
    let (id, secret) = moto.root_keys();

    let run_child = |secret: Option<&str>, expect: &str, extra: &[(&str, &str)]| {
        let exe = std::env::current_exe().unwrap();
        let mut command = Command::new(exe);
        if let Some(secret) = secret {
            command
                .env("AWS_ACCESS_KEY_ID", &id)
                .env("AWS_SECRET_ACCESS_KEY", secret);
        } else {
            command
                .env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_SECRET_ACCESS_KEY");
        }
        let out = command
            .args(["--exact", "child_env_chain", "--ignored", "--nocapture"])
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("SCAIVAULT_TEST_KMS_ENDPOINT", moto.endpoint())
            .env("SCAIVAULT_TEST_KMS_KEY", "alias/scaivault-env-chain")
            .env("SCAIVAULT_TEST_KMS_WRAPPED", hex(&wrapped))
            .env("SCAIVAULT_TEST_KMS_PLAIN", hex(&plain))
            .env("SCAIVAULT_TEST_KMS_EXPECT", expect)
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child ({expect}) failed:\n{stdout}\n{stderr}"
        );
        eprintln!("{}", stderr.trim());
    };
    run_child(Some(&secret), "open", &[]);
    run_child(
        Some("wrong-secret-wrong-secret-wrong-secret00"),
        "refused",
        &[],
    );
    // No region in the settings nor anywhere in the chain: a configuration error.
    run_child(Some(&secret), "no-region", &[]);
    // No credentials anywhere (environment empty, files empty, instance metadata off): may be
    // transient (instance metadata, STS), so Unavailable.
    run_child(None, "no-credentials", &[]);
    // A profile that cannot give credentials as written (a role without a source): the
    // operator's to fix, so Refused.
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config");
    std::fs::write(
        &config_file,
        "[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/scaivault\n",
    )
    .unwrap();
    run_child(
        None,
        "refused",
        &[
            ("AWS_CONFIG_FILE", config_file.to_str().unwrap()),
            ("AWS_PROFILE", "broken"),
        ],
    );
}

/// Run by `env_chain_in_a_new_process` only, in a child process with its own environment.
#[tokio::test]
#[ignore = "a child process of env_chain_in_a_new_process, which sets its environment"]
async fn child_env_chain() {
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("{name} unset: run env_chain_in_a_new_process instead"))
    };
    let config = RootKeyConfig {
        provider: ProviderKind::Awskms,
        awskms: Some(AwsKmsSettings {
            key_id: var("SCAIVAULT_TEST_KMS_KEY"),
            region: (var("SCAIVAULT_TEST_KMS_EXPECT") != "no-region").then(|| REGION.to_owned()),
            endpoint_url: Some(var("SCAIVAULT_TEST_KMS_ENDPOINT")),
        }),
        pkcs11: None,
        tpm: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let at = Locations {
        data_dir: dir.path().to_owned(),
        root_key_file: dir.path().join("root.key"),
    };
    let started = Instant::now();
    let opened = scaivault_keys::open(&config, ProviderKind::Awskms, &at).await;
    let open_time = started.elapsed();
    match var("SCAIVAULT_TEST_KMS_EXPECT").as_str() {
        "open" => {
            let provider = opened.unwrap();
            eprintln!(
                "open via the env chain (new process, cold client): {:.1} ms",
                millis(open_time)
            );
            let plain = unhex(&var("SCAIVAULT_TEST_KMS_PLAIN"));
            let wrapped = unhex(&var("SCAIVAULT_TEST_KMS_WRAPPED"));
            assert_eq!(
                provider.unwrap("key_9", &wrapped).await.unwrap().as_slice(),
                plain.as_slice()
            );
        }
        "no-region" => {
            let err = opened.unwrap_err();
            assert!(matches!(err, CryptoError::RootKey(_)), "{err:?}");
            eprintln!("no region: {err}");
        }
        "no-credentials" => {
            let err = opened.unwrap_err();
            assert!(matches!(err, CryptoError::Unavailable(_)), "{err:?}");
            eprintln!("no credentials: {err} (after {:.1} ms)", millis(open_time));
        }
        "refused" => {
            let err = opened.unwrap_err();
            assert!(matches!(err, CryptoError::Refused(_)), "{err:?}");
            assert!(!err.to_string().contains("wrong-secret"), "{err}");
            eprintln!("refused: {err}");
        }
        other => panic!("unknown SCAIVAULT_TEST_KMS_EXPECT {other}"),
    }
}
