//! The streaming half: one spec gives equal results as a streaming job
//! (watermarks fire the windows as event time passes) and as a batch job
//! (the windows fire at end of input); windows over random out-of-order
//! streams equal a naive reference, with late rows counted exactly.

use crate::operator_support;

use faro_runtime::message::Watermark;
use faro_runtime::operator::Operator;
use faro_runtime::operators::aggregate::{AggregateFunction, AggregateSpec};
use faro_runtime::operators::window::{WindowAggregate, WindowKind, WindowParams};
use faro_runtime::runner::{run_job, run_job_with, JobEnv};
use faro_runtime::spec::{validate, JobMode, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::{BatchBuilder, DataType, Field, Schema, Value};
use operator_support::{rows, sorted};
use proptest::prelude::*;

fn example() -> JobSpec {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/streaming_window.yaml"
    );
    JobSpec::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The job's rows, sorted, and the worker's metrics after it.
async fn run(spec: &JobSpec, id: &str) -> (Vec<Vec<Value>>, String) {
    let job = validate(spec).unwrap();
    let worker = Worker::start(4, None).unwrap();
    let env = JobEnv {
        job_id: id.into(),
        shuffle: None,
        max_frame: faro_transport::TransportOptions::default().buffer_size,
    };
    let output = run_job(&job, &[&worker], &env).await.unwrap();
    (sorted(rows(&output.collected)), worker.metrics().render())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_spec_gives_equal_results_as_a_streaming_and_as_a_batch_job() {
    let streaming = example();
    assert!(validate(&streaming).unwrap().streaming);
    let mut batch = streaming.clone();
    batch.mode = Some(JobMode::Batch);
    assert!(!validate(&batch).unwrap().streaming);
    let ((a, streamed), (b, batched)) = (run(&streaming, "s").await, run(&batch, "b").await);
    assert!(a.len() > 100, "{} busy windows", a.len());
    assert_eq!(a, b);
    // Streaming, event time reached the window operator (200,000 events
    // at 10,000/s: 20 s of it); in batch mode there was none.
    let reached = streamed
        .lines()
        .find(|l| l.starts_with("faro_task_watermark_timestamp_seconds") && l.contains("counts"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(reached.is_some_and(|s| s > 15.0), "{reached:?}");
    assert!(!batched.contains("faro_task_watermark_timestamp_seconds"));
}

/// Two workers with QUIC endpoints on loopback, so channels between
/// them cross the transport.
fn two_quic_workers() -> [std::sync::Arc<Worker>; 2] {
    let tls = faro_transport::LocalCa::generate()
        .unwrap()
        .issue(&["localhost"])
        .unwrap()
        .tls_config();
    [(); 2].map(|()| {
        let endpoint = faro_transport::Endpoint::bind(
            "127.0.0.1:0".parse().unwrap(),
            &tls,
            faro_transport::TransportOptions::loopback(),
        )
        .unwrap();
        std::sync::Arc::new(Worker::start(2, Some(endpoint)).unwrap())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermarks_cross_quic_between_two_workers_and_the_windows_agree() {
    let [a, b] = two_quic_workers();
    let streaming = example();
    let job = validate(&streaming).unwrap();
    let env = JobEnv {
        job_id: "two".into(),
        shuffle: None,
        max_frame: faro_transport::TransportOptions::default().buffer_size,
    };
    let output = run_job(&job, &[a.as_ref(), b.as_ref()], &env)
        .await
        .unwrap();
    let mut batch = streaming.clone();
    batch.mode = Some(JobMode::Batch);
    let (expected, _) = run(&batch, "one").await;
    assert_eq!(sorted(rows(&output.collected)), expected);
    // Subtask s of each vertex runs on worker s mod 2, so a hash edge's
    // channels cross between the two: each worker's window subtask got
    // its watermark partly over QUIC.
    for worker in [&a, &b] {
        let text = worker.metrics().render();
        let reached = text
            .lines()
            .find(|l| {
                l.starts_with("faro_task_watermark_timestamp_seconds") && l.contains("counts")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
        assert!(reached.is_some_and(|s| s > 15.0), "{reached:?}\n{text}");
    }
}

#[test]
fn a_streaming_job_refuses_blocking_and_range_edges_and_batch_refuses_unbounded_sources() {
    let mut spec = example();
    spec.edges[0].exchange = faro_runtime::spec::Exchange::Blocking;
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains("\"bids\" -> \"counts\": blocking edges hold data")
            && error.contains("its mode is streaming"),
        "{error}"
    );
    let mut unbounded = example();
    unbounded.mode = None;
    unbounded.vertices[0].params = serde_json::json!({"table": "bid"});
    assert!(
        validate(&unbounded).unwrap().streaming,
        "an unbounded source streams"
    );
    unbounded.mode = Some(JobMode::Batch);
    let error = validate(&unbounded).unwrap_err().to_string();
    assert!(error.contains("source \"bids\" is unbounded"), "{error}");
}

#[test]
fn a_keyed_vertex_needs_a_key_group_per_subtask_in_a_streaming_job() {
    let mut spec = example();
    spec.key_groups = Some(1);
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains("vertex \"counts\": parallelism 2 is more than the job's 1 key groups"),
        "{error}"
    );
    spec.key_groups = Some(0);
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains("key_groups must be 1 to 32768, got 0"),
        "{error}"
    );
    spec.key_groups = Some(2);
    assert_eq!(validate(&spec).unwrap().key_groups, Some(2));
    // A batch job keeps no state between runs: its hash edges route
    // straight by hash, at any parallelism.
    spec.key_groups = Some(1);
    spec.mode = Some(JobMode::Batch);
    assert_eq!(validate(&spec).unwrap().key_groups, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn few_key_groups_over_three_subtasks_give_the_batch_result() {
    // 3 groups over 3 window subtasks: each subtask owns exactly one, and
    // every key's rows still meet in one window subtask.
    let mut streaming = example();
    streaming.key_groups = Some(3);
    for vertex in &mut streaming.vertices[1..3] {
        vertex.parallelism = 3;
    }
    let mut batch = streaming.clone();
    batch.mode = Some(JobMode::Batch);
    let ((a, _), (b, _)) = (run(&streaming, "s3").await, run(&batch, "b3").await);
    assert!(a.len() > 100, "{} busy windows", a.len());
    assert_eq!(a, b);
}

#[test]
fn a_window_on_a_column_that_is_not_a_timestamp_is_refused() {
    let mut spec = example();
    spec.vertices[1].params["time"] = serde_json::json!("price");
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains("time column \"price\" is i64; a window's time must be a timestamp"),
        "{error}"
    );
}

/// One step of an out-of-order stream: a row (time, key) or a watermark.
#[derive(Debug, Clone)]
enum Step {
    Row(i64, i64),
    Watermark(i64),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            6 => (0i64..200, 0i64..3).prop_map(|(t, k)| Step::Row(t, k)),
            1 => (0i64..220).prop_map(Step::Watermark),
        ],
        0..120,
    )
}

fn kinds() -> impl Strategy<Value = WindowKind> {
    prop_oneof![
        (1i64..40).prop_map(|size_ms| WindowKind::Tumbling { size_ms }),
        (1i64..8, 1i64..5).prop_map(|(slide, n)| WindowKind::Hopping {
            size_ms: slide * n,
            slide_ms: slide
        }),
        (1i64..8, 1i64..5).prop_map(|(step, n)| WindowKind::Cumulating {
            max_size_ms: step * n,
            step_ms: step
        }),
    ]
}

fn params(window: WindowKind, lateness: i64) -> WindowParams {
    WindowParams {
        time: Some("t".into()),
        processing_time: false,
        window,
        offset_ms: 0,
        group_by: vec!["k".into()],
        aggregates: vec![AggregateSpec {
            name: "n".into(),
            function: AggregateFunction::Count,
            expr: None,
        }],
        allowed_lateness_ms: lateness,
        memory_bytes: None,
    }
}

/// The naive reference: replays the stream, deciding for each row which
/// of its windows were still open when it came; counts per window and key.
fn reference(steps: &[Step], window: WindowKind, lateness: i64) -> (Vec<Vec<Value>>, u64) {
    let assigner = params(window, lateness);
    let windows_of = |t: i64| -> Vec<(i64, i64)> {
        let (size, slide, cumulate) = match assigner.window {
            WindowKind::Tumbling { size_ms } => (size_ms, size_ms, false),
            WindowKind::Hopping { size_ms, slide_ms } => (size_ms, slide_ms, false),
            WindowKind::Cumulating {
                max_size_ms,
                step_ms,
            } => (max_size_ms, step_ms, true),
            WindowKind::Session { .. } => unreachable!("sessions: tests/window_kinds.rs"),
        };
        let mut all = Vec::new();
        if cumulate {
            let start = t.div_euclid(size) * size;
            let mut end = start + slide;
            while end <= start + size {
                if end > t {
                    all.push((start, end));
                }
                end += slide;
            }
        } else {
            let mut start = t.div_euclid(slide) * slide;
            while start + size > t {
                all.push((start, start + size));
                start -= slide;
            }
        }
        all
    };
    let mut watermark = i64::MIN;
    let mut counts = std::collections::BTreeMap::new();
    let mut late = 0;
    for step in steps {
        match *step {
            Step::Watermark(w) => watermark = watermark.max(w),
            Step::Row(t, k) => {
                let open: Vec<_> = windows_of(t)
                    .into_iter()
                    .filter(|&(_, end)| end - 1 + lateness > watermark)
                    .collect();
                late += u64::from(open.is_empty());
                for (start, end) in open {
                    *counts.entry((start, end, k)).or_insert(0i64) += 1;
                }
            }
        }
    }
    let rows = counts
        .into_iter()
        .map(|((s, e, k), n)| {
            vec![
                Value::Timestamp(s),
                Value::Timestamp(e),
                Value::Int64(k),
                Value::Int64(n),
            ]
        })
        .collect();
    (rows, late)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn windows_over_out_of_order_rows_equal_the_reference_and_count_late_rows(
        steps in steps(), window in kinds(), lateness in 0i64..10,
    ) {
        let schema = Schema::new(vec![
            Field::new("t", DataType::Timestamp),
            Field::new("k", DataType::Int64),
        ]);
        let mut operator = WindowAggregate::new(&params(window, lateness), &schema).unwrap();
        let dir = tempfile::tempdir().unwrap();
        operator.open(&operator_support::context(dir.path())).unwrap();
        let mut out = Vec::new();
        let mut watermark = i64::MIN;
        for step in &steps {
            match *step {
                Step::Row(t, k) => {
                    let mut builder = BatchBuilder::new(schema.clone(), 1);
                    builder.push_row(&[Value::Timestamp(t), Value::Int64(k)]).unwrap();
                    let batch = builder.finish().unwrap();
                    operator
                        .process(0, &faro_runtime::operator::Rows::of_batch(&batch), &mut out)
                        .unwrap();
                }
                Step::Watermark(w) => {
                    let before = out.len();
                    watermark = watermark.max(w);
                    operator.on_watermark(Watermark(w), &mut out).unwrap();
                    // What fired is complete: every window ended at or
                    // before the watermark (less the allowed lateness).
                    for row in rows(&out[before..]) {
                        let Value::Timestamp(end) = row[1] else { panic!() };
                        prop_assert!(end - 1 + lateness <= watermark);
                    }
                }
            }
        }
        operator.end_input(0, &mut out).unwrap();
        let (expected, late) = reference(&steps, window, lateness);
        prop_assert_eq!(sorted(rows(&out)), sorted(expected));
        prop_assert_eq!(operator.late_rows(), late);
    }
}

/// `generate` with an event-time column, counted in 1-second windows.
fn generated_windows(rows: &str, event_time: &str) -> JobSpec {
    generated_windows_in(rows, event_time, 1000)
}

/// [`generated_windows`] in blocks of `batch_rows`: a watermark follows
/// each block.
fn generated_windows_in(rows: &str, event_time: &str, batch_rows: usize) -> JobSpec {
    JobSpec::parse(&format!(
        r#"{{"name": "gen-windows", "mode": "streaming", "vertices": [
          {{"id": "gen", "operator": "generate", "parallelism": 2, "params": {{
             "rows": {rows}, "batch_rows": {batch_rows}, "event_time": {event_time},
             "columns": [{{"name": "k", "expr": "i % 7"}},
                         {{"name": "t", "expr": "CAST(i * 3 + (i % 5) * 40 AS TIMESTAMP)"}}]}}}},
          {{"id": "w", "operator": "window", "parallelism": 2, "params": {{
             "time": "t", "window": {{"tumbling": {{"size_ms": 1000}}}}, "group_by": ["k"],
             "aggregates": [{{"name": "n", "function": "count"}}]}}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "gen", "to": "w", "partitioning": {{"hash": ["k"]}}}},
                   {{"from": "w", "to": "out", "partitioning": "rebalance"}}]}}"#
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_stream_with_event_time_fires_windows_and_loses_no_row() {
    // Rows come up to 160 ms out of order; the watermark allows 200.
    let streaming = generated_windows(
        "60000",
        r#"{"column": "t", "max_out_of_orderness_ms": 200}"#,
    );
    let mut batch = streaming.clone();
    batch.mode = Some(JobMode::Batch);
    let ((a, streamed), (b, _)) = (run(&streaming, "g-s").await, run(&batch, "g-b").await);
    assert_eq!(a, b);
    let total: i64 = a
        .iter()
        .map(|row| match row[3] {
            Value::Int64(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 60_000, "no row was late");
    assert!(streamed.contains("faro_task_watermark_timestamp_seconds"));
}

/// The sum of metric `name` over the subtasks of `vertex` in job `job`.
fn metric_sum(text: &str, name: &str, job: &str, vertex: &str) -> Option<f64> {
    let labels = [format!("job=\"{job}\""), format!("vertex=\"{vertex}\"")];
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_rows_are_dropped_and_counted_in_the_metrics_exactly() {
    // Rows come up to 160 ms out of order and the watermark, following
    // every block of 10 rows, allows none: every row behind a fired
    // window is dropped, and counted.
    let spec = generated_windows_in("60000", r#"{"column": "t"}"#, 10);
    let (rows, metrics) = run(&spec, "g-late").await;
    let windowed: i64 = rows
        .iter()
        .map(|row| match row[3] {
            Value::Int64(n) => n,
            _ => 0,
        })
        .sum();
    let late = metric_sum(&metrics, "faro_task_late_records_total", "g-late", "w")
        .expect("the window task reports late rows");
    assert!(late > 0.0, "some rows are late");
    assert_eq!(windowed + late as i64, 60_000, "each row windowed or late");
    // Open windows were held as state while the job ran; none are left.
    let state = metric_sum(&metrics, "faro_task_state_bytes", "g-late", "w");
    assert_eq!(state, Some(0.0), "{metrics}");
}

#[test]
fn event_time_on_a_column_that_is_not_a_timestamp_is_refused_and_null_rows_stream() {
    let bad = generated_windows("100", r#"{"column": "k"}"#);
    let error = validate(&bad).unwrap_err().to_string();
    assert!(
        error.contains("event_time column \"k\" is i64; a watermark needs a timestamp column"),
        "{error}"
    );
    let unbounded = generated_windows("null", r#"{"column": "t"}"#);
    assert!(validate(&unbounded).unwrap().streaming);
    let missing =
        r#"{"vertices": [{"id": "g", "operator": "generate", "params": {"columns": []}}]}"#;
    let error = validate(&JobSpec::parse(missing).unwrap())
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing field `rows`"), "{error}");
}

#[test]
fn open_windows_that_spill_keep_their_own_files() {
    let schema = Schema::new(vec![
        Field::new("t", DataType::Timestamp),
        Field::new("k", DataType::Int64),
    ]);
    let mut builder = BatchBuilder::new(schema.clone(), 6000);
    for i in 0..6000i64 {
        // Three windows open at once, 2,000 keys in each.
        builder
            .push_row(&[Value::Timestamp(i % 3 * 10), Value::Int64(i / 3)])
            .unwrap();
    }
    let batch = builder.finish().unwrap();
    let run = |memory_bytes| {
        let mut params = params(WindowKind::Tumbling { size_ms: 10 }, 0);
        params.memory_bytes = memory_bytes;
        let mut operator = WindowAggregate::new(&params, &schema).unwrap();
        let dir = tempfile::tempdir().unwrap();
        operator
            .open(&operator_support::context(dir.path()))
            .unwrap();
        let mut out = Vec::new();
        for part in 0..6 {
            let picks: Vec<u32> = (part * 1000..(part + 1) * 1000).collect();
            let columns = faro_runtime::kernels::views(&batch);
            let slice = faro_runtime::kernels::take::take_batch(&schema, &columns, &picks).unwrap();
            operator
                .process(0, &faro_runtime::operator::Rows::of_batch(&slice), &mut out)
                .unwrap();
        }
        operator.end_input(0, &mut out).unwrap();
        operator.close().unwrap();
        sorted(rows(&out))
    };
    let spilled = run(Some(4096));
    assert_eq!(spilled.len(), 6000);
    assert_eq!(spilled, run(None));
}

/// Rows `gen[subtask]` has shipped, as worker `text`'s metrics say.
fn shipped(text: &str, job: &str, subtask: u32) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with("faro_task_records_out_total{")
                && l.contains(&format!("job=\"{job}\""))
                && l.contains("vertex=\"gen\"")
                && l.contains(&format!("subtask=\"{subtask}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_holds_a_producer_across_quic_to_its_credits() {
    let [a, b] = two_quic_workers();
    // gen[1] runs on worker b and sends every row over QUIC to the one
    // `collect` on worker a, whose reader (this test) stops reading.
    const ROWS: i64 = 400_000;
    let spec = JobSpec::parse(&format!(
        r#"{{"name": "stall", "mode": "streaming", "vertices": [
          {{"id": "gen", "operator": "generate", "parallelism": 2,
            "params": {{"rows": {ROWS}, "batch_rows": 1000,
                        "columns": [{{"name": "n", "expr": "i"}}]}}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "gen", "to": "out", "partitioning": "rebalance"}}]}}"#
    ))
    .unwrap();
    let job = validate(&spec).unwrap();
    let env = JobEnv {
        job_id: "stall".into(),
        shuffle: None,
        max_frame: faro_transport::TransportOptions::default().buffer_size,
    };
    let (live, mut rows) = tokio::sync::mpsc::channel::<faro_runtime::Batch>(1);
    let producer = b.clone();
    let running = tokio::spawn(async move {
        let workers = [a.as_ref(), b.as_ref()];
        let output = run_job_with(&job, &workers, &env, Some(live)).await;
        (output.map(|o| o.collected.len()), b.metrics().render())
    });
    // Nobody reads: the sink blocks, its credits stop coming back, and the
    // producer on the other worker stops at what they allow.
    let sleep = |ms| tokio::time::sleep(std::time::Duration::from_millis(ms));
    // On a loaded machine the job may take a while to deploy: the stall
    // is measured from gen[1]'s first shipped rows, not from the submit.
    let started = std::time::Instant::now();
    while shipped(&producer.metrics().render(), "stall", 1) == 0.0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "gen[1] shipped nothing in a minute"
        );
        sleep(50).await;
    }
    sleep(1000).await;
    let stalled = shipped(&producer.metrics().render(), "stall", 1);
    sleep(1000).await;
    let still = shipped(&producer.metrics().render(), "stall", 1);
    assert!(!running.is_finished(), "the job ran on without a reader");
    assert_eq!(stalled, still, "gen[1] kept shipping without credit");
    assert!(
        still < (ROWS / 4) as f64,
        "gen[1] shipped {still} of its {} rows into a stalled consumer",
        ROWS / 2
    );
    // Then read everything: every row arrives, once.
    let mut seen = std::collections::HashSet::new();
    while let Some(batch) = rows.recv().await {
        for row in 0..batch.num_rows() {
            let value = faro_runtime::kernels::views(&batch)[0].value(row);
            assert!(seen.insert(format!("{value:?}")), "{value:?} twice");
        }
    }
    let (collected, metrics) = running.await.unwrap();
    assert_eq!(collected.unwrap(), 0, "live rows are not kept as well");
    assert_eq!(seen.len() as i64, ROWS);
    let backpressure = metrics
        .lines()
        .filter(|l| l.starts_with("faro_task_backpressure_seconds_total{") && l.contains("stall"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert!(
        backpressure > 1.0,
        "gen[1] waited for credit: {backpressure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processing_time_window_fires_on_its_timer_with_no_input_coming() {
    // Chained to its source (the source's loop waits for the timer) and
    // behind an exchange (the input loop does).
    for edge in ["forward", "rebalance"] {
        processing_time_window_fires_on_time(edge).await;
    }
}

async fn processing_time_window_fires_on_time(edge: &str) {
    // One row a second into 100 ms wall-clock windows: each window is
    // complete long before the next row could tell the operator so.
    let spec = JobSpec::parse(&format!(
        r#"{{"name": "clock", "mode": "streaming", "vertices": [
          {{"id": "gen", "operator": "generate", "params": {{"rows": null,
             "rows_per_second": 1, "batch_rows": 1,
             "columns": [{{"name": "n", "expr": "i"}}]}}}},
          {{"id": "w", "operator": "window", "params": {{"processing_time": true,
             "window": {{"tumbling": {{"size_ms": 100}}}},
             "aggregates": [{{"name": "rows", "function": "count"}}]}}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "gen", "to": "w", "partitioning": "{edge}"}},
                   {{"from": "w", "to": "out", "partitioning": "forward"}}]}}"#
    ))
    .unwrap();
    let job = validate(&spec).unwrap();
    let env = JobEnv {
        job_id: format!("clock-{edge}"),
        shuffle: None,
        max_frame: faro_transport::TransportOptions::default().buffer_size,
    };
    let (live, mut rows) = tokio::sync::mpsc::channel::<faro_runtime::Batch>(4);
    let running = tokio::spawn(async move {
        let worker = Worker::start(2, None).unwrap();
        let _ = run_job_with(&job, &[&worker], &env, Some(live)).await;
    });
    for _ in 0..2 {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(30), rows.recv())
            .await
            .expect("a window fires")
            .expect("the job runs");
        let arrived = faro_runtime::operators::window::wall_clock_ms();
        let columns = faro_runtime::kernels::views(&batch);
        let Value::Timestamp(end) = columns[1].value(0) else {
            panic!("window_end is a timestamp")
        };
        assert_eq!(columns[2].value(0), Value::Int64(1));
        // Fired by the clock, not by the next row a second later.
        assert!(
            arrived - end < 700,
            "{edge}: window ending {end} arrived at {arrived}"
        );
    }
    running.abort();
}
