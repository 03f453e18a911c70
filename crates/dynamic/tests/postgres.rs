//! The `postgres` engine against a real, password-authenticated PostgreSQL cluster of its own
//! (scaivault-testpeers' `PgCluster`), through the `Backend` trait.

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
use scaivault_testpeers::postgres::PgCluster;
use serde_json::{Value, json};
use sqlx::Connection;
use time::OffsetDateTime;

const KIND: EngineKind = EngineKind::Postgres;

fn open_engine(settings: Value) -> Box<dyn Backend> {
    let prepared = scaivault_dynamic::prepare_engine(KIND, &settings, None).unwrap();
    assert!(
        !prepared
            .config
            .to_string()
            .contains(prepared.secret.as_str())
            || prepared.secret.is_empty()
    );
    scaivault_dynamic::open(KIND, &prepared.config, &prepared.secret).unwrap()
}

fn read_only_role(table: &str) -> Value {
    scaivault_dynamic::validate_role(
        KIND,
        &json!({
            "creation_statements": format!(
                "CREATE ROLE \"{{{{name}}}}\" WITH LOGIN PASSWORD '{{{{password}}}}' VALID UNTIL '{{{{expiration}}}}'; \
                 GRANT SELECT ON {table} TO \"{{{{name}}}}\";"
            )
        }),
    )
    .unwrap()
}

/// A lease handle no other test uses.
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

/// A table of its own in the cluster, with one row.
fn new_table(cluster: &PgCluster, name: &str) -> String {
    let (admin, password) = cluster.admin();
    cluster
        .psql(
            admin,
            password,
            &format!("DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (x int); INSERT INTO {name} VALUES (1);"),
        )
        .unwrap();
    name.to_owned()
}

async fn create(
    backend: &dyn Backend,
    role: &Value,
    handle: &Value,
    ttl: Duration,
) -> scaivault_dynamic::Credential {
    let now = OffsetDateTime::now_utc();
    backend
        .create(&CreateRequest {
            role,
            handle,
            expires_at: now + ttl,
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
    let cluster = PgCluster::shared();
    open_engine(json!({"connection_url": cluster.admin_url()}))
        .verify()
        .await
        .unwrap();

    let (admin, _) = cluster.admin();
    let wrong = "wrongpassword1234";
    let url = format!(
        "postgres://{admin}:{wrong}@127.0.0.1:{}/postgres",
        cluster.port()
    );
    let err = open_engine(json!({"connection_url": url}))
        .verify()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", cluster.port())),
        "{text}"
    );
    assert!(text.contains("password authentication failed"), "{text}");

    // The password as a separate field, the URL without one.
    let url = format!("postgres://127.0.0.1:{}/postgres", cluster.port());
    let engine = open_engine(json!({
        "connection_url": url, "username": admin, "password": cluster.admin().1
    }));
    engine.verify().await.unwrap();

    // Nothing listens: refused quickly, naming the address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = open_engine(json!({
        "connection_url": format!("postgres://{admin}:unusedpassword@127.0.0.1:{port}/postgres")
    }))
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
    let cluster = PgCluster::shared();
    let table = new_table(cluster, "lease_readonly");
    let backend = open_engine(json!({"connection_url": cluster.admin_url()}));
    let role = read_only_role(&table);
    let handle = new_handle("readonly");
    let credential = create(&*backend, &role, &handle, Duration::from_secs(3600)).await;
    assert!(credential.renewable);
    let user = field(&credential, "username").to_owned();
    let password = field(&credential, "password").to_owned();
    assert_eq!(user, handle["username"]);
    assert_eq!(password.len(), 32);
    let url = field(&credential, "connection_url");
    assert!(
        url.starts_with(&format!("postgres://{user}:{password}@127.0.0.1:")),
        "{url}"
    );
    assert!(!format!("{credential:?}").contains(&password));

    assert_eq!(
        cluster.psql(&user, &password, &format!("SELECT x FROM {table}")),
        Ok("1".to_owned())
    );
    let denied = cluster
        .psql(&user, &password, &format!("INSERT INTO {table} VALUES (2)"))
        .unwrap_err();
    assert!(denied.contains("permission denied"), "{denied}");

    // A session still open when the lease is revoked is ended.
    let mut session = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut session).await.unwrap();

    backend.revoke(&role, &credential.handle).await.unwrap();
    let refused = cluster.psql(&user, &password, "SELECT 1").unwrap_err();
    assert!(refused.contains("authentication failed"), "{refused}");
    assert!(sqlx::query("SELECT 1").execute(&mut session).await.is_err());
    let (admin, admin_password) = cluster.admin();
    assert_eq!(
        cluster.psql(
            admin,
            admin_password,
            &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{user}'")
        ),
        Ok("0".to_owned())
    );

    // Idempotent: again, and a lease whose user was never created.
    backend.revoke(&role, &credential.handle).await.unwrap();
    backend
        .revoke(&role, &new_handle("readonly"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_creation_leaves_no_user() {
    let cluster = PgCluster::shared();
    let backend = open_engine(json!({"connection_url": cluster.admin_url()}));
    let role = scaivault_dynamic::validate_role(
        KIND,
        &json!({"creation_statements": [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'",
            "GRANT SELECT ON no_such_table TO \"{{name}}\""
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
    assert!(err.to_string().contains("no_such_table"), "{err}");
    let (admin, password) = cluster.admin();
    let name = handle["username"].as_str().unwrap();
    assert_eq!(
        cluster.psql(
            admin,
            password,
            &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{name}'")
        ),
        Ok("0".to_owned())
    );
}

#[tokio::test]
async fn custom_revocation_statements_run_instead_of_the_default() {
    let cluster = PgCluster::shared();
    let backend = open_engine(json!({"connection_url": cluster.admin_url()}));
    let role = scaivault_dynamic::validate_role(
        KIND,
        &json!({
            "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            "revocation_statements": ["DROP ROLE IF EXISTS \"{{name}}\""]
        }),
    )
    .unwrap();
    assert_eq!(role["revocation_statements"].as_array().unwrap().len(), 1);
    let handle = new_handle("custom");
    let credential = create(&*backend, &role, &handle, Duration::from_secs(60)).await;
    let (user, password) = (
        field(&credential, "username"),
        field(&credential, "password"),
    );
    cluster.psql(user, password, "SELECT 1").unwrap();
    backend.revoke(&role, &credential.handle).await.unwrap();
    assert!(cluster.psql(user, password, "SELECT 1").is_err());
}

#[tokio::test]
async fn renew_moves_valid_until() {
    let cluster = PgCluster::shared();
    let backend = open_engine(json!({"connection_url": cluster.admin_url()}));
    let role = read_only_role(&new_table(cluster, "lease_renew"));
    let handle = new_handle("renew");
    let credential = create(&*backend, &role, &handle, Duration::from_secs(3600)).await;
    let user = field(&credential, "username");
    let (admin, password) = cluster.admin();
    let valid_until = || {
        cluster
            .psql(
                admin,
                password,
                &format!("SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '{user}'"),
            )
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let first = valid_until();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert!((first - (now + 3600)).abs() < 60, "{first} vs {now}");

    let later = OffsetDateTime::now_utc() + Duration::from_secs(3 * 3600);
    backend
        .renew(&role, &credential.handle, later)
        .await
        .unwrap();
    assert_eq!(valid_until(), later.unix_timestamp());
    backend.revoke(&role, &credential.handle).await.unwrap();
}

#[tokio::test]
async fn rotate_root_retires_the_old_password() {
    let cluster = PgCluster::shared();
    // An administrator of its own: the shared one's password must not change.
    let (admin, admin_password) = cluster.admin();
    let user = "rotating_admin";
    let old = "oldpassword0987";
    cluster
        .psql(
            admin,
            admin_password,
            &format!(
                "DROP ROLE IF EXISTS {user}; CREATE ROLE {user} SUPERUSER LOGIN PASSWORD '{old}'"
            ),
        )
        .unwrap();
    let backend = open_engine(json!({
        "connection_url": format!("postgres://{user}:{old}@127.0.0.1:{}/postgres", cluster.port())
    }));
    backend.verify().await.unwrap();
    let new = backend.rotate_root().await.unwrap();
    assert_ne!(new.as_str(), old);
    assert!(cluster.psql(user, old, "SELECT 1").is_err());
    assert_eq!(cluster.psql(user, &new, "SELECT 1"), Ok("1".to_owned()));
    backend.verify().await.unwrap();
    // New pooled connections log in with the new password.
    let role = read_only_role(&new_table(cluster, "lease_rotate"));
    let credential = create(
        &*backend,
        &role,
        &new_handle("rotate"),
        Duration::from_secs(60),
    )
    .await;
    backend.revoke(&role, &credential.handle).await.unwrap();
}

#[tokio::test]
async fn revoke_while_the_database_is_down_is_unreachable_then_succeeds() {
    let cluster = PgCluster::create();
    let backend = open_engine(json!({"connection_url": cluster.admin_url()}));
    let role = read_only_role(&new_table(&cluster, "lease_outage"));
    let credential = create(
        &*backend,
        &role,
        &new_handle("outage"),
        Duration::from_secs(60),
    )
    .await;
    let (user, password) = (
        field(&credential, "username"),
        field(&credential, "password"),
    );

    cluster.stop();
    let err = backend.verify().await.unwrap_err();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", cluster.port())),
        "{err}"
    );
    let err = backend.revoke(&role, &credential.handle).await.unwrap_err();
    assert!(matches!(err, DynamicError::Unreachable(_)), "{err}");
    assert!(!err.to_string().contains(cluster.admin().1), "{err}");

    cluster.start();
    cluster.psql(user, password, "SELECT 1").unwrap();
    backend.revoke(&role, &credential.handle).await.unwrap();
    assert!(cluster.psql(user, password, "SELECT 1").is_err());
}

#[test]
fn settings_are_checked() {
    let shown = scaivault_dynamic::prepare_engine(
        KIND,
        &json!({"connection_url": "postgres://vault:pw123@db.example:5432/app?sslmode=disable", "max_open_connections": 2}),
        None,
    )
    .unwrap();
    assert_eq!(
        shown.config["connection_url"],
        "postgres://vault:*****@db.example:5432/app?sslmode=disable"
    );
    assert_eq!(shown.config["username"], "vault");
    assert_eq!(shown.secret.as_str(), "pw123");
    for bad in [
        json!({"connection_url": "postgres://vault@db/app", "region": "x"}),
        json!({"username": "vault"}),
        json!({"connection_url": "http://vault@db/app"}),
        json!({"connection_url": "postgres://vault@db/app", "max_open_connections": 0}),
    ] {
        assert!(matches!(
            scaivault_dynamic::prepare_engine(KIND, &bad, None),
            Err(DynamicError::InvalidConfig(_))
        ));
    }
    for bad in [
        json!({}),
        json!({"creation_statements": ""}),
        json!({"creation_statements": "CREATE ROLE \"{{nmae}}\""}),
        json!({"creation_statements": "CREATE ROLE x", "default_ttl": "1h"}),
        json!({"creation_statements": 5}),
    ] {
        assert!(matches!(
            scaivault_dynamic::validate_role(KIND, &bad),
            Err(DynamicError::InvalidRole(_))
        ));
    }
}
