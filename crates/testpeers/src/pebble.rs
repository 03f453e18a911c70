//! A real ACME server (`pebble`, Debian's pebble package, Let's Encrypt's test CA) for the ACME
//! tests, one per test that asks: on free local ports, with a TLS certificate made here by
//! openssl (Debian ships none; tests trust its CA through the client's CA-bundle option),
//! resolving names through a given DNS server (knot) and validating http-01 on a given port.
//! Killed on drop. Its issuing root and intermediate are regenerated at every start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const INSTALL: &str = "apt-get install pebble";

/// How to start pebble.
#[derive(Debug, Clone, Default)]
pub struct PebbleOptions {
    /// The DNS server pebble resolves names and dns-01 TXT records with (`-dnsserver`).
    pub dns_port: u16,
    /// The port pebble connects to for http-01 validation (`httpPort`); 0 picks a free one.
    pub http_port: u16,
    /// When set, external account binding is required, with these (kid, base64url HMAC key).
    pub eab_keys: Option<Vec<(String, String)>>,
    /// Lifetime of the certificates pebble issues, in seconds (pebble's default otherwise).
    pub cert_validity_secs: Option<u64>,
}

pub struct Pebble {
    dir: tempfile::TempDir,
    port: u16,
    mgmt_port: u16,
    http_port: u16,
    child: Child,
}

impl std::fmt::Debug for Pebble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pebble")
            .field("port", &self.port)
            .field("mgmt_port", &self.mgmt_port)
            .field("http_port", &self.http_port)
            .finish_non_exhaustive()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}): apt-get install openssl"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pebble {
    pub fn start(options: &PebbleOptions) -> Pebble {
        let found = Command::new("pebble")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        assert!(found, "pebble is not installed: {INSTALL}");
        let dir = tempfile::tempdir().expect("temp dir for pebble");
        let d = dir.path();
        // A CA and a leaf for 127.0.0.1/localhost: the CA is what clients trust.
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=scaivault test pebble TLS CA",
            ],
        );
        std::fs::write(
            d.join("leaf.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("write leaf.ext");
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
        );

        let port = crate::free_port();
        let mgmt_port = crate::free_port();
        let tls_port = crate::free_port();
        let http_port = if options.http_port == 0 {
            crate::free_port()
        } else {
            options.http_port
        };
        let (eab_required, eab_keys) = match &options.eab_keys {
            Some(keys) => {
                let entries: Vec<String> =
                    keys.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
                (true, format!("{{{}}}", entries.join(", ")))
            }
            None => (false, "{}".to_owned()),
        };
        let config = format!(
            r#"{{"pebble": {{
  "listenAddress": "127.0.0.1:{port}",
  "managementListenAddress": "127.0.0.1:{mgmt_port}",
  "certificate": "{cert}",
  "privateKey": "{key}",
  "httpPort": {http_port},
  "tlsPort": {tls_port},
  "ocspResponderURL": "",
  "externalAccountBindingRequired": {eab_required},
  "externalAccountMACKeys": {eab_keys}{validity}
}}}}"#,
            validity = options
                .cert_validity_secs
                .map(|v| format!(",\n  \"certificateValidityPeriod\": {v}"))
                .unwrap_or_default(),
            cert = d.join("cert.pem").display(),
            key = d.join("key.pem").display(),
        );
        std::fs::write(d.join("pebble.json"), config).expect("write pebble.json");
        let log = std::fs::File::create(d.join("pebble.log")).expect("create pebble.log");
        let child = Command::new("pebble")
            .arg("-config")
            .arg(d.join("pebble.json"))
            .arg("-dnsserver")
            .arg(format!("127.0.0.1:{}", options.dns_port))
            // No random validation delays; every nonce accepted (the client is under test, not
            // its bad-nonce retry).
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start pebble ({e}): {INSTALL}"));
        let pebble = Pebble {
            dir,
            port,
            mgmt_port,
            http_port,
            child,
        };
        crate::moto::wait_for_port(port, Duration::from_secs(60), "pebble");
        crate::moto::wait_for_port(mgmt_port, Duration::from_secs(60), "pebble management");
        pebble
    }

    /// `https://127.0.0.1:PORT/dir`.
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// The PEM of the CA that signed pebble's own TLS certificate (the client's CA bundle).
    pub fn tls_ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.pem")).expect("read ca.pem")
    }

    /// The port pebble validates http-01 challenges on.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    fn management_get(&self, path: &str) -> String {
        let out = Command::new("curl")
            .args(["-sSf", "--cacert"])
            .arg(self.dir.path().join("ca.pem"))
            .arg(format!("https://127.0.0.1:{}{path}", self.mgmt_port))
            .output()
            .unwrap_or_else(|e| panic!("cannot run curl ({e}): apt-get install curl"));
        assert!(
            out.status.success(),
            "GET {path} on pebble's management port failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Pebble's issuing root (`/roots/0`) followed by its intermediate (`/intermediates/0`),
    /// PEM: the `-CAfile` for `openssl verify`.
    pub fn issuing_ca_pem(&self) -> String {
        let mut pem = self.management_get("/roots/0");
        if !pem.ends_with('\n') {
            pem.push('\n');
        }
        pem.push_str(&self.management_get("/intermediates/0"));
        pem
    }

    /// Pebble's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// A file path inside pebble's temp dir (for a test to write PEMs to).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// How many orders pebble has created so far (it logs its order count at every new-order).
    pub fn orders_created(&self) -> usize {
        self.log()
            .lines()
            .filter_map(|l| l.split("There are now ").nth(1))
            .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
            .max()
            .unwrap_or(0)
    }
}
