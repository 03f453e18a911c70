//! A production-mode server (config file, `operator init`, bootstrap admin token), for tests
//! that need configuration dev mode does not take (JWT issuers, rate limits, audit sinks).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{Api, BIN};

pub struct ProdServer {
    pub base_url: String,
    /// The bootstrap admin: tenant and partner admin of `tnt_ops` / `ptn_ops` (an operator).
    pub admin_token: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl ProdServer {
    /// Writes a config with `extra` TOML appended, runs `operator init`, starts the server.
    pub fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), extra);
        let init = Command::new(BIN)
            .args(["operator", "init", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "operator init: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let admin_token = String::from_utf8_lossy(&init.stdout)
            .lines()
            .find(|l| l.starts_with("skt_"))
            .expect("bootstrap token printed")
            .to_owned();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut child = Command::new(BIN)
            .args(["server", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let url = super::listening_url(&mut child);
        let base_url = match url {
            Some(url) => url,
            None => {
                let _ = child.kill();
                panic!(
                    "server did not start: {}",
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
                );
            }
        };
        Self {
            base_url,
            admin_token,
            dir,
            child,
        }
    }

    pub fn client(&self, token: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base_url.clone(),
            token: Some(token.to_owned()),
        }
    }

    pub fn admin(&self) -> Api {
        self.client(&self.admin_token)
    }

    /// Starts another server process on the same configuration (another node of a cluster on
    /// a shared database).
    pub fn spawn_node(&self) -> Node {
        let config = self.dir.path().join("scaivault.toml");
        let mut child = Command::new(BIN)
            .args(["server", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base_url = super::listening_url(&mut child).expect("second node started");
        Node { base_url, child }
    }

    /// Stops this node (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ProdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let config = dir.join("scaivault.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nallow_plain_http = true\ndata_dir = \"{}\"\nroot_key_file = \"{}\"\nbootstrap_tenant_id = \"tnt_ops\"\nbootstrap_partner_id = \"ptn_ops\"\n{extra}",
            dir.join("data").display(),
            dir.join("root.key").display()
        ),
    )
    .unwrap();
    config
}

/// One more server process on a shared configuration.
pub struct Node {
    pub base_url: String,
    child: Child,
}

impl Node {
    pub fn client(&self, token: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base_url.clone(),
            token: Some(token.to_owned()),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway PostgreSQL database (from `SCAIVAULT_TEST_DATABASE_URL`, default the local
/// server with trust auth), dropped at the end. Fails the test when PostgreSQL is unreachable.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    #[allow(
        clippy::disallowed_methods,
        reason = "uniqueness across test processes, not time: the nanoseconds only vary the name"
    )]
    pub fn create() -> Self {
        let admin_url = std::env::var("SCAIVAULT_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("scaivault_it_{}_{nanos}", std::process::id());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or(admin_url.clone());
        Self {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }
    }
}

impl TestDatabase {
    /// Runs `sql` in this database as the superuser (fails the test if it is refused).
    pub fn psql(&self, sql: &str) {
        psql(&self.url, sql);
    }

    /// The database's name (for `pg_stat_activity`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first column of the first row `sql` returns, as text ("" for no row).
    pub fn query(&self, sql: &str) -> String {
        let out = scaivault_testpeers::psql_command()
            .arg(&self.url)
            .args(["-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql (the PostgreSQL client) is needed by the cluster tests");
        assert!(
            out.status.success(),
            "`{sql}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the node leading background job `job` has run `rounds` more rounds: its
    /// holder renews the lease (a later `expires_at`) at the start of every round, so this is
    /// the event that proves the job looked again, where a sleep would only hope so.
    pub async fn wait_for_job_rounds(&self, job: &str, rounds: usize) {
        let expiry = || {
            self.query(&format!(
                "SELECT expires_at FROM job_leases WHERE job = '{job}'"
            ))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut last = expiry();
        let mut seen = 0;
        while seen < rounds {
            assert!(
                std::time::Instant::now() < deadline,
                "job {job} ran {seen} of {rounds} rounds within 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let now = expiry();
            if now != last {
                seen += 1;
                last = now;
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = scaivault_testpeers::psql_command()
            .arg(&self.admin_url)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

pub fn psql(url: &str, sql: &str) {
    let out = scaivault_testpeers::psql_command()
        .arg(url)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql (the PostgreSQL client) is needed by the cluster tests");
    assert!(
        out.status.success(),
        "PostgreSQL at {url} refused `{sql}`: {} (start PostgreSQL on 127.0.0.1:5432 or set SCAIVAULT_TEST_DATABASE_URL)",
        String::from_utf8_lossy(&out.stderr)
    );
}
