//! `scaivault secret-policies ...` and `scaivault rotation ...` against a dev server: the CLI
//! reference page's commands verbatim (the "Strong Password" secret policy, the `quarterly`
//! rotation policy on environments/production/salesforce/oauth), generated values masked unless
//! `--show`, a triggered rotation producing a new generated version, the schedule, the run
//! history and the exit codes of a missing policy and a bad interval.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::{BIN, TestServer};

/// The page's `--fields`.
const FIELDS: &str =
    r#"[{"name":"password","generator":"random","config":{"length":32,"charset":"alphanumeric"}}]"#;

const SECRET: &str = "environments/production/salesforce/oauth";

/// What a finished command left behind.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
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

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// The binary with a clean `SCAIVAULT_*` environment and its own HOME.
fn command(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SCAIVAULT_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn finish(mut cmd: Command) -> Out {
    let output = cmd.output().expect("run scaivault");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A dev server and an isolated HOME; commands run with SCAIVAULT_URL and SCAIVAULT_TOKEN.
struct Cli {
    server: TestServer,
    home: tempfile::TempDir,
}

impl Cli {
    fn start() -> Self {
        Self {
            server: TestServer::start(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        let mut cmd = command(self.home.path());
        cmd.env("SCAIVAULT_URL", &self.server.base_url)
            .env("SCAIVAULT_TOKEN", &self.server.root_token)
            .args(args);
        finish(cmd)
    }

    /// Runs `f` with the test kit's HTTP helper, authenticated as root (for setup and checks).
    fn http<T>(&self, f: impl AsyncFnOnce(crate::common::Api) -> T) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f(self.server.client()))
    }

    /// The page's `secret-policies create` (-> `sp_strong_password`).
    fn create_strong_password(&self) -> Out {
        self.run(&[
            "secret-policies",
            "create",
            "--name",
            "Strong Password",
            "--type",
            "password",
            "--fields",
            FIELDS,
        ])
    }

    /// The page's `rotation create` (-> `rot_quarterly`).
    fn create_quarterly(&self) -> Out {
        self.run(&[
            "rotation",
            "create",
            "--name",
            "quarterly",
            "--interval",
            "90d",
            "--grace-period",
            "48h",
            "--warn-before",
            "7d,1d",
        ])
    }
}

fn is_password(s: &str) -> bool {
    s.len() == 32 && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Any whitespace-separated word of `text` that looks like a generated password.
fn has_password(text: &str) -> bool {
    text.split_whitespace().any(is_password)
}

#[test]
fn help_pages_have_the_page_examples() {
    let home = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let mut cmd = command(home.path());
        cmd.args(args).arg("--help");
        finish(cmd).ok().stdout
    };
    for sub in [
        "list", "get", "types", "create", "update", "delete", "generate",
    ] {
        let out = help(&["secret-policies", sub]);
        assert!(
            out.contains("\nExamples:\n")
                && out.contains(&format!("\n  scaivault secret-policies {sub} ")),
            "{sub}: {out}"
        );
    }
    for sub in [
        "list", "get", "create", "update", "delete", "assign", "unassign", "trigger", "history",
        "secrets", "due", "runs",
    ] {
        let out = help(&["rotation", sub]);
        assert!(
            out.contains("Examples:\n  scaivault rotation "),
            "{sub}: {out}"
        );
    }
    let group = help(&["rotation"]);
    for line in [
        "scaivault rotation list",
        "scaivault rotation create --name \"quarterly\" --interval 90d --grace-period 48h --warn-before 7d,1d",
        "scaivault rotation assign rot_quarterly environments/production/salesforce/oauth",
        "scaivault rotation trigger rot_quarterly",
        "scaivault rotation history rot_quarterly --status failed",
        "scaivault rotation due --within-hours 168",
    ] {
        assert!(group.contains(line), "{line} missing: {group}");
    }
    let group = help(&["secret-policies"]);
    assert!(
        group.contains("scaivault secret-policies types # list available generators and charsets"),
        "{group}"
    );
    // Too long for one help line (clap wraps at 100 columns): the JSON goes on its own line.
    assert!(
        group.contains(&format!("--fields \\\n    '{FIELDS}'\n")),
        "{group}"
    );

    // Usage errors: bad values exit 5, a missing argument 1 (never 2, which means auth).
    let mut cmd = command(home.path());
    cmd.args(["rotation", "history", "rot_x", "--status", "bogus"]);
    finish(cmd).fails_with(5, "error: invalid value 'bogus'");
    let mut cmd = command(home.path());
    cmd.args(["rotation", "due", "--within-hours", "soon"]);
    finish(cmd).fails_with(5, "error: invalid value 'soon'");
    let mut cmd = command(home.path());
    cmd.args(["rotation", "assign", "rot_x"]);
    finish(cmd).fails_with(1, "error: the following required arguments");
    let mut cmd = command(home.path());
    cmd.args(["secret-policies", "create", "--name", "x"]);
    finish(cmd).fails_with(1, "error: the following required arguments");
}

#[test]
fn secret_policies_from_the_page() {
    let cli = Cli::start();

    let out = cli.create_strong_password().ok();
    assert!(
        out.stdout.starts_with(
            "Created secret policy sp_strong_password (Strong Password), type password:\n"
        ),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("password  random     charset=alphanumeric length=32")
            || out
                .stdout
                .contains("password  random     length=32 charset=alphanumeric"),
        "{out:?}"
    );
    // The name is taken: 409 conflict, exit 1.
    cli.create_strong_password()
        .fails_with(1, "Error: conflict:");

    let out = cli.run(&["secret-policies", "list"]).ok();
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("sp_strong_password "))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(row.contains("Strong Password"), "{row}");
    assert!(row.contains("password (random)"), "{row}");
    let listed = cli.run(&["secret-policies", "list", "--json"]).ok().json();
    assert_eq!(listed["secret_policies"][0]["id"], "sp_strong_password");

    let out = cli
        .run(&["secret-policies", "get", "sp_strong_password"])
        .ok();
    assert!(out.stdout.starts_with("ID  "), "{out:?}");
    assert!(out.stdout.contains("Type         password\n"), "{out:?}");
    let got = cli
        .run(&["secret-policies", "get", "sp_strong_password", "--json"])
        .ok()
        .json();
    assert_eq!(
        got["fields"],
        serde_json::from_str::<Value>(FIELDS).unwrap()
    );

    // types: the generator catalogue has `random` and the charset `alphanumeric`.
    let out = cli.run(&["secret-policies", "types"]).ok();
    assert!(
        out.stdout.lines().any(|l| l.starts_with("random ")),
        "{out:?}"
    );
    assert!(
        out.stdout.lines().any(|l| l.starts_with("alphanumeric ")),
        "{out:?}"
    );
    let types = cli.run(&["secret-policies", "types", "--json"]).ok().json();
    let names = |key: &str| -> Vec<String> {
        types[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        names("generators").contains(&"random".to_owned()),
        "{types}"
    );
    assert!(
        names("charsets").contains(&"alphanumeric".to_owned()),
        "{types}"
    );

    // generate --show: a fresh 32-character alphanumeric password, never stored.
    let out = cli
        .run(&[
            "secret-policies",
            "generate",
            "sp_strong_password",
            "--show",
        ])
        .ok();
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("password "))
        .unwrap_or_else(|| panic!("{out:?}"));
    let value = row.split_whitespace().nth(1).unwrap();
    assert!(is_password(value), "{out:?}");
    let shown = cli
        .run(&[
            "secret-policies",
            "generate",
            "sp_strong_password",
            "--show",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(shown["secret_policy_id"], "sp_strong_password");
    let second = shown["data"]["password"].as_str().unwrap();
    assert!(is_password(second), "{shown}");
    assert_ne!(second, value, "two previews gave the same value");

    // Without --show the value is not printed, not even with --json.
    let out = cli
        .run(&["secret-policies", "generate", "sp_strong_password"])
        .ok();
    assert!(out.stdout.contains("password  [REDACTED]"), "{out:?}");
    assert!(!has_password(&out.stdout), "{out:?}");
    assert!(!has_password(&out.stderr), "{out:?}");
    assert!(out.stderr.contains("--show"), "{out:?}");
    let masked = cli
        .run(&[
            "secret-policies",
            "generate",
            "sp_strong_password",
            "--json",
        ])
        .ok();
    assert!(!has_password(&masked.stdout), "{masked:?}");
    assert_eq!(masked.json()["data"]["password"], "[REDACTED]");

    // Nothing was stored by the previews.
    let (status, secrets) = cli.http(async |api| api.get("/v1/secrets").await);
    assert_eq!(status, 200, "{secrets}");
    assert_eq!(secrets["secrets"], json!([]), "{secrets}");

    // update keeps what is not given; delete.
    let out = cli
        .run(&[
            "secret-policies",
            "update",
            "sp_strong_password",
            "--description",
            "32 alphanumerics",
        ])
        .ok();
    assert!(
        out.stdout
            .starts_with("Updated secret policy sp_strong_password (Strong Password)"),
        "{out:?}"
    );
    let got = cli
        .run(&["secret-policies", "get", "sp_strong_password", "--json"])
        .ok()
        .json();
    assert_eq!(got["description"], "32 alphanumerics");
    assert_eq!(got["fields"][0]["config"]["length"], 32);

    // Errors: a bad field refused by the CLI, an unknown generator by the server, a missing
    // policy.
    cli.run(&[
        "secret-policies",
        "create",
        "--name",
        "Bad",
        "--fields",
        r#"[{"name":"p","generatr":"random"}]"#,
    ])
    .fails_with(5, "Error: validation_error: --fields: fields[0]: ");
    cli.run(&[
        "secret-policies",
        "create",
        "--name",
        "Bad",
        "--fields",
        r#"[{"name":"p","generator":"no-such-generator"}]"#,
    ])
    .fails_with(5, "Error: validation_error:");
    cli.run(&["secret-policies", "generate", "sp_missing", "--show"])
        .fails_with(4, "Error: ");
    cli.run(&["secret-policies", "get", "sp_missing"])
        .fails_with(4, "Error: ");

    let out = cli
        .run(&["secret-policies", "delete", "sp_strong_password"])
        .ok();
    assert_eq!(out.stdout, "Deleted secret policy sp_strong_password\n");
    cli.run(&["secret-policies", "get", "sp_strong_password"])
        .fails_with(4, "Error: ");
    assert_eq!(
        cli.run(&["secret-policies", "list"]).ok().stdout,
        "No secret policies.\n"
    );
}

#[test]
fn rotation_from_the_page() {
    let cli = Cli::start();
    cli.create_strong_password().ok();

    let out = cli.create_quarterly().ok();
    assert!(
        out.stdout
            .starts_with("Created rotation policy rot_quarterly (quarterly)\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("Interval       90d\n"), "{out:?}");
    // The server may normalise the duration (48h -> 2d).
    assert!(
        out.stdout.contains("Grace period   48h\n") || out.stdout.contains("Grace period   2d\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("Warn before    7d,1d\n"), "{out:?}");
    assert!(out.stdout.contains("Auto-generate  yes\n"), "{out:?}");
    cli.create_quarterly().fails_with(1, "Error: conflict:");

    let out = cli.run(&["rotation", "list"]).ok();
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("rot_quarterly "))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(row.contains(" 48h ") || row.contains(" 2d "), "{row}");
    for cell in ["quarterly", "90d", "7d,1d", "yes"] {
        assert!(row.contains(cell), "{cell}: {row}");
    }
    let got = cli
        .run(&["rotation", "get", "rot_quarterly", "--json"])
        .ok()
        .json();
    assert_eq!(got["warn_before"], json!(["7d", "1d"]));
    assert_eq!(got["auto_generate"], true);

    // The secret, generated by the Strong Password policy when it rotates.
    let (status, written) = cli.http(async |api| {
        api.put(
            &format!("/v1/secrets/{SECRET}"),
            json!({
                "data": {"password": "initial-value"},
                "options": {"secret_policy_id": "sp_strong_password"}
            }),
        )
        .await
    });
    assert_eq!(status, 201, "{written}");

    let out = cli
        .run(&[
            "rotation",
            "assign",
            "rot_quarterly",
            "environments/production/salesforce/oauth",
        ])
        .ok();
    assert_eq!(
        out.stdout,
        format!("Assigned rot_quarterly to 1 secret:\n  {SECRET}\n")
    );
    let out = cli.run(&["rotation", "secrets", "rot_quarterly"]).ok();
    assert!(out.stdout.lines().any(|l| l.starts_with(SECRET)), "{out:?}");

    // Due in 90 days: not within a week, but within 2200 hours (> 90d).
    let out = cli.run(&["rotation", "due", "--within-hours", "168"]).ok();
    assert_eq!(out.stdout, "No rotations due within 168 hours.\n");
    let out = cli.run(&["rotation", "due", "--within-hours", "2200"]).ok();
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(SECRET))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(row.contains("rot_quarterly"), "{row}");
    assert!(
        row.contains(" in 89d ") || row.contains(" in 90d "),
        "{row}"
    );
    let due = cli
        .run(&["rotation", "due", "--within-hours", "2200", "--json"])
        .ok()
        .json();
    assert_eq!(due["secrets"][0]["path"], SECRET);
    assert_eq!(due["secrets"][0]["policy_id"], "rot_quarterly");

    // Trigger: a new version generated by the secret policy; the old one stays readable for
    // the grace period.
    let out = cli.run(&["rotation", "trigger", "rot_quarterly"]).ok();
    assert!(
        out.stdout
            .starts_with("Triggered rot_quarterly: 1 rotation\n"),
        "{out:?}"
    );
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(SECRET))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(row.contains("succeeded"), "{row}");
    assert!(row.contains("1 -> 2"), "{row}");
    assert!(!has_password(&out.stdout), "{out:?}");

    let new = cli
        .run(&["secrets", "read", SECRET, "--field", "password"])
        .ok();
    assert!(is_password(new.stdout.trim_end()), "{new:?}");
    let old = cli
        .run(&[
            "secrets",
            "read",
            SECRET,
            "--version",
            "1",
            "--field",
            "password",
        ])
        .ok();
    assert_eq!(old.stdout, "initial-value\n");

    // History: one succeeded run; none failed.
    let out = cli.run(&["rotation", "history", "rot_quarterly"]).ok();
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains(SECRET))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(row.contains("succeeded"), "{row}");
    assert!(row.contains("rrun_"), "{row}");
    let history = cli
        .run(&["rotation", "history", "rot_quarterly", "--json"])
        .ok()
        .json();
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{history}");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["old_version"], 1);
    assert_eq!(runs[0]["new_version"], 2);
    let out = cli
        .run(&["rotation", "history", "rot_quarterly", "--status", "failed"])
        .ok();
    assert_eq!(out.stdout, "No failed runs of rot_quarterly.\n");
    let failed = cli
        .run(&[
            "rotation",
            "history",
            "rot_quarterly",
            "--status",
            "failed",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(failed["runs"], json!([]));

    // Runs across policies, by path.
    let runs = cli
        .run(&["rotation", "runs", "--path", SECRET, "--json"])
        .ok()
        .json();
    assert_eq!(runs["runs"][0]["policy_id"], "rot_quarterly");
    let out = cli
        .run(&["rotation", "runs", "--policy", "rot_quarterly"])
        .ok();
    assert!(out.stdout.contains("rot_quarterly"), "{out:?}");

    // Update keeps the rest; unassign takes the secret off the schedule.
    cli.run(&[
        "rotation",
        "update",
        "rot_quarterly",
        "--grace-period",
        "72h",
    ])
    .ok();
    let got = cli
        .run(&["rotation", "get", "rot_quarterly", "--json"])
        .ok()
        .json();
    assert!(
        got["grace_period"] == "72h" || got["grace_period"] == "3d",
        "{got}"
    );
    assert_eq!(got["interval"], "90d");
    assert_eq!(got["warn_before"], json!(["7d", "1d"]));

    let out = cli
        .run(&[
            "rotation",
            "unassign",
            "rot_quarterly",
            "environments/production/**",
        ])
        .ok();
    assert_eq!(
        out.stdout,
        format!("Unassigned rot_quarterly from 1 secret:\n  {SECRET}\n")
    );
    let out = cli.run(&["rotation", "due", "--within-hours", "2200"]).ok();
    assert_eq!(out.stdout, "No rotations due within 2200 hours.\n");

    let out = cli.run(&["rotation", "delete", "rot_quarterly"]).ok();
    assert_eq!(out.stdout, "Deleted rotation policy rot_quarterly\n");
    assert_eq!(
        cli.run(&["rotation", "list"]).ok().stdout,
        "No rotation policies.\n"
    );
}

#[test]
fn rotation_errors_exit_with_the_page_codes() {
    let cli = Cli::start();

    // A missing policy: not found, exit 4.
    for args in [
        &["rotation", "get", "rot_missing"][..],
        &["rotation", "trigger", "rot_missing"],
        &["rotation", "history", "rot_missing"],
        &["rotation", "secrets", "rot_missing"],
        &["rotation", "delete", "rot_missing"],
        &["rotation", "assign", "rot_missing", SECRET],
    ] {
        let out = cli.run(args).fails_with(4, "Error: ");
        assert!(out.stderr.contains("not_found"), "{args:?}: {out:?}");
    }

    // A bad interval: the server's validation_error, exit 5.
    let out = cli
        .run(&[
            "rotation",
            "create",
            "--name",
            "quarterly",
            "--interval",
            "soon",
        ])
        .fails_with(5, "Error: validation_error:");
    assert!(out.stderr.contains("interval"), "{out:?}");
    // A grace period not shorter than the interval.
    cli.run(&[
        "rotation",
        "create",
        "--name",
        "quarterly",
        "--interval",
        "1d",
        "--grace-period",
        "2d",
    ])
    .fails_with(5, "Error: validation_error:");
    // Nothing was created by the refused requests.
    assert_eq!(
        cli.run(&["rotation", "list"]).ok().stdout,
        "No rotation policies.\n"
    );
}
