//! `scaivault mcp` end to end: the official MCP Python SDK (`pip install mcp`) as the client,
//! over stdio and Streamable HTTP, against `scaivault mcp` in front of a real dev server. The
//! client script (tests/mcp/client.py) records everything it receives; the assertions are here.
//!
//! The Python SDK is required: without it these tests fail with the install command, they never
//! skip.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{BIN, Env, read_only_token};

const CLIENT_NAME: &str = "scaivault-mcp-test";
const CLIENT_VERSION: &str = "9.8.7";
/// The secret value the masked reads must never show.
const VALUE: &str = "MCP-hunter2-value";
/// A value written through MCP, which must never be echoed back.
const WRITTEN: &str = "MCP-written-s3cret";

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py")
}

fn expected_user_agent() -> String {
    format!(
        "scaivault-mcp/{} ({CLIENT_NAME}/{CLIENT_VERSION})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Fails (never skips) when the official SDK is not importable.
fn require_python_sdk() {
    let out = Command::new("python3")
        .args(["-c", "import mcp, jsonschema"])
        .output();
    let ok = out.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the MCP tests need the official MCP Python SDK: run `python3 -m pip install mcp` \
         ({out:?})"
    );
}

/// Runs the client script with `spec`; its JSON report and its raw stdout.
fn run_client(spec: Value) -> (Value, String) {
    require_python_sdk();
    let mut child = Command::new("python3")
        .arg(client_script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "MCP client failed ({:?}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stdout}\n{stderr}"));
    (report, stdout)
}

/// A stdio spec running `scaivault mcp <args>` with the env's URL and `token`.
fn stdio_spec(env: &Env, token: &str, args: &[&str], calls: Value) -> Value {
    let mut argv = vec!["mcp"];
    argv.extend(args);
    json!({
        "transport": "stdio",
        "command": BIN,
        "args": argv,
        "env": {
            "SCAIVAULT_URL": env.url,
            "SCAIVAULT_TOKEN": token,
            "HOME": env.home.path(),
        },
        "client_name": CLIENT_NAME,
        "client_version": CLIENT_VERSION,
        "calls": calls,
    })
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"tool": tool, "arguments": arguments})
}

fn tool_names(report: &Value) -> Vec<String> {
    report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[track_caller]
fn ok_result(result: &Value) -> &Value {
    assert!(
        result.get("exception").is_none(),
        "protocol failure: {result}"
    );
    assert_ne!(result["isError"], true, "tool error: {result}");
    &result["structuredContent"]
}

#[track_caller]
fn error_code(result: &Value) -> &str {
    assert!(
        result.get("exception").is_none(),
        "protocol failure instead of a tool error: {result}"
    );
    assert_eq!(result["isError"], true, "expected a tool error: {result}");
    result["structuredContent"]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {result}"))
}

fn setup_secrets(env: &Env) {
    env.write(
        "app/db",
        &[
            "username=admin",
            &format!("password={VALUE}"),
            "--description",
            "the app database",
        ],
    );
    env.write("app/api", &["key=k-1"]);
    env.write("other/x", &[&format!("token={VALUE}")]);
}

/// Audit entries (newest first) as the root token sees them.
fn audit_entries(env: &Env) -> Vec<scaivault_client::proto::audit::AuditEntry> {
    env.api(async |client| {
        let filter = scaivault_client::AuditFilter {
            limit: Some(500),
            ..Default::default()
        };
        client.audit_query(&filter).await.unwrap().entries
    })
}

/// Every tool, called once over stdio, with the checks of the issue: schemas, masking, values
/// never echoed, errors as tool errors, resources, and the audit trail naming the client.
#[test]
fn stdio_every_tool_masked_reads_and_the_audit_trail() {
    let env = Env::start();
    setup_secrets(&env);
    let calls = json!([
        call("whoami", json!({})),
        call("list_secrets", json!({"prefix": "app/"})),
        call("secret_metadata", json!({"path": "app/db"})),
        call("secret_versions", json!({"path": "app/db"})),
        call("read_secret", json!({"path": "app/db"})),
        call("read_secret", json!({"path": "app/db", "reveal": true})),
        call(
            "write_secret",
            json!({"path": "mcp/new", "data": {"api_key": WRITTEN},
                                    "metadata": {"description": "from MCP", "tags": ["mcp"]}})
        ),
        call(
            "patch_secret_metadata",
            json!({"path": "mcp/new", "metadata": {"owner": "agent"}})
        ),
        call(
            "rotate_secret",
            json!({"path": "mcp/new", "new_value": {"api_key": format!("{WRITTEN}-2")},
                                     "reason": "test", "grace_period": "1h"})
        ),
        call("delete_secret", json!({"path": "mcp/new"})),
        call("restore_secret", json!({"path": "mcp/new"})),
        call("expiring_secrets", json!({"days": 30})),
        call("audit_trail", json!({"path": "app/db"})),
        call(
            "test_policy",
            json!({"path": "app/db", "permission": "read"})
        ),
        call("rotation_due", json!({"within_hours": 24})),
        // API failures are tool errors with the API's code, never protocol errors.
        call("read_secret", json!({"path": "app/missing"})),
        call(
            "write_secret",
            json!({"path": "bad/../path", "data": {"k": VALUE}})
        ),
        call("write_secret", json!({"path": "mcp/typed", "data": VALUE})),
    ]);
    let mut spec = stdio_spec(&env, &env.token, &[], calls);
    spec["list_resources"] = json!(true);
    spec["read_resources"] = json!(["scaivault://secrets/app/db", "scaivault://secrets/app/nope"]);
    let (report, raw) = run_client(spec);

    // Initialize and the tool list.
    assert_eq!(report["initialize"]["serverInfo"]["name"], "scaivault-mcp");
    assert!(report["protocol_version"].is_string(), "{report}");
    assert!(report["initialize"]["capabilities"]["tools"].is_object());
    assert!(report["initialize"]["capabilities"]["resources"].is_object());
    assert_eq!(report["schema_problems"], json!({}), "invalid schemas");
    let names = tool_names(&report);
    assert_eq!(names.len(), 19, "{names:?}");
    for tool in report["tools"].as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        let hints = &tool["annotations"];
        let mutating = [
            "write_secret",
            "patch_secret_metadata",
            "delete_secret",
            "restore_secret",
            "rotate_secret",
            "issue_certificate",
            "dynamic_credentials",
            "revoke_lease",
        ]
        .contains(&tool["name"].as_str().unwrap());
        assert_eq!(hints["readOnlyHint"], !mutating, "{tool}");
        assert!(hints["destructiveHint"].is_boolean(), "{tool}");
        assert!(hints["idempotentHint"].is_boolean(), "{tool}");
    }
    let delete = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "delete_secret")
        .unwrap();
    assert_eq!(delete["annotations"]["destructiveHint"], true);

    let results = report["calls"].as_array().unwrap();
    let me = ok_result(&results[0]);
    assert!(me["identity_id"].is_string(), "{me}");
    let listed = ok_result(&results[1]);
    let paths: Vec<&str> = listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 2, "{listed}");
    assert!(paths.contains(&"app/db") && paths.contains(&"app/api"));
    assert_eq!(
        ok_result(&results[2])["metadata"]["description"],
        "the app database"
    );
    assert!(ok_result(&results[3])["versions"].is_array());

    // Masked: field names, fixed marker, not even with reveal: true (no --allow-reveal).
    for masked in [&results[4], &results[5]] {
        let read = ok_result(masked);
        assert_eq!(read["masked"], true, "{read}");
        assert_eq!(read["fields"], json!(["password", "username"]));
        assert_eq!(read["data"]["password"], "********");
        assert_eq!(read["data"]["username"], "********");
        assert!(!masked.to_string().contains(VALUE), "{masked}");
    }

    let written = ok_result(&results[6]);
    assert_eq!(written["path"], "mcp/new");
    assert_eq!(written["created"], true);
    assert_eq!(ok_result(&results[7])["metadata"]["owner"], "agent");
    let rotated = ok_result(&results[8]);
    assert_eq!(rotated["version"], 2);
    assert_eq!(rotated["previous_version"], 1);
    assert_eq!(ok_result(&results[9])["deleted"], true);
    assert_eq!(ok_result(&results[10])["restored"], true);
    assert!(ok_result(&results[11])["secrets"].is_array());
    assert!(ok_result(&results[12])["entries"].is_array());
    assert_eq!(ok_result(&results[13])["allowed"], true);
    assert!(ok_result(&results[14])["secrets"].is_array());
    assert_eq!(error_code(&results[15]), "secret_not_found");
    assert_eq!(error_code(&results[16]), "invalid_path");
    assert_eq!(error_code(&results[17]), "validation_error");
    assert!(
        results[15]["structuredContent"]["error"]["message"].is_string(),
        "{}",
        results[15]
    );

    // Resources: listed with metadata, read masked, template for paths.
    let resources = report["resources"]["resources"].as_array().unwrap();
    let uris: Vec<&str> = resources
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&"scaivault://secrets/app/db"), "{uris:?}");
    assert!(uris.contains(&"scaivault://secrets/other/x"), "{uris:?}");
    assert_eq!(
        report["resource_templates"]["resourceTemplates"][0]["uriTemplate"],
        "scaivault://secrets/{+path}"
    );
    let read = &report["resource_reads"][0];
    let text = read["contents"][0]["text"].as_str().unwrap();
    let doc: Value = serde_json::from_str(text).unwrap();
    assert_eq!(doc["fields"], json!(["password", "username"]));
    assert_eq!(doc["data"]["password"], "********");
    assert!(
        report["resource_reads"][1]["exception"]
            .as_str()
            .is_some_and(|e| e.contains("secret_not_found")),
        "{report}"
    );

    // Nothing the client received anywhere holds a secret value or a written value.
    assert!(!raw.contains(VALUE), "a value leaked: {raw}");
    assert!(!raw.contains(WRITTEN), "a written value was echoed: {raw}");

    // The server really has what MCP wrote.
    let out = env
        .run(&["secrets", "read", "mcp/new", "--field", "api_key"])
        .ok();
    assert_eq!(out.stdout.trim(), format!("{WRITTEN}-2"));

    // Every call is in the audit trail, naming the MCP client.
    let entries = audit_entries(&env);
    let ua = expected_user_agent();
    let by_mcp: Vec<_> = entries
        .iter()
        .filter(|e| e.user_agent.as_deref() == Some(ua.as_str()))
        .collect();
    for (action, path) in [
        ("list", None),
        ("read_metadata", Some("app/db")),
        ("list_versions", Some("app/db")),
        ("read", Some("app/db")),
        ("write", Some("mcp/new")),
        ("update", Some("mcp/new")),
        ("rotate", Some("mcp/new")),
        ("delete", Some("mcp/new")),
        ("restore", Some("mcp/new")),
        ("list_expiring", None),
        ("trail", Some("app/db")),
    ] {
        assert!(
            by_mcp
                .iter()
                .any(|e| e.action == action && (path.is_none() || e.path.as_deref() == path)),
            "no audit entry {action} {path:?} by {ua}; entries: {:#?}",
            entries
                .iter()
                .map(|e| (&e.action, &e.path, &e.user_agent))
                .collect::<Vec<_>>()
        );
    }
    assert!(
        by_mcp
            .iter()
            .any(|e| e.action == "read" && e.outcome != "success"),
        "the failed read is audited too"
    );
}

/// Certificates and dynamic credentials: an issued private key and a lease's credential are
/// masked like secret values (revealed only with `--allow-reveal` and `reveal: true`); lists
/// never carry them; API failures are tool errors with the API's code.
#[test]
fn certificate_and_dynamic_credential_tools_mask_keys() {
    let env = Env::start();
    let ca = env
        .run(&[
            "pki",
            "ca",
            "create",
            "--name",
            "mcp-ca",
            "--common-name",
            "MCP Test CA",
            "--json",
        ])
        .ok();
    let ca: Value = serde_json::from_str(&ca.stdout).unwrap();
    let ca_id = ca["id"].as_str().unwrap().to_owned();
    env.run(&["dynamic", "engines", "create", "ssh-mcp", "--type", "ssh"])
        .ok();
    env.run(&[
        "dynamic",
        "roles",
        "create",
        "ssh-mcp",
        "ops",
        "--allowed-users",
        "ops",
        "--default-user",
        "ops",
        "--default-ttl",
        "10m",
    ])
    .ok();
    let issue = |reveal: bool| {
        call(
            "issue_certificate",
            json!({"ca_id": ca_id, "common_name": "api.mcp.test", "sans": ["api.mcp.test"],
                   "ttl": "72h", "reveal": reveal}),
        )
    };
    let calls = |reveal: bool| {
        json!([
            issue(reveal),
            call("list_certificates", json!({"ca_id": ca_id})),
            call(
                "dynamic_credentials",
                json!({"engine": "ssh-mcp", "role": "ops", "reveal": reveal})
            ),
            call(
                "list_leases",
                json!({"engine": "ssh-mcp", "live_only": true})
            ),
            call(
                "dynamic_credentials",
                json!({"engine": "nope", "role": "ops"})
            ),
            call("revoke_lease", json!({"lease_id": "lease_nope"})),
        ])
    };

    // Without --allow-reveal: masked even when the call asks.
    let (report, raw) = run_client(stdio_spec(&env, &env.token, &[], calls(true)));
    let results = report["calls"].as_array().unwrap();
    let issued = ok_result(&results[0]);
    assert_eq!(issued["masked"], true, "{issued}");
    assert_eq!(issued["private_key"], "********");
    assert!(
        issued["certificate"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let listed = ok_result(&results[1]);
    assert_eq!(
        listed["certificates"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    let lease = ok_result(&results[2]);
    assert_eq!(lease["masked"], true, "{lease}");
    assert!(
        lease["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key")),
        "{lease}"
    );
    assert!(
        lease["data"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == "********"),
        "{lease}"
    );
    let lease_id = lease["lease_id"].as_str().unwrap().to_owned();
    let leases = ok_result(&results[3]);
    assert_eq!(leases["leases"][0]["id"], lease_id.as_str(), "{leases}");
    assert_eq!(error_code(&results[4]), "engine_not_found");
    assert_eq!(error_code(&results[5]), "lease_not_found");
    assert!(!raw.contains("PRIVATE KEY"), "a key leaked: {raw}");
    assert!(
        !raw.contains("-cert-v01@openssh.com"),
        "a signed key leaked: {raw}"
    );

    // With --allow-reveal and reveal: true, the key and the credential are returned; and a
    // lease can be revoked.
    let mut revealed_calls = calls(true);
    revealed_calls
        .as_array_mut()
        .unwrap()
        .push(call("revoke_lease", json!({"lease_id": lease_id})));
    let (report, raw) = run_client(stdio_spec(
        &env,
        &env.token,
        &["--allow-reveal"],
        revealed_calls,
    ));
    let results = report["calls"].as_array().unwrap();
    let issued = ok_result(&results[0]);
    assert_eq!(issued["masked"], false, "{issued}");
    assert!(
        issued["private_key"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let lease = ok_result(&results[2]);
    assert_eq!(lease["masked"], false, "{lease}");
    assert!(
        lease["data"]["signed_key"]
            .as_str()
            .unwrap()
            .contains("cert"),
        "{lease}"
    );
    assert!(raw.contains("PRIVATE KEY"));
    let revoked = ok_result(&results[6]);
    assert_eq!(revoked["id"], lease_id.as_str(), "{revoked}");
    assert_eq!(revoked["status"], "revoked", "{revoked}");

    // --read-only removes the issuing tools.
    let (report, _) = run_client(stdio_spec(
        &env,
        &env.token,
        &["--read-only"],
        json!([issue(false)]),
    ));
    let names = tool_names(&report);
    for tool in ["issue_certificate", "dynamic_credentials", "revoke_lease"] {
        assert!(
            !names.contains(&tool.to_owned()),
            "{tool} offered read-only: {names:?}"
        );
    }
    assert!(names.contains(&"list_certificates".to_owned()));
    assert_eq!(error_code(&report["calls"][0]), "access_denied");
}

/// `--allow-reveal` is the operator's permission; the call must still ask.
#[test]
fn reveal_needs_the_operator_flag_and_the_call() {
    let env = Env::start();
    setup_secrets(&env);
    let calls = json!([
        call("read_secret", json!({"path": "app/db"})),
        call("read_secret", json!({"path": "app/db", "reveal": true})),
    ]);
    let (report, raw) = run_client(stdio_spec(&env, &env.token, &["--allow-reveal"], calls));
    let results = report["calls"].as_array().unwrap();
    let masked = ok_result(&results[0]);
    assert_eq!(masked["masked"], true);
    assert!(!results[0].to_string().contains(VALUE), "{}", results[0]);
    let revealed = ok_result(&results[1]);
    assert_eq!(revealed["masked"], false);
    assert_eq!(revealed["data"]["password"], VALUE);
    assert!(raw.contains(VALUE));
}

/// `--read-only` removes the mutating tools (a call to one is an access error) and a read-only
/// token makes the server refuse the write; nothing is written either way.
#[test]
fn read_only_flag_and_read_only_token_write_nothing() {
    let env = Env::start();
    setup_secrets(&env);
    let write = || {
        call(
            "write_secret",
            json!({"path": "ro/x", "data": {"k": WRITTEN}}),
        )
    };

    let (report, raw) = run_client(stdio_spec(
        &env,
        &env.token,
        &["--read-only"],
        json!([write()]),
    ));
    let names = tool_names(&report);
    for absent in [
        "write_secret",
        "patch_secret_metadata",
        "delete_secret",
        "restore_secret",
        "rotate_secret",
    ] {
        assert!(!names.contains(&absent.to_owned()), "{names:?}");
    }
    assert!(names.contains(&"read_secret".to_owned()));
    assert!(
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["annotations"]["readOnlyHint"] == true)
    );
    assert_eq!(error_code(&report["calls"][0]), "access_denied");
    assert!(!raw.contains(WRITTEN));

    let token = read_only_token(&env);
    let (report, raw) = run_client(stdio_spec(&env, &token, &[], json!([write()])));
    assert!(tool_names(&report).contains(&"write_secret".to_owned()));
    assert_eq!(error_code(&report["calls"][0]), "access_denied");
    assert!(!raw.contains(WRITTEN));

    env.run(&["secrets", "read", "ro/x"])
        .fails_with(4, "Error: secret_not_found:");
}

/// `--paths` confines tools, lists and resources; a call outside never reaches the server.
#[test]
fn paths_confine_tools_lists_and_resources() {
    let env = Env::start();
    setup_secrets(&env);
    let before = audit_entries(&env).len();
    let calls = json!([
        call("list_secrets", json!({})),
        call("list_secrets", json!({"prefix": "other/"})),
        call("read_secret", json!({"path": "other/x"})),
        call("secret_metadata", json!({"path": "app/db"})),
        call(
            "write_secret",
            json!({"path": "other/new", "data": {"k": WRITTEN}})
        ),
        call("audit_trail", json!({"path": "other/x"})),
    ]);
    let mut spec = stdio_spec(&env, &env.token, &["--paths", "app/*"], calls);
    spec["list_resources"] = json!(true);
    spec["read_resources"] = json!(["scaivault://secrets/other/x"]);
    let (report, raw) = run_client(spec);
    let results = report["calls"].as_array().unwrap();
    let listed: Vec<&str> = ok_result(&results[0])["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|p| p.starts_with("app/")), "{listed:?}");
    assert_eq!(ok_result(&results[1])["secrets"], json!([]));
    assert_eq!(error_code(&results[2]), "access_denied");
    assert!(ok_result(&results[3])["path"] == "app/db");
    assert_eq!(error_code(&results[4]), "access_denied");
    assert_eq!(error_code(&results[5]), "access_denied");
    let uris: Vec<&str> = report["resources"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris.len(), 2, "{uris:?}");
    assert!(
        uris.iter()
            .all(|u| u.starts_with("scaivault://secrets/app/"))
    );
    assert!(
        report["resource_reads"][0]["exception"]
            .as_str()
            .is_some_and(|e| e.contains("access_denied")),
        "{report}"
    );
    assert!(!raw.contains(VALUE) && !raw.contains(WRITTEN));
    env.run(&["secrets", "read", "other/new"])
        .fails_with(4, "Error: secret_not_found:");
    // Refused calls never reached the server: no audit entry names other/ through MCP.
    let ua = expected_user_agent();
    let entries = audit_entries(&env);
    assert!(entries.len() > before);
    assert!(
        !entries
            .iter()
            .any(|e| e.user_agent.as_deref() == Some(ua.as_str())
                && e.path.as_deref().is_some_and(|p| p.starts_with("other/"))),
        "a confined call reached the server"
    );

    // An invalid glob is refused at start.
    let out = env.run(&["mcp", "--paths", "app/"]);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.contains("must not end with '/'"), "{out:?}");
}

/// `scaivault mcp --http` running until dropped.
struct HttpMcp {
    child: Child,
    url: String,
}

impl Drop for HttpMcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_http(env: &Env, args: &[&str]) -> HttpMcp {
    let mut cmd = env.authed();
    cmd.args(["mcp", "--http", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("scaivault mcp listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(30));
    let mut server = HttpMcp {
        child,
        url: String::new(),
    };
    server.url = url.unwrap_or_else(|_| panic!("scaivault mcp --http did not start"));
    server
}

/// Streamable HTTP: the same tools, masking and audit naming, per session.
#[test]
fn streamable_http_tools_masking_and_audit() {
    let env = Env::start();
    setup_secrets(&env);
    let server = start_http(&env, &["--paths", "app/**"]);
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    assert!(server.url.ends_with("/mcp"), "{}", server.url);
    let spec = json!({
        "transport": "http",
        "url": server.url,
        "client_name": CLIENT_NAME,
        "client_version": CLIENT_VERSION,
        "calls": [
            call("whoami", json!({})),
            call("read_secret", json!({"path": "app/db", "reveal": true})),
            call("write_secret", json!({"path": "app/http", "data": {"k": WRITTEN}})),
            call("read_secret", json!({"path": "other/x"})),
            call("read_secret", json!({"path": "app/nope"})),
        ],
        "list_resources": true,
    });
    let (report, raw) = run_client(spec);
    assert_eq!(report["initialize"]["serverInfo"]["name"], "scaivault-mcp");
    assert_eq!(report["schema_problems"], json!({}));
    assert_eq!(tool_names(&report).len(), 19);
    let results = report["calls"].as_array().unwrap();
    assert!(ok_result(&results[0])["identity_id"].is_string());
    assert_eq!(ok_result(&results[1])["data"]["password"], "********");
    assert_eq!(ok_result(&results[2])["version"], 1);
    assert_eq!(error_code(&results[3]), "access_denied");
    assert_eq!(error_code(&results[4]), "secret_not_found");
    assert!(!raw.contains(VALUE) && !raw.contains(WRITTEN), "{raw}");
    let ua = expected_user_agent();
    let entries = audit_entries(&env);
    for action in ["read", "write"] {
        assert!(
            entries
                .iter()
                .any(|e| e.action == action && e.user_agent.as_deref() == Some(ua.as_str())),
            "no {action} by {ua}"
        );
    }

    // A 2026-era client: no initialize, server/discover then stateless requests carrying
    // clientInfo in their _meta; the user agent still names it.
    let spec = json!({
        "transport": "http",
        "url": server.url,
        "negotiate": "discover",
        "client_name": "modern-agent",
        "client_version": "2026.7",
        "calls": [call("read_secret", json!({"path": "app/db"}))],
    });
    let (report, raw) = run_client(spec);
    assert_eq!(report["protocol_version"], "2026-07-28", "{report}");
    assert_eq!(ok_result(&report["calls"][0])["masked"], true);
    assert!(!raw.contains(VALUE));
    let modern_ua = format!(
        "scaivault-mcp/{} (modern-agent/2026.7)",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        audit_entries(&env)
            .iter()
            .any(|e| e.action == "read" && e.user_agent.as_deref() == Some(modern_ua.as_str())),
        "no read by {modern_ua}"
    );
    drop(server);

    // A non-loopback address needs --allow-remote.
    let out = env.run(&["mcp", "--http", "0.0.0.0:0"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("--allow-remote"), "{out:?}");
}

#[test]
fn mcp_help_has_examples() {
    let out = Env::offline().run_bare(&["mcp", "--help"]).ok();
    assert!(out.stdout.contains("Examples:\n  scaivault mcp"), "{out:?}");
    assert!(out.stdout.contains("mcpServers"), "{out:?}");
}
