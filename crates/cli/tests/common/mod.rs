//! Test kit: runs the real `scaivault` binary as a dev server on 127.0.0.1:0 and talks to it
//! over HTTP, the way users do.

#![allow(dead_code)]

pub mod idp;
pub mod prod;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_scaivault");

pub struct TestServer {
    pub base_url: String,
    pub root_token: String,
    /// Holds `data/` (the server's data dir) and `server.log` (its stderr).
    pub root: tempfile::TempDir,
    child: Option<Child>,
}

/// The URL a starting server announces ("ScaiVault listening on URL") on its piped stdout,
/// which a thread of its own keeps reading; `None` when none came within 60 s.
pub fn listening_url(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("ScaiVault listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).ok()
}

/// A token nobody else uses.
#[allow(
    clippy::disallowed_methods,
    reason = "uniqueness across test processes, not time: the nanoseconds only vary the name"
)]
pub fn unique_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("skt_test_{}_{nanos}", std::process::id())
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with_args(&[])
    }

    /// Starts with extra `server` arguments (e.g. `--log-format json`).
    pub fn start_with_args(extra: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), extra)
    }

    /// Starts in a root dir the caller prepared (e.g. with a small filesystem mounted at
    /// `root/data`); the log stays in `root/server.log`.
    pub fn start_in(root: tempfile::TempDir, extra: &[&str]) -> Self {
        let mut server = Self {
            base_url: String::new(),
            root_token: unique_token(),
            root,
            child: None,
        };
        server.spawn(extra);
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("server.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut child = Command::new(BIN)
            .args(["server", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.data_dir())
            .args(["--dev-root-token", &self.root_token])
            .args(extra)
            .env("RUST_LOG", "debug")
            .env_remove("SCAIVAULT_DEV_ROOT_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn scaivault server");
        let url = listening_url(&mut child);
        let url = match url {
            Some(url) => url,
            None => {
                let _ = child.kill();
                panic!("server did not start; log:\n{}", self.log());
            }
        };
        self.base_url = url;
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status success.
    pub fn terminate(&mut self) -> bool {
        match self.child.take() {
            Some(mut child) => {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                child.wait().map(|s| s.success()).unwrap_or(false)
            }
            None => false,
        }
    }

    /// Starts again on the same data dir and token.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn(&[]);
    }

    /// Starts again on the same data dir and token, with extra `server` arguments.
    pub fn restart_with_args(&mut self, extra: &[&str]) {
        self.kill();
        self.spawn(extra);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn client(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base_url.clone(),
            token: Some(self.root_token.clone()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A thin HTTP helper: every call returns (status, JSON body or Null).
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub fn anonymous(&self) -> Api {
        Api {
            token: None,
            ..self.clone()
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text}"))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(self.request(reqwest::Method::PUT, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(self.request(reqwest::Method::PATCH, path).json(&body))
            .await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(self.request(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// Moves the dev test clock (`--dev-test-clock`) forward by `by` (e.g. `"1h"`), which also
    /// runs the background rounds that became due; returns the clock's answer.
    pub async fn advance_clock(&self, by: &str) -> serde_json::Value {
        let (status, body) = self
            .post("/v1/sys/test-clock", serde_json::json!({ "advance": by }))
            .await;
        assert_eq!(status, 200, "moving the test clock: {body}");
        body
    }

    /// The dev test clock's current time.
    pub async fn clock_now(&self) -> time::OffsetDateTime {
        let (status, body) = self.get("/v1/sys/test-clock").await;
        assert_eq!(status, 200, "reading the test clock: {body}");
        time::OffsetDateTime::parse(
            body["now"].as_str().expect("now"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("an RFC 3339 time")
    }
}

/// Asserts an error envelope with `code` and a request id.
pub fn assert_error(status: u16, body: &serde_json::Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "status; body: {body}");
    assert_eq!(body["error"]["code"], code, "code; body: {body}");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "request_id missing: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
    }
    out
}
