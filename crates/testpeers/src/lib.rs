//! Real peers for the dynamic-credentials tests (issue 17), started for real on this machine:
//! no mocks. Every starter fails loudly, naming what to install, when its peer is missing.
//! Test support only (a dev-dependency): failures panic with a clear message.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a peer that cannot start must fail the test loudly"
)]

pub mod knot;
pub mod mariadb;
pub mod moto;
pub mod pebble;
pub mod postgres;
pub mod softhsm;
pub mod sshd;
pub mod swtpm;

/// A TCP port on 127.0.0.1 nothing listens on right now (bound and released: the peer or
/// server started next binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free local port")
}

/// `2 * bytes` random hex digits from the kernel's random source (test passwords).
pub(crate) fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `psql` command that talks to whatever server its arguments name. Debian's `psql` is a
/// wrapper (pg_wrapper) that first inspects every local cluster, and fails ("Invalid data
/// directory for cluster ...") while a test's `pg_createcluster` cluster is half made or being
/// removed; the client binary itself (`/usr/lib/postgresql/<version>/bin/psql`, the newest)
/// does not look. Elsewhere (no such directory): plain `psql`.
pub fn psql_command() -> std::process::Command {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin/psql");
            bin.is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match newest {
        Some((_, bin)) => std::process::Command::new(bin),
        None => std::process::Command::new("psql"),
    }
}
