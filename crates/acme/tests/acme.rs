//! The ACME library against real peers: pebble (the ACME server), knot (authoritative DNS,
//! RFC 2136 with TSIG, which pebble resolves through) and moto_server (Route 53). No mocks.
//! Each test starts its own pebble and knot on free ports.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must stop the test loudly"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scaivault_acme::dns::{
    DnsProvider, PropagationCheck, Rfc2136Config, Rfc2136Provider, Route53Config, Route53Provider,
    TsigAlgorithm, TxtRecord,
};
use scaivault_acme::renewal::{RenewalDecision, certificate_validity, renewal_decision};
use scaivault_acme::{
    AcmeAccount, AcmeError, ChallengeKind, Eab, Http01Responder, IssuedCertificate, KeyType,
    MemoryHttp01, OrderCheckpoint, OrderRequest, OrderState, PollPolicy, Provider, RegisterRequest,
    Solver, StoredAccount,
};
use scaivault_testpeers::knot::Knot;
use scaivault_testpeers::moto::Moto;
use scaivault_testpeers::pebble::{Pebble, PebbleOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ZONE: &str = "acme.test";

/// knot for acme.test, pebble resolving through it and validating http-01 on `http`'s port.
struct Peers {
    knot: Knot,
    pebble: Pebble,
}

fn peers(http_port: u16, eab_keys: Option<Vec<(String, String)>>) -> Peers {
    let knot = Knot::start(ZONE, &["@", "www", "bad", "resume", "midway", "rsa"]);
    let pebble = Pebble::start(&PebbleOptions {
        dns_port: knot.port(),
        http_port,
        eab_keys,
        ..PebbleOptions::default()
    });
    Peers { knot, pebble }
}

fn poll() -> PollPolicy {
    PollPolicy {
        initial_delay: Duration::from_millis(200),
        backoff: 1.5,
        timeout: Duration::from_secs(60),
    }
}

fn register_request(pebble: &Pebble, eab: Option<Eab>) -> RegisterRequest {
    RegisterRequest {
        provider: Provider::Custom,
        directory_url: Some(pebble.directory_url()),
        contacts: vec!["ops@scaivault.test".into()],
        terms_of_service_agreed: true,
        eab,
        ca_bundle_pem: Some(pebble.tls_ca_pem()),
    }
}

async fn register(pebble: &Pebble) -> (AcmeAccount, StoredAccount) {
    AcmeAccount::register(register_request(pebble, None))
        .await
        .unwrap_or_else(|e| panic!("register: {e}\npebble log:\n{}", pebble.log()))
}

/// An http-01 responder that can answer wrong (`wrong`: a bad key authorization).
#[derive(Clone, Default)]
struct TestResponder {
    tokens: Arc<Mutex<HashMap<String, String>>>,
    wrong: bool,
}

/// Serves `GET /.well-known/acme-challenge/{token}` from `lookup` on a real socket (the port
/// pebble validates http-01 on), as the server's listener will.
/// Token -> key authorization to answer.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

fn serve_http01(listener: TcpListener, lookup: Lookup) {
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let lookup = lookup.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf);
                let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
                let body = path
                    .strip_prefix("/.well-known/acme-challenge/")
                    .and_then(|t| lookup(t));
                let response = match body {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{b}",
                        b.len()
                    ),
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\
                             Connection: close\r\n\r\n"
                        .to_owned(),
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
}

/// The crate's in-memory responder, served on `listener`.
fn memory_responder(listener: TcpListener) -> Arc<MemoryHttp01> {
    let responder = Arc::new(MemoryHttp01::default());
    let served = responder.clone();
    serve_http01(listener, Arc::new(move |t| served.key_authorization(t)));
    responder
}

impl TestResponder {
    fn serve(&self, listener: TcpListener) {
        let tokens = self.tokens.clone();
        serve_http01(
            listener,
            Arc::new(move |t| tokens.lock().unwrap().get(t).cloned()),
        );
    }

    fn published(&self) -> usize {
        self.tokens.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl Http01Responder for TestResponder {
    async fn present(&self, _domain: &str, token: &str, key_auth: &str) -> Result<(), AcmeError> {
        let answer = if self.wrong {
            format!("{token}.not-the-account-thumbprint")
        } else {
            key_auth.to_owned()
        };
        self.tokens.lock().unwrap().insert(token.to_owned(), answer);
        Ok(())
    }

    async fn cleanup(&self, _domain: &str, token: &str) -> Result<(), AcmeError> {
        self.tokens.lock().unwrap().remove(token);
        Ok(())
    }
}

/// A bound listener for http-01 and its port (bound before pebble starts, so the port is ours).
async fn http_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `openssl verify` of the leaf against pebble's root and intermediate, the key matches the
/// certificate, and the SANs are `names`.
fn verify_with_openssl(pebble: &Pebble, issued: &IssuedCertificate, names: &[&str]) {
    let chain = pebble.path("chain.pem");
    let key = pebble.path("key-issued.pem");
    let ca = pebble.path("issuing-ca.pem");
    std::fs::write(&chain, &issued.certificate_chain_pem).unwrap();
    std::fs::write(&key, issued.private_key_pem.as_bytes()).unwrap();
    std::fs::write(&ca, pebble.issuing_ca_pem()).unwrap();
    let verified = run(Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&ca)
        .arg(&chain));
    assert!(verified.contains(": OK"), "openssl verify: {verified}");
    let cert_pub = run(Command::new("openssl")
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(&chain));
    let key_pub = run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key));
    assert_eq!(
        cert_pub, key_pub,
        "the private key does not match the certificate"
    );
    let sans = run(Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&chain));
    for name in names {
        assert!(
            sans.contains(&format!("DNS:{name}")),
            "{name} not in {sans}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_load_and_deactivate_without_eab() {
    let peers = peers(0, None);
    let (account, stored) = register(&peers.pebble).await;
    assert!(account.account_url().starts_with("https://127.0.0.1:"));

    // The stored account survives a JSON round trip (the server seals it) and loads.
    let json = serde_json::to_string(&stored).unwrap();
    assert!(
        !format!("{stored:?}").contains("key_pkcs8"),
        "Debug leaks the key"
    );
    let restored: StoredAccount = serde_json::from_str(&json).unwrap();
    let loaded = AcmeAccount::load(&restored).await.unwrap();
    assert_eq!(loaded.account_url(), account.account_url());

    loaded.deactivate().await.unwrap();
    // A deactivated account can no longer order: the CA says so in a problem document.
    let err = account
        .new_order(&OrderRequest {
            domains: vec!["www.acme.test".into()],
            challenge: ChallengeKind::Http01,
            key_type: KeyType::EcdsaP256,
        })
        .await
        .expect_err("a deactivated account ordered");
    let problem = err
        .problem()
        .unwrap_or_else(|| panic!("no problem document: {err}"));
    assert!(
        problem
            .kind
            .as_deref()
            .is_some_and(|k| k.starts_with("urn:ietf:params:acme:error:")),
        "{problem:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eab_required_refused_without_and_accepted_with() {
    let hmac_b64 = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let peers = peers(0, Some(vec![("kid-1".into(), hmac_b64.into())]));

    // The CA refuses, with its problem document.
    let err = AcmeAccount::register(register_request(&peers.pebble, None))
        .await
        .expect_err("registered without EAB where it is required");
    let problem = err
        .problem()
        .unwrap_or_else(|| panic!("no problem document: {err}"));
    assert_eq!(
        problem.kind.as_deref(),
        Some("urn:ietf:params:acme:error:externalAccountRequired"),
        "{problem:?}"
    );

    // A wrong HMAC key is refused too.
    let wrong = Eab::from_base64url("kid-1", "c29tZS1vdGhlci1rZXktb2YtZW5vdWdoLWxlbmd0aA").unwrap();
    assert!(
        AcmeAccount::register(register_request(&peers.pebble, Some(wrong)))
            .await
            .is_err()
    );

    let eab = Eab::from_base64url("kid-1", hmac_b64).unwrap();
    let (account, _) = AcmeAccount::register(register_request(&peers.pebble, Some(eab)))
        .await
        .unwrap_or_else(|e| panic!("register with EAB: {e}\n{}", peers.pebble.log()));
    assert!(!account.account_url().is_empty());

    // Presets that need EAB refuse before sending anything.
    let mut zerossl = register_request(&peers.pebble, None);
    zerossl.provider = Provider::Zerossl;
    zerossl.directory_url = None;
    assert!(matches!(
        AcmeAccount::register(zerossl).await,
        Err(AcmeError::EabRequired {
            provider: "zerossl"
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_single_name_certificate_verifies() {
    let (listener, port) = http_listener().await;
    let peers = peers(port, None);
    let responder = memory_responder(listener);
    let (account, _) = register(&peers.pebble).await;

    let order = account
        .new_order(&OrderRequest {
            domains: vec!["www.acme.test".into()],
            challenge: ChallengeKind::Http01,
            key_type: KeyType::EcdsaP256,
        })
        .await
        .unwrap();
    let issued = order
        .complete(&Solver::Http01(responder.clone()), &poll())
        .await
        .unwrap_or_else(|e| panic!("http-01 order: {e}\n{}", peers.pebble.log()));
    verify_with_openssl(&peers.pebble, &issued, &["www.acme.test"]);
    assert!(responder.is_empty(), "http-01 tokens left published");

    // A renewal order names the certificate it replaces (ARI); without ARI it is a plain one.
    let renewed = account
        .renewal_order(
            &OrderRequest {
                domains: vec!["www.acme.test".into()],
                challenge: ChallengeKind::Http01,
                key_type: KeyType::EcdsaP256,
            },
            &issued.certificate_chain_pem,
        )
        .await
        .unwrap()
        .complete(&Solver::Http01(responder.clone()), &poll())
        .await
        .unwrap();
    assert_ne!(renewed.order_url, issued.order_url);
    assert_ne!(renewed.certificate_chain_pem, issued.certificate_chain_pem);
    verify_with_openssl(&peers.pebble, &renewed, &["www.acme.test"]);

    // Renewal: a fresh certificate is not due; ARI if pebble offers it.
    let (nb, na) = certificate_validity(&issued.certificate_chain_pem).unwrap();
    let now = nb + time::Duration::hours(1);
    let ari = account
        .renewal_info(&issued.certificate_chain_pem)
        .await
        .unwrap();
    eprintln!("pebble ARI: {ari:?}");
    let window = ari.as_ref().map(|w| (w.start, w.end));
    if window.is_none() {
        assert!(matches!(
            renewal_decision(nb, na, now, None, 0.5),
            RenewalDecision::NotYet { .. }
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_rsa_key() {
    let (listener, port) = http_listener().await;
    let peers = peers(port, None);
    let responder = TestResponder::default();
    responder.serve(listener);
    let (account, _) = register(&peers.pebble).await;
    let issued = account
        .new_order(&OrderRequest {
            domains: vec!["rsa.acme.test".into()],
            challenge: ChallengeKind::Http01,
            key_type: KeyType::Rsa2048,
        })
        .await
        .unwrap()
        .complete(&Solver::Http01(Arc::new(responder)), &poll())
        .await
        .unwrap();
    verify_with_openssl(&peers.pebble, &issued, &["rsa.acme.test"]);
    let text = run(Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(peers.pebble.path("chain.pem")));
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
}

fn rfc2136(knot: &Knot) -> Rfc2136Provider {
    Rfc2136Provider::new(&Rfc2136Config {
        server: SocketAddr::from(([127, 0, 0, 1], knot.port())),
        zone: knot.zone().to_owned(),
        tsig_key_name: knot.tsig_key_name().to_owned(),
        tsig_algorithm: TsigAlgorithm::HmacSha256,
        tsig_secret_b64: knot.tsig_secret_b64().to_owned().into(),
        ttl: 60,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns01_wildcard_via_rfc2136() {
    let peers = peers(0, None);
    let (account, _) = register(&peers.pebble).await;
    let provider = rfc2136(&peers.knot);
    let solver = Solver::Dns01 {
        provider: Arc::new(provider),
        propagation: PropagationCheck {
            timeout: Duration::from_secs(30),
            initial_delay: Duration::from_millis(100),
            ..PropagationCheck::on(vec![SocketAddr::from(([127, 0, 0, 1], peers.knot.port()))])
        },
    };
    let issued = account
        .new_order(&OrderRequest {
            domains: vec!["*.acme.test".into(), "acme.test".into()],
            challenge: ChallengeKind::Dns01,
            key_type: KeyType::EcdsaP256,
        })
        .await
        .unwrap()
        .complete(&solver, &poll())
        .await
        .unwrap_or_else(|e| panic!("dns-01 order: {e}\n{}", peers.pebble.log()));
    verify_with_openssl(&peers.pebble, &issued, &["*.acme.test", "acme.test"]);
    // Both TXT values (wildcard and base share the name) are gone again.
    assert_eq!(
        peers.knot.dig("_acme-challenge.acme.test", "TXT"),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc2136_present_and_cleanup_and_bad_key() {
    let knot = Knot::start(ZONE, &["@"]);
    let provider = rfc2136(&knot);
    let a = TxtRecord {
        name: "_acme-challenge.x.acme.test.".into(),
        value: "value-a".into(),
    };
    let b = TxtRecord {
        value: "value-b".into(),
        ..a.clone()
    };
    provider.present(&a).await.unwrap();
    provider.present(&b).await.unwrap();
    PropagationCheck::on(vec![SocketAddr::from(([127, 0, 0, 1], knot.port()))])
        .wait_visible(&b)
        .await
        .unwrap();
    let mut seen = knot.dig("_acme-challenge.x.acme.test", "TXT");
    seen.sort();
    assert_eq!(seen, ["\"value-a\"", "\"value-b\""]);
    provider.cleanup(&a).await.unwrap();
    assert_eq!(
        knot.dig("_acme-challenge.x.acme.test", "TXT"),
        ["\"value-b\""]
    );
    provider.cleanup(&b).await.unwrap();
    assert!(knot.dig("_acme-challenge.x.acme.test", "TXT").is_empty());

    // Outside the zone: refused locally, no panic.
    let outside = TxtRecord {
        name: "_acme-challenge.example.org.".into(),
        value: "v".into(),
    };
    assert!(matches!(
        provider.present(&outside).await,
        Err(AcmeError::InvalidRequest(_))
    ));
    // A wrong TSIG secret: the server refuses, and it says so.
    let bad = Rfc2136Provider::new(&Rfc2136Config {
        server: SocketAddr::from(([127, 0, 0, 1], knot.port())),
        zone: ZONE.into(),
        tsig_key_name: knot.tsig_key_name().to_owned(),
        tsig_algorithm: TsigAlgorithm::HmacSha256,
        tsig_secret_b64: "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0="
            .to_owned()
            .into(),
        ttl: 60,
    })
    .unwrap();
    assert!(bad.present(&a).await.is_err());
    assert!(knot.dig("_acme-challenge.x.acme.test", "TXT").is_empty());
    // A missing record never appears: the bounded propagation wait gives up.
    let err = PropagationCheck {
        timeout: Duration::from_millis(800),
        initial_delay: Duration::from_millis(100),
        ..PropagationCheck::on(vec![SocketAddr::from(([127, 0, 0, 1], knot.port()))])
    }
    .wait_visible(&a)
    .await;
    assert!(matches!(err, Err(AcmeError::Propagation { .. })), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validation_surfaces_the_problem_document() {
    let (listener, port) = http_listener().await;
    let peers = peers(port, None);
    let responder = TestResponder {
        wrong: true,
        ..TestResponder::default()
    };
    responder.serve(listener);
    let (account, _) = register(&peers.pebble).await;
    let order = account
        .new_order(&OrderRequest {
            domains: vec!["bad.acme.test".into()],
            challenge: ChallengeKind::Http01,
            key_type: KeyType::EcdsaP256,
        })
        .await
        .unwrap();
    let order_url = order.url().to_owned();
    let err = order
        .complete(&Solver::Http01(Arc::new(responder.clone())), &poll())
        .await
        .expect_err("a wrong key authorization validated");
    let AcmeError::OrderFailed {
        order_url: failed_url,
        problem,
    } = &err
    else {
        panic!("not OrderFailed: {err:?}");
    };
    assert_eq!(failed_url, &order_url);
    assert_eq!(
        problem.kind.as_deref(),
        Some("urn:ietf:params:acme:error:unauthorized"),
        "{problem:?}"
    );
    assert!(problem.detail.is_some(), "{problem:?}");
    assert!(
        problem
            .subproblems
            .iter()
            .any(|s| s.identifier.as_deref() == Some("bad.acme.test")),
        "{problem:?}"
    );
    // The problem document serialises as RFC 7807 JSON (for events).
    let json = serde_json::to_value(problem).unwrap();
    assert_eq!(json["type"], "urn:ietf:params:acme:error:unauthorized");
    assert_eq!(
        responder.published(),
        0,
        "token left published after the failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_by_order_url_creates_no_second_order() {
    let (listener, port) = http_listener().await;
    let peers = peers(port, None);
    let responder = TestResponder::default();
    responder.serve(listener);
    let (account, stored) = register(&peers.pebble).await;
    let order = account
        .new_order(&OrderRequest {
            domains: vec!["resume.acme.test".into()],
            challenge: ChallengeKind::Http01,
            key_type: KeyType::EcdsaP256,
        })
        .await
        .unwrap();
    // What the server persists, then the "crash": the order and the account object are gone.
    let saved = serde_json::to_string(order.checkpoint()).unwrap();
    assert!(
        !format!("{:?}", order.checkpoint()).contains("PRIVATE"),
        "Debug leaks the key"
    );
    drop(order);
    drop(account);

    let account = AcmeAccount::load(&stored).await.unwrap();
    let checkpoint: OrderCheckpoint = serde_json::from_str(&saved).unwrap();
    let resumed = account.resume_order(&checkpoint).await.unwrap();
    assert_eq!(resumed.url(), checkpoint.order_url);
    let issued = resumed
        .complete(&Solver::Http01(Arc::new(responder.clone())), &poll())
        .await
        .unwrap_or_else(|e| panic!("resumed order: {e}\n{}", peers.pebble.log()));
    assert_eq!(issued.order_url, checkpoint.order_url);
    verify_with_openssl(&peers.pebble, &issued, &["resume.acme.test"]);

    // Resuming a finished order downloads the same certificate: still the one order.
    let again = account
        .resume_order(&checkpoint)
        .await
        .unwrap()
        .complete(&Solver::Http01(Arc::new(responder)), &poll())
        .await
        .unwrap();
    assert_eq!(again.certificate_chain_pem, issued.certificate_chain_pem);
    // Pebble logs one new-order per order it creates.
    // Pebble logs its order count at every new-order: it only ever reached one.
    let counts = order_counts(&peers.pebble);
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(
        counts[0].ends_with("There are now 1 orders in the db"),
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_creates_and_deletes_the_txt_record() {
    let moto = Moto::shared();
    let out = moto
        .python(
            moto.root(),
            r#"
r53 = client("route53")
zone = r53.create_hosted_zone(Name="r53.acme.test.", CallerReference="scaivault-acme-test")
print(zone["HostedZone"]["Id"])
"#,
        )
        .unwrap();
    let zone_id = out.lines().last().unwrap().trim().to_owned();
    let (key_id, secret) = moto.root_keys();
    let provider = Route53Provider::new(&Route53Config {
        hosted_zone_id: zone_id.clone(),
        region: None,
        endpoint_url: Some(moto.endpoint()),
        access_key_id: Some(key_id),
        secret_access_key: Some(secret.into()),
        ttl: 60,
    })
    .await
    .unwrap();
    // Read back through moto's state dump (its zone's log of applied changes, replayed):
    // moto (5.x) checks SigV4 on Route 53 GETs against the wrong payload once IAM auth is on,
    // so ListResourceRecordSets fails for every client, boto3 included.
    let list = |zone: &str| {
        let out = Command::new("curl")
            .args(["-sSf", &format!("{}/moto-api/data.json", moto.endpoint())])
            .output()
            .unwrap();
        assert!(out.status.success(), "moto data.json");
        let data: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let zone = data["route53"]["FakeZone"]
            .as_array()
            .unwrap()
            .iter()
            .find(|z| z["id"] == zone)
            .cloned()
            .unwrap();
        let mut values: Vec<String> = Vec::new();
        for change in zone["rr_changes"].as_array().cloned().unwrap_or_default() {
            let set = &change["ResourceRecordSet"];
            if set["Type"] != "TXT"
                || set["Name"].as_str().map(|n| n.trim_end_matches('.'))
                    != Some("_acme-challenge.r53.acme.test")
            {
                continue;
            }
            values = if change["Action"] == "DELETE" {
                Vec::new()
            } else {
                set["ResourceRecords"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|r| r["Value"].as_str().map(str::to_owned))
                    .collect()
            };
        }
        values.sort();
        values
    };
    let a = TxtRecord {
        name: "_acme-challenge.r53.acme.test.".into(),
        value: "token-a".into(),
    };
    let b = TxtRecord {
        value: "token-b".into(),
        ..a.clone()
    };
    provider.present(&a).await.unwrap();
    provider.present(&a).await.unwrap(); // idempotent
    provider.present(&b).await.unwrap();
    assert_eq!(list(&zone_id), ["\"token-a\"", "\"token-b\""]);
    provider.cleanup(&a).await.unwrap();
    assert_eq!(list(&zone_id), ["\"token-b\""]);
    provider.cleanup(&b).await.unwrap();
    provider.cleanup(&b).await.unwrap(); // idempotent
    assert!(list(&zone_id).is_empty());
}

/// Pebble logs its order count at every new-order: the count lines it logged.
fn order_counts(pebble: &Pebble) -> Vec<String> {
    pebble
        .log()
        .lines()
        .filter(|l| l.contains("orders in the db"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_validation_resumes_at_finalize() {
    let (listener, port) = http_listener().await;
    let peers = peers(port, None);
    let responder = memory_responder(listener);
    let solver = Solver::Http01(responder.clone());
    let (account, stored) = register(&peers.pebble).await;
    let mut order = account
        .new_order(&OrderRequest {
            domains: vec!["midway.acme.test".into()],
            challenge: ChallengeKind::Http01,
            key_type: KeyType::EcdsaP256,
        })
        .await
        .unwrap();
    let saved = serde_json::to_string(order.checkpoint()).unwrap();
    // Validated, then the process dies before finalizing.
    assert_eq!(
        order.validate(&solver, &poll()).await.unwrap(),
        OrderState::Ready
    );
    assert!(
        responder.is_empty(),
        "tokens left published after validation"
    );
    drop(order);
    drop(account);

    let account = AcmeAccount::load(&stored).await.unwrap();
    let checkpoint: OrderCheckpoint = serde_json::from_str(&saved).unwrap();
    let mut resumed = account.resume_order(&checkpoint).await.unwrap();
    assert_eq!(resumed.refresh().await.unwrap(), OrderState::Ready);
    let issued = resumed.complete(&solver, &poll()).await.unwrap();
    assert_eq!(issued.order_url, checkpoint.order_url);
    // The certificate is for the key persisted before the crash.
    verify_with_openssl(&peers.pebble, &issued, &["midway.acme.test"]);
    let counts = order_counts(&peers.pebble);
    assert_eq!(counts.len(), 1, "{counts:?}");
}

/// Publishes a wrong TXT value through the real RFC 2136 provider (the right name).
struct WrongTxt(Rfc2136Provider);

impl WrongTxt {
    fn wrong(record: &TxtRecord) -> TxtRecord {
        TxtRecord {
            name: record.name.clone(),
            value: format!("{}-wrong", record.value),
        }
    }
}

#[async_trait::async_trait]
impl DnsProvider for WrongTxt {
    async fn present(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.0.present(&Self::wrong(record)).await
    }

    async fn cleanup(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        self.0.cleanup(&Self::wrong(record)).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns01_records_cleaned_up_after_a_failure() {
    let peers = peers(0, None);
    let (account, _) = register(&peers.pebble).await;
    let solver = Solver::Dns01 {
        provider: Arc::new(WrongTxt(rfc2136(&peers.knot))),
        propagation: PropagationCheck {
            timeout: Duration::from_secs(1),
            initial_delay: Duration::from_millis(100),
            ..PropagationCheck::on(vec![SocketAddr::from(([127, 0, 0, 1], peers.knot.port()))])
        },
    };
    let mut order = account
        .new_order(&OrderRequest {
            domains: vec!["*.acme.test".into(), "acme.test".into()],
            challenge: ChallengeKind::Dns01,
            key_type: KeyType::EcdsaP256,
        })
        .await
        .unwrap();
    // The right value never shows: the bounded propagation wait gives up before the CA is
    // asked to validate, and the records written are removed.
    let err = order
        .validate(&solver, &poll())
        .await
        .expect_err("validated a wrong TXT");
    assert!(matches!(err, AcmeError::Propagation { .. }), "{err:?}");
    assert_eq!(
        peers.knot.dig("_acme-challenge.acme.test", "TXT"),
        Vec::<String>::new()
    );
    // Nothing was sent to the CA for validation: the order can still be completed.
    assert_eq!(order.refresh().await.unwrap(), OrderState::Pending);
}
