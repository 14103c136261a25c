//! `faro run` as a user runs it: the shipped examples give their golden
//! results, JSON output is what the table says, and a bad spec fails with
//! a message naming the vertex and exit status 1.

use std::process::Command;

fn faro(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("faro runs")
}

#[test]
fn wordcount_prints_its_golden_table() {
    let output = faro(&["run", "examples/wordcount.yaml"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/expected/wordcount.txt"
    ))
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    assert!(String::from_utf8_lossy(&output.stderr).contains("job \"wordcount\" finished"));
}

#[test]
fn shuffle_agg_as_json() {
    let output = faro(&["run", "examples/shuffle_agg.json", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The five largest totals: keys 999999..999995, each the sum of 20
    // values key + 1M * j for j in 0..20.
    let expected: Vec<serde_json::Value> = (0..5)
        .map(|d| {
            let key = 999_999 - d;
            serde_json::json!({"key": key, "n": 20, "total": 20 * key + 190_000_000})
        })
        .collect();
    assert_eq!(rows, serde_json::Value::Array(expected));
}

#[test]
fn a_bad_spec_fails_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.json");
    std::fs::write(
        &spec,
        r#"{"vertices": [{"id": "g", "operator": "generate", "params": {"rows": 1, "columns": [{"name": "x", "expr": "y + 1"}]}}]}"#,
    )
    .unwrap();
    let output = faro(&["run", spec.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("vertex \"g\": unknown column \"y\""),
        "{stderr}"
    );
    let missing = faro(&["run", "no-such-job.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-job.json"));
}

#[test]
fn json_logs_carry_each_task_attempts_span() {
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["--log-format", "json", "run", "examples/wordcount.yaml"])
        .env("RUST_LOG", "faro_runtime=info")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("faro runs");
    assert!(output.status.success());
    let finished: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        // `faro run`'s own summary line is for the user, not a log record.
        .filter(|line| !line.starts_with("job "))
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
        })
        .filter(|line| line["fields"]["message"] == "task finished")
        .collect();
    assert!(!finished.is_empty(), "no task logged its end");
    let mut tasks = std::collections::HashSet::new();
    for line in &finished {
        let span = &line["span"];
        assert!(
            span["job"].as_str().is_some_and(|j| !j.is_empty()),
            "{line}"
        );
        assert!(span["vertex"].as_str().is_some(), "{line}");
        assert!(span["attempt"].as_u64() == Some(0), "{line}");
        let subtask = span["subtask"].as_u64().expect("a subtask");
        assert!(
            tasks.insert((span["vertex"].to_string(), subtask)),
            "one end per task attempt: {line}"
        );
    }
}
