//! A real SoftHSM2 (Debian `softhsm2`) for the PKCS#11 root key tests: a token directory of its
//! own in a temporary directory, with its own `softhsm2.conf`.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, at the first `C_Initialize` in a process, and PKCS#11
//! state is per process; this module sets nothing global. A test that loads the module itself
//! must therefore run in a process whose environment already names its configuration:
//! [`SoftHsm::isolated`] runs each test body in a child process (the test binary itself,
//! filtered to that one test) with `SOFTHSM2_CONF` set, so every test gets its own SoftHSM,
//! and tests never call the (unsafe) `std::env::set_var`. Tools (`softhsm2-util`) get the
//! variable on their own command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where Debian's `softhsm2` puts the PKCS#11 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Set in the child process that [`SoftHsm::isolated`] starts: the test to run for real.
const CHILD_ENV: &str = "SCAIVAULT_TEST_SOFTHSM_CHILD";

/// A SoftHSM configuration and token directory.
pub struct SoftHsm {
    /// Owned by the parent process; the child only uses the directory.
    _dir: Option<tempfile::TempDir>,
    conf: PathBuf,
    tokendir: PathBuf,
}

impl SoftHsm {
    /// A new, empty token directory and the `softhsm2.conf` naming it.
    pub fn new() -> SoftHsm {
        require_installed();
        let dir = tempfile::Builder::new()
            .prefix("scaivault-softhsm-")
            .tempdir()
            .expect("create a temporary directory for SoftHSM");
        let tokendir = dir.path().join("tokens");
        std::fs::create_dir(&tokendir).expect("create the SoftHSM token directory");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokendir.display()
            ),
        )
        .expect("write softhsm2.conf");
        SoftHsm {
            _dir: Some(dir),
            conf,
            tokendir,
        }
    }

    /// The configuration whose path goes into `SOFTHSM2_CONF`.
    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The PKCS#11 module.
    pub fn module(&self) -> PathBuf {
        PathBuf::from(MODULE)
    }

    /// Initializes a token in a free slot (`softhsm2-util --init-token --free`).
    pub fn init_token(&self, label: &str, so_pin: &str, user_pin: &str) {
        self.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            so_pin,
            "--pin",
            user_pin,
        ]);
    }

    /// Deletes the token and its objects (`softhsm2-util --delete-token`), as if it were
    /// pulled out of the machine.
    pub fn delete_token(&self, label: &str) {
        self.util(&["--delete-token", "--token", label]);
    }

    /// How many token directories exist (one per initialized token).
    pub fn token_count(&self) -> usize {
        std::fs::read_dir(&self.tokendir)
            .expect("read the SoftHSM token directory")
            .count()
    }

    fn util(&self, args: &[&str]) -> Output {
        let out = Command::new("softhsm2-util")
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("run softhsm2-util (apt-get install softhsm2)");
        assert!(
            out.status.success(),
            "softhsm2-util {} failed: {}{}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `body` in a child process with `SOFTHSM2_CONF` naming a new SoftHSM of its own.
    ///
    /// `name` is the test's name as the test binary lists it (for a test at the top of an
    /// integration test file, the function's name). In the parent, this starts the test binary
    /// again filtered to exactly that test, waits for it, shows its output and fails if it
    /// failed or did not run; in that child, it runs `body`.
    pub fn isolated(name: &str, body: impl FnOnce(&SoftHsm)) {
        if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
            let conf = PathBuf::from(
                std::env::var_os("SOFTHSM2_CONF").expect("SOFTHSM2_CONF is set in the child"),
            );
            let tokendir = conf
                .parent()
                .expect("softhsm2.conf has a directory")
                .join("tokens");
            body(&SoftHsm {
                _dir: None,
                conf,
                tokendir,
            });
            return;
        }
        let hsm = SoftHsm::new();
        let exe = std::env::current_exe().expect("the test binary's path");
        let out = Command::new(exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, name)
            .env("SOFTHSM2_CONF", hsm.conf_path())
            .output()
            .expect("start the test binary as a child process");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        print!("{stdout}");
        eprint!("{stderr}");
        assert!(
            out.status.success(),
            "test {name} failed in its SoftHSM child process ({})",
            out.status
        );
        assert!(
            stdout.contains("test result: ok. 1 passed;"),
            "test {name} did not run in its SoftHSM child process (is the name right?)"
        );
    }
}

impl Default for SoftHsm {
    fn default() -> Self {
        Self::new()
    }
}

fn require_installed() {
    let util = Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        util && Path::new(MODULE).exists(),
        "SoftHSM2 is not installed (softhsm2-util and {MODULE}): apt-get install softhsm2"
    );
}
