//! `scaivault policies ...` against a dev server: both create forms, listing, editing, binding
//! to a service account, `policies test` (exit 0 allowed, 3 denied) and validation errors.

use serde_json::Value;

use super::Env;

/// A service account made through the API; returns its id (`sva_...`).
fn service_account(env: &Env, name: &str) -> String {
    env.api(async |client| {
        let request = scaivault_proto::identity::CreateServiceAccountRequest {
            name: name.into(),
            roles: vec!["secrets-reader".into()],
            description: None,
        };
        client.create_service_account(&request).await.unwrap().id
    })
}

fn policy_id(created: &Value) -> String {
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("pol_"), "{created}");
    id.to_owned()
}

#[test]
fn policies_help_pages_have_examples() {
    let env = Env::offline();
    for cmd in [
        &["policies"][..],
        &["policies", "list"],
        &["policies", "get"],
        &["policies", "create"],
        &["policies", "update"],
        &["policies", "delete"],
        &["policies", "bind"],
        &["policies", "unbind"],
        &["policies", "bindings"],
        &["policies", "test"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(
            out.stdout.contains("Examples:\n  scaivault policies "),
            "{cmd:?} --help has no example: {out:?}"
        );
    }
    // Exactly one of the two create forms.
    env.run_bare(&["policies", "create", "--name", "x"])
        .fails_with(1, "error: the following required arguments");
    env.run_bare(&[
        "policies",
        "create",
        "--name",
        "x",
        "--path",
        "a/*",
        "--permissions",
        "read",
        "--rules-file",
        "r.json",
    ])
    .fails_with(1, "error: the argument '--path <GLOB>' cannot be used with");
    env.run_bare(&[
        "policies",
        "create",
        "--name",
        "x",
        "--path",
        "a/*",
        "--permissions",
        "read",
        "--effect",
        "maybe",
    ])
    .fails_with(5, "error: invalid value 'maybe'");
}

#[test]
fn create_list_get_update_delete() {
    let env = Env::start();

    // The page's quick form.
    let out = env
        .run(&[
            "policies",
            "create",
            "--name",
            "Production Read",
            "--path",
            "environments/production/**",
            "--permissions",
            "read,list",
        ])
        .ok();
    assert!(
        out.stdout.starts_with("Created policy pol_")
            && out.stdout.contains("(Production Read) with 1 rule:"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("0  environments/production/**  read,list    allow"),
        "{out:?}"
    );

    // --rules-file with the REST body's structure (name from the file).
    let rules = env.home.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"name": "App", "description": "app secrets",
            "rules": [{"path": "app/**", "permissions": ["read", "list"]},
                      {"path": "app/admin/**", "permissions": ["read"], "effect": "deny"}]}"#,
    )
    .unwrap();
    let app = env
        .run(&[
            "policies",
            "create",
            "--rules-file",
            rules.to_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    let app_id = policy_id(&app);
    assert_eq!(app["name"], "App");
    assert_eq!(app["description"], "app secrets");
    assert_eq!(app["rules"][1]["effect"], "deny");

    // A plain array of rules, from stdin, with the name as a flag.
    let ci = env
        .run_stdin(
            &[
                "policies",
                "create",
                "--name",
                "CI",
                "--rules-file",
                "-",
                "--json",
            ],
            r#"[{"path": "ci/*", "permissions": ["read"]}]"#,
        )
        .ok()
        .json();
    let ci_id = policy_id(&ci);

    // list: table and JSON.
    let out = env.run(&["policies", "list"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("RULES"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("app/** (read,list); deny app/admin/** (read)"),
        "{out:?}"
    );
    let listed = env.run(&["policies", "list", "--json"]).ok().json();
    let names: Vec<&str> = listed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{listed}");
    for name in ["Production Read", "App", "CI"] {
        assert!(names.contains(&name), "{name} missing: {listed}");
    }

    // get
    let out = env.run(&["policies", "get", &app_id]).ok();
    assert!(
        out.stdout.starts_with(&format!("ID           {app_id}\n")),
        "{out:?}"
    );
    assert!(out.stdout.contains("Description  app secrets"), "{out:?}");
    assert!(
        out.stdout.contains("1  app/admin/**  read         deny"),
        "{out:?}"
    );
    let got = env.run(&["policies", "get", &app_id, "--json"]).ok().json();
    assert_eq!(got["rules"], app["rules"]);

    // update: what is not given is kept.
    let out = env
        .run(&["policies", "update", &ci_id, "--description", "for CI"])
        .ok();
    assert!(out.stdout.contains("(CI), now 1 rule:"), "{out:?}");
    let updated = env.run(&["policies", "get", &ci_id, "--json"]).ok().json();
    assert_eq!(updated["name"], "CI");
    assert_eq!(updated["description"], "for CI");
    assert_eq!(updated["rules"], ci["rules"]);
    let updated = env
        .run(&[
            "policies",
            "update",
            &ci_id,
            "--path",
            "ci/**",
            "--permissions",
            "read,list",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(updated["description"], "for CI");
    assert_eq!(updated["rules"][0]["path"], "ci/**");
    assert_eq!(
        updated["rules"][0]["permissions"],
        serde_json::json!(["read", "list"])
    );

    // Validation errors exit 5 and name the field.
    env.run(&[
        "policies",
        "create",
        "--name",
        "Bad",
        "--path",
        "app/**x",
        "--permissions",
        "read",
    ])
    .fails_with(5, "Error: validation_error: path: ");
    env.run(&[
        "policies",
        "create",
        "--name",
        "Bad",
        "--path",
        "app/*",
        "--permissions",
        "read,fly",
    ])
    .fails_with(5, "Error: validation_error: permissions[1]: ");
    env.run_stdin(
        &["policies", "create", "--name", "Bad", "--rules-file", "-"],
        r#"[{"path": "a/*", "permissions": ["read"]}, {"path": "/abs", "permissions": ["read"]}]"#,
    )
    .fails_with(5, "Error: validation_error: rules[1].path: ");
    // A misspelt key is refused before anything is sent (it could have been a deny).
    env.run_stdin(
        &["policies", "create", "--name", "Bad", "--rules-file", "-"],
        r#"[{"path": "a/*", "permissions": ["read"], "efect": "deny"}]"#,
    )
    .fails_with(
        5,
        "Error: validation_error: stdin: rules[0]: unknown field `efect`",
    );
    env.run_stdin(
        &["policies", "create", "--rules-file", "-"],
        r#"[{"path": "a/*", "permissions": ["read"]}]"#,
    )
    .fails_with(5, "Error: validation_error: --name is required");
    // A duplicate name is a conflict (exit 1).
    env.run(&[
        "policies",
        "create",
        "--name",
        "CI",
        "--path",
        "x/*",
        "--permissions",
        "read",
    ])
    .fails_with(1, "Error: conflict: ");

    // delete
    let out = env.run(&["policies", "delete", &ci_id]).ok();
    assert_eq!(out.stdout, format!("Deleted policy {ci_id}\n"));
    env.run(&["policies", "get", &ci_id])
        .fails_with(4, "Error: not_found:");
    env.run(&["policies", "delete", &ci_id])
        .fails_with(4, "Error: not_found:");
}

#[test]
fn bind_to_a_service_account_and_explain_decisions() {
    let env = Env::start();
    let sva = service_account(&env, "ci");
    let identity = format!("service_account:{sva}");
    let rules = env.home.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"[{"path": "app/**", "permissions": ["read", "list"]},
            {"path": "app/admin/**", "permissions": ["read"], "effect": "deny"}]"#,
    )
    .unwrap();
    let app = env
        .run(&[
            "policies",
            "create",
            "--name",
            "App Read",
            "--rules-file",
            rules.to_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    let app_id = policy_id(&app);

    let out = env
        .run(&[
            "policies",
            "bind",
            &app_id,
            "--identity-type",
            "service_account",
            "--identity-id",
            &identity,
        ])
        .ok();
    assert_eq!(
        out.stdout,
        format!("Bound policy {app_id} to {identity} (service_account)\n")
    );
    let out = env.run(&["policies", "bindings", &app_id]).ok();
    assert!(out.stdout.starts_with("IDENTITY"), "{out:?}");
    assert!(out.stdout.contains(&identity), "{out:?}");
    // Binding twice is a conflict.
    env.run(&["policies", "bind", &app_id, "--identity-id", &sva])
        .fails_with(1, "Error: conflict:");

    // Allowed: exit 0, the explanation names the policy and the rule.
    let out = env
        .run(&[
            "policies",
            "test",
            "app/db/credentials",
            "read",
            "--identity",
            &identity,
        ])
        .ok();
    assert!(
        out.stdout.starts_with(&format!(
            "allowed: rule 0 (app/**) of policy App Read ({app_id}) allows read on app/db/credentials\n"
        )),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("Decision   ALLOWED (allowed)"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("Policy     App Read ({app_id})")),
        "{out:?}"
    );

    // Denied by a deny rule: exit 3, names the rule.
    let out = env.run(&[
        "policies",
        "test",
        "app/admin/root",
        "read",
        "--identity",
        &identity,
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stdout.starts_with("denied: rule 1 (app/admin/**)"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("Rule       #1 app/admin/** (deny)"),
        "{out:?}"
    );
    assert!(out.stderr.is_empty(), "{out:?}");

    // Denied because nothing matches: exit 3, says so.
    let out = env.run(&[
        "policies",
        "test",
        "other/x",
        "read",
        "--identity",
        &identity,
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stdout
            .starts_with("denied by default: no policy bound to"),
        "{out:?}"
    );
    assert!(out.stdout.contains("DENIED (no_match)"), "{out:?}");
    let doc = env.run(&[
        "policies",
        "test",
        "app/db",
        "write",
        "--identity",
        &identity,
        "--json",
    ]);
    assert_eq!(doc.code, 3, "{doc:?}");
    let doc = doc.json();
    assert_eq!(doc["allowed"], false);
    assert_eq!(doc["reason"], "no_match");

    // Yourself (the dev root is a tenant admin).
    let out = env
        .run(&["policies", "test", "anything/at/all", "delete"])
        .ok();
    assert!(
        out.stdout.contains("tenant admins may do everything"),
        "{out:?}"
    );

    // Groups: a policy bound to a group applies with --groups.
    let out = env
        .run(&[
            "policies",
            "create",
            "--name",
            "Dev",
            "--path",
            "dev/**",
            "--permissions",
            "read",
            "--json",
        ])
        .ok()
        .json();
    let dev_id = policy_id(&out);
    env.run(&[
        "policies",
        "bind",
        &dev_id,
        "--identity-type",
        "group",
        "--identity-id",
        "group:developers",
    ])
    .ok();
    let alice = ["--identity", "user:alice@acme.example"];
    let mut args = vec!["policies", "test", "dev/db", "read"];
    args.extend(alice);
    assert_eq!(env.run(&args).code, 3);
    args.extend(["--groups", "developers"]);
    let out = env.run(&args).ok();
    assert!(out.stdout.contains("policy Dev"), "{out:?}");
    assert!(out.stdout.contains("group:developers"), "{out:?}");

    // Unbinding takes effect at once.
    let out = env
        .run(&["policies", "unbind", &app_id, "--identity-id", &identity])
        .ok();
    assert!(out.stdout.starts_with("Removed the binding"), "{out:?}");
    let out = env.run(&[
        "policies",
        "test",
        "app/db/credentials",
        "read",
        "--identity",
        &identity,
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    env.run(&["policies", "unbind", &app_id, "--identity-id", &identity])
        .fails_with(4, "Error: not_found:");
    let out = env.run(&["policies", "bindings", &app_id]).ok();
    assert_eq!(
        out.stdout,
        format!("Policy {app_id} is not bound to anyone.\n")
    );

    // Bad input.
    env.run(&["policies", "test", "app/db", "fly"])
        .fails_with(5, "Error: validation_error: permission: ");
    env.run(&["policies", "bind", &app_id, "--identity-id", "developers"])
        .fails_with(5, "Error: validation_error: cannot tell what developers is");
    env.run(&[
        "policies",
        "bind",
        "pol_missing",
        "--identity-id",
        "group:developers",
    ])
    .fails_with(4, "Error: not_found:");
}
