//! A real software TPM 2.0 (`swtpm`, Debian's swtpm package), one per test that asks: its state
//! lives in a directory the test owns, so a test can stop it, start it again on the same state
//! (a reboot) or on a fresh directory (a new host's TPM).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const INSTALL: &str = "apt-get install swtpm swtpm-tools libtss2-dev tpm2-tools";

pub struct Swtpm {
    state_dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl std::fmt::Debug for Swtpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swtpm")
            .field("state_dir", &self.state_dir)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Swtpm {
    /// Starts `swtpm socket --tpm2` on free local ports (the TPM on P, its control channel on
    /// P+1) with its state in `state_dir` (created if missing), already started up (clear).
    pub fn start(state_dir: &Path) -> Swtpm {
        std::fs::create_dir_all(state_dir).expect("create the swtpm state directory");
        let found = Command::new("swtpm")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(found, "swtpm is not installed: {INSTALL}");
        let port = free_port_pair();
        let mut swtpm = Swtpm {
            state_dir: state_dir.to_owned(),
            port,
            child: None,
        };
        swtpm.spawn();
        swtpm
    }

    fn spawn(&mut self) {
        let p = self.port;
        // Through bash, closing every inherited descriptor first: libtss2 opens its sockets
        // without close-on-exec, so a swtpm started while another test talks to its own swtpm
        // would inherit that connection, and the other swtpm (one client at a time) would
        // wait on it for ever.
        let child = Command::new("bash")
            .args([
                "-c",
                "for fd in /proc/$$/fd/*; do fd=${fd##*/}; \
                 if [ \"$fd\" -gt 2 ]; then eval \"exec $fd>&-\" 2>/dev/null; fi; done; \
                 exec swtpm \"$@\"",
                "swtpm",
            ])
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", self.state_dir.display()))
            .args(["--server"])
            .arg(format!("type=tcp,port={p},bindaddr=127.0.0.1"))
            .args(["--ctrl"])
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", p + 1))
            .args(["--flags", "not-need-init,startup-clear"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start swtpm ({e}): {INSTALL}"));
        self.child = Some(child);
        // The control port is opened with the server port; polling it leaves the TPM port alone.
        crate::moto::wait_for_port(p + 1, Duration::from_secs(30), "swtpm");
    }

    /// The TCTI string for ScaiVault's `[root_key.tpm] tcti`.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The TPM's state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Stops the TPM (as a power-off: the state stays in the directory).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same state and ports (after [`Swtpm::stop`]).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free port P with P+1 free too.
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = crate::free_port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two adjacent free local ports for swtpm");
}
