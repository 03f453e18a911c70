//! `scaivault tpm init|status|backup|restore` with the real binary, a real server and a real
//! software TPM (swtpm): the backup/restore drill of docs/keys/tpm.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use scaivault_testpeers::swtpm::Swtpm;

use super::{BIN, Out, clean_env, finish};

const SO_PIN: &str = "so-pin-8765";
const USER_PIN: &str = "user-pin-5678";

struct Drill {
    dir: tempfile::TempDir,
}

impl Drill {
    fn config(&self) -> PathBuf {
        self.dir.path().join("scaivault.toml")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn key_file(&self) -> PathBuf {
        self.data_dir().join("tpm-root-key.json")
    }

    /// (Re)writes the configuration for the TPM at `tcti`.
    fn write_config(&self, tcti: &str) {
        std::fs::write(
            self.config(),
            format!(
                "listen = \"127.0.0.1:0\"\nallow_plain_http = true\ndata_dir = \"{}\"\n\
                 bootstrap_tenant_id = \"tnt_ops\"\nbootstrap_partner_id = \"ptn_ops\"\n\
                 [root_key]\nprovider = \"tpm\"\n[root_key.tpm]\ntcti = \"{tcti}\"\n",
                self.data_dir().display()
            ),
        )
        .unwrap();
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd, self.dir.path());
        // libtss2 logs TPM errors (a wrong PIN) to stderr itself; the tests read ours.
        cmd.env("TSS2_LOG", "all+NONE");
        cmd
    }

    /// `scaivault tpm ARGS --config F` (the user PIN from the environment only if `pin`).
    fn tpm(&self, args: &[&str], pin: bool) -> Out {
        let mut cmd = self.cmd();
        cmd.arg("tpm").args(args).arg("--config").arg(self.config());
        if pin {
            cmd.env("SCAIVAULT_ROOT_KEY_TPM_PIN", USER_PIN);
        }
        finish(cmd, None)
    }

    fn start_server(&self) -> Server {
        let log_path = self.dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = self
            .cmd()
            .args(["server", "--config"])
            .arg(self.config())
            .env("SCAIVAULT_ROOT_KEY_TPM_PIN", USER_PIN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let url = super::common::listening_url(&mut child);
        match url {
            Some(url) => Server { url, child },
            None => {
                let _ = child.kill();
                panic!(
                    "server did not start: {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        }
    }

    fn client(&self, server: &Server, token: &str, args: &[&str]) -> Out {
        let mut cmd = self.cmd();
        cmd.env("SCAIVAULT_URL", &server.url)
            .env("SCAIVAULT_TOKEN", token)
            .args(args);
        finish(cmd, None)
    }
}

struct Server {
    url: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn tpm_init_backup_new_tpm_restore_and_the_secret_reads_back() {
    let drill = Drill {
        dir: tempfile::tempdir().unwrap(),
    };
    let mut old_tpm = Swtpm::start(&drill.dir.path().join("tpm-old"));
    drill.write_config(&old_tpm.tcti());

    // No PIN and no terminal: a clear error naming the flag.
    drill.tpm(&["init", "--sopin", SO_PIN], false).fails_with(
        1,
        "error: no user PIN given and stdin is not a terminal: pass --userpin-file",
    );

    let init = drill
        .tpm(&["init", "--sopin", SO_PIN, "--userpin", USER_PIN], false)
        .ok();
    assert!(init.stdout.contains("ScaiVault initialized."), "{init:?}");
    assert!(init.stdout.contains("created in the TPM"), "{init:?}");
    let token = init
        .stdout
        .lines()
        .find(|l| l.starts_with("skt_"))
        .expect("bootstrap token printed")
        .to_owned();
    assert!(!init.stdout.contains(USER_PIN) && !init.stderr.contains(USER_PIN));

    let status = drill.tpm(&["status", "--json"], true).ok().json();
    assert_eq!(status["present"], true, "{status}");
    assert_eq!(status["manufacturer"], "IBM", "{status}");
    assert_eq!(status["blobs_load"], true, "{status}");
    assert_eq!(status["keyring_opens"], true, "{status}");
    let human = drill.tpm(&["status"], true).ok();
    assert!(human.stdout.contains("opens with the TPM key"), "{human:?}");

    {
        let server = drill.start_server();
        drill
            .client(
                &server,
                &token,
                &["secrets", "write", "app/tpm/db", "password=TPM-s3cret"],
            )
            .ok();
    }

    let backup = drill.dir.path().join("backup.blob");
    let backup_arg = backup.to_str().unwrap();
    drill
        .tpm(
            &["backup", "--output", backup_arg, "--userpin", "wrong-pin"],
            false,
        )
        .fails_with(2, "error: root key provider refused: wrong PIN");
    assert!(!backup.exists());
    drill
        .tpm(
            &["backup", "--output", backup_arg, "--userpin", USER_PIN],
            false,
        )
        .ok();
    let text = String::from_utf8(read(&backup)).unwrap();
    assert!(!text.contains(USER_PIN) && !text.contains(SO_PIN));

    // A new host's TPM: wipe the old state, start a fresh swtpm.
    let old_state = old_tpm.state_dir().to_owned();
    old_tpm.stop();
    std::fs::remove_dir_all(&old_state).unwrap();
    let new_tpm = Swtpm::start(&drill.dir.path().join("tpm-new"));
    drill.write_config(&new_tpm.tcti());
    let status = drill.tpm(&["status", "--json"], true);
    assert_eq!(status.code, 1, "{status:?}");
    assert_eq!(status.json()["blobs_load"], false, "{status:?}");

    // A wrong PIN: exit 2, and the key file is as it was.
    let before = read(&drill.key_file());
    drill
        .tpm(
            &[
                "restore",
                "--input",
                backup_arg,
                "--userpin",
                "wrong-pin",
                "--force",
            ],
            false,
        )
        .fails_with(2, "error: root key provider refused: wrong PIN");
    assert_eq!(read(&drill.key_file()), before);
    // Without --force the existing key file stays.
    drill
        .tpm(
            &["restore", "--input", backup_arg, "--userpin", USER_PIN],
            false,
        )
        .fails_with(1, "error: root key: ");
    assert_eq!(read(&drill.key_file()), before);

    drill
        .tpm(
            &[
                "restore",
                "--input",
                backup_arg,
                "--userpin",
                USER_PIN,
                "--force",
            ],
            false,
        )
        .ok();
    let status = drill.tpm(&["status", "--json"], true).ok().json();
    assert_eq!(status["keyring_opens"], true, "{status}");

    let server = drill.start_server();
    let read_back = drill
        .client(
            &server,
            &token,
            &["secrets", "read", "app/tpm/db", "--field", "password"],
        )
        .ok();
    assert_eq!(read_back.stdout, "TPM-s3cret\n");
}

/// The TPM off at start: the server listens sealed (`/health/ready` 503, API 503 `sealed`),
/// `operator unseal` exits 1 while it is off; the TPM on again: `operator unseal` unseals, the
/// secret reads back. A wrong PIN stops the server instead (never retried: DA lockout).
#[test]
fn tpm_off_at_start_seals_and_on_again_unseals() {
    let drill = Drill {
        dir: tempfile::tempdir().unwrap(),
    };
    let mut tpm = Swtpm::start(&drill.dir.path().join("tpm"));
    drill.write_config(&tpm.tcti());
    let init = drill
        .tpm(&["init", "--sopin", SO_PIN, "--userpin", USER_PIN], false)
        .ok();
    let token = init
        .stdout
        .lines()
        .find(|l| l.starts_with("skt_"))
        .expect("bootstrap token printed")
        .to_owned();
    let server = drill.start_server();
    drill
        .client(
            &server,
            &token,
            &["secrets", "write", "tpm/sealed", "v=opens-again"],
        )
        .ok();
    drop(server);

    tpm.stop();
    let server = drill.start_server();
    let status = drill.client(&server, &token, &["status", "--json"]);
    assert_eq!(status.code, 1, "{status:?}");
    assert_eq!(status.json()["ready"]["status"], "sealed", "{status:?}");
    let read = drill.client(
        &server,
        &token,
        &["secrets", "read", "tpm/sealed", "--json"],
    );
    assert_ne!(read.code, 0, "{read:?}");
    assert!(read.stderr.contains("sealed"), "{read:?}");
    let unseal = drill.client(&server, &token, &["operator", "unseal"]);
    assert_eq!(unseal.code, 1, "{unseal:?}");

    tpm.restart();
    drill.client(&server, &token, &["operator", "unseal"]).ok();
    let read = drill
        .client(
            &server,
            &token,
            &["secrets", "read", "tpm/sealed", "--json"],
        )
        .ok();
    assert_eq!(read.json()["data"]["v"], "opens-again", "{read:?}");
    drop(server);

    // A wrong PIN: the server stops with a clear error, it does not sit sealed retrying.
    let out = drill
        .cmd()
        .args(["server", "--config"])
        .arg(drill.config())
        .env("SCAIVAULT_ROOT_KEY_TPM_PIN", "wrong-pin-0000")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wrong PIN"), "{stderr}");
    assert!(!stderr.contains("wrong-pin-0000"), "{stderr}");
}
