//! `scaivault operator migrate`: a populated embedded store moved to PostgreSQL reads back
//! identically and its audit verifies; an interrupted migration resumes without duplicating
//! rows; a tampered target fails `--verify-only`; a target holding other data is refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::prod::{ProdServer, TestDatabase};
use crate::common::{Api, BIN};

/// Runs `scaivault operator migrate` with `args`.
fn migrate(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["operator", "migrate"])
        .args(args)
        .env_remove("SCAIVAULT_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One value from PostgreSQL (`psql -At`).
fn psql(url: &str, sql: &str) -> String {
    let out = scaivault_testpeers::psql_command()
        .arg(url)
        .args(["-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql (the PostgreSQL client) is needed by the migrate tests");
    assert!(
        out.status.success(),
        "psql `{sql}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// One value from the SQLite file (python3's sqlite3 module, read-only).
fn sqlite(file: &Path, sql: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\nc = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\nfor r in c.execute(sys.argv[2]): print(*r)",
        ])
        .arg(file)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sqlite `{sql}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A server on the migrated database: the installation's configuration with `storage` switched
/// to PostgreSQL, the same root key file.
struct PgServer {
    base_url: String,
    child: Child,
}

impl PgServer {
    fn start(dir: &Path, db_url: &str) -> Self {
        let original = std::fs::read_to_string(dir.join("scaivault.toml")).unwrap();
        let config = dir.join("scaivault-pg.toml");
        std::fs::write(
            &config,
            format!("{original}\nstorage = \"postgres\"\ndatabase_url = \"{db_url}\"\n"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("server-pg.log")).unwrap();
        let mut child = Command::new(BIN)
            .args(["server", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let url = crate::common::listening_url(&mut child);
        let base_url = match url {
            Some(url) => url,
            None => {
                let _ = child.kill();
                panic!(
                    "server on PostgreSQL did not start: {}",
                    std::fs::read_to_string(dir.join("server-pg.log")).unwrap_or_default()
                );
            }
        };
        Self { base_url, child }
    }

    fn client(&self, token: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base_url.clone(),
            token: Some(token.to_owned()),
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every secret's current body, version list and each version's body, as the API returns them.
async fn snapshot(api: &Api, paths: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for path in paths {
        let (s, current) = api.get(&format!("/v1/{path}")).await;
        assert_eq!(s, 200, "{path}: {current}");
        out.insert(path.clone(), current);
        let (s, versions) = api.get(&format!("/v1/{path}/versions")).await;
        assert_eq!(s, 200, "{path}: {versions}");
        for v in versions["versions"].as_array().unwrap() {
            let n = v["version"].as_u64().unwrap();
            let (s, body) = api.get(&format!("/v1/{path}?version={n}")).await;
            assert_eq!(s, 200, "{path} v{n}: {body}");
            out.insert(format!("{path}?version={n}"), body);
        }
        out.insert(format!("{path}/versions"), versions);
    }
    out
}

#[tokio::test]
async fn a_populated_embedded_store_moves_to_postgres_and_reads_back_identically() {
    let db = TestDatabase::create();
    let mut server = ProdServer::start("");
    let dir = server.dir.path().to_owned();
    let admin = server.admin();

    // --- a populated embedded store ---------------------------------------------------------
    let mut paths: Vec<String> = Vec::new();
    for (i, password) in ["p1", "p2", "p3"].iter().enumerate() {
        let (s, body) = admin
            .put(
                "/v1/secrets/app/db",
                json!({"data": {"username": "admin", "password": password}}),
            )
            .await;
        assert_eq!(s, if i == 0 { 201 } else { 200 }, "{body}");
    }
    paths.push("secrets/app/db".into());
    let (s, body) = admin
        .put(
            "/v1/secrets/app/json",
            json!({"data": {"nested": {"list": [1, 2.5, "three", null, true]}, "unicode": "grüße ✓"},
                   "secret_type": "json",
                   "metadata": {"description": "JSON settings", "tags": ["json", "prod"], "owner": "group:platform"},
                   "options": {"max_versions": 5, "expires_in": "90d"}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    paths.push("secrets/app/json".into());
    for i in 0..40 {
        let (s, _) = admin
            .put(
                &format!("/v1/secrets/bulk/s{i:02}"),
                json!({"data": {"i": i}}),
            )
            .await;
        assert_eq!(s, 201);
        paths.push(format!("secrets/bulk/s{i:02}"));
    }
    // Soft-deleted, with two versions.
    for v in ["old-1", "old-2"] {
        admin
            .put("/v1/secrets/gone/old", json!({"data": {"v": v}}))
            .await;
    }
    let deleted_before = snapshot(&admin, &["secrets/gone/old".to_owned()]).await;
    assert_eq!(admin.delete("/v1/secrets/gone/old").await.0, 204);
    // A second tenant (a second audit chain).
    let (s, tenant) = admin
        .post(
            "/v1/identity/tenants",
            json!({"slug": "mig-co", "partner_id": "ptn_ops"}),
        )
        .await;
    assert_eq!(s, 201, "{tenant}");
    let tenant = tenant["id"].as_str().unwrap().to_owned();
    let (s, _) = admin
        .put(
            &format!("/v1/t/{tenant}/secrets/app/db"),
            json!({"data": {"owner": "mig"}}),
        )
        .await;
    assert_eq!(s, 201);
    paths.push(format!("t/{tenant}/secrets/app/db"));
    // A personal token, a service account with an API key, a policy bound to it.
    let (s, pat) = admin
        .post(
            "/v1/auth/tokens",
            json!({"name": "reader", "scopes": ["secrets:read"]}),
        )
        .await;
    assert_eq!(s, 201, "{pat}");
    let pat = pat["token"].as_str().unwrap().to_owned();
    let (s, sa) = admin
        .post(
            "/v1/service-accounts",
            json!({"name": "deployer", "roles": ["secrets-reader"]}),
        )
        .await;
    assert_eq!(s, 201, "{sa}");
    let (s, key) = admin
        .post(
            &format!("/v1/service-accounts/{}/keys", sa["id"].as_str().unwrap()),
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let api_key = key["key"].as_str().unwrap().to_owned();
    let (s, policy) = admin
        .post(
            "/v1/policies",
            json!({"name": "app-read", "path": "app/**", "permissions": ["read", "list"]}),
        )
        .await;
    assert_eq!(s, 201, "{policy}");
    let (s, _) = admin
        .post(
            &format!("/v1/policies/{}/bindings", policy["id"].as_str().unwrap()),
            json!({"identity_type": "service_account", "identity_id": sa["identity_id"]}),
        )
        .await;
    assert_eq!(s, 201);
    let deployer = server.client(&api_key);
    assert_eq!(deployer.get("/v1/secrets/app/db").await.0, 200);
    assert_eq!(deployer.get("/v1/secrets/bulk/s00").await.0, 403);
    // Rotation: a secret policy, two rotation policies (one generating values, one not), a
    // secret rotated once by a trigger (a run, a generated version).
    let (s, sp) = admin
        .post(
            "/v1/secret-policies",
            json!({"name": "db-password", "fields": [
                {"name": "password", "generator": "random", "config": {"length": 24}}]}),
        )
        .await;
    assert_eq!(s, 201, "{sp}");
    let (s, rot) = admin
        .post(
            "/v1/rotation/policies",
            json!({"name": "quarterly", "interval": "90d", "grace_period": "1d",
                   "warn_before": ["7d", "1d"]}),
        )
        .await;
    assert_eq!(s, 201, "{rot}");
    let (s, manual) = admin
        .post(
            "/v1/rotation/policies",
            json!({"name": "by-hand", "interval": "30d", "auto_generate": false,
                   "window": "0 3 * * 1"}),
        )
        .await;
    assert_eq!(s, 201, "{manual}");
    let rot_id = rot["id"].as_str().unwrap().to_owned();
    let (s, body) = admin
        .put(
            "/v1/secrets/rot/db",
            json!({"data": {"password": "initial"},
                   "options": {"rotation_policy_id": rot_id, "secret_policy_id": sp["id"]}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = admin
        .post(
            &format!("/v1/rotation/policies/{rot_id}/trigger"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    paths.push("secrets/rot/db".into());
    let rotation_views = [
        "/v1/secret-policies".to_owned(),
        "/v1/rotation/policies".to_owned(),
        format!("/v1/rotation/policies/{rot_id}/history"),
        format!("/v1/rotation/policies/{rot_id}/secrets"),
        "/v1/rotation/runs".to_owned(),
    ];
    let mut rotation_before = Vec::new();
    for view in &rotation_views {
        let (s, body) = admin.get(view).await;
        assert_eq!(s, 200, "{view}: {body}");
        rotation_before.push(body);
    }
    assert_eq!(
        rotation_before[4]["runs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        rotation_before[4]
    );

    // A subscription, polled up to now.
    let (s, sub) = admin
        .post(
            "/v1/subscriptions",
            json!({"name": "app", "paths": ["app/**"], "events": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let sub_id = sub["id"].as_str().unwrap().to_owned();
    let (s, polled) = admin
        .get(&format!("/v1/subscriptions/{sub_id}/poll?wait=0s"))
        .await;
    assert_eq!(s, 200, "{polled}");
    let cursor = polled["cursor"].as_str().unwrap().to_owned();

    let before = snapshot(&admin, &paths).await;
    let (_, report) = admin.post("/v1/audit/verify", json!({})).await;
    assert_eq!(report["intact"], true, "{report}");
    let data_dir = server.data_dir();
    let db_file = data_dir.join("scaivault.db");
    // Stopped hard: the write-ahead log is left behind, as after a crash.
    server.kill();
    let wal = data_dir.join("scaivault.db-wal");
    assert!(wal.exists());
    let source_bytes = || {
        (
            std::fs::read(&db_file).unwrap(),
            std::fs::read(&wal).unwrap(),
        )
    };
    let untouched = source_bytes();
    let from = format!("sqlite:{}", data_dir.display());
    let root_key = dir.join("root.key");
    let config = dir.join("scaivault.toml");
    let by_paths = |extra: &[&str]| -> Output {
        let mut args = vec![
            "--from",
            from.as_str(),
            "--to",
            db.url.as_str(),
            "--root-key-file",
            root_key.to_str().unwrap(),
            "--batch-size",
            "7",
        ];
        args.extend_from_slice(extra);
        migrate(&args)
    };

    // --- interrupted twice, then resumed to the end -----------------------------------------
    let out = by_paths(&["--stop-after-batches", "6"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stopped after 6 batches"),
        "{}",
        text(&out)
    );
    let partial: u64 = psql(&db.url, "SELECT count(*) FROM secrets")
        .parse()
        .unwrap();
    let total: u64 = sqlite(&db_file, "SELECT count(*) FROM secrets")
        .parse()
        .unwrap();
    assert!(
        0 < partial && partial < total,
        "the interrupted run stopped inside the secrets: {partial} of {total}"
    );
    let out = by_paths(&["--stop-after-batches", "9"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Resuming"),
        "{}",
        text(&out)
    );
    // A server does not start on the half-filled database.
    let half = dir.join("scaivault-half.toml");
    std::fs::write(
        &half,
        format!(
            "{}\nstorage = \"postgres\"\ndatabase_url = \"{}\"\n",
            std::fs::read_to_string(dir.join("scaivault.toml")).unwrap(),
            db.url
        ),
    )
    .unwrap();
    let refused = Command::new(BIN)
        .args(["server", "--config"])
        .arg(&half)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("unfinished"),
        "{}",
        text(&refused)
    );
    // The rest, through the configuration (data_dir, root_key_file) and an explicit target.
    let out = migrate(&[
        "--config",
        config.to_str().unwrap(),
        "--to",
        &db.url,
        "--batch-size",
        "7",
    ]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(said.contains("Resuming"), "{said}");
    assert!(said.contains("Verified"), "{said}");
    assert!(
        !said.contains("already in the target"),
        "no batch was copied twice: {said}"
    );
    for table in [
        "secrets",
        "secret_versions",
        "tokens",
        "audit_log",
        "events",
        "rotation_runs",
    ] {
        assert_eq!(
            psql(&db.url, &format!("SELECT count(*) FROM {table}")),
            sqlite(&db_file, &format!("SELECT count(*) FROM {table}")),
            "{table}: no row lost or duplicated"
        );
    }
    assert_eq!(
        psql(
            &db.url,
            "SELECT string_agg(name || ':' || auto_generate, ',' ORDER BY name) FROM rotation_policies"
        ),
        "by-hand:false,quarterly:true"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT array_to_string(tags, ',') FROM secrets WHERE path = 'app/json'"
        ),
        "json,prod"
    );

    // Running it again only verifies; so does --verify-only (through the configuration).
    let out = by_paths(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Already copied"),
        "{}",
        text(&out)
    );
    let verify_only = || {
        migrate(&[
            "--config",
            config.to_str().unwrap(),
            "--to",
            &db.url,
            "--verify-only",
        ])
    };
    let out = verify_only();
    assert!(out.status.success(), "{}", text(&out));

    // --- tampering with the target is caught ------------------------------------------------
    psql(
        &db.url,
        "UPDATE secrets SET description = 'edited' WHERE path = 'app/json'",
    );
    let out = verify_only();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("table secrets") && said.contains("path=\"app/json\") differs"),
        "{}",
        text(&out)
    );
    assert!(!said.contains("JSON settings"), "no values in the report");
    psql(
        &db.url,
        "UPDATE secrets SET description = 'JSON settings' WHERE path = 'app/json'",
    );
    assert!(verify_only().status.success(), "edit undone");
    let action = psql(&db.url, "SELECT action FROM audit_log WHERE seq = 3");
    psql(&db.url, "UPDATE audit_log SET action = 'x' WHERE seq = 3");
    let out = verify_only();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("table audit_log") && said.contains("is broken on the target"),
        "{}",
        text(&out)
    );
    psql(
        &db.url,
        &format!("UPDATE audit_log SET action = '{action}' WHERE seq = 3"),
    );
    assert!(verify_only().status.success(), "edit undone");

    // --- a target holding anything else is refused ------------------------------------------
    let other = TestDatabase::create();
    let out = migrate(&[
        "--from",
        &from,
        "--to",
        &other.url,
        "--root-key-file",
        root_key.to_str().unwrap(),
        "--stop-after-batches",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    psql(
        &other.url,
        "DELETE FROM system WHERE key = 'migration.progress'",
    );
    let out = migrate(&[
        "--from",
        &from,
        "--to",
        &other.url,
        "--root-key-file",
        root_key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds data"),
        "{}",
        text(&out)
    );
    // And so is a root key the store was not created with.
    let wrong_key = dir.join("wrong.key");
    std::fs::write(&wrong_key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    std::fs::set_permissions(
        &wrong_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = migrate(&[
        "--from",
        &from,
        "--to",
        &other.url,
        "--root-key-file",
        wrong_key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot unwrap"),
        "{}",
        text(&out)
    );

    assert!(
        source_bytes() == untouched,
        "the source (database and write-ahead log) was never written"
    );

    // --- a server on PostgreSQL with the same root key serves it all ------------------------
    let pg = PgServer::start(&dir, &db.url);
    let admin = pg.client(&server.admin_token);
    let after = snapshot(&admin, &paths).await;
    assert_eq!(
        after, before,
        "every secret and version reads back identically"
    );
    let (s, body) = admin.get("/v1/secrets/gone/old").await;
    assert_eq!(s, 404, "still soft-deleted: {body}");
    let (s, body) = admin.post("/v1/secrets/gone/old/restore", json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        snapshot(&admin, &["secrets/gone/old".to_owned()]).await,
        deleted_before,
        "restorable, with its versions"
    );
    // Credentials still authenticate, policies still apply.
    let (s, me) = pg.client(&pat).get("/v1/auth/whoami").await;
    assert_eq!(s, 200, "{me}");
    let deployer = pg.client(&api_key);
    assert_eq!(deployer.get("/v1/secrets/app/db").await.0, 200);
    assert_eq!(deployer.get("/v1/secrets/bulk/s00").await.0, 403);
    assert_eq!(
        deployer
            .put("/v1/secrets/app/db", json!({"data": {}}))
            .await
            .0,
        403
    );
    // New rows continue above the copied ones: versions, events (the subscription's cursor), the
    // audit chains.
    let (s, body) = admin
        .put("/v1/secrets/app/db", json!({"data": {"password": "p4"}}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["version"], 4);
    let (s, polled) = admin
        .get(&format!(
            "/v1/subscriptions/{sub_id}/poll?wait=5s&cursor={cursor}"
        ))
        .await;
    assert_eq!(s, 200, "{polled}");
    let events = polled["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "only the new write: {polled}");
    assert_eq!(events[0]["path"], "app/db");
    let mut rotation_after = Vec::new();
    for view in &rotation_views {
        let (s, body) = admin.get(view).await;
        assert_eq!(s, 200, "{view}: {body}");
        rotation_after.push(body);
    }
    assert_eq!(
        rotation_after, rotation_before,
        "rotation reads back identically"
    );
    let seq: i64 = psql(&db.url, "SELECT max(seq) FROM rotation_runs")
        .parse()
        .unwrap();
    let (s, body) = admin
        .post(
            &format!("/v1/rotation/policies/{rot_id}/trigger"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        psql(&db.url, "SELECT max(seq) FROM rotation_runs"),
        (seq + 1).to_string(),
        "new runs continue above the copied ones"
    );
    let (s, report) = admin.post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
    let chains = report["chains"].as_array().unwrap();
    assert!(
        chains.iter().any(|c| c["tenant_id"] == tenant.as_str())
            && chains.iter().any(|c| c["tenant_id"] == "tnt_ops"),
        "both tenants' chains: {report}"
    );
}
