//! What `faro status`, `faro jobs` and `faro submit` print and how they
//! exit, against a `faro local`: the status summaries of a finished, a
//! failed and a re-run job and the job list, compared with golden files
//! (`tests/expected/cli/`, times and ids masked; `FARO_UPDATE_GOLDEN=1`
//! rewrites them), and the exit statuses of success, a failed job and a
//! bad spec.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::local::{start_local, Local};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn faro(local: &Local, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(args)
        .env("FARO_SCHEDULER", &local.url)
        .current_dir(repo())
        .output()
        .expect("faro runs")
}

/// `text` with what changes from run to run replaced — job ids, dates,
/// durations — and, since masks are wider or narrower than what they hide,
/// runs of spaces between columns and the rules under headers made one
/// width.
fn masked(text: &str) -> String {
    let rules = [
        (r"job-[0-9a-f]+-[0-9a-f]+", "<job>"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<date>"),
        (
            r"\b\d+(\.\d+)? (ms|s)\b|\b\d+ (min|h) \d+ (s|min)\b",
            "<duration>",
        ),
        (r"-{3,}", "---"),
        (r" {2,}", "  "),
    ];
    let mut text = text.to_string();
    for (pattern, mask) in rules {
        let pattern = regex_lite::Regex::new(pattern).expect("a pattern");
        text = pattern.replace_all(&text, mask).into_owned();
    }
    text
}

fn golden(name: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got = masked(&String::from_utf8_lossy(&output.stdout));
    let path = repo().join("tests/expected/cli").join(name);
    if std::env::var_os("FARO_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("the golden file written");
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(got, expected, "{} differs", path.display());
}

#[test]
fn status_and_jobs_print_summaries_a_person_reads() {
    let local = start_local(&[], repo());
    let spec = |name: &str| repo().join(name).display().to_string();
    let finished = faro(
        &local,
        &[
            "submit",
            &spec("examples/wordcount.yaml"),
            "--wait",
            "--json",
        ],
    );
    assert_eq!(finished.status.code(), Some(0));
    let rows: serde_json::Value =
        serde_json::from_slice(&finished.stdout).expect("the rows as JSON");
    assert_eq!(rows[0], serde_json::json!({"word": "a", "n": 14}));
    let failed = faro(
        &local,
        &["submit", &spec("tests/inputs/cli/failing.json"), "--wait"],
    );
    assert_eq!(failed.status.code(), Some(1), "a failed job exits 1");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or_default()
            .contains("cannot cast"),
        "{stderr}"
    );
    // A source whose broker refuses connections fails in a way that may
    // pass: it re-runs, then gives up.
    let rerun = faro(
        &local,
        &[
            "submit",
            &spec("tests/inputs/cli/unreachable_broker.json"),
            "--wait",
        ],
    );
    assert_eq!(rerun.status.code(), Some(1));
    let bad = faro(
        &local,
        &["submit", &spec("tests/inputs/cli/no_vertices.json")],
    );
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a spec the scheduler refuses exits 2"
    );

    let (_, page) = local.get("/v1/jobs");
    let ids: Vec<String> = page["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    for (id, name) in ids.iter().zip(["finished", "failed", "rerun"]) {
        golden(
            &format!("status_{name}.txt"),
            &faro(&local, &["status", id]),
        );
    }
    golden("jobs.txt", &faro(&local, &["jobs"]));
    golden(
        "jobs_failed.txt",
        &faro(&local, &["jobs", "--state", "failed"]),
    );
    let json = faro(&local, &["status", &ids[0], "--json"]);
    let record: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(record["state"], "finished");
}

#[test]
fn run_exits_2_for_a_bad_spec_and_1_for_a_failed_job_in_one_line() {
    let run = |path: &str| {
        Command::new(env!("CARGO_BIN_EXE_faro"))
            .args(["run", "--slots", "2", path])
            .current_dir(repo())
            .output()
            .expect("faro runs")
    };
    for (path, code, said) in [
        (
            "tests/inputs/cli/no_vertices.json",
            2,
            "the job has no vertices",
        ),
        ("tests/inputs/cli/missing.json", 2, "reading the job spec"),
        ("tests/inputs/cli/failing.json", 1, "cannot cast"),
    ] {
        let output = run(path);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{path}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with("faro: ") && stderr.contains(said),
            "{stderr}"
        );
    }
    let usage = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["run", "--no-such-flag"])
        .output()
        .expect("faro runs");
    assert_eq!(usage.status.code(), Some(2));
}
