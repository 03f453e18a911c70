//! Every artifact of scaivault-pki checked by the `openssl` command as the independent peer:
//! chains verify with the right purposes, extensions read back, keys match, limits and name
//! constraints hold, CSRs made by `openssl req` parse, CRLs and OCSP responses verify.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test loudly, as the tests themselves do"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use scaivault_pki::ocsp::{self, Status};
use scaivault_pki::*;
use time::{Duration, OffsetDateTime};

#[allow(
    clippy::disallowed_methods,
    reason = "openssl checks certificate validity and OCSP thisUpdate/nextUpdate against the real clock"
)]
fn wall_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Runs openssl in `dir`; returns (success, stdout + stderr). Fails loudly without openssl.
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the openssl command is required for these tests: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = openssl(dir, args);
    assert!(ok, "openssl {args:?} failed:\n{text}");
    text
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

fn cert_pem(der: &[u8]) -> String {
    pem_encode("CERTIFICATE", der)
}

fn ca_spec(cn: &str, from: OffsetDateTime, days: i64) -> CaSpec {
    CaSpec {
        subject: Subject {
            common_name: cn.to_string(),
            organization: Some("Acme Corp".to_string()),
            country: Some("NL".to_string()),
            ..Subject::default()
        },
        validity: Validity {
            not_before: from - Duration::hours(1),
            not_after: from + Duration::days(days),
        },
        serial: Serial::random(),
        path_len: None,
        permitted_dns_domains: Vec::new(),
        excluded_dns_domains: Vec::new(),
        crl_url: None,
        ocsp_url: None,
    }
}

fn leaf_spec(cn: &str, sans: &[&str], usage: Usage, from: OffsetDateTime, days: i64) -> LeafSpec {
    LeafSpec {
        subject: Subject::cn(cn),
        sans: sans.iter().map(|s| San::parse(s).unwrap()).collect(),
        usage,
        validity: Validity {
            not_before: from - Duration::minutes(5),
            not_after: from + Duration::days(days),
        },
        serial: Serial::random(),
        crl_url: Some("http://vault.test:8200/v1/pki/cas/ca_x/crl".to_string()),
        ocsp_url: Some("http://vault.test:8200/v1/pki/cas/ca_x/ocsp".to_string()),
    }
}

fn root(kt: KeyType, cn: &str, now: OffsetDateTime) -> Issuer {
    let key = PrivateKey::generate(kt).unwrap();
    let der = create_root_ca(&ca_spec(cn, now, 3650), &key).unwrap();
    Issuer::new(der, key).unwrap()
}

fn intermediate(parent: &Issuer, kt: KeyType, cn: &str, now: OffsetDateTime) -> Issuer {
    let key = PrivateKey::generate(kt).unwrap();
    let mut spec = ca_spec(cn, now, 1825);
    spec.crl_url = Some("http://vault.test:8200/v1/pki/cas/ca_root/crl".to_string());
    spec.ocsp_url = Some("http://vault.test:8200/v1/pki/cas/ca_root/ocsp".to_string());
    let der = create_intermediate_ca(&spec, &key, parent).unwrap();
    Issuer::new(der, key).unwrap()
}

/// `openssl pkey -pubout` of the key equals `openssl x509 -pubkey` of the certificate.
fn assert_key_matches(dir: &Path, key_file: &str, cert_file: &str) {
    let from_key = openssl_ok(dir, &["pkey", "-in", key_file, "-pubout"]);
    let from_cert = openssl_ok(dir, &["x509", "-in", cert_file, "-noout", "-pubkey"]);
    assert_eq!(from_key, from_cert, "{key_file} does not match {cert_file}");
}

#[test]
fn root_intermediate_leaf_verify_for_every_key_type() {
    let now = wall_now();
    for kt in KeyType::ALL {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let root = root(kt, &format!("Root {kt}"), now);
        let int = intermediate(&root, kt, &format!("Intermediate {kt}"), now);
        write(d, "root.pem", cert_pem(root.cert_der()));
        write(d, "int.pem", cert_pem(int.cert_der()));

        let text = openssl_ok(d, &["x509", "-in", "root.pem", "-noout", "-text"]);
        assert!(text.contains("CA:TRUE"), "{kt}: {text}");
        assert!(text.contains("Certificate Sign, CRL Sign"), "{kt}: {text}");
        let text = openssl_ok(
            d,
            &[
                "x509",
                "-in",
                "int.pem",
                "-noout",
                "-ext",
                "crlDistributionPoints,authorityInfoAccess",
            ],
        );
        assert!(
            text.contains("URI:http://vault.test:8200/v1/pki/cas/ca_root/crl"),
            "{text}"
        );
        assert!(
            text.contains("OCSP - URI:http://vault.test:8200/v1/pki/cas/ca_root/ocsp"),
            "{text}"
        );

        // Server leaf with a key generated here; the key leaves as PKCS#8 PEM.
        let key = PrivateKey::generate(kt).unwrap();
        let spec = leaf_spec(
            "api.example.com",
            &[
                "DNS:api.example.com",
                "IP:10.0.0.7",
                "email:ops@example.com",
                "URI:spiffe://prod/api",
            ],
            Usage::Server,
            now,
            90,
        );
        let der = issue_leaf(&spec, &key.public_key_der(), &int).unwrap();
        write(d, "leaf.pem", cert_pem(&der));
        write(d, "leaf.key", key.to_pkcs8_pem().as_bytes());
        let out = openssl_ok(
            d,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "int.pem",
                "-purpose",
                "sslserver",
                "leaf.pem",
            ],
        );
        assert!(out.contains("leaf.pem: OK"), "{kt}: {out}");
        let (ok, out) = openssl(
            d,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "int.pem",
                "-purpose",
                "sslclient",
                "leaf.pem",
            ],
        );
        assert!(
            !ok,
            "{kt}: a server-only leaf verified for sslclient: {out}"
        );

        let ext = openssl_ok(
            d,
            &[
                "x509",
                "-in",
                "leaf.pem",
                "-noout",
                "-ext",
                "subjectAltName,keyUsage,extendedKeyUsage,basicConstraints,crlDistributionPoints,authorityInfoAccess",
            ],
        );
        for want in [
            "DNS:api.example.com",
            "IP Address:10.0.0.7",
            "email:ops@example.com",
            "URI:spiffe://prod/api",
            "Digital Signature",
            "TLS Web Server Authentication",
            "CA:FALSE",
            "URI:http://vault.test:8200/v1/pki/cas/ca_x/crl",
            "OCSP - URI:http://vault.test:8200/v1/pki/cas/ca_x/ocsp",
        ] {
            assert!(ext.contains(want), "{kt}: {want} missing from\n{ext}");
        }
        assert_eq!(ext.contains("Key Encipherment"), kt.is_rsa(), "{kt}: {ext}");
        let ids = openssl_ok(
            d,
            &[
                "x509",
                "-in",
                "leaf.pem",
                "-noout",
                "-ext",
                "subjectKeyIdentifier,authorityKeyIdentifier",
            ],
        );
        assert!(
            ids.contains("Subject Key Identifier") && ids.contains("Authority Key Identifier"),
            "{ids}"
        );
        assert_key_matches(d, "leaf.key", "leaf.pem");

        // What inspect reads back agrees with openssl.
        let info = inspect(&der).unwrap();
        assert_eq!(info.serial, spec.serial);
        let serial_line = openssl_ok(d, &["x509", "-in", "leaf.pem", "-noout", "-serial"]);
        assert_eq!(
            serial_line.trim(),
            format!("serial={}", spec.serial.to_hex().to_uppercase())
        );
        assert_eq!(info.subject.common_name, "api.example.com");
        assert_eq!(info.issuer_cn, format!("Intermediate {kt}"));
        assert_eq!(info.sans, spec.sans);
        assert!(!info.is_ca);
        assert_eq!(info.key_type, Some(kt));
        assert_eq!(
            info.not_after.unix_timestamp(),
            spec.validity.not_after.unix_timestamp()
        );
        let fp = openssl_ok(
            d,
            &[
                "x509",
                "-in",
                "leaf.pem",
                "-noout",
                "-fingerprint",
                "-sha256",
            ],
        );
        assert_eq!(
            fp.trim()
                .rsplit('=')
                .next()
                .unwrap()
                .replace(':', "")
                .to_lowercase(),
            info.fingerprint_sha256
        );
        let int_info = int.info();
        assert!(int_info.is_ca);
        assert_eq!(int_info.subject.organization.as_deref(), Some("Acme Corp"));
        assert_eq!(int_info.subject.country.as_deref(), Some("NL"));

        // Client and both usages.
        let client_key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let cspec = leaf_spec("client-1", &[], Usage::Client, now, 30);
        write(
            d,
            "client.pem",
            cert_pem(&issue_leaf(&cspec, &client_key.public_key_der(), &int).unwrap()),
        );
        let out = openssl_ok(
            d,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "int.pem",
                "-purpose",
                "sslclient",
                "client.pem",
            ],
        );
        assert!(out.contains("client.pem: OK"), "{out}");
        let eku = openssl_ok(
            d,
            &[
                "x509",
                "-in",
                "client.pem",
                "-noout",
                "-ext",
                "extendedKeyUsage",
            ],
        );
        assert!(
            eku.contains("TLS Web Client Authentication") && !eku.contains("Server"),
            "{eku}"
        );
        let bspec = leaf_spec(
            "both.example.com",
            &["both.example.com"],
            Usage::Both,
            now,
            30,
        );
        write(
            d,
            "both.pem",
            cert_pem(&issue_leaf(&bspec, &client_key.public_key_der(), &int).unwrap()),
        );
        for purpose in ["sslserver", "sslclient"] {
            openssl_ok(
                d,
                &[
                    "verify",
                    "-CAfile",
                    "root.pem",
                    "-untrusted",
                    "int.pem",
                    "-purpose",
                    purpose,
                    "both.pem",
                ],
            );
        }
    }
}

#[test]
fn validity_and_path_length_limits() {
    let now = wall_now();
    let root = root(KeyType::EcP256, "Limits Root", now);
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();

    // An intermediate may not outlive its parent.
    let mut spec = ca_spec("Too Long", now, 3651 + 30);
    assert_eq!(
        create_intermediate_ca(&spec, &key, &root),
        Err(PkiError::ValidityExceedsIssuer)
    );
    spec.validity.not_after = spec.validity.not_before;
    assert_eq!(
        create_intermediate_ca(&spec, &key, &root),
        Err(PkiError::InvalidValidity)
    );
    assert_eq!(create_root_ca(&spec, &key), Err(PkiError::InvalidValidity));

    // A leaf may not outlive its CA.
    let int = intermediate(&root, KeyType::EcP256, "Limits Int", now);
    let leaf_key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let long = leaf_spec(
        "x.example.com",
        &["x.example.com"],
        Usage::Server,
        now,
        1826,
    );
    assert_eq!(
        issue_leaf(&long, &leaf_key.public_key_der(), &int),
        Err(PkiError::ValidityExceedsIssuer)
    );
    let ok = leaf_spec(
        "x.example.com",
        &["x.example.com"],
        Usage::Server,
        now,
        1824,
    );
    issue_leaf(&ok, &leaf_key.public_key_der(), &int).unwrap();

    // Path length: a root with pathlen 1 allows one intermediate, which gets pathlen 0 and can
    // sign no CA.
    let mut rspec = ca_spec("PathLen Root", now, 3650);
    rspec.path_len = Some(1);
    let rkey = PrivateKey::generate(KeyType::EcP256).unwrap();
    let r1 = Issuer::new(create_root_ca(&rspec, &rkey).unwrap(), rkey).unwrap();
    assert_eq!(r1.info().path_len, Some(1));
    let mut ispec = ca_spec("Int", now, 1000);
    ispec.path_len = Some(1);
    let ikey = PrivateKey::generate(KeyType::EcP256).unwrap();
    assert_eq!(
        create_intermediate_ca(&ispec, &ikey, &r1),
        Err(PkiError::PathLenExceeded)
    );
    ispec.path_len = None;
    let i1 = Issuer::new(create_intermediate_ca(&ispec, &ikey, &r1).unwrap(), ikey).unwrap();
    assert_eq!(i1.info().path_len, Some(0));
    let k2 = PrivateKey::generate(KeyType::EcP256).unwrap();
    assert_eq!(
        create_intermediate_ca(&ca_spec("Int2", now, 100), &k2, &i1),
        Err(PkiError::PathLenExceeded)
    );
}

#[test]
fn name_constraints_are_written_and_enforced() {
    let now = wall_now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let mut spec = ca_spec("Constrained Root", now, 3650);
    spec.permitted_dns_domains = vec!["example.com".to_string()];
    spec.excluded_dns_domains = vec!["secret.example.com".to_string()];
    let root_der = create_root_ca(&spec, &key).unwrap();
    write(d, "root.pem", cert_pem(&root_der));
    let nc = openssl_ok(
        d,
        &[
            "x509",
            "-in",
            "root.pem",
            "-noout",
            "-ext",
            "nameConstraints",
        ],
    );
    assert!(nc.contains("critical"), "{nc}");
    assert!(
        nc.contains("Permitted") && nc.contains("DNS:example.com"),
        "{nc}"
    );
    assert!(
        nc.contains("Excluded") && nc.contains("DNS:secret.example.com"),
        "{nc}"
    );

    // Keep a twin of the key (same PKCS#8) to forge a violating certificate below.
    let twin_key = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
    let root = Issuer::new(root_der, key).unwrap();
    assert_eq!(root.permitted_dns_domains(), ["example.com"]);

    let leaf_key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let good = leaf_spec(
        "api.example.com",
        &["DNS:api.example.com", "IP:10.1.1.1"],
        Usage::Server,
        now,
        30,
    );
    write(
        d,
        "good.pem",
        cert_pem(&issue_leaf(&good, &leaf_key.public_key_der(), &root).unwrap()),
    );
    openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-purpose",
            "sslserver",
            "good.pem",
        ],
    );

    for (cn, san, offender) in [
        ("api.example.com", "DNS:evil.org", "evil.org"),
        (
            "api.example.com",
            "DNS:db.secret.example.com",
            "db.secret.example.com",
        ),
        ("api.example.com", "DNS:*.example.com", "*.example.com"),
        ("www.evil.org", "DNS:api.example.com", "www.evil.org"),
    ] {
        let spec = leaf_spec(cn, &[san], Usage::Server, now, 30);
        assert_eq!(
            issue_leaf(&spec, &leaf_key.public_key_der(), &root),
            Err(PkiError::NameNotPermitted(offender.to_string())),
            "{cn} {san}"
        );
    }
    // A wildcard that cannot cover the excluded subtree is fine.
    let wild = leaf_spec(
        "*.app.example.com",
        &["DNS:*.app.example.com"],
        Usage::Server,
        now,
        30,
    );
    issue_leaf(&wild, &leaf_key.public_key_der(), &root).unwrap();

    // Intermediates: constraints outside the parent's are refused; none requested inherits them.
    let ikey = PrivateKey::generate(KeyType::EcP256).unwrap();
    let mut ispec = ca_spec("Sub", now, 365);
    ispec.permitted_dns_domains = vec!["other.org".to_string()];
    assert_eq!(
        create_intermediate_ca(&ispec, &ikey, &root),
        Err(PkiError::NameNotPermitted("other.org".to_string()))
    );
    ispec.permitted_dns_domains = vec!["dev.example.com".to_string()];
    let narrowed =
        Issuer::new(create_intermediate_ca(&ispec, &ikey, &root).unwrap(), ikey).unwrap();
    assert_eq!(narrowed.permitted_dns_domains(), ["dev.example.com"]);
    assert_eq!(narrowed.excluded_dns_domains(), ["secret.example.com"]);
    ispec.permitted_dns_domains = Vec::new();
    let ikey = PrivateKey::generate(KeyType::EcP256).unwrap();
    let inherited =
        Issuer::new(create_intermediate_ca(&ispec, &ikey, &root).unwrap(), ikey).unwrap();
    write(d, "inherited.pem", cert_pem(inherited.cert_der()));
    let nc = openssl_ok(
        d,
        &[
            "x509",
            "-in",
            "inherited.pem",
            "-noout",
            "-ext",
            "nameConstraints",
        ],
    );
    assert!(
        nc.contains("DNS:example.com") && nc.contains("DNS:secret.example.com"),
        "{nc}"
    );

    // openssl itself rejects a violating leaf: forge one with an unconstrained twin of the root
    // (same subject, same key, so the same issuer name and key identifier).
    let mut twin_spec = ca_spec("Constrained Root", now, 3650);
    twin_spec.subject = spec.subject.clone();
    let twin = Issuer::new(create_root_ca(&twin_spec, &twin_key).unwrap(), twin_key).unwrap();
    let evil = leaf_spec("evil.org", &["DNS:evil.org"], Usage::Server, now, 30);
    write(
        d,
        "evil.pem",
        cert_pem(&issue_leaf(&evil, &leaf_key.public_key_der(), &twin).unwrap()),
    );
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-purpose",
            "sslserver",
            "evil.pem",
        ],
    );
    assert!(!ok, "openssl accepted a name-constraint violation: {out}");
    assert!(out.contains("subtree violation"), "{out}");
}

#[test]
fn csr_from_openssl_req() {
    let now = wall_now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_ok(
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
            "req.key",
            "-out",
            "req.pem",
            "-subj",
            "/CN=csr.example.com/O=Acme Corp/C=NL",
            "-addext",
            "subjectAltName=DNS:csr.example.com,IP:10.0.0.5,email:csr@example.com",
        ],
    );
    let pem = std::fs::read_to_string(d.join("req.pem")).unwrap();
    let csr = parse_csr(&pem).unwrap();
    assert_eq!(csr.subject.common_name, "csr.example.com");
    assert_eq!(csr.subject.organization.as_deref(), Some("Acme Corp"));
    assert_eq!(csr.subject.country.as_deref(), Some("NL"));
    assert_eq!(
        csr.sans,
        vec![
            San::Dns("csr.example.com".into()),
            San::Ip("10.0.0.5".parse().unwrap()),
            San::Email("csr@example.com".into()),
        ]
    );
    assert_eq!(csr.key_type, Some(KeyType::EcP256));
    assert_eq!(parse_csr(&csr.pem).unwrap(), csr);

    // Signed by a CA, the certificate carries the requester's key (which never left openssl).
    let ca = root(KeyType::EcP384, "CSR CA", now);
    write(d, "ca.pem", cert_pem(ca.cert_der()));
    let mut spec = leaf_spec(&csr.subject.common_name, &[], Usage::Server, now, 30);
    spec.subject = csr.subject.clone();
    spec.sans = csr.sans.clone();
    write(
        d,
        "signed.pem",
        cert_pem(&issue_leaf(&spec, &csr.public_key_der, &ca).unwrap()),
    );
    openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "sslserver",
            "signed.pem",
        ],
    );
    assert_key_matches(d, "req.key", "signed.pem");

    // RSA CSR: key type read.
    openssl_ok(
        d,
        &[
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out",
            "rsa.pem", "-subj", "/CN=rsa",
        ],
    );
    let rsa = parse_csr(&std::fs::read_to_string(d.join("rsa.pem")).unwrap()).unwrap();
    assert_eq!(rsa.key_type, Some(KeyType::Rsa2048));
    assert!(rsa.sans.is_empty());

    // A tampered signature: flip the last byte of the DER (inside the signature).
    let der = openssl_ok(
        d,
        &[
            "req", "-in", "req.pem", "-outform", "DER", "-out", "req.der",
        ],
    );
    let _ = der;
    let mut der = std::fs::read(d.join("req.der")).unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let tampered = pem_encode("CERTIFICATE REQUEST", &der);
    assert!(
        matches!(parse_csr(&tampered), Err(PkiError::InvalidCsr(_))),
        "tampered CSR accepted"
    );
    // A tampered subject (signature intact but over other bytes).
    let mut der = std::fs::read(d.join("req.der")).unwrap();
    let at = der.windows(4).position(|w| w == b"Acme").unwrap();
    der[at] = b'X';
    assert!(matches!(
        parse_csr(&pem_encode("CERTIFICATE REQUEST", &der)),
        Err(PkiError::InvalidCsr(_))
    ));

    for garbage in [
        String::new(),
        "hello".to_string(),
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
            .to_string(),
        cert_pem(ca.cert_der()),
    ] {
        assert!(
            matches!(parse_csr(&garbage), Err(PkiError::InvalidCsr(_))),
            "{garbage:?} accepted"
        );
    }
}

#[test]
fn crl_verifies_and_lists_reasons() {
    let now = wall_now();
    for kt in [KeyType::EcP256, KeyType::Rsa2048, KeyType::Ed25519] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let root = root(kt, "CRL Root", now);
        let int = intermediate(&root, kt, "CRL Int", now);
        write(d, "int.pem", cert_pem(int.cert_der()));
        write(
            d,
            "chain.pem",
            format!("{}{}", cert_pem(int.cert_der()), cert_pem(root.cert_der())),
        );
        let a = Serial::random();
        let b = Serial::from_hex("0badcafe").unwrap();
        let revoked = vec![
            RevokedCert {
                serial: a.clone(),
                revoked_at: now - Duration::hours(2),
                reason: RevocationReason::KeyCompromise,
            },
            RevokedCert {
                serial: b.clone(),
                revoked_at: now - Duration::hours(1),
                reason: RevocationReason::Superseded,
            },
        ];
        let der = build_crl(&int, 7, now, now + Duration::days(1), &revoked).unwrap();
        write(d, "crl.pem", pem_encode("X509 CRL", &der));
        let out = openssl_ok(
            d,
            &[
                "crl",
                "-in",
                "crl.pem",
                "-CAfile",
                "chain.pem",
                "-noout",
                "-text",
            ],
        );
        assert!(out.contains("verify OK"), "{kt}: {out}");
        assert!(out.contains("X509v3 CRL Number:"), "{out}");
        let number = out
            .split("X509v3 CRL Number:")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert_eq!(number, "7", "{out}");
        assert!(
            out.contains(&format!("Serial Number: {}", a.to_hex().to_uppercase())),
            "{out}"
        );
        assert!(out.contains("Serial Number: 0BADCAFE"), "{out}");
        assert!(
            out.contains("Key Compromise") && out.contains("Superseded"),
            "{out}"
        );
        assert!(
            out.contains("Issuer: C = NL, O = Acme Corp, CN = CRL Int"),
            "{out}"
        );
        let crl_num = openssl_ok(d, &["crl", "-in", "crl.pem", "-noout", "-crlnumber"]);
        assert_eq!(crl_num.trim(), "crlNumber=0x07", "{crl_num}");

        // A CRL with no entries, and a wrong window.
        let empty = build_crl(&int, 8, now, now + Duration::days(1), &[]).unwrap();
        write(d, "empty.pem", pem_encode("X509 CRL", &empty));
        let out = openssl_ok(
            d,
            &[
                "crl",
                "-in",
                "empty.pem",
                "-CAfile",
                "chain.pem",
                "-noout",
                "-text",
            ],
        );
        assert!(
            out.contains("verify OK") && out.contains("No Revoked Certificates"),
            "{out}"
        );
        assert_eq!(
            build_crl(&int, 9, now, now, &[]),
            Err(PkiError::InvalidValidity)
        );
    }
}

/// Builds an OCSP request with openssl for `leaf.pem` issued by `ca.pem` in `d`.
fn ocsp_request(d: &Path, nonce: bool) -> Vec<u8> {
    let mut args = vec![
        "ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-reqout", "req.der",
    ];
    if !nonce {
        args.push("-no_nonce");
    }
    openssl_ok(d, &args);
    std::fs::read(d.join("req.der")).unwrap()
}

/// Checks resp.der against ca.pem for leaf.pem, as a client that sent req.der: openssl verifies
/// the signature, and with a nonce also that the response echoes the request's.
fn verify_response(d: &Path, with_nonce: bool) -> String {
    let status = openssl_ok(
        d,
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "ca.pem",
            "-CAfile",
            "ca.pem",
            "-cert",
            "leaf.pem",
            "-no_nonce",
            "-resp_text",
        ],
    );
    if with_nonce {
        // With -reqin openssl compares the request's nonce with the response's before it
        // verifies the signature ("Nonce Verify error" otherwise).
        let out = openssl_ok(
            d,
            &[
                "ocsp",
                "-reqin",
                "req.der",
                "-respin",
                "resp.der",
                "-CAfile",
                "ca.pem",
                "-VAfile",
                "ca.pem",
                "-resp_text",
            ],
        );
        assert!(out.contains("Response verify OK"), "{out}");
        assert!(
            !out.contains("Nonce Verify error") && !out.contains("WARNING: no nonce"),
            "{out}"
        );
    }
    status
}

/// The hex line after "OCSP Nonce:" in openssl's text output.
fn nonce_line(text: &str) -> Option<String> {
    let after = text.split("OCSP Nonce:").nth(1)?;
    after.split_whitespace().next().map(str::to_string)
}

#[test]
fn ocsp_responses_verify_with_openssl() {
    let now = wall_now();
    for kt in [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Ed25519,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca = root(kt, "OCSP CA", now);
        write(d, "ca.pem", cert_pem(ca.cert_der()));
        let leaf_key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let spec = leaf_spec(
            "ocsp.example.com",
            &["ocsp.example.com"],
            Usage::Server,
            now,
            30,
        );
        write(
            d,
            "leaf.pem",
            cert_pem(&issue_leaf(&spec, &leaf_key.public_key_der(), &ca).unwrap()),
        );

        for with_nonce in [true, false] {
            let req_der = ocsp_request(d, with_nonce);
            let req = ocsp::parse_request(&req_der).unwrap();
            assert_eq!(req.serials, vec![spec.serial.clone()]);
            assert_eq!(req.nonce.is_some(), with_nonce);
            let req_text = openssl_ok(d, &["ocsp", "-reqin", "req.der", "-req_text"]);

            // Revoked.
            let revoked_at = now - Duration::hours(3);
            let resp = ocsp::respond(
                &ca,
                &req,
                |s| {
                    assert_eq!(s, &spec.serial);
                    Status::Revoked {
                        at: revoked_at,
                        reason: RevocationReason::KeyCompromise,
                    }
                },
                now,
                now + Duration::hours(1),
            )
            .unwrap();
            write(d, "resp.der", &resp);
            let out = verify_response(d, with_nonce);
            assert!(out.contains("Response verify OK"), "{kt}: {out}");
            assert!(out.contains("leaf.pem: revoked"), "{kt}: {out}");
            assert!(out.contains("Reason: keyCompromise"), "{kt}: {out}");
            assert!(out.contains("Responder Id:"), "{out}");
            assert_eq!(
                nonce_line(&out),
                nonce_line(&req_text),
                "{kt}: nonce not echoed:\n{out}"
            );

            // Good.
            let resp =
                ocsp::respond(&ca, &req, |_| Status::Good, now, now + Duration::hours(1)).unwrap();
            write(d, "resp.der", &resp);
            let out = verify_response(d, with_nonce);
            assert!(
                out.contains("Response verify OK") && out.contains("leaf.pem: good"),
                "{kt}: {out}"
            );
        }

        // The GET form of the same request parses to the same thing.
        let req_der = ocsp_request(d, true);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&req_der);
        let encoded: String = b64
            .chars()
            .map(|c| match c {
                '+' => "%2B".to_string(),
                '/' => "%2F".to_string(),
                '=' => "%3D".to_string(),
                c => c.to_string(),
            })
            .collect();
        let post = ocsp::parse_request(&req_der).unwrap();
        assert_eq!(ocsp::parse_get_path(&format!("/{encoded}")).unwrap(), post);
        assert_eq!(ocsp::parse_get_path(&b64).unwrap(), post);

        // Another CA answers "unknown" for a CertID that names this one.
        let other = root(KeyType::EcP256, "Other CA", now);
        let resp = ocsp::respond(
            &other,
            &post,
            |_| Status::Good,
            now,
            now + Duration::hours(1),
        )
        .unwrap();
        write(d, "resp.der", &resp);
        let out = openssl_ok(
            d,
            &["ocsp", "-respin", "resp.der", "-noverify", "-resp_text"],
        );
        assert!(out.contains("Cert Status: unknown"), "{out}");
    }

    // One request for two certificates: one SingleResponse each, in order.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = root(KeyType::EcP256, "Multi CA", now);
    write(d, "ca.pem", cert_pem(ca.cert_der()));
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let a = leaf_spec("a.example.com", &["a.example.com"], Usage::Server, now, 30);
    let b = leaf_spec("b.example.com", &["b.example.com"], Usage::Server, now, 30);
    write(
        d,
        "a.pem",
        cert_pem(&issue_leaf(&a, &key.public_key_der(), &ca).unwrap()),
    );
    write(
        d,
        "b.pem",
        cert_pem(&issue_leaf(&b, &key.public_key_der(), &ca).unwrap()),
    );
    openssl_ok(
        d,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "a.pem",
            "-cert",
            "b.pem",
            "-reqout",
            "multi.der",
        ],
    );
    let req = ocsp::parse_request(&std::fs::read(d.join("multi.der")).unwrap()).unwrap();
    assert_eq!(req.serials, vec![a.serial.clone(), b.serial.clone()]);
    let resp = ocsp::respond(
        &ca,
        &req,
        |s| {
            if s == &a.serial {
                Status::Revoked {
                    at: now - Duration::days(1),
                    reason: RevocationReason::Superseded,
                }
            } else {
                Status::Good
            }
        },
        now,
        now + Duration::hours(1),
    )
    .unwrap();
    write(d, "resp.der", &resp);
    let out = openssl_ok(
        d,
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "ca.pem",
            "-CAfile",
            "ca.pem",
            "-cert",
            "a.pem",
            "-cert",
            "b.pem",
            "-no_nonce",
            "-resp_text",
        ],
    );
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(
        out.contains("a.pem: revoked") && out.contains("Reason: superseded"),
        "{out}"
    );
    assert!(out.contains("b.pem: good"), "{out}");

    // At most MAX_CERT_IDS CertIDs per request (built with -serial, which needs no certificate).
    for (count, accepted) in [(ocsp::MAX_CERT_IDS, true), (ocsp::MAX_CERT_IDS + 1, false)] {
        let serials: Vec<String> = (1..=count).map(|n| format!("0x{n:x}")).collect();
        let mut args = vec!["ocsp", "-issuer", "ca.pem", "-reqout", "many.der"];
        for s in &serials {
            args.extend(["-serial", s.as_str()]);
        }
        openssl_ok(d, &args);
        let parsed = ocsp::parse_request(&std::fs::read(d.join("many.der")).unwrap());
        assert_eq!(parsed.is_ok(), accepted, "{count} CertIDs");
        if let Ok(req) = parsed {
            assert_eq!(
                req.serials.last(),
                Some(&Serial::from_hex(&format!("{count:x}")).unwrap())
            );
        }
    }

    // Status-only responses.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "malformed.der", ocsp::malformed_request());
    let out = openssl(
        d,
        &[
            "ocsp",
            "-respin",
            "malformed.der",
            "-resp_text",
            "-noverify",
        ],
    )
    .1;
    assert!(out.contains("malformedrequest"), "{out}");
    write(d, "unauth.der", ocsp::unauthorized());
    let out = openssl(
        d,
        &["ocsp", "-respin", "unauth.der", "-resp_text", "-noverify"],
    )
    .1;
    assert!(out.contains("unauthorized"), "{out}");
}

#[test]
fn import_openssl_ca() {
    let now = wall_now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // PKCS#8 EC, SEC1 EC (with an EC PARAMETERS block) and PKCS#1 RSA keys.
    openssl_ok(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "p8.key",
        ],
    );
    openssl_ok(
        d,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-out",
            "sec1.key",
        ],
    );
    openssl_ok(d, &["genrsa", "-traditional", "-out", "pkcs1.key", "2048"]);
    for (key_file, kt) in [
        ("p8.key", KeyType::EcP256),
        ("sec1.key", KeyType::EcP384),
        ("pkcs1.key", KeyType::Rsa2048),
    ] {
        let ca_file = format!("{key_file}.ca.pem");
        openssl_ok(
            d,
            &[
                "req",
                "-x509",
                "-key",
                key_file,
                "-out",
                &ca_file,
                "-days",
                "365",
                "-subj",
                "/CN=Imported CA/O=Old Corp",
            ],
        );
        let cert_pem_text = std::fs::read_to_string(d.join(&ca_file)).unwrap();
        let key_pem = std::fs::read_to_string(d.join(key_file)).unwrap();
        let (der, key, info) = import_ca(&cert_pem_text, &key_pem).unwrap();
        assert_eq!(key.key_type(), kt);
        assert!(info.is_ca);
        assert_eq!(info.subject.common_name, "Imported CA");
        assert_eq!(info.key_type, Some(kt));
        // The exported PKCS#8 is the same key.
        write(d, "exported.key", key.to_pkcs8_pem().as_bytes());
        assert_key_matches(d, "exported.key", &ca_file);

        // It issues leaves and CRLs that openssl accepts.
        let ca = Issuer::new(der, key).unwrap();
        let leaf_key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let spec = leaf_spec("svc.internal", &["svc.internal"], Usage::Server, now, 30);
        write(
            d,
            "leaf.pem",
            cert_pem(&issue_leaf(&spec, &leaf_key.public_key_der(), &ca).unwrap()),
        );
        openssl_ok(
            d,
            &[
                "verify",
                "-CAfile",
                &ca_file,
                "-purpose",
                "sslserver",
                "leaf.pem",
            ],
        );
        let crl = build_crl(&ca, 1, now, now + Duration::days(1), &[]).unwrap();
        write(d, "crl.pem", pem_encode("X509 CRL", &crl));
        let out = openssl_ok(d, &["crl", "-in", "crl.pem", "-CAfile", &ca_file, "-noout"]);
        assert!(out.contains("verify OK"), "{out}");
    }

    // Chain after the CA certificate is accepted; a mismatched key is refused.
    let ca_pem = std::fs::read_to_string(d.join("p8.key.ca.pem")).unwrap();
    let other_pem = std::fs::read_to_string(d.join("sec1.key.ca.pem")).unwrap();
    let p8 = std::fs::read_to_string(d.join("p8.key")).unwrap();
    import_ca(&format!("{ca_pem}{other_pem}"), &p8).unwrap();
    let sec1 = std::fs::read_to_string(d.join("sec1.key")).unwrap();
    assert_eq!(
        import_ca(&ca_pem, &sec1).map(|_| ()),
        Err(PkiError::KeyMismatch)
    );

    // A leaf is not a CA.
    openssl_ok(
        d,
        &[
            "req",
            "-x509",
            "-key",
            "p8.key",
            "-out",
            "leaf-ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=not a ca",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    let leaf_pem = std::fs::read_to_string(d.join("leaf-ca.pem")).unwrap();
    assert_eq!(import_ca(&leaf_pem, &p8).map(|_| ()), Err(PkiError::NotACa));

    // Garbage and encrypted keys.
    assert!(matches!(
        import_ca("nothing", &p8),
        Err(PkiError::InvalidCertificate(_))
    ));
    assert!(matches!(
        import_ca(&ca_pem, "nothing"),
        Err(PkiError::InvalidKey(_))
    ));
    openssl_ok(
        d,
        &[
            "pkey", "-in", "p8.key", "-aes256", "-passout", "pass:x", "-out", "enc.key",
        ],
    );
    let enc = std::fs::read_to_string(d.join("enc.key")).unwrap();
    assert!(matches!(
        import_ca(&ca_pem, &enc),
        Err(PkiError::InvalidKey(_))
    ));
}
