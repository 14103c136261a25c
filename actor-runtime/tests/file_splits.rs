//! `read` cuts text and JSON-lines files into byte ranges at line breaks:
//! one big file is read by every subtask, each line exactly once and
//! whole — also when a split is resumed from a checkpoint taken inside
//! it.

mod operator_support;

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

/// The text of every row's one column.
fn texts(batches: &[faro_runtime::Batch]) -> Vec<String> {
    operator_support::rows(batches)
        .into_iter()
        .map(|row| match &row[0] {
            Value::Utf8(text) => text.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_big_text_file_is_read_by_every_subtask_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.txt");
    let mut want = write_lines(&path, 3000);
    let spec = JobSpec::from_json(&format!(
        r#"{{"vertices": [
          {{"id": "in", "operator": "read", "parallelism": 3, "params": {{
             "path": "{}", "format": "text", "split_bytes": 4000,
             "schema": {{"fields": [{{"name": "line", "data_type": "utf8"}}]}}}}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "in", "to": "out", "partitioning": "rebalance"}}]}}"#,
        path.display()
    ))
    .unwrap();
    let worker = Worker::start(2, None)
        .unwrap()
        .with_spill_root(&dir.path().join("spill"))
        .with_access(AccessPolicy::new(&[dir.path().to_path_buf()], &[]).unwrap());
    let env = JobEnv {
        job_id: "splits".into(),
        shuffle: None,
        max_frame: 1 << 20,
    };
    let output = run_job(&validate(&spec).unwrap(), &[&worker], &env)
        .await
        .unwrap();
    let mut got = texts(&output.collected);
    got.sort();
    want.sort();
    assert_eq!(got, want, "every line once, whole");
    let readers: Vec<u64> = (output.reports.iter())
        .filter(|r| r.task.starts_with("in"))
        .map(|r| r.rows_out)
        .collect();
    assert_eq!(readers.len(), 3);
    assert!(
        readers.iter().all(|&rows| rows > 500),
        "each subtask reads its share of the one file: {readers:?}"
    );
}

/// A `read` of `path` (subtask 0 of 1) in splits of 700 bytes and
/// batches of 37 lines, opened, restored from `state` if given.
fn split_reader(dir: &std::path::Path, path: &std::path::Path, state: Option<&[u8]>) -> Read {
    let params = ReadParams {
        path: path.display().to_string(),
        format: FileFormat::Text,
        schema: Schema::new(vec![Field::new("line", DataType::Utf8)]),
        store: None,
        batch_rows: 37,
        csv: Default::default(),
        split_bytes: Some(700),
    };
    operator_support::open_read(params, state, dir)
}

/// Every line a reader still emits.
fn lines_left(read: &mut Read) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(batch) = read.next_batch().unwrap() {
        lines.extend(texts(&[batch]));
    }
    lines
}

#[test]
fn a_split_resumed_from_a_checkpoint_inside_it_emits_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.txt");
    let all = write_lines(&path, 400);
    assert_eq!(lines_left(&mut split_reader(dir.path(), &path, None)), all);
    for before in 0..=12 {
        let mut first = split_reader(dir.path(), &path, None);
        let mut got = Vec::new();
        for _ in 0..before {
            if let Some(batch) = first.next_batch().unwrap() {
                got.extend(texts(&[batch]));
            }
        }
        let state = first.snapshot_state(1).unwrap().expect("a position");
        got.extend(lines_left(&mut split_reader(
            dir.path(),
            &path,
            Some(&state),
        )));
        assert_eq!(got, all, "a checkpoint after {before} batches");
    }
}
