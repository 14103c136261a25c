//! `faro run` as a user runs it: the shipped examples give their golden
//! results, JSON output is what the table says, and a bad spec fails with
//! a message naming the vertex and exit status 1; an unbounded job prints
//! its rows as they come and stops cleanly on Ctrl-C; the Kafka examples
//! write a topic of a real broker (tansu) and read it back windowed; a
//! model file written by hand in the documented format predicts; the
//! training examples converge epoch by epoch over data read once.

use crate::support;

use std::process::Command;

use support::kafka::Broker;

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
    // In the schema's column order, not by name.
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with(r#"[{"key":999999,"total":"#), "{text}");
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["run", "examples/wordcount.yaml"])
        .env("RUST_LOG", "info")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("faro runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("task finished"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
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
    assert_eq!(output.status.code(), Some(2), "a bad spec is bad usage");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("vertex \"g\": unknown column \"y\""),
        "{stderr}"
    );
    let missing = faro(&["run", "no-such-job.json"]);
    assert_eq!(missing.status.code(), Some(2));
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

/// An unbounded generator (`rows: null`), paced, filtered into `collect`.
const UNBOUNDED: &str = r#"{"name": "ticker", "vertices": [
    {"id": "ticks", "operator": "generate", "parallelism": 2,
     "params": {"rows": null, "rows_per_second": 400, "batch_rows": 20,
                "columns": [{"name": "n", "expr": "i"}]}},
    {"id": "even", "operator": "filter", "parallelism": 2,
     "params": {"predicate": "n % 2 = 0"}},
    {"id": "out", "operator": "collect"}],
  "edges": [
    {"from": "ticks", "to": "even", "partitioning": "forward"},
    {"from": "even", "to": "out", "partitioning": "rebalance"}]}"#;

/// Runs `faro run SPEC` until it has printed `rows` rows, then sends it
/// SIGINT; returns the header, the rows and what it said on stderr, after
/// checking it stopped cleanly within 20 s, with the exit status of an
/// interrupted run (130).
fn run_until_ctrl_c(spec: &str, rows: usize) -> (String, Vec<String>, String) {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["run", spec])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("faro runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let header = lines.next().unwrap().unwrap();
    assert!(lines.next().unwrap().unwrap().starts_with("----"));
    // Rows arrive while the job runs: an unbounded job has no end to wait
    // for.
    let started = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < rows {
        seen.push(lines.next().expect("more rows").unwrap());
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Every line still printed is a row; then the process ends by itself.
    seen.extend(lines.map(|line| line.unwrap()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "faro run did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(exit.code(), Some(130), "{stderr}");
    (header, seen, stderr)
}

#[test]
fn an_unbounded_job_prints_rows_as_they_come_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("ticker.json");
    std::fs::write(&spec, UNBOUNDED).unwrap();
    let (header, rows, stderr) = run_until_ctrl_c(spec.to_str().unwrap(), 50);
    assert_eq!(header.trim(), "n");
    for row in &rows {
        let n: i64 = row.trim().parse().expect("a number");
        assert_eq!(n % 2, 0, "{row}");
    }
    assert!(stderr.contains("job \"ticker\" stopped after"), "{stderr}");
}

#[test]
fn the_live_top_auctions_example_ranks_three_auctions_per_second() {
    let (header, rows, stderr) = run_until_ctrl_c("examples/streaming_top_auctions.yaml", 6);
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        ["window_start", "window_end", "auction", "bids", "rank"]
    );
    // Whole windows print together: ranks 1, 2, 3 of one second each,
    // the counts in decreasing order.
    let cells: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.split_whitespace().collect())
        .collect();
    for window in cells.chunks(3).filter(|w| w.len() == 3) {
        assert!(window.iter().all(|r| r[0] == window[0][0]), "{window:?}");
        assert!(window[0][0].ends_with('Z'), "RFC 3339: {window:?}");
        let ranks: Vec<&str> = window.iter().map(|r| r[4]).collect();
        assert_eq!(ranks, ["1", "2", "3"]);
        let bids: Vec<i64> = window.iter().map(|r| r[3].parse().unwrap()).collect();
        assert!(bids.windows(2).all(|p| p[0] >= p[1]), "{bids:?}");
    }
    assert!(
        stderr.contains("job \"top-auctions\" stopped after"),
        "{stderr}"
    );
}

#[test]
fn the_kafka_examples_fill_a_topic_and_read_it_back_in_windows() {
    let broker = Broker::start();
    broker.create_topic("bids", 3);
    let dir = tempfile::tempdir().unwrap();
    // `faro run` allows brokers on loopback without a flag.
    let produce = faro(&[
        "run",
        &broker.example("examples/kafka_bids.yaml", dir.path()),
    ]);
    let stderr = String::from_utf8_lossy(&produce.stderr);
    assert!(produce.status.success(), "{stderr}");
    assert!(stderr.contains("job \"kafka-bids\" finished"), "{stderr}");
    let windows = broker.example("examples/kafka_windows.yaml", dir.path());
    let (header, rows, stderr) = run_until_ctrl_c(&windows, 20);
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        ["window_start", "window_end", "auction", "bids", "top_price"]
    );
    for row in &rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(
            cells[0].ends_with("0Z") && cells[1].ends_with("0Z"),
            "{row}"
        );
        assert!(cells[3].parse::<i64>().unwrap() >= 20, "{row}");
    }
    assert!(
        stderr.contains("job \"kafka-windows\" stopped after"),
        "{stderr}"
    );
}

#[test]
fn predict_applies_a_model_file_written_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("price.json");
    std::fs::write(
        &model,
        r#"{"format": "faro-model/1", "kind": "linear", "features": ["a", "b"],
            "label": "price", "intercept": 3.0, "weights": [2.0, -1.0]}"#,
    )
    .unwrap();
    let spec = dir.path().join("predict.json");
    std::fs::write(
        &spec,
        format!(
            r#"{{"name": "priced", "vertices": [
              {{"id": "rows", "operator": "generate", "params": {{"rows": 5,
                 "columns": [{{"name": "a", "expr": "i"}}, {{"name": "b", "expr": "i * i"}}]}}}},
              {{"id": "model", "operator": "predict", "params":
                 {{"model": "{}", "kind": "linear", "features": ["a", "b"], "output": "price"}}}},
              {{"id": "out", "operator": "collect"}}],
             "edges": [{{"from": "rows", "to": "model", "partitioning": "forward"}},
                       {{"from": "model", "to": "out", "partitioning": "forward"}}]}}"#,
            model.display()
        ),
    )
    .unwrap();
    let output = faro(&["run", spec.to_str().unwrap(), "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut prices: Vec<(i64, f64)> = rows
        .iter()
        .map(|row| (row["a"].as_i64().unwrap(), row["price"].as_f64().unwrap()))
        .collect();
    prices.sort_by_key(|(a, _)| *a);
    let expected: Vec<(i64, f64)> = (0..5).map(|i| (i, (3 + 2 * i - i * i) as f64)).collect();
    assert_eq!(prices, expected);
}

/// Runs `example` with `dir` as the working directory (where it writes
/// its model file); returns its table's header, rows and stderr.
fn train_example(example: &str, dir: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["run", &format!("{}/{example}", env!("CARGO_MANIFEST_DIR"))])
        .current_dir(dir)
        .output()
        .expect("faro runs");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut lines = stdout.lines();
    let header = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    let rows = lines
        .skip(1)
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    (header, rows, stderr)
}

/// The task count `faro run` reports: the data's tasks ran once, the
/// training tasks once per epoch and once more to save the model.
fn tasks(stderr: &str) -> usize {
    let after = stderr.split("finished in ").nth(1).unwrap();
    after
        .split(": ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn kmeans_converges_epoch_by_epoch_over_points_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows, stderr) = train_example("examples/kmeans.yaml", dir.path());
    assert_eq!(header, ["epoch", "inertia", "converged"]);
    assert_eq!(rows[0][1], "null", "epoch 0 chooses the initial centers");
    let inertia: Vec<f64> = rows[1..].iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(inertia.windows(2).all(|w| w[1] <= w[0]), "{inertia:?}");
    assert_eq!(rows.last().unwrap()[2], "true", "{rows:?}");
    assert!(rows[..rows.len() - 1].iter().all(|r| r[2] == "false"));
    assert_eq!(tasks(&stderr), 2 + 2 * (rows.len() + 1), "{stderr}");
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("kmeans.model.json")).unwrap())
            .unwrap();
    let mut centers: Vec<(f64, f64)> = model["centers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
        .collect();
    centers.sort_by(|a, b| a.0.total_cmp(&b.0));
    for ((x, y), (tx, ty)) in centers.iter().zip([(-5.0, 0.0), (0.0, 7.0), (5.0, 0.0)]) {
        assert!(
            (x - tx).abs() < 0.05 && (y - ty).abs() < 0.05,
            "{centers:?}"
        );
    }
}

#[test]
fn logistic_regression_converges_and_its_model_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows, stderr) = train_example("examples/logistic_regression.yaml", dir.path());
    assert_eq!(header, ["epoch", "log_loss", "accuracy", "converged"]);
    let last = rows.last().unwrap();
    assert_eq!(last[3], "true", "{rows:?}");
    let loss: f64 = last[1].parse().unwrap();
    let first: f64 = rows[0][1].parse().unwrap();
    assert!(
        (first - std::f64::consts::LN_2).abs() < 1e-9,
        "epoch 0 is the zero model"
    );
    assert!(loss < 0.2, "{loss}");
    assert!(last[2].parse::<f64>().unwrap() > 0.9, "{last:?}");
    assert_eq!(tasks(&stderr), 2 + 2 * (rows.len() + 1), "{stderr}");
    // The saved model predicts in another job.
    let spec = dir.path().join("apply.json");
    std::fs::write(
        &spec,
        r#"{"vertices": [
          {"id": "rows", "operator": "generate", "params": {"rows": 2,
             "columns": [{"name": "a", "expr": "CASE i WHEN 0 THEN 3 ELSE -3 END"},
                         {"name": "b", "expr": "CASE i WHEN 0 THEN -3 ELSE 3 END"}]}},
          {"id": "model", "operator": "predict", "params":
             {"model": "logistic.model.json", "kind": "logistic", "features": ["a", "b"]}},
          {"id": "out", "operator": "collect"}],
         "edges": [{"from": "rows", "to": "model", "partitioning": "forward"},
                   {"from": "model", "to": "out", "partitioning": "forward"}]}"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["run", spec.to_str().unwrap(), "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut predicted: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| (r["a"].as_i64().unwrap(), r["prediction"].as_i64().unwrap()))
        .collect();
    predicted.sort();
    assert_eq!(predicted, [(-3, 0), (3, 1)]);
}

#[test]
fn training_from_a_pipelined_edge_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("examples/kmeans.yaml").unwrap();
    let spec = dir.path().join("pipelined.yaml");
    std::fs::write(&spec, text.replace(", exchange: blocking", "")).unwrap();
    let output = faro(&["run", spec.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "refused before it runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("edge \"points\" -> \"train\": train reads its input once per epoch, so the edge must be blocking"),
        "{stderr}"
    );
}

/// A linear regression of `price` on `a` and `b` over 50,000 generated
/// rows, with `change` applied to the spec text.
fn linear_job(dir: &std::path::Path, change: (&str, &str)) -> std::process::Output {
    let model = dir.join("linear.model.json");
    let spec = format!(
        r#"{{"name": "linear", "vertices": [
          {{"id": "rows", "operator": "generate", "parallelism": 2, "params": {{"rows": 50000,
             "columns": [{{"name": "a", "expr": "(hash(i, 'a') % 2001 - 1000) / 100.0"}},
                         {{"name": "b", "expr": "(hash(i, 'b') % 2001 - 1000) / 100.0"}},
                         {{"name": "n", "expr": "(hash(i, 'n') % 201 - 100) / 1000.0"}}]}}}},
          {{"id": "priced", "operator": "project", "parallelism": 2, "params": {{"columns": [
             {{"name": "a", "expr": "a"}}, {{"name": "b", "expr": "b"}},
             {{"name": "price", "expr": "3.0 + 2.0 * a - b + n"}}]}}}},
          {{"id": "train", "operator": "train", "parallelism": 2, "params": {{
             "algorithm": {{"linear": {{"l2": 0}}}}, "features": ["a", "b"], "label": "price",
             "model_file": "{}"}}}}],
         "edges": [{{"from": "rows", "to": "priced", "partitioning": "forward"}},
                   {{"from": "priced", "to": "train", "partitioning": "rebalance", "exchange": "blocking"}}]}}"#,
        model.display()
    );
    let path = dir.join("linear.json");
    std::fs::write(&path, spec.replace(change.0, change.1)).unwrap();
    faro(&["run", path.to_str().unwrap()])
}

#[test]
fn a_linear_regression_trains_in_one_epoch_and_bad_training_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = linear_job(dir.path(), ("", ""));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    let row: Vec<&str> = table.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!((row[0], row[2]), ("0", "true"), "{table}");
    let rmse: f64 = row[1].parse().unwrap();
    assert!(
        (0.05..0.065).contains(&rmse),
        "uniform noise of ±0.1: {rmse}"
    );
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("linear.model.json")).unwrap())
            .unwrap();
    assert!(
        (model["intercept"].as_f64().unwrap() - 3.0).abs() < 0.01,
        "{model}"
    );
    assert!(
        (model["weights"][0].as_f64().unwrap() - 2.0).abs() < 0.01,
        "{model}"
    );
    assert!(
        (model["weights"][1].as_f64().unwrap() + 1.0).abs() < 0.01,
        "{model}"
    );

    for (change, expected) in [
        (
            ("\"label\": \"price\"", "\"label\": \"nope\""),
            "unknown column \"nope\"",
        ),
        (
            (
                "\"features\": [\"a\", \"b\"]",
                "\"features\": [\"a\", \"a\"]",
            ),
            "the normal equations are singular",
        ),
        (
            (
                "\"expr\": \"(hash(i, 'a') % 2001 - 1000) / 100.0\"",
                "\"expr\": \"sqrt(-1.0 - hash(i, 'a') % 3)\"",
            ),
            // `a` feeds `price` too, and the label is checked first.
            "label column \"price\": holds NaN in row",
        ),
        (
            ("\"linear\": {\"l2\": 0}", "\"kmeans\": {\"k\": 60000}"),
            "k = 60000 is more than the 50000 rows to cluster",
        ),
        (
            // Finite features whose squares are not: a diverging fit.
            (
                "\"expr\": \"(hash(i, 'b') % 2001 - 1000) / 100.0\"",
                "\"expr\": \"(hash(i, 'b') % 2001 - 1000) * 1e300\"",
            ),
            "the fit diverged: this subtask's sums overflowed",
        ),
    ] {
        let output = linear_job(dir.path(), change);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // A spec refused before it runs is bad usage (2); a job that
        // fails on its data, a failed job (1).
        let refused = expected.starts_with("unknown column");
        let code = if refused { 2 } else { 1 };
        assert_eq!(output.status.code(), Some(code), "{change:?}: {stderr}");
        assert!(stderr.contains(expected), "{change:?}: {stderr}");
    }
}

/// A sort behind a blocking edge, its input read in place from the
/// shuffle node of `faro run`'s process (kept as it arrived, not copied),
/// in memory and spilled to runs: every row comes out once, in order.
#[test]
fn a_sort_behind_a_blocking_edge_orders_every_row_held_or_spilled() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 40_000;
    for budget in ["", r#", "memory_bytes": 65536"#] {
        let spec = format!(
            r#"{{"name": "sorted", "vertices": [
              {{"id": "rows", "operator": "generate", "parallelism": 2, "params": {{"rows": {rows},
                 "columns": [{{"name": "key", "expr": "hash(i, 'k') % 1000"}},
                             {{"name": "payload", "expr": "concat('row-', CAST(i AS VARCHAR))"}}]}}}},
              {{"id": "sort", "operator": "sort", "parallelism": 1,
                "params": {{"keys": [{{"column": "key"}}, {{"column": "payload"}}]{budget}}}}},
              {{"id": "out", "operator": "collect"}}],
             "edges": [{{"from": "rows", "to": "sort", "partitioning": "rebalance", "exchange": "blocking"}},
                       {{"from": "sort", "to": "out", "partitioning": "forward"}}]}}"#
        );
        let path = dir.path().join("sorted.json");
        std::fs::write(&path, spec).unwrap();
        let output = faro(&["run", path.to_str().unwrap(), "--json"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let out: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(out.len(), rows, "{budget}: {stderr}");
        let keyed: Vec<(i64, String)> = out
            .iter()
            .map(|r| {
                (
                    r["key"].as_i64().unwrap(),
                    r["payload"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            keyed.windows(2).all(|w| w[0] <= w[1]),
            "{budget}: out of order"
        );
        let mut payloads: Vec<&str> = keyed.iter().map(|(_, p)| p.as_str()).collect();
        payloads.sort_unstable();
        payloads.dedup();
        assert_eq!(payloads.len(), rows, "{budget}: a row twice or lost");
    }
}
