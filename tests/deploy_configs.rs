//! Every configuration file in `deploy/` is one its process accepts
//! (`faro PROCESS --config FILE --check`), with its paths moved under a
//! temporary root that holds a real TLS identity and secret; every systemd
//! unit starts a process with a configuration that exists and checks;
//! every Kubernetes container's command line, with the ConfigMap's file,
//! checks too; and the manifests are valid against the Kubernetes schemas
//! (offline, `deploy/kubernetes/validate.sh`).

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
    std::fs::write(root.path().join("etc/faro/api-token"), "an-api-token\n").unwrap();
    std::fs::create_dir_all(root.path().join("srv/faro/data")).unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/faro/data")).unwrap();
    std::fs::create_dir_all(root.path().join("mnt/shuffle-tier")).unwrap();
    root
}

/// `text` with its absolute paths moved under `root`.
fn moved_under(text: &str, root: &Path) -> String {
    ["/etc/faro/", "/var/lib/faro/", "/mnt/", "/srv/faro/"]
        .iter()
        .fold(text.to_string(), |text, prefix| {
            text.replace(prefix, &format!("{}{prefix}", root.display()))
        })
}

/// Runs `faro PROCESS --config FILE --check` on `file` with its absolute
/// paths moved under `root`.
fn check(process: &str, file: &Path, root: &Path) -> std::process::Output {
    let text = std::fs::read_to_string(file).unwrap();
    let config = root.join(format!("{process}.toml"));
    std::fs::write(&config, moved_under(&text, root)).unwrap();
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

/// Every document of every manifest in `deploy/kubernetes`.
fn manifests() -> Vec<serde_yaml_ng::Value> {
    use serde::Deserialize;
    let dir = deploy_dir().join("kubernetes");
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = serde_yaml_ng::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if !value.is_null() {
                documents.push(value);
            }
        }
    }
    documents
}

/// Host names inside the cluster (`*.svc.cluster.local`) replaced by
/// `localhost`: outside it they resolve to nothing.
fn outside_the_cluster(text: &str) -> String {
    const SUFFIX: &str = ".svc.cluster.local";
    let mut out = String::new();
    let mut rest = text;
    while let Some(end) = rest.find(SUFFIX) {
        let host_start = rest[..end]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            .map_or(0, |i| i + 1);
        out.push_str(&rest[..host_start]);
        out.push_str("localhost");
        rest = &rest[end + SUFFIX.len()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_kubernetes_container_runs_a_checked_configuration() {
    let documents = manifests();
    let config = documents
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "faro-config")
        .expect("a faro-config ConfigMap");
    let root = root();
    let mut checked = Vec::new();
    for workload in documents
        .iter()
        .filter(|d| d["kind"] == "Deployment" || d["kind"] == "StatefulSet")
    {
        let containers = workload["spec"]["template"]["spec"]["containers"]
            .as_sequence()
            .expect("containers");
        for container in containers {
            let args: Vec<String> = container["args"]
                .as_sequence()
                .expect("the container runs faro with args")
                .iter()
                .map(|a| a.as_str().expect("string args").to_string())
                .collect();
            let process = args[0].clone();
            let file = args
                .windows(2)
                .find(|w| w[0] == "--config")
                .map(|w| w[1].clone())
                .unwrap_or_else(|| panic!("{process}: no --config"));
            let key = file
                .strip_prefix("/etc/faro/")
                .unwrap_or_else(|| panic!("{file} is not under /etc/faro/"));
            let text = config["data"][key]
                .as_str()
                .unwrap_or_else(|| panic!("the ConfigMap has no {key}"));
            std::fs::write(
                root.path().join("etc/faro").join(key),
                moved_under(&outside_the_cluster(text), root.path()),
            )
            .unwrap();
            let args: Vec<String> = args
                .iter()
                .map(|a| moved_under(a, root.path()).replace("$(POD_IP)", "127.0.0.1"))
                .collect();
            let output = Command::new(env!("CARGO_BIN_EXE_faro"))
                .args(&args)
                .arg("--check")
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            checked.push(process);
        }
    }
    checked.sort();
    assert_eq!(checked, ["scheduler", "shuffle-service", "worker"]);
}

#[test]
fn kubernetes_manifests_are_valid_against_the_schemas() {
    let output = Command::new(deploy_dir().join("kubernetes/validate.sh"))
        .output()
        .expect("bash runs validate.sh");
    assert!(
        output.status.success(),
        "{}{}\n(.ci/run installs kubernetes-validate: pip install kubernetes-validate==1.37.0)",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
