//! End-to-end tests of the `scaivault` client commands: the built binary against a real dev
//! server (see `tests/common`), checking stdout, stderr and exit codes, including the CLI
//! reference page's `jq` pipelines verbatim.

// Test helpers outside `#[test]` functions fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
#[path = "../common/mod.rs"]
mod common;
mod dynamic;
mod mcp;
mod pki;
mod policies;
mod scaikey;
mod service_accounts;
mod subscriptions;
#[cfg(feature = "tpm")]
mod tpm;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::TestServer;
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_scaivault");

/// What a finished command left behind.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        self
    }

    #[track_caller]
    fn fails_with(self, code: i32, stderr_prefix: &str) -> Self {
        assert_eq!(self.code, code, "wrong exit code: {self:?}");
        assert!(
            self.stderr.starts_with(stderr_prefix),
            "stderr should start with {stderr_prefix:?}: {self:?}"
        );
        self
    }
}

/// A dev server plus an isolated HOME; commands run with SCAIVAULT_URL and SCAIVAULT_TOKEN set
/// (the CI pattern of the reference page) unless asked otherwise.
struct Env {
    _server: Option<TestServer>,
    url: String,
    token: String,
    home: TempDir,
}

impl Env {
    fn start() -> Self {
        let server = TestServer::start();
        Self {
            url: server.base_url.clone(),
            token: server.root_token.clone(),
            _server: Some(server),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// No server at all (config, help, completions, connection errors).
    fn offline() -> Self {
        Self {
            _server: None,
            url: "http://127.0.0.1:1".into(),
            token: "skt_offline".into(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// A command with a clean SCAIVAULT_* environment and HOME set to the temp dir.
    fn bare(&self) -> Command {
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd, self.home.path());
        cmd
    }

    fn authed(&self) -> Command {
        let mut cmd = self.bare();
        cmd.env("SCAIVAULT_URL", &self.url)
            .env("SCAIVAULT_TOKEN", &self.token);
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        let mut cmd = self.authed();
        cmd.args(args);
        finish(cmd, None)
    }

    fn run_as(&self, token: &str, args: &[&str]) -> Out {
        let mut cmd = self.authed();
        cmd.env("SCAIVAULT_TOKEN", token).args(args);
        finish(cmd, None)
    }

    fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        let mut cmd = self.authed();
        cmd.args(args);
        finish(cmd, Some(stdin))
    }

    fn run_bare(&self, args: &[&str]) -> Out {
        let mut cmd = self.bare();
        cmd.args(args);
        finish(cmd, None)
    }

    /// `bash -c script` with `scaivault` on PATH and the CI environment variables set.
    fn bash(&self, script: &str) -> Out {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut bash = Command::new("bash");
        clean_env(&mut bash, self.home.path());
        bash.env("PATH", path)
            .env("SCAIVAULT_URL", &self.url)
            .env("SCAIVAULT_TOKEN", &self.token)
            .current_dir(self.home.path())
            .arg("-c")
            .arg(script);
        finish(bash, None)
    }

    /// Runs `f` with a typed client authenticated as root (for fast setup).
    fn api<T>(&self, f: impl AsyncFnOnce(scaivault_client::Client) -> T) -> T {
        let client = scaivault_client::Client::new(&self.url)
            .unwrap()
            .with_token(self.token.clone());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f(client))
    }

    fn write(&self, path: &str, pairs: &[&str]) {
        let mut args = vec!["secrets", "write", path];
        args.extend(pairs);
        self.run(&args).ok();
    }
}

/// No inherited SCAIVAULT_* variables; HOME is the test's own directory.
fn clean_env(cmd: &mut Command, home: &Path) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SCAIVAULT_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", home).env("NO_COLOR", "1");
}

fn finish(mut cmd: Command, stdin: Option<&str>) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A token with only `secrets:read`, made with `POST /v1/auth/tokens`.
fn read_only_token(env: &Env) -> String {
    let created = env.api(async |client| {
        let request = scaivault_proto::auth::CreateTokenRequest {
            name: "ro".into(),
            scopes: vec!["secrets:read".into()],
            ttl: None,
        };
        client.create_token(&request).await.unwrap()
    });
    assert!(created.token.starts_with("skt_"), "{created:?}");
    assert_eq!(created.scopes, ["secrets:read"]);
    created.token
}

// ---------------------------------------------------------------------------------------------
// Without a server

#[test]
fn version_help_examples_and_completions() {
    let env = Env::offline();
    let out = env.run_bare(&["--version"]).ok();
    assert!(out.stdout.starts_with("scaivault "), "{out:?}");

    for cmd in [
        &["config", "set"][..],
        &["config", "get"],
        &["auth", "login"],
        &["auth", "whoami"],
        &["auth", "logout"],
        &["auth", "tokens", "create"],
        &["secrets", "read"],
        &["secrets", "write"],
        &["secrets", "list"],
        &["secrets", "delete"],
        &["secrets", "restore"],
        &["secrets", "versions"],
        &["secrets", "metadata"],
        &["secrets", "rotate"],
        &["secrets", "expiring"],
        &["secrets", "export"],
        &["secrets", "patch"],
        &["auth", "tokens", "list"],
        &["auth", "tokens", "revoke"],
        &["config", "unset"],
        &["status"],
        &["run"],
        &["completions"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(
            out.stdout.contains("Examples:\n  scaivault "),
            "{cmd:?} --help has no example: {out:?}"
        );
    }

    for shell in ["bash", "zsh", "fish"] {
        let out = env.run_bare(&["completions", shell]).ok();
        assert!(out.stdout.contains("scaivault"), "{shell}: {out:?}");
        assert!(out.stdout.contains("secrets"), "{shell}: {out:?}");
    }
    let checked = env.bash("scaivault completions bash > c.bash && bash -n c.bash && echo ok");
    assert_eq!(checked.ok().stdout, "ok\n");

    // Usage errors must not exit 2 (that means "auth").
    let out = env.run_bare(&["secrets", "frobnicate"]);
    assert_eq!(out.code, 1, "{out:?}");
    let out = env.run_bare(&["secrets", "write", "a", "k=v", "--type", "bogus"]);
    assert_eq!(out.code, 5, "{out:?}");
}

#[test]
fn config_file_is_private_and_env_overrides_it() {
    let env = Env::offline();
    let out = env
        .run_bare(&["config", "set", "base_url", "https://vault.example"])
        .ok();
    assert!(out.stdout.contains("Saved base_url"), "{out:?}");
    env.run_bare(&["config", "set", "tenant_id", "tnt_acme"])
        .ok();
    env.run_bare(&["config", "set", "token", "skt_from_config"])
        .ok();

    let file = env.home.path().join(".scaivault/config.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["base_url"], "https://vault.example");
    assert_eq!(stored["tenant_id"], "tnt_acme");
    assert_eq!(stored["token"], "skt_from_config");

    let out = env.run_bare(&["config", "get", "base_url"]).ok();
    assert_eq!(out.stdout, "https://vault.example\n");
    let mut cmd = env.bare();
    cmd.env("SCAIVAULT_URL", "http://override:1")
        .args(["config", "get", "base_url"]);
    assert_eq!(finish(cmd, None).ok().stdout, "http://override:1\n");

    // Listing all keys masks the token.
    let out = env.run_bare(&["config", "get"]).ok();
    assert!(out.stdout.contains("base_url"), "{out:?}");
    assert!(!out.stdout.contains("skt_from_config"), "{out:?}");
    let all = env.run_bare(&["config", "get", "--json"]).ok().json();
    assert_eq!(all["tenant_id"], "tnt_acme");
    assert_ne!(all["token"], "skt_from_config");

    env.run_bare(&["config", "unset", "tenant_id"]).ok();
    env.run_bare(&["config", "get", "tenant_id"])
        .fails_with(4, "Error: config_not_set:");
    env.run_bare(&["config", "set", "colour", "blue"])
        .fails_with(5, "error: invalid value 'colour'");
    env.run_bare(&["config", "set", "base_url", "not a url"])
        .fails_with(5, "Error: validation_error:");
    // Default when nothing is configured anywhere.
    let fresh = Env::offline();
    assert_eq!(
        fresh.run_bare(&["config", "get", "base_url"]).ok().stdout,
        "http://127.0.0.1:8200\n"
    );
}

#[test]
fn connection_refused_and_not_authenticated_give_the_page_hints() {
    let env = Env::offline();
    let out = env
        .run(&["secrets", "read", "app/db"])
        .fails_with(1, "Error: connection_failed:");
    assert!(
        out.stderr.contains(
            "Connection refused. Check `scaivault config get base_url` and try curl -s \"http://127.0.0.1:1/v1/health\""
        ),
        "{out:?}"
    );
    let out = env
        .run_bare(&["secrets", "list"])
        .fails_with(2, "Error: authentication_required:");
    assert!(
        out.stderr.contains(
            "Not authenticated. Run `scaivault auth login --token <token>` or set SCAIVAULT_TOKEN."
        ),
        "{out:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Against a dev server

#[test]
fn auth_login_whoami_logout() {
    let env = Env::start();
    let mut set = env.bare();
    set.args(["config", "set", "base_url", &env.url]);
    finish(set, None).ok();

    // A wrong token is refused (exit 2) and not stored.
    let out = env
        .run_bare(&["auth", "login", "--token", "skt_wrong"])
        .fails_with(2, "Error: authentication_required:");
    assert!(out.stderr.contains("Not authenticated."), "{out:?}");
    assert!(
        !env.home.path().join(".scaivault/config.json").exists() || {
            let text =
                std::fs::read_to_string(env.home.path().join(".scaivault/config.json")).unwrap();
            !text.contains("skt_wrong")
        }
    );

    let out = env.run_bare(&["auth", "login", "--token", &env.token]).ok();
    assert!(out.stdout.starts_with("Logged in to "), "{out:?}");
    assert!(!out.stdout.contains(&env.token), "token echoed: {out:?}");

    // No env vars: the stored config is enough.
    let out = env.run_bare(&["auth", "whoami"]).ok();
    assert!(out.stdout.starts_with("Identity"), "{out:?}");
    assert!(out.stdout.contains("secrets:read"), "{out:?}");
    let me = env.run_bare(&["auth", "whoami", "--json"]).ok().json();
    for key in [
        "identity_id",
        "identity_type",
        "tenant_id",
        "partner_id",
        "scopes",
    ] {
        assert!(me.get(key).is_some(), "{key} missing in {me}");
    }
    let scopes = env
        .bash("scaivault auth whoami --json | jq -r '.scopes[]'")
        .ok();
    assert!(
        scopes.stdout.lines().any(|s| s == "secrets:write"),
        "{scopes:?}"
    );

    // --token - reads stdin.
    let mut login = env.bare();
    login.args(["auth", "login", "--token", "-"]);
    finish(login, Some(&format!("{}\n", env.token))).ok();

    let out = env.run_bare(&["auth", "logout"]).ok();
    assert!(out.stdout.contains("Logged out"), "{out:?}");
    env.run_bare(&["auth", "whoami"])
        .fails_with(2, "Error: authentication_required: Not authenticated.");
}

#[test]
fn bad_token_exits_2() {
    let env = Env::start();
    let out = env
        .run_as("skt_definitely_not_valid", &["secrets", "read", "app/db"])
        .fails_with(2, "Error: authentication_required:");
    assert!(out.stdout.is_empty());
    env.run_as("skt_definitely_not_valid", &["secrets", "list"])
        .fails_with(2, "Error: authentication_required:");
}

#[test]
fn forbidden_exits_3() {
    let env = Env::start();
    env.write("app/shared", &["k=v"]);
    let ro = read_only_token(&env);
    let out = env
        .run_as(&ro, &["secrets", "write", "app/shared", "k=other"])
        .fails_with(3, "Error: access_denied:");
    assert!(out.stderr.contains("scaivault auth whoami"), "{out:?}");
    assert_eq!(
        env.run_as(&ro, &["secrets", "read", "app/shared", "--field", "k"])
            .ok()
            .stdout,
        "v\n"
    );
    env.run_as(&ro, &["secrets", "delete", "app/shared"])
        .fails_with(3, "Error: access_denied:");
}

#[test]
fn missing_secret_exits_4_and_invalid_path_exits_5() {
    let env = Env::start();
    env.run(&["secrets", "read", "does/not/exist"])
        .fails_with(4, "Error: secret_not_found:");
    env.run(&["secrets", "versions", "does/not/exist"])
        .fails_with(4, "Error: secret_not_found:");
    env.run(&["secrets", "metadata", "does/not/exist"])
        .fails_with(4, "Error: secret_not_found:");
    env.run(&["secrets", "delete", "does/not/exist"])
        .fails_with(4, "Error: secret_not_found:");

    env.run(&["secrets", "write", "a/../b", "k=v"])
        .fails_with(5, "Error: invalid_path:");
    env.run(&["secrets", "read", "a/../b"])
        .fails_with(5, "Error: invalid_path:");
    // Rejected by the server rather than the client.
    env.run(&["secrets", "write", "a//b", "k=v"])
        .fails_with(5, "Error: invalid_path:");

    env.write("app/v", &["k=v"]);
    env.run(&["secrets", "read", "app/v", "--version", "9"])
        .fails_with(4, "Error: version_not_found:");
    env.run(&["secrets", "read", "app/v", "--field", "nope"])
        .fails_with(4, "Error: field_not_found:");
}

#[test]
fn write_read_versions_metadata() {
    let env = Env::start();
    let out = env
        .run(&[
            "secrets",
            "write",
            "app/db/credentials",
            "username=admin",
            "password=s3cret",
        ])
        .ok();
    assert_eq!(out.stdout, "Created app/db/credentials (version 1)\n");

    // --field: the value and a newline, nothing else.
    let out = env
        .run(&[
            "secrets",
            "read",
            "app/db/credentials",
            "--field",
            "password",
        ])
        .ok();
    assert_eq!(out.stdout, "s3cret\n");
    assert!(out.stderr.is_empty(), "{out:?}");

    // Human output: metadata block then a KEY/VALUE table.
    let out = env.run(&["secrets", "read", "app/db/credentials"]).ok();
    assert!(
        out.stdout
            .starts_with("Path     app/db/credentials\nVersion  1\nType     kv\n"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("KEY       VALUE\npassword  s3cret\nusername  admin\n"),
        "{out:?}"
    );

    // --json: the API's document.
    let doc = env
        .run(&["secrets", "read", "app/db/credentials", "--json"])
        .ok()
        .json();
    assert_eq!(doc["path"], "app/db/credentials");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["data"]["username"], "admin");

    let out = env
        .run(&[
            "secrets",
            "write",
            "app/db/credentials",
            "username=admin",
            "password=n3w",
        ])
        .ok();
    assert_eq!(
        out.stdout,
        "Updated app/db/credentials: version 2 (previous 1)\n"
    );
    assert_eq!(
        env.run(&[
            "secrets",
            "read",
            "app/db/credentials",
            "--version",
            "1",
            "--field",
            "password"
        ])
        .ok()
        .stdout,
        "s3cret\n"
    );
    assert_eq!(
        env.run(&[
            "secrets",
            "read",
            "app/db/credentials",
            "--field",
            "password"
        ])
        .ok()
        .stdout,
        "n3w\n"
    );

    let out = env.run(&["secrets", "versions", "app/db/credentials"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("VERSION"), "{out:?}");
    assert!(
        lines[1].starts_with("2 ") && lines[1].contains(" yes"),
        "{out:?}"
    );
    assert!(
        lines[2].starts_with("1 ") && lines[2].contains(" no"),
        "{out:?}"
    );
    let versions = env
        .run(&["secrets", "versions", "app/db/credentials", "--json"])
        .ok()
        .json();
    assert_eq!(versions["versions"][0]["version"], 2);
    assert_eq!(versions["versions"][0]["is_current"], true);

    let out = env.run(&["secrets", "metadata", "app/db/credentials"]).ok();
    assert!(out.stdout.contains("Current version  2"), "{out:?}");
    assert!(
        !out.stdout.contains("n3w"),
        "metadata shows a value: {out:?}"
    );
    let meta = env
        .run(&["secrets", "metadata", "app/db/credentials", "--json"])
        .ok()
        .json();
    assert_eq!(meta["current_version"], 2);
    assert_eq!(meta["version_count"], 2);

    // patch: metadata only, no new version.
    let out = env
        .run(&[
            "secrets",
            "patch",
            "app/db/credentials",
            "--tag",
            "postgres",
            "--tag",
            "prod",
            "--description",
            "PG",
        ])
        .ok();
    assert!(
        out.stdout.contains("Tags             postgres, prod"),
        "{out:?}"
    );
    let meta = env
        .run(&["secrets", "metadata", "app/db/credentials", "--json"])
        .ok()
        .json();
    assert_eq!(meta["current_version"], 2);
    assert_eq!(
        meta["metadata"]["tags"],
        serde_json::json!(["postgres", "prod"])
    );
}

#[test]
fn write_from_files_stdin_types_and_expiry() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"feature_flags":{"beta":true},"replicas":3}"#).unwrap();

    // The page's --type json --json-file example.
    let out = env
        .run(&[
            "secrets",
            "write",
            "app/config",
            "--type",
            "json",
            "--json-file",
            config.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(out.stdout, "Created app/config (version 1)\n");
    let doc = env
        .run(&["secrets", "read", "app/config", "--json"])
        .ok()
        .json();
    assert_eq!(doc["secret_type"], "json");
    assert_eq!(doc["data"]["feature_flags"]["beta"], true);
    assert_eq!(doc["data"]["replicas"], 3);
    assert_eq!(
        env.run(&["secrets", "read", "app/config", "--field", "feature_flags"])
            .ok()
            .stdout,
        "{\"beta\":true}\n"
    );

    // --json-file - and key=- read stdin.
    env.run_stdin(
        &["secrets", "write", "app/stdin-json", "--json-file", "-"],
        r#"{"a":"b"}"#,
    )
    .ok();
    assert_eq!(
        env.run(&["secrets", "read", "app/stdin-json", "--field", "a"])
            .ok()
            .stdout,
        "b\n"
    );
    env.run_stdin(
        &[
            "secrets",
            "write",
            "app/stdin-value",
            "user=u",
            "password=-",
        ],
        "from stdin\n",
    )
    .ok();
    assert_eq!(
        env.run(&["secrets", "read", "app/stdin-value", "--field", "password"])
            .ok()
            .stdout,
        "from stdin\n"
    );

    // The page's --expires-in example; write --json is the API's response.
    let written = env
        .run(&[
            "secrets",
            "write",
            "app/api-key",
            "key=abc",
            "--expires-in",
            "30d",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(written["created"], true);
    assert_eq!(written["version"], 1);
    assert!(written["expires_at"].is_string(), "{written}");
    let doc = env
        .run(&["secrets", "read", "app/api-key", "--json"])
        .ok()
        .json();
    assert_eq!(doc["expires_at"], written["expires_at"]);

    // Client-side validation: exit 5, and nothing about the values on stderr.
    env.run(&["secrets", "write", "app/x"])
        .fails_with(5, "Error: validation_error:");
    let out = env
        .run(&[
            "secrets",
            "write",
            "app/x",
            "user=u",
            "s3cret-typed-without-key",
        ])
        .fails_with(5, "Error: validation_error:");
    assert!(!out.stderr.contains("s3cret"), "value echoed: {out:?}");
    std::fs::write(&config, "[1,2]").unwrap();
    env.run(&[
        "secrets",
        "write",
        "app/x",
        "--json-file",
        config.to_str().unwrap(),
    ])
    .fails_with(5, "Error: validation_error:");
    // Server-side validation: a bad duration.
    env.run(&["secrets", "write", "app/x", "k=v", "--expires-in", "soon"])
        .fails_with(5, "Error: validation_error:");
}

#[test]
fn list_prefix_limit_and_the_page_jq_recipe() {
    let env = Env::start();
    for i in 0..5 {
        env.write(&format!("environments/production/svc{i}"), &["k=v"]);
    }
    env.write("environments/staging/svc", &["k=v"]);

    // Verbatim from the page.
    let out = env
        .bash("scaivault secrets list --json | jq -r '.secrets[].path'")
        .ok();
    let mut paths: Vec<&str> = out.stdout.lines().collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "environments/production/svc0",
            "environments/production/svc1",
            "environments/production/svc2",
            "environments/production/svc3",
            "environments/production/svc4",
            "environments/staging/svc",
        ]
    );

    let out = env
        .run(&[
            "secrets",
            "list",
            "--prefix",
            "environments/production/",
            "--limit",
            "3",
            "--json",
        ])
        .ok();
    let page = out.json();
    assert_eq!(page["secrets"].as_array().unwrap().len(), 3);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["total_count"], 5);

    let out = env
        .run(&[
            "secrets",
            "list",
            "--prefix",
            "environments/production/",
            "--limit",
            "3",
        ])
        .ok();
    assert_eq!(out.stdout.lines().count(), 4, "{out:?}");
    assert!(out.stdout.starts_with("PATH"), "{out:?}");
    assert!(out.stderr.contains("Showing 3 of 5"), "{out:?}");

    let out = env.run(&["secrets", "list", "--prefix", "nothing/"]).ok();
    assert_eq!(out.stdout, "No secrets found.\n");
}

#[test]
fn list_follows_cursors_across_pages() {
    let env = Env::start();
    // More than one server page (max 200), written through the typed client.
    env.api(async |client| {
        for i in 0..205 {
            let mut data = serde_json::Map::new();
            data.insert("i".into(), Value::from(i.to_string()));
            let request = scaivault_proto::secrets::WriteSecretRequest {
                data,
                secret_type: None,
                metadata: None,
                options: None,
            };
            client
                .write_secret(&format!("bulk/s{i:03}"), &request)
                .await
                .unwrap();
        }
    });
    let all = env
        .run(&["secrets", "list", "--prefix", "bulk/", "--json"])
        .ok()
        .json();
    let items = all["secrets"].as_array().unwrap();
    assert_eq!(items.len(), 205);
    assert_eq!(all["has_more"], false);
    let mut seen: Vec<&str> = items.iter().map(|s| s["path"].as_str().unwrap()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 205);

    let some = env
        .run(&[
            "secrets", "list", "--prefix", "bulk/", "--limit", "202", "--json",
        ])
        .ok()
        .json();
    assert_eq!(some["secrets"].as_array().unwrap().len(), 202);
    assert_eq!(some["has_more"], true);

    let table = env.run(&["secrets", "list", "--prefix", "bulk/"]).ok();
    assert_eq!(table.stdout.lines().count(), 206);
}

#[test]
fn delete_restore_hard_and_version() {
    let env = Env::start();
    env.write("app/old", &["k=1"]);
    env.write("app/old", &["k=2"]);

    let out = env.run(&["secrets", "delete", "app/old"]).ok();
    assert!(out.stdout.starts_with("Deleted app/old"), "{out:?}");
    env.run(&["secrets", "read", "app/old"])
        .fails_with(4, "Error: secret_not_found:");
    // Soft-deleted paths cannot be overwritten until restored or purged.
    let out = env
        .run(&["secrets", "write", "app/old", "k=3"])
        .fails_with(1, "Error: secret_exists:");
    assert!(
        out.stderr.contains("scaivault secrets restore app/old"),
        "{out:?}"
    );

    let out = env.run(&["secrets", "restore", "app/old"]).ok();
    assert_eq!(out.stdout, "Restored app/old (current version 2)\n");
    assert_eq!(
        env.run(&["secrets", "read", "app/old", "--field", "k"])
            .ok()
            .stdout,
        "2\n"
    );

    let out = env
        .run(&["secrets", "delete", "app/old", "--version", "1"])
        .ok();
    assert_eq!(out.stdout, "Deleted version 1 of app/old\n");
    env.run(&["secrets", "read", "app/old", "--version", "1"])
        .fails_with(4, "Error: version_not_found:");

    // The page's example.
    let out = env.run(&["secrets", "delete", "app/old", "--hard"]).ok();
    assert_eq!(out.stdout, "Permanently deleted app/old\n");
    env.run(&["secrets", "restore", "app/old"])
        .fails_with(4, "Error: secret_not_found:");
    env.write("app/old", &["k=fresh"]);
    env.run(&["secrets", "delete", "app/old", "--hard", "--version", "1"])
        .fails_with(1, "error: the argument '--hard' cannot be used with");
}

#[test]
fn rotate_keeps_the_old_version_for_the_grace_period() {
    let env = Env::start();
    env.write("app/db/credentials", &["username=admin", "password=old"]);
    let out = env
        .run(&[
            "secrets",
            "rotate",
            "app/db/credentials",
            "username=admin",
            "password=new",
            "--reason",
            "Suspected compromise",
            "--grace-period",
            "1h",
        ])
        .ok();
    assert!(
        out.stdout
            .starts_with("Rotated app/db/credentials: version 1 -> 2"),
        "{out:?}"
    );
    assert_eq!(
        env.run(&[
            "secrets",
            "read",
            "app/db/credentials",
            "--field",
            "password"
        ])
        .ok()
        .stdout,
        "new\n"
    );
    assert_eq!(
        env.run(&[
            "secrets",
            "read",
            "app/db/credentials",
            "--version",
            "1",
            "--field",
            "password"
        ])
        .ok()
        .stdout,
        "old\n"
    );
    let rotated = env
        .run_stdin(
            &[
                "secrets",
                "rotate",
                "app/db/credentials",
                "--json-file",
                "-",
                "--json",
            ],
            r#"{"password":"newer"}"#,
        )
        .ok()
        .json();
    assert_eq!(rotated["version"], 3);
    assert_eq!(rotated["previous_version"], 2);
    // Without a new value and without a generator the server refuses.
    env.run(&["secrets", "rotate", "app/db/credentials"])
        .fails_with(5, "Error: validation_error:");
}

#[test]
fn expiring_and_the_page_jq_recipe() {
    let env = Env::start();
    env.write(
        "environments/production/soon",
        &["k=v", "--expires-in", "10d"],
    );
    env.write(
        "environments/production/later",
        &["k=v", "--expires-in", "60d"],
    );
    env.write("other/soon", &["k=v", "--expires-in", "3d"]);
    env.write("environments/production/never", &["k=v"]);

    let soon = env
        .run(&["secrets", "read", "environments/production/soon", "--json"])
        .ok()
        .json();
    let other = env
        .run(&["secrets", "read", "other/soon", "--json"])
        .ok()
        .json();

    // Verbatim from the page.
    let out = env
        .bash(
            "scaivault secrets expiring --days 14 --json \\\n  | jq -r '.secrets[] | \"\\(.path) expires \\(.expires_at)\"' \\\n  | sort",
        )
        .ok();
    assert_eq!(
        out.stdout,
        format!(
            "environments/production/soon expires {}\nother/soon expires {}\n",
            soon["expires_at"].as_str().unwrap(),
            other["expires_at"].as_str().unwrap()
        )
    );

    // The page's --days/--prefix example, human output.
    let out = env
        .run(&[
            "secrets",
            "expiring",
            "--days",
            "30",
            "--prefix",
            "environments/production/",
        ])
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].starts_with("PATH") && lines[0].contains("DAYS LEFT"),
        "{out:?}"
    );
    assert!(
        lines[1].starts_with("environments/production/soon "),
        "{out:?}"
    );
    assert!(lines[1].trim_end().ends_with(" 10"), "{out:?}");

    let out = env.run(&["secrets", "expiring", "--days", "1"]).ok();
    assert_eq!(out.stdout, "No secrets expire within 1 days.\n");
}

#[test]
fn ci_cd_pattern_from_the_page() {
    let env = Env::start();
    env.write("app/db/prod", &["username=ci-user", "password=p@ss w'rd"]);
    let out = env
        .bash(
            r#"
set -euo pipefail
# Read JSON and export specific fields
creds=$(scaivault secrets read app/db/prod --json)
export DB_USER=$(echo "$creds" | jq -r '.data.username')
export DB_PASS=$(echo "$creds" | jq -r '.data.password')
printf '%s|%s\n' "$DB_USER" "$DB_PASS"
"#,
        )
        .ok();
    assert_eq!(out.stdout, "ci-user|p@ss w'rd\n");
}

#[test]
fn run_injects_fields_into_the_child_only() {
    let env = Env::start();
    env.write(
        "app/db",
        &["username=admin", "password=s3cret", "db-host=db.internal"],
    );
    env.write("app/api", &["api_key=k1", "password=override"]);

    let out = env
        .bash(
            r#"scaivault run --path app/db -- sh -c 'echo "child:$USERNAME:$PASSWORD:$DB_HOST"'
echo "parent:${USERNAME:-unset}:${PASSWORD:-unset}""#,
        )
        .ok();
    assert_eq!(
        out.stdout,
        "child:admin:s3cret:db.internal\nparent:unset:unset\n"
    );

    // Later paths override earlier ones, with a warning that names no value.
    let out = env
        .run(&[
            "run",
            "--path",
            "app/db",
            "--path",
            "app/api",
            "--",
            "sh",
            "-c",
            "echo $PASSWORD $API_KEY",
        ])
        .ok();
    assert_eq!(out.stdout, "override k1\n");
    assert!(
        out.stderr
            .contains("PASSWORD from app/api overrides PASSWORD from app/db"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("s3cret"), "{out:?}");

    // The child's exit code is ours.
    let out = env.run(&["run", "--path", "app/db", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.code, 7, "{out:?}");
    env.run(&["run", "--path", "app/missing", "--", "true"])
        .fails_with(4, "Error: secret_not_found:");
    let out = env.run(&["run", "--path", "app/db", "--", "no-such-command-xyz"]);
    assert_eq!(out.code, 127, "{out:?}");
    env.run(&["run", "--path", "app/db"])
        .fails_with(1, "error:");
}

#[test]
fn export_env_json_yaml() {
    let env = Env::start();
    env.write("ex/db", &["username=admin", "password=it's a $secret"]);
    env.write("ex/api", &["api-key=abc123"]);
    env.write("elsewhere/x", &["nope=1"]);

    let out = env
        .run(&["secrets", "export", "--prefix", "ex/", "--format", "env"])
        .ok();
    assert_eq!(
        out.stdout,
        "API_KEY=abc123\nPASSWORD='it'\\''s a $secret'\nUSERNAME=admin\n"
    );
    // The env format round-trips through a shell.
    let sourced = env
        .bash(r#"eval "$(scaivault secrets export --prefix ex/ --format env)"; printf '%s\n' "$PASSWORD""#)
        .ok();
    assert_eq!(sourced.stdout, "it's a $secret\n");

    let json = env
        .run(&["secrets", "export", "--prefix", "ex/", "--format", "json"])
        .ok()
        .json();
    assert_eq!(
        json,
        serde_json::json!({
            "ex/api": {"api-key": "abc123"},
            "ex/db": {"password": "it's a $secret", "username": "admin"}
        })
    );

    let yaml = env
        .run(&["secrets", "export", "--prefix", "ex/", "--format", "yaml"])
        .ok();
    assert_eq!(
        yaml.stdout,
        "\"ex/api\":\n  \"api-key\": \"abc123\"\n\"ex/db\":\n  \"password\": \"it's a $secret\"\n  \"username\": \"admin\"\n"
    );
}

#[test]
fn debug_output_redacts_tokens_and_values() {
    let env = Env::start();
    let mut cmd = env.authed();
    cmd.env("SCAIVAULT_DEBUG", "1")
        .args(["secrets", "write", "app/dbg", "password=hunter2-value"]);
    let out = finish(cmd, None).ok();
    assert!(out.stderr.contains("[debug] > PUT "), "{out:?}");
    assert!(out.stderr.contains("/v1/secrets/app/dbg"), "{out:?}");
    assert!(
        out.stderr.contains("authorization: Bearer [REDACTED]"),
        "{out:?}"
    );
    assert!(out.stderr.contains("[debug] < 201"), "{out:?}");
    assert!(!out.stderr.contains("hunter2-value"), "{out:?}");
    assert!(!out.stderr.contains(&env.token), "{out:?}");

    let mut cmd = env.authed();
    cmd.env("SCAIVAULT_DEBUG", "1")
        .args(["secrets", "read", "app/dbg", "--field", "password"]);
    let out = finish(cmd, None).ok();
    assert_eq!(out.stdout, "hunter2-value\n");
    assert!(out.stderr.contains("[debug] < 200"), "{out:?}");
    assert!(
        out.stderr.contains("\"password\":\"[REDACTED]\""),
        "{out:?}"
    );
    assert!(!out.stderr.contains("hunter2-value"), "{out:?}");

    let mut cmd = env.authed();
    cmd.env("SCAIVAULT_DEBUG", "1").args([
        "auth",
        "tokens",
        "create",
        "--name",
        "dbg",
        "--scopes",
        "secrets:read",
    ]);
    let out = finish(cmd, None).ok();
    let token = out.stdout.trim();
    assert!(token.starts_with("skt_"), "{out:?}");
    assert!(!out.stderr.contains(token), "{out:?}");
}

#[test]
fn personal_tokens_create_list_revoke() {
    let env = Env::start();
    let out = env
        .run(&[
            "auth",
            "tokens",
            "create",
            "--name",
            "ci-readonly",
            "--scopes",
            "secrets:read",
            "--ttl",
            "1d",
        ])
        .ok();
    let token = out.stdout.trim().to_string();
    assert!(token.starts_with("skt_"), "{out:?}");
    assert!(out.stderr.contains("shown only once"), "{out:?}");

    let me = env
        .run_as(&token, &["auth", "whoami", "--json"])
        .ok()
        .json();
    assert_eq!(me["scopes"], serde_json::json!(["secrets:read"]));

    let listed = env.run(&["auth", "tokens", "list", "--json"]).ok().json();
    let id = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci-readonly")
        .map(|t| t["id"].as_str().unwrap().to_string())
        .unwrap();
    let table = env.run(&["auth", "tokens", "list"]).ok();
    assert!(table.stdout.contains(&id), "{table:?}");
    assert!(!table.stdout.contains(&token), "{table:?}");

    let out = env.run(&["auth", "tokens", "revoke", &id]).ok();
    assert_eq!(out.stdout, format!("Revoked {id}\n"));
    env.run_as(&token, &["auth", "whoami"])
        .fails_with(2, "Error: authentication_required:");
}

#[test]
fn status_reports_health_and_readiness_without_a_token() {
    let env = Env::start();
    let mut cmd = env.bare();
    cmd.env("SCAIVAULT_URL", &env.url).arg("status");
    let out = finish(cmd, None).ok();
    assert!(out.stdout.contains("Health   ok"), "{out:?}");
    assert!(out.stdout.contains("Ready    ready"), "{out:?}");
    let doc = env.run(&["status", "--json"]).ok().json();
    assert_eq!(doc["health"]["status"], "ok");
    assert_eq!(doc["ready"]["status"], "ready");
    Env::offline()
        .run(&["status"])
        .fails_with(1, "Error: connection_failed:");
}
