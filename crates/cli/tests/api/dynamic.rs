//! Dynamic credentials over HTTP (issue 17), against real peers: a password-authenticated
//! PostgreSQL cluster (the leased password logs in, a revoked one does not), MariaDB, moto
//! (boto3 checks issued AWS keys) and sshd (a leased certificate logs in). The dev test clock
//! drives expiry: moving it runs the lease sweeper's round.

use serde_json::{Value, json};

use scaivault_testpeers::postgres::PgCluster;

use crate::common::idp::{Idp, SigningKey, claims};
use crate::common::prod::ProdServer;
use crate::common::{Api, TestServer, assert_error};

const READONLY: &str = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; \
     GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";";

/// Logging in only: concurrent GRANTs on the same tables of the shared cluster conflict in
/// PostgreSQL ("tuple concurrently updated"), so only one test grants.
const LOGIN_ONLY: &str =
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';";

/// A table the leased users read (and may not write). Tests share a cluster: one at a time.
fn seed(pg: &PgCluster) {
    static SEEDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SEEDING.lock().unwrap_or_else(|p| p.into_inner());
    let (user, password) = pg.admin();
    pg.psql(
        user,
        password,
        "CREATE TABLE IF NOT EXISTS items (id int); INSERT INTO items SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM items);",
    )
    .expect("seeding the test cluster");
}

async fn create_pg_engine(api: &Api, pg: &PgCluster, name: &str) -> Value {
    let (s, body) = api
        .post(
            "/v1/dynamic/engines",
            json!({"name": name, "type": "postgres", "connection_url": pg.admin_url()}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    body
}

async fn create_role(api: &Api, engine: &str, body: Value) -> Value {
    let (s, role) = api
        .post(&format!("/v1/dynamic/engines/{engine}/roles"), body)
        .await;
    assert_eq!(s, 201, "{role}");
    role
}

async fn creds(api: &Api, engine: &str, role: &str, body: Value) -> Value {
    let (s, lease) = api
        .post(&format!("/v1/dynamic/engines/{engine}/creds/{role}"), body)
        .await;
    assert_eq!(s, 201, "{lease}");
    lease
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

async fn lease_of(api: &Api, id: &str) -> Value {
    let (s, body) = api.get(&format!("/v1/dynamic/leases/{id}")).await;
    assert_eq!(s, 200, "{body}");
    body
}

/// Every audit entry the caller sees, as text.
async fn audit_text(api: &Api) -> String {
    let (s, body) = api.get("/v1/audit?limit=500").await;
    assert_eq!(s, 200, "{body}");
    body.to_string()
}

#[tokio::test]
async fn postgres_engine_roles_and_leases_end_to_end() {
    let pg = PgCluster::shared();
    seed(pg);
    let (_, admin_password) = pg.admin();
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let mut seen = Vec::new();
    let subscription = subscribe(&api, &["lease.created", "lease.revoked"]).await;

    // A wrong password and a port nobody listens on are refused; nothing is stored.
    let wrong = pg.admin_url().replace(admin_password, "not-the-password");
    for url in [
        wrong,
        "postgres://postgres:x@127.0.0.1:1/postgres".to_owned(),
    ] {
        let (s, body) = api
            .post(
                "/v1/dynamic/engines",
                json!({"name": "pg", "type": "postgres", "connection_url": url}),
            )
            .await;
        assert_error(s, &body, 502, "engine_unreachable");
        seen.push(body.to_string());
    }
    let (s, body) = api.get("/v1/dynamic/engines").await;
    assert_eq!(s, 200);
    assert_eq!(body["engines"], json!([]), "{body}");

    let engine = create_pg_engine(&api, pg, "pg").await;
    assert_eq!(engine["type"], "postgres");
    seen.push(engine.to_string());
    let role = create_role(
        &api,
        "pg",
        json!({"name": "readonly", "creation_statements": READONLY,
               "default_ttl": "1h", "max_ttl": "2h"}),
    )
    .await;
    assert_eq!(role["default_ttl"], 3600);
    assert_eq!(role["max_ttl"], 7200);

    // Credentials work: SELECT yes, INSERT no.
    let lease = creds(&api, "pg", "readonly", json!({})).await;
    let id = text(&lease, "lease_id").to_owned();
    assert!(id.starts_with("lease_"));
    assert_eq!(lease["lease_duration"], 3600);
    let user = text(&lease["data"], "username").to_owned();
    let password = text(&lease["data"], "password").to_owned();
    assert_eq!(
        pg.psql(&user, &password, "SELECT count(*) > 0 FROM items")
            .unwrap(),
        "t"
    );
    let denied = pg.psql(&user, &password, "INSERT INTO items VALUES (2)");
    assert!(
        denied
            .as_ref()
            .is_err_and(|e| e.contains("permission denied")),
        "{denied:?}"
    );

    // A TTL above the role's max is cut to the max.
    let long = creds(&api, "pg", "readonly", json!({"ttl": "10h"})).await;
    assert_eq!(long["lease_duration"], 7200);

    // Renew: never past max_expires_at.
    let (s, renewed) = api
        .post(
            &format!("/v1/dynamic/leases/{id}/renew"),
            json!({"ttl": "90m"}),
        )
        .await;
    assert_eq!(s, 200, "{renewed}");
    api.advance_clock("1h").await;
    let (s, renewed) = api
        .post(
            &format!("/v1/dynamic/leases/{id}/renew"),
            json!({"ttl": "2h"}),
        )
        .await;
    assert_eq!(s, 200, "{renewed}");
    assert_eq!(
        renewed["expires_at"], renewed["max_expires_at"],
        "{renewed}"
    );

    // Lists and gets never show a password.
    for path in [
        "/v1/dynamic/engines".to_owned(),
        "/v1/dynamic/engines/pg".to_owned(),
        "/v1/dynamic/engines/pg/roles".to_owned(),
        "/v1/dynamic/leases?engine=pg".to_owned(),
        format!("/v1/dynamic/leases/{id}"),
    ] {
        let (s, body) = api.get(&path).await;
        assert_eq!(s, 200, "{path}: {body}");
        seen.push(body.to_string());
    }
    let (_, engines) = api.get("/v1/dynamic/engines").await;
    assert_eq!(engines["engines"][0]["live_leases"], 2, "{engines}");

    // Revoke: the user is gone.
    let (s, revoked) = api
        .post(&format!("/v1/dynamic/leases/{id}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert!(pg.psql(&user, &password, "SELECT 1").is_err());
    let (s, body) = api
        .post(&format!("/v1/dynamic/leases/{id}/renew"), json!({}))
        .await;
    assert_error(s, &body, 409, "lease_not_renewable");

    // Revoke by prefix (the role).
    let (s, result) = api
        .post(
            "/v1/dynamic/leases/revoke-prefix",
            json!({"engine": "pg", "role": "readonly"}),
        )
        .await;
    assert_eq!(s, 200, "{result}");
    assert_eq!(result, json!({"revoked": 1, "pending": 0}));
    let long_user = text(&long["data"], "username");
    let long_password = text(&long["data"], "password");
    assert!(pg.psql(long_user, long_password, "SELECT 1").is_err());

    // A short lease is torn down by the sweeper when the clock passes its expiry.
    let short = creds(&api, "pg", "readonly", json!({"ttl": "2s"})).await;
    let short_user = text(&short["data"], "username").to_owned();
    let short_password = text(&short["data"], "password").to_owned();
    assert!(pg.psql(&short_user, &short_password, "SELECT 1").is_ok());
    let moved = api.advance_clock("3s").await;
    assert_eq!(moved["leases_revoked"], 1, "{moved}");
    assert_eq!(
        lease_of(&api, text(&short, "lease_id")).await["status"],
        "revoked"
    );
    assert!(pg.psql(&short_user, &short_password, "SELECT 1").is_err());

    // Unknown engine and role.
    let (s, body) = api
        .post("/v1/dynamic/engines/nope/creds/readonly", json!({}))
        .await;
    assert_error(s, &body, 404, "engine_not_found");
    let (s, body) = api
        .post("/v1/dynamic/engines/pg/creds/nope", json!({}))
        .await;
    assert_error(s, &body, 404, "role_not_found");
    let (s, body) = api.get("/v1/dynamic/leases/lease_nope").await;
    assert_error(s, &body, 404, "lease_not_found");

    // Caps: a role with max_leases 2 refuses a third live lease.
    create_role(
        &api,
        "pg",
        json!({"name": "capped", "creation_statements": READONLY, "max_leases": 2}),
    )
    .await;
    creds(&api, "pg", "capped", json!({})).await;
    creds(&api, "pg", "capped", json!({})).await;
    let (s, body) = api
        .post("/v1/dynamic/engines/pg/creds/capped", json!({}))
        .await;
    assert_error(s, &body, 429, "lease_limit_reached");

    // Deleting the engine is refused while leases are live; force revokes them first.
    let (s, body) = api.delete("/v1/dynamic/engines/pg").await;
    assert_error(s, &body, 409, "engine_has_leases");
    let (s, body) = api.delete("/v1/dynamic/engines/pg?force=true").await;
    assert_eq!(s, 204, "{body}");
    let (s, body) = api.get("/v1/dynamic/leases?engine=pg&status=live").await;
    assert_eq!(s, 200);
    assert_eq!(body["leases"], json!([]), "{body}");

    // The lease events, through a subscription.
    let types = poll_types(&api, &subscription).await;
    assert!(types.iter().any(|t| t == "lease.created"), "{types:?}");
    assert!(types.iter().any(|t| t == "lease.revoked"), "{types:?}");

    // No password anywhere: responses, the log, the audit trail.
    seen.push(audit_text(&api).await);
    seen.push(server.log());
    for text in &seen {
        assert!(
            !text.contains(admin_password),
            "the engine's password leaked"
        );
        assert!(!text.contains(&password), "a leased password leaked");
    }
}

#[tokio::test]
async fn revocation_is_retried_while_the_database_is_down() {
    let pg = PgCluster::create();
    seed(&pg);
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "leases", "paths": ["**"], "events": [
                "lease.created", "lease.revoked", "lease.revocation_failed"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    create_pg_engine(&api, &pg, "pg").await;
    create_role(
        &api,
        "pg",
        json!({"name": "readonly", "creation_statements": READONLY}),
    )
    .await;
    let subscription = subscribe(&api, &["lease.revocation_failed"]).await;
    let lease = creds(&api, "pg", "readonly", json!({})).await;
    let id = text(&lease, "lease_id").to_owned();
    let user = text(&lease["data"], "username").to_owned();
    let password = text(&lease["data"], "password").to_owned();
    // Two short leases that expire while the database is down.
    for _ in 0..2 {
        creds(&api, "pg", "readonly", json!({"ttl": "1m"})).await;
    }
    // And one on another engine, whose database stays up: its revocation is not held up.
    let shared = PgCluster::shared();
    create_pg_engine(&api, shared, "other").await;
    create_role(
        &api,
        "other",
        json!({"name": "app", "creation_statements": LOGIN_ONLY}),
    )
    .await;
    let other = creds(&api, "other", "app", json!({"ttl": "1m"})).await;

    pg.stop();
    let (s, body) = api
        .post(&format!("/v1/dynamic/leases/{id}/revoke"), json!({}))
        .await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["status"], "revocation_failed");
    assert!(
        body["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    let (_, listed) = api.get("/v1/dynamic/leases?status=live").await;
    let revoked_one = listed["leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id.as_str())
        .unwrap();
    assert_eq!(revoked_one["status"], "revocation_failed", "{listed}");

    // The sweeper finds the expired two while the target is down: both fail (the second without
    // waiting out another connection attempt), both are listed with the error and announced.
    let moved = api.advance_clock("2m").await;
    assert_eq!(moved["leases_revoked"], 1, "{moved}");
    let other_id = text(&other, "lease_id");
    assert_eq!(lease_of(&api, other_id).await["status"], "revoked");
    let (_, listed) = api.get("/v1/dynamic/leases?engine=pg&status=live").await;
    let leases = listed["leases"].as_array().unwrap();
    assert_eq!(leases.len(), 3, "{listed}");
    for lease in leases {
        assert_eq!(lease["status"], "revocation_failed", "{lease}");
        assert!(lease["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // One per failed attempt: the revoke call's, its retry in this round, the two expired.
    let types = poll_types(&api, &subscription).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "lease.revocation_failed")
            .count(),
        4,
        "{types:?}"
    );

    pg.start();
    let moved = api.advance_clock("1h").await;
    assert_eq!(moved["leases_revoked"], 3, "{moved}");
    assert_eq!(lease_of(&api, &id).await["status"], "revoked");
    assert!(pg.psql(&user, &password, "SELECT 1").is_err());

    // The subscriber heard it all: four created, four failed attempts (the first is the
    // revoke call's, with its error), four revoked (the engines' in either order).
    let (s, polled) = api
        .get(&format!("/v1/subscriptions/{}/poll", text(&sub, "id")))
        .await;
    assert_eq!(s, 200, "{polled}");
    let events = polled["events"].as_array().unwrap();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types[..4], ["lease.created"; 4], "{polled}");
    let count = |t: &str| types.iter().filter(|x| **x == t).count();
    assert_eq!(count("lease.revocation_failed"), 4, "{polled}");
    assert_eq!(count("lease.revoked"), 4, "{polled}");
    assert_eq!(types.len(), 12, "{polled}");
    assert_eq!(events[4]["data"]["lease_id"], id.as_str(), "{polled}");
    assert!(
        events[4]["data"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
}

/// A subscription to the given event types (lease events carry no path).
async fn subscribe(api: &Api, types: &[&str]) -> String {
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "leases", "paths": ["**"], "events": types}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    sub["id"].as_str().unwrap().to_owned()
}

/// The types of the events waiting for the subscription.
async fn poll_types(api: &Api, subscription: &str) -> Vec<String> {
    let (s, body) = api
        .get(&format!(
            "/v1/subscriptions/{subscription}/poll?wait=0s&limit=500"
        ))
        .await;
    assert_eq!(s, 200, "{body}");
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event_type"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn leases_live_at_a_kill_are_torn_down_after_restart() {
    let pg = PgCluster::shared();
    seed(pg);
    let mut server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    create_pg_engine(&api, pg, "pg").await;
    create_role(
        &api,
        "pg",
        json!({"name": "readonly", "creation_statements": LOGIN_ONLY}),
    )
    .await;
    let mut users = Vec::new();
    for _ in 0..3 {
        let lease = creds(&api, "pg", "readonly", json!({"ttl": "1h"})).await;
        users.push((
            text(&lease["data"], "username").to_owned(),
            text(&lease["data"], "password").to_owned(),
        ));
    }
    server.kill();
    server.restart_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let (_, listed) = api.get("/v1/dynamic/leases?status=live").await;
    assert_eq!(
        listed["leases"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    let moved = api.advance_clock("2h").await;
    assert_eq!(moved["leases_revoked"], 3, "{moved}");
    for (user, password) in &users {
        assert!(
            pg.psql(user, password, "SELECT 1").is_err(),
            "{user} survived"
        );
    }
}

#[tokio::test]
async fn scopes_and_path_policies_confine_who_gets_credentials() {
    let pg = PgCluster::shared();
    seed(pg);
    let signing = SigningKey::generate("dyn");
    let idp = Idp::start(&[&signing]);
    let prod = ProdServer::start(&idp.config());
    let admin = prod.admin();
    create_pg_engine(&admin, pg, "pg").await;
    for role in ["readonly", "admin"] {
        create_role(
            &admin,
            "pg",
            json!({"name": role, "creation_statements": LOGIN_ONLY}),
        )
        .await;
    }
    let (s, policy) = admin
        .post(
            "/v1/policies",
            json!({"name": "pg-readers", "rules": [
                {"path": "dynamic/pg/readonly", "permissions": ["lease"]}
            ]}),
        )
        .await;
    assert_eq!(s, 201, "{policy}");
    let (s, b) = admin
        .post(
            &format!("/v1/policies/{}/bindings", text(&policy, "id")),
            json!({"identity_type": "group", "identity_id": "group:app-team"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    // Without dynamic:creds: refused.
    let mut c = claims("reader@ops.example", "tnt_ops", "ptn_ops");
    c["groups"] = json!(["app-team"]);
    c["scopes"] = json!(["dynamic:read"]);
    let reader = prod.client(&signing.sign(&c));
    let (s, body) = reader
        .post("/v1/dynamic/engines/pg/creds/readonly", json!({}))
        .await;
    assert_error(s, &body, 403, "access_denied");

    // With it: the policy allows readonly, not admin; and no administration.
    c["sub"] = json!("dev@ops.example");
    c["scopes"] = json!(["dynamic:read", "dynamic:creds"]);
    let dev = prod.client(&signing.sign(&c));
    let lease = creds(&dev, "pg", "readonly", json!({"ttl": "10m"})).await;
    let (s, body) = dev
        .post("/v1/dynamic/engines/pg/creds/admin", json!({}))
        .await;
    assert_error(s, &body, 403, "access_denied");
    let (s, body) = dev
        .post("/v1/dynamic/leases/revoke-prefix", json!({"engine": "pg"}))
        .await;
    assert_error(s, &body, 403, "access_denied");
    // Its own lease it may revoke.
    let (s, body) = dev
        .post(
            &format!("/v1/dynamic/leases/{}/revoke", text(&lease, "lease_id")),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn mysql_credentials_work_against_mariadb() {
    let server = TestServer::start();
    let api = server.client();
    let (s, body) = api
        .post(
            "/v1/dynamic/engines",
            json!({"name": "maria", "type": "mysql",
                   "connection_url": scaivault_testpeers::mariadb::admin_url()}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    create_role(
        &api,
        "maria",
        json!({"name": "ro", "creation_statements":
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON mysql.user TO '{{name}}'@'%';"}),
    )
    .await;
    let lease = creds(&api, "maria", "ro", json!({})).await;
    let user = text(&lease["data"], "username");
    let password = text(&lease["data"], "password");
    assert!(scaivault_testpeers::mariadb::login(user, password, "SELECT 1").is_ok());
    let (s, body) = api
        .post(
            &format!("/v1/dynamic/leases/{}/revoke", text(&lease, "lease_id")),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(scaivault_testpeers::mariadb::login(user, password, "SELECT 1").is_err());
}

#[tokio::test]
async fn ssh_certificates_log_in_to_a_real_sshd() {
    let server = TestServer::start();
    let api = server.client();
    let (s, body) = api
        .post("/v1/dynamic/engines", json!({"name": "ssh", "type": "ssh"}))
        .await;
    assert_eq!(s, 201, "{body}");
    let response = api
        .request(reqwest::Method::GET, "/v1/dynamic/engines/ssh/ca")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let ca = response.text().await.unwrap();
    assert!(ca.starts_with("ssh-"), "{ca}");
    let sshd = scaivault_testpeers::sshd::Sshd::start(ca.trim());
    let me = scaivault_testpeers::sshd::current_user();
    create_role(
        &api,
        "ssh",
        json!({"name": "me", "allowed_users": [me], "default_user": me}),
    )
    .await;
    let lease = creds(&api, "ssh", "me", json!({"ttl": "10m"})).await;
    assert_eq!(lease["renewable"], false);
    let data = &lease["data"];
    let login = sshd.login(&me, text(data, "private_key"), text(data, "signed_key"));
    assert!(login.is_ok(), "{login:?}\n{}", sshd.log());
}

#[tokio::test]
async fn aws_iam_user_keys_work_with_boto3() {
    let moto = scaivault_testpeers::moto::Moto::shared();
    let (key_id, secret) = moto.new_admin("scaivault-api-test");
    let server = TestServer::start();
    let api = server.client();
    let (s, body) = api
        .post(
            "/v1/dynamic/engines",
            json!({"name": "aws", "type": "aws", "access_key_id": key_id,
                   "secret_access_key": secret, "endpoint_url": moto.endpoint()}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert!(!body.to_string().contains(&secret));
    create_role(
        &api,
        "aws",
        json!({"name": "reader", "credential_type": "iam_user", "policy_document": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}}),
    )
    .await;
    let lease = creds(&api, "aws", "reader", json!({})).await;
    let keys = scaivault_testpeers::moto::AwsKeys {
        access_key_id: text(&lease["data"], "access_key_id").to_owned(),
        secret_access_key: text(&lease["data"], "secret_access_key").to_owned(),
        session_token: None,
    };
    let who = moto.python(&keys, "print(client('sts').get_caller_identity()['Arn'])");
    assert!(
        who.as_ref().is_ok_and(|arn| arn.contains("user/")),
        "{who:?}"
    );

    // An IAM user's lease renews (its revocation moves); revoking deletes the user: its keys
    // stop working.
    assert_eq!(lease["renewable"], true, "{lease}");
    let id = text(&lease, "lease_id");
    let (s, renewed) = api
        .post(
            &format!("/v1/dynamic/leases/{id}/renew"),
            json!({"ttl": "2h"}),
        )
        .await;
    assert_eq!(s, 200, "{renewed}");
    let (s, revoked) = api
        .post(&format!("/v1/dynamic/leases/{id}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200, "{revoked}");
    let after = moto.python(&keys, "print(client('sts').get_caller_identity()['Arn'])");
    assert!(after.is_err(), "the revoked keys still work: {after:?}");
}

/// On the PostgreSQL store, with two nodes: a lease issued on one is listed, capped and revoked
/// on the other, and the target user is gone.
#[tokio::test]
async fn two_nodes_on_the_postgres_store_share_leases() {
    let pg = PgCluster::shared();
    let db = crate::common::prod::TestDatabase::create();
    let a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\n",
        db.url
    ));
    let b = a.spawn_node();
    let on_a = a.admin();
    let on_b = b.client(&a.admin_token);
    create_pg_engine(&on_a, pg, "pg").await;
    create_role(
        &on_a,
        "pg",
        json!({"name": "one", "creation_statements": LOGIN_ONLY, "max_leases": 1}),
    )
    .await;
    let lease = creds(&on_a, "pg", "one", json!({})).await;
    let (s, body) = on_b
        .post("/v1/dynamic/engines/pg/creds/one", json!({}))
        .await;
    assert_error(s, &body, 429, "lease_limit_reached");
    let (_, listed) = on_b.get("/v1/dynamic/leases?engine=pg&status=live").await;
    assert_eq!(listed["leases"][0]["id"], lease["lease_id"], "{listed}");
    let user = text(&lease["data"], "username");
    let password = text(&lease["data"], "password");
    assert!(pg.psql(user, password, "SELECT 1").is_ok());
    let (s, body) = on_b
        .post(
            &format!("/v1/dynamic/leases/{}/revoke", text(&lease, "lease_id")),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(pg.psql(user, password, "SELECT 1").is_err());
    creds(&on_b, "pg", "one", json!({})).await;
}

/// `lease.expiring` is announced once when an active lease comes within 5 minutes of its end;
/// a renewal moves the end and announces again when the new end nears.
#[tokio::test]
async fn leases_near_their_end_are_announced_once() {
    let pg = PgCluster::shared();
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    create_pg_engine(&api, pg, "pg").await;
    create_role(
        &api,
        "pg",
        json!({"name": "app", "creation_statements": LOGIN_ONLY}),
    )
    .await;
    let subscription = subscribe(&api, &["lease.expiring"]).await;
    let lease = creds(&api, "pg", "app", json!({"ttl": "10m"})).await;
    let id = text(&lease, "lease_id").to_owned();

    api.advance_clock("2m").await;
    assert!(poll_types(&api, &subscription).await.is_empty());
    api.advance_clock("4m").await;
    api.advance_clock("1m").await;
    let (_, polled) = api
        .get(&format!(
            "/v1/subscriptions/{subscription}/poll?wait=0s&limit=500"
        ))
        .await;
    let events = polled["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{polled}");
    assert_eq!(events[0]["event_type"], "lease.expiring");
    assert_eq!(events[0]["data"]["lease_id"], id.as_str(), "{polled}");

    let (s, renewed) = api
        .post(
            &format!("/v1/dynamic/leases/{id}/renew"),
            json!({"ttl": "10m"}),
        )
        .await;
    assert_eq!(s, 200, "{renewed}");
    api.advance_clock("6m").await;
    let types = poll_types(&api, &subscription).await;
    assert_eq!(types, ["lease.expiring"; 2], "{types:?}");
}

/// A lease that expired while the server was down is revoked right after start, by the
/// sweeper's first round, with no clock moved: the hour passes in the database file while the
/// server is down, and the test waits for the lease to show `revoked`.
#[tokio::test]
async fn a_lease_that_expired_while_the_server_was_down_is_revoked_at_start() {
    let pg = PgCluster::shared();
    let mut server = TestServer::start();
    let api = server.client();
    create_pg_engine(&api, pg, "pg").await;
    create_role(
        &api,
        "pg",
        json!({"name": "app", "creation_statements": LOGIN_ONLY}),
    )
    .await;
    let lease = creds(&api, "pg", "app", json!({"ttl": "1h"})).await;
    let id = text(&lease, "lease_id").to_owned();
    let user = text(&lease["data"], "username").to_owned();
    let password = text(&lease["data"], "password").to_owned();
    pg.psql(&user, &password, "SELECT 1").unwrap();

    server.kill();
    // Two hours earlier (timestamps are microseconds): due and expired by the next start.
    let db = server.data_dir().join("scaivault.db");
    let shift = format!(
        "UPDATE dynamic_leases SET expires_at = expires_at - 7200000000, \
         due_at = due_at - 7200000000 WHERE id = '{id}'"
    );
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(sys.argv[2])\nc.commit()",
        ])
        .arg(&db)
        .arg(&shift)
        .output()
        .expect("python3 (with sqlite3) is needed by this test");
    assert!(out.status.success(), "{out:?}");

    server.restart();
    let api = server.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if lease_of(&api, &id).await["status"] == "revoked" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the expired lease was not revoked after start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(pg.psql(&user, &password, "SELECT 1").is_err());
}
