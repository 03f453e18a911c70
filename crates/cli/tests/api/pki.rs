//! The internal CA over HTTP (issue 16), every artifact checked with OpenSSL as the
//! independent peer: chains verify, SANs, validity and keys read back, the public CRL and OCSP
//! responder answer what was revoked, a real mutual-TLS handshake works with certificates from
//! the CA, the CSR flow signs a key that never reached the server, refusals store nothing, and
//! scopes and path policies confine who issues what.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use scaivault_testpeers::free_port;
use serde_json::{Value, json};

use crate::common::idp::{Idp, SigningKey, claims};
use crate::common::prod::ProdServer;
use crate::common::{Api, TestServer, assert_error};

/// Runs `openssl` with `args` in `dir`; returns (success, stdout + stderr).
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command is needed by these tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[track_caller]
fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = openssl(dir, args);
    assert!(ok, "openssl {args:?} failed:\n{text}");
    text
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn create_ca(api: &Api, body: Value) -> Value {
    let (s, ca) = api.post("/v1/pki/cas", body).await;
    assert_eq!(s, 201, "{ca}");
    assert!(ca["id"].as_str().unwrap().starts_with("ca_"), "{ca}");
    assert!(ca.get("private_key").is_none(), "{ca}");
    ca
}

async fn issue(api: &Api, body: Value) -> Value {
    let (s, cert) = api.post("/v1/pki/certs", body).await;
    assert_eq!(s, 201, "{cert}");
    assert!(cert["id"].as_str().unwrap().starts_with("cert_"), "{cert}");
    cert
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// OpenSSL prints serials in uppercase hex, colon-free in `crl -text` (with leading zeros
/// trimmed to whole bytes).
fn upper(serial: &str) -> String {
    serial.to_uppercase()
}

#[tokio::test]
async fn root_intermediate_leaf_verify_with_openssl_and_the_key_matches() {
    let server = TestServer::start();
    let api = server.client();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let root = create_ca(
        &api,
        json!({"name": "Root CA", "common_name": "Acme Root CA", "validity_days": 3650,
               "organization": "Acme"}),
    )
    .await;
    assert_eq!(root["policy_path"], "pki/root-ca");
    let int = create_ca(
        &api,
        json!({"name": "issuing", "common_name": "Acme Issuing CA", "validity_days": 1825,
               "parent_ca_id": id(&root), "key_type": "ec-p384"}),
    )
    .await;
    assert_eq!(int["parent_ca_id"], root["id"]);
    let leaf = issue(
        &api,
        json!({"ca_id": id(&int), "common_name": "billing.svc.cluster.local",
               "sans": ["billing-api.svc.cluster.local", "IP:10.1.2.3"], "validity_days": 7}),
    )
    .await;
    assert_eq!(leaf["chain"].as_array().unwrap().len(), 2, "{leaf}");
    assert_eq!(leaf["secret_path"], "pki/issuing/billing.svc.cluster.local");

    write(d, "root.pem", root["certificate"].as_str().unwrap());
    write(d, "int.pem", leaf["chain"][0].as_str().unwrap());
    write(d, "leaf.pem", leaf["certificate"].as_str().unwrap());
    write(d, "leaf.key", leaf["private_key"].as_str().unwrap());
    assert!(
        leaf["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
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
            "sslserver",
            "leaf.pem",
        ],
    );
    assert!(out.contains("leaf.pem: OK"), "{out}");
    // Server usage (the default) is not a client certificate.
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
    assert!(!ok, "{out}");

    let text = openssl_ok(d, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    assert!(text.contains("DNS:billing-api.svc.cluster.local"), "{text}");
    // The common name is a host name, so it is a SAN too (clients match SANs only).
    assert!(text.contains("DNS:billing.svc.cluster.local"), "{text}");
    assert!(text.contains("IP Address:10.1.2.3"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(
        text.contains(&format!("/v1/pki/crl/{}", id(&int))),
        "CRL distribution point: {text}"
    );
    assert!(
        text.contains(&format!("/v1/pki/ocsp/{}", id(&int))),
        "OCSP responder: {text}"
    );
    let subject = openssl_ok(d, &["x509", "-in", "leaf.pem", "-noout", "-subject"]);
    assert!(subject.contains("billing.svc.cluster.local"), "{subject}");
    // Validity: 7 days, as the response says.
    let dates = openssl_ok(
        d,
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-startdate",
            "-enddate",
        ],
    );
    let not_after = time::OffsetDateTime::parse(
        leaf["not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let not_before = time::OffsetDateTime::parse(
        leaf["not_before"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((not_after - not_before).whole_days(), 7, "{dates}");
    let month_day = format!(
        "{} {:>2}",
        &format!("{:?}", not_after.month())[..3],
        not_after.day()
    );
    assert!(
        dates.contains(&format!("notAfter={month_day}")),
        "{dates} vs {month_day}"
    );
    let serial = openssl_ok(d, &["x509", "-in", "leaf.pem", "-noout", "-serial"]);
    assert!(
        serial
            .trim()
            .trim_start_matches("serial=")
            .eq_ignore_ascii_case(leaf["serial"].as_str().unwrap()),
        "{serial} vs {}",
        leaf["serial"]
    );

    // The private key belongs to the certificate.
    let from_key = openssl_ok(d, &["pkey", "-in", "leaf.key", "-pubout"]);
    let from_cert = openssl_ok(d, &["x509", "-in", "leaf.pem", "-noout", "-pubkey"]);
    assert_eq!(from_key, from_cert);

    // The CA certificate endpoint: PEM, the chain, DER.
    let (s, body) = api.get(&format!("/v1/pki/cas/{}", id(&int))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["status"], "active");
    let chain = api
        .request(
            reqwest::Method::GET,
            &format!("/v1/pki/cas/{}/cert?chain=true", id(&int)),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    write(d, "chain.pem", &chain);
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "{chain}");
    let out = openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
            "leaf.pem",
        ],
    );
    assert!(out.contains("OK"), "{out}");
    let der = api
        .request(
            reqwest::Method::GET,
            &format!("/v1/pki/cas/{}/cert?format=der", id(&root)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(der.headers()["content-type"], "application/pkix-cert");
    std::fs::write(d.join("root.der"), der.bytes().await.unwrap()).unwrap();
    let subject = openssl_ok(
        d,
        &[
            "x509", "-inform", "DER", "-in", "root.der", "-noout", "-subject",
        ],
    );
    assert!(subject.contains("Acme Root CA"), "{subject}");

    // Stored as a certificate secret, the same machinery as every secret.
    let (s, secret) = api
        .get("/v1/secrets/pki/issuing/billing.svc.cluster.local")
        .await;
    assert_eq!(s, 200, "{secret}");
    assert_eq!(secret["secret_type"], "certificate");
    assert_eq!(secret["version"], 1);
    assert_eq!(secret["data"]["certificate"], leaf["certificate"]);
    assert_eq!(secret["data"]["private_key"], leaf["private_key"]);
    assert_eq!(secret["data"]["serial"], leaf["serial"]);

    // Get and list; never a key.
    let (s, got) = api.get(&format!("/v1/pki/certs/{}", id(&leaf))).await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["status"], "valid");
    assert!(got.get("private_key").is_none());
    let (s, list) = api
        .get(&format!(
            "/v1/pki/certs?ca_id={}&expiring_within=30d",
            id(&int)
        ))
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["certificates"].as_array().unwrap().len(), 1, "{list}");
    let (s, list) = api
        .get(&format!(
            "/v1/pki/certs?ca_id={}&expiring_within=1d",
            id(&int)
        ))
        .await;
    assert_eq!(s, 200, "{list}");
    assert!(
        list["certificates"].as_array().unwrap().is_empty(),
        "{list}"
    );

    // Renewal: a new certificate, same names, a new version of the same secret.
    let (s, renewed) = api
        .post(&format!("/v1/pki/certs/{}/renew", id(&leaf)), json!({}))
        .await;
    assert_eq!(s, 201, "{renewed}");
    assert_ne!(renewed["serial"], leaf["serial"]);
    assert_eq!(renewed["sans"], leaf["sans"]);
    assert_eq!(renewed["secret_version"], 2);

    // Audit entries never carry a private key.
    let (s, trail) = api.get("/v1/audit?limit=500").await;
    assert_eq!(s, 200);
    let text = trail.to_string();
    assert!(text.contains("\"issue\""), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[tokio::test]
async fn a_revoked_certificate_is_in_the_crl_and_ocsp_answers_revoked_and_good() {
    let server = TestServer::start();
    let api = server.client();
    let anonymous = api.anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let ca = create_ca(
        &api,
        json!({"name": "ops", "common_name": "Ops CA", "validity_days": 365}),
    )
    .await;
    let ca_id = id(&ca).to_owned();
    let bad = issue(
        &api,
        json!({"ca_id": ca_id, "common_name": "bad.example.com"}),
    )
    .await;
    let good = issue(
        &api,
        json!({"ca_id": ca_id, "common_name": "good.example.com"}),
    )
    .await;
    write(d, "ca.pem", ca["certificate"].as_str().unwrap());
    write(d, "bad.pem", bad["certificate"].as_str().unwrap());
    write(d, "good.pem", good["certificate"].as_str().unwrap());

    // Before any revocation: an empty, valid CRL.
    let crl = reqwest::get(server.url(&format!("/v1/pki/crl/{ca_id}")))
        .await
        .unwrap();
    assert_eq!(crl.status(), 200);
    assert_eq!(crl.headers()["content-type"], "application/pkix-crl");

    let (s, revoked) = api
        .post(
            &format!("/v1/pki/certs/{}/revoke", id(&bad)),
            json!({"reason": "key_compromise"}),
        )
        .await;
    assert_eq!(s, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "key_compromise");
    let (s, again) = api
        .post(
            &format!("/v1/pki/certs/{}/revoke", id(&bad)),
            json!({"reason": "superseded"}),
        )
        .await;
    assert_error(s, &again, 409, "conflict");
    let (s, body) = api
        .post(
            &format!("/v1/pki/certs/{}/revoke", id(&good)),
            json!({"reason": "because"}),
        )
        .await;
    assert_error(s, &body, 400, "validation_error");

    // The CRL, fetched without credentials, verifies and lists the serial with its reason.
    let crl = reqwest::get(server.url(&format!("/v1/pki/crl/{ca_id}")))
        .await
        .unwrap();
    assert_eq!(crl.status(), 200);
    std::fs::write(d.join("crl.der"), crl.bytes().await.unwrap()).unwrap();
    let text = openssl_ok(
        d,
        &[
            "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text",
        ],
    );
    assert!(text.contains("verify OK"), "{text}");
    assert!(
        text.contains(&upper(bad["serial"].as_str().unwrap())),
        "{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(
        !text.contains(&upper(good["serial"].as_str().unwrap())),
        "{text}"
    );
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    // PEM too.
    let pem = reqwest::get(server.url(&format!("/v1/pki/crl/{ca_id}?format=pem")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pem.starts_with("-----BEGIN X509 CRL-----"), "{pem}");
    let (s, body) = anonymous.get("/v1/pki/crl/ca_nope").await;
    assert_error(s, &body, 404, "ca_not_found");

    // OCSP through openssl's own client, POST.
    let url = server.url(&format!("/v1/pki/ocsp/{ca_id}"));
    let out = openssl_ok(
        d,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "bad.pem",
            "-url",
            &url,
            "-CAfile",
            "ca.pem",
            "-resp_text",
        ],
    );
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("bad.pem: revoked"), "{out}");
    assert!(
        out.contains("Key Compromise") || out.contains("keyCompromise"),
        "{out}"
    );
    let out = openssl_ok(
        d,
        &[
            "ocsp", "-issuer", "ca.pem", "-cert", "good.pem", "-url", &url, "-CAfile", "ca.pem",
        ],
    );
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("good.pem: good"), "{out}");

    // The GET form: the base64 request in the path.
    openssl_ok(
        d,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "good.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
    let request = std::fs::read(d.join("req.der")).unwrap();
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(request);
    let encoded: String = encoded
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let response = reqwest::get(format!("{url}/{encoded}")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/ocsp-response"
    );
    std::fs::write(d.join("resp.der"), response.bytes().await.unwrap()).unwrap();
    let out = openssl_ok(
        d,
        &[
            "ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-cert", "good.pem", "-CAfile",
            "ca.pem",
        ],
    );
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("good.pem: good"), "{out}");

    // Garbage is answered in-band (malformedRequest), not with an error page.
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/ocsp-request")
        .body("not a request")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        [0x30, 0x03, 0x0a, 0x01, 0x01]
    );

    // Listing by status.
    let (s, list) = api.get("/v1/pki/certs?status=revoked").await;
    assert_eq!(s, 200, "{list}");
    let ids: Vec<&str> = list["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id(&bad)]);
}

#[tokio::test]
async fn a_mutual_tls_handshake_works_with_certificates_from_the_ca() {
    let server = TestServer::start();
    let api = server.client();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = create_ca(
        &api,
        json!({"name": "mesh", "common_name": "Mesh CA", "validity_days": 30}),
    )
    .await;
    let srv = issue(
        &api,
        json!({"ca_id": id(&ca), "common_name": "localhost", "sans": ["DNS:localhost", "IP:127.0.0.1"],
               "usage": "server", "validity_days": 1}),
    )
    .await;
    let cli = issue(
        &api,
        json!({"ca_id": id(&ca), "common_name": "client.mesh", "usage": "client",
               "validity_days": 1, "key_type": "rsa-2048"}),
    )
    .await;
    write(d, "ca.pem", ca["certificate"].as_str().unwrap());
    write(d, "srv.pem", srv["certificate"].as_str().unwrap());
    write(d, "srv.key", srv["private_key"].as_str().unwrap());
    write(d, "cli.pem", cli["certificate"].as_str().unwrap());
    write(d, "cli.key", cli["private_key"].as_str().unwrap());

    let port = free_port().to_string();
    let mut s_server = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &port,
            "-cert",
            "srv.pem",
            "-key",
            "srv.key",
            "-CAfile",
            "ca.pem",
            "-Verify",
            "1",
            "-verify_return_error",
            "-www",
        ])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Ready when it says so (it prints ACCEPT once listening): no sleeping.
    let mut lines = BufReader::new(s_server.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("ACCEPT") => break,
            Some(Ok(_)) => continue,
            _ => {
                let _ = s_server.kill();
                panic!("s_server did not start");
            }
        }
    }
    let connect = format!("127.0.0.1:{port}");
    let mut s_client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-cert",
            "cli.pem",
            "-key",
            "cli.key",
            "-CAfile",
            "ca.pem",
            "-verify_return_error",
            "-ign_eof",
        ])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    s_client
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    let out = s_client.wait_with_output().unwrap();
    let _ = s_server.kill();
    let _ = s_server.wait();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    // s_server -www echoes the session, with the client certificate it verified.
    assert!(text.contains("HTTP/1.0 200 ok"), "{text}");
    assert!(
        text.contains("client.mesh"),
        "the server saw the client certificate: {text}"
    );
}

#[tokio::test]
async fn the_csr_flow_signs_a_key_that_never_reached_the_server() {
    let server = TestServer::start();
    let api = server.client();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = create_ca(
        &api,
        json!({"name": "partners", "common_name": "Partner CA", "validity_days": 365}),
    )
    .await;
    write(d, "ca.pem", ca["certificate"].as_str().unwrap());
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
            "app.key",
            "-out",
            "app.csr",
            "-subj",
            "/CN=app.partner.example",
            "-addext",
            "subjectAltName=DNS:app.partner.example,DNS:api.partner.example",
        ],
    );
    let csr_pem = std::fs::read_to_string(d.join("app.csr")).unwrap();
    let (s, csr) = api.post("/v1/pki/csrs", json!({"csr": csr_pem})).await;
    assert_eq!(s, 201, "{csr}");
    assert!(id(&csr).starts_with("csr_"));
    assert_eq!(csr["status"], "pending");
    assert_eq!(csr["common_name"], "app.partner.example");
    assert_eq!(
        csr["sans"],
        json!(["DNS:app.partner.example", "DNS:api.partner.example"])
    );
    let (s, pending) = api.get("/v1/pki/csrs?status=pending").await;
    assert_eq!(s, 200);
    assert_eq!(pending["csrs"][0]["id"], csr["id"]);

    // Not before approval.
    let sign = json!({"ca_id": id(&ca), "validity_days": 90});
    let (s, body) = api
        .post(&format!("/v1/pki/csrs/{}/sign", id(&csr)), sign.clone())
        .await;
    assert_error(s, &body, 409, "csr_not_approved");
    let (s, approved) = api
        .post(&format!("/v1/pki/csrs/{}/approve", id(&csr)), json!({}))
        .await;
    assert_eq!(s, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decided_by"], "user:root@dev.local");
    let (s, body) = api
        .post(&format!("/v1/pki/csrs/{}/approve", id(&csr)), json!({}))
        .await;
    assert_error(s, &body, 409, "csr_not_approved");
    let (s, signed) = api
        .post(&format!("/v1/pki/csrs/{}/sign", id(&csr)), sign.clone())
        .await;
    assert_eq!(s, 201, "{signed}");
    assert!(signed.get("private_key").is_none());
    write(d, "app.pem", signed["certificate"].as_str().unwrap());
    let out = openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "sslserver",
            "app.pem",
        ],
    );
    assert!(out.contains("app.pem: OK"), "{out}");
    let from_key = openssl_ok(d, &["pkey", "-in", "app.key", "-pubout"]);
    let from_cert = openssl_ok(d, &["x509", "-in", "app.pem", "-noout", "-pubkey"]);
    assert_eq!(
        from_key, from_cert,
        "the certificate is for the requester's key"
    );
    let text = openssl_ok(
        d,
        &["x509", "-in", "app.pem", "-noout", "-ext", "subjectAltName"],
    );
    assert!(text.contains("DNS:api.partner.example"), "{text}");
    // Signed once only; tracked like an issued certificate.
    let (s, body) = api
        .post(&format!("/v1/pki/csrs/{}/sign", id(&csr)), sign)
        .await;
    assert_error(s, &body, 409, "csr_not_approved");
    let (s, got) = api.get(&format!("/v1/pki/csrs/{}", id(&csr))).await;
    assert_eq!(s, 200);
    assert_eq!(got["status"], "signed");
    assert_eq!(got["cert_id"], signed["id"]);
    let (s, cert) = api.get(&format!("/v1/pki/certs/{}", id(&signed))).await;
    assert_eq!(s, 200, "{cert}");
    assert_eq!(cert["csr_id"], csr["id"]);
    assert!(cert.get("secret_path").is_none(), "{cert}");

    // A rejected CSR stays rejected, with its reason.
    let (s, other) = api.post("/v1/pki/csrs", json!({"csr": csr_pem})).await;
    assert_eq!(s, 201);
    let (s, rejected) = api
        .post(
            &format!("/v1/pki/csrs/{}/reject", id(&other)),
            json!({"reason": "unknown requester"}),
        )
        .await;
    assert_eq!(s, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "unknown requester");

    // Separation of duties: a CA that requires it refuses self-approval.
    create_ca(
        &api,
        json!({"name": "strict", "common_name": "Strict CA", "require_separate_approver": true}),
    )
    .await;
    let (s, third) = api.post("/v1/pki/csrs", json!({"csr": csr_pem})).await;
    assert_eq!(s, 201);
    let (s, body) = api
        .post(&format!("/v1/pki/csrs/{}/approve", id(&third)), json!({}))
        .await;
    assert_error(s, &body, 403, "separation_of_duties");
}

#[tokio::test]
async fn refusals_store_nothing() {
    let server = TestServer::start();
    let api = server.client();
    let ca = create_ca(
        &api,
        json!({"name": "short", "common_name": "Short CA", "validity_days": 30,
               "permitted_dns_domains": ["example.com"]}),
    )
    .await;
    let (s, body) = api
        .post("/v1/pki/csrs", json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}))
        .await;
    assert_error(s, &body, 422, "invalid_csr");
    let (s, body) = api.post("/v1/pki/csrs", json!({"csr": "garbage"})).await;
    assert_error(s, &body, 422, "invalid_csr");
    // A well-formed CSR for a key too weak to sign for.
    let dir = tempfile::tempdir().unwrap();
    openssl_ok(
        dir.path(),
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-keyout",
            "weak.key",
            "-out",
            "weak.csr",
            "-subj",
            "/CN=weak.example.com",
        ],
    );
    let weak = std::fs::read_to_string(dir.path().join("weak.csr")).unwrap();
    let (s, body) = api.post("/v1/pki/csrs", json!({"csr": weak})).await;
    assert_error(s, &body, 422, "invalid_csr");
    let (s, body) = api
        .post(
            "/v1/pki/certs",
            json!({"ca_id": "ca_unknown", "common_name": "x.example.com"}),
        )
        .await;
    assert_error(s, &body, 404, "ca_not_found");
    let (s, body) = api
        .post(
            "/v1/pki/certs",
            json!({"ca_id": id(&ca), "common_name": "x.example.com", "validity_days": 31}),
        )
        .await;
    assert_error(s, &body, 422, "validity_exceeds_ca");
    let (s, body) = api
        .post(
            "/v1/pki/certs",
            json!({"ca_id": id(&ca), "common_name": "x.other.org"}),
        )
        .await;
    assert_error(s, &body, 422, "name_not_permitted");
    let (s, body) = api
        .post(
            "/v1/pki/cas",
            json!({"name": "child", "common_name": "Child", "parent_ca_id": id(&ca), "validity_days": 60}),
        )
        .await;
    assert_error(s, &body, 422, "validity_exceeds_ca");
    let (s, body) = api
        .post(
            "/v1/pki/cas",
            json!({"name": "short", "common_name": "Again"}),
        )
        .await;
    assert_error(s, &body, 409, "conflict");

    let (s, certs) = api.get("/v1/pki/certs").await;
    assert_eq!(s, 200);
    assert!(
        certs["certificates"].as_array().unwrap().is_empty(),
        "{certs}"
    );
    let (s, csrs) = api.get("/v1/pki/csrs").await;
    assert_eq!(s, 200);
    assert!(csrs["csrs"].as_array().unwrap().is_empty(), "{csrs}");
    let (s, secrets) = api.get("/v1/secrets?prefix=pki/").await;
    assert_eq!(s, 200, "{secrets}");
    assert!(
        secrets["secrets"].as_array().unwrap().is_empty(),
        "{secrets}"
    );
    let (s, cas) = api.get("/v1/pki/cas").await;
    assert_eq!(s, 200);
    assert_eq!(cas["cas"].as_array().unwrap().len(), 1, "{cas}");

    // A disabled CA issues nothing.
    let (s, disabled) = api
        .post(&format!("/v1/pki/cas/{}/disable", id(&ca)), json!({}))
        .await;
    assert_eq!(s, 200, "{disabled}");
    assert_eq!(disabled["status"], "disabled");
    let (s, body) = api
        .post(
            "/v1/pki/certs",
            json!({"ca_id": id(&ca), "common_name": "x.example.com"}),
        )
        .await;
    assert_error(s, &body, 409, "ca_disabled");
}

#[tokio::test]
async fn scopes_and_a_policy_confine_issuance_to_one_ca_and_a_domain() {
    let server = TestServer::start();
    let root = server.client();
    let ca = create_ca(&root, json!({"name": "apps", "common_name": "Apps CA"})).await;
    let other = create_ca(&root, json!({"name": "infra", "common_name": "Infra CA"})).await;

    // A read-only token may read, not issue.
    let (s, token) = root
        .post(
            "/v1/auth/tokens",
            json!({"name": "ro", "scopes": ["pki:read"], "ttl": "1h"}),
        )
        .await;
    assert_eq!(s, 201, "{token}");
    let reader = root.with_token(token["token"].as_str().unwrap());
    let (s, _) = reader.get("/v1/pki/cas").await;
    assert_eq!(s, 200);
    let (s, body) = reader
        .post(
            "/v1/pki/certs",
            json!({"ca_id": id(&ca), "common_name": "a.apps.example.com"}),
        )
        .await;
    assert_error(s, &body, 403, "access_denied");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pki:issue")
    );

    // A ScaiKey user (no admin role) with pki:issue, confined by a policy to one CA and a domain.
    let signing = SigningKey::generate("pki");
    let idp = Idp::start(&[&signing]);
    let prod = ProdServer::start(&idp.config());
    let admin = prod.admin();
    let apps = create_ca(&admin, json!({"name": "apps", "common_name": "Apps CA"})).await;
    let infra = create_ca(&admin, json!({"name": "infra", "common_name": "Infra CA"})).await;
    let (s, policy) = admin
        .post(
            "/v1/policies",
            json!({"name": "apps-issuers", "rules": [
                {"path": "pki/apps/*.apps.example.com", "permissions": ["issue", "revoke"]},
                {"path": "pki/apps/**", "permissions": ["read"]}
            ]}),
        )
        .await;
    assert_eq!(s, 201, "{policy}");
    let (s, b) = admin
        .post(
            &format!("/v1/policies/{}/bindings", id(&policy)),
            json!({"identity_type": "group", "identity_id": "group:app-team"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut c = claims("dev@ops.example", "tnt_ops", "ptn_ops");
    c["groups"] = json!(["app-team"]);
    c["scopes"] = json!(["pki:read", "pki:issue"]);
    let dev = prod.client(&signing.sign(&c));

    let ok = issue(
        &dev,
        json!({"ca_id": id(&apps), "common_name": "web.apps.example.com",
               "sans": ["api.apps.example.com"]}),
    )
    .await;
    assert_eq!(ok["secret_path"], "pki/apps/web.apps.example.com");
    for (ca_id, cn, sans) in [
        (id(&infra), "web.apps.example.com", json!([])),
        (id(&apps), "db.internal.example.com", json!([])),
        (
            id(&apps),
            "web.apps.example.com",
            json!(["evil.example.org"]),
        ),
    ] {
        let (s, body) = dev
            .post(
                "/v1/pki/certs",
                json!({"ca_id": ca_id, "common_name": cn, "sans": sans}),
            )
            .await;
        assert_error(s, &body, 403, "access_denied");
    }
    // It may revoke what it may issue; it may not administer CAs.
    let (s, body) = dev
        .post(
            &format!("/v1/pki/certs/{}/revoke", id(&ok)),
            json!({"reason": "superseded"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = dev
        .post(
            "/v1/pki/cas",
            json!({"name": "mine", "common_name": "Mine"}),
        )
        .await;
    assert_error(s, &body, 403, "access_denied");
    let _ = (other, root);
}

/// `certificate.issued` and `certificate.revoked` follow the changes; `certificate.expiring` and
/// `certificate.expired` come from the expiry notices (moved by the dev test clock), once each.
#[tokio::test]
async fn certificate_events_reach_subscribers() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "certs", "paths": ["**"], "events": [
                "certificate.issued", "certificate.revoked",
                "certificate.expiring", "certificate.expired"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let ca = create_ca(&api, json!({"name": "ev", "common_name": "Events CA"})).await;
    let short = issue(
        &api,
        json!({"ca_id": id(&ca), "common_name": "short.example.com", "ttl": "10d"}),
    )
    .await;
    let gone = issue(
        &api,
        json!({"ca_id": id(&ca), "common_name": "gone.example.com", "ttl": "10d"}),
    )
    .await;
    let (s, body) = api
        .post(
            &format!("/v1/pki/certs/{}/revoke", id(&gone)),
            json!({"reason": "cessation_of_operation"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // Polled after each step: a poll-only subscription's events age out of the replay window
    // as the clock moves by days.
    let sub_id = id(&sub).to_owned();
    let poll = async |cursor: Option<&str>| {
        let path = match cursor {
            Some(c) => format!("/v1/subscriptions/{sub_id}/poll?wait=0s&cursor={c}"),
            None => format!("/v1/subscriptions/{sub_id}/poll?wait=0s"),
        };
        let (s, page) = api.get(&path).await;
        assert_eq!(s, 200, "{page}");
        page
    };
    let types = |page: &Value| -> Vec<String> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect()
    };
    let page = poll(None).await;
    assert_eq!(
        types(&page),
        [
            "certificate.issued",
            "certificate.issued",
            "certificate.revoked"
        ],
        "{page:#}"
    );
    assert_eq!(page["events"][0]["data"]["certificate_id"], short["id"]);
    assert_eq!(page["events"][2]["data"]["certificate_id"], gone["id"]);
    // Within the 7-day warning, then past the end; the revoked one is announced neither time.
    api.advance_clock("4d").await;
    let page = poll(page["cursor"].as_str()).await;
    assert_eq!(types(&page), ["certificate.expiring"], "{page:#}");
    assert_eq!(page["events"][0]["data"]["certificate_id"], short["id"]);
    assert_eq!(page["events"][0]["path"], "pki/ev/short.example.com");
    api.advance_clock("1d").await;
    let page = poll(page["cursor"].as_str()).await;
    assert!(types(&page).is_empty(), "announced once: {page:#}");
    api.advance_clock("5d").await;
    api.advance_clock("1s").await;
    let page = poll(page["cursor"].as_str()).await;
    assert_eq!(types(&page), ["certificate.expired"], "{page:#}");
    assert_eq!(page["events"][0]["data"]["days_remaining"], 0);
}

/// Two nodes on one PostgreSQL database: issued on both at once (distinct serials, every
/// certificate and secret stored), revoked on one, and the other node's CRL and OCSP
/// responder know it at once.
#[tokio::test]
async fn two_postgres_nodes_issue_revoke_and_answer_as_one_ca() {
    use crate::common::prod::TestDatabase;
    let db = TestDatabase::create();
    let a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\n",
        db.url
    ));
    let b = a.spawn_node();
    let on_a = a.admin();
    let on_b = b.client(&a.admin_token);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let ca = create_ca(&on_a, json!({"name": "shared", "common_name": "Shared CA"})).await;
    let ca_id = id(&ca).to_owned();
    write(d, "ca.pem", ca["certificate"].as_str().unwrap());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let api = if i % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        let ca_id = ca_id.clone();
        tasks.push(tokio::spawn(async move {
            issue(
                &api,
                json!({"ca_id": ca_id, "common_name": format!("n{i}.shared.example")}),
            )
            .await
        }));
    }
    let mut issued = Vec::new();
    for t in tasks {
        issued.push(t.await.unwrap());
    }
    let mut serials: Vec<&str> = issued
        .iter()
        .map(|c| c["serial"].as_str().unwrap())
        .collect();
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 16);
    let (s, list) = on_b
        .get(&format!("/v1/pki/certs?ca_id={ca_id}&limit=100"))
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["certificates"].as_array().unwrap().len(), 16, "{list}");
    let (s, secret) = on_b.get("/v1/secrets/pki/shared/n0.shared.example").await;
    assert_eq!(s, 200, "{secret}");
    assert_eq!(secret["secret_type"], "certificate");

    let victim = &issued[3];
    write(d, "victim.pem", victim["certificate"].as_str().unwrap());
    let (s, body) = on_a
        .post(
            &format!("/v1/pki/certs/{}/revoke", id(victim)),
            json!({"reason": "affiliation_changed"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let crl = reqwest::get(format!("{}/v1/pki/crl/{ca_id}", b.base_url))
        .await
        .unwrap();
    assert_eq!(crl.status(), 200);
    std::fs::write(d.join("crl.der"), crl.bytes().await.unwrap()).unwrap();
    let text = openssl_ok(
        d,
        &[
            "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text",
        ],
    );
    assert!(text.contains("verify OK"), "{text}");
    assert!(
        text.contains(&upper(victim["serial"].as_str().unwrap())),
        "{text}"
    );
    assert!(text.contains("Affiliation Changed"), "{text}");
    let url = format!("{}/v1/pki/ocsp/{ca_id}", b.base_url);
    let out = openssl_ok(
        d,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "victim.pem",
            "-url",
            &url,
            "-CAfile",
            "ca.pem",
        ],
    );
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("victim.pem: revoked"), "{out}");
}

/// The CRL is regenerated on revocation and, lazily, once half of its 7-day lifetime has
/// passed; otherwise the stored one is served (same number).
#[tokio::test]
async fn the_crl_is_renumbered_on_revocation_and_refreshed_before_it_expires() {
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = create_ca(&api, json!({"name": "crl", "common_name": "CRL CA"})).await;
    let ca_id = id(&ca).to_owned();
    write(d, "ca.pem", ca["certificate"].as_str().unwrap());
    let number = async || {
        let der = reqwest::get(server.url(&format!("/v1/pki/crl/{ca_id}")))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        std::fs::write(d.join("crl.der"), der).unwrap();
        let out = openssl_ok(
            d,
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                "crl.der",
                "-CAfile",
                "ca.pem",
                "-noout",
                "-crlnumber",
            ],
        );
        assert!(out.contains("verify OK"), "{out}");
        out.lines()
            .find_map(|l| l.strip_prefix("crlNumber=0x"))
            .map(|n| u64::from_str_radix(n.trim(), 16).unwrap())
            .unwrap_or_else(|| panic!("no CRL number: {out}"))
    };
    let first = number().await;
    assert_eq!(number().await, first, "served from the store");
    let cert = issue(
        &api,
        json!({"ca_id": ca_id, "common_name": "r.example.com"}),
    )
    .await;
    let (s, body) = api
        .post(&format!("/v1/pki/certs/{}/revoke", id(&cert)), json!({}))
        .await;
    assert_eq!(s, 200, "{body}");
    let after_revoke = number().await;
    assert!(after_revoke > first, "{after_revoke} > {first}");
    api.advance_clock("3d").await;
    assert_eq!(number().await, after_revoke, "still fresh after 3 days");
    api.advance_clock("1d").await;
    let refreshed = number().await;
    assert!(refreshed > after_revoke, "{refreshed} > {after_revoke}");
}
