//! Root key providers end to end, with the real `scaivault` binary and the real peers:
//! SoftHSM2 (PKCS#11) and moto_server (AWS KMS). Init, write, restart, read; rewrap from one
//! provider to the next; a provider that is gone seals the server and its return unseals it;
//! a wrong PIN stops it. (TPM: tests/cli/tpm.rs.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use scaivault_testpeers::moto::Moto;
use scaivault_testpeers::softhsm::SoftHsm;
use serde_json::{Value, json};

use crate::common::{Api, BIN, assert_error};

const USER_PIN: &str = "4711-user";

/// A production install driven through its config file, with the peers' environment.
struct Install {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    root_key: String,
}

impl Install {
    fn new(env: Vec<(String, String)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("hsm.pin");
        std::fs::write(&pin, format!("{USER_PIN}\n")).unwrap();
        std::fs::set_permissions(&pin, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        Self {
            dir,
            env,
            root_key: String::new(),
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("scaivault.toml")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes the config: the provider in use and every provider's section.
    fn configure(&mut self, provider: &str, sections: &str) {
        let text = format!(
            "listen = \"127.0.0.1:0\"\nallow_plain_http = true\ndata_dir = \"{}\"\nroot_key_file = \"{}\"\nbootstrap_tenant_id = \"tnt_ops\"\nbootstrap_partner_id = \"ptn_ops\"\nunseal_retry_interval = \"1s\"\n\n[root_key]\nprovider = \"{provider}\"\n{sections}",
            self.data_dir().display(),
            self.dir.path().join("root.key").display(),
        );
        std::fs::write(self.config_path(), text).unwrap();
        self.root_key = provider.to_owned();
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(self.config_path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("SCAIVAULT_TOKEN")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "scaivault {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `operator init`; returns the bootstrap admin token.
    fn init(&self, extra: &[&str]) -> String {
        let mut args = vec!["operator", "init"];
        args.extend_from_slice(extra);
        let out = self.run_ok(&args);
        out.lines()
            .find(|l| l.starts_with("skt_"))
            .expect("bootstrap token printed")
            .to_owned()
    }

    fn start(&self) -> Running {
        let log_path = self.dir.path().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["server", "--config"])
            .arg(self.config_path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut url = None;
        let mut sealed = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("ScaiVault listening on ") {
                        url = Some(u.trim().to_owned());
                    }
                    if line.trim_start().starts_with("Sealed:") {
                        sealed = true;
                    }
                    // The dev banner's last line, or the sealed banner's.
                    if url.is_some() && (sealed || line.trim_start().starts_with("Root key")) {
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if url.is_some() {
                        break;
                    }
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!(
                            "server exited ({status}): {}",
                            std::fs::read_to_string(&log_path).unwrap_or_default()
                        );
                    }
                }
                Err(_) => break,
            }
        }
        let Some(base_url) = url else {
            let _ = child.kill();
            panic!(
                "server did not start: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        };
        Running {
            base_url,
            child,
            sealed,
        }
    }

    /// Starts the server expecting it to stop with an error; returns its log.
    fn start_fails(&self) -> String {
        let out = Command::new(BIN)
            .args(["server", "--config"])
            .arg(self.config_path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "the server should not have started");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

struct Running {
    base_url: String,
    child: Child,
    sealed: bool,
}

impl Running {
    fn api(&self, token: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base_url.clone(),
            token: Some(token.to_owned()),
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pkcs11_section(hsm: &SoftHsm, token: &str, dir: &Path) -> String {
    format!(
        "\n[root_key.pkcs11]\nmodule = \"{}\"\ntoken_label = \"{token}\"\npin_file = \"{}\"\n",
        hsm.module().display(),
        dir.join("hsm.pin").display()
    )
}

fn awskms_section(key_id: &str, endpoint: &str) -> String {
    format!(
        "\n[root_key.awskms]\nkey_id = \"{key_id}\"\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n"
    )
}

fn aws_env(moto: &Moto) -> Vec<(String, String)> {
    let (access, secret) = moto.root_keys();
    vec![
        ("AWS_ACCESS_KEY_ID".into(), access),
        ("AWS_SECRET_ACCESS_KEY".into(), secret),
        ("AWS_REGION".into(), "us-east-1".into()),
        // No profile or instance metadata lookups from this machine's files.
        ("AWS_CONFIG_FILE".into(), "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/nonexistent".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]
}

async fn write_secrets(api: &Api, n: usize) -> Vec<(String, String)> {
    let mut written = Vec::new();
    for i in 0..n {
        let path = format!("prov/s{i}");
        let value = format!("plaintext-marker-{i}-b7c1");
        let (s, body) = api
            .put(
                &format!("/v1/secrets/{path}"),
                json!({"data": {"v": value}}),
            )
            .await;
        assert!(s == 200 || s == 201, "{body}");
        written.push((path, value));
    }
    written
}

async fn read_all(api: &Api, written: &[(String, String)]) {
    for (path, value) in written {
        let (s, body) = api.get(&format!("/v1/secrets/{path}")).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert_eq!(body["data"]["v"], value.as_str());
    }
}

/// Every file under `dir`, searched for `needle` (the data dir never holds a value in clear).
fn assert_not_in_files(dir: &Path, needle: &str) {
    for file in crate::common::files_under(dir) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{} holds {needle} in clear",
            file.display()
        );
    }
}

/// file -> pkcs11 -> awskms: the keyring moves without touching a value; after each move the
/// old root key is not needed, every secret reads back, and the move is in the audit trail. The
/// data directory never holds a root key of the HSM or KMS kind, nor a value in clear.
#[tokio::test]
async fn rewrap_file_to_pkcs11_to_awskms() {
    let hsm = SoftHsm::new();
    hsm.init_token("vault-rewrap", "so-pin-1", USER_PIN);
    let moto = Moto::shared();
    let kms = moto.create_kms_key(Some("alias/scaivault-rewrap"));
    let mut env = aws_env(moto);
    env.push((
        "SOFTHSM2_CONF".into(),
        hsm.conf_path().display().to_string(),
    ));
    let mut install = Install::new(env);
    let sections = format!(
        "{}{}",
        pkcs11_section(&hsm, "vault-rewrap", install.dir.path()),
        awskms_section("alias/scaivault-rewrap", &moto.endpoint())
    );

    install.configure("file", &sections);
    let token = install.init(&[]);
    let server = install.start();
    let written = write_secrets(&server.api(&token), 20).await;
    server.stop();

    // file -> pkcs11 (the HSM key is created by the rewrap).
    let out = install.run_ok(&[
        "operator",
        "rewrap",
        "--to-provider",
        "pkcs11",
        "--create-key",
    ]);
    assert!(out.contains("Rewrapped 2 keys"), "{out}");
    install.configure("pkcs11", &sections);
    // The key file is no longer needed: without it the server starts on the HSM.
    std::fs::rename(
        install.dir.path().join("root.key"),
        install.dir.path().join("root.key.retired"),
    )
    .unwrap();
    let server = install.start();
    assert!(!server.sealed);
    let api = server.api(&token);
    read_all(&api, &written).await;
    let (s, keys) = api.get("/v1/sys/keys").await;
    assert_eq!(s, 200, "{keys}");
    assert!(
        keys["provider"]
            .as_str()
            .unwrap()
            .starts_with("pkcs11:vault-rewrap/"),
        "{keys}"
    );
    for key in keys["keys"].as_array().unwrap() {
        assert!(
            key["wrapped_by"].as_str().unwrap().starts_with("pkcs11:"),
            "{keys}"
        );
    }
    server.stop();

    // pkcs11 -> awskms.
    let out = install.run_ok(&["operator", "rewrap", "--to-provider", "awskms"]);
    assert!(out.contains(&kms.arn), "{out}");
    install.configure("awskms", &sections);
    let server = install.start();
    let api = server.api(&token);
    read_all(&api, &written).await;
    let (s, entries) = api.get("/v1/audit?action=rewrap").await;
    assert_eq!(s, 200, "{entries}");
    let entries = entries["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "{entries:?}");
    server.stop();

    // Nothing in the data directory opens a value: no root key there, no value in clear.
    assert!(!install.data_dir().join("root.key").exists());
    assert_not_in_files(&install.data_dir(), "plaintext-marker-");
    // And with the KMS section pointing at another key, the keyring does not open.
    let other = moto.create_kms_key(None);
    install.configure("awskms", &awskms_section(&other.key_id, &moto.endpoint()));
    let log = install.start_fails();
    assert!(
        log.contains("cannot unwrap") || log.contains("refused"),
        "{log}"
    );
}

/// A KMS that cannot be reached at start: the server listens sealed (health live, ready 503,
/// every API call 503 `sealed` with Retry-After, nothing revealed without a token), `operator
/// unseal` says it is still sealed, and once the KMS is reachable again it unseals (by itself
/// or on `operator unseal`) and serves the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_kms_seals_and_its_return_unseals() {
    let moto = Moto::shared();
    let kms = moto.create_kms_key(None);
    let proxy = Proxy::start(&moto.endpoint()).await;
    let mut install = Install::new(aws_env(moto));
    install.configure("awskms", &awskms_section(&kms.key_id, &proxy.url()));
    let token = install.init(&[]);
    let server = install.start();
    assert!(!server.sealed);
    let written = write_secrets(&server.api(&token), 3).await;
    server.stop();

    proxy.pause().await;
    let server = install.start();
    assert!(server.sealed, "the banner says the server is sealed");
    let api = server.api(&token);
    let anonymous = api.anonymous();
    let (s, body) = anonymous.get("/health").await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = anonymous.get("/health/ready").await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["status"], "sealed");
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/secrets/prov/s0", server.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let body: Value = resp.json().await.unwrap();
    assert_error(503, &body, 503, "sealed");
    let (s, status) = anonymous.get("/v1/sys/seal-status").await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["sealed"], true);
    assert_eq!(status["provider"], "awskms");
    // Nothing about the KMS's whereabouts to an anonymous caller.
    let port = proxy.url().rsplit(':').next().unwrap().to_owned();
    for text in [body.to_string(), status.to_string()] {
        assert!(
            !text.contains(&port) && !text.contains("127.0.0.1"),
            "{text}"
        );
    }
    let unseal = |url: String| {
        Command::new(BIN)
            .args(["operator", "unseal", "--json"])
            .env("SCAIVAULT_URL", url)
            .env_remove("SCAIVAULT_TOKEN")
            .output()
            .unwrap()
    };
    let out = unseal(server.base_url.clone());
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // The KMS is back: `operator unseal` unseals at once.
    proxy.resume().await;
    let out = unseal(server.base_url.clone());
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["sealed"], false, "{status}");
    read_all(&api, &written).await;
    let (s, body) = anonymous.get("/health/ready").await;
    assert_eq!(s, 200, "{body}");
    server.stop();

    // Sealed again at start; this time it unseals by itself (retry every second).
    proxy.pause().await;
    let server = install.start();
    assert!(server.sealed);
    proxy.resume().await;
    let api = server.api(&token);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, _) = api.anonymous().get("/health/ready").await;
        if s == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not unseal by itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    read_all(&api, &written).await;
}

/// PKCS#11: the token missing at start seals the server and it unseals when the token is
/// back; a wrong PIN stops the server with a clear error (never retried: the HSM would lock
/// the PIN).
#[tokio::test]
async fn pkcs11_missing_token_seals_and_wrong_pin_stops() {
    let hsm = SoftHsm::new();
    hsm.init_token("vault-seal", "so-pin-1", USER_PIN);
    let env = vec![(
        "SOFTHSM2_CONF".to_owned(),
        hsm.conf_path().display().to_string(),
    )];
    let mut install = Install::new(env);
    let section = pkcs11_section(&hsm, "vault-seal", install.dir.path());
    install.configure("pkcs11", &section);
    let token = install.init(&["--create-key"]);
    assert!(!install.dir.path().join("root.key").exists());
    let server = install.start();
    let written = write_secrets(&server.api(&token), 3).await;
    server.stop();

    // Wrong PIN: refused, the server does not start.
    std::fs::write(install.dir.path().join("hsm.pin"), "0000\n").unwrap();
    let log = install.start_fails();
    assert!(log.to_lowercase().contains("pin"), "{log}");
    assert!(!log.contains(USER_PIN), "{log}");
    std::fs::write(install.dir.path().join("hsm.pin"), format!("{USER_PIN}\n")).unwrap();

    // The token's directory taken away (the token pulled out), then put back.
    let tokens = hsm.conf_path().parent().unwrap().join("tokens");
    let aside = hsm.conf_path().parent().unwrap().join("tokens-aside");
    std::fs::rename(&tokens, &aside).unwrap();
    std::fs::create_dir(&tokens).unwrap();
    let server = install.start();
    assert!(server.sealed);
    let api = server.api(&token);
    let (s, body) = api.get("/v1/secrets/prov/s0").await;
    assert_error(s, &body, 503, "sealed");
    std::fs::remove_dir(&tokens).unwrap();
    std::fs::rename(&aside, &tokens).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, _) = api.anonymous().get("/health/ready").await;
        if s == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not unseal when the token came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    read_all(&api, &written).await;
}

/// A TCP forwarder in front of a peer, so a test can take the peer off the network and bring
/// it back on the same address (moto keeps its keys in memory: restarting it would lose them).
struct Proxy {
    port: u16,
    target: String,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Proxy {
    async fn start(target_url: &str) -> Self {
        let target = target_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Self {
            port,
            target,
            task: tokio::sync::Mutex::new(None),
        };
        *proxy.task.lock().await = Some(Self::serve(listener, proxy.target.clone()));
        proxy
    }

    fn serve(listener: tokio::net::TcpListener, target: String) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Closes the listener and every open connection: connections are refused.
    async fn pause(&self) {
        if let Some(task) = self.task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn resume(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        *self.task.lock().await = Some(Self::serve(listener, self.target.clone()));
    }
}
