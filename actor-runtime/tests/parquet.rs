//! `read` and the `files` sink on Parquet: files written by pyarrow
//! (`inputs/parquet/`, made by `make_fixtures.py` there) read with
//! projection, type conversions, nulls and vectors across subtasks;
//! Faro's own Parquet read back; and bad files — a codec not built in,
//! ragged vectors, truncated or corrupted bytes, a declared type the file
//! does not hold — each reported with the file and what was wrong.

use crate::operator_support;

use std::path::{Path, PathBuf};

use faro_runtime::access::AccessPolicy;
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::Value;
use operator_support::{rows, sorted};

/// 2026-01-01T00:00:00Z in milliseconds.
const NEW_YEAR_MS: i64 = 1_767_225_600_000;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/inputs/parquet")
        .join(name)
}

/// Runs `job` on a worker that may read `fixtures` and `dir`, and write
/// `dir`.
async fn run(job: &str, dir: &Path) -> Result<Vec<Vec<Value>>, String> {
    let spec = validate(&JobSpec::from_json(job).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let readable = [fixture(""), dir.to_path_buf()];
    let worker = Worker::start(2, None)
        .unwrap()
        .with_spill_root(&dir.join("spill"))
        .with_access(AccessPolicy::new(&readable, &[dir.to_path_buf()]).unwrap());
    let env = JobEnv {
        job_id: "parquet".into(),
        shuffle: None,
        max_frame: 1 << 20,
    };
    run_job(&spec, &[&worker], &env)
        .await
        .map(|out| rows(&out.collected))
        .map_err(|e| e.to_string())
}

/// Every column the fixtures' rows are read into (`unread` is left out).
const SCHEMA: &str = r#"{"fields": [
    {"name": "id", "data_type": "int64"},
    {"name": "name", "data_type": "utf8", "nullable": true},
    {"name": "price", "data_type": "float64", "nullable": true},
    {"name": "ok", "data_type": "bool", "nullable": true},
    {"name": "at", "data_type": "timestamp"},
    {"name": "day", "data_type": "timestamp"},
    {"name": "count", "data_type": "int64"},
    {"name": "score", "data_type": "float64"},
    {"name": "features", "data_type": {"vector": {"element": "f64", "dim": 3}}, "nullable": true}]}"#;

fn read_job(path: &Path, schema: &str, parallelism: u32, sink: &str) -> String {
    format!(
        r#"{{"vertices": [
        {{"id": "in", "operator": "read", "parallelism": {parallelism}, "params": {{"path": "{}", "format": "parquet", "batch_rows": 3, "schema": {schema}}}}},
        {sink}],
      "edges": [{{"from": "in", "to": "out", "partitioning": "rebalance"}}]}}"#,
        path.display()
    )
}

const COLLECT: &str = r#"{"id": "out", "operator": "collect"}"#;

/// The rows `make_fixtures.py` writes, as `SCHEMA` reads them.
fn fixture_rows() -> Vec<Vec<Value>> {
    (0..10i64)
        .map(|i| {
            vec![
                Value::Int64(i),
                if i % 4 == 1 {
                    Value::Null
                } else {
                    Value::Utf8(format!("n{i}é"))
                },
                if i % 3 == 2 {
                    Value::Null
                } else {
                    Value::Float64(i as f64 * 1.5)
                },
                if i == 5 {
                    Value::Null
                } else {
                    Value::Bool(i % 2 == 0)
                },
                Value::Timestamp(NEW_YEAR_MS + i * 1000 + 250),
                Value::Timestamp(NEW_YEAR_MS + i * 86_400_000),
                Value::Int64(1_000_000_000_000 + i),
                Value::Float64(i as f64 / 4.0),
                if i == 7 {
                    Value::Null
                } else {
                    Value::F64Vector(vec![i as f64, i as f64 + 0.5, -(i as f64)])
                },
            ]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_written_by_pyarrow_read_with_nulls_conversions_and_vectors() {
    let dir = tempfile::tempdir().unwrap();
    for (file, parallelism) in [
        ("mixed.parquet", 1),
        ("mixed.parquet", 2),
        ("mixed.parquet", 5),
        ("mixed_v2_plain.parquet", 2),
        ("gzip.parquet", 2),
        ("lz4.parquet", 1),
    ] {
        let got = run(
            &read_job(&fixture(file), SCHEMA, parallelism, COLLECT),
            dir.path(),
        )
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            sorted(got),
            fixture_rows(),
            "{file} over {parallelism} subtasks"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_declared_columns_are_read_in_the_declared_order() {
    let dir = tempfile::tempdir().unwrap();
    let schema = r#"{"fields": [
        {"name": "score", "data_type": "float64"},
        {"name": "id", "data_type": "float64"}]}"#;
    let got = run(
        &read_job(&fixture("mixed.parquet"), schema, 2, COLLECT),
        dir.path(),
    )
    .await
    .unwrap();
    let want: Vec<Vec<Value>> = (0..10)
        .map(|i| vec![Value::Float64(i as f64 / 4.0), Value::Float64(i as f64)])
        .collect();
    assert_eq!(sorted(got), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_written_by_the_files_sink_reads_back_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sink = format!(
        r#"{{"id": "out", "operator": "files", "parallelism": 2, "params": {{"path": "{}", "format": "parquet"}}}}"#,
        out.display()
    );
    run(
        &read_job(&fixture("mixed.parquet"), SCHEMA, 2, &sink),
        dir.path(),
    )
    .await
    .unwrap();
    let mut parts: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    parts.sort();
    assert_eq!(parts, ["part-00000.parquet", "part-00001.parquet"]);
    for part in &parts {
        let head = std::fs::read(out.join(part)).unwrap();
        assert_eq!(&head[..4], b"PAR1", "{part} starts as Parquet");
        assert_eq!(&head[head.len() - 4..], b"PAR1", "{part} ends as Parquet");
    }
    let back = run(&read_job(&out, SCHEMA, 3, COLLECT), dir.path())
        .await
        .unwrap();
    assert_eq!(sorted(back), fixture_rows());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_fail_the_job_naming_the_file_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let err = |job: String| {
        let dir = dir.path().to_path_buf();
        async move { run(&job, &dir).await.expect_err("the job must fail") }
    };

    let zstd = fixture("zstd.parquet");
    let e = err(read_job(&zstd, SCHEMA, 1, COLLECT)).await;
    assert!(
        e.contains("zstd.parquet") && e.contains("row group 0"),
        "{e}"
    );
    assert!(e.contains("compressed with ZSTD"), "names the codec: {e}");

    let ragged_schema = r#"{"fields": [
        {"name": "features", "data_type": {"vector": {"element": "f64", "dim": 3}}}]}"#;
    let e = err(read_job(
        &fixture("ragged.parquet"),
        ragged_schema,
        1,
        COLLECT,
    ))
    .await;
    assert!(
        e.contains("ragged.parquet") && e.contains("\"features\"") && e.contains("row 2"),
        "{e}"
    );
    assert!(e.contains("2 numbers, not 3"), "{e}");

    let wrong_type = SCHEMA.replace(
        r#""name", "data_type": "utf8""#,
        r#""name", "data_type": "float64""#,
    );
    let e = err(read_job(&fixture("mixed.parquet"), &wrong_type, 1, COLLECT)).await;
    assert!(e.contains("mixed.parquet") && e.contains("\"name\""), "{e}");

    let not_null = SCHEMA.replace(
        r#""price", "data_type": "float64", "nullable": true"#,
        r#""price", "data_type": "float64""#,
    );
    let e = err(read_job(&fixture("mixed.parquet"), &not_null, 1, COLLECT)).await;
    assert!(e.contains("\"price\"") && e.contains("row 2"), "{e}");

    let bytes = std::fs::read(fixture("mixed.parquet")).unwrap();
    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = err(read_job(&truncated, SCHEMA, 1, COLLECT)).await;
    assert!(
        e.contains("truncated.parquet") && e.contains("truncated?"),
        "{e}"
    );

    let not_parquet = dir.path().join("notes.parquet");
    std::fs::write(&not_parquet, "id,name\n1,a\n").unwrap();
    let e = err(read_job(&not_parquet, SCHEMA, 1, COLLECT)).await;
    assert!(e.contains("notes.parquet: not a Parquet file"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_pages_fail_the_job_never_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("mixed_v2_plain.parquet")).unwrap();
    // Overwrite stretches of the data pages (the footer, at the end, is
    // kept, so the reader gets as far as decoding pages).
    for (n, at) in [100usize, 700, 1500, 3000, 5000].into_iter().enumerate() {
        let mut corrupt = bytes.clone();
        for b in &mut corrupt[at..at + 64] {
            *b = 0xA5;
        }
        let path = dir.path().join(format!("corrupt-{n}.parquet"));
        std::fs::write(&path, corrupt).unwrap();
        match run(&read_job(&path, SCHEMA, 1, COLLECT), dir.path()).await {
            Err(e) => {
                eprintln!("corrupt-{n}: {e}");
                assert!(e.contains(&format!("corrupt-{n}.parquet")), "{e}")
            }
            // Bytes inside a value may still decode: then the rows differ,
            // but nothing crashed.
            Ok(rows) => assert_eq!(rows.len(), 10, "corrupt-{n}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_refuses_parquet_at_validation() {
    let spec = format!(
        r#"{{"vertices": [
        {{"id": "in", "operator": "follow", "params": {{"path": "/tmp", "format": "parquet", "schema": {SCHEMA}}}}},
        {COLLECT}],
      "edges": [{{"from": "in", "to": "out", "partitioning": "forward"}}]}}"#
    );
    let err = validate(&JobSpec::from_json(&spec).unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("read Parquet with `read`"),
        "{err}"
    );
}
