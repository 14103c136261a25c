//! Every configuration file in `deploy/` is one its process accepts
//! (`faro PROCESS --config FILE --check`), with its paths moved under a
//! temporary root that holds a real TLS identity and secret; every systemd
//! unit starts a process with a configuration that exists and checks.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// A root standing in for `/`: the identity and secret where the example
/// files expect them.
fn root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let tls = root.path().join("etc/faro/tls");
    std::fs::create_dir_all(&tls).unwrap();
    let identity = faro_transport::LocalCa::generate()
        .unwrap()
        .issue(&["localhost"])
        .unwrap();
    let pem = identity.write_pem_files(&tls).unwrap();
    std::fs::rename(&pem.cert, tls.join("node.pem")).unwrap();
    std::fs::rename(&pem.key, tls.join("node.key")).unwrap();
    std::fs::write(
        root.path().join("etc/faro/cluster-secret"),
        "a cluster secret of 32 bytes ok!",
    )
    .unwrap();
    std::fs::create_dir_all(root.path().join("mnt/shuffle-tier")).unwrap();
    root
}

/// Runs `faro PROCESS --config FILE --check` on `file` with its absolute
/// paths moved under `root`.
fn check(process: &str, file: &Path, root: &Path) -> std::process::Output {
    let text = std::fs::read_to_string(file).unwrap();
    let moved = ["/etc/faro/", "/var/lib/faro/", "/mnt/"]
        .iter()
        .fold(text, |text, prefix| {
            text.replace(prefix, &format!("{}{prefix}", root.display()))
        });
    let config = root.join(format!("{process}.toml"));
    std::fs::write(&config, moved).unwrap();
    Command::new(env!("CARGO_BIN_EXE_faro"))
        .args([process, "--config", config.to_str().unwrap(), "--check"])
        .output()
        .unwrap()
}

fn examples() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let process = name.strip_suffix(".example.toml")?.to_string();
            Some((process, path))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn every_example_configuration_checks() {
    let found = examples();
    let processes: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(processes, ["scheduler", "shuffle-service", "worker"]);
    let root = root();
    for (process, file) in &found {
        let output = check(process, file, root.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", file.display());
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("faro {process}: configuration ok\n")
        );
    }
}

#[test]
fn every_systemd_unit_runs_a_checked_configuration() {
    let units: Vec<PathBuf> = std::fs::read_dir(deploy_dir().join("systemd"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(units.len(), 3);
    let root = root();
    for unit in units {
        let text = std::fs::read_to_string(&unit).unwrap();
        let start = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{} has no ExecStart", unit.display()));
        let words: Vec<&str> = start.split_whitespace().collect();
        assert_eq!(words.len(), 4, "{start}");
        assert_eq!(words[0], "/usr/local/bin/faro");
        assert_eq!(words[2], "--config");
        let process = words[1];
        assert_eq!(words[3], format!("/etc/faro/{process}.toml"));
        assert!(
            text.contains(&format!("ExecStartPre={start} --check")),
            "{} does not check its configuration first",
            unit.display()
        );
        let example = deploy_dir().join(format!("{process}.example.toml"));
        let output = check(process, &example, root.path());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
