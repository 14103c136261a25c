//! SQL from the outside: `faro sql -f/-e` on the embedded cluster (rows
//! as a table, a mistake as its line and column with a caret, exit
//! status 1), `INSERT INTO` a files table read back by a query, and `POST
//! /v1/sql` on `faro local` (jobs submitted, plans explained, refusals
//! with kind and position) which `faro sql --scheduler` uses too.

use crate::support;

use std::process::Command;

use support::local::start_local;

const NUMS: &str = "CREATE TABLE nums (k BIGINT, v BIGINT) WITH ('connector' = 'generate', \
     'rows' = '100', 'fields.k.expr' = 'i % 4', 'fields.v.expr' = 'i');";

fn faro_sql(args: &[&str], cwd: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .arg("sql")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("faro sql runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn a_script_runs_on_the_embedded_cluster_and_a_mistake_points_at_itself() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("q.sql");
    std::fs::write(
        &script,
        format!("{NUMS}\nSELECT k, SUM(v) AS total\nFROM nums GROUP BY k ORDER BY k;\n"),
    )
    .unwrap();
    let (ok, out, err) = faro_sql(&["-f", script.to_str().unwrap()], dir.path());
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["k", "total"],
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines[2..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [["0", "1200"], ["1", "1225"], ["2", "1250"], ["3", "1275"]],
        "{out}"
    );

    let (ok, out, err) = faro_sql(
        &["-e", &format!("{NUMS}\nSELECT k, totl\nFROM nums")],
        dir.path(),
    );
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("line 2, column 11: unknown column \"totl\""),
        "{err}"
    );
    assert!(err.contains("  SELECT k, totl\n            ^"), "{err}");
}

#[test]
fn insert_into_a_files_table_then_read_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let tables = format!(
        "{NUMS}
         CREATE TABLE sink (k BIGINT, n BIGINT) WITH ('connector' = 'files', 'path' = '{0}', 'format' = 'csv');",
        out_dir.display()
    );
    let insert =
        format!("{tables} INSERT INTO sink SELECT k, COUNT(*) FROM nums WHERE v < 50 GROUP BY k;");
    let (ok, _, err) = faro_sql(&["-e", &insert], dir.path());
    assert!(ok, "{err}");
    assert!(err.contains("rows inserted into sink"), "{err}");
    // Written once: the second INSERT refuses to overwrite, INSERT
    // OVERWRITE replaces.
    let (ok, _, err) = faro_sql(&["-e", &insert], dir.path());
    assert!(
        !ok && err.contains("the file exists"),
        "a second insert replaced the table: {err}"
    );
    let overwrite = insert.replace("INSERT INTO", "INSERT OVERWRITE");
    let (ok, _, err) = faro_sql(&["-e", &overwrite], dir.path());
    assert!(ok, "{err}");
    let read = format!("{tables} SELECT SUM(n) AS rows_seen, COUNT(*) AS keys FROM sink;");
    let (ok, out, err) = faro_sql(&["--json", "-e", &read], dir.path());
    assert!(ok, "{err}");
    let rows: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(rows, serde_json::json!([{"rows_seen": 50, "keys": 4}]));
}

#[test]
fn the_rest_api_runs_sql_and_the_cli_submits_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let local = start_local(&[], dir.path());
    let script = format!(
        "{NUMS} SET 'parallelism.default' = '2'; \
         EXPLAIN SELECT k, COUNT(*) AS n FROM nums GROUP BY k; \
         SELECT k, COUNT(*) AS n FROM nums WHERE v >= 20 GROUP BY k"
    );
    let (status, answer) = local.post("/v1/sql", &serde_json::json!({ "sql": script }).to_string());
    assert_eq!(status, 200, "{answer}");
    let statements = answer["statements"].as_array().unwrap();
    assert_eq!(statements[0]["done"], "table nums created");
    let plan = statements[2]["explain"].as_str().unwrap();
    assert!(
        plan.contains("nums -> aggregate hash(k) blocking"),
        "{plan}"
    );
    let id = statements[3]["job"].as_str().expect("a job id");
    assert_eq!(local.ended(id)["state"], "finished");
    let (_, result) = local.get(&format!("/v1/jobs/{id}/result"));
    let mut rows: Vec<String> = result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    rows.sort();
    assert_eq!(rows, ["[0,20]", "[1,20]", "[2,20]", "[3,20]"], "{result}");

    // Plain text works too; a mistake is a 400 with its kind and place.
    let (status, answer) = local.post("/v1/sql", &format!("{NUMS}\nSELECT k FROM numbers"));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["kind"], "unknownname");
    assert_eq!(
        (answer["line"].as_u64(), answer["column"].as_u64()),
        (Some(2), Some(15))
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("did you mean \"nums\""),
        "{answer}"
    );

    let (ok, out, err) = faro_sql(
        &[
            "--scheduler",
            &local.url,
            "-e",
            &format!("{NUMS} SELECT COUNT(*) AS n FROM nums"),
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.trim() == "100"), "{out}");
}

#[test]
fn the_prompt_keeps_definitions_and_goes_on_after_a_mistake() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faro"))
        .arg("sql")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!(
        "{}\n{}\nSELECT nope FROM nums;\nSELECT SUM(v)\n  AS total FROM nums;\nquit\n",
        NUMS.replace("WITH (", "WITH (\n"),
        "SELECT COUNT(*) AS n FROM nums;"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{err}");
    // Both queries ran: the count, then the sum over a statement of two lines.
    assert!(out.lines().any(|l| l.trim() == "100"), "{out}");
    assert!(out.lines().any(|l| l.trim() == "4950"), "{out}");
    assert!(err.contains("unknown column \"nope\""), "{err}");
}

#[test]
fn a_kafka_table_is_written_by_one_query_and_read_by_another() {
    let broker = support::kafka::Broker::start();
    broker.create_topic("sql-bids", 2);
    let dir = tempfile::tempdir().unwrap();
    let address = broker.1.trim_start_matches("tcp://");
    let tables = format!(
        "CREATE TABLE bid (auction BIGINT, price BIGINT) WITH ('connector' = 'nexmark', 'events' = '10000');
         CREATE TABLE topic (auction BIGINT, price BIGINT) WITH ('connector' = 'kafka', 'topic' = 'sql-bids',
           'properties.bootstrap.servers' = '{address}', 'format' = 'json', 'scan.bounded.mode' = 'latest-offset',
           'key.fields' = 'auction');"
    );
    let (ok, _, err) = faro_sql(
        &[
            "-e",
            &format!("{tables} INSERT INTO topic SELECT auction, price FROM bid;"),
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    let count = "SELECT COUNT(*) AS n, SUM(price) AS total FROM";
    let (ok, from_topic, err) = faro_sql(
        &["--json", "-e", &format!("{tables} {count} topic;")],
        dir.path(),
    );
    assert!(ok, "{err}");
    let (ok, from_source, err) = faro_sql(
        &["--json", "-e", &format!("{tables} {count} bid;")],
        dir.path(),
    );
    assert!(ok, "{err}");
    let rows: serde_json::Value = serde_json::from_str(from_topic.trim()).unwrap();
    assert_eq!(rows[0]["n"], 9200, "{rows}");
    assert_eq!(from_topic, from_source);
    // Unbounded in a batch query: refused, saying what to set.
    let unbounded = tables.replace(", 'scan.bounded.mode' = 'latest-offset'", "");
    let (ok, _, err) = faro_sql(&["-e", &format!("{unbounded} {count} topic;")], dir.path());
    assert!(
        !ok && err.contains("'scan.bounded.mode' = 'latest-offset'"),
        "{err}"
    );
}
