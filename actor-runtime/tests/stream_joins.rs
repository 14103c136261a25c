//! The streaming joins: `window_join` and `interval_join` over random
//! out-of-order streams on both inputs equal a naive reference that joins
//! the rows that were not late, with late rows counted exactly; what they
//! emit on a watermark is complete, nothing they emit later is behind the
//! watermark they passed on, an interval join emits a pair as soon as its
//! second row arrives, and state is bounded (freed by the watermark, over
//! budget a clear error). Through real jobs, one spec gives the same rows
//! in streaming and in batch mode, and bad specs are refused clearly.

use crate::operator_support;

use faro_runtime::message::Watermark;
use faro_runtime::operator::{Operator, OperatorError, Rows};
use faro_runtime::operators::stream_join::{
    IntervalJoin, IntervalJoinParams, WindowJoin, WindowJoinKind, WindowJoinParams,
};
use faro_runtime::operators::window::WindowKind;
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobMode, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value};
use operator_support::{rows, sorted};
use proptest::prelude::*;

const BUDGET: u64 = 1 << 30;

fn schema(side: usize) -> Schema {
    let [k, t, v] = [["lk", "lt", "lv"], ["rk", "rt", "rv"]][side];
    Schema::new(vec![
        Field::nullable(k, DataType::Int64),
        Field::new(t, DataType::Timestamp),
        Field::new(v, DataType::Int64),
    ])
}

/// One input row: its side, key (maybe null), time and a unique id.
#[derive(Debug, Clone, Copy)]
struct Row {
    side: usize,
    key: Option<i64>,
    t: i64,
    id: i64,
}

impl Row {
    fn values(&self) -> [Value; 3] {
        [
            self.key.map_or(Value::Null, Value::Int64),
            Value::Timestamp(self.t),
            Value::Int64(self.id),
        ]
    }
}

#[derive(Debug, Clone)]
enum Event {
    Rows(Vec<Row>),
    Watermark(i64),
    End(usize),
}

#[derive(Debug, Clone)]
enum Raw {
    Row {
        side: usize,
        advance: i64,
        jitter: i64,
        key: Option<i64>,
        place: u8,
        batch: bool,
    },
    Watermark,
}

/// A stream: rows a bounded `delay` out of order, a watermark of the
/// largest time less the delay less one now and then, some rows put at or
/// behind the watermark on purpose (and some just after it), rows of a side grouped into small
/// batches, and maybe one input ending early.
fn stream() -> impl Strategy<Value = Vec<Event>> {
    let raw = prop_oneof![
        8 => (0usize..2, 0i64..5, 0i64..40, proptest::option::weighted(0.9, 0i64..3), 0u8..10, any::<bool>())
            .prop_map(|(side, advance, jitter, key, place, batch)| Raw::Row { side, advance, jitter, key, place, batch }),
        2 => Just(Raw::Watermark),
    ];
    (
        proptest::collection::vec(raw, 0..150),
        0i64..30,
        proptest::option::of((0usize..2, 0usize..150)),
    )
        .prop_map(|(raws, delay, end)| {
            let (mut clock, mut max_seen, mut watermark) = (0i64, i64::MIN, i64::MIN);
            let mut events = Vec::new();
            let mut ended: Option<usize> = None;
            for (i, raw) in raws.into_iter().enumerate() {
                if let Some((side, _)) = end.filter(|&(_, at)| at == i) {
                    events.push(Event::End(side));
                    ended = Some(side);
                }
                match raw {
                    Raw::Row {
                        side,
                        advance,
                        jitter,
                        key,
                        place,
                        batch,
                    } => {
                        if ended == Some(side) {
                            continue;
                        }
                        clock += advance;
                        let t = match place {
                            // Late: at or just behind the watermark.
                            0 if watermark > i64::MIN => watermark - jitter % 5,
                            // Just in time, where off-by-one errors show.
                            1 if watermark > i64::MIN => watermark + 1,
                            _ => clock - jitter % (delay + 1),
                        };
                        max_seen = max_seen.max(t);
                        let row = Row {
                            side,
                            key,
                            t,
                            id: i as i64,
                        };
                        match events.last_mut() {
                            Some(Event::Rows(rows))
                                if !batch && rows.len() < 4 && rows[0].side == side =>
                            {
                                rows.push(row)
                            }
                            _ => events.push(Event::Rows(vec![row])),
                        }
                    }
                    Raw::Watermark if max_seen > i64::MIN => {
                        watermark = watermark.max(max_seen - delay - 1);
                        events.push(Event::Watermark(watermark));
                    }
                    Raw::Watermark => {}
                }
            }
            events
        })
}

fn batch_of(rows: &[Row]) -> Batch {
    let mut builder = BatchBuilder::new(schema(rows[0].side), rows.len());
    for row in rows {
        builder.push_row(&row.values()).unwrap();
    }
    builder.finish().unwrap()
}

/// What the test sees while driving an operator through a stream.
struct Drive {
    out: Vec<Batch>,
    /// Rows emitted after each event.
    emitted: Vec<usize>,
}

/// Sees, after each event, the watermark given (if it was one), the one
/// passed on, and the rows emitted.
type Check<'a> = dyn FnMut(Option<i64>, Option<i64>, &[Vec<Value>]) + 'a;

/// Drives `operator` through `events` (without watermarks if `batch`),
/// ending both inputs; `check` sees each watermark, the watermark passed
/// on and the rows it emitted, and each later event's rows.
fn drive(
    operator: &mut dyn Operator,
    events: &[Event],
    batch: bool,
    check: &mut Check<'_>,
) -> Drive {
    let mut out: Vec<Batch> = Vec::new();
    let mut emitted = Vec::new();
    let mut ended = [false; 2];
    for event in events {
        let before = out.len();
        let mut seen = None;
        let mut passed = None;
        match event {
            Event::Rows(rows) => {
                let batch = batch_of(rows);
                operator
                    .process(rows[0].side, &Rows::of_batch(&batch), &mut out)
                    .unwrap();
            }
            Event::Watermark(_) if batch => {}
            Event::Watermark(w) => {
                seen = Some(*w);
                passed = operator
                    .on_watermark(Watermark(*w), &mut out)
                    .unwrap()
                    .map(|w| w.0);
            }
            Event::End(side) => {
                operator.end_input(*side, &mut out).unwrap();
                ended[*side] = true;
            }
        }
        check(seen, passed, &rows(&out[before..]));
        emitted.push(rows(&out).len());
    }
    for side in [0, 1].into_iter().filter(|&s| !ended[s]) {
        operator.end_input(side, &mut out).unwrap();
    }
    operator.close().unwrap();
    Drive { out, emitted }
}

fn all_rows(events: &[Event]) -> impl Iterator<Item = (usize, &Row)> {
    events.iter().enumerate().flat_map(|(i, e)| match e {
        Event::Rows(rows) => rows.iter().map(|r| (i, r)).collect::<Vec<_>>(),
        _ => Vec::new(),
    })
}

/// The watermark in force at each event (`i64::MIN` before any, or
/// throughout in batch mode).
fn watermarks(events: &[Event], batch: bool) -> Vec<i64> {
    let mut w = i64::MIN;
    events
        .iter()
        .map(|e| {
            if let (Event::Watermark(x), false) = (e, batch) {
                w = w.max(*x);
            }
            w
        })
        .collect()
}

fn joined(left: Option<&Row>, right: Option<&Row>) -> Vec<Value> {
    let side = |row: Option<&Row>| row.map_or([Value::Null, Value::Null, Value::Null], Row::values);
    side(left).into_iter().chain(side(right)).collect()
}

fn windows_of(window: WindowKind, t: i64) -> Vec<(i64, i64)> {
    let (size, slide, cumulate) = match window {
        WindowKind::Tumbling { size_ms } => (size_ms, size_ms, false),
        WindowKind::Hopping { size_ms, slide_ms } => (size_ms, slide_ms, false),
        WindowKind::Cumulating {
            max_size_ms,
            step_ms,
        } => (max_size_ms, step_ms, true),
        WindowKind::Session { .. } => unreachable!("window joins refuse sessions"),
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
}

/// The naive window join: each row goes to those of its windows that had
/// not ended at or before the watermark when it came (none: late); then
/// each window joins its rows pair by pair.
fn window_reference(
    events: &[Event],
    window: WindowKind,
    kind: WindowJoinKind,
    batch: bool,
) -> (Vec<Vec<Value>>, u64) {
    let marks = watermarks(events, batch);
    let mut placed: std::collections::BTreeMap<(i64, i64), [Vec<Row>; 2]> = Default::default();
    let mut late = 0;
    for (i, row) in all_rows(events) {
        let open: Vec<_> = windows_of(window, row.t)
            .into_iter()
            .filter(|&(_, end)| end - 1 > marks[i])
            .collect();
        late += u64::from(open.is_empty());
        for w in open {
            placed.entry(w).or_default()[row.side].push(*row);
        }
    }
    let keeps = |side| match kind {
        WindowJoinKind::Inner => false,
        WindowJoinKind::Left => side == 0,
        WindowJoinKind::Right => side == 1,
        WindowJoinKind::Full => true,
    };
    let mut out = Vec::new();
    for ((start, end), [left, right]) in placed {
        let bounds = [Value::Timestamp(start), Value::Timestamp(end)];
        let matches = |l: &Row, r: &Row| l.key.is_some() && l.key == r.key;
        for l in &left {
            for r in right.iter().filter(|r| matches(l, r)) {
                out.push(
                    bounds
                        .iter()
                        .cloned()
                        .chain(joined(Some(l), Some(r)))
                        .collect(),
                );
            }
            if keeps(0) && !right.iter().any(|r| matches(l, r)) {
                out.push(
                    bounds
                        .iter()
                        .cloned()
                        .chain(joined(Some(l), None))
                        .collect(),
                );
            }
        }
        for r in right
            .iter()
            .filter(|r| keeps(1) && !left.iter().any(|l| matches(l, r)))
        {
            out.push(
                bounds
                    .iter()
                    .cloned()
                    .chain(joined(None, Some(r)))
                    .collect(),
            );
        }
    }
    (out, late)
}

/// The naive interval join over the rows that were not late (at or
/// behind the watermark when they came): every pair, and how many pairs
/// were complete after each event.
fn interval_reference(
    events: &[Event],
    lower: i64,
    upper: i64,
    batch: bool,
) -> (Vec<Vec<Value>>, u64, Vec<usize>) {
    let marks = watermarks(events, batch);
    let mut kept: [Vec<(usize, Row)>; 2] = Default::default();
    let mut late = 0;
    for (i, row) in all_rows(events) {
        if marks[i] > i64::MIN && row.t <= marks[i] {
            late += 1;
        } else {
            kept[row.side].push((i, *row));
        }
    }
    let mut out = Vec::new();
    let mut complete_at = vec![0usize; events.len()];
    for (i, l) in &kept[0] {
        for (j, r) in &kept[1] {
            if l.key.is_some() && l.key == r.key && l.t + lower <= r.t && r.t <= l.t + upper {
                out.push(joined(Some(l), Some(r)));
                complete_at[*i.max(j)] += 1;
            }
        }
    }
    let so_far = complete_at
        .iter()
        .scan(0, |n, c| {
            *n += c;
            Some(*n)
        })
        .collect();
    (out, late, so_far)
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

fn join_kinds() -> impl Strategy<Value = WindowJoinKind> {
    prop_oneof![
        Just(WindowJoinKind::Inner),
        Just(WindowJoinKind::Left),
        Just(WindowJoinKind::Right),
        Just(WindowJoinKind::Full),
    ]
}

fn window_params(window: WindowKind, kind: WindowJoinKind) -> WindowJoinParams {
    WindowJoinParams {
        left: "l".into(),
        right: "r".into(),
        left_keys: vec!["lk".into()],
        right_keys: vec!["rk".into()],
        left_time: "lt".into(),
        right_time: "rt".into(),
        window,
        offset_ms: 0,
        kind,
        memory_bytes: None,
    }
}

fn interval_params(lower_ms: i64, upper_ms: i64) -> IntervalJoinParams {
    IntervalJoinParams {
        left: "l".into(),
        right: "r".into(),
        left_keys: vec!["lk".into()],
        right_keys: vec!["rk".into()],
        left_time: "lt".into(),
        right_time: "rt".into(),
        lower_ms,
        upper_ms,
        memory_bytes: None,
    }
}

fn timestamps(row: &[Value], columns: &[usize]) -> Vec<i64> {
    columns
        .iter()
        .filter_map(|&c| match row[c] {
            Value::Timestamp(t) => Some(t),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn window_joins_of_out_of_order_streams_equal_the_reference(
        events in stream(), window in kinds(), kind in join_kinds(), batch in any::<bool>(),
    ) {
        let params = window_params(window, kind);
        let mut join = WindowJoin::new(&params, &schema(0), &schema(1), BUDGET).unwrap();
        let mut passed_on = i64::MIN;
        let mut problems = Vec::new();
        let drive = drive(&mut join, &events, batch, &mut |seen, passed, emitted| {
            for row in emitted {
                // window_start, window_end, lt, rt.
                let times = timestamps(row, &[0, 1, 3, 6]);
                if let (Some(w), Value::Timestamp(end)) = (seen, &row[1]) {
                    if end - 1 > w {
                        problems.push(format!("window ending {end} fired at watermark {w}"));
                    }
                }
                if times.iter().any(|&t| t <= passed_on) {
                    problems.push(format!("{row:?} behind watermark {passed_on} passed on"));
                }
            }
            if let Some(p) = passed {
                passed_on = passed_on.max(p);
            }
        });
        prop_assert!(problems.is_empty(), "{problems:?}");
        let (expected, late) = window_reference(&events, window, kind, batch);
        prop_assert_eq!(sorted(rows(&drive.out)), sorted(expected));
        prop_assert_eq!(join.late_rows(), late);
        prop_assert_eq!(join.buffered_rows(), 0);
    }

    #[test]
    fn interval_joins_of_out_of_order_streams_equal_the_reference(
        events in stream(), lower in -20i64..10, width in 0i64..25, batch in any::<bool>(),
    ) {
        let upper = lower + width;
        let mut join = IntervalJoin::new(&interval_params(lower, upper), &schema(0), &schema(1), BUDGET).unwrap();
        let mut passed_on = i64::MIN;
        let mut problems = Vec::new();
        let drive = drive(&mut join, &events, batch, &mut |_, passed, emitted| {
            for row in emitted {
                if timestamps(row, &[1, 4]).iter().any(|&t| t <= passed_on) {
                    problems.push(format!("{row:?} behind watermark {passed_on} passed on"));
                }
            }
            if let Some(p) = passed {
                passed_on = passed_on.max(p);
            }
        });
        prop_assert!(problems.is_empty(), "{problems:?}");
        let (expected, late, so_far) = interval_reference(&events, lower, upper, batch);
        // Each pair came out with the event that brought its second row.
        prop_assert_eq!(&drive.emitted, &so_far);
        prop_assert_eq!(sorted(rows(&drive.out)), sorted(expected));
        prop_assert_eq!(join.late_rows(), late);
        prop_assert_eq!(join.buffered_rows(), 0);
    }
}

/// `rows` rows per side, in order, a key per row from 8, with a watermark
/// after each batch if `watermarks`.
fn feed(operator: &mut dyn Operator, count: i64, watermarks: bool) -> Result<usize, OperatorError> {
    let mut out = Vec::new();
    for chunk in 0..count / 100 {
        for side in [0, 1] {
            let rows: Vec<Row> = (chunk * 100..(chunk + 1) * 100)
                .map(|i| Row {
                    side,
                    key: Some(i % 8),
                    t: i,
                    id: i,
                })
                .collect();
            operator.process(side, &Rows::of_batch(&batch_of(&rows)), &mut out)?;
        }
        if watermarks {
            operator.on_watermark(Watermark(chunk * 100 + 99), &mut out)?;
        }
    }
    operator.end_input(0, &mut out)?;
    operator.end_input(1, &mut out)?;
    Ok(rows(&out).len())
}

#[test]
fn the_watermark_frees_state_and_without_it_the_budget_fails_clearly() {
    let budget = 256 * 1024;
    let window = || {
        let params = window_params(WindowKind::Tumbling { size_ms: 50 }, WindowJoinKind::Inner);
        WindowJoin::new(&params, &schema(0), &schema(1), budget).unwrap()
    };
    // 20,000 rows a side; each 50 ms window pairs 50 x 50 rows over 8 keys.
    let pairs = 400 * (2 * 7 * 7 + 6 * 6 * 6);
    assert_eq!(feed(&mut window(), 20_000, true).unwrap(), pairs);
    let error = feed(&mut window(), 20_000, false).unwrap_err().to_string();
    assert!(
        error.starts_with("window_join: needs more than its memory budget of 262144 bytes (")
            && error.contains("open windows hold"),
        "{error}"
    );
    let interval =
        || IntervalJoin::new(&interval_params(-3, 3), &schema(0), &schema(1), budget).unwrap();
    // Rows of a key are 8 ms apart: each left row meets one right row.
    assert_eq!(feed(&mut interval(), 20_000, true).unwrap(), 20_000);
    let error = feed(&mut interval(), 20_000, false)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("interval_join: needs more than its memory budget of 262144 bytes (")
            && error.contains("wait for a match"),
        "{error}"
    );
}

#[test]
fn an_ended_input_frees_the_rows_that_waited_for_it() {
    let mut join =
        IntervalJoin::new(&interval_params(0, 1000), &schema(0), &schema(1), BUDGET).unwrap();
    let mut out = Vec::new();
    let left: Vec<Row> = (0..50)
        .map(|i| Row {
            side: 0,
            key: Some(1),
            t: i,
            id: i,
        })
        .collect();
    join.process(0, &Rows::of_batch(&batch_of(&left)), &mut out)
        .unwrap();
    assert_eq!(join.buffered_rows(), 50);
    join.end_input(1, &mut out).unwrap();
    assert_eq!(join.buffered_rows(), 0, "no right row can come for them");
    join.process(0, &Rows::of_batch(&batch_of(&left)), &mut out)
        .unwrap();
    assert_eq!(join.buffered_rows(), 0);
    assert!(out.is_empty());
}

/// Two generated streams joined by `join` (its params), into `collect`.
fn job(operator: &str, params: &str) -> JobSpec {
    let source = |id: &str, p: &str, step: i64, keys: i64| {
        format!(
            r#"{{"id": "{id}", "operator": "generate", "parallelism": 2, "params": {{
               "rows": 5000, "batch_rows": 200,
               "event_time": {{"column": "{p}t", "max_out_of_orderness_ms": 100}},
               "columns": [{{"name": "{p}k", "expr": "i % {keys}"}},
                           {{"name": "{p}t", "expr": "CAST(i * {step} + (i % 4) * 10 AS TIMESTAMP)"}},
                           {{"name": "{p}v", "expr": "i"}}]}}}}"#
        )
    };
    JobSpec::parse(&format!(
        r#"{{"name": "joins", "mode": "streaming", "vertices": [{}, {},
          {{"id": "j", "operator": "{operator}", "parallelism": 2, "params": {{
             "left": "l", "right": "r", "left_keys": ["lk"], "right_keys": ["rk"],
             "left_time": "lt", "right_time": "rt", {params}}}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "l", "to": "j", "partitioning": {{"hash": ["lk"]}}}},
                   {{"from": "r", "to": "j", "partitioning": {{"hash": ["rk"]}}}},
                   {{"from": "j", "to": "out", "partitioning": "rebalance"}}]}}"#,
        source("l", "l", 7, 50),
        source("r", "r", 5, 40),
    ))
    .unwrap()
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

fn timestamp(i: i64, step: i64) -> i64 {
    i * step + (i % 4) * 10
}

/// The last watermark each of a generated source's two subtasks reports:
/// the largest time of its half of the rows, less the 100 ms allowed out of
/// order and one.
fn last_watermarks(step: i64) -> Vec<i64> {
    let last = |s: i64| (2500 * s..2500 * (s + 1)).map(|i| timestamp(i, step)).max();
    (0..2).map(|s| last(s).unwrap() - 101).collect()
}

/// Each subtask's `faro_task_watermark_timestamp_seconds` of `vertex`, in
/// milliseconds, by subtask.
fn watermark_gauges(metrics: &str, vertex: &str) -> Vec<i64> {
    let mut gauges: Vec<(u32, i64)> = metrics
        .lines()
        .filter(|l| l.starts_with("faro_task_watermark_timestamp_seconds{"))
        .filter(|l| l.contains(&format!("vertex=\"{vertex}\"")))
        .map(|l| {
            let subtask = l
                .split("subtask=\"")
                .nth(1)
                .and_then(|s| s.split('"').next());
            let seconds: f64 = l.rsplit(' ').next().unwrap().parse().unwrap();
            (
                subtask.unwrap().parse().unwrap(),
                (seconds * 1000.0).round() as i64,
            )
        })
        .collect();
    gauges.sort_unstable();
    gauges.into_iter().map(|(_, ms)| ms).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_spec_gives_equal_joins_as_a_streaming_and_as_a_batch_job() {
    // Each with how far the join holds the watermark it passes back.
    let specs = [
        job(
            "window_join",
            r#""window": {"tumbling": {"size_ms": 1000}}"#,
        ),
        job("interval_join", r#""lower_ms": -50, "upper_ms": 100"#),
    ];
    let hold_backs = [999, 100];
    // Naive counts over the generated rows: no row is late, since each
    // source's rows come at most 30 ms out of order and it allows 100.
    let (mut windowed, mut interval) = (0usize, 0usize);
    for l in 0..5000i64 {
        for r in (0..5000i64).filter(|r| r % 40 == l % 50) {
            let (lt, rt) = (timestamp(l, 7), timestamp(r, 5));
            windowed += usize::from(lt.div_euclid(1000) == rt.div_euclid(1000));
            interval += usize::from(lt - 50 <= rt && rt <= lt + 100);
        }
    }
    let (left, right) = (last_watermarks(7), last_watermarks(5));
    for ((spec, expected), hold_back) in specs.iter().zip([windowed, interval]).zip(hold_backs) {
        assert!(validate(spec).unwrap().streaming);
        let mut batch = spec.clone();
        batch.mode = Some(JobMode::Batch);
        let ((a, streamed), (b, batched)) = (run(spec, "s").await, run(&batch, "b").await);
        assert_eq!(a.len(), expected);
        assert_eq!(a, b);
        // Streaming, each source subtask's event time reached the join;
        // in batch there was none.
        assert_eq!(watermark_gauges(&streamed, "l"), left, "{streamed}");
        assert_eq!(watermark_gauges(&streamed, "r"), right, "{streamed}");
        // A join subtask's watermark is the smallest over its open input
        // channels, and an ended one stops holding it back: at the end it
        // is where the channel that ended last left it (which one depends
        // on timing), less the join's hold-back.
        let last: Vec<i64> = left.iter().chain(&right).map(|w| w - hold_back).collect();
        let joined = watermark_gauges(&streamed, "j");
        assert_eq!(joined.len(), 2, "{streamed}");
        for reached in joined {
            assert!(
                last.contains(&reached),
                "{reached} not in {last:?}\n{streamed}"
            );
        }
        assert!(!batched.contains("faro_task_watermark_timestamp_seconds"));
    }
}

#[test]
fn bad_stream_join_specs_are_refused_clearly() {
    let refused = |spec: JobSpec| validate(&spec).unwrap_err().to_string();
    let window = r#""window": {"tumbling": {"size_ms": 1000}}"#;
    let mut not_time = job("window_join", window);
    not_time.vertices[2].params["left_time"] = serde_json::json!("lv");
    let error = refused(not_time);
    assert!(
        error.contains(
            "left_time column \"lv\" is i64; a stream join's event time must be a timestamp"
        ),
        "{error}"
    );
    let mut keys = job("interval_join", r#""lower_ms": 0, "upper_ms": 5"#);
    keys.vertices[2].params["right_keys"] = serde_json::json!(["rt"]);
    let error = refused(keys);
    assert!(
        error.contains("join key lk is i64 but rt is timestamp"),
        "{error}"
    );
    let error = refused(job("interval_join", r#""lower_ms": 10, "upper_ms": 5"#));
    assert!(
        error.contains("lower_ms (10) is above upper_ms (5): no pair of rows could match"),
        "{error}"
    );
    let error = refused(job(
        "window_join",
        r#""window": {"hopping": {"size_ms": 10, "slide_ms": 3}}"#,
    ));
    assert!(
        error.contains("a window's slide (3 ms) must divide its size (10 ms)"),
        "{error}"
    );
    let mut same = job("window_join", window);
    same.vertices[2].params["right"] = serde_json::json!("l");
    assert!(refused(same).contains("left and right must be different inputs"));
}
