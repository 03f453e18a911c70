//! Health, OpenAPI, request ids, logs, and production mode (operator init, TLS).

use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::{BIN, TestServer, assert_error};

#[tokio::test]
async fn health_endpoints_need_no_token() {
    let server = TestServer::start();
    let anon = server.client().anonymous();
    for path in ["/health", "/v1/health"] {
        let (status, body) = anon.get(path).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
    }
    let (status, body) = anon.get("/health/ready").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["store"], "ok");
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let server = TestServer::start();
    let (status, doc) = server.client().anonymous().get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/secrets",
        "/v1/secrets/{path}",
        "/v1/secrets/{path}/versions",
        "/v1/secrets/metadata/{path}",
        "/v1/secrets/{path}/rotate",
        "/v1/secrets/{path}/restore",
        "/v1/secrets/expiring",
        "/v1/auth/whoami",
        "/v1/auth/tokens",
        "/health",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    for method in ["get", "put", "patch", "delete"] {
        assert!(
            doc["paths"]["/v1/secrets/{path}"].get(method).is_some(),
            "{method}"
        );
    }
    assert!(
        doc["components"]["schemas"]
            .get("WriteSecretRequest")
            .is_some()
    );
    assert!(doc["components"]["schemas"].get("ErrorBody").is_some());
}

#[tokio::test]
async fn request_ids_are_echoed_and_in_error_bodies() {
    let server = TestServer::start();
    let api = server.client();
    let resp = api
        .request(reqwest::Method::GET, "/v1/secrets/none/here")
        .send()
        .await
        .unwrap();
    let header = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], header);
    // A well-formed incoming id is kept; a hostile one is replaced.
    let resp = api
        .request(reqwest::Method::GET, "/health")
        .header("x-request-id", "trace-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-abc.123");
    let resp = api
        .request(reqwest::Method::GET, "/health")
        .header("x-request-id", "bad id\" injected")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "bad id\" injected");
}

#[tokio::test]
async fn json_logs_are_json() {
    let server = TestServer::start_with_args(&["--log-format", "json"]);
    server.client().get("/v1/secrets/none").await;
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(parsed.get("level").is_some());
    }
}

fn write_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let config = dir.join("scaivault.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nroot_key_file = \"{}\"\nbootstrap_tenant_id = \"tnt_acme_prod\"\nbootstrap_partner_id = \"ptn_acme\"\n{extra}",
            dir.join("data").display(),
            dir.join("root.key").display()
        ),
    )
    .unwrap();
    config
}

/// Runs `scaivault <args> --config <config>` to completion, with extra environment.
fn run_with_config(
    args: &[&str],
    config: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The one-time bootstrap admin token printed by `operator init`.
fn bootstrap_token(init: &std::process::Output) -> String {
    String::from_utf8_lossy(&init.stdout)
        .lines()
        .find(|l| l.starts_with("skt_"))
        .expect("bootstrap token printed")
        .to_owned()
}

/// Kills the child when dropped, so a failed assertion leaves no server behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `scaivault server --config`, returning the child and its URL.
fn start_production(config: &std::path::Path) -> (KillOnDrop, String) {
    start_production_with_env(config, &[])
}

/// The same, with extra environment variables.
fn start_production_with_env(
    config: &std::path::Path,
    env: &[(&str, &str)],
) -> (KillOnDrop, String) {
    let mut child = Command::new(BIN)
        .args(["server", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = crate::common::listening_url(&mut child).expect("production server started");
    let child = KillOnDrop(child);
    (child, url)
}

#[tokio::test]
async fn operator_init_then_production_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "allow_plain_http = true\n");

    // Not initialized yet: the server refuses to start and says what to do.
    let out = run_with_config(&["server"], &config, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("operator init"));

    let out = run_with_config(&["operator", "init"], &config, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = bootstrap_token(&out);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("root.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A second init is refused.
    let again = run_with_config(&["operator", "init"], &config, &[]);
    assert!(!again.status.success());

    let (child, url) = start_production(&config);
    let api = crate::common::Api {
        http: reqwest::Client::new(),
        base: url,
        token: Some(token.clone()),
    };
    let (status, me) = api.get("/v1/auth/whoami").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenant_id"], "tnt_acme_prod");
    assert_eq!(me["partner_id"], "ptn_acme");
    let (status, _) = api
        .put("/v1/secrets/app/db", json!({"data": {"password": "pw"}}))
        .await;
    assert_eq!(status, 201);
    drop(child);

    // A root key readable by others is refused.
    std::fs::set_permissions(
        dir.path().join("root.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = run_with_config(&["server"], &config, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}

#[tokio::test]
async fn production_requires_tls_unless_plain_http_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let init = run_with_config(&["operator", "init"], &config, &[]);
    assert!(init.status.success());
    let out = run_with_config(&["server"], &config, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS is not configured"));
}

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let ca_cert = dir.path().join("ca.pem");
    let ca_key = dir.path().join("ca.key");
    let csr = dir.path().join("server.csr");
    let ext = dir.path().join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is required for the TLS test (apt-get install openssl)");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    assert!(cert.exists() && key.exists() && ca_key.exists() && csr.exists());
    let config = write_config(
        dir.path(),
        &format!(
            "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let init = run_with_config(&["operator", "init"], &config, &[]);
    assert!(init.status.success());
    let token = bootstrap_token(&init);
    let (child, url) = start_production(&config);
    assert!(url.starts_with("https://"), "{url}");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca_cert).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let api = crate::common::Api {
        http,
        base: url.clone(),
        token: Some(token),
    };
    let (status, me) = api.get("/v1/auth/whoami").await;
    assert_eq!(status, 200, "{me}");
    // Plain HTTP to the TLS port does not work.
    let plain = reqwest::Client::new()
        .get(url.replace("https://", "http://") + "/health")
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    let (status, body) = api.with_token("skt_nope").get("/v1/auth/whoami").await;
    assert_error(status, &body, 401, "authentication_required");
    drop(child);
}

/// Every configuration key can come from a `SCAIVAULT_*` variable, which wins over the file.
#[tokio::test]
async fn environment_overrides_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    // The file's listen address is unusable; the environment's wins.
    let config = write_config(dir.path(), "listen = \"256.0.0.1:1\"\n");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("listen = \"127.0.0.1:0\"\n", "");
    std::fs::write(&config, text).unwrap();
    let init = run_with_config(
        &["operator", "init"],
        &config,
        &[
            ("SCAIVAULT_BOOTSTRAP_TENANT_ID", "tnt_from_env"),
            ("SCAIVAULT_TENANT_ID", "tnt_cli_context_is_not_config"),
        ],
    );
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let token = bootstrap_token(&init);
    let (child, url) = start_production_with_env(
        &config,
        &[
            ("SCAIVAULT_LISTEN", "127.0.0.1:0"),
            ("SCAIVAULT_ALLOW_PLAIN_HTTP", "true"),
            ("SCAIVAULT_LOG_FORMAT", "json"),
        ],
    );
    let api = crate::common::Api {
        http: reqwest::Client::new(),
        base: url,
        token: Some(token),
    };
    let (status, me) = api.get("/v1/auth/whoami").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenant_id"], "tnt_from_env");
    drop(child);

    // Unknown keys in the file are refused, naming the key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "data_dri = \"/tmp/x\"\n").unwrap();
    let out = run_with_config(&["server"], &bad, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("data_dri"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
