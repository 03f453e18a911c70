//! The `ssh` engine against a real sshd (Debian's openssh-server) that trusts the engine's CA.
//! Logins use the current user as principal (`root` in CI).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the real peers (sshd, moto) judge validity by the wall clock, not a test clock"
)]

use scaivault_dynamic::{
    Backend, CreateRequest, DynamicError, EngineKind, initial_handle, open, prepare_engine,
    validate_role,
};
use scaivault_testpeers::sshd::{Sshd, current_user};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

fn engine(settings: Value) -> (Value, Box<dyn Backend>) {
    let prepared = prepare_engine(EngineKind::Ssh, &settings, None).unwrap();
    assert!(
        prepared.config.get("private_key").is_none(),
        "the shown config never carries the CA key"
    );
    let backend = open(EngineKind::Ssh, &prepared.config, &prepared.secret).unwrap();
    (prepared.config, backend)
}

fn role(settings: Value) -> Value {
    validate_role(EngineKind::Ssh, &settings).unwrap()
}

async fn issue(
    backend: &dyn Backend,
    role: &Value,
    public_key: Option<&str>,
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<serde_json::Map<String, Value>, DynamicError> {
    let handle = initial_handle(EngineKind::Ssh, "ten_test", "ops", "lease_01jtestssh0001");
    let request = CreateRequest {
        role,
        handle: &handle,
        expires_at: now + ttl,
        now,
        public_key,
    };
    let credential = backend.create(&request).await?;
    assert!(!credential.renewable);
    assert!(credential.handle.get("serial").is_some());
    Ok(credential.data)
}

fn text(data: &serde_json::Map<String, Value>, key: &str) -> String {
    data.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {key} in the credential"))
        .to_owned()
}

#[tokio::test]
async fn certificates_log_in_as_their_principal_only_while_valid() {
    let me = current_user();
    let (config, backend) = engine(json!({}));
    let ca_public = config["public_key"].as_str().unwrap();
    assert!(ca_public.starts_with("ssh-ed25519 "), "{ca_public}");
    let sshd = Sshd::start(ca_public);

    // A lease for the current user: generated key pair, certificate, login works.
    let mine = role(json!({ "allowed_users": [me], "default_user": me }));
    let now = OffsetDateTime::now_utc();
    let data = issue(&*backend, &mine, None, now, Duration::hours(1))
        .await
        .unwrap();
    let key = text(&data, "private_key");
    let cert = text(&data, "signed_key");
    assert!(
        cert.starts_with("ssh-ed25519-cert-v01@openssh.com "),
        "{cert}"
    );
    assert!(text(&data, "serial").parse::<u64>().is_ok());
    sshd.login(&me, &key, &cert)
        .unwrap_or_else(|e| panic!("login refused: {e}\nsshd: {}", sshd.log()));

    // A certificate for another principal does not let the current user in.
    let other = role(json!({ "allowed_users": ["someone-else"] }));
    let data = issue(&*backend, &other, None, now, Duration::hours(1))
        .await
        .unwrap();
    let refused = sshd.login(&me, &text(&data, "private_key"), &text(&data, "signed_key"));
    assert!(refused.is_err(), "wrong principal logged in");
    assert!(
        sshd.log().contains("name is not a listed principal"),
        "{}",
        sshd.log()
    );

    // An expired certificate (its lease ended an hour ago) is refused.
    let past = now - Duration::hours(2);
    let data = issue(&*backend, &mine, None, past, Duration::hours(1))
        .await
        .unwrap();
    let refused = sshd.login(&me, &text(&data, "private_key"), &text(&data, "signed_key"));
    assert!(refused.is_err(), "expired certificate logged in");
    assert!(
        sshd.log().contains("Certificate invalid: expired"),
        "{}",
        sshd.log()
    );

    // A certificate from another CA is refused.
    let (_, stranger) = engine(json!({ "key_type": "ecdsa-p256" }));
    let data = issue(&*stranger, &mine, None, now, Duration::hours(1))
        .await
        .unwrap();
    let refused = sshd.login(&me, &text(&data, "private_key"), &text(&data, "signed_key"));
    assert!(refused.is_err(), "a stranger CA's certificate logged in");
    assert!(
        sshd.log()
            .lines()
            .any(|l| l.starts_with("Failed publickey") && l.contains(" CA ECDSA ")),
        "{}",
        sshd.log()
    );

    // Revocation succeeds (the certificate ends at its expiry).
    backend
        .revoke(&mine, &json!({"username": "x"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_callers_public_key_is_signed_and_no_private_key_returned() {
    let me = current_user();
    let (config, backend) = engine(json!({ "key_type": "ecdsa-p256" }));
    let ca_public = config["public_key"].as_str().unwrap();
    assert!(ca_public.starts_with("ecdsa-sha2-nistp256 "), "{ca_public}");
    let sshd = Sshd::start(ca_public);

    // The caller's own key, made by ssh-keygen.
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("id");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key_path)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(status.success());
    let private = std::fs::read_to_string(&key_path).unwrap();
    let public = std::fs::read_to_string(key_path.with_extension("pub")).unwrap();

    let mine = role(json!({ "allowed_users": ["*"], "default_user": me }));
    let data = issue(
        &*backend,
        &mine,
        Some(&public),
        OffsetDateTime::now_utc(),
        Duration::minutes(10),
    )
    .await
    .unwrap();
    assert!(
        data.get("private_key").is_none(),
        "a private key was returned"
    );
    assert!(data.get("public_key").is_none());
    sshd.login(&me, &private, &text(&data, "signed_key"))
        .unwrap_or_else(|e| panic!("login refused: {e}\nsshd: {}", sshd.log()));

    // A key type the role does not allow is refused.
    let ed_only = role(json!({ "allowed_users": [me], "allowed_key_types": ["ecdsa"] }));
    let err = issue(
        &*backend,
        &ed_only,
        Some(&public),
        OffsetDateTime::now_utc(),
        Duration::minutes(10),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DynamicError::InvalidRequest(_)), "{err:?}");

    // So is an RSA key under 2048 bits, even where RSA is allowed.
    let weak_path = dir.path().join("weak");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f"])
        .arg(&weak_path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let weak = std::fs::read_to_string(weak_path.with_extension("pub")).unwrap();
    let err = issue(
        &*backend,
        &mine,
        Some(&weak),
        OffsetDateTime::now_utc(),
        Duration::minutes(10),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DynamicError::InvalidRequest(_)), "{err:?}");

    // Garbage is refused the same way.
    let err = issue(
        &*backend,
        &mine,
        Some("ssh-ed25519 not-base64"),
        OffsetDateTime::now_utc(),
        Duration::minutes(10),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DynamicError::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn rotate_root_makes_a_new_ca_and_an_existing_ca_can_be_imported() {
    let (config, backend) = engine(json!({}));
    let new_secret = backend.rotate_root().await.unwrap();
    let new_config = backend
        .current_config()
        .expect("a rotated CA changes the config");
    assert_ne!(new_config["public_key"], config["public_key"]);
    assert!(!new_config.to_string().contains("PRIVATE KEY"));

    // The new secret, given as an existing CA, yields the same public key.
    let imported = prepare_engine(
        EngineKind::Ssh,
        &json!({ "private_key": new_secret.as_str() }),
        None,
    )
    .unwrap();
    assert_eq!(imported.config["public_key"], new_config["public_key"]);

    // An update naming nothing keeps the CA.
    let kept = prepare_engine(
        EngineKind::Ssh,
        &json!({}),
        Some((&imported.config, imported.secret.as_str())),
    )
    .unwrap();
    assert_eq!(kept.config, imported.config);
}

#[test]
fn settings_are_checked() {
    let bad_engine = [
        json!({ "key_type": "dsa" }),
        json!({ "private_key": "not a key" }),
        json!({ "unknown": 1 }),
    ];
    for settings in bad_engine {
        let err = prepare_engine(EngineKind::Ssh, &settings, None).unwrap_err();
        assert!(
            matches!(err, DynamicError::InvalidConfig(_)),
            "{settings}: {err:?}"
        );
        assert!(!err.to_string().contains("not a key"), "{err}");
    }
    let bad_roles = [
        json!({}),
        json!({ "allowed_users": [] }),
        json!({ "allowed_users": ["*"] }),
        json!({ "allowed_users": ["a"], "default_user": "b" }),
        json!({ "allowed_users": ["a"], "extensions": { "permit-everything": "" } }),
        json!({ "allowed_users": ["a"], "allowed_key_types": ["dsa"] }),
        json!({ "allowed_users": ["a"], "other": true }),
    ];
    for settings in bad_roles {
        let err = validate_role(EngineKind::Ssh, &settings).unwrap_err();
        assert!(
            matches!(err, DynamicError::InvalidRole(_)),
            "{settings}: {err:?}"
        );
    }
    let normal = validate_role(EngineKind::Ssh, &json!({ "allowed_users": ["a", "b"] })).unwrap();
    assert_eq!(normal["valid_principals"], json!(["a", "b"]));
    assert_eq!(normal["extensions"], json!({ "permit-pty": "" }));
    assert_eq!(
        normal["allowed_key_types"],
        json!(["ed25519", "ecdsa", "rsa"])
    );
}
