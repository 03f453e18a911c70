//! A real OpenSSH server (Debian's `/usr/sbin/sshd`) on a free high port, trusting one user
//! CA (`TrustedUserCAKeys`) and nothing else: no passwords, no authorized_keys files.
//!
//! Tests log in as the current user (`whoami`; `root` in CI), so they also run for a
//! developer who is not root, as long as sshd can start (it needs `/run/sshd`, created here).
//! Dropping the [`Sshd`] kills the server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_port;
use crate::moto::wait_for_port;

const SSHD: &str = "/usr/sbin/sshd";
const INSTALL: &str = "apt-get install openssh-server openssh-client";

pub struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    /// Starts sshd trusting `trusted_ca_public_key` (one OpenSSH public key line).
    pub fn start(trusted_ca_public_key: &str) -> Sshd {
        assert!(
            std::path::Path::new(SSHD).exists(),
            "{SSHD} is missing: {INSTALL}"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path("host_key"))
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run ssh-keygen ({INSTALL}): {e}"));
        assert!(keygen.success(), "ssh-keygen failed");
        std::fs::write(
            path("ca.pub"),
            format!("{}\n", trusted_ca_public_key.trim()),
        )
        .expect("write ca.pub");
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");

        let port = free_port();
        let config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {host_key}\n\
             PidFile {pid}\n\
             TrustedUserCAKeys {ca}\n\
             AuthorizedKeysFile none\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             StrictModes no\n\
             PermitRootLogin prohibit-password\n\
             UsePAM no\n\
             LogLevel VERBOSE\n",
            host_key = path("host_key").display(),
            pid = path("sshd.pid").display(),
            ca = path("ca.pub").display(),
        );
        std::fs::write(path("sshd_config"), config).expect("write sshd_config");
        let log = std::fs::File::create(path("sshd.log")).expect("sshd log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD} ({INSTALL}): {e}"));
        let mut sshd = Sshd { child, port, dir };
        if let Ok(Some(status)) = sshd.child.try_wait() {
            panic!("sshd exited at once ({status}): {}", sshd.log());
        }
        wait_for_port(port, Duration::from_secs(20), "sshd");
        sshd
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// sshd's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Logs in as `user` with the key and its certificate and runs `true`: Ok(stdout) or
    /// Err(ssh's stderr).
    pub fn login(
        &self,
        user: &str,
        private_key_openssh: &str,
        certificate: &str,
    ) -> Result<String, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let key: PathBuf = dir.path().join("id");
        let cert: PathBuf = dir.path().join("id-cert.pub");
        write_private(&key, private_key_openssh);
        write_private(&cert, certificate);
        let out = Command::new("ssh")
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ConnectTimeout=10",
                "-F",
                "/dev/null",
                "-i",
            ])
            .arg(&key)
            .arg("-o")
            .arg(format!("CertificateFile={}", cert.display()))
            .arg("-p")
            .arg(self.port.to_string())
            .arg(format!("{user}@127.0.0.1"))
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run ssh ({INSTALL}): {e}"));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// The current user's name (`whoami`), the principal tests log in as.
pub fn current_user() -> String {
    let out = Command::new("whoami").output().expect("whoami");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write_private(path: &std::path::Path, content: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("write key file");
    let content = content.trim();
    file.write_all(content.as_bytes()).expect("write key file");
    file.write_all(b"\n").expect("write key file");
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
