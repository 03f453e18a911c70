//! The `mysql` engine against the machine's real MariaDB (127.0.0.1:3306), through the
//! `Backend` trait. Each test has an administrator of its own (scaivault-testpeers'
//! `mariadb::admin`), dropped at its end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the database judges a user's validity by its own wall clock: leases here use real times"
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use scaivault_dynamic::{Backend, CreateRequest, DynamicError, EngineKind, initial_handle};
use scaivault_testpeers::mariadb;
use serde_json::{Value, json};
use sqlx::Connection;
use time::OffsetDateTime;

const KIND: EngineKind = EngineKind::Mysql;

/// An administrator dropped when the test ends.
struct Admin {
    user: String,
    password: String,
}

impl Admin {
    fn new() -> Admin {
        let (user, password) = mariadb::admin();
        Admin { user, password }
    }

    fn url(&self) -> String {
        format!("mysql://{}:{}@127.0.0.1:3306/", self.user, self.password)
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        let _ = mariadb::login(
            "root",
            "",
            &format!("DROP USER IF EXISTS '{}'@'%'", self.user),
        );
    }
}

fn open_engine(settings: Value) -> Box<dyn Backend> {
    let prepared = scaivault_dynamic::prepare_engine(KIND, &settings, None).unwrap();
    if !prepared.secret.is_empty() {
        assert!(
            !prepared
                .config
                .to_string()
                .contains(prepared.secret.as_str())
        );
    }
    scaivault_dynamic::open(KIND, &prepared.config, &prepared.secret).unwrap()
}

/// A database of its own with a table of one row; its name.
fn new_database(name: &str) -> String {
    let db = format!("svtest_{}_{name}", std::process::id());
    mariadb::root(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; \
         CREATE TABLE {db}.t (x int); INSERT INTO {db}.t VALUES (1);"
    ));
    db
}

fn drop_database(db: &str) {
    mariadb::root(&format!("DROP DATABASE IF EXISTS {db}"));
}

fn read_only_role(db: &str) -> Value {
    scaivault_dynamic::validate_role(
        KIND,
        &json!({
            "creation_statements": format!(
                "CREATE USER '{{{{name}}}}'@'%' IDENTIFIED BY '{{{{password}}}}'; \
                 GRANT SELECT ON {db}.* TO '{{{{name}}}}'@'%';"
            )
        }),
    )
    .unwrap()
}

fn new_handle(role: &str) -> Value {
    static N: AtomicU32 = AtomicU32::new(0);
    let lease = format!(
        "lease_{}x{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    );
    initial_handle(KIND, "ten_test", role, &lease)
}

async fn create(
    backend: &dyn Backend,
    role: &Value,
    handle: &Value,
) -> scaivault_dynamic::Credential {
    let now = OffsetDateTime::now_utc();
    backend
        .create(&CreateRequest {
            role,
            handle,
            expires_at: now + Duration::from_secs(3600),
            now,
            public_key: None,
        })
        .await
        .unwrap()
}

fn field<'a>(credential: &'a scaivault_dynamic::Credential, name: &str) -> &'a str {
    credential.data[name].as_str().unwrap()
}

#[tokio::test]
async fn verify_accepts_the_right_password_and_refuses_others_without_showing_them() {
    let admin = Admin::new();
    open_engine(json!({"connection_url": admin.url()}))
        .verify()
        .await
        .unwrap();
    // MariaDB's root, no password.
    open_engine(json!({"connection_url": "mysql://root@127.0.0.1:3306/"}))
        .verify()
        .await
        .unwrap();

    let wrong = "wrongpassword1234";
    let err = open_engine(json!({
        "connection_url": format!("mysql://{}:{wrong}@127.0.0.1:3306/", admin.user)
    }))
    .verify()
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(text.contains("127.0.0.1:3306"), "{text}");
    assert!(text.contains("Access denied"), "{text}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = open_engine(
        json!({"connection_url": format!("mysql://root:unusedpassword@127.0.0.1:{port}/")}),
    )
    .verify()
    .await
    .unwrap_err();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_read_only_lease_reads_cannot_write_and_is_gone_after_revoke() {
    let admin = Admin::new();
    let db = new_database("readonly");
    let backend = open_engine(json!({"connection_url": admin.url()}));
    let role = read_only_role(&db);
    let handle = new_handle("readonly");
    let credential = create(&*backend, &role, &handle).await;
    assert!(credential.renewable);
    let user = field(&credential, "username").to_owned();
    let password = field(&credential, "password").to_owned();
    assert_eq!(user, handle["username"]);
    assert!(user.len() <= 32);
    let url = field(&credential, "connection_url");
    assert_eq!(url, format!("mysql://{user}:{password}@127.0.0.1:3306/"));

    assert_eq!(
        mariadb::login(&user, &password, &format!("SELECT x FROM {db}.t")),
        Ok("1".to_owned())
    );
    let denied =
        mariadb::login(&user, &password, &format!("INSERT INTO {db}.t VALUES (2)")).unwrap_err();
    assert!(denied.contains("denied"), "{denied}");

    // A session still open when the lease is revoked is ended.
    let mut session = sqlx::MySqlConnection::connect(url).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut session).await.unwrap();

    backend.revoke(&role, &credential.handle).await.unwrap();
    let refused = mariadb::login(&user, &password, "SELECT 1").unwrap_err();
    assert!(refused.contains("Access denied"), "{refused}");
    assert!(sqlx::query("SELECT 1").execute(&mut session).await.is_err());
    assert_eq!(
        mariadb::root(&format!(
            "SELECT count(*) FROM mysql.user WHERE User = '{user}'"
        )),
        "0"
    );

    // Idempotent: again, and a lease whose user was never created.
    backend.revoke(&role, &credential.handle).await.unwrap();
    backend
        .revoke(&role, &new_handle("readonly"))
        .await
        .unwrap();
    // Renewing is bookkeeping without renew_statements.
    backend
        .renew(&role, &credential.handle, OffsetDateTime::now_utc())
        .await
        .unwrap();
    drop_database(&db);
}

#[tokio::test]
async fn a_failed_creation_leaves_no_user() {
    let admin = Admin::new();
    let backend = open_engine(json!({"connection_url": admin.url()}));
    let role = scaivault_dynamic::validate_role(
        KIND,
        &json!({"creation_statements": [
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
            "GRANT SELECT ON no_such_db_x.no_such_table TO '{{name}}'@'%' WITH NONSENSE"
        ]}),
    )
    .unwrap();
    let handle = new_handle("broken");
    let now = OffsetDateTime::now_utc();
    let err = backend
        .create(&CreateRequest {
            role: &role,
            handle: &handle,
            expires_at: now + Duration::from_secs(60),
            now,
            public_key: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, DynamicError::Refused(_)), "{err}");
    let name = handle["username"].as_str().unwrap();
    assert_eq!(
        mariadb::root(&format!(
            "SELECT count(*) FROM mysql.user WHERE User = '{name}'"
        )),
        "0"
    );
}

#[tokio::test]
async fn rotate_root_retires_the_old_password() {
    let admin = Admin::new();
    let backend = open_engine(json!({"connection_url": admin.url()}));
    backend.verify().await.unwrap();
    let new = backend.rotate_root().await.unwrap();
    assert_ne!(new.as_str(), admin.password);
    assert!(mariadb::login(&admin.user, &admin.password, "SELECT 1").is_err());
    assert_eq!(
        mariadb::login(&admin.user, &new, "SELECT 1"),
        Ok("1".to_owned())
    );
    backend.verify().await.unwrap();
    let db = new_database("rotate");
    let role = read_only_role(&db);
    let credential = create(&*backend, &role, &new_handle("rotate")).await;
    backend.revoke(&role, &credential.handle).await.unwrap();
    drop_database(&db);
}

#[tokio::test]
async fn renew_and_revocation_statements_of_the_role_run() {
    let admin = Admin::new();
    let backend = open_engine(json!({"connection_url": admin.url()}));
    let role = scaivault_dynamic::validate_role(
        KIND,
        &json!({
            "creation_statements": "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}' ACCOUNT LOCK",
            "renew_statements": "ALTER USER '{{name}}'@'%' ACCOUNT UNLOCK",
            "revocation_statements": ["DROP USER IF EXISTS '{{name}}'@'%'"]
        }),
    )
    .unwrap();
    let credential = create(&*backend, &role, &new_handle("custom")).await;
    let (user, password) = (
        field(&credential, "username"),
        field(&credential, "password"),
    );
    assert!(mariadb::login(user, password, "SELECT 1").is_err());
    backend
        .renew(&role, &credential.handle, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(
        mariadb::login(user, password, "SELECT 1"),
        Ok("1".to_owned())
    );
    backend.revoke(&role, &credential.handle).await.unwrap();
    assert!(mariadb::login(user, password, "SELECT 1").is_err());
}
