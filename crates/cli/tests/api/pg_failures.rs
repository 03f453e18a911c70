//! Issue 14 on PostgreSQL: a failed commit, a statement timeout and connections killed in the
//! middle of a load never turn into an acknowledged-but-lost write or a read served without its
//! audit entry, and the server recovers by itself.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::common::prod::{ProdServer, TestDatabase};

fn pg_server(db: &TestDatabase, extra: &str) -> ProdServer {
    ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\n{extra}",
        db.url
    ))
}

/// A COMMIT that fails (a deferred constraint refuses it at commit time): the write and the
/// read both fail, nothing is stored, and the pool is healthy afterwards.
#[tokio::test]
async fn postgres_failed_commit_acknowledges_nothing() {
    let db = TestDatabase::create();
    let server = pg_server(&db, "");
    let api = server.admin();
    assert_eq!(
        api.put("/v1/secrets/pg/kept", json!({"data": {"v": "kept"}}))
            .await
            .0,
        201
    );
    db.psql(
        "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
         CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON audit_log
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();",
    );
    let (status, body) = api
        .put("/v1/secrets/pg/lost", json!({"data": {"v": "never"}}))
        .await;
    assert_eq!(status, 500, "{body}");
    let (status, body) = api.get("/v1/secrets/pg/kept").await;
    assert_eq!(
        status, 500,
        "a read whose audit cannot commit is not served: {body}"
    );
    assert!(body.get("data").is_none(), "{body}");

    db.psql("DROP TRIGGER refuse_at_commit ON audit_log");
    let (status, body) = api.get("/v1/secrets/pg/lost").await;
    assert_eq!(status, 404, "the refused write left nothing: {body}");
    for i in 0..20 {
        let (status, body) = api
            .put(
                &format!("/v1/secrets/pg/after{i}"),
                json!({"data": {"v": i}}),
            )
            .await;
        assert_eq!(status, 201, "every pooled connection works again: {body}");
    }
    let (status, body) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["intact"], true, "{body}");
}

/// A statement that waits on a lock past `database_statement_timeout` fails with 503
/// `storage_unavailable` and changes nothing; once the lock is gone, writes succeed.
#[tokio::test]
async fn postgres_statement_timeout_is_503_and_changes_nothing() {
    let db = TestDatabase::create();
    let server = pg_server(&db, "database_statement_timeout = \"1s\"\n");
    let api = server.admin();
    assert_eq!(
        api.put("/v1/secrets/pg/locked", json!({"data": {"v": "one"}}))
            .await
            .0,
        201
    );
    // Another session holds a lock on every secret row until told to let go.
    let mut holder = scaivault_testpeers::psql_command()
        .arg(&db.url)
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    let mut stdin = holder.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "BEGIN; LOCK TABLE secrets IN EXCLUSIVE MODE;\n\\echo locked"
    )
    .expect("send");
    let mut lines = BufReader::new(holder.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("locked"));

    let (status, body) = api
        .put("/v1/secrets/pg/locked", json!({"data": {"v": "two"}}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");

    writeln!(stdin, "COMMIT;").expect("send");
    drop(stdin);
    let _ = holder.wait();
    let (status, body) = api.get("/v1/secrets/pg/locked").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["v"], "one",
        "the timed-out write changed nothing"
    );
    assert_eq!(body["version"], 1);
    let (status, body) = api
        .put("/v1/secrets/pg/locked", json!({"data": {"v": "two"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
}

/// Every connection of the server is killed (`pg_terminate_backend`) several times during
/// concurrent writes and reads: requests caught in it fail with 503, every acknowledged write
/// is there with its value and a unique version, every served read is audited, the chain
/// verifies, and readiness is back without a restart.
#[tokio::test]
async fn postgres_connections_killed_mid_load_lose_nothing() {
    let db = TestDatabase::create();
    let server = pg_server(&db, "");
    let api = server.admin();
    assert_eq!(
        api.put("/v1/secrets/pg/read-me", json!({"data": {"v": "r"}}))
            .await
            .0,
        201
    );
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let served_reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..6 {
        let api = api.clone();
        let acked = acked.clone();
        let served_reads = served_reads.clone();
        let failed = failed.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let path = format!("pg/load{}", (w + i) % 4);
                let value = format!("w{w}-i{i}");
                let (status, body) = api
                    .send(
                        api.request(reqwest::Method::PUT, &format!("/v1/secrets/{path}"))
                            .timeout(Duration::from_secs(30))
                            // 240 writes over 4 paths: under the cap, so every version stays.
                            .json(&json!({"data": {"v": value}, "options": {"max_versions": 100}})),
                    )
                    .await;
                match status {
                    200 | 201 => {
                        let version = body["version"].as_u64().expect("version");
                        acked.lock().unwrap().push((path, version, value));
                    }
                    503 => {
                        assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");
                        failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    other => panic!("a write answered {other}: {body}"),
                }
                let (status, body) = api.get("/v1/secrets/pg/read-me").await;
                match status {
                    200 => {
                        served_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    503 => {
                        assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");
                        failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    other => panic!("a read answered {other}: {body}"),
                }
            }
        }));
    }
    // Kill every connection of the server, again and again, while the load runs.
    let kill = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = '{}' AND application_name = 'scaivault'",
        db.name()
    );
    let mut kills = 0;
    while !tasks.iter().all(|t| t.is_finished()) {
        // psql blocks: off the runtime's thread, so the load goes on meanwhile.
        let url = db.url.clone();
        let kill = kill.clone();
        tokio::task::spawn_blocking(move || crate::common::prod::psql(&url, &kill))
            .await
            .expect("psql");
        kills += 1;
    }
    for t in tasks {
        t.await.expect("writer");
    }

    assert!(
        failed.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "{kills} kills never hit a request: nothing was exercised"
    );
    // The next request commits (the pool replaced its killed connections), and readiness,
    // which follows failing requests, is back with it: no restart.
    let (status, body) = api
        .put("/v1/secrets/pg/after-load", json!({"data": {"v": "ok"}}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.anonymous().get("/health/ready").await;
    assert_eq!(status, 200, "ready again without a restart: {body}");
    let acked = acked.lock().unwrap().clone();
    let mut seen = std::collections::BTreeSet::new();
    for (path, version, value) in &acked {
        assert!(
            seen.insert((path.clone(), *version)),
            "version {version} of {path} twice"
        );
        let (status, body) = api
            .get(&format!("/v1/secrets/{path}?version={version}"))
            .await;
        assert_eq!(status, 200, "acknowledged {path} v{version} lost: {body}");
        assert_eq!(body["data"]["v"].as_str(), Some(value.as_str()));
    }
    let (status, body) = api
        .get("/v1/audit?action=read&outcome=success&path_prefix=pg/read-me&limit=500")
        .await;
    assert_eq!(status, 200, "{body}");
    let audited = body["entries"].as_array().map_or(0, Vec::len);
    let served = served_reads.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        audited >= served,
        "{served} reads served, {audited} audited"
    );
    eprintln!(
        "{kills} kills: {} of 240 writes acknowledged, {served} of 240 reads served, {audited} \
         audited, {} requests failed with 503",
        acked.len(),
        failed.load(std::sync::atomic::Ordering::SeqCst)
    );
    let (status, body) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["intact"], true, "{body}");
}
