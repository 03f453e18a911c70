//! Retention on the dev test clock: audit entries past `audit_retention` (30 days by default)
//! move to compressed archive segments and leave the database, `audit verify` (API and CLI)
//! checks archive + database as one chain and names a damaged segment, queries over the
//! archived range say where it went; the outbox keeps only what a subscriber can still
//! receive; `/health/ready` warns when the disk runs low.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Api, BIN, TestServer};

const CLOCK: &str = "/v1/sys/test-clock";

async fn advance(api: &Api, by: &str) -> Value {
    let (s, body) = api.post(CLOCK, json!({ "advance": by })).await;
    assert_eq!(s, 200, "{body}");
    body
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().ends_with(".jsonl.zst"));
    out.sort();
    out
}

/// `scaivault audit verify` against the server: (exit code, stdout + stderr).
fn cli_verify(server: &TestServer) -> (i32, String) {
    cli(server, &["audit", "verify"])
}

/// A `scaivault` command against the server: (exit code, stdout + stderr).
fn cli(server: &TestServer, args: &[&str]) -> (i32, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(args)
        .env("HOME", home.path())
        .env("SCAIVAULT_URL", &server.base_url)
        .env("SCAIVAULT_TOKEN", &server.root_token)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn verify(api: &Api) -> Value {
    let (s, body) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(s, 200, "{body}");
    body
}

fn chain<'a>(report: &'a Value, tenant: &str) -> &'a Value {
    report["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tenant_id"] == tenant)
        .unwrap_or_else(|| panic!("no chain {tenant}: {report}"))
}

fn sqlite_count(server: &TestServer, table: &str) -> i64 {
    let db = server.data_dir().join("scaivault.db");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=30)\nprint(c.execute('SELECT COUNT(*) FROM ' + sys.argv[2]).fetchone()[0])",
        ])
        .arg(&db)
        .arg(table)
        .output()
        .expect("python3 is needed by the retention tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[tokio::test]
async fn audit_past_the_window_is_archived_pruned_and_still_verifies() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let (s, me) = api.get("/v1/auth/whoami").await;
    assert_eq!(s, 200, "{me}");
    let tenant = me["tenant_id"].as_str().unwrap().to_owned();
    let archive = server.data_dir().join("audit-archive").join(&tenant);

    let (s, body) = api
        .put(
            "/v1/secrets/ret/db",
            json!({"data": {"password": "hunter2"}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    for _ in 0..3 {
        let (s, body) = api.get("/v1/secrets/ret/db").await;
        assert_eq!(s, 200, "{body}");
    }
    let (_, before) = api.get("/v1/audit?resource_type=secret&limit=500").await;
    assert_eq!(before["entries"].as_array().unwrap().len(), 4, "{before}");
    assert!(
        before.get("archived").is_none(),
        "nothing archived yet: {before}"
    );

    // Inside the window nothing moves.
    let body = advance(&api, "29d").await;
    assert_eq!(body["audit_archived"], 0, "{body}");
    assert!(segments(&archive).is_empty());

    // Past it: archived, then gone from the database.
    let body = advance(&api, "2d").await;
    assert!(body["audit_archived"].as_u64().unwrap() >= 4, "{body}");
    let files = segments(&archive);
    assert_eq!(files.len(), 1, "{files:?}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files[0]), 0o600, "segments are the owner's only");
        assert_eq!(mode(&archive), 0o700);
    }
    let text =
        String::from_utf8(zstd::decode_all(std::fs::File::open(&files[0]).unwrap()).unwrap())
            .unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["format"], "scaivault-audit-archive-v1");
    assert_eq!(header["chain"], tenant.as_str());
    assert_eq!(header["first_chain_seq"], 1);
    assert!(text.contains("ret/db"));
    assert!(!text.contains("hunter2"), "no secret value in the archive");

    let (s, after) = api.get("/v1/audit?resource_type=secret&limit=500").await;
    assert_eq!(s, 200, "{after}");
    assert!(after["entries"].as_array().unwrap().is_empty(), "{after}");
    // The answer says the range reaches into the archive, and where.
    let locations = after["archived"]["locations"].as_array().unwrap();
    assert!(
        locations
            .iter()
            .any(|l| l.as_str().unwrap() == archive.display().to_string()),
        "{after}"
    );
    let (code, out) = cli(&server, &["audit", "query", "--resource-type", "secret"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("in the server's audit archive")
            && out.contains(&archive.display().to_string()),
        "{out}"
    );
    // A range inside the window says nothing of the archive.
    let now = advance(&api, "1s").await["now"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, recent) = api
        .get(&format!("/v1/audit?start={}", now.replace('+', "%2B")))
        .await;
    assert!(recent.get("archived").is_none(), "{recent}");

    // The archival is itself audited.
    let (_, archived) = api.get("/v1/audit?action=archive").await;
    let entries = archived["entries"].as_array().unwrap();
    assert!(!entries.is_empty(), "{archived}");
    assert_eq!(entries[0]["identity_id"], "system:retention");
    assert!(entries[0]["path"].as_str().unwrap().ends_with(".jsonl.zst"));

    // One chain over archive + database.
    let report = verify(&api).await;
    assert_eq!(report["intact"], true, "{report}");
    let mine = chain(&report, &tenant);
    assert!(mine["archive_segments"].as_u64().unwrap() >= 1, "{report}");
    assert!(mine["entries_checked"].as_u64().unwrap() >= 5, "{report}");
    let (code, out) = cli_verify(&server);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("archive segment"), "{out}");

    // New entries, a second segment.
    let (s, _) = api.get("/v1/secrets/ret/db").await;
    assert_eq!(s, 200);
    advance(&api, "31d").await;
    let files = segments(&archive);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(verify(&api).await["intact"], true);

    let original = std::fs::read(&files[0]).unwrap();
    let restore = || std::fs::write(&files[0], &original).unwrap();
    let rewrite = |f: &dyn Fn(&mut Vec<String>)| {
        let text = String::from_utf8(zstd::decode_all(original.as_slice()).unwrap()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        f(&mut lines);
        let text = lines.join("\n") + "\n";
        std::fs::write(&files[0], zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    };
    let segment_name = format!(
        "{tenant}/{}",
        files[0].file_name().unwrap().to_string_lossy()
    );
    let expect_break = |report: &Value, what: &str| {
        assert_eq!(report["intact"], false, "{what}: {report}");
        let mine = chain(report, &tenant);
        assert_eq!(mine["intact"], false, "{what}: {report}");
        mine["first_break"].as_str().unwrap().to_owned()
    };

    // Edited entry.
    rewrite(&|lines| lines[2] = lines[2].replace("\"read\"", "\"list\""));
    let report = verify(&api).await;
    let why = expect_break(&report, "edited");
    assert!(why.contains("altered"), "{why}");
    assert_eq!(
        chain(&report, &tenant)["archive_segment"],
        segment_name.as_str()
    );
    let (code, out) = cli_verify(&server);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN") && out.contains(&segment_name),
        "{out}"
    );

    // Reordered entries.
    rewrite(&|lines| lines.swap(1, 2));
    expect_break(&verify(&api).await, "reordered");
    // Truncated.
    rewrite(&|lines| {
        lines.pop();
    });
    let why = expect_break(&verify(&api).await, "truncated");
    assert!(why.contains("archive segment damaged"), "{why}");
    // Missing.
    std::fs::remove_file(&files[0]).unwrap();
    expect_break(&verify(&api).await, "first segment missing");
    let (code, out) = cli_verify(&server);
    assert_eq!(code, 1, "{out}");
    restore();
    let newest = std::fs::read(&files[1]).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    let why = expect_break(&verify(&api).await, "newest segment missing");
    assert!(why.contains("archive segments are missing"), "{why}");
    std::fs::write(&files[1], newest).unwrap();

    assert_eq!(verify(&api).await["intact"], true);
}

#[tokio::test]
async fn the_outbox_keeps_only_what_a_subscriber_can_receive() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();

    // No subscriber: the event is gone after the pruning pass.
    let (s, body) = api
        .put("/v1/secrets/out/a", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(sqlite_count(&server, "events"), 1);
    let body = advance(&api, "1m").await;
    assert!(body["events_pruned"].as_u64().unwrap() >= 1, "{body}");
    assert_eq!(sqlite_count(&server, "events"), 0);

    // A poll subscriber replays its events within the window.
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "replay", "paths": ["out/**"], "events": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let id = sub["id"].as_str().unwrap();
    let (s, _) = api
        .put("/v1/secrets/out/b", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(s, 201);
    advance(&api, "6d").await;
    let poll = format!("/v1/subscriptions/{id}/poll?wait=0s");
    let (s, body) = api.get(&poll).await;
    assert_eq!(s, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["path"], "out/b");
    // Past the replay window (7 days) it is pruned.
    advance(&api, "2d").await;
    let (_, body) = api.get(&poll).await;
    assert!(body["events"].as_array().unwrap().is_empty(), "{body}");
    assert_eq!(sqlite_count(&server, "events"), 0);
    // A new event still gets a fresh position, so held cursors never skip it.
    let (s, _) = api
        .put("/v1/secrets/out/c", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(s, 201);
    let (_, body) = api.get(&poll).await;
    assert_eq!(body["events"][0]["path"], "out/c", "{body}");
}

#[tokio::test]
async fn ready_warns_when_the_disk_runs_low() {
    let server = TestServer::start();
    let (s, body) = server.client().anonymous().get("/health/ready").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["checks"]["disk"], "ok", "{body}");

    let server = crate::common::prod::ProdServer::start("min_free_disk = \"100%\"\n");
    let (s, body) = server.admin().anonymous().get("/health/ready").await;
    assert_eq!(s, 200, "a warning, still ready: {body}");
    assert_eq!(body["status"], "ready");
    let disk = body["checks"]["disk"].as_str().unwrap();
    assert!(
        disk.starts_with("low: ") && disk.ends_with(" MiB free"),
        "{body}"
    );
}

#[tokio::test]
async fn operator_storage_reports_what_uses_the_space() {
    let server = crate::common::prod::ProdServer::start("");
    let api = server.admin();
    for i in 0..5 {
        let (s, body) = api
            .put(&format!("/v1/secrets/st/{i}"), json!({"data": {"k": "v"}}))
            .await;
        assert_eq!(s, 201, "{body}");
        let (s, _) = api.get(&format!("/v1/secrets/st/{i}")).await;
        assert_eq!(s, 200);
    }
    let config = server.dir.path().join("scaivault.toml");
    let out = Command::new(BIN)
        .args(["operator", "storage", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let audit = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "audit_log")
        .unwrap_or_else(|| panic!("{doc}"));
    assert!(audit["rows"].as_u64().unwrap() >= 10, "{doc}");
    assert!(audit["bytes"].as_u64().unwrap() > 0, "{doc}");
    assert!(doc["audit_bytes_per_entry"].as_u64().unwrap() > 0, "{doc}");
    assert!(
        doc["audit_entries_last_24h"].as_u64().unwrap() >= 10,
        "{doc}"
    );
    assert_eq!(doc["audit_retention"], "30d");
    assert!(doc["days_until_full"].as_u64().is_some(), "{doc}");

    let out = Command::new(BIN)
        .args(["operator", "storage", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for needle in [
        "audit_log",
        "Audit archive:",
        "per entry in the database",
        "audit_retention 30d",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

/// The newest outbox positions may be pruned; the next event still comes after them, in the
/// embedded store and after `operator migrate` to PostgreSQL (the sequence starts above the
/// pruned positions too).
#[tokio::test]
async fn pruned_outbox_positions_are_never_handed_out_again() {
    let mut server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let seqs = |server: &TestServer| -> String {
        let db = server.data_dir().join("scaivault.db");
        let out = Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=30)\nprint(' '.join(str(r[0]) for r in c.execute('SELECT seq FROM events ORDER BY seq')))",
            ])
            .arg(&db)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (s, _) = api
        .put("/v1/secrets/pos/a", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(seqs(&server), "1");
    advance(&api, "1m").await;
    assert_eq!(seqs(&server), "", "pruned: no subscriber");
    let (s, _) = api
        .put("/v1/secrets/pos/b", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(seqs(&server), "2", "not 1 again");
    advance(&api, "1m").await;
    assert_eq!(seqs(&server), "");

    if std::env::var("SCAIVAULT_TEST_DATABASE_URL").is_err() {
        return; // the PostgreSQL half needs a server
    }
    assert!(server.terminate());
    let db = crate::common::prod::TestDatabase::create();
    let data_dir = server.data_dir();
    let out = Command::new(BIN)
        .args(["operator", "migrate", "--from"])
        .arg(format!("sqlite:{}", data_dir.display()))
        .args(["--to", &db.url, "--root-key-file"])
        .arg(data_dir.join("dev-root.key"))
        .env_remove("SCAIVAULT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let last = scaivault_testpeers::psql_command()
        .arg(&db.url)
        .args(["-At", "-c", "SELECT last_value FROM events_seq"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&last.stdout).trim(), "2");
}
