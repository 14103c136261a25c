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

/// Runs `command` (a shell line) under a pseudo-terminal, as a person at
/// a terminal would (util-linux's `script`); what the terminal showed.
fn on_a_terminal(command: &str) -> String {
    let output = Command::new("script")
        .args(["-qfec", command, "/dev/null"])
        .current_dir(repo())
        .output()
        .expect("script(1) runs");
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn progress_is_drawn_on_a_terminal_and_nowhere_else() {
    let faro = env!("CARGO_BIN_EXE_faro");
    let shown = on_a_terminal(&format!("{faro} run --slots 2 examples/shuffle_agg.json"));
    // The job's line and a bar per vertex, redrawn in place; then the
    // result, the bars gone.
    assert!(shown.contains("shuffle-agg running"), "{shown}");
    assert!(
        shown.contains("tasks") && shown.contains("rows in"),
        "{shown}"
    );
    assert!(shown.contains("\u{1b}[2K"), "lines are redrawn: {shown}");
    assert!(shown.contains("finished in"), "{shown}");

    let piped = Command::new(faro)
        .args(["run", "--slots", "2", "examples/shuffle_agg.json"])
        .current_dir(repo())
        .output()
        .expect("faro runs");
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(piped.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "only the summary: {stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains("rows in"),
        "{stderr}"
    );

    // `faro submit --wait` draws the same from the REST API, and nothing
    // with --json.
    let local = start_local(&[], repo());
    let submit = |json: &str| {
        on_a_terminal(&format!(
            "FARO_SCHEDULER={} {faro} submit examples/shuffle_agg.json --wait {json}",
            local.url
        ))
    };
    let waited = submit("");
    assert!(
        waited.contains("rows in") && waited.contains("tasks"),
        "{waited}"
    );
    let quiet = submit("--json");
    assert!(
        !quiet.contains("rows in") && !quiet.contains('\u{1b}'),
        "{quiet}"
    );
    assert!(quiet.contains("\"key\""), "the rows, as JSON: {quiet}");
}

#[test]
fn run_writes_its_result_to_a_csv_json_lines_or_parquet_file() {
    let dir = tempfile::tempdir().expect("a directory");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_faro"))
            .args(["run", "--slots", "2"])
            .args(args)
            .current_dir(repo())
            .output()
            .expect("faro runs")
    };
    let printed = run(&["examples/wordcount.yaml", "--json"]);
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&printed.stdout).expect("the rows as JSON");
    assert_eq!(rows.len(), 10);

    let csv = dir.path().join("top.csv");
    let written = run(&["examples/wordcount.yaml", "--output", csv.to_str().unwrap()]);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    assert!(
        written.stdout.is_empty(),
        "the rows go to the file, not the screen"
    );
    let text = std::fs::read_to_string(&csv).expect("the CSV file");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("word,n"));
    for (line, row) in lines.zip(&rows) {
        assert_eq!(
            line,
            format!("{},{}", row["word"].as_str().unwrap(), row["n"])
        );
    }

    let jsonl = dir.path().join("top.jsonl");
    run(&["examples/wordcount.yaml", "-o", jsonl.to_str().unwrap()]);
    let text = std::fs::read_to_string(&jsonl).expect("the JSON lines file");
    // Each line an object with the columns in the schema's order.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"word":"a","n":14}"#);
    assert_eq!(lines.len(), rows.len());

    // Parquet, read back by a job of Faro's own.
    let parquet = dir.path().join("top.parquet");
    run(&["examples/wordcount.yaml", "-o", parquet.to_str().unwrap()]);
    let reader = dir.path().join("read.json");
    let spec = serde_json::json!({"name": "back", "vertices": [
        {"id": "r", "operator": "read", "params": {"path": parquet, "format": "parquet",
         "schema": {"fields": [{"name": "word", "data_type": "utf8"}, {"name": "n", "data_type": "int64"}]}}},
        {"id": "out", "operator": "collect"}],
        "edges": [{"from": "r", "to": "out", "partitioning": "forward"}]});
    std::fs::write(&reader, spec.to_string()).expect("the spec written");
    let back = run(&[reader.to_str().unwrap(), "--json"]);
    let read: Vec<serde_json::Value> = serde_json::from_slice(&back.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&back.stderr)));
    assert_eq!(read, rows);

    let refused = run(&["examples/wordcount.yaml", "-o", "top.txt"]);
    assert_eq!(refused.status.code(), Some(2));
}
