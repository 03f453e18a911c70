//! The machine's MariaDB (127.0.0.1:3306, `root` with an empty password): each call to
//! [`admin_url`] makes a fresh administrator with a random password, so the engine under test
//! has a password of its own to use and rotate, and tests do not share one.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

const HOST: &str = "127.0.0.1";
const PORT: &str = "3306";

/// Creates an administrator (`ALL PRIVILEGES ON *.* WITH GRANT OPTION`) with a random
/// password and returns `mysql://<user>:<password>@127.0.0.1:3306/`.
pub fn admin_url() -> String {
    let (user, password) = admin();
    format!("mysql://{user}:{password}@{HOST}:{PORT}/")
}

/// Like [`admin_url`], the user and password apart.
pub fn admin() -> (String, String) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let user = format!(
        "svadm_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let password = crate::random_hex(16);
    root(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
         GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION;"
    ));
    (user, password)
}

/// Runs `sql` as MariaDB's root (empty password); panics naming what to install when
/// MariaDB is not there.
pub fn root(sql: &str) -> String {
    match login("root", "", sql) {
        Ok(out) => out,
        Err(e) => panic!(
            "MariaDB at {HOST}:{PORT} as root (empty password) failed: {e}\n\
             install and start MariaDB (apt-get install mariadb-server mariadb-client; \
             service mariadb start)"
        ),
    }
}

/// Runs `sql` with the `mysql` client over TCP as `user`; the tab-separated output without
/// column names, or the client's error text.
pub fn login(user: &str, password: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("mysql")
        .args(["-h", HOST, "-P", PORT, "-u", user, "--protocol=TCP"])
        .args(["--connect-timeout=5", "-N", "-B", "-e", sql])
        // The environment, not the command line, so `ps` does not show it.
        .env("MYSQL_PWD", password)
        .output()
        .map_err(|e| {
            format!("the mysql client could not run ({e}): apt-get install mariadb-client")
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
