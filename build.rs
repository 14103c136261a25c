//! Stamps the `faro` binary with the git revision it was built from, for
//! `faro --version` (`unknown` outside a git checkout).

use std::path::Path;
use std::process::Command;

fn main() {
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    // Uncommitted changes are not flagged: the script reruns when HEAD
    // moves, not when a file changes, so such a flag would go stale.
    println!("cargo:rustc-env=FARO_GIT_REVISION={revision}");
    // Built again when HEAD moves: a commit, a checkout.
    let git = Path::new(".git");
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        if let Some(branch) = head.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed=.git/{branch}");
        }
    }
    println!("cargo:rerun-if-changed=.git/packed-refs");
}
