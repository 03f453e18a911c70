//! `scaivault subscriptions ...` against a dev server: create/list/get/delete, one-shot polls,
//! `poll --follow` (JSON lines and human lines) streaming a rotation as it happens, the CLI
//! reference page's "Stream rotation events" `jq` recipe verbatim, a closed stdout ending the
//! follower quietly, and the refusals that exit 5.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use scaivault_proto::secrets::RotateSecretRequest;
use serde_json::{Value, json};

use super::common::prod::ProdServer;
use super::{Env, finish};

/// The page's jq filter, verbatim.
const RECIPE_FILTER: &str = r#"select(.event_type=="secret.rotated") | "\(.path): \(.data.old_version) -> \(.data.new_version)""#;

/// How long to wait for a follower to print an event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates a subscription through the CLI (`--json`); returns the response.
fn create(env: &Env, name: &str, paths: &str, events: &str) -> Value {
    let sub = env
        .run(&[
            "subscriptions",
            "create",
            "--name",
            name,
            "--paths",
            paths,
            "--events",
            events,
            "--json",
        ])
        .ok()
        .json();
    assert!(
        sub["id"].as_str().unwrap().starts_with("sub_"),
        "no sub_ id: {sub}"
    );
    sub
}

fn id_of(sub: &Value) -> String {
    sub["id"].as_str().unwrap().to_owned()
}

/// Rotates `path` to `new_value` through the API (1h grace period).
fn rotate(env: &Env, path: &str, new_value: Value) {
    let rotated = env.api(async |client| {
        let request = RotateSecretRequest {
            reason: None,
            new_value: new_value.as_object().cloned(),
            grace_period: Some("1h".into()),
        };
        client.rotate_secret(path, &request).await.unwrap()
    });
    assert_eq!(rotated.version, rotated.previous_version + 1, "{rotated:?}");
}

/// A `scaivault` child with piped stdout/stderr and its stdout lines arriving on a channel.
/// With `max_lines`, the reader stops (closing the pipe) after that many lines.
struct Follower {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn spawn(env: &Env, args: &[&str], max_lines: Option<usize>) -> Self {
        let mut cmd = env.authed();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let reader = BufReader::new(stdout);
            for (i, line) in reader.lines().enumerate() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
                if max_lines.is_some_and(|max| i + 1 >= max) {
                    break; // drops the reader: the child's stdout is now closed
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one satisfies `done`; panics (after killing the child) on timeout.
    fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if done(&line) {
                        return line;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = self.stderr();
                    panic!("no {what} ({e}); lines {:?}; stderr {stderr:?}", self.seen);
                }
            }
        }
    }

    /// Waits (bounded) for the child to exit on its own; its exit code and stderr.
    #[allow(
        clippy::disallowed_methods,
        reason = "polls for an event (the child's exit) under a deadline; std has no wait with timeout"
    )]
    fn wait_exit(&mut self) -> (i32, String) {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), self.stderr());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the follower did not exit; stderr {:?}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }

    /// Kills the child (it never ends by itself) and reaps it.
    fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr()
    }
}

#[test]
fn subscriptions_help_pages_have_examples() {
    let env = Env::offline();
    for cmd in [
        &["subscriptions"][..],
        &["subscriptions", "create"],
        &["subscriptions", "list"],
        &["subscriptions", "get"],
        &["subscriptions", "delete"],
        &["subscriptions", "poll"],
        &["subscriptions", "dead-letters"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(
            out.stdout.contains("Examples:\n")
                && out.stdout.contains("\n  scaivault subscriptions "),
            "{cmd:?} --help has no example: {out:?}"
        );
    }
    let out = env.run_bare(&["subscriptions", "--help"]).ok();
    assert!(
        out.stdout
            .contains("--events secret.rotated,rotation.due \\\n"),
        "{out:?}"
    );
    let out = env.run_bare(&["subscriptions", "poll", "--help"]).ok();
    // The page's recipe, with the filter split over two lines so that help wrapping keeps it
    // intact.
    assert!(
        out.stdout.contains(
            "--follow --json \\\n  | jq -r 'select(.event_type==\"secret.rotated\")\n      | \"\\(.path): \\(.data.old_version) -> \\(.data.new_version)\"'\n"
        ),
        "{out:?}"
    );

    // Bad values are refused before anything is sent.
    for bad in ["61s", "30", "soon"] {
        let out = env.run(&["subscriptions", "poll", "sub_x", "--wait", bad]);
        assert_eq!(out.code, 5, "--wait {bad}: {out:?}");
    }
    let out = env.run(&["subscriptions", "poll", "sub_x", "--limit", "0"]);
    assert_eq!(out.code, 5, "{out:?}");
    env.run(&[
        "subscriptions",
        "create",
        "--name",
        "x",
        "--paths",
        " , ",
        "--events",
        "*",
    ])
    .fails_with(5, "Error: validation_error: --paths");
}

#[test]
fn create_list_get_delete_and_dead_letters() {
    let env = Env::start();
    // Comma-separated lists, and the flag repeated.
    let sub = env
        .run(&[
            "subscriptions",
            "create",
            "--name",
            "Slack rotation alerts",
            "--paths",
            "environments/production/**,environments/staging/**",
            "--paths",
            "app/*",
            "--events",
            "secret.rotated,rotation.due",
            "--events",
            "secret.created",
            "--json",
        ])
        .ok()
        .json();
    let id = id_of(&sub);
    assert!(id.starts_with("sub_"), "{sub}");
    assert_eq!(sub["name"], "Slack rotation alerts");
    assert_eq!(
        sub["paths"],
        json!([
            "environments/production/**",
            "environments/staging/**",
            "app/*"
        ])
    );
    assert_eq!(
        sub["events"],
        json!(["secret.rotated", "rotation.due", "secret.created"])
    );
    assert!(sub.get("webhook_secret").is_none(), "{sub}");
    assert!(sub.get("webhook_url").is_none(), "{sub}");
    assert_eq!(sub["tenants"].as_array().unwrap().len(), 1, "{sub}");

    // Human output of create.
    let out = env
        .run(&[
            "subscriptions",
            "create",
            "--name",
            "everything",
            "--paths",
            "**",
            "--events",
            "*",
        ])
        .ok();
    assert!(
        out.stdout.starts_with("Created subscription sub_"),
        "{out:?}"
    );
    assert!(out.stdout.contains("\nPaths     **\n"), "{out:?}");
    assert!(out.stdout.contains("\nDelivery  poll\n"), "{out:?}");
    assert!(!out.stdout.contains("whsec_"), "{out:?}");
    let other = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();

    let listed = env.run(&["subscriptions", "list", "--json"]).ok().json();
    let ids: Vec<&str> = listed["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&other.as_str()),
        "{listed}"
    );
    assert_eq!(listed["has_more"], false);
    let table = env.run(&["subscriptions", "list"]).ok();
    assert!(
        table.stdout.starts_with("ID") && table.stdout.contains("DELIVERY"),
        "{table:?}"
    );
    assert!(
        table.stdout.lines().any(|l| l.starts_with(&id)
            && l.contains("Slack rotation alerts")
            && l.contains("secret.rotated,rotation.due,secret.created")),
        "{table:?}"
    );

    let got = env
        .run(&["subscriptions", "get", &id, "--json"])
        .ok()
        .json();
    assert_eq!(got["id"], sub["id"]);
    assert_eq!(got["paths"], sub["paths"]);
    let shown = env.run(&["subscriptions", "get", &id]).ok();
    assert!(shown.stdout.starts_with("ID  "), "{shown:?}");
    assert!(shown.stdout.contains(&id), "{shown:?}");
    assert!(
        shown
            .stdout
            .contains("Events    secret.rotated, rotation.due, secret.created"),
        "{shown:?}"
    );

    let dead = env.run(&["subscriptions", "dead-letters", &id]).ok();
    assert_eq!(dead.stdout, format!("No dead letters for {id}.\n"));
    let dead = env
        .run(&["subscriptions", "dead-letters", &id, "--json"])
        .ok()
        .json();
    assert_eq!(dead, json!({"dead_letters": []}));

    let out = env.run(&["subscriptions", "delete", &id]).ok();
    assert_eq!(out.stdout, format!("Deleted subscription {id}\n"));
    env.run(&["subscriptions", "get", &id])
        .fails_with(4, "Error: not_found:");
    env.run(&["subscriptions", "delete", &id])
        .fails_with(4, "Error: not_found:");
    env.run(&["subscriptions", "poll", &id, "--wait", "0s"])
        .fails_with(4, "Error: not_found:");
    // --follow does not retry what the server refuses.
    env.run(&["subscriptions", "poll", &id, "--follow", "--json"])
        .fails_with(4, "Error: not_found:");
    let listed = env.run(&["subscriptions", "list", "--json"]).ok().json();
    assert!(!listed.to_string().contains(&id), "{listed}");
}

#[test]
fn refused_webhooks_and_unknown_events_exit_5() {
    let env = Env::start();
    let out = env
        .run(&[
            "subscriptions",
            "create",
            "--name",
            "internal",
            "--paths",
            "app/**",
            "--events",
            "secret.rotated",
            "--webhook",
            "http://127.0.0.1:9/x",
        ])
        .fails_with(5, "Error: validation_error: webhook");
    assert!(out.stdout.is_empty(), "{out:?}");
    let out = env
        .run(&[
            "subscriptions",
            "create",
            "--name",
            "typo",
            "--paths",
            "app/**",
            "--events",
            "secret.rotated,secret.rotatd",
        ])
        .fails_with(5, "Error: validation_error:");
    assert!(
        out.stderr.contains("unknown event type 'secret.rotatd'"),
        "{out:?}"
    );
    env.run(&[
        "subscriptions",
        "create",
        "--name",
        "bad glob",
        "--paths",
        "/app",
        "--events",
        "*",
    ])
    .fails_with(5, "Error: validation_error: paths");
    // Nothing was created.
    let listed = env.run(&["subscriptions", "list", "--json"]).ok().json();
    assert_eq!(listed["subscriptions"], json!([]));
    assert_eq!(
        env.run(&["subscriptions", "list"]).ok().stdout,
        "No subscriptions.\n"
    );
}

#[test]
fn one_poll_prints_events_and_the_next_cursor() {
    let env = Env::start();
    let id = id_of(&create(&env, "app", "app/**", "*"));
    env.write("app/one", &["k=v"]);
    env.write("elsewhere/two", &["k=v"]);

    let out = env
        .run(&["subscriptions", "poll", &id, "--wait", "0s", "--json"])
        .ok();
    let page = out.json();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["event_type"], "secret.created");
    assert_eq!(events[0]["path"], "app/one");
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    assert_eq!(page["has_more"], false);
    assert!(
        out.stderr.contains(&format!("Next cursor: {cursor}")),
        "{out:?}"
    );

    // The same poll, for humans.
    let out = env.run(&["subscriptions", "poll", &id, "--wait", "0"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].starts_with("TIME") && lines[0].contains("TYPE") && lines[0].contains("DATA"),
        "{out:?}"
    );
    assert!(
        lines[1].contains("secret.created") && lines[1].contains("app/one"),
        "{out:?}"
    );

    // Resuming at the cursor: nothing new (and `--wait 0s` answers at once).
    let started = Instant::now();
    let out = env
        .run(&[
            "subscriptions",
            "poll",
            &id,
            "--cursor",
            &cursor,
            "--wait",
            "0s",
        ])
        .ok();
    assert_eq!(out.stdout, "No events.\n");
    assert!(out.stderr.starts_with("Next cursor: "), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // A short wait that ends without events.
    let out = env
        .run(&[
            "subscriptions",
            "poll",
            &id,
            "--cursor",
            &cursor,
            "--wait",
            "500ms",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(out["events"], json!([]));
}

#[test]
fn follow_streams_rotations_as_json_lines_into_the_page_recipe() {
    let env = Env::start();
    let sub = create(
        &env,
        "rotations",
        "environments/production/**",
        "secret.rotated,secret.created",
    );
    let id = id_of(&sub);
    let mut json_follower = Follower::spawn(
        &env,
        &["subscriptions", "poll", &id, "--follow", "--json"],
        None,
    );
    let mut human_follower =
        Follower::spawn(&env, &["subscriptions", "poll", &id, "--follow"], None);

    // Give the followers time to be holding their long-poll, then change things. Only which
    // path serves the events depends on it (a waiting poll woken, or a poll that finds them on
    // arrival: a subscription delivers from its creation); every assertion holds either way.
    #[allow(
        clippy::disallowed_methods,
        reason = "orders a race towards the wake-up path; no outcome depends on it (see above)"
    )]
    std::thread::sleep(Duration::from_millis(300));
    env.write("other/place", &["k=v"]);
    env.write("environments/production/db", &["password=one"]);
    rotate(
        &env,
        "environments/production/db",
        json!({"password": "two"}),
    );

    let rotated_line = json_follower.wait_for("secret.rotated line", |l| {
        l.contains(r#""event_type":"secret.rotated""#)
    });
    let event: Value = serde_json::from_str(&rotated_line).unwrap();
    assert!(rotated_line.starts_with(r#"{"id":"evt_"#), "{rotated_line}");
    let mut keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "data",
            "event_type",
            "id",
            "occurred_at",
            "path",
            "tenant_id"
        ],
        "{rotated_line}"
    );
    assert_eq!(event["path"], "environments/production/db");
    assert_eq!(event["data"]["old_version"], 1, "{rotated_line}");
    assert_eq!(event["data"]["new_version"], 2, "{rotated_line}");
    assert_eq!(event["tenant_id"], sub["tenants"][0]);
    // Every line is one event, and the creation came first.
    assert_eq!(json_follower.seen.len(), 2, "{:?}", json_follower.seen);
    let created: Value = serde_json::from_str(&json_follower.seen[0]).unwrap();
    assert_eq!(created["event_type"], "secret.created");
    assert_eq!(created["path"], "environments/production/db");
    assert!(
        !json_follower.seen.iter().any(|l| l.contains("other/place")),
        "{:?}",
        json_follower.seen
    );

    // The page's recipe, verbatim, over what the follower printed.
    let mut jq = std::process::Command::new("jq");
    jq.args(["-r", RECIPE_FILTER]);
    let input = format!("{}\n", json_follower.seen.join("\n"));
    let out = finish(jq, Some(&input)).ok();
    assert_eq!(out.stdout, "environments/production/db: 1 -> 2\n");

    // Human lines: time, type, path, data.
    let human = human_follower.wait_for("human rotation line", |l| l.contains("secret.rotated"));
    let parts: Vec<&str> = human.split("  ").collect();
    assert_eq!(parts.len(), 4, "{human:?}");
    assert!(
        parts[0].starts_with("20") && parts[0].contains('T'),
        "{human:?}"
    );
    assert_eq!(
        &parts[1..],
        [
            "secret.rotated",
            "environments/production/db",
            "new_version=2 old_version=1"
        ]
    );

    // A later rotation arrives while the followers keep polling with their cursor.
    rotate(
        &env,
        "environments/production/db",
        json!({"password": "three"}),
    );
    let again = json_follower.wait_for("second rotation", |l| l.contains(r#""new_version":3"#));
    assert!(again.contains(r#""old_version":2"#), "{again}");
    assert_eq!(json_follower.seen.len(), 3, "{:?}", json_follower.seen);

    // The followers never end by themselves.
    assert!(json_follower.child.try_wait().unwrap().is_none());
    let stderr = json_follower.kill();
    assert!(
        stderr.is_empty(),
        "--json follow wrote to stderr: {stderr:?}"
    );
    let stderr = human_follower.kill();
    assert!(stderr.starts_with(&format!("Following {id}")), "{stderr:?}");

    // The whole pipeline as the page shows it (cut off after a few seconds: it never ends).
    let out = env
        .bash(&format!(
            "timeout 8 scaivault subscriptions poll {id} --follow --json \\\n| jq -r '{RECIPE_FILTER}'"
        ))
        .ok();
    assert_eq!(
        out.stdout,
        "environments/production/db: 1 -> 2\nenvironments/production/db: 2 -> 3\n"
    );
}

#[test]
fn follow_exits_quietly_when_stdout_closes() {
    let env = Env::start();
    let id = id_of(&create(&env, "pipe", "pipe/**", "*"));
    env.write("pipe/a", &["k=v"]);
    env.write("pipe/b", &["k=v"]);
    // The reader takes one line and closes the pipe, like `| head -n 1`, while the follower is
    // (or soon will be) waiting in a long-poll with no event to come: it ends at once,
    // successfully and silently.
    let mut follower = Follower::spawn(
        &env,
        &["subscriptions", "poll", &id, "--follow", "--json"],
        Some(1),
    );
    let first = follower.wait_for("first event", |_| true);
    assert!(first.contains(r#""path":"pipe/a""#), "{first}");
    let (code, stderr) = follower.wait_exit();
    assert_eq!(code, 0, "{stderr:?}");
    assert!(stderr.is_empty(), "{stderr:?}");

    // The same through a shell pipeline (bounded, in case it did not end).
    let out = env
        .bash(&format!(
            "timeout 20 scaivault subscriptions poll {id} --follow | head -n 1; echo \"status ${{PIPESTATUS[0]}}\""
        ))
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].contains("  secret.created  pipe/a  version=1"),
        "{out:?}"
    );
    assert_eq!(lines[1], "status 0", "{out:?}");
}

#[test]
fn webhook_secret_is_shown_once_and_failed_deliveries_are_dead_lettered() {
    // Loopback webhooks allowed, and a retry window short enough to give up within the test.
    let server = ProdServer::start(
        "webhook_allowed_networks = [\"127.0.0.0/8\"]\nwebhook_retry_base = \"100ms\"\nwebhook_retry_window = \"1s\"\n",
    );
    let env = Env {
        _server: None,
        url: server.base_url.clone(),
        token: server.admin_token.clone(),
        home: tempfile::tempdir().unwrap(),
    };
    // Port 9 (discard): nothing listens, every delivery fails.
    let hook = "http://127.0.0.1:9/hook";
    let out = env
        .run(&[
            "subscriptions",
            "create",
            "--name",
            "hook",
            "--paths",
            "hooks/**",
            "--events",
            "*",
            "--webhook",
            hook,
        ])
        .ok();
    assert!(
        out.stdout.starts_with("Created subscription sub_"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("\nDelivery        webhook {hook}\n")),
        "{out:?}"
    );
    let secret_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Webhook secret  "))
        .unwrap_or_else(|| panic!("no secret: {out:?}"));
    assert!(
        secret_line.ends_with(|c: char| c != ' ') && secret_line.contains(" whsec_"),
        "{out:?}"
    );
    assert!(out.stderr.contains("shown only once"), "{out:?}");
    let id = out.stdout.split_whitespace().nth(2).unwrap().to_owned();
    let got = env
        .run(&["subscriptions", "get", &id, "--json"])
        .ok()
        .json();
    assert_eq!(got["webhook_url"], hook);
    assert!(got.get("webhook_secret").is_none(), "shown again: {got}");
    let shown = env.run(&["subscriptions", "get", &id]).ok();
    assert!(!shown.stdout.contains("whsec_"), "{shown:?}");

    // --json: the API's response, secret included; debug output never shows it.
    let mut cmd = env.authed();
    cmd.env("SCAIVAULT_DEBUG", "1").args([
        "subscriptions",
        "create",
        "--name",
        "hook2",
        "--paths",
        "hooks/**",
        "--events",
        "secret.created",
        "--webhook",
        hook,
        "--json",
    ]);
    let out = finish(cmd, None).ok();
    let created = out.json();
    let secret = created["webhook_secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert!(out.stderr.contains("[debug] < 201"), "{out:?}");
    assert!(
        !out.stderr.contains(secret),
        "secret in debug output: {out:?}"
    );

    // An event the webhook cannot take ends up dead-lettered once the retry window is over.
    env.write("hooks/a", &["k=v"]);
    let deadline = Instant::now() + EVENT_TIMEOUT;
    #[allow(
        clippy::disallowed_methods,
        reason = "polls under a deadline for an event (the dead letter) that must happen"
    )]
    let dead = loop {
        let dead = env
            .run(&["subscriptions", "dead-letters", &id, "--json"])
            .ok()
            .json();
        if !dead["dead_letters"].as_array().unwrap().is_empty() {
            break dead;
        }
        assert!(Instant::now() < deadline, "nothing dead-lettered: {dead}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let event_id = dead["dead_letters"][0]["event_id"].as_str().unwrap();
    assert!(event_id.starts_with("evt_"), "{dead}");
    let out = env.run(&["subscriptions", "dead-letters", &id]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("EVENT ID") && lines[0].contains("LAST ERROR"),
        "{out:?}"
    );
    assert!(lines[1].starts_with(event_id), "{out:?}");
    let shown = env.run(&["subscriptions", "get", &id]).ok();
    assert!(shown.stdout.contains("\nFailed attempts  "), "{shown:?}");
    assert!(shown.stdout.contains("\nLast error       "), "{shown:?}");
}

#[test]
fn follow_retries_while_the_server_is_away() {
    let mut env = Env::start();
    let id = id_of(&create(&env, "retry", "retry/**", "*"));
    env.write("retry/a", &["k=v"]);
    let mut follower = Follower::spawn(
        &env,
        &["subscriptions", "poll", &id, "--follow", "--json"],
        None,
    );
    follower.wait_for("first event", |_| true);
    // The server dies under the waiting poll: the follower warns and keeps trying, backing
    // off. Its second retry is the event that proves it did not give up after the first.
    env._server.as_mut().unwrap().kill();
    let stderr = follower.child.stderr.take().unwrap();
    let (tx, warnings) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    while !seen.iter().any(|l| l.contains("retrying in 2s.")) {
        match warnings.recv_timeout(EVENT_TIMEOUT) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = follower.child.kill();
                panic!("no second retry ({e}); stderr {seen:?}");
            }
        }
    }
    assert!(
        follower.child.try_wait().unwrap().is_none(),
        "the follower gave up"
    );
    follower.kill();
    assert!(
        seen[0].starts_with(&format!("Warning: polling {id} failed (")),
        "{seen:?}"
    );
    assert!(seen[0].contains("retrying in 1s."), "{seen:?}");
}
