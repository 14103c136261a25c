//! `read` and the `files` sink on real files: CSV with quotes and nulls,
//! several files over several subtasks, JSON lines written and read back,
//! bad input reported with file, line and column, and a `read` resumed
//! from a checkpoint.

use crate::operator_support;

use faro_runtime::access::AccessPolicy;
use faro_runtime::operator::Source;
use faro_runtime::operators::read::{FileFormat, Read, ReadParams};
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::{DataType, Field, Schema, Value};
use operator_support::{rows, sorted};

fn env(job: &str) -> JobEnv {
    JobEnv {
        job_id: job.into(),
        shuffle: None,
        max_frame: 1 << 20,
    }
}

const SCHEMA: &str = r#"{"fields": [
    {"name": "id", "data_type": "int64"},
    {"name": "name", "data_type": "utf8"},
    {"name": "price", "data_type": "float64", "nullable": true},
    {"name": "ok", "data_type": "bool", "nullable": true}]}"#;

async fn run(json: &str, dir: &std::path::Path, job: &str) -> Result<Vec<Vec<Value>>, String> {
    let spec = validate(&JobSpec::from_json(json).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let worker = Worker::start(2, None)
        .unwrap()
        .with_spill_root(&dir.join("spill"))
        .with_access(AccessPolicy::new(&[dir.to_path_buf()], &[dir.to_path_buf()]).unwrap());
    run_job(&spec, &[&worker], &env(job))
        .await
        .map(|out| rows(&out.collected))
        .map_err(|e| e.to_string())
}

fn read_job(path: &str, format: &str, parallelism: u32, sink: &str) -> String {
    format!(
        r#"{{"vertices": [
        {{"id": "in", "operator": "read", "parallelism": {parallelism}, "params": {{"path": "{path}", "format": "{format}", "batch_rows": 2, "schema": {SCHEMA}}}}},
        {sink}],
      "edges": [{{"from": "in", "to": "out", "partitioning": "rebalance"}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files_are_read_by_every_subtask_and_written_back_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(
        input.join("a.csv"),
        "name,id,price,ok\n\"Smith, J\",1,2.5,true\nb,2,,false\n",
    )
    .unwrap();
    std::fs::write(
        input.join("b.csv"),
        "id,name,price,ok\n3,\"say \"\"hi\"\"\",7,\n4,é,-1.25,true\n5,x,0,false\n",
    )
    .unwrap();
    let want = vec![
        vec![
            Value::Int64(1),
            Value::Utf8("Smith, J".into()),
            Value::Float64(2.5),
            Value::Bool(true),
        ],
        vec![
            Value::Int64(2),
            Value::Utf8("b".into()),
            Value::Null,
            Value::Bool(false),
        ],
        vec![
            Value::Int64(3),
            Value::Utf8("say \"hi\"".into()),
            Value::Float64(7.0),
            Value::Null,
        ],
        vec![
            Value::Int64(4),
            Value::Utf8("é".into()),
            Value::Float64(-1.25),
            Value::Bool(true),
        ],
        vec![
            Value::Int64(5),
            Value::Utf8("x".into()),
            Value::Float64(0.0),
            Value::Bool(false),
        ],
    ];
    let collect = r#"{"id": "out", "operator": "collect"}"#;
    let got = run(
        &read_job(&input.display().to_string(), "csv", 2, collect),
        dir.path(),
        "read-csv",
    )
    .await
    .unwrap();
    assert_eq!(sorted(got), sorted(want.clone()));

    let output = dir.path().join("out");
    let files = format!(
        r#"{{"id": "out", "operator": "files", "parallelism": 2, "params": {{"path": "{}", "format": "json_lines"}}}}"#,
        output.display()
    );
    run(
        &read_job(&input.display().to_string(), "csv", 2, &files),
        dir.path(),
        "write-json",
    )
    .await
    .unwrap();
    let written = std::fs::read_dir(&output).unwrap().count();
    assert_eq!(written, 2, "one file per subtask");
    let back = run(
        &read_job(&output.display().to_string(), "json_lines", 1, collect),
        dir.path(),
        "read-json",
    )
    .await
    .unwrap();
    assert_eq!(sorted(back), sorted(want));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, "id,name,price,ok\n1,a,1.0,true\n2,b,cheap,true\n").unwrap();
    let collect = r#"{"id": "out", "operator": "collect"}"#;
    let err = run(
        &read_job(&file.display().to_string(), "csv", 1, collect),
        dir.path(),
        "bad",
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("bad.csv line 3: column price: \"cheap\" is not a number"),
        "{err}"
    );

    let missing = dir.path().join("nothing-here");
    let err = run(
        &read_job(&missing.display().to_string(), "csv", 1, collect),
        dir.path(),
        "missing",
    )
    .await
    .unwrap_err();
    assert!(err.contains("nothing-here"), "{err}");

    std::fs::write(&file, "id,name,price\n1,a,1.0\n").unwrap();
    let err = run(
        &read_job(&file.display().to_string(), "csv", 1, collect),
        dir.path(),
        "header",
    )
    .await
    .unwrap_err();
    assert!(err.contains("no column \"ok\" in the header"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headerless_csv_with_its_own_delimiter_quote_and_null_beside_files_spark_skips() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("part-0.csv"), "1;'a; b';2.5;true\n2;x;NA;NA\n").unwrap();
    // What Spark, Hadoop and Flink leave beside their output: none is
    // data, and each would fail the job if it were read.
    for name in ["_SUCCESS", ".part-1.csv.crc", "part-2.csv.inprogress-7"] {
        std::fs::write(input.join(name), "not;csv;at;all;here\n").unwrap();
    }
    let job = |csv: &str| {
        read_job(
            &input.display().to_string(),
            "csv",
            2,
            r#"{"id": "out", "operator": "collect"}"#,
        )
        .replace(
            r#""batch_rows": 2,"#,
            &format!(r#""batch_rows": 2, "csv": {csv},"#),
        )
    };
    let options = r#"{"header": false, "delimiter": ";", "quote": "'", "null_value": "NA"}"#;
    let got = run(&job(options), dir.path(), "headerless").await.unwrap();
    let want = vec![
        vec![
            Value::Int64(1),
            Value::Utf8("a; b".into()),
            Value::Float64(2.5),
            Value::Bool(true),
        ],
        vec![
            Value::Int64(2),
            Value::Utf8("x".into()),
            Value::Null,
            Value::Null,
        ],
    ];
    assert_eq!(sorted(got), sorted(want));
    // `name` is not nullable: the null text in it is an error naming it.
    std::fs::write(input.join("part-3.csv"), "3;NA;1;true\n").unwrap();
    let err = run(&job(options), dir.path(), "strict").await.unwrap_err();
    assert!(
        err.contains("part-3.csv line 1: column name: null in a non-nullable column"),
        "{err}"
    );
    let err = run(
        &job(r#"{"delimiter": ";", "quote": ";"}"#),
        dir.path(),
        "same",
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("csv delimiter and quote are both ';'"),
        "{err}"
    );
    let err = run(&job(r#"{"delimiter": "\n"}"#), dir.path(), "newline")
        .await
        .unwrap_err();
    assert!(
        err.contains("csv delimiter '\\n' is not one ASCII character"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_written_in_its_own_layout_reads_back_with_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("part-0.csv"), "1;'a; b';2.5;true\n2;x;NA;NA\n").unwrap();
    let options = r#"{"header": false, "delimiter": ";", "quote": "'", "null_value": "NA"}"#;
    let copy = dir.path().join("copy");
    let job = |from: &std::path::Path, sink: &str| {
        read_job(&from.display().to_string(), "csv", 1, sink).replace(
            r#""batch_rows": 2,"#,
            &format!(r#""batch_rows": 2, "csv": {options},"#),
        )
    };
    let sink = |csv: &str| {
        format!(
            r#"{{"id": "out", "operator": "files", "parallelism": 1,
                 "params": {{"path": "{}", "format": "csv", "csv": {csv}}}}}"#,
            copy.display()
        )
    };
    run(&job(&input, &sink(options)), dir.path(), "write")
        .await
        .unwrap();
    let written = std::fs::read_to_string(copy.join("part-00000.csv")).unwrap();
    let mut lines: Vec<&str> = written.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["1;'a; b';2.5;true", "2;x;NA;NA"],
        "no header, ';', quotes, nulls"
    );
    let back = run(
        &job(&copy, r#"{"id": "out", "operator": "collect"}"#),
        dir.path(),
        "read-back",
    )
    .await
    .unwrap();
    let original = run(
        &job(&input, r#"{"id": "out", "operator": "collect"}"#),
        dir.path(),
        "read",
    )
    .await
    .unwrap();
    assert_eq!(sorted(back), sorted(original));
    let err = run(
        &job(&input, &sink(r#"{"multi_line": true}"#)),
        dir.path(),
        "multi",
    )
    .await
    .unwrap_err();
    assert!(err.contains("multi_line is for reading"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_edge_sorts_globally_across_subtasks() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("sorted");
    let job = format!(
        r#"{{"vertices": [
        {{"id": "gen", "operator": "generate", "parallelism": 2, "params": {{"rows": 3000, "batch_rows": 128, "seed": 9,
            "columns": [{{"name": "k", "expr": "random_int(0, 100000)"}}, {{"name": "i", "expr": "i"}}]}}}},
        {{"id": "order", "operator": "sort", "parallelism": 3, "params": {{"keys": [{{"column": "k"}}, {{"column": "i"}}]}}}},
        {{"id": "out", "operator": "files", "parallelism": 3, "params": {{"path": "{}", "format": "csv"}}}}],
      "edges": [{{"from": "gen", "to": "order", "partitioning": {{"range": ["k"]}}}},
                {{"from": "order", "to": "out", "partitioning": "forward"}}]}}"#,
        output.display()
    );
    run(&job, dir.path(), "range").await.unwrap();
    let mut previous_max = i64::MIN;
    let mut total = 0;
    for part in 0..3 {
        let text = std::fs::read_to_string(output.join(format!("part-{part:05}.csv"))).unwrap();
        let keys: Vec<i64> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "part {part} is sorted"
        );
        assert!(!keys.is_empty(), "part {part} got a share of the range");
        assert!(
            keys[0] >= previous_max,
            "part {part} starts after part {} ends",
            part.max(1) - 1
        );
        previous_max = *keys.last().unwrap();
        total += keys.len();
    }
    assert_eq!(total, 3000, "nothing lost");
}

/// A job generating `rows` rows into `files` sink `output` with `mode`.
fn write_job(output: &std::path::Path, rows: u64, parallelism: u32, mode: &str) -> String {
    format!(
        r#"{{"vertices": [
        {{"id": "gen", "operator": "generate", "parallelism": {parallelism}, "params": {{"rows": {rows},
            "columns": [{{"name": "i", "expr": "i"}}]}}}},
        {{"id": "out", "operator": "files", "parallelism": {parallelism},
          "params": {{"path": "{}", "format": "csv", "mode": "{mode}"}}}}],
      "edges": [{{"from": "gen", "to": "out", "partitioning": "forward"}}]}}"#,
        output.display()
    )
}

fn parts(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_output_is_kept_unless_the_job_says_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    run(&write_job(&output, 30, 3, "error"), dir.path(), "first")
        .await
        .unwrap();
    assert_eq!(
        parts(&output),
        ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    );
    let before = std::fs::read_to_string(output.join("part-00001.csv")).unwrap();

    let err = run(&write_job(&output, 5, 3, "error"), dir.path(), "again")
        .await
        .unwrap_err();
    assert!(
        err.contains("part-0000") && err.contains("the file exists; say `mode: overwrite`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(output.join("part-00001.csv")).unwrap(),
        before
    );
    assert_eq!(
        parts(&output).len(),
        3,
        "no in-progress file is left behind"
    );

    run(
        &write_job(&output, 4, 2, "overwrite"),
        dir.path(),
        "replace",
    )
    .await
    .unwrap();
    assert_eq!(
        parts(&output),
        ["part-00000.csv", "part-00001.csv"],
        "parts beyond the new parallelism are gone"
    );
    let lines: usize = parts(&output)
        .iter()
        .map(|p| {
            std::fs::read_to_string(output.join(p))
                .unwrap()
                .lines()
                .count()
                - 1
        })
        .sum();
    assert_eq!(lines, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_touch_no_file_outside_the_workers_roots() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "the worker's key\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("innocent.txt"),
    )
    .unwrap();
    let collect = r#"{"id": "out", "operator": "collect"}"#;
    let text_job = |path: &std::path::Path| {
        format!(
            r#"{{"vertices": [
            {{"id": "in", "operator": "read", "params": {{"path": "{}", "format": "text",
              "schema": {{"fields": [{{"name": "line", "data_type": "utf8"}}]}}}}}},
            {collect}],
          "edges": [{{"from": "in", "to": "out", "partitioning": "forward"}}]}}"#,
            path.display()
        )
    };
    for (path, why) in [
        (
            outside.path().join("secret.txt"),
            "outside what this worker allows",
        ),
        (dir.path().join("innocent.txt"), "it resolves to"),
        (
            dir.path()
                .join("../")
                .join(outside.path().file_name().unwrap()),
            "outside",
        ),
        (dir.path().to_path_buf(), "outside what this worker allows"),
    ] {
        let err = run(&text_job(&path), dir.path(), "steal")
            .await
            .unwrap_err();
        assert!(
            err.contains("refused") && err.contains(why),
            "{}: {err}",
            path.display()
        );
        assert!(!err.contains("the worker's key"), "{err}");
    }
    let store = format!(
        r#"{{"vertices": [
        {{"id": "in", "operator": "read", "params": {{"path": "secret.txt", "format": "text",
          "store": {{"scheme": "fs", "options": {{"root": "{}"}}}},
          "schema": {{"fields": [{{"name": "line", "data_type": "utf8"}}]}}}}}},
        {collect}],
      "edges": [{{"from": "in", "to": "out", "partitioning": "forward"}}]}}"#,
        outside.path().display()
    );
    let err = run(&store, dir.path(), "store").await.unwrap_err();
    assert!(err.contains("refused"), "{err}");

    let err = run(
        &write_job(&outside.path().join("planted"), 3, 1, "overwrite"),
        dir.path(),
        "plant",
    )
    .await
    .unwrap_err();
    assert!(err.contains("writing") && err.contains("refused"), "{err}");
    assert!(
        !outside.path().join("planted").exists(),
        "no directory was created"
    );
}

/// A `read` of `dir`'s CSV files in batches of 50 rows, opened.
fn csv_reader(dir: &std::path::Path, state: Option<&[u8]>) -> Read {
    let params = ReadParams {
        path: dir.display().to_string(),
        format: FileFormat::Csv,
        schema: Schema::new(vec![
            Field::new("n", DataType::Int64),
            Field::new("word", DataType::Utf8),
        ]),
        store: None,
        batch_rows: 50,
        csv: Default::default(),
        split_bytes: None,
    };
    operator_support::open_read(params, state, dir)
}

/// Every `n` a reader still emits.
fn numbers_left(read: &mut Read) -> Result<Vec<i64>, String> {
    let mut numbers = Vec::new();
    while let Some(batch) = read.next_batch().map_err(|e| e.to_string())? {
        for row in operator_support::rows(&[batch]) {
            let Value::Int64(n) = row[0] else {
                panic!("{row:?}")
            };
            numbers.push(n);
        }
    }
    Ok(numbers)
}

#[test]
fn a_read_restored_from_a_checkpoint_emits_each_row_once() {
    // Three files of 120 rows, read 50 at a time, so checkpoints fall
    // inside files and on their ends; a restore from any of them emits
    // exactly the rows not yet emitted.
    let dir = tempfile::tempdir().unwrap();
    for file in 0..3 {
        let mut text = String::from("n,word\n");
        for row in 0..120 {
            text.push_str(&format!("{},w{row}\n", file * 120 + row));
        }
        std::fs::write(dir.path().join(format!("part-{file}.csv")), text).unwrap();
    }
    let all: Vec<i64> = (0..360).collect();
    for batches_before in 0..=9 {
        let mut first = csv_reader(dir.path(), None);
        let mut seen = Vec::new();
        for _ in 0..batches_before {
            if let Some(batch) = first.next_batch().unwrap() {
                for row in operator_support::rows(&[batch]) {
                    seen.push(row[0].clone());
                }
            }
        }
        let state = first.snapshot_state(1).unwrap().expect("a position");
        let mut resumed = csv_reader(dir.path(), Some(&state));
        let mut got: Vec<i64> = seen
            .iter()
            .map(|v| match v {
                Value::Int64(n) => *n,
                other => panic!("{other:?}"),
            })
            .collect();
        got.extend(numbers_left(&mut resumed).unwrap());
        assert_eq!(got, all, "checkpoint after {batches_before} batches");
    }
}

#[test]
fn a_file_cut_short_after_a_checkpoint_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("only.csv");
    let text: String = std::iter::once("n,word\n".to_string())
        .chain((0..200).map(|n| format!("{n},w\n")))
        .collect();
    std::fs::write(&path, &text).unwrap();
    let mut first = csv_reader(dir.path(), None);
    first.next_batch().unwrap();
    first.next_batch().unwrap();
    let state = first.snapshot_state(1).unwrap().expect("a position");
    std::fs::write(&path, "n,word\n1,w\n").unwrap();
    let error = numbers_left(&mut csv_reader(dir.path(), Some(&state))).unwrap_err();
    assert!(
        error.contains("only.csv has 1 rows") && error.contains("the file changed"),
        "{error}"
    );
}
