//! Files in a stream: `follow` reads the files that appear in a directory
//! while its job runs, and a rolling `files` sink finishes parts as the
//! rows come, so a file-to-file streaming job moves every row exactly
//! once into finished parts; files still being written are never read,
//! and a directory outside the worker's roots or a malformed file fails
//! the job with a message naming it.

use crate::streaming_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faro_runtime::access::AccessPolicy;
use faro_runtime::message::{Barrier, Watermark};
use faro_runtime::operator::{Operator, OperatorContext, Rows, Source};
use faro_runtime::operators::files::{Files, FilesParams, RollingParams, WriteMode};
use faro_runtime::operators::follow::{Follow, FollowParams};
use faro_runtime::operators::read::FileFormat;
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::{BatchBuilder, DataType, Field, Schema, Value};
use streaming_support::Streaming;

const SCHEMA: &str = r#"{"fields": [
    {"name": "id", "data_type": "int64"},
    {"name": "at", "data_type": "timestamp"}]}"#;

fn worker(dir: &Path) -> Worker {
    Worker::start(4, None)
        .unwrap()
        .with_spill_root(&dir.join("spill"))
        .with_access(AccessPolicy::new(&[dir.to_path_buf()], &[dir.to_path_buf()]).unwrap())
}

/// `follow` of `input` at parallelism 2 into a rolling CSV `files` sink.
fn follow_job(input: &Path, output: &Path, rolling: &str) -> String {
    format!(
        r#"{{"vertices": [
          {{"id": "in", "operator": "follow", "parallelism": 2, "params": {{"path": "{}", "format": "csv", "poll_ms": 20, "batch_rows": 4, "schema": {SCHEMA}}}}},
          {{"id": "out", "operator": "files", "parallelism": 2, "params": {{"path": "{}", "format": "csv", "rolling": {rolling}}}}}],
         "edges": [{{"from": "in", "to": "out", "partitioning": "rebalance"}}]}}"#,
        input.display(),
        output.display()
    )
}

/// Writes `rows` (ids, with `at` = id) as a CSV file the way a producer
/// should: under a hidden name, renamed into place when complete.
fn produce(dir: &Path, name: &str, ids: std::ops::Range<i64>) {
    let hidden = dir.join(format!(".{name}"));
    std::fs::write(&hidden, csv_of(ids)).unwrap();
    std::fs::rename(&hidden, dir.join(name)).unwrap();
}

fn csv_of(ids: std::ops::Range<i64>) -> String {
    let mut text = String::from("at,id\n");
    for id in ids {
        text.push_str(&format!("{id},{id}\n"));
    }
    text
}

/// The finished parts in `dir` (final names only) and the ids in each;
/// every part must be a CSV file with its own header.
fn finished_parts(dir: &Path) -> BTreeMap<String, Vec<i64>> {
    let mut parts = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return parts;
    };
    for entry in entries {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.contains(".inprogress") {
            continue;
        }
        assert!(
            name.starts_with("part-") && name.ends_with(".csv"),
            "unexpected file {name}"
        );
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("id,at"), "{name} starts with its header");
        let ids = lines
            .map(|line| line.split(',').next().unwrap().parse().unwrap())
            .collect();
        parts.insert(name, ids);
    }
    parts
}

fn all_ids(parts: &BTreeMap<String, Vec<i64>>) -> Vec<i64> {
    let mut ids: Vec<i64> = parts.values().flatten().copied().collect();
    ids.sort_unstable();
    ids
}

impl Streaming {
    /// Waits until the finished parts in `dir` hold `want` ids in all;
    /// a task that ends meanwhile (failed) ends the wait with its error.
    async fn wait_for(&mut self, dir: &Path, want: usize) -> BTreeMap<String, Vec<i64>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let parts = finished_parts(dir);
            if all_ids(&parts).len() >= want || Instant::now() > deadline {
                return parts;
            }
            self.assert_running().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_into_a_followed_directory_arrive_once_in_finished_parts() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir(&input).unwrap();
    produce(&input, "a.csv", 0..10);
    // Never to be read: files still being written, by every convention.
    for name in ["b.csv.inprogress-0", ".c.csv", "_temporary"] {
        std::fs::write(input.join(name), csv_of(900_000..900_005)).unwrap();
    }
    std::fs::write(input.join(".half.csv"), "at,id\n1,").unwrap();
    let job = follow_job(&input, &output, r#"{"max_rows": 7, "interval_ms": 100}"#);
    let mut running = Streaming::start(&job, worker(dir.path()), "follow-roll");

    let parts = running.wait_for(&output, 10).await;
    assert_eq!(all_ids(&parts), (0..10).collect::<Vec<_>>());
    // While the job runs, more files come, some in one listing.
    produce(&input, "d.csv", 10..25);
    tokio::time::sleep(Duration::from_millis(50)).await;
    produce(&input, "e.csv", 25..26);
    produce(&input, "f.csv", 26..40);
    let parts = running.wait_for(&output, 40).await;
    // Rows past the last part's limit are finished by the interval.
    assert_eq!(all_ids(&parts), (0..40).collect::<Vec<_>>(), "{parts:?}");
    assert!(parts.values().all(|ids| ids.len() <= 7), "{parts:?}");
    assert!(parts.len() >= 40 / 7, "{parts:?}");
    assert!(
        parts.keys().any(|n| n.starts_with("part-00001-")),
        "both sink subtasks roll their own parts: {parts:?}"
    );
    // Nothing more arrives: a file is read once, not once per listing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(finished_parts(&output), parts);
    running.cancel().await;
    // A cancelled sink leaves its finished parts and nothing in progress.
    assert_eq!(finished_parts(&output), parts);
    let left: Vec<String> = std::fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".inprogress"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The rows of the finished JSON-lines parts in `dir`, sorted.
fn finished_json_rows(dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            rows.extend(text.lines().map(|l| serde_json::from_str(l).unwrap()));
        }
    }
    rows.sort_by_key(|row: &serde_json::Value| row.to_string());
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_time_of_followed_files_fires_windows_as_files_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir(&input).unwrap();
    produce(&input, "a.csv", 0..25);
    let job = format!(
        r#"{{"vertices": [
          {{"id": "in", "operator": "follow", "params": {{"path": "{}", "format": "csv", "poll_ms": 20, "schema": {SCHEMA}, "event_time": {{"column": "at"}}}}}},
          {{"id": "w", "operator": "window", "params": {{"time": "at", "window": {{"tumbling": {{"size_ms": 10}}}}, "aggregates": [{{"name": "n", "function": "count"}}]}}}},
          {{"id": "out", "operator": "files", "params": {{"path": "{}", "format": "json_lines", "rolling": {{"max_rows": 1}}}}}}],
         "edges": [{{"from": "in", "to": "w", "partitioning": "forward"}}, {{"from": "w", "to": "out", "partitioning": "forward"}}]}}"#,
        input.display(),
        output.display()
    );
    let running = Streaming::start(&job, worker(dir.path()), "follow-windows");
    let window = |start: i64, n: i64| serde_json::json!({"window_start": start, "window_end": start + 10, "n": n});
    let count = |want: usize| {
        let output = output.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while finished_json_rows(&output).len() < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            finished_json_rows(&output)
        }
    };
    // Event time 24 has been seen: the windows ending by then fired.
    assert_eq!(count(2).await, [window(0, 10), window(10, 10)]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(finished_json_rows(&output).len(), 2, "[20, 30) waits");
    assert!(running.all_running());
    produce(&input, "b.csv", 40..41);
    assert_eq!(
        count(3).await,
        [window(0, 10), window(10, 10), window(20, 5)]
    );
    running.cancel().await;
}

async fn run_to_failure(json: &str, dir: &Path, job: &str) -> String {
    let spec = validate(&JobSpec::from_json(json).unwrap()).unwrap();
    let worker = worker(dir);
    let env = JobEnv {
        job_id: job.into(),
        shuffle: None,
        max_frame: 1 << 20,
    };
    let workers = [&worker];
    let run = run_job(&spec, &workers, &env);
    match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Err(error)) => error.to_string(),
        Ok(Ok(_)) => panic!("an unbounded job ended"),
        Err(_) => panic!("the job did not fail"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_outside_the_allowed_roots_is_refused() {
    let allowed = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    produce(elsewhere.path(), "a.csv", 0..3);
    let job = follow_job(elsewhere.path(), &allowed.path().join("out"), "{}");
    let error = run_to_failure(&job, allowed.path(), "follow-denied").await;
    let shown = elsewhere.path().display().to_string();
    assert!(
        error.contains(&format!("reading {shown} refused"))
            && error.contains("outside what this worker allows (--allow-read"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_file_fails_the_job_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    produce(&input, "good.csv", 0..3);
    std::fs::write(input.join("bad.csv"), "id,at\n1,1\nseven,7\n").unwrap();
    let job = follow_job(&input, &dir.path().join("out"), "{}");
    let error = run_to_failure(&job, dir.path(), "follow-bad").await;
    let file = input.join("bad.csv").display().to_string();
    assert!(
        error.contains(&format!(
            "{file} line 3: column id: \"seven\" is not an integer"
        )),
        "{error}"
    );
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("id", DataType::Int64),
        Field::new("at", DataType::Timestamp),
    ])
}

fn batch(ids: std::ops::Range<i64>) -> faro_runtime::Batch {
    let mut builder = BatchBuilder::new(schema(), ids.clone().count());
    for id in ids {
        builder
            .push_row(&[Value::Int64(id), Value::Timestamp(id)])
            .unwrap();
    }
    builder.finish().unwrap()
}

fn context(dir: &Path, attempt: u32) -> OperatorContext {
    OperatorContext {
        vertex: "v".into(),
        subtask: 0,
        parallelism: 1,
        attempt,
        spill_dir: dir.join("spill"),
        access: Arc::new(AccessPolicy::new(&[dir.to_path_buf()], &[dir.to_path_buf()]).unwrap()),
    }
}

fn rolling_sink(out: &Path, rolling: RollingParams, mode: WriteMode) -> Files {
    let params = FilesParams {
        path: out.display().to_string(),
        format: FileFormat::Csv,
        mode,
        rolling: Some(rolling),
        changelog: false,
        csv: Default::default(),
    };
    Files::new(params, &schema(), false)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn parts_of(list: &[(&str, std::ops::Range<i64>)]) -> BTreeMap<String, Vec<i64>> {
    list.iter()
        .map(|(name, ids)| (name.to_string(), ids.clone().collect()))
        .collect()
}

#[test]
fn a_rolling_sink_finishes_parts_at_its_limit_on_barriers_and_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let rows = RollingParams {
        max_rows: Some(3),
        ..Default::default()
    };
    let mut sink = rolling_sink(&out, rows, WriteMode::Error);
    let mut emitted = Vec::new();
    sink.open(&context(dir.path(), 0)).unwrap();
    assert!(names(&out).is_empty(), "no part before a row");
    sink.process(0, &Rows::of_batch(&batch(0..8)), &mut emitted)
        .unwrap();
    let first = parts_of(&[
        ("part-00000-00000.csv", 0..3),
        ("part-00000-00001.csv", 3..6),
    ]);
    assert_eq!(finished_parts(&out), first);
    assert!(
        names(&out).contains(&"part-00000-00002.csv.inprogress-0".to_string()),
        "the rest is written under its in-progress name: {:?}",
        names(&out)
    );
    sink.on_barrier(Barrier { checkpoint: 1 }, &mut emitted)
        .unwrap();
    sink.on_barrier(Barrier { checkpoint: 2 }, &mut emitted)
        .unwrap();
    let mut want = first.clone();
    want.extend(parts_of(&[("part-00000-00002.csv", 6..8)]));
    assert_eq!(finished_parts(&out), want, "no empty part for a barrier");
    sink.process(0, &Rows::of_batch(&batch(8..9)), &mut emitted)
        .unwrap();
    sink.end_input(0, &mut emitted).unwrap();
    sink.close().unwrap();
    want.extend(parts_of(&[("part-00000-00003.csv", 8..9)]));
    assert_eq!(finished_parts(&out), want);
    assert_eq!(
        names(&out).len(),
        4,
        "nothing in progress: {:?}",
        names(&out)
    );
    assert!(emitted.is_empty());

    // The output is kept unless the job says overwrite; then the old
    // parts go, however many there were.
    let mut again = rolling_sink(&out, rows, WriteMode::Error);
    let error = again.open(&context(dir.path(), 0)).unwrap_err().to_string();
    let first_part = out.join("part-00000-00000.csv").display().to_string();
    assert!(
        error.contains(&format!("writing {first_part} refused: the file exists")),
        "{error}"
    );
    let mut over = rolling_sink(&out, rows, WriteMode::Overwrite);
    over.open(&context(dir.path(), 0)).unwrap();
    over.process(0, &Rows::of_batch(&batch(100..101)), &mut emitted)
        .unwrap();
    over.end_input(0, &mut emitted).unwrap();
    assert_eq!(
        finished_parts(&out),
        parts_of(&[("part-00000-00000.csv", 100..101)])
    );
}

#[test]
fn a_rolling_sink_finishes_parts_by_size_and_by_interval() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bytes");
    // "id,at\n" is 6 bytes, each row "N,N\n" 4: two rows reach 14.
    let bytes = RollingParams {
        max_bytes: Some(14),
        ..Default::default()
    };
    let mut sink = rolling_sink(&out, bytes, WriteMode::Error);
    let mut emitted = Vec::new();
    sink.open(&context(dir.path(), 0)).unwrap();
    sink.process(0, &Rows::of_batch(&batch(0..5)), &mut emitted)
        .unwrap();
    sink.end_input(0, &mut emitted).unwrap();
    let want = parts_of(&[
        ("part-00000-00000.csv", 0..2),
        ("part-00000-00001.csv", 2..4),
        ("part-00000-00002.csv", 4..5),
    ]);
    assert_eq!(finished_parts(&out), want);

    let out = dir.path().join("interval");
    let interval = RollingParams {
        interval_ms: Some(200),
        ..Default::default()
    };
    let mut sink = rolling_sink(&out, interval, WriteMode::Error);
    sink.open(&context(dir.path(), 0)).unwrap();
    sink.process(0, &Rows::of_batch(&batch(0..2)), &mut emitted)
        .unwrap();
    sink.on_watermark(Watermark(1), &mut emitted).unwrap();
    assert!(finished_parts(&out).is_empty(), "not due yet");
    std::thread::sleep(Duration::from_millis(250));
    let passed = sink.on_watermark(Watermark(2), &mut emitted).unwrap();
    assert_eq!(passed, Some(Watermark(2)), "the watermark goes on");
    assert_eq!(
        finished_parts(&out),
        parts_of(&[("part-00000-00000.csv", 0..2)])
    );
    // An empty batch (a source with nothing new) also sees time pass.
    sink.process(0, &Rows::of_batch(&batch(2..3)), &mut emitted)
        .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    sink.process(0, &Rows::of_batch(&batch(0..0)), &mut emitted)
        .unwrap();
    assert_eq!(finished_parts(&out).len(), 2);
    // Dropped unfinished (a cancelled task): nothing is left behind.
    sink.process(0, &Rows::of_batch(&batch(3..4)), &mut emitted)
        .unwrap();
    drop(sink);
    assert_eq!(names(&out).len(), 2, "{:?}", names(&out));
}

fn follow_source(dir: &Path, event_time: serde_json::Value) -> Follow {
    let params: FollowParams = serde_json::from_value(serde_json::json!({
        "path": dir.display().to_string(),
        "format": "json_lines",
        "poll_ms": 10,
        "schema": serde_json::from_str::<serde_json::Value>(SCHEMA).unwrap(),
        "event_time": event_time,
    }))
    .unwrap();
    Follow::new(params, "in").unwrap()
}

fn ids_of(batch: &faro_runtime::Batch) -> Vec<i64> {
    (0..batch.num_rows())
        .map(|r| match batch.column(0).unwrap().value(r) {
            Value::Int64(id) => id,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn follow_reports_watermarks_from_its_event_time_column_and_none_without() {
    let dir = tempfile::tempdir().unwrap();
    let lines = |times: &[i64]| -> String {
        times
            .iter()
            .map(|t| format!("{{\"id\": {t}, \"at\": {t}}}\n"))
            .collect()
    };
    std::fs::write(dir.path().join("a.jsonl"), lines(&[1000, 5000, 3000])).unwrap();
    let event_time = serde_json::json!({"column": "at", "max_out_of_orderness_ms": 100});
    let mut source = follow_source(dir.path(), event_time);
    source.open(&context(dir.path(), 0)).unwrap();
    assert_eq!(source.ready_at(), None, "the first listing is now");
    let batch = source.next_batch().unwrap().unwrap();
    assert_eq!(ids_of(&batch), [1000, 5000, 3000]);
    assert_eq!(source.watermark(), Some(Watermark(4899)));
    // Nothing new: an empty batch, and a wake-up at the next listing.
    let empty = source.next_batch().unwrap().unwrap();
    assert_eq!(empty.num_rows(), 0);
    assert_eq!(source.watermark(), None, "no new event time");
    let due = source.ready_at().expect("a followed directory waits");
    assert!(due <= Instant::now() + Duration::from_millis(10));
    std::fs::write(dir.path().join("b.jsonl"), lines(&[7000])).unwrap();
    std::thread::sleep(Duration::from_millis(15));
    let batch = source.next_batch().unwrap().unwrap();
    assert_eq!(ids_of(&batch), [7000], "a.jsonl is not read again");
    assert_eq!(source.watermark(), Some(Watermark(6899)));

    let mut plain = follow_source(dir.path(), serde_json::Value::Null);
    plain.open(&context(dir.path(), 0)).unwrap();
    let batch = plain.next_batch().unwrap().unwrap();
    assert_eq!(ids_of(&batch), [1000, 5000, 3000, 7000], "in name order");
    assert_eq!(plain.watermark(), None);
}

#[test]
fn specs_of_follow_and_rolling_are_checked_before_anything_runs() {
    let dir = PathBuf::from("/tmp/faro-never-created");
    let job = |rolling: &str, poll: &str| {
        follow_job(&dir, &dir, rolling).replace("\"poll_ms\": 20", poll)
    };
    let check = |json: String| {
        validate(&JobSpec::from_json(&json).unwrap())
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(check(job("{}", "\"poll_ms\": 20")), None);
    let error = check(job("{}", "\"poll_ms\": 0")).unwrap();
    assert!(error.contains("poll_ms must be between 1 and"), "{error}");
    let error = check(job(r#"{"max_rows": 0}"#, "\"poll_ms\": 20")).unwrap();
    assert!(
        error.contains("\"out\"") && error.contains("rolling.max_rows must be at least 1"),
        "{error}"
    );
    let error = check(job(r#"{"max_row": 5}"#, "\"poll_ms\": 20")).unwrap();
    assert!(error.contains("unknown field `max_row`"), "{error}");
    let error = check(job(
        "{}",
        r#""poll_ms": 20, "event_time": {"column": "id"}"#,
    ))
    .unwrap();
    assert!(
        error.contains("\"id\"") && error.contains("timestamp"),
        "{error}"
    );
    let batch = job("{}", "\"poll_ms\": 20").replacen(
        "{\"vertices\"",
        "{\"mode\": \"batch\", \"vertices\"",
        1,
    );
    let error = check(batch).unwrap();
    assert!(error.contains("source \"in\" is unbounded"), "{error}");
}

/// A window over `follow` with two subtasks, where `a.csv` (ids 0..25,
/// event times 0..24 ms) is all there is to read: its owner's watermark
/// reaches 23, the other subtask's stays unknown.
fn one_busy_subtask_job(input: &Path, output: &Path, idle_timeout: &str) -> String {
    format!(
        r#"{{"vertices": [
          {{"id": "in", "operator": "follow", "parallelism": 2, "params": {{"path": "{}", "format": "csv", "poll_ms": 20, "schema": {SCHEMA}, "event_time": {{"column": "at"{idle_timeout}}}}}}},
          {{"id": "w", "operator": "window", "params": {{"time": "at", "window": {{"tumbling": {{"size_ms": 10}}}}, "aggregates": [{{"name": "n", "function": "count"}}]}}}},
          {{"id": "out", "operator": "files", "params": {{"path": "{}", "format": "json_lines", "rolling": {{"max_rows": 1}}}}}}],
         "edges": [{{"from": "in", "to": "w", "partitioning": "rebalance"}}, {{"from": "w", "to": "out", "partitioning": "forward"}}]}}"#,
        input.display(),
        output.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_subtask_stops_holding_windows_back_after_its_idle_timeout() {
    for (timeout, fires) in [(r#", "idle_timeout_ms": 100"#, true), ("", false)] {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in"), dir.path().join("out"));
        std::fs::create_dir(&input).unwrap();
        produce(&input, "a.csv", 0..25);
        // One subtask owns the one file: the other never has a row.
        let job = one_busy_subtask_job(&input, &output, timeout);
        let running = Streaming::start(&job, worker(dir.path()), "idle");
        let deadline = Instant::now() + Duration::from_secs(if fires { 60 } else { 1 });
        while finished_json_rows(&output).len() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rows = finished_json_rows(&output);
        if fires {
            // Idle, the silent subtask no longer holds the watermark: the
            // windows the busy one's event time completed fire.
            let window = |start: i64| serde_json::json!({"window_start": start, "window_end": start + 10, "n": 10});
            assert_eq!(rows, [window(0), window(10)]);
        } else {
            // Without a timeout the silent subtask holds event time where
            // it is (documented): nothing fires, nothing hangs but that.
            assert!(rows.is_empty(), "{rows:?}");
            assert!(running.all_running());
        }
        running.cancel().await;
    }
}
