//! Faro as a hostile or careless user meets it, through the REST API of a
//! `faro local` process and through `faro run`: one test per thing an
//! outside probe found wrong. Expression bombs are refused or evaluated
//! flat and take nothing down; jobs read and write only where their
//! workers allow; failures that would repeat are not retried; sizes are
//! bounded; the API wants a token where others can reach it; numbers are
//! exact or an error.

use crate::support;

use std::process::Command;

use support::local::{attempts, start_local};

/// A job generating `rows` rows with column `x` computed by `expr` from
/// the row index `i`, collected.
fn generated(name: &str, expr: &str, rows: u64) -> String {
    serde_json::json!({
        "name": name,
        "vertices": [
            {"id": "g", "operator": "generate",
             "params": {"rows": rows, "columns": [{"name": "x", "expr": expr}]}},
            {"id": "out", "operator": "collect"}],
        "edges": [{"from": "g", "to": "out", "partitioning": "forward"}]
    })
    .to_string()
}

fn cwd() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn expression_bombs_are_refused_or_evaluated_flat_and_nothing_goes_down() {
    let local = start_local(&[], cwd());
    let sum = vec!["i"; 1500].join(" + ");
    let (status, body) = local.post("/v1/jobs", &generated("sum", &sum, 5));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("nested more than 128 levels"),
        "{body}"
    );
    for (expr, want) in [
        (
            (0..3000)
                .map(|k| format!("i = {k}"))
                .collect::<Vec<_>>()
                .join(" OR "),
            serde_json::json!(true),
        ),
        (vec!["i >= 0"; 3000].join(" AND "), serde_json::json!(true)),
        (
            format!(
                "i IN ({})",
                (10..2010)
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            serde_json::json!(false),
        ),
        (
            vec!["'a'"; 3000].join(" || "),
            serde_json::json!("a".repeat(3000)),
        ),
    ] {
        let id = local.submit(&generated("flat", &expr, 5));
        let job = local.ended(&id);
        assert_eq!(job["state"], "finished", "{}", job["error"]);
        let (_, result) = local.get(&format!("/v1/jobs/{id}/result"));
        assert_eq!(result["rows"][3][0], want);
    }
    assert_eq!(local.get("/healthz").0, 200, "still serving");
    let (status, _) = local.get("/v1/jobs");
    assert_eq!(status, 200);
}

#[test]
fn failures_that_would_repeat_fail_the_job_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let local = start_local(&[], dir.path());
    let missing = dir.path().join("nowhere/input.csv");
    let read_missing = serde_json::json!({
        "vertices": [
            {"id": "r", "operator": "read", "params": {"path": missing, "format": "csv",
             "schema": {"fields": [{"name": "a", "data_type": "int64"}]}}},
            {"id": "out", "operator": "collect"}],
        "edges": [{"from": "r", "to": "out", "partitioning": "forward"}]
    })
    .to_string();
    let over_limit = serde_json::json!({
        "vertices": [
            {"id": "g", "operator": "generate", "params": {"rows": 100, "columns": [{"name": "i", "expr": "i"}]}},
            {"id": "out", "operator": "collect", "params": {"limit": 10}}],
        "edges": [{"from": "g", "to": "out", "partitioning": "forward"}]
    })
    .to_string();
    let over_budget = serde_json::json!({
        "vertices": [
            {"id": "l", "operator": "generate", "params": {"rows": 10, "columns": [{"name": "k", "expr": "i"}]}},
            {"id": "r", "operator": "generate", "params": {"rows": 100000, "columns": [{"name": "m", "expr": "i"}]}},
            {"id": "j", "operator": "hash_join", "params": {"left": "l", "right": "r",
             "left_keys": ["k"], "right_keys": ["m"], "memory_bytes": 1000}},
            {"id": "out", "operator": "collect"}],
        "edges": [{"from": "l", "to": "j", "partitioning": "forward"},
                  {"from": "r", "to": "j", "partitioning": "forward"},
                  {"from": "j", "to": "out", "partitioning": "forward"}]
    })
    .to_string();
    // A consumer over its budget while its producers still send: they
    // fail too ("consumer is gone", an echo the scheduler waits past), and
    // the job reports the consumer's failure, once. (Here the consumer
    // reports fast; with gigabytes of state to let go of it reported after
    // the 300 ms the scheduler used to wait — Nexmark q19 at 10M events.)
    let ranked_over_budget = serde_json::json!({
        "vertices": [
            {"id": "g", "operator": "generate", "parallelism": 2,
             "params": {"rows": 3000000, "columns": [{"name": "k", "expr": "i"},
                                                     {"name": "v", "expr": "i * 7"}]}},
            {"id": "top", "operator": "top_n", "parallelism": 2, "params": {
             "keys": [{"column": "v"}], "limit": 1, "partition_by": ["k"],
             "memory_bytes": 100000000}},
            {"id": "out", "operator": "blackhole", "parallelism": 2}],
        "edges": [{"from": "g", "to": "top", "partitioning": {"hash": ["k"]}},
                  {"from": "top", "to": "out", "partitioning": "forward"}]
    })
    .to_string();
    for (spec, named) in [
        (
            ranked_over_budget,
            "top_n: needs more than its memory budget of 100000000 bytes".to_string(),
        ),
        (
            read_missing,
            format!("{}: no such file or directory", missing.display()),
        ),
        (
            generated("cast", "CAST(CAST(i AS VARCHAR) || 'x' AS BIGINT)", 10),
            "cannot cast \"0x\" to i64".to_string(),
        ),
        (over_limit, "more than 10 rows".to_string()),
        (over_budget, "memory budget of 1000 bytes".to_string()),
        (
            generated("overflow", "9223372036854775807 - 3 + i", 10),
            "BIGINT overflow: 9223372036854775804 + 4".to_string(),
        ),
    ] {
        let id = local.submit(&spec);
        let job = local.ended(&id);
        assert_eq!(job["state"], "failed");
        let error = job["error"].as_str().unwrap_or_default();
        assert!(error.contains(&named), "expected {named:?} in {error:?}");
        assert_eq!(job["reruns"]["task_failures"], 0, "{job}");
        let failed: Vec<_> = attempts(&job)
            .into_iter()
            .filter(|a| {
                a["state"] == "failed" && !a["error"].as_str().unwrap_or("").starts_with("stopped")
            })
            .collect();
        assert_eq!(failed.len(), 1, "one attempt, not four: {job}");
    }
}

#[test]
fn jobs_read_and_write_only_under_the_allowed_directories() {
    let allowed = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let root = allowed.path().to_str().unwrap();
    let local = start_local(
        &["--allow-read", root, "--allow-write", root],
        allowed.path(),
    );
    std::fs::write(elsewhere.path().join("key.pem"), "PRIVATE KEY\n").unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("key.pem"),
        allowed.path().join("key.txt"),
    )
    .unwrap();
    let read = |path: &std::path::Path| {
        serde_json::json!({
            "vertices": [
                {"id": "r", "operator": "read", "params": {"path": path, "format": "text",
                 "schema": {"fields": [{"name": "line", "data_type": "utf8"}]}}},
                {"id": "out", "operator": "collect"}],
            "edges": [{"from": "r", "to": "out", "partitioning": "forward"}]
        })
        .to_string()
    };
    let write = |path: &std::path::Path, mode: &str| {
        serde_json::json!({
            "vertices": [
                {"id": "g", "operator": "generate", "params": {"rows": 3, "columns": [{"name": "i", "expr": "i"}]}},
                {"id": "out", "operator": "files", "params": {"path": path, "format": "csv", "mode": mode}}],
            "edges": [{"from": "g", "to": "out", "partitioning": "forward"}]
        })
        .to_string()
    };
    for path in [
        std::path::PathBuf::from("/etc/passwd"),
        elsewhere.path().join("key.pem"),
        allowed.path().join("key.txt"),
        allowed
            .path()
            .join("../")
            .join(elsewhere.path().file_name().unwrap()),
    ] {
        let id = local.submit(&read(&path));
        let job = local.ended(&id);
        assert_eq!(job["state"], "failed", "{}", path.display());
        let error = job["error"].as_str().unwrap_or_default();
        assert!(error.contains("refused"), "{error}");
        assert!(
            !error.contains("PRIVATE") && !error.contains("root:"),
            "{error}"
        );
        assert_eq!(local.get(&format!("/v1/jobs/{id}/result")).0, 409);
    }
    let planted = elsewhere.path().join("planted");
    let job = local.ended(&local.submit(&write(&planted, "overwrite")));
    assert!(
        job["error"]
            .as_str()
            .unwrap_or_default()
            .contains("writing"),
        "{job}"
    );
    assert!(!planted.exists(), "no directory was made outside");

    let output = allowed.path().join("out");
    let first = local.ended(&local.submit(&write(&output, "error")));
    assert_eq!(first["state"], "finished", "{}", first["error"]);
    let again = local.ended(&local.submit(&write(&output, "error")));
    assert!(
        again["error"]
            .as_str()
            .unwrap_or_default()
            .contains("mode: overwrite"),
        "{again}"
    );
    let replaced = local.ended(&local.submit(&write(&output, "overwrite")));
    assert_eq!(replaced["state"], "finished", "{}", replaced["error"]);
}

#[test]
fn specs_and_names_are_bounded_and_the_job_list_stays_usable() {
    let local = start_local(&[], cwd());
    let huge = generated(&"n".repeat(2 << 20), "i", 1);
    let (status, body) = local.post("/v1/jobs", &huge);
    assert_eq!(status, 413, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("larger than the 1048576 bytes"));
    for (spec, named) in [
        (
            generated(&"n".repeat(300), "i", 1),
            "300 characters, more than the 256",
        ),
        (
            generated("\u{1b}[2J\u{1b}[1;1Hrm -rf", "i", 1),
            "control character",
        ),
        (
            generated("wide", "i", 1)
                .replace(r#""id":"g""#, r#""id":"g","parallelism":4000000000"#),
            "parallelism 4000000000, more than the 4096",
        ),
    ] {
        let (status, body) = local.post("/v1/jobs", &spec);
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains(named), "{body}");
    }
    // Many jobs: the list comes in pages, and `faro jobs` reads them all.
    let ids: Vec<String> = (0..130)
        .map(|k| local.submit(&generated(&format!("small {k}"), "i", 1)))
        .collect();
    for id in &ids {
        local.ended(id);
    }
    let (status, page) = local.get("/v1/jobs");
    assert_eq!(status, 200);
    assert_eq!(page["jobs"].as_array().unwrap().len(), 100);
    let next = page["next"].as_str().expect("a next page");
    let (_, rest) = local.get(&format!("/v1/jobs?after={next}"));
    assert_eq!(rest["jobs"].as_array().unwrap().len(), 30);
    assert!(rest["next"].is_null());
    assert_eq!(local.get("/v1/jobs?limit=5000").0, 400);
    let listed = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["jobs", "--scheduler", &local.url])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.lines().filter(|l| l.contains("small")).count(), 130);
}

#[test]
fn the_api_wants_a_token_where_others_can_reach_it() {
    let faro = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_faro"))
            .args(args)
            .current_dir(cwd())
            .output()
            .unwrap()
    };
    let open = faro(&["local", "--listen", "0.0.0.0:0"]);
    assert_eq!(open.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&open.stderr).contains("needs a bearer token"));
    let empty = faro(&["local", "--token", ""]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("the API token is empty"));

    let mut local = start_local(&["--token", "a-local-token"], cwd());
    assert_eq!(local.get("/metrics").0, 401, "/metrics names jobs");
    assert_eq!(local.get("/v1/jobs").0, 401);
    assert_eq!(local.get("/healthz").0, 200);
    local.token = Some("a-local-token".into());
    assert_eq!(local.get("/metrics").0, 200);
}

#[test]
fn a_cancelled_jobs_attempts_end_cancelled() {
    let local = start_local(&[], cwd());
    let long = generated("long", "i * 3", 1 << 60)
        .replace(r#""operator":"collect""#, r#""operator":"blackhole""#);
    let id = local.submit(&long);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !attempts(&local.get(&format!("/v1/jobs/{id}")).1)
        .iter()
        .any(|a| a["state"] == "running")
    {
        assert!(std::time::Instant::now() < deadline, "never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (status, _) = local.post(&format!("/v1/jobs/{id}/cancel"), "");
    assert_eq!(status, 200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let job = local.ended(&id);
    assert_eq!(job["state"], "cancelled");
    let states: Vec<_> = attempts(&job).iter().map(|a| a["state"].clone()).collect();
    assert!(
        !states.is_empty() && states.iter().all(|s| s == "cancelled"),
        "{states:?}"
    );
}

#[test]
fn a_jobs_result_is_bounded_by_the_scheduler_not_the_job() {
    let local = start_local(&["--result-rows", "1000"], cwd());
    let before = local.rss();
    let padded = format!("CAST(i AS VARCHAR) || '{}'", "-".repeat(90));
    let spec = generated("big result", &padded, 3_000_000).replace(
        r#""operator":"collect""#,
        r#""operator":"collect","params":{"limit":100000000}"#,
    );
    let job = local.ended(&local.submit(&spec));
    assert_eq!(job["state"], "finished", "{}", job["error"]);
    let (_, result) = local.get(&format!("/v1/jobs/{}/result", job["id"].as_str().unwrap()));
    assert_eq!(result["rows"].as_array().unwrap().len(), 1000);
    assert_eq!(result["truncated"], true);
    let grown = local.rss().saturating_sub(before);
    assert!(
        grown < 64 << 20,
        "3M collected rows reached the scheduler: it grew {} MiB",
        grown >> 20
    );
}

#[test]
fn numbers_are_exact_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, expr: &str, rows: u64| {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, generated(name, expr, rows)).unwrap();
        Command::new(env!("CARGO_BIN_EXE_faro"))
            .args(["run", "--json", path.to_str().unwrap()])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (expr, error) in [
        (
            "9223372036854775807 + i",
            "BIGINT overflow: 9223372036854775807 + 1",
        ),
        (
            "9223372036854775807 * (i + 2)",
            "BIGINT overflow: 9223372036854775807 * 2",
        ),
        (
            "abs(-9223372036854775807 - 1 + i * 0)",
            "BIGINT overflow: abs(-9223372036854775808)",
        ),
        ("CAST(0.0 / 0.0 + i AS BIGINT)", "division by zero"),
        ("CAST(sqrt(-1.0 - i) AS BIGINT)", "cannot cast NaN to i64"),
    ] {
        let output = run("numbers", expr, 3);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{expr}: {stderr}");
        assert!(
            stderr.contains(error),
            "{expr}: expected {error:?} in {stderr}"
        );
    }
    let output = run("infinite", "round(exp(1000.0 + i))", 2);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"x": "Infinity"}, {"x": "Infinity"}])
    );
}
