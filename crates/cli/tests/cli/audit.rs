//! `scaivault audit query|trail|summary|verify` against a dev server: what the CLI itself did
//! shows up in the trail, JSON output is the API's, and failures exit with the documented codes.
//! (A tampered chain is tested with the server's audit tests.)

use serde_json::Value;

use super::{Env, read_only_token};

/// `(today, tomorrow)` as `YYYY-MM-DD`, UTC.
#[allow(
    clippy::disallowed_methods,
    reason = "the server under test runs on the real clock and stamps its entries with today"
)]
fn today_and_tomorrow() -> (String, String) {
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().unwrap();
    (today.to_string(), tomorrow.to_string())
}

fn entries(doc: &Value) -> &Vec<Value> {
    doc["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries array: {doc}"))
}

fn count_of(counts: &Value, key: &str) -> u64 {
    counts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .and_then(|c| c["count"].as_u64())
        .unwrap_or(0)
}

/// Writes two secrets and reads one of them, all through the CLI.
fn write_two_read_one(env: &Env) -> String {
    env.write("app/audit/one", &["user=admin", "password=AUDIT-s3cret"]);
    env.write("app/audit/two", &["k=v"]);
    let read = env
        .run(&["secrets", "read", "app/audit/one", "--field", "user"])
        .ok();
    assert_eq!(read.stdout, "admin\n");
    let me = env.run(&["auth", "whoami", "--json"]).ok().json();
    me["identity_id"].as_str().unwrap().to_owned()
}

#[test]
fn audit_help_pages_have_examples() {
    let env = Env::offline();
    for cmd in [
        &["audit"][..],
        &["audit", "query"],
        &["audit", "trail"],
        &["audit", "summary"],
        &["audit", "verify"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(
            out.stdout.contains("Examples:\n  scaivault audit "),
            "{cmd:?} --help has no example: {out:?}"
        );
    }
    let out = env.run_bare(&["--help"]).ok();
    assert!(out.stdout.contains("audit"), "{out:?}");
}

#[test]
fn query_shows_exactly_the_read_the_cli_did() {
    let env = Env::start();
    let identity = write_two_read_one(&env);
    let (today, tomorrow) = today_and_tomorrow();

    // The page's example, with --json.
    let out = env
        .run(&[
            "audit", "query", "--action", "read", "--start", &today, "--end", &tomorrow, "--json",
        ])
        .ok();
    assert!(
        !out.stdout.contains("AUDIT-s3cret"),
        "value leaked: {out:?}"
    );
    let doc = out.json();
    let found = entries(&doc);
    assert_eq!(found.len(), 1, "{doc}");
    let read = &found[0];
    assert_eq!(read["action"], "read");
    assert_eq!(read["resource_type"], "secret");
    assert_eq!(read["path"], "app/audit/one");
    assert_eq!(read["version"], 1);
    assert_eq!(read["outcome"], "success");
    assert_eq!(read["identity_id"], identity.as_str());
    assert_eq!(doc["has_more"], false);
    let request_id = read["request_id"].as_str().unwrap();
    assert!(!request_id.is_empty());

    // The same entry as a table.
    let out = env
        .run(&[
            "audit", "query", "--action", "read", "--start", &today, "--end", &tomorrow,
        ])
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    for header in [
        "TIME",
        "IDENTITY",
        "ACTION",
        "PATH",
        "VERSION",
        "OUTCOME",
        "REQUEST ID",
    ] {
        assert!(lines[0].contains(header), "{header} missing: {out:?}");
    }
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells[1..],
        [
            identity.as_str(),
            "read",
            "app/audit/one",
            "1",
            "success",
            request_id
        ],
        "{out:?}"
    );
    assert!(cells[0].starts_with(&today), "{out:?}");

    // Filters narrow; a window in the future is empty.
    let doc = env
        .run(&[
            "audit",
            "query",
            "--action",
            "write",
            "--path-prefix",
            "app/audit/t",
            "--json",
        ])
        .ok()
        .json();
    let found = entries(&doc);
    assert_eq!(found.len(), 1, "{doc}");
    assert_eq!(found[0]["path"], "app/audit/two");
    let out = env
        .run(&["audit", "query", "--action", "read", "--start", &tomorrow])
        .ok();
    assert_eq!(out.stdout, "No audit entries found.\n");

    // A failed read: the outcome column carries the error code.
    env.run(&["secrets", "read", "app/audit/missing"])
        .fails_with(4, "Error: secret_not_found:");
    let out = env
        .run(&[
            "audit",
            "query",
            "--outcome",
            "error",
            "--resource-type",
            "secret",
        ])
        .ok();
    assert_eq!(out.stdout.lines().count(), 2, "{out:?}");
    assert!(
        out.stdout.contains("app/audit/missing") && out.stdout.contains("error (secret_not_found)"),
        "{out:?}"
    );
    let doc = env
        .run(&["audit", "query", "--identity", &identity, "--json"])
        .ok()
        .json();
    assert!(
        entries(&doc)
            .iter()
            .all(|e| e["identity_id"] == identity.as_str()),
        "{doc}"
    );
    let doc = env
        .run(&["audit", "query", "--identity", "user:nobody", "--json"])
        .ok()
        .json();
    assert!(entries(&doc).is_empty(), "{doc}");
}

#[test]
fn query_pages_with_limit_cursor_and_all() {
    let env = Env::start();
    write_two_read_one(&env);
    let filter = ["--resource-type", "secret"];
    let everything = env
        .run(&[&["audit", "query", "--limit", "500", "--json"][..], &filter].concat())
        .ok()
        .json();
    let total = entries(&everything).len();
    assert!(total >= 3, "{everything}");

    // One page of one; the cursor is reported, and --cursor continues from it.
    let first = env
        .run(&[&["audit", "query", "--limit", "1", "--json"][..], &filter].concat())
        .ok()
        .json();
    assert_eq!(entries(&first).len(), 1);
    assert_eq!(first["has_more"], true);
    let cursor = first["cursor"].as_str().unwrap();
    let out = env
        .run(&[&["audit", "query", "--limit", "1"][..], &filter].concat())
        .ok();
    assert!(
        out.stderr.contains(&format!("--cursor {cursor}")),
        "{out:?}"
    );
    let second = env
        .run(
            &[
                &[
                    "audit", "query", "--limit", "1", "--cursor", cursor, "--json",
                ][..],
                &filter,
            ]
            .concat(),
        )
        .ok()
        .json();
    assert_eq!(entries(&second)[0], entries(&everything)[1]);

    // --all follows every cursor and merges the pages into one document.
    let out = env
        .run(
            &[
                &["audit", "query", "--limit", "1", "--all", "--json"][..],
                &filter,
            ]
            .concat(),
        )
        .ok();
    let all = out.json();
    assert_eq!(entries(&all), entries(&everything), "{all}");
    assert_eq!(all["has_more"], false);
    assert!(all.get("cursor").is_none(), "{all}");
    let out = env
        .run(&[&["audit", "query", "--limit", "1", "--all"][..], &filter].concat())
        .ok();
    assert_eq!(out.stdout.lines().count(), total + 1, "{out:?}");
    assert!(!out.stderr.contains("--cursor"), "{out:?}");
}

#[test]
fn trail_lists_the_write_and_the_read() {
    let env = Env::start();
    let identity = write_two_read_one(&env);

    let doc = env
        .run(&["audit", "trail", "app/audit/one", "--json"])
        .ok()
        .json();
    let found = entries(&doc);
    let actions: Vec<&str> = found
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["read", "write"], "newest first: {doc}");
    assert!(found.iter().all(|e| e["path"] == "app/audit/one"), "{doc}");
    assert!(found.iter().all(|e| e["version"] == 1), "{doc}");

    let out = env.run(&["audit", "trail", "app/audit/one"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(lines[0].starts_with("TIME"), "{out:?}");
    assert!(!lines[0].contains("PATH"), "{out:?}");
    assert!(
        lines[1].contains(" read ") && lines[1].contains(&identity),
        "{out:?}"
    );
    assert!(lines[2].contains(" write "), "{out:?}");
    assert!(!out.stdout.contains("AUDIT-s3cret"), "{out:?}");

    // Paging, and a path nobody touched.
    let doc = env
        .run(&[
            "audit",
            "trail",
            "app/audit/one",
            "--limit",
            "1",
            "--all",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(entries(&doc).len(), 2, "{doc}");
    let out = env.run(&["audit", "trail", "app/audit/none"]).ok();
    assert_eq!(out.stdout, "No audit entries for app/audit/none.\n");
    env.run(&["audit", "trail", "app/../etc"])
        .fails_with(5, "Error: invalid_path:");
}

#[test]
fn summary_reports_the_counts() {
    let env = Env::start();
    let identity = write_two_read_one(&env);

    let doc = env.run(&["audit", "summary", "--json"]).ok().json();
    assert_eq!(count_of(&doc["by_action"], "write"), 2, "{doc}");
    assert_eq!(count_of(&doc["by_action"], "read"), 1, "{doc}");
    assert!(count_of(&doc["by_outcome"], "success") >= 3, "{doc}");
    assert!(count_of(&doc["by_identity"], &identity) >= 3, "{doc}");
    assert!(count_of(&doc["top_paths"], "app/audit/one") >= 2, "{doc}");
    assert!(count_of(&doc["top_paths"], "app/audit/two") >= 1, "{doc}");
    assert!(doc["total"].as_u64().unwrap() >= 3, "{doc}");
    assert!(doc["start"].is_string(), "default window: {doc}");

    let out = env.run(&["audit", "summary"]).ok();
    let text = &out.stdout;
    assert!(text.starts_with("Window "), "{out:?}");
    assert!(text.contains("\nTotal "), "{out:?}");
    for section in ["BY ACTION", "BY OUTCOME", "BY IDENTITY", "TOP PATHS"] {
        assert!(
            text.contains(&format!("\n\n{section}")),
            "{section}: {out:?}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["write", "2"])),
        "{out:?}"
    );
    assert!(
        text.lines().any(|l| l.split_whitespace().eq(["read", "1"])),
        "{out:?}"
    );

    // An explicit window without the writes.
    let (_, tomorrow) = today_and_tomorrow();
    let doc = env
        .run(&["audit", "summary", "--start", &tomorrow, "--json"])
        .ok()
        .json();
    assert_eq!(doc["total"], 0, "{doc}");
}

#[test]
fn verify_says_intact_and_exits_0() {
    let env = Env::start();
    write_two_read_one(&env);
    let me = env.run(&["auth", "whoami", "--json"]).ok().json();
    let tenant = me["tenant_id"].as_str().unwrap();
    let out = env.run(&["audit", "verify"]).ok();
    // One line per chain in reach: the tenant's own, and for the dev root token (operator
    // tenant) others too, such as the chain of requests that target no tenant.
    let mut counts = std::collections::HashMap::new();
    for line in out.stdout.lines() {
        let (chain, rest) = line.split_once(": ").unwrap();
        let n: u64 = rest
            .strip_prefix("intact, ")
            .and_then(|r| r.strip_suffix(" entries").or(r.strip_suffix(" entry")))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {line:?}: {out:?}"));
        counts.insert(chain.to_owned(), n);
    }
    assert!(counts[tenant] >= 3, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let doc = env.run(&["audit", "verify", "--json"]).ok().json();
    assert_eq!(doc["intact"], true);
    let chains = doc["chains"].as_array().unwrap();
    assert_eq!(chains.len(), counts.len(), "{doc}");
    assert!(chains.iter().all(|c| c["intact"] == true), "{doc}");
    assert!(chains.iter().any(|c| c["tenant_id"] == tenant), "{doc}");
}

#[test]
fn bad_input_exits_5_with_the_validation_error() {
    let env = Env::start();
    let out = env
        .run(&["audit", "query", "--start", "yesterday"])
        .fails_with(
            5,
            "Error: validation_error: start: expected a date (2026-04-22)",
        );
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.contains("'yesterday'"), "{out:?}");
    env.run(&["audit", "summary", "--end", "2026-13-45"])
        .fails_with(5, "Error: validation_error: end:");
    env.run(&[
        "audit",
        "query",
        "--start",
        "2026-04-23",
        "--end",
        "2026-04-22",
    ])
    .fails_with(5, "Error: validation_error: start must be before end");
    // Rejected by the CLI before any request.
    env.run(&["audit", "query", "--outcome", "maybe"])
        .fails_with(5, "error: invalid value 'maybe'");
    env.run(&["audit", "query", "--limit", "0"])
        .fails_with(5, "error: invalid value '0'");
    env.run(&["audit", "trail", "app/x", "--limit", "501"])
        .fails_with(5, "error: invalid value '501'");
}

#[test]
fn without_audit_read_or_outside_the_tenant_exits_3() {
    let env = Env::start();
    env.write("app/audit/one", &["k=v"]);
    let ro = read_only_token(&env);
    for args in [
        &["audit", "query"][..],
        &["audit", "query", "--action", "read", "--json"],
        &["audit", "trail", "app/audit/one"],
        &["audit", "summary"],
        &["audit", "verify"],
    ] {
        let out = env.run_as(&ro, args).fails_with(3, "Error: access_denied:");
        assert!(out.stderr.contains("audit:read"), "{args:?}: {out:?}");
        assert!(out.stderr.contains("scaivault auth whoami"), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
    }
    // The root token may read its own tenant's trail, and no other.
    let me = env.run(&["auth", "whoami", "--json"]).ok().json();
    let tenant = me["tenant_id"].as_str().unwrap();
    env.run(&["audit", "query", "--tenant-id", tenant]).ok();
    env.run(&["audit", "summary", "--tenant-id", tenant]).ok();
    env.run(&["audit", "query", "--tenant-id", "tnt_someone_else"])
        .fails_with(3, "Error: access_denied:");
    env.run(&[
        "audit",
        "trail",
        "app/audit/one",
        "--tenant-id",
        "tnt_someone_else",
    ])
    .fails_with(3, "Error: access_denied:");
}
