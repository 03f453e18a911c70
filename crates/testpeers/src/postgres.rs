//! A PostgreSQL cluster of its own, with password (SCRAM) authentication over TCP, so tests
//! can check that a leased password works and a revoked one does not (the machine's main
//! cluster trusts every local connection).
//!
//! [`PgCluster::create`] makes a new cluster with Debian's `pg_createcluster` on a free port
//! (`scaivault_test_<pid>_<n>`), starts it, and creates a superuser with a random password
//! over the local socket. Dropping it drops the cluster. [`PgCluster::shared`] is one cluster
//! per test process; statics are never dropped, so the next [`PgCluster::create`] (in any
//! later test process) drops the clusters of processes that are gone.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::free_port;

const PREFIX: &str = "scaivault_test_";
const SOCKET_DIR: &str = "/var/run/postgresql";
const SUPERUSER: &str = "scaivault_admin";

/// A running test cluster.
#[derive(Debug)]
pub struct PgCluster {
    version: String,
    name: String,
    port: u16,
    password: String,
}

impl PgCluster {
    /// A new cluster, started, with a password-authenticated superuser (see the module docs).
    pub fn create() -> PgCluster {
        if which("pg_createcluster").is_none() {
            panic!("pg_createcluster not found: install postgresql (apt-get install postgresql)");
        }
        let version = installed_version();
        drop_dead_clusters();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let port = free_port();
        run(
            "pg_createcluster",
            &[
                &version,
                &name,
                "-p",
                &port.to_string(),
                "--",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
            ],
        );
        let cluster = PgCluster {
            version,
            name,
            port,
            password: crate::random_hex(16),
        };
        // Not `start`: it waits for the superuser this creates.
        run("pg_ctlcluster", &[&cluster.version, &cluster.name, "start"]);
        let create_admin = format!(
            "CREATE ROLE {SUPERUSER} WITH SUPERUSER LOGIN PASSWORD '{}'",
            cluster.password
        );
        let out = crate::psql_command()
            .args(["-h", SOCKET_DIR, "-p", &port.to_string(), "-U", "postgres"])
            .args([
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qtAc",
                &create_admin,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "creating the test superuser failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_for_tcp();
        cluster
    }

    /// One cluster for the whole test process.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::create)
    }

    /// `postgres://<superuser>:<password>@127.0.0.1:<port>/postgres`.
    pub fn admin_url(&self) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// The superuser's name and password.
    pub fn admin(&self) -> (&str, &str) {
        (SUPERUSER, &self.password)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: sessions are ended).
    pub fn stop(&self) {
        run(
            "pg_ctlcluster",
            &[&self.version, &self.name, "stop", "-m", "fast"],
        );
    }

    /// Starts the server and waits until it accepts TCP connections.
    pub fn start(&self) {
        run("pg_ctlcluster", &[&self.version, &self.name, "start"]);
        self.wait_for_tcp();
    }

    /// Runs `sql` with `psql` over TCP as `user` with `password` on the `postgres` database;
    /// the unaligned, tuples-only output, or psql's error text.
    pub fn psql(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        let out = crate::psql_command()
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", user])
            .args([
                "-d",
                "postgres",
                "-w",
                "-v",
                "ON_ERROR_STOP=1",
                "-qtAc",
                sql,
            ])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Polls the port until the server answers a password login, with a deadline.
    fn wait_for_tcp(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let last = if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                match self.psql(SUPERUSER, &self.password, "SELECT 1") {
                    Ok(_) => return,
                    Err(e) => e,
                }
            } else {
                "the port is closed".to_owned()
            };
            assert!(
                Instant::now() < deadline,
                "the test cluster {} did not accept connections on port {} within 30 s: {last}",
                self.name,
                self.port
            );
            #[allow(
                clippy::disallowed_methods,
                reason = "polling a starting server, with a deadline: the pause between polls"
            )]
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Best effort: a failure here must not hide the test's own outcome.
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}

/// The highest PostgreSQL major version installed (`/usr/lib/postgresql/<major>/bin`).
fn installed_version() -> String {
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("no /usr/lib/postgresql: install postgresql (apt-get install postgresql)")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("bin/postgres").exists())
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    versions
        .last()
        .expect("no PostgreSQL server installed: install postgresql (apt-get install postgresql)")
        .to_string()
}

/// Drops the test clusters whose process is gone (aborted runs, shared clusters).
fn drop_dead_clusters() {
    let out = run("pg_lsclusters", &["-h"]);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(version), Some(name)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = Command::new("pg_dropcluster")
                .args(["--stop", version, name])
                .output();
        }
    }
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program} failed: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
