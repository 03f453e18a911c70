//! Names the commit this binary was built from, for `scaivault_build_info{commit}`
//! (docs/monitoring.md): `SCAIVAULT_GIT_COMMIT` when the builder sets it (release pipelines,
//! builds from a tarball), else `git rev-parse` of the checkout, else `unknown`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SCAIVAULT_GIT_COMMIT");
    let commit = std::env::var("SCAIVAULT_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SCAIVAULT_GIT_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let dir = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    // Rebuild when HEAD moves (a commit, a checkout).
    // (Only files that exist: cargo reruns a script on every build for a missing one.)
    if let Some(git_dir) = dir(&["rev-parse", "--git-dir"]) {
        let mut watched = vec![format!("{git_dir}/HEAD"), format!("{git_dir}/packed-refs")];
        if let Some(reference) = dir(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(format!("{git_dir}/{reference}"));
        }
        for file in watched.iter().filter(|f| std::path::Path::new(f).exists()) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    dir(&["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())
}
