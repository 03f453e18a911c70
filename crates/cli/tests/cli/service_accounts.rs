//! `scaivault service-accounts ...` against a dev server: accounts, API keys shown once or
//! stored with `--store-in`, keys working as bearers under a policy, and deleted keys failing.

use serde_json::Value;

use super::Env;

/// Creates an account through the CLI; returns its JSON.
fn create_account(env: &Env, name: &str, roles: &str) -> Value {
    env.run(&[
        "service-accounts",
        "create",
        "--name",
        name,
        "--roles",
        roles,
        "--json",
    ])
    .ok()
    .json()
}

/// Binds a policy allowing `read` under `app/**` to the account.
fn allow_app_reads(env: &Env, sva: &str) {
    let policy = env
        .run(&[
            "policies",
            "create",
            "--name",
            &format!("read app for {sva}"),
            "--path",
            "app/**",
            "--permissions",
            "read",
            "--json",
        ])
        .ok()
        .json();
    env.run(&[
        "policies",
        "bind",
        policy["id"].as_str().unwrap(),
        "--identity-type",
        "service_account",
        "--identity-id",
        sva,
    ])
    .ok();
}

#[test]
fn service_accounts_help_pages_have_examples() {
    let env = Env::offline();
    for cmd in [
        &["service-accounts"][..],
        &["service-accounts", "create"],
        &["service-accounts", "list"],
        &["service-accounts", "get"],
        &["service-accounts", "delete"],
        &["service-accounts", "create-key"],
        &["service-accounts", "list-keys"],
        &["service-accounts", "delete-key"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(
            out.stdout
                .contains("Examples:\n  scaivault service-accounts "),
            "{cmd:?} --help has no example: {out:?}"
        );
    }
    let out = env.run_bare(&["service-accounts", "--help"]).ok();
    assert!(out.stdout.contains("--store-in <path>"), "{out:?}");
}

#[test]
fn create_key_prints_it_once_and_it_works_until_deleted() {
    let env = Env::start();
    env.write("app/db/credentials", &["username=admin", "password=s3cret"]);
    env.write("other/thing", &["k=v"]);

    // The page's example.
    let out = env
        .run(&[
            "service-accounts",
            "create",
            "--name",
            "CI Pipeline",
            "--roles",
            "secrets-reader",
        ])
        .ok();
    assert!(out.stdout.starts_with("ID           sva_"), "{out:?}");
    assert!(out.stdout.contains("Name         CI Pipeline"), "{out:?}");
    assert!(
        out.stdout.contains("Roles        secrets-reader"),
        "{out:?}"
    );
    assert!(out.stdout.contains("Scopes       secrets:read"), "{out:?}");
    let sva = out.stdout.split_whitespace().nth(1).unwrap().to_owned();
    assert!(sva.starts_with("sva_"), "{out:?}");

    let listed = env.run(&["service-accounts", "list"]).ok();
    assert!(listed.stdout.starts_with("ID"), "{listed:?}");
    assert!(listed.stdout.contains(&sva), "{listed:?}");
    let got = env
        .run(&["service-accounts", "get", &sva, "--json"])
        .ok()
        .json();
    assert_eq!(got["identity_id"], format!("service_account:{sva}"));

    // The page's example: the key alone on stdout, its details on stderr.
    let out = env
        .run(&[
            "service-accounts",
            "create-key",
            &sva,
            "--name",
            "Production Key",
        ])
        .ok();
    let key = out.stdout.trim().to_owned();
    assert!(key.starts_with("svk_"), "{out:?}");
    assert_eq!(out.stdout, format!("{key}\n"));
    assert!(out.stderr.contains("shown only once"), "{out:?}");
    assert!(!out.stderr.contains(&key), "{out:?}");
    let key_id = out
        .stderr
        .split_whitespace()
        .find(|w| w.starts_with("key_"))
        .unwrap()
        .to_owned();

    // No policy yet: the key authenticates, but may read nothing.
    let me = env.run_as(&key, &["auth", "whoami", "--json"]).ok().json();
    assert_eq!(me["identity_id"], format!("service_account:{sva}"));
    env.run_as(&key, &["secrets", "read", "app/db/credentials"])
        .fails_with(3, "Error: access_denied:");
    allow_app_reads(&env, &sva);
    let out = env
        .run_as(
            &key,
            &[
                "secrets",
                "read",
                "app/db/credentials",
                "--field",
                "username",
            ],
        )
        .ok();
    assert_eq!(out.stdout, "admin\n");
    env.run_as(&key, &["secrets", "read", "other/thing"])
        .fails_with(3, "Error: access_denied:");

    // --store-in: written into a secret, not printed.
    let out = env
        .run(&[
            "service-accounts",
            "create-key",
            &sva,
            "--name",
            "Stored Key",
            "--ttl",
            "30d",
            "--store-in",
            "ci/keys/scaivault",
        ])
        .ok();
    assert!(!out.stdout.contains("svk_"), "{out:?}");
    assert!(!out.stderr.contains("svk_"), "{out:?}");
    assert!(
        out.stdout
            .contains("Stored in ci/keys/scaivault (version 1, field api_key)"),
        "{out:?}"
    );
    let stored_id = out
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("key_"))
        .unwrap()
        .to_owned();
    let secret =
        env.api(async |client| client.read_secret("ci/keys/scaivault", None).await.unwrap());
    assert_eq!(secret.data["key_id"], stored_id.as_str());
    assert_eq!(secret.data["service_account_id"], sva.as_str());
    assert_eq!(secret.secret_type.as_str(), "api_key");
    assert!(
        secret.expires_at.is_some(),
        "the secret expires with the key"
    );
    let stored_key = secret.data["api_key"].as_str().unwrap().to_owned();
    assert!(stored_key.starts_with("svk_"));
    assert_ne!(stored_key, key);
    let out = env
        .run_as(
            &stored_key,
            &[
                "secrets",
                "read",
                "app/db/credentials",
                "--field",
                "password",
            ],
        )
        .ok();
    assert_eq!(out.stdout, "s3cret\n");

    // --store-in with --json: the key's details and where it went, never the key.
    let doc = env
        .run(&[
            "service-accounts",
            "create-key",
            &sva,
            "--name",
            "Json Stored",
            "--store-in",
            "ci/keys/second",
            "--json",
        ])
        .ok();
    assert!(!doc.stdout.contains("svk_"), "{doc:?}");
    let doc = doc.json();
    assert_eq!(doc["stored_in"]["path"], "ci/keys/second");
    assert_eq!(doc["service_account_id"], sva.as_str());
    assert!(doc.get("key").is_none(), "{doc}");

    // list-keys: ids and names, no plaintext.
    let out = env.run(&["service-accounts", "list-keys", &sva]).ok();
    assert!(out.stdout.starts_with("ID"), "{out:?}");
    for id in [&key_id, &stored_id] {
        assert!(out.stdout.contains(id.as_str()), "{id} missing: {out:?}");
    }
    assert!(out.stdout.contains("Production Key"), "{out:?}");
    assert!(!out.stdout.contains("svk_"), "{out:?}");
    let keys = env
        .run(&["service-accounts", "list-keys", &sva, "--json"])
        .ok();
    assert!(!keys.stdout.contains("svk_"), "{keys:?}");
    assert_eq!(keys.json()["keys"].as_array().unwrap().len(), 3);

    // delete-key: the key is refused from then on (exit 2); the other keys still work.
    let out = env
        .run(&["service-accounts", "delete-key", &sva, &key_id])
        .ok();
    assert_eq!(out.stdout, format!("Deleted API key {key_id} of {sva}\n"));
    env.run_as(&key, &["secrets", "read", "app/db/credentials"])
        .fails_with(2, "Error: authentication_required:");
    env.run_as(&stored_key, &["auth", "whoami"]).ok();
    env.run(&["service-accounts", "delete-key", &sva, &key_id])
        .fails_with(4, "Error: not_found:");

    // Deleting the account ends every key.
    let out = env.run(&["service-accounts", "delete", &sva]).ok();
    assert!(
        out.stdout
            .starts_with(&format!("Deleted service account {sva}"))
    );
    env.run_as(&stored_key, &["auth", "whoami"])
        .fails_with(2, "Error: authentication_required:");
    env.run(&["service-accounts", "get", &sva])
        .fails_with(4, "Error: not_found:");
}

#[test]
fn a_key_that_cannot_be_stored_is_deleted_again() {
    let env = Env::start();
    let sva = create_account(&env, "rollback", "secrets-reader")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Refused by the client before any key exists.
    env.run(&[
        "service-accounts",
        "create-key",
        &sva,
        "--name",
        "k",
        "--store-in",
        "a/../b",
    ])
    .fails_with(5, "Error: invalid_path:");
    // Refused by the server after the key was created: the key is deleted again.
    let out = env
        .run(&[
            "service-accounts",
            "create-key",
            &sva,
            "--name",
            "k",
            "--store-in",
            "bad path",
        ])
        .fails_with(5, "Error: invalid_path:");
    assert!(out.stderr.contains("so it was deleted again"), "{out:?}");
    assert!(!out.stderr.contains("svk_"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let out = env.run(&["service-accounts", "list-keys", &sva]).ok();
    assert_eq!(out.stdout, format!("No API keys for {sva}.\n"));
}

#[test]
fn bad_input_and_missing_accounts() {
    let env = Env::start();
    env.run(&[
        "service-accounts",
        "create",
        "--name",
        "x",
        "--roles",
        "secrets-reader,wizard",
    ])
    .fails_with(
        5,
        "Error: validation_error: roles[1]: unknown role 'wizard'",
    );
    let sva = create_account(&env, "ttl", "secrets-reader,auditor");
    assert_eq!(
        sva["roles"],
        serde_json::json!(["secrets-reader", "auditor"])
    );
    let sva = sva["id"].as_str().unwrap();
    env.run(&[
        "service-accounts",
        "create-key",
        sva,
        "--name",
        "k",
        "--ttl",
        "soon",
    ])
    .fails_with(5, "Error: validation_error: ttl: ");
    env.run(&[
        "service-accounts",
        "create-key",
        "sva_missing",
        "--name",
        "k",
    ])
    .fails_with(4, "Error: not_found:");
    env.run(&["service-accounts", "list-keys", "sva_missing"])
        .fails_with(4, "Error: not_found:");
    env.run(&["service-accounts", "delete", "sva_missing"])
        .fails_with(4, "Error: not_found:");
    let out = env.run(&["service-accounts", "list-keys", sva]).ok();
    assert_eq!(out.stdout, format!("No API keys for {sva}.\n"));
}
