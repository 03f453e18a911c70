//! A real authoritative DNS server (`knotd`, Debian's knot package) for the ACME dns-01 tests:
//! one zone on a free local port, answering A queries for the test names with 127.0.0.1 and
//! accepting RFC 2136 updates signed with a TSIG key made by `keymgr -t`. Killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const INSTALL: &str = "apt-get install knot knot-dnsutils";

pub struct Knot {
    dir: tempfile::TempDir,
    port: u16,
    zone: String,
    key_name: String,
    key_secret_b64: String,
    child: Child,
}

impl std::fmt::Debug for Knot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knot")
            .field("port", &self.port)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

impl Knot {
    /// Starts knotd authoritative for `zone` (e.g. `acme.test`), with `hosts` (relative names,
    /// `@` for the apex) resolving to 127.0.0.1 and updates allowed to the TSIG key
    /// `scaivault-acme` (hmac-sha256).
    pub fn start(zone: &str, hosts: &[&str]) -> Knot {
        let zone = zone.trim_end_matches('.').to_owned();
        let dir = tempfile::tempdir().expect("temp dir for knot");
        let key_name = "scaivault-acme".to_owned();
        let keygen = Command::new("keymgr")
            .args(["-t", &key_name, "hmac-sha256"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run keymgr ({e}): {INSTALL}"));
        assert!(
            keygen.status.success(),
            "keymgr -t failed: {}",
            String::from_utf8_lossy(&keygen.stderr)
        );
        // keymgr prints a `key:` YAML block; its `secret:` line is the base64 key.
        let key_yaml = String::from_utf8_lossy(&keygen.stdout).into_owned();
        let key_secret_b64 = key_yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix("secret:"))
            .map(|s| s.trim().to_owned())
            .expect("keymgr printed no secret");

        let port = crate::free_port();
        let d = dir.path().display();
        let mut records = String::new();
        for host in hosts {
            records.push_str(&format!("{host} 60 IN A 127.0.0.1\n"));
        }
        std::fs::write(
            dir.path().join("zone.db"),
            format!(
                "$ORIGIN {zone}.\n$TTL 60\n\
                 @ IN SOA ns.{zone}. hostmaster.{zone}. 1 60 60 3600 60\n\
                 @ IN NS ns.{zone}.\nns IN A 127.0.0.1\n{records}"
            ),
        )
        .expect("write the zone file");
        std::fs::write(
            dir.path().join("knot.conf"),
            format!(
                "server:\n  rundir: {d}\n  listen: 127.0.0.1@{port}\n\
                 log:\n  - target: stderr\n    any: warning\n\
                 database:\n  storage: {d}\n\
                 key:\n  - id: {key_name}\n    algorithm: hmac-sha256\n    secret: {key_secret_b64}\n\
                 acl:\n  - id: update\n    key: {key_name}\n    action: update\n\
                 zone:\n  - domain: {zone}\n    storage: {d}\n    file: zone.db\n    acl: update\n\
                 \x20   zonefile-sync: -1\n"
            ),
        )
        .expect("write knot.conf");
        let child = Command::new("knotd")
            .arg("-c")
            .arg(dir.path().join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start knotd ({e}): {INSTALL}"));
        crate::moto::wait_for_port(port, Duration::from_secs(30), "knotd");
        let knot = Knot {
            dir,
            port,
            zone,
            key_name,
            key_secret_b64,
            child,
        };
        // Listening is not the same as serving the zone: wait until the SOA answers.
        let start = std::time::Instant::now();
        while knot.dig(&knot.zone, "SOA").is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "knotd did not load zone {}",
                knot.zone
            );
            #[allow(
                clippy::disallowed_methods,
                reason = "polling a starting peer until it serves its zone, with a deadline"
            )]
            std::thread::sleep(Duration::from_millis(100));
        }
        knot
    }

    /// The port knotd listens on (UDP and TCP, 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The zone name without the trailing dot.
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// The TSIG key name (hmac-sha256).
    pub fn tsig_key_name(&self) -> &str {
        &self.key_name
    }

    /// The TSIG secret, base64 as keymgr printed it.
    pub fn tsig_secret_b64(&self) -> &str {
        &self.key_secret_b64
    }

    /// `dig +short @127.0.0.1 -p PORT NAME TYPE`: the answers, one per line (empty when none).
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let out = Command::new("dig")
            .args([
                "+short",
                "+norecurse",
                "+time=2",
                "+tries=2",
                "@127.0.0.1",
                "-p",
            ])
            .arg(self.port.to_string())
            .args([name, rtype])
            .output()
            .unwrap_or_else(|e| panic!("cannot run dig ({e}): apt-get install bind9-dnsutils"));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(str::to_owned)
            .collect()
    }

    /// The directory knot keeps its files in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
