//! `scaivault operator backup` / `restore`: an online snapshot of the embedded store, verified,
//! restored into place and served again.

use std::process::Command;

use serde_json::json;

use crate::common::BIN;
use crate::common::prod::ProdServer;

fn operator(args: &[&str], config: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .arg("operator")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[tokio::test]
async fn online_backup_restores_and_serves_again() {
    let mut server = ProdServer::start("");
    let config = server.dir.path().join("scaivault.toml");
    let admin = server.admin();
    for i in 0..5 {
        let (s, _) = admin
            .put(&format!("/v1/secrets/app/s{i}"), json!({"data": {"i": i}}))
            .await;
        assert_eq!(s, 201);
    }
    let snapshots = tempfile::tempdir().unwrap();
    let snapshot = snapshots.path().join("scaivault-backup.db");

    // Taken while the server runs and keeps serving.
    let out = operator(&["backup", "--output", snapshot.to_str().unwrap()], &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("verified") && said.contains("intact"),
        "{said}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&snapshot).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        admin
            .put("/v1/secrets/app/after", json!({"data": {"x": 1}}))
            .await
            .0,
        201
    );
    let again = operator(&["backup", "--output", snapshot.to_str().unwrap()], &config);
    assert!(
        !again.status.success(),
        "an existing snapshot is never overwritten"
    );

    // Restore refuses to replace a store without --force; with it, the snapshot is served.
    server.kill();
    let refused = operator(&["restore", "--input", snapshot.to_str().unwrap()], &config);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    let restored = operator(
        &["restore", "--input", snapshot.to_str().unwrap(), "--force"],
        &config,
    );
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let node = server.spawn_node();
    let api = node.client(&server.admin_token);
    for i in 0..5 {
        let (s, body) = api.get(&format!("/v1/secrets/app/s{i}")).await;
        assert_eq!(s, 200);
        assert_eq!(body["data"]["i"], i);
    }
    assert_eq!(
        api.get("/v1/secrets/app/after").await.0,
        404,
        "written after the snapshot"
    );
    let (_, report) = api.post("/v1/audit/verify", json!({})).await;
    assert_eq!(report["intact"], true, "{report}");
    drop(node);

    // A snapshot whose audit trail was edited is refused.
    let status = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(\"UPDATE audit_log SET action = 'read' WHERE chain_seq = 2\")\nc.commit()",
        ])
        .arg(&snapshot)
        .status()
        .unwrap();
    assert!(status.success());
    let refused = operator(
        &["restore", "--input", snapshot.to_str().unwrap(), "--force"],
        &config,
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("broken"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
