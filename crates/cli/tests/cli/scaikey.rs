//! `scaivault scaikey ...` against a dev server: registering a tenant prints a working admin
//! token, a taken slug is a conflict, `status` shows the tenants, and `sync` says why it is not
//! available instead of pretending.

use super::Env;

/// The value of a `Label  value` line of a fields block.
fn field<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix(label)
                .filter(|rest| rest.starts_with("  "))
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("no {label} in {stdout}"))
}

#[test]
fn scaikey_help_pages_have_examples() {
    let env = Env::offline();
    for cmd in [
        &["scaikey"][..],
        &["scaikey", "register"],
        &["scaikey", "status"],
        &["scaikey", "sync"],
        &["scaikey", "sync-status"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(
            out.stdout.contains("Examples:\n  scaivault scaikey "),
            "{cmd:?} --help has no example: {out:?}"
        );
    }
}

#[test]
fn register_a_tenant_and_use_its_admin_token() {
    let env = Env::start();

    // The page's example.
    let out = env
        .run(&[
            "scaikey",
            "register",
            "--scope",
            "tenant",
            "--tenant-slug",
            "acme",
            "--email",
            "admin@acme.example",
        ])
        .ok();
    assert!(out.stderr.contains("shown only once"), "{out:?}");
    let tenant = field(&out.stdout, "Tenant").to_owned();
    let token = field(&out.stdout, "Token").to_owned();
    assert!(tenant.starts_with("tnt_"), "{out:?}");
    assert!(token.starts_with("skt_"), "{out:?}");
    assert_eq!(field(&out.stdout, "Partner"), "ptn_dev");
    assert_eq!(field(&out.stdout, "Admin"), "user:admin@acme.example");
    assert!(
        field(&out.stdout, "Token ID").starts_with("tok_"),
        "{out:?}"
    );
    assert!(!out.stderr.contains(&token), "{out:?}");

    // The token is the new tenant's admin.
    let me = env
        .run_as(&token, &["auth", "whoami", "--json"])
        .ok()
        .json();
    assert_eq!(me["identity_id"], "user:admin@acme.example");
    assert_eq!(me["tenant_id"], tenant.as_str());
    assert_eq!(me["partner_id"], "ptn_dev");
    let scopes: Vec<&str> = me["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for scope in [
        "secrets:read",
        "secrets:write",
        "policies:write",
        "audit:read",
    ] {
        assert!(scopes.contains(&scope), "{scope} missing: {me}");
    }
    // ... and administers it: its policies are its own.
    env.run_as(
        &token,
        &[
            "policies",
            "create",
            "--name",
            "Acme Only",
            "--path",
            "acme/**",
            "--permissions",
            "read",
        ],
    )
    .ok();
    let ours = env.run(&["policies", "list", "--json"]).ok().json();
    assert_eq!(ours["policies"], serde_json::json!([]), "{ours}");
    env.run_as(&token, &["secrets", "write", "acme/db", "k=v"])
        .ok();

    // The same slug again: the server's 409, which the CLI maps to exit 1.
    let out = env
        .run(&[
            "scaikey",
            "register",
            "--scope",
            "tenant",
            "--tenant-slug",
            "acme",
            "--email",
            "other@acme.example",
        ])
        .fails_with(1, "Error: conflict: ");
    assert!(out.stdout.is_empty(), "{out:?}");

    // --json: the API's response (with the token).
    let doc = env
        .run(&[
            "scaikey",
            "register",
            "--scope",
            "tenant",
            "--tenant-slug",
            "globex",
            "--email",
            "admin@globex.example",
            "--json",
        ])
        .ok()
        .json();
    assert!(doc["token"].as_str().unwrap().starts_with("skt_"), "{doc}");
    let globex = doc["tenant_id"].as_str().unwrap().to_owned();

    // status: the identity and the partner's tenants.
    let out = env.run(&["scaikey", "status"]).ok();
    assert_eq!(field(&out.stdout, "Identity"), "user:root@dev.local");
    assert_eq!(field(&out.stdout, "Partner"), "ptn_dev");
    assert!(out.stdout.contains("TENANT"), "{out:?}");
    for (id, slug) in [(tenant.as_str(), "acme"), (globex.as_str(), "globex")] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(id) && l.contains(slug)),
            "{slug} missing: {out:?}"
        );
    }
    let doc = env.run(&["scaikey", "status", "--json"]).ok().json();
    assert_eq!(doc["identity"]["tenant_id"], "tnt_dev");
    let slugs: Vec<&str> = doc["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert!(
        slugs.contains(&"acme") && slugs.contains(&"globex"),
        "{doc}"
    );

    // The new tenant admin sees its own tenant only.
    let doc = env
        .run_as(&token, &["scaikey", "status", "--json"])
        .ok()
        .json();
    assert_eq!(doc["identity"]["tenant_id"], tenant.as_str());
    assert_eq!(doc["tenants"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["tenants"][0]["slug"], "acme");
}

#[test]
fn register_input_is_checked() {
    let env = Env::start();
    env.run(&[
        "scaikey",
        "register",
        "--scope",
        "tenant",
        "--email",
        "a@b.example",
    ])
    .fails_with(
        5,
        "Error: validation_error: --scope tenant needs --tenant-slug",
    );
    env.run(&[
        "scaikey",
        "register",
        "--scope",
        "partner",
        "--email",
        "a@b.example",
    ])
    .fails_with(
        5,
        "Error: validation_error: --scope partner needs --partner-name",
    );
    env.run(&[
        "scaikey",
        "register",
        "--scope",
        "galaxy",
        "--email",
        "a@b.example",
    ])
    .fails_with(5, "error: invalid value 'galaxy'");
    env.run(&[
        "scaikey",
        "register",
        "--scope",
        "tenant",
        "--tenant-slug",
        "Not A Slug",
        "--email",
        "a@b.example",
    ])
    .fails_with(5, "Error: validation_error: ");
    env.run(&[
        "scaikey",
        "register",
        "--scope",
        "tenant",
        "--tenant-slug",
        "fine",
        "--email",
        "not-an-email",
    ])
    .fails_with(5, "Error: validation_error: email: ");
    // Only partner admins register tenants.
    let registered = env
        .run(&[
            "scaikey",
            "register",
            "--scope",
            "tenant",
            "--tenant-slug",
            "initech",
            "--email",
            "admin@initech.example",
            "--json",
        ])
        .ok()
        .json();
    let tenant_admin = registered["token"].as_str().unwrap();
    env.run_as(
        tenant_admin,
        &[
            "scaikey",
            "register",
            "--scope",
            "tenant",
            "--tenant-slug",
            "sub",
            "--email",
            "a@b.example",
        ],
    )
    .fails_with(3, "Error: access_denied: ");
}

#[test]
fn sync_is_not_available_and_says_why() {
    // No server is contacted: there is nothing to sync with.
    let env = Env::offline();
    for args in [
        &["scaikey", "sync"][..],
        &["scaikey", "sync-status", "--history"],
    ] {
        let out = env.run(args).fails_with(1, "Error: sync_not_available: ");
        assert!(out.stderr.contains("its own identity registry"), "{out:?}");
        assert!(out.stderr.contains("JWT"), "{out:?}");
        assert!(
            out.stderr.contains("PUT /v1/identity/users/{id}/groups"),
            "{out:?}"
        );
        assert!(out.stdout.is_empty(), "{out:?}");
    }
}
