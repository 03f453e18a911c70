//! `scaivault pki ...` against a dev server, with the CLI reference's PKI commands verbatim and
//! OpenSSL checking what comes out: CA creation and certificate, issuance to files, listing,
//! revocation, renewal, the CSR workflow with a key made by `openssl req`, and exit codes (bad
//! CSR or validity 5, unknown CA 4, missing scope 3).

use std::path::Path;
use std::process::Command;

use super::{Env, read_only_token};

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command is needed by these tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?}:\n{text}");
    text
}

fn id_of(out: &super::Out) -> String {
    out.json()["id"].as_str().unwrap().to_owned()
}

#[test]
fn pki_help_pages_have_examples() {
    let env = Env::offline();
    for cmd in [
        &["pki"][..],
        &["pki", "ca"],
        &["pki", "ca", "create"],
        &["pki", "ca", "cert"],
        &["pki", "certs"],
        &["pki", "certs", "issue"],
        &["pki", "certs", "revoke"],
        &["pki", "csr"],
        &["pki", "csr", "sign"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run_bare(&args).ok();
        assert!(out.stdout.contains("Examples:"), "{cmd:?}: {out:?}");
    }
}

#[test]
fn the_reference_pki_commands_issue_revoke_and_sign_csrs() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name).to_string_lossy().into_owned();

    // CAs, as the reference shows them.
    let root = env
        .run(&[
            "pki",
            "ca",
            "create",
            "--name",
            "Root CA",
            "--common-name",
            "Acme Root CA",
            "--validity-days",
            "3650",
            "--json",
        ])
        .ok();
    let root_id = id_of(&root);
    assert!(root_id.starts_with("ca_"), "{root:?}");
    let out = env.run(&["pki", "ca", "list"]).ok();
    assert!(out.stdout.contains("Root CA"), "{out:?}");
    assert!(out.stdout.contains(&root_id), "{out:?}");
    let pem = env
        .run(&["pki", "ca", "cert", &root_id, "--format", "pem"])
        .ok();
    assert!(
        pem.stdout.starts_with("-----BEGIN CERTIFICATE-----"),
        "{pem:?}"
    );
    std::fs::write(d.join("root.pem"), &pem.stdout).unwrap();
    let der = Command::new(super::BIN)
        .env("SCAIVAULT_URL", &env.url)
        .env("SCAIVAULT_TOKEN", &env.token)
        .env("HOME", env.home.path())
        .args(["pki", "ca", "cert", &root_id, "--format", "der"])
        .output()
        .unwrap();
    assert!(der.status.success());
    std::fs::write(d.join("root.der"), &der.stdout).unwrap();
    let subject = openssl(
        d,
        &[
            "x509", "-inform", "DER", "-in", "root.der", "-noout", "-subject",
        ],
    );
    assert!(subject.contains("Acme Root CA"), "{subject}");

    let int = env
        .run(&[
            "pki",
            "ca",
            "create",
            "--name",
            "intermediate",
            "--common-name",
            "Acme Intermediate CA",
            "--parent",
            &root_id,
            "--validity-days",
            "1825",
            "--json",
        ])
        .ok();
    let int_id = id_of(&int);
    let out = env.run(&["pki", "ca", "get", &int_id]).ok();
    assert!(out.stdout.contains(&root_id), "{out:?}");

    // Issue, as the reference shows it, with the files written.
    let out = env
        .run(&[
            "pki",
            "certs",
            "issue",
            "--ca",
            &int_id,
            "--common-name",
            "billing.svc.cluster.local",
            "--san",
            "billing-api.svc.cluster.local",
            "--validity-days",
            "7",
            "--cert-out",
            &path("leaf.pem"),
            "--key-out",
            &path("leaf.key"),
            "--chain-out",
            &path("chain.pem"),
        ])
        .ok();
    assert!(out.stdout.contains("Issued certificate cert_"), "{out:?}");
    assert!(
        out.stdout
            .contains("pki/intermediate/billing.svc.cluster.local"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("PRIVATE KEY"), "{out:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("leaf.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let verified = openssl(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
            "-purpose",
            "sslserver",
            "leaf.pem",
        ],
    );
    assert!(verified.contains("leaf.pem: OK"), "{verified}");
    let sans = openssl(
        d,
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-ext",
            "subjectAltName",
        ],
    );
    assert!(sans.contains("DNS:billing-api.svc.cluster.local"), "{sans}");
    assert_eq!(
        openssl(d, &["pkey", "-in", "leaf.key", "-pubout"]),
        openssl(d, &["x509", "-in", "leaf.pem", "-noout", "-pubkey"])
    );

    // List, revoke, renew.
    let listed = env
        .run(&[
            "pki",
            "certs",
            "list",
            "--ca-id",
            &int_id,
            "--expiring-within",
            "30d",
            "--json",
        ])
        .ok()
        .json();
    let certs = listed["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{listed}");
    let cert_id = certs[0]["id"].as_str().unwrap().to_owned();
    let out = env
        .run(&[
            "pki",
            "certs",
            "list",
            "--ca-id",
            &int_id,
            "--expiring-within",
            "30d",
        ])
        .ok();
    assert!(out.stdout.contains(&cert_id), "{out:?}");
    let out = env
        .run(&["pki", "certs", "renew", &cert_id, "--json"])
        .ok()
        .json();
    assert_eq!(out["secret_version"], 2, "{out}");
    let out = env
        .run(&[
            "pki",
            "certs",
            "revoke",
            &cert_id,
            "--reason",
            "key_compromise",
        ])
        .ok();
    assert!(out.stdout.contains("Revoked certificate"), "{out:?}");
    let got = env
        .run(&["pki", "certs", "get", &cert_id, "--json"])
        .ok()
        .json();
    assert_eq!(got["status"], "revoked");
    assert_eq!(got["revocation_reason"], "key_compromise");

    // The CSR workflow: the key is made here and never sent.
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "app.key",
            "-out",
            "app.csr",
            "-subj",
            "/CN=app.example.com",
        ],
    );
    let csr = env
        .run(&[
            "pki",
            "csr",
            "submit",
            "--csr-file",
            &path("app.csr"),
            "--json",
        ])
        .ok();
    let csr_id = id_of(&csr);
    assert!(csr_id.starts_with("csr_"), "{csr:?}");
    let out = env.run(&["pki", "csr", "list", "--status", "pending"]).ok();
    assert!(out.stdout.contains(&csr_id), "{out:?}");
    // Not before approval (409: a general failure).
    env.run(&[
        "pki",
        "csr",
        "sign",
        &csr_id,
        "--ca",
        &int_id,
        "--validity-days",
        "90",
    ])
    .fails_with(1, "Error: csr_not_approved");
    env.run(&["pki", "csr", "approve", &csr_id]).ok();
    let out = env
        .run(&[
            "pki",
            "csr",
            "sign",
            &csr_id,
            "--ca",
            &int_id,
            "--validity-days",
            "90",
            "--cert-out",
            &path("app.pem"),
        ])
        .ok();
    assert!(out.stdout.contains("Signed CSR"), "{out:?}");
    let verified = openssl(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
            "app.pem",
        ],
    );
    assert!(verified.contains("app.pem: OK"), "{verified}");
    assert_eq!(
        openssl(d, &["pkey", "-in", "app.key", "-pubout"]),
        openssl(d, &["x509", "-in", "app.pem", "-noout", "-pubkey"])
    );
    let second = env
        .run(&[
            "pki",
            "csr",
            "submit",
            "--csr-file",
            &path("app.csr"),
            "--json",
        ])
        .ok();
    env.run(&[
        "pki",
        "csr",
        "reject",
        &id_of(&second),
        "--reason",
        "duplicate",
    ])
    .ok();
    let out = env
        .run(&["pki", "csr", "get", &id_of(&second), "--json"])
        .ok()
        .json();
    assert_eq!(out["status"], "rejected");
}

#[test]
fn pki_exit_codes_follow_the_reference() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garbage.csr"), "not a CSR").unwrap();
    let garbage = dir
        .path()
        .join("garbage.csr")
        .to_string_lossy()
        .into_owned();
    let ca = env
        .run(&[
            "pki",
            "ca",
            "create",
            "--name",
            "short",
            "--common-name",
            "Short CA",
            "--validity-days",
            "10",
            "--json",
        ])
        .ok();
    let ca_id = id_of(&ca);

    // Bad CSR: 5.
    env.run(&["pki", "csr", "submit", "--csr-file", &garbage])
        .fails_with(5, "Error: invalid_csr");
    // Unknown CA: 4.
    env.run(&[
        "pki",
        "certs",
        "issue",
        "--ca",
        "ca_nope",
        "--common-name",
        "x.example.com",
    ])
    .fails_with(4, "Error: ca_not_found");
    // Validity beyond the CA's: 5.
    env.run(&[
        "pki",
        "certs",
        "issue",
        "--ca",
        &ca_id,
        "--common-name",
        "x.example.com",
        "--validity-days",
        "30",
    ])
    .fails_with(5, "Error: validity_exceeds_ca");
    // A token without pki:issue: 3.
    let reader = read_only_token(&env);
    env.run_as(
        &reader,
        &[
            "pki",
            "certs",
            "issue",
            "--ca",
            &ca_id,
            "--common-name",
            "x.example.com",
        ],
    )
    .fails_with(3, "Error: access_denied");
    // Nothing was stored.
    let listed = env.run(&["pki", "certs", "list", "--json"]).ok().json();
    assert!(
        listed["certificates"].as_array().unwrap().is_empty(),
        "{listed}"
    );
    let listed = env.run(&["pki", "csr", "list", "--json"]).ok().json();
    assert!(listed["csrs"].as_array().unwrap().is_empty(), "{listed}");
}

#[test]
fn an_openssl_ca_is_imported_and_issues() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name).to_string_lossy().into_owned();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "legacy.key",
            "-out",
            "legacy.pem",
            "-subj",
            "/CN=Legacy OpenSSL CA",
            "-days",
            "365",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
            "-subj",
            "/CN=Other",
            "-days",
            "365",
        ],
    );
    // A key that is not the certificate's is refused (validation: 5).
    env.run(&[
        "pki",
        "ca",
        "import",
        "--name",
        "mismatch",
        "--cert-file",
        &path("legacy.pem"),
        "--key-file",
        &path("other.key"),
    ])
    .fails_with(5, "Error: validation_error");
    let imported = env
        .run(&[
            "pki",
            "ca",
            "import",
            "--name",
            "legacy",
            "--cert-file",
            &path("legacy.pem"),
            "--key-file",
            &path("legacy.key"),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(imported["imported"], true, "{imported}");
    assert!(imported.get("private_key").is_none());
    let ca_id = imported["id"].as_str().unwrap();
    env.run(&[
        "pki",
        "certs",
        "issue",
        "--ca",
        ca_id,
        "--common-name",
        "svc.legacy.example",
        "--san",
        "svc.legacy.example",
        "--cert-out",
        &path("svc.pem"),
    ])
    .ok();
    let verified = openssl(
        d,
        &[
            "verify",
            "-CAfile",
            "legacy.pem",
            "-purpose",
            "sslserver",
            "svc.pem",
        ],
    );
    assert!(verified.contains("svc.pem: OK"), "{verified}");
}
