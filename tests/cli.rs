//! The `faro` binary: every process and client command exists, and each
//! process's `--config FILE --check` accepts a good file and names what is
//! wrong in a bad one.

use std::process::Command;

const SUBCOMMANDS: [&[&str]; 2] = [&["scheduler"], &["worker"]];

fn faro(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(args)
        .output()
        .expect("faro runs")
}

#[test]
fn help_lists_every_subcommand() {
    let help = String::from_utf8(faro(&["--help"]).stdout).unwrap();
    for built in [
        "identity",
        "shuffle-service",
        "run",
        "local",
        "submit",
        "jobs",
        "status",
        "cancel",
    ] {
        assert!(
            help.contains(built),
            "`faro --help` does not mention {built}:\n{help}"
        );
    }
    for args in SUBCOMMANDS {
        assert!(
            help.contains(args[0]),
            "`faro --help` does not mention {}:\n{help}",
            args[0]
        );
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let output = faro(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("frobnicate"));
}

/// Writes a node identity, a secret and `config` (with `{dir}` replaced by
/// the directory) and runs `faro shuffle-service --config FILE --check`.
fn check_config(config: &str) -> std::process::Output {
    check_process_config("shuffle-service", config)
}

/// Like [`check_config`] for any process.
fn check_process_config(process: &str, config: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let identity = faro_transport::LocalCa::generate()
        .unwrap()
        .issue(&["localhost"])
        .unwrap();
    identity.write_pem_files(dir.path()).unwrap();
    std::fs::write(
        dir.path().join("secret"),
        "a cluster secret of 32 bytes ok!",
    )
    .unwrap();
    std::fs::write(dir.path().join("api-token"), "an-api-token\n").unwrap();
    std::fs::write(dir.path().join("empty-token"), "\n").unwrap();
    let path = dir.path().join("shuffle.toml");
    let root = dir.path().display().to_string();
    std::fs::write(&path, config.replace("{dir}", &root)).unwrap();
    faro(&[process, "--config", path.to_str().unwrap(), "--check"])
}

const GOOD_CONFIG: &str = r#"
data_dir = "{dir}/data"
metrics = "127.0.0.1:0"
cert = "{dir}/cert.pem"
key = "{dir}/key.pem"
ca = "{dir}/ca.pem"
secret_file = "{dir}/secret"

[tier]
scheme = "fs"
options = { root = "{dir}/tier" }
"#;

#[test]
fn shuffle_service_check_accepts_a_good_config() {
    let output = check_config(GOOD_CONFIG);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "faro shuffle-service: configuration ok\n"
    );
}

#[test]
fn shuffle_service_check_names_what_is_wrong() {
    for (config, named) in [
        (
            GOOD_CONFIG.replace("metrics", "metrics_addr"),
            "metrics_addr",
        ),
        (GOOD_CONFIG.replace("cert = ", "# cert = "), "--cert"),
        (
            GOOD_CONFIG.replace("scheme = \"fs\"", "scheme = \"nfs\""),
            "nfs",
        ),
        (
            GOOD_CONFIG.replace("{dir}/secret", "{dir}/no-secret"),
            "no-secret",
        ),
        (
            GOOD_CONFIG.replace("{dir}/key.pem", "{dir}/ca.pem"),
            "TLS identity",
        ),
        (
            format!("{GOOD_CONFIG}\njob_ttl_secs = \"soon\""),
            "job_ttl_secs",
        ),
    ] {
        let output = check_config(&config);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{config}\n{stderr}");
        assert!(stderr.contains(named), "expected {named:?} in: {stderr}");
    }
}

const SCHEDULER_CONFIG: &str = r#"
listen = "127.0.0.1:0"
data_dir = "{dir}/scheduler"
shuffle_nodes = ["shuffle-a=127.0.0.1:7077", "shuffle-b=127.0.0.1:7078"]
replicas = 2
cert = "{dir}/cert.pem"
key = "{dir}/key.pem"
ca = "{dir}/ca.pem"
secret_file = "{dir}/secret"
token_file = "{dir}/api-token"
heartbeat_interval_ms = 200
suspect_phi = 10.0
heartbeat_pause_ms = 500
probe_timeout_ms = 500
heartbeat_timeout_ms = 5000
max_attempts = 3
"#;

const WORKER_CONFIG: &str = r#"
scheduler = "127.0.0.1:7070"
slots = 2
listen = "127.0.0.1:0"
cert = "{dir}/cert.pem"
key = "{dir}/key.pem"
ca = "{dir}/ca.pem"
"#;

#[test]
fn scheduler_and_worker_checks_accept_good_configs() {
    for (process, config) in [("scheduler", SCHEDULER_CONFIG), ("worker", WORKER_CONFIG)] {
        let output = check_process_config(process, config);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{process}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("faro {process}: configuration ok\n")
        );
    }
}

#[test]
fn scheduler_and_worker_checks_name_what_is_wrong() {
    for (process, config, named) in [
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("replicas", "replica"),
            "replica",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("shuffle-a=", "shuffle-a:"),
            "NAME=HOST:PORT",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("data_dir", "# data_dir"),
            "--data-dir",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("max_attempts = 3", "max_attempts = 0"),
            "max_attempts",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("{dir}/secret", "{dir}/none"),
            "none",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("suspect_phi = 10.0", "suspect_phi = -1.0"),
            "suspect_phi must be above 0",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace(
                "heartbeat_interval_ms = 200",
                "heartbeat_interval_ms = 4000",
            ),
            "at most half of heartbeat_timeout_ms",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("token_file", "# token_file"),
            "needs a bearer token",
        ),
        (
            "scheduler",
            SCHEDULER_CONFIG.replace("{dir}/api-token", "{dir}/empty-token"),
            "the API token is empty",
        ),
        (
            "scheduler",
            format!("{SCHEDULER_CONFIG}insecure_no_auth = true\n"),
            "choose one",
        ),
        (
            "worker",
            format!("{WORKER_CONFIG}metrics = \"127.0.0.1:0\"\n"),
            "needs a bearer token",
        ),
        (
            "worker",
            format!("{WORKER_CONFIG}allow_read = [\"{{dir}}/no-such-dir\"]\n"),
            "no-such-dir",
        ),
        (
            "worker",
            WORKER_CONFIG.replace("scheduler = ", "# scheduler = "),
            "--scheduler",
        ),
        (
            "worker",
            WORKER_CONFIG.replace("slots = 2", "slots = \"two\""),
            "slots",
        ),
        (
            "worker",
            WORKER_CONFIG.replace("{dir}/key.pem", "{dir}/ca.pem"),
            "TLS identity",
        ),
    ] {
        let output = check_process_config(process, &config);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{process}: {config}\n{stderr}"
        );
        assert!(
            stderr.contains(named),
            "{process}: expected {named:?} in: {stderr}"
        );
    }
}

#[test]
fn identity_writes_what_every_process_accepts_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("identity");
    let out_arg = out.to_str().unwrap();
    let made = faro(&["identity", "--out", out_arg, "--name", "shuffle-0"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let secret = std::fs::read(out.join("cluster-secret")).unwrap();
    assert_eq!(secret.len(), 64, "32 random bytes, hex");
    let token = std::fs::read(out.join("api-token")).unwrap();
    assert_eq!(token.len(), 64, "32 random bytes, hex");
    assert_ne!(token, secret);
    use std::os::unix::fs::PermissionsExt;
    let key_mode = std::fs::metadata(out.join("node.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o077, 0, "the key is private: {key_mode:o}");
    let config = format!(
        "cert = \"{0}/node.pem\"\nkey = \"{0}/node.key\"\nca = \"{0}/ca.pem\"\n\
         secret_file = \"{0}/cluster-secret\"\ndata_dir = \"{0}/data\"\n",
        out.display()
    );
    let checked = check_config(&config);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let again = faro(&["identity", "--out", out_arg]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists; pass --force"));
    assert_eq!(std::fs::read(out.join("cluster-secret")).unwrap(), secret);
    let forced = faro(&["identity", "--out", out_arg, "--force"]);
    assert!(forced.status.success());
    assert_ne!(std::fs::read(out.join("cluster-secret")).unwrap(), secret);
}

#[test]
fn completions_and_the_version_come_from_the_parser_and_git() {
    for shell in ["bash", "zsh", "fish"] {
        let script = faro(&["completions", shell]);
        assert!(script.status.success());
        let text = String::from_utf8_lossy(&script.stdout);
        for word in ["submit", "status", "token-file", "completions"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
    assert_eq!(faro(&["completions", "powershell"]).status.code(), Some(2));
    let version = String::from_utf8_lossy(&faro(&["--version"]).stdout).into_owned();
    assert!(
        version.starts_with("faro 0.1.0 (git ") && version.trim_end().ends_with(')'),
        "{version}"
    );
}
