//! `scaivault dynamic ...` against a dev server and real peers: the CLI reference's Dynamic
//! secrets commands and its "one-shot lease for a script" recipe verbatim, against a
//! password-authenticated PostgreSQL cluster made for the test (psql checks the leased
//! credentials), an SSH engine whose certificate logs in to a real sshd, and exit codes
//! (unknown engine or role 4, bad input 5, missing scope 3).

use scaivault_testpeers::postgres::PgCluster;
use scaivault_testpeers::sshd::Sshd;

use super::{Env, read_only_token};

const READONLY: &str = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL \
                        '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";";

#[test]
fn dynamic_help_pages_have_examples() {
    let env = Env::offline();
    for cmd in [
        &["dynamic"][..],
        &["dynamic", "engines"],
        &["dynamic", "roles"],
        &["dynamic", "creds"],
        &["dynamic", "leases"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(out.stdout.contains("Examples:"), "{cmd:?}: {out:?}");
    }
}

/// A database `users` in the cluster's `postgres` database for the recipe's query.
fn seed_users(cluster: &PgCluster) {
    let url = cluster.admin_url();
    let (user, password) = user_and_password(&url);
    cluster
        .psql(
            &user,
            &password,
            "CREATE TABLE IF NOT EXISTS users (id int); INSERT INTO users VALUES (1), (2);",
        )
        .unwrap();
}

/// The user and password of a `postgres://user:password@host/db` URL.
fn user_and_password(url: &str) -> (String, String) {
    let rest = url.split_once("://").unwrap().1;
    let userinfo = rest.split_once('@').unwrap().0;
    let (user, password) = userinfo.split_once(':').unwrap();
    (user.to_owned(), password.to_owned())
}

#[test]
fn the_reference_dynamic_commands_and_the_one_shot_recipe_work_against_postgres() {
    let env = Env::start();
    let cluster = PgCluster::create();
    seed_users(&cluster);
    let admin_url = cluster.admin_url();
    let (_, admin_password) = user_and_password(&admin_url);

    let created = env
        .run(&[
            "dynamic",
            "engines",
            "create",
            "postgres-prod",
            "--type",
            "postgres",
            "--connection-url",
            &admin_url,
        ])
        .ok();
    assert!(created.stdout.contains("postgres-prod"), "{created:?}");
    assert!(!created.stdout.contains(&admin_password), "{created:?}");
    env.run(&[
        "dynamic",
        "roles",
        "create",
        "postgres-prod",
        "readonly",
        "--creation-statements",
        READONLY,
        "--default-ttl",
        "1h",
        "--max-ttl",
        "24h",
    ])
    .ok();

    // The reference's commands, verbatim.
    let engines = env.run(&["dynamic", "engines", "list"]).ok();
    assert!(engines.stdout.contains("postgres-prod"), "{engines:?}");
    assert!(!engines.stdout.contains(&admin_password), "{engines:?}");
    let engine_json = env
        .run(&["dynamic", "engines", "get", "postgres-prod", "--json"])
        .ok();
    assert!(!engine_json.stdout.contains(&admin_password));
    let roles = env.run(&["dynamic", "roles", "list", "postgres-prod"]).ok();
    assert!(roles.stdout.contains("readonly"), "{roles:?}");

    let lease = env
        .run(&[
            "dynamic",
            "creds",
            "postgres-prod",
            "readonly",
            "--ttl",
            "2h",
            "--json",
        ])
        .ok()
        .json();
    let lease_id = lease["lease_id"].as_str().unwrap().to_owned();
    assert!(lease_id.starts_with("lease_"), "{lease}");
    let url = lease["data"]["connection_url"].as_str().unwrap();
    let username = lease["data"]["username"].as_str().unwrap().to_owned();
    let password = lease["data"]["password"].as_str().unwrap().to_owned();
    assert!(url.contains(&username), "{url}");
    assert_eq!(lease["lease_duration"], 7200, "{lease}");
    cluster
        .psql(&username, &password, "SELECT count(*) FROM users")
        .unwrap();

    let listed = env
        .run(&["dynamic", "leases", "list", "--engine", "postgres-prod"])
        .ok();
    assert!(listed.stdout.contains(&lease_id), "{listed:?}");
    assert!(!listed.stdout.contains(&password), "{listed:?}");
    let renewed = env
        .run(&["dynamic", "leases", "renew", &lease_id, "--ttl", "1h"])
        .ok();
    assert!(renewed.stdout.contains("Renewed"), "{renewed:?}");
    let revoked = env.run(&["dynamic", "leases", "revoke", &lease_id]).ok();
    assert!(revoked.stdout.contains("Revoked"), "{revoked:?}");
    let refused = cluster.psql(&username, &password, "SELECT 1");
    assert!(refused.is_err(), "the revoked user still logs in");

    // The one-shot recipe, verbatim (psql and jq on PATH).
    let recipe = env
        .bash(
            r#"set -e
lease=$(scaivault dynamic creds postgres-prod readonly --ttl 30m --json)
url=$(echo "$lease" | jq -r '.data.connection_url')
lease_id=$(echo "$lease" | jq -r '.lease_id')
# Use it
psql "$url" -c "SELECT count(*) FROM users"
# Revoke as soon as we're done
scaivault dynamic leases revoke "$lease_id"
echo "lease=$lease_id"
"#,
        )
        .ok();
    assert!(recipe.stdout.contains("2"), "{recipe:?}");
    let recipe_lease = recipe
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("lease="))
        .unwrap()
        .to_owned();
    let shown = env
        .run(&["dynamic", "leases", "get", &recipe_lease, "--json"])
        .ok()
        .json();
    assert_eq!(shown["status"], "revoked", "{shown}");

    // Exit codes: unknown engine or role 4, bad TTL 5, no dynamic scope 3.
    env.run(&["dynamic", "creds", "nope", "readonly"])
        .fails_with(4, "Error: engine_not_found");
    env.run(&["dynamic", "creds", "postgres-prod", "nope"])
        .fails_with(4, "Error: role_not_found");
    env.run(&["dynamic", "roles", "list", "nope"])
        .fails_with(4, "Error: engine_not_found");
    env.run(&["dynamic", "leases", "revoke", "lease_nope"])
        .fails_with(4, "Error: lease_not_found");
    env.run(&[
        "dynamic",
        "creds",
        "postgres-prod",
        "readonly",
        "--ttl",
        "soon",
    ])
    .fails_with(5, "Error: validation_error");
    let reader = read_only_token(&env);
    env.run_as(&reader, &["dynamic", "creds", "postgres-prod", "readonly"])
        .fails_with(3, "Error: access_denied");

    // An unreachable database is refused with a clear error, and nothing is stored.
    env.run(&[
        "dynamic",
        "engines",
        "create",
        "down",
        "--type",
        "postgres",
        "--connection-url",
        "postgres://vault:secret@127.0.0.1:1/postgres",
    ])
    .fails_with(1, "Error: engine_unreachable");
    env.run(&["dynamic", "engines", "get", "down"])
        .fails_with(4, "Error: engine_not_found");

    // Deleting an engine with live leases needs --force, which revokes them.
    let live = env
        .run(&["dynamic", "creds", "postgres-prod", "readonly", "--json"])
        .ok()
        .json();
    env.run(&["dynamic", "engines", "delete", "postgres-prod"])
        .fails_with(1, "Error: engine_has_leases");
    env.run(&["dynamic", "engines", "delete", "postgres-prod", "--force"])
        .ok();
    let user = live["data"]["username"].as_str().unwrap();
    let pass = live["data"]["password"].as_str().unwrap();
    assert!(cluster.psql(user, pass, "SELECT 1").is_err());
}

#[test]
fn an_ssh_engine_signs_certificates_sshd_accepts() {
    let env = Env::start();
    env.run(&["dynamic", "engines", "create", "ssh-prod", "--type", "ssh"])
        .ok();
    let ca = env.run(&["dynamic", "engines", "ca", "ssh-prod"]).ok();
    let ca_key = ca.stdout.trim().to_owned();
    assert!(
        ca_key.starts_with("ssh-ed25519 "),
        "not an OpenSSH public key: {ca:?}"
    );
    let sshd = Sshd::start(&ca_key);
    let me = whoami();
    env.run(&[
        "dynamic",
        "roles",
        "create",
        "ssh-prod",
        "ops",
        "--allowed-users",
        &me,
        "--default-user",
        &me,
        "--default-ttl",
        "10m",
    ])
    .ok();

    // A generated key pair: certificate and key written to files, the key with mode 0600.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("id-cert.pub");
    let key = dir.path().join("id");
    env.run(&[
        "dynamic",
        "creds",
        "ssh-prod",
        "ops",
        "--cert-out",
        cert.to_str().unwrap(),
        "--key-out",
        key.to_str().unwrap(),
    ])
    .ok();
    let cert_text = std::fs::read_to_string(&cert).unwrap();
    let key_text = std::fs::read_to_string(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    sshd.login(&me, &key_text, &cert_text)
        .expect("the leased certificate logs in");
}

fn whoami() -> String {
    let out = std::process::Command::new("whoami").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
