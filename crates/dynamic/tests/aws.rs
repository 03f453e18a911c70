//! The `aws` engine against a real moto_server with IAM authorization enforced; the issued
//! keys are checked with the real AWS client (boto3).

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
    Backend, CreateRequest, Credential, DynamicError, EngineKind, initial_handle, open,
    prepare_engine, validate_role,
};
use scaivault_testpeers::moto::{AwsKeys, Moto};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

fn engine_with(keys: (String, String)) -> (Value, Box<dyn Backend>) {
    let moto = Moto::shared();
    let prepared = prepare_engine(
        EngineKind::Aws,
        &json!({
            "access_key_id": keys.0,
            "secret_access_key": keys.1,
            "endpoint_url": moto.endpoint(),
        }),
        None,
    )
    .unwrap();
    assert!(
        !prepared.config.to_string().contains(&keys.1),
        "the shown config carries the secret key"
    );
    let backend = open(EngineKind::Aws, &prepared.config, &prepared.secret).unwrap();
    (prepared.config, backend)
}

fn engine() -> Box<dyn Backend> {
    engine_with(Moto::shared().root_keys()).1
}

async fn issue(
    backend: &dyn Backend,
    role: &Value,
    lease: &str,
    ttl: Duration,
) -> Result<Credential, DynamicError> {
    let handle = initial_handle(EngineKind::Aws, "ten_test", "app", lease);
    let now = OffsetDateTime::now_utc();
    backend
        .create(&CreateRequest {
            role,
            handle: &handle,
            expires_at: now + ttl,
            now,
            public_key: None,
        })
        .await
}

fn keys_of(credential: &Credential) -> AwsKeys {
    let text = |k: &str| {
        credential
            .data
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    AwsKeys {
        access_key_id: text("access_key_id").expect("access_key_id"),
        secret_access_key: text("secret_access_key").expect("secret_access_key"),
        session_token: text("session_token"),
    }
}

const WHO_AM_I: &str = r#"print(client("sts").get_caller_identity()["Arn"])"#;

#[tokio::test]
async fn verify_accepts_good_keys_and_refuses_bad_ones() {
    engine().verify().await.unwrap();
    let (_, bad) = engine_with(("AKIAWRONGWRONGWRONG1".into(), "wrong-secret".into()));
    let err = bad.verify().await.unwrap_err();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{err:?}");
    assert!(!err.to_string().contains("wrong-secret"), "{err}");
}

#[tokio::test]
async fn an_endpoint_nobody_answers_is_unreachable_so_revocation_is_retried() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prepared = prepare_engine(
        EngineKind::Aws,
        &json!({
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "secret",
            "endpoint_url": format!("http://127.0.0.1:{port}"),
        }),
        None,
    )
    .unwrap();
    let backend = open(EngineKind::Aws, &prepared.config, &prepared.secret).unwrap();
    let err = backend.verify().await.unwrap_err();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{err:?}");
    let role = validate_role(
        EngineKind::Aws,
        &json!({ "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"] }),
    )
    .unwrap();
    let err = backend
        .revoke(&role, &json!({ "username": "v_x_y_z" }))
        .await
        .unwrap_err();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn an_iam_user_can_do_what_its_policy_allows_and_nothing_else_until_revoked() {
    let moto = Moto::shared();
    let backend = engine();
    let role = validate_role(
        EngineKind::Aws,
        &json!({
            "policy_document": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["iam:GetUser", "sts:GetCallerIdentity"],
                    "Resource": "*"
                }]
            }
        }),
    )
    .unwrap();
    let credential = issue(
        &*backend,
        &role,
        "lease_01jtestiamuser01",
        Duration::hours(1),
    )
    .await
    .unwrap();
    // An IAM user lives until revoked: renewing the lease only moves its revocation.
    assert!(credential.renewable);
    backend
        .renew(
            &role,
            &credential.handle,
            OffsetDateTime::now_utc() + Duration::hours(2),
        )
        .await
        .unwrap();
    let keys = keys_of(&credential);
    let username = credential.handle["username"].as_str().unwrap().to_owned();
    assert_eq!(
        credential.handle["access_key_id"],
        json!(keys.access_key_id)
    );
    assert!(
        !credential
            .handle
            .to_string()
            .contains(&keys.secret_access_key),
        "the handle carries the secret"
    );

    let arn = moto.python(&keys, WHO_AM_I).unwrap();
    assert!(
        arn.trim().ends_with(&format!("user/scaivault/{username}")),
        "{arn}"
    );
    // Allowed.
    let me = moto
        .python(
            &keys,
            r#"print(client("iam").get_user()["User"]["UserName"])"#,
        )
        .unwrap();
    assert_eq!(me.trim(), username);
    // Denied.
    let denied = moto
        .python(&keys, r#"client("iam").create_user(UserName="intruder")"#)
        .unwrap_err();
    assert!(denied.contains("AccessDenied"), "{denied}");

    backend.revoke(&role, &credential.handle).await.unwrap();
    let gone = moto
        .python(
            moto.root(),
            &format!(r#"client("iam").get_user(UserName={username:?})"#),
        )
        .unwrap_err();
    assert!(gone.contains("NoSuchEntity"), "{gone}");
    let refused = moto.python(&keys, WHO_AM_I).unwrap_err();
    assert!(refused.contains("InvalidClientTokenId"), "{refused}");
    // Revoking again (the sweeper retrying) is fine.
    backend.revoke(&role, &credential.handle).await.unwrap();
}

#[tokio::test]
async fn managed_policies_and_groups_are_attached_and_cleaned_up() {
    let moto = Moto::shared();
    let setup = moto
        .python(
            moto.root(),
            r#"
iam = client("iam")
arn = iam.create_policy(PolicyName="scaivault-test-read",
    PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}))["Policy"]["Arn"]
iam.create_group(GroupName="scaivault-test-group")
print(arn)
"#,
        )
        .unwrap();
    let policy_arn = setup.trim().to_owned();
    let backend = engine();
    let role = validate_role(
        EngineKind::Aws,
        &json!({ "policy_arns": [policy_arn], "iam_groups": ["scaivault-test-group"] }),
    )
    .unwrap();
    let credential = issue(
        &*backend,
        &role,
        "lease_01jtestmanaged01",
        Duration::hours(1),
    )
    .await
    .unwrap();
    let keys = keys_of(&credential);
    let username = credential.handle["username"].as_str().unwrap().to_owned();
    let me = moto
        .python(
            &keys,
            r#"print(client("iam").get_user()["User"]["UserName"])"#,
        )
        .unwrap();
    assert_eq!(me.trim(), username);

    backend.revoke(&role, &credential.handle).await.unwrap();
    let left = moto
        .python(
            moto.root(),
            r#"print(len(client("iam").get_group(GroupName="scaivault-test-group")["Users"]))"#,
        )
        .unwrap();
    assert_eq!(left.trim(), "0");
}

#[tokio::test]
async fn assumed_role_and_federation_token_give_working_session_credentials() {
    let moto = Moto::shared();
    let role_arn = moto
        .python(
            moto.root(),
            r#"
iam = client("iam")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
arn = iam.create_role(RoleName="scaivault-test-role",
    AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
iam.put_role_policy(RoleName="scaivault-test-role", PolicyName="read",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["sts:GetCallerIdentity", "iam:ListUsers"], "Resource": "*"}]}))
print(arn)
"#,
        )
        .unwrap();
    let backend = engine();
    let role = validate_role(
        EngineKind::Aws,
        &json!({ "credential_type": "assumed_role", "role_arns": [role_arn.trim()] }),
    )
    .unwrap();

    // Shorter than STS allows: refused.
    let err = issue(
        &*backend,
        &role,
        "lease_01jtestassumed01",
        Duration::minutes(5),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DynamicError::InvalidRequest(_)), "{err:?}");

    let credential = issue(
        &*backend,
        &role,
        "lease_01jtestassumed02",
        Duration::hours(1),
    )
    .await
    .unwrap();
    assert!(!credential.renewable);
    assert!(credential.data.contains_key("expiration"));
    let keys = keys_of(&credential);
    assert!(keys.session_token.is_some());
    let username = credential.handle["username"].as_str().unwrap();
    let arn = moto.python(&keys, WHO_AM_I).unwrap();
    assert!(
        arn.contains(":assumed-role/scaivault-test-role/") && arn.trim().ends_with(username),
        "{arn}"
    );
    // STS credentials end at their expiry: revoking succeeds.
    backend.revoke(&role, &credential.handle).await.unwrap();

    let federated = validate_role(
        EngineKind::Aws,
        &json!({
            "credential_type": "federation_token",
            "policy_document": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "sts:GetCallerIdentity", "Resource": "*"}]}).to_string(),
        }),
    )
    .unwrap();
    let credential = issue(
        &*backend,
        &federated,
        "lease_01jtestfederat01",
        Duration::hours(1),
    )
    .await
    .unwrap();
    let keys = keys_of(&credential);
    assert!(keys.session_token.is_some());
    // moto issues federation tokens but its authenticator knows only IAM users' and assumed
    // roles' keys (it answers InvalidClientTokenId to these), so the check stops at the
    // answer: a federated user named after the lease.
    let arn = credential.data["arn"].as_str().unwrap();
    let name = credential.handle["username"].as_str().unwrap();
    assert!(arn.contains(":federated-user/"), "{arn}");
    assert!(
        name.ends_with(arn.rsplit('/').next().unwrap()),
        "{arn} for {name}"
    );
}

#[tokio::test]
async fn rotate_root_replaces_the_engines_key() {
    let moto = Moto::shared();
    let old = moto.new_admin("scaivault-rotated-admin");
    let (config, backend) = engine_with(old.clone());
    let new_secret = backend.rotate_root().await.unwrap();
    let new_config = backend
        .current_config()
        .expect("a rotated key changes the config");
    let new_id = new_config["access_key_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, config["access_key_id"].as_str().unwrap());
    assert_eq!(new_config["endpoint_url"], config["endpoint_url"]);
    assert!(!new_config.to_string().contains(new_secret.as_str()));

    let old_keys = AwsKeys {
        access_key_id: old.0,
        secret_access_key: old.1,
        session_token: None,
    };
    let refused = moto.python(&old_keys, WHO_AM_I).unwrap_err();
    assert!(refused.contains("InvalidClientTokenId"), "{refused}");
    let new_keys = AwsKeys {
        access_key_id: new_id.clone(),
        secret_access_key: new_secret.to_string(),
        session_token: None,
    };
    let arn = moto.python(&new_keys, WHO_AM_I).unwrap();
    assert!(arn.contains("scaivault-rotated-admin"), "{arn}");
    // The backend itself now works with the new key.
    backend.verify().await.unwrap();
    // And an engine reopened from the new config and secret does too.
    let reopened = open(EngineKind::Aws, &new_config, &new_secret).unwrap();
    reopened.verify().await.unwrap();
}

#[test]
fn settings_are_checked() {
    let bad_engines = [
        json!({ "access_key_id": "AKIA" }),
        json!({ "access_key_id": "AKIA", "secret_access_key": "s", "colour": "red" }),
        json!({ "access_key_id": "AKIA", "secret_access_key": "s", "endpoint_url": "ftp://x" }),
    ];
    for settings in bad_engines {
        let err = prepare_engine(EngineKind::Aws, &settings, None).unwrap_err();
        assert!(
            matches!(err, DynamicError::InvalidConfig(_)),
            "{settings}: {err:?}"
        );
    }
    // An update keeps what it does not name; a new key id needs its secret.
    let first = prepare_engine(
        EngineKind::Aws,
        &json!({ "access_key_id": "AKIA1", "secret_access_key": "s1", "region": "eu-west-1" }),
        None,
    )
    .unwrap();
    let updated = prepare_engine(
        EngineKind::Aws,
        &json!({ "endpoint_url": "http://127.0.0.1:1" }),
        Some((&first.config, first.secret.as_str())),
    )
    .unwrap();
    assert_eq!(updated.config["region"], "eu-west-1");
    assert_eq!(updated.config["access_key_id"], "AKIA1");
    assert_eq!(updated.secret.as_str(), "s1");
    assert!(
        prepare_engine(
            EngineKind::Aws,
            &json!({ "access_key_id": "AKIA2" }),
            Some((&first.config, first.secret.as_str())),
        )
        .is_err()
    );

    let bad_roles = [
        json!({}),
        json!({ "credential_type": "root" }),
        json!({ "credential_type": "assumed_role" }),
        json!({ "credential_type": "assumed_role", "role_arns": ["arn:a", "arn:b"] }),
        json!({ "policy_document": "{not json" }),
        json!({ "policy_arns": ["not-an-arn"] }),
        json!({ "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "x": 1 }),
        json!({ "credential_type": "federation_token" }),
    ];
    for settings in bad_roles {
        let err = validate_role(EngineKind::Aws, &settings).unwrap_err();
        assert!(
            matches!(err, DynamicError::InvalidRole(_)),
            "{settings}: {err:?}"
        );
    }
    let normal = validate_role(
        EngineKind::Aws,
        &json!({ "policy_document": "{\"Version\": \"2012-10-17\", \"Statement\": []}" }),
    )
    .unwrap();
    assert_eq!(normal["credential_type"], "iam_user");
    assert!(normal["policy_document"].is_object());
}
