//! `read` cuts text, JSON-lines and CSV files into byte ranges at line
//! breaks: one big file is read by every subtask, each line exactly once
//! and whole — also when a split is resumed from a checkpoint taken
//! inside it; a CSV split is matched by its file's header, and CSV with
//! line breaks in quoted fields is read whole when the spec says so.

use crate::operator_support;

use faro_runtime::access::AccessPolicy;
use faro_runtime::operator::Source;
use faro_runtime::operators::read::{FileFormat, Read, ReadParams};
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::{DataType, Field, Schema, Value};

/// A file of `lines` lines of uneven length, each naming its number.
fn write_lines(path: &std::path::Path, lines: usize) -> Vec<String> {
    let lines: Vec<String> = (0..lines)
        .map(|n| format!("line {n} {}", "x".repeat(n * 7 % 23)))
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    lines
}

/// A text value's text.
fn text(value: &Value) -> String {
    match value {
        Value::Utf8(text) => text.clone(),
        other => panic!("{other:?}"),
    }
}

/// Runs `read` of `params` (a JSON object's fields) at parallelism 3
/// into a collector: the rows, and how many each subtask read.
async fn run_read(dir: &std::path::Path, params: &str) -> (Vec<Vec<Value>>, Vec<u64>) {
    let spec = JobSpec::from_json(&format!(
        r#"{{"vertices": [
          {{"id": "in", "operator": "read", "parallelism": 3, "params": {{{params}}}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "in", "to": "out", "partitioning": "rebalance"}}]}}"#
    ))
    .unwrap();
    let worker = Worker::start(2, None)
        .unwrap()
        .with_spill_root(&dir.join("spill"))
        .with_access(AccessPolicy::new(&[dir.to_path_buf()], &[]).unwrap());
    let env = JobEnv {
        job_id: "splits".into(),
        shuffle: None,
        max_frame: 1 << 20,
    };
    let output = run_job(&validate(&spec).unwrap(), &[&worker], &env)
        .await
        .unwrap();
    let readers: Vec<u64> = (output.reports.iter())
        .filter(|r| r.task.starts_with("in"))
        .map(|r| r.rows_out)
        .collect();
    (operator_support::rows(&output.collected), readers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_big_text_file_is_read_by_every_subtask_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.txt");
    let mut want = write_lines(&path, 3000);
    let params = format!(
        r#""path": "{}", "format": "text", "split_bytes": 4000,
           "schema": {{"fields": [{{"name": "line", "data_type": "utf8"}}]}}"#,
        path.display()
    );
    let (rows, readers) = run_read(dir.path(), &params).await;
    let mut got: Vec<String> = rows.iter().map(|row| text(&row[0])).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every line once, whole");
    assert_eq!(readers.len(), 3);
    assert!(
        readers.iter().all(|&rows| rows > 500),
        "each subtask reads its share of the one file: {readers:?}"
    );
}

/// A CSV file of `rows` records `n,name n` under a header naming its
/// columns `name,n` (the other way round from the schemas that read it).
fn write_csv(path: &std::path::Path, rows: i64) -> Vec<Vec<Value>> {
    let mut file = String::from("name,n\n");
    let mut want = Vec::new();
    for n in 0..rows {
        let name = format!("row {n} {}", "y".repeat(n as usize * 5 % 17));
        file.push_str(&format!("{name},{n}\n"));
        want.push(vec![Value::Int64(n), Value::Utf8(name)]);
    }
    std::fs::write(path, file).unwrap();
    want
}

/// That `got` holds `want`'s rows, each once, in any order.
fn assert_same_rows(got: Vec<Vec<Value>>, want: Vec<Vec<Value>>) {
    let (got, want) = (
        operator_support::sorted(got),
        operator_support::sorted(want),
    );
    let missing = want.iter().filter(|row| !got.contains(row)).count();
    assert!(
        got == want,
        "{} rows read for {} written, {missing} of them missing",
        got.len(),
        want.len()
    );
}

const CSV_SCHEMA: &str = r#""schema": {"fields": [
    {"name": "n", "data_type": "int64"}, {"name": "name", "data_type": "utf8"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_big_csv_file_is_shared_out_and_every_split_matches_columns_by_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let want = write_csv(&path, 3000);
    let params = format!(
        r#""path": "{}", "format": "csv", "split_bytes": 5000, {CSV_SCHEMA}"#,
        path.display()
    );
    let (rows, readers) = run_read(dir.path(), &params).await;
    assert_same_rows(rows, want);
    assert!(
        readers.iter().all(|&rows| rows > 500),
        "each subtask reads its share of the one file: {readers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_with_line_breaks_in_quoted_fields_is_read_whole_when_multi_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.csv");
    let mut file = String::from("n,name\n");
    let mut want = Vec::new();
    for n in 0..500i64 {
        let name = format!("note {n}\nsecond line, with a comma");
        file.push_str(&format!("{n},\"{name}\"\n"));
        want.push(vec![Value::Int64(n), Value::Utf8(name)]);
    }
    std::fs::write(&path, file).unwrap();
    let params = format!(
        r#""path": "{}", "format": "csv", "split_bytes": 1000, "csv": {{"multi_line": true}},
           {CSV_SCHEMA}"#,
        path.display()
    );
    let (rows, readers) = run_read(dir.path(), &params).await;
    assert_same_rows(rows, want);
    assert_eq!(
        readers.iter().filter(|&&rows| rows > 0).count(),
        1,
        "one subtask reads the file: {readers:?}"
    );
}

/// A `read` of `path` (subtask 0 of 1) as `format` into `schema`, in
/// splits of 700 bytes and batches of 37 rows, opened, restored from
/// `state` if given.
fn split_reader(
    dir: &std::path::Path,
    (path, format, schema): (&std::path::Path, FileFormat, &Schema),
    state: Option<&[u8]>,
) -> Read {
    let params = ReadParams {
        path: path.display().to_string(),
        format,
        schema: schema.clone(),
        store: None,
        batch_rows: 37,
        csv: Default::default(),
        split_bytes: Some(700),
    };
    operator_support::open_read(params, state, dir)
}

/// Every row a reader still emits.
fn rows_left(read: &mut Read) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    while let Some(batch) = read.next_batch().unwrap() {
        rows.extend(operator_support::rows(&[batch]));
    }
    rows
}

#[test]
fn a_split_resumed_from_a_checkpoint_inside_it_emits_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let text_path = dir.path().join("lines.txt");
    let lines = write_lines(&text_path, 400);
    let lines: Vec<Vec<Value>> = lines.into_iter().map(|l| vec![Value::Utf8(l)]).collect();
    let text_schema = Schema::new(vec![Field::new("line", DataType::Utf8)]);
    let csv_path = dir.path().join("rows.csv");
    let records = write_csv(&csv_path, 300);
    let csv_schema = Schema::new(vec![
        Field::new("n", DataType::Int64),
        Field::new("name", DataType::Utf8),
    ]);
    let files = [
        (text_path.as_path(), FileFormat::Text, &text_schema, lines),
        (csv_path.as_path(), FileFormat::Csv, &csv_schema, records),
    ];
    for (path, format, schema, all) in files {
        let file = (path, format, schema);
        assert_eq!(rows_left(&mut split_reader(dir.path(), file, None)), all);
        for before in 0..=12 {
            let mut first = split_reader(dir.path(), file, None);
            let mut got = Vec::new();
            for _ in 0..before {
                if let Some(batch) = first.next_batch().unwrap() {
                    got.extend(operator_support::rows(&[batch]));
                }
            }
            let state = first.snapshot_state(1).unwrap().expect("a position");
            got.extend(rows_left(&mut split_reader(dir.path(), file, Some(&state))));
            assert_eq!(got, all, "{format:?}: a checkpoint after {before} batches");
        }
    }
}
