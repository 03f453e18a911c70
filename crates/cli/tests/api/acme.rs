//! ACME through the server (docs/acme.md) against real peers: pebble (Let's Encrypt's test CA,
//! Debian's package) as the CA, knot as the zone's authoritative server taking RFC 2136
//! updates signed with TSIG (pebble resolves every name through it), OpenSSL checking the
//! certificates, dig checking the records are gone. No mocks. Tests wait on events (a
//! subscription's long poll, a DNS query reaching the test's relay), never on a sleep.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::UdpSocket;

use crate::common::prod::{ProdServer, TestDatabase};
use crate::common::{Api, BIN, TestServer, assert_error};
use scaivault_testpeers::knot::Knot;
use scaivault_testpeers::pebble::{Pebble, PebbleOptions};

const ZONE: &str = "acme.test";
const HOSTS: &[&str] = &["@", "www", "api", "bad", "resume", "renew", "pair"];

fn pebble(dns_port: u16, http_port: u16) -> Pebble {
    Pebble::start(&PebbleOptions {
        dns_port,
        http_port,
        ..PebbleOptions::default()
    })
}

/// Registers an account at `pebble` (custom provider, its TLS root trusted).
async fn register(api: &Api, pebble: &Pebble) -> String {
    let (s, body) = api
        .post(
            "/v1/pki/acme/accounts",
            json!({"provider": "custom", "directory_url": pebble.directory_url(),
                   "email": "certs@acme.test", "ca_bundle": pebble.tls_ca_pem(),
                   "terms_of_service_agreed": true}),
        )
        .await;
    assert_eq!(s, 201, "{body}\npebble:\n{}", pebble.log());
    body["id"].as_str().unwrap().to_owned()
}

/// A poll subscription on certificate and ACME events.
async fn subscribe(api: &Api) -> String {
    let (s, sub) = api
        .post(
            "/v1/subscriptions",
            json!({"name": "acme-watch", "paths": ["**"],
                   "events": ["certificate.issued", "acme.order_failed"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    sub["id"].as_str().unwrap().to_owned()
}

/// Long-polls the subscription until an event satisfies `want`; returns it. Every event seen
/// on the way is kept in `seen`.
async fn wait_for_event(
    api: &Api,
    sub: &str,
    cursor: &mut Option<String>,
    seen: &mut Vec<Value>,
    within: Duration,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        assert!(
            Instant::now() < deadline,
            "no matching event within {within:?}; seen: {seen:?}"
        );
        let path = match cursor {
            Some(c) => format!("/v1/subscriptions/{sub}/poll?wait=30s&cursor={c}"),
            None => format!("/v1/subscriptions/{sub}/poll?wait=30s"),
        };
        let (s, body) = api.get(&path).await;
        assert_eq!(s, 200, "{body}");
        if let Some(c) = body["cursor"].as_str() {
            *cursor = Some(c.to_owned());
        }
        for event in body["events"].as_array().cloned().unwrap_or_default() {
            seen.push(event.clone());
            if want(&event) {
                return event;
            }
        }
    }
}

fn is_issued(event: &Value) -> bool {
    event["event_type"] == "certificate.issued"
}

/// Writes `pem` to a file in `dir` and runs `openssl verify` of it against pebble's root and
/// intermediate; returns openssl's output.
fn openssl_verify(pebble: &Pebble, certificate: &str, chain: &[Value], name: &str) -> String {
    let ca = pebble.path(&format!("{name}-ca.pem"));
    std::fs::write(&ca, pebble.issuing_ca_pem()).unwrap();
    let leaf = pebble.path(&format!("{name}.pem"));
    std::fs::write(&leaf, certificate).unwrap();
    let untrusted = pebble.path(&format!("{name}-chain.pem"));
    let chain: String = chain.iter().filter_map(Value::as_str).collect();
    std::fs::write(&untrusted, &chain).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args(["verify", "-CAfile"]).arg(&ca);
    if !chain.is_empty() {
        cmd.arg("-untrusted").arg(&untrusted);
    }
    let out = cmd.arg(&leaf).output().expect("openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl verify: {text}");
    text
}

/// The names in the certificate, as `openssl x509 -ext subjectAltName` prints them.
fn openssl_sans(pebble: &Pebble, certificate: &str) -> String {
    let path = pebble.path("sans.pem");
    std::fs::write(&path, certificate).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&path)
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The public key (PEM) of a certificate or of a private key, by openssl.
fn public_key(dir: &Path, pem: &str, is_key: bool) -> String {
    let path = dir.join(if is_key { "k.pem" } else { "c.pem" });
    std::fs::write(&path, pem).unwrap();
    let out = if is_key {
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&path)
            .output()
    } else {
        Command::new("openssl")
            .args(["x509", "-noout", "-pubkey", "-in"])
            .arg(&path)
            .output()
    }
    .expect("openssl");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stored certificate secret: the certificate matches pebble's chain and its key.
async fn check_stored_certificate(
    api: &Api,
    pebble: &Pebble,
    path: &str,
    names: &[&str],
    label: &str,
) -> Value {
    let (s, secret) = api.get(&format!("/v1/secrets/{path}")).await;
    assert_eq!(s, 200, "{secret}");
    assert_eq!(secret["secret_type"], "certificate", "{path}");
    let data = &secret["data"];
    let certificate = data["certificate"].as_str().unwrap();
    let key = data["private_key"].as_str().unwrap();
    let chain = data["chain"].as_array().cloned().unwrap_or_default();
    let verified = openssl_verify(pebble, certificate, &chain, label);
    assert!(verified.contains(": OK"), "{verified}");
    let sans = openssl_sans(pebble, certificate);
    for name in names {
        assert!(sans.contains(&format!("DNS:{name}")), "{name} in {sans}");
    }
    assert_eq!(
        public_key(&pebble.path(""), certificate, false),
        public_key(&pebble.path(""), key, true),
        "the stored key belongs to the certificate"
    );
    secret
}

/// An RFC 2136 DNS provider on `knot`; `nameservers` overrides where propagation is checked.
async fn rfc2136_provider(api: &Api, knot: &Knot, name: &str, nameservers: Option<&str>) -> String {
    let mut settings = json!({"server": format!("127.0.0.1:{}", knot.port()), "zone": ZONE,
        "tsig_key_name": knot.tsig_key_name(), "tsig_algorithm": "hmac-sha256"});
    if let Some(ns) = nameservers {
        settings["nameservers"] = json!([ns]);
    }
    let (s, body) = api
        .post(
            "/v1/pki/dns-providers",
            json!({"name": name, "type": "rfc2136", "settings": settings,
                   "credentials": {"tsig_secret": knot.tsig_secret_b64()}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert!(body.get("credentials").is_none());
    assert_eq!(body["credential_fields"], json!(["tsig_secret"]));
    body["id"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_register_with_and_without_external_account_binding() {
    let knot = Knot::start(ZONE, HOSTS);
    let hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let eab_pebble = Pebble::start(&PebbleOptions {
        dns_port: knot.port(),
        eab_keys: Some(vec![("kid-1".into(), hmac.into())]),
        ..PebbleOptions::default()
    });
    let open_pebble = pebble(knot.port(), 0);
    let server = TestServer::start();
    let api = server.client();

    // Without EAB at a CA that requires it: the CA's refusal, 502 acme_ca_error.
    let (s, body) = api
        .post(
            "/v1/pki/acme/accounts",
            json!({"provider": "custom", "directory_url": eab_pebble.directory_url(),
                   "email": "certs@acme.test", "ca_bundle": eab_pebble.tls_ca_pem(),
                   "terms_of_service_agreed": true}),
        )
        .await;
    assert_error(s, &body, 502, "acme_ca_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("externalAccountRequired"),
        "{body}"
    );
    // A preset that needs EAB is refused before anything is sent.
    let (s, body) = api
        .post(
            "/v1/pki/acme/accounts",
            json!({"provider": "zerossl", "email": "certs@acme.test",
                   "terms_of_service_agreed": true}),
        )
        .await;
    assert_error(s, &body, 400, "validation_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("external account binding")
    );
    // The terms must be agreed to.
    let (s, body) = api
        .post(
            "/v1/pki/acme/accounts",
            json!({"provider": "custom", "directory_url": open_pebble.directory_url(),
                   "ca_bundle": open_pebble.tls_ca_pem()}),
        )
        .await;
    assert_error(s, &body, 400, "validation_error");

    // With EAB: registered; the HMAC key is neither returned nor stored.
    let (s, with_eab) = api
        .post(
            "/v1/pki/acme/accounts",
            json!({"provider": "custom", "directory_url": eab_pebble.directory_url(),
                   "email": "certs@acme.test", "ca_bundle": eab_pebble.tls_ca_pem(),
                   "eab_kid": "kid-1", "eab_hmac_key": hmac,
                   "terms_of_service_agreed": true}),
        )
        .await;
    assert_eq!(s, 201, "{with_eab}\n{}", eab_pebble.log());
    assert!(with_eab["id"].as_str().unwrap().starts_with("acme_"));
    assert_eq!(with_eab["eab_kid"], "kid-1");
    assert_eq!(with_eab["status"], "valid");
    assert_eq!(with_eab["contacts"], json!(["mailto:certs@acme.test"]));
    assert!(!with_eab.to_string().contains(hmac));

    // Without EAB where the CA does not ask for it.
    let plain = register(&api, &open_pebble).await;
    let (s, list) = api.get("/v1/pki/acme/accounts").await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert!(ids.contains(&plain.as_str()) && ids.contains(&with_eab["id"].as_str().unwrap()));

    // No account key, EAB key or private key in the database file in the clear.
    let mut db = Vec::new();
    for f in crate::common::files_under(&server.data_dir()) {
        db.extend(std::fs::read(f).unwrap_or_default());
    }
    let db = String::from_utf8_lossy(&db);
    assert!(!db.contains("PRIVATE KEY") && !db.contains(hmac));

    // Deactivated: at the CA and here; no more orders with it.
    let (s, body) = api
        .post(
            &format!("/v1/pki/acme/accounts/{plain}/deactivate"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["status"], "deactivated");
    let (s, body) = api
        .post(
            "/v1/pki/acme/orders",
            json!({"account_id": plain, "domains": ["www.acme.test"], "challenge": "http-01"}),
        )
        .await;
    assert_error(s, &body, 409, "conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_certificate_is_issued_stored_and_verifies_with_openssl() {
    let knot = Knot::start(ZONE, HOSTS);
    let server = TestServer::start();
    // Pebble validates http-01 on the server's own port: ScaiVault answers the challenge.
    let port: u16 = server.base_url.rsplit(':').next().unwrap().parse().unwrap();
    let pebble = pebble(knot.port(), port);
    let api = server.client();
    let account = register(&api, &pebble).await;
    let sub = subscribe(&api).await;

    let (s, order) = api
        .post(
            "/v1/pki/acme/orders",
            json!({"account_id": account, "domains": ["WWW.acme.test."], "challenge": "http-01"}),
        )
        .await;
    assert_eq!(s, 202, "{order}");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["domains"], json!(["www.acme.test"]));
    assert_eq!(order["secret_path"], "pki/acme/www.acme.test");
    let id = order["id"].as_str().unwrap().to_owned();

    let (mut cursor, mut seen) = (None, Vec::new());
    let event = wait_for_event(
        &api,
        &sub,
        &mut cursor,
        &mut seen,
        Duration::from_secs(120),
        |e| is_issued(e) || e["event_type"] == "acme.order_failed",
    )
    .await;
    assert!(is_issued(&event), "{event}\n{}", pebble.log());
    assert_eq!(event["data"]["via"], "acme");

    let (_, order) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
    assert_eq!(order["status"], "valid", "{order}");
    let cert_id = order["certificate_id"].as_str().unwrap();
    assert_eq!(event["data"]["certificate_id"], cert_id);
    assert!(
        order["order_url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );

    // Tracked with the PKI's certificates, its renewal scheduled.
    let (s, cert) = api.get(&format!("/v1/pki/certs/{cert_id}")).await;
    assert_eq!(s, 200, "{cert}");
    assert_eq!(cert["ca_id"], account);
    assert_eq!(cert["sans"], json!(["DNS:www.acme.test"]));
    assert_eq!(cert["renewal"]["status"], "scheduled", "{cert}");
    assert_eq!(cert["secret_path"], "pki/acme/www.acme.test");

    check_stored_certificate(
        &api,
        &pebble,
        "pki/acme/www.acme.test",
        &["www.acme.test"],
        "www",
    )
    .await;
    // The token is withdrawn after validation.
    let (s, _) = api
        .anonymous()
        .get("/.well-known/acme-challenge/not-a-published-token")
        .await;
    assert_eq!(s, 404);
    assert_eq!(pebble.orders_created(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_dns01_over_rfc2136_with_the_cli_and_records_cleaned_up() {
    let knot = Knot::start(ZONE, HOSTS);
    let pebble = pebble(knot.port(), 0);
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("SCAIVAULT_URL", &server.base_url)
            .env("SCAIVAULT_TOKEN", &server.root_token)
            .output()
            .expect("run scaivault");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let bundle = pebble.path("tls-ca.pem");
    std::fs::write(&bundle, pebble.tls_ca_pem()).unwrap();
    let secret_file = pebble.path("tsig.b64");
    std::fs::write(&secret_file, knot.tsig_secret_b64()).unwrap();

    // As the CLI reference shows it (no terminal here, no --agree-tos): registering is the
    // agreement, said on stderr.
    let (code, out, err) = cli(&[
        "pki",
        "acme",
        "register",
        "--provider",
        "custom",
        "--directory-url",
        &pebble.directory_url(),
        "--ca-bundle",
        bundle.to_str().unwrap(),
        "--email",
        "certs@acme.test",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("terms of service"), "{err}");
    let account: Value = serde_json::from_str(&out).unwrap();
    let account = account["id"].as_str().unwrap().to_owned();

    let (code, out, err) = cli(&[
        "pki",
        "dns-providers",
        "create",
        "--name",
        "knot",
        "--type",
        "rfc2136",
        "--setting",
        &format!("server=127.0.0.1:{}", knot.port()),
        "--setting",
        &format!("zone={ZONE}"),
        "--setting",
        &format!("tsig_key_name={}", knot.tsig_key_name()),
        "--credential",
        &format!("tsig_secret=@{}", secret_file.display()),
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let provider: Value = serde_json::from_str(&out).unwrap();
    let provider = provider["id"].as_str().unwrap().to_owned();
    assert!(!out.contains(knot.tsig_secret_b64()));
    let (code, out, _) = cli(&["pki", "dns-providers", "list"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("knot") && out.contains("rfc2136"), "{out}");

    // The wildcard and its base name: two TXT values at one name, both validated. As the CLI
    // reference writes it: no --dns-provider (the tenant's only one is used).
    let (code, out, err) = cli(&[
        "pki",
        "acme",
        "issue",
        "--account",
        &account,
        "--domains",
        "*.acme.test,acme.test",
        "--challenge",
        "dns-01",
        "--path",
        "tls/wildcard",
    ]);
    assert_eq!(
        code,
        Some(0),
        "stdout: {out}\nstderr: {err}\npebble:\n{}",
        pebble.log()
    );
    // Progress, one line per status.
    assert!(
        err.contains(": pending") && err.contains(": valid"),
        "{err}"
    );
    assert!(
        out.contains("valid") && out.contains("tls/wildcard"),
        "{out}"
    );

    let api = server.client();
    check_stored_certificate(
        &api,
        &pebble,
        "tls/wildcard",
        &["*.acme.test", "acme.test"],
        "wild",
    )
    .await;
    // The challenge records are gone from the zone.
    assert!(
        knot.dig("_acme-challenge.acme.test", "TXT").is_empty(),
        "{:?}",
        knot.dig("_acme-challenge.acme.test", "TXT")
    );
    let (code, out, _) = cli(&["pki", "acme", "orders", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("*.acme.test") && out.contains("valid"),
        "{out}"
    );
    let (code, out, _) = cli(&["pki", "certs", "list"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("scheduled"), "{out}");

    // The provider is in use by the certificate's scheduled renewal: not deletable.
    let (code, _, err) = cli(&["pki", "dns-providers", "delete", &provider]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("conflict"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validation_surfaces_the_cas_problem_document() {
    let knot = Knot::start(ZONE, HOSTS);
    // Pebble looks for the http-01 answer on a port where nothing listens.
    let pebble = pebble(knot.port(), scaivault_testpeers::free_port());
    let server = TestServer::start();
    let api = server.client();
    let account = register(&api, &pebble).await;
    let sub = subscribe(&api).await;
    let (s, order) = api
        .post(
            "/v1/pki/acme/orders",
            json!({"account_id": account, "domains": ["bad.acme.test"], "challenge": "http-01"}),
        )
        .await;
    assert_eq!(s, 202, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();

    let (mut cursor, mut seen) = (None, Vec::new());
    let event = wait_for_event(
        &api,
        &sub,
        &mut cursor,
        &mut seen,
        Duration::from_secs(120),
        |e| e["event_type"] == "acme.order_failed" || is_issued(e),
    )
    .await;
    assert_eq!(event["event_type"], "acme.order_failed", "{event}");
    assert_eq!(event["data"]["order_id"], id);
    assert_eq!(event["data"]["will_retry"], false);
    let problem = &event["data"]["problem"];
    let kind = problem["type"].as_str().unwrap_or_default();
    assert!(kind.starts_with("urn:ietf:params:acme:error:"), "{problem}");
    assert!(
        problem["subproblems"][0]["identifier"] == "bad.acme.test"
            || problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("bad.acme.test"),
        "{problem}"
    );

    let (_, order) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
    assert_eq!(order["status"], "failed");
    assert_eq!(&order["problem"], problem);
    assert!(order["certificate_id"].is_null());
    // The failure is in the audit trail.
    let (_, audit) = api.get("/v1/audit?resource_type=acme_order").await;
    assert!(audit.to_string().contains("\"fail\""), "{audit}");
}

/// A UDP relay in front of knot for the propagation check: drops every query until told to
/// forward, and reports the first query it sees.
struct Relay {
    addr: SocketAddr,
    forward: Arc<AtomicBool>,
    first_query: Option<tokio::sync::oneshot::Receiver<()>>,
}

async fn relay(upstream: u16) -> Relay {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let forward = Arc::new(AtomicBool::new(false));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let fwd = forward.clone();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
            if !fwd.load(Ordering::SeqCst) {
                continue;
            }
            let up = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let _ = up.send_to(&buf[..n], ("127.0.0.1", upstream)).await;
            let mut answer = vec![0u8; 4096];
            if let Ok(Ok((m, _))) =
                tokio::time::timeout(Duration::from_secs(3), up.recv_from(&mut answer)).await
            {
                let _ = socket.send_to(&answer[..m], from).await;
            }
        }
    });
    Relay {
        addr,
        forward,
        first_query: Some(rx),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_order_resumes_it_without_a_second_order() {
    let knot = Knot::start(ZONE, HOSTS);
    let pebble = pebble(knot.port(), 0);
    let mut server = TestServer::start_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let account = register(&api, &pebble).await;
    let mut relay = relay(knot.port()).await;
    let provider =
        rfc2136_provider(&api, &knot, "knot-relayed", Some(&relay.addr.to_string())).await;
    let sub = subscribe(&api).await;

    let (s, order) = api
        .post(
            "/v1/pki/acme/orders",
            json!({"account_id": account, "domains": ["resume.acme.test"],
                   "challenge": "dns-01", "dns_provider_id": provider}),
        )
        .await;
    assert_eq!(s, 202, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();

    // The propagation check's first query: the CA's order exists, its checkpoint is stored,
    // the TXT record is presented. Kill the server there.
    tokio::time::timeout(Duration::from_secs(60), relay.first_query.take().unwrap())
        .await
        .expect("the propagation check never queried")
        .unwrap();
    server.kill();
    assert_eq!(pebble.orders_created(), 1);

    // Back up: the dead node's claim runs out (the clock moves past it) and the new process
    // resumes the same order; propagation now succeeds.
    relay.forward.store(true, Ordering::SeqCst);
    server.restart_with_args(&["--dev-test-clock"]);
    let api = server.client();
    let (_, before) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
    assert_eq!(before["status"], "processing", "{before}");
    let order_url = before["order_url"].as_str().unwrap().to_owned();
    api.advance_clock("21m").await;

    let (mut cursor, mut seen) = (None, Vec::new());
    let event = wait_for_event(
        &api,
        &sub,
        &mut cursor,
        &mut seen,
        Duration::from_secs(180),
        |e| is_issued(e) || e["event_type"] == "acme.order_failed",
    )
    .await;
    assert!(is_issued(&event), "{event}\n{}", server.log());
    let (_, after) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
    assert_eq!(after["status"], "valid", "{after}");
    assert_eq!(
        after["order_url"],
        order_url.as_str(),
        "the same order at the CA"
    );
    assert_eq!(pebble.orders_created(), 1, "no second order at the CA");
    let (_, list) = api.get("/v1/pki/acme/orders?status=valid").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);
    check_stored_certificate(
        &api,
        &pebble,
        "pki/acme/resume.acme.test",
        &["resume.acme.test"],
        "resume",
    )
    .await;
    assert!(
        knot.dig("_acme-challenge.resume.acme.test", "TXT")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_is_driven_by_the_test_clock_and_keeps_the_path() {
    let knot = Knot::start(ZONE, HOSTS);
    let server = TestServer::start_with_args(&["--dev-test-clock"]);
    let port: u16 = server.base_url.rsplit(':').next().unwrap().parse().unwrap();
    let pebble = pebble(knot.port(), port);
    let api = server.client();
    let account = register(&api, &pebble).await;
    let sub = subscribe(&api).await;
    let (s, order) = api
        .post(
            "/v1/pki/acme/orders",
            json!({"account_id": account, "domains": ["renew.acme.test"], "challenge": "http-01"}),
        )
        .await;
    assert_eq!(s, 202, "{order}");
    let (mut cursor, mut seen) = (None, Vec::new());
    let first = wait_for_event(
        &api,
        &sub,
        &mut cursor,
        &mut seen,
        Duration::from_secs(120),
        is_issued,
    )
    .await;
    let first_id = first["data"]["certificate_id"].as_str().unwrap().to_owned();
    let (_, cert) = api.get(&format!("/v1/pki/certs/{first_id}")).await;
    let renewal_order = cert["renewal"]["order_id"].as_str().unwrap().to_owned();
    assert_eq!(cert["renewal"]["status"], "scheduled");

    // Nothing happens before two thirds of the lifetime.
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let (not_before, not_after) = (parse(&cert["not_before"]), parse(&cert["not_after"]));
    let lifetime: time::Duration = not_after - not_before;
    let two_thirds: time::OffsetDateTime = not_before + lifetime * 2 / 3;
    let now = api.clock_now().await;
    let early: time::Duration = (two_thirds - now) / 2;
    api.advance_clock(&format!("{}s", early.whole_seconds()))
        .await;
    let (_, waiting) = api
        .get(&format!("/v1/pki/acme/orders/{renewal_order}"))
        .await;
    assert_eq!(waiting["status"], "scheduled", "{waiting}");

    // Past two thirds: renewed once, at the same path.
    let now = api.clock_now().await;
    let left: time::Duration = two_thirds - now;
    api.advance_clock(&format!("{}s", left.whole_seconds() + 3600))
        .await;
    let renewed = wait_for_event(
        &api,
        &sub,
        &mut cursor,
        &mut seen,
        Duration::from_secs(120),
        |e| is_issued(e) && e["data"]["via"] == "acme_renewal",
    )
    .await;
    let new_id = renewed["data"]["certificate_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_id, first_id);
    let (_, done) = api
        .get(&format!("/v1/pki/acme/orders/{renewal_order}"))
        .await;
    assert_eq!(done["status"], "valid", "{done}");
    assert_eq!(done["renewal_of"], first_id.as_str());
    assert_eq!(done["certificate_id"], new_id.as_str());
    let secret = check_stored_certificate(
        &api,
        &pebble,
        "pki/acme/renew.acme.test",
        &["renew.acme.test"],
        "renewed",
    )
    .await;
    assert_eq!(secret["version"], 2, "a new version of the same secret");
    let (_, new_cert) = api.get(&format!("/v1/pki/certs/{new_id}")).await;
    assert_ne!(new_cert["serial"], cert["serial"]);
    assert_eq!(new_cert["renewal"]["status"], "scheduled", "{new_cert}");
    assert_eq!(pebble.orders_created(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_renew_a_certificate_once() {
    let db = TestDatabase::create();
    let knot = Knot::start(ZONE, HOSTS);
    let a = ProdServer::start(&format!(
        "storage = \"postgres\"\ndatabase_url = \"{}\"\nacme_check_interval = \"1s\"\n",
        db.url
    ));
    let b = a.spawn_node();
    let port: u16 = a.base_url.rsplit(':').next().unwrap().parse().unwrap();
    // Short-lived certificates: the renewal comes due 30 s after issuance, on both nodes.
    let pebble = Pebble::start(&PebbleOptions {
        dns_port: knot.port(),
        http_port: port,
        cert_validity_secs: Some(45),
        ..PebbleOptions::default()
    });
    let on_a = a.admin();
    let on_b = b.client(&a.admin_token);
    let account = register(&on_a, &pebble).await;
    let sub = subscribe(&on_b).await;
    let (s, order) = on_b
        .post(
            "/v1/pki/acme/orders",
            json!({"account_id": account, "domains": ["pair.acme.test"], "challenge": "http-01"}),
        )
        .await;
    assert_eq!(s, 202, "{order}");
    let (mut cursor, mut seen) = (None, Vec::new());
    let first = wait_for_event(
        &on_b,
        &sub,
        &mut cursor,
        &mut seen,
        Duration::from_secs(120),
        is_issued,
    )
    .await;
    assert_eq!(first["data"]["via"], "acme", "{first}\n{}", a.log());
    let first_id = first["data"]["certificate_id"].as_str().unwrap().to_owned();

    let renewed = wait_for_event(
        &on_a,
        &sub,
        &mut cursor,
        &mut seen,
        Duration::from_secs(120),
        |e| is_issued(e) && e["data"]["via"] == "acme_renewal",
    )
    .await;
    let renewed_id = renewed["data"]["certificate_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Exactly one renewal: one order at the CA for it, one renewal order here, valid.
    assert_eq!(pebble.orders_created(), 2, "{}", pebble.log());
    let (_, cert) = on_a.get(&format!("/v1/pki/certs/{first_id}")).await;
    assert_eq!(cert["renewal"]["status"], "valid", "{cert}");
    assert_eq!(cert["renewal"]["certificate_id"], renewed_id.as_str());
    let renewals_of_first: Vec<&Value> = seen
        .iter()
        .filter(|e| is_issued(e) && e["data"]["via"] == "acme_renewal")
        .collect();
    assert_eq!(renewals_of_first.len(), 1, "{seen:?}");
    let (_, secret) = on_b.get("/v1/secrets/pki/acme/pair.acme.test").await;
    assert_eq!(secret["version"], 2);
}
