//! Session windows, processing-time windows and window top-N: sessions
//! and top-N over random out-of-order streams equal naive references
//! that sort the rows by time (late rows counted exactly), a session spec
//! gives equal rows as a streaming and as a batch job, and processing-time
//! windows fire once the wall clock has passed their end.

use crate::operator_support;

use std::collections::BTreeMap;

use faro_runtime::checkpoint::{KeyRouting, Rescaled};
use faro_runtime::message::Watermark;
use faro_runtime::operator::{Operator, OperatorError, Rows};
use faro_runtime::operators::aggregate::{AggregateFunction, AggregateSpec};
use faro_runtime::operators::sort::SortKey;
use faro_runtime::operators::window::{
    WindowAggregate, WindowKind, WindowParams, WindowTopN, WindowTopNParams,
};
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::state::parts::StateSnapshot;
use faro_runtime::worker::Worker;
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value};
use operator_support::{rows, sorted};
use proptest::prelude::*;

/// One step of an out-of-order stream: a batch of rows or a watermark.
#[derive(Debug, Clone)]
enum Step<R> {
    Rows(Vec<R>),
    Watermark(i64),
}

fn steps<R: std::fmt::Debug + Clone>(
    row: impl Strategy<Value = R> + Clone,
) -> impl Strategy<Value = Vec<Step<R>>> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::collection::vec(row, 1..5).prop_map(Step::Rows),
            1 => (0i64..260).prop_map(Step::Watermark),
        ],
        0..60,
    )
}

fn batch(schema: &Schema, rows: &[Vec<Value>]) -> Batch {
    let mut builder = BatchBuilder::new(schema.clone(), rows.len());
    for row in rows {
        builder.push_row(row).unwrap();
    }
    builder.finish().unwrap()
}

/// Feeds `steps` to `operator`, checking that whatever a watermark fires
/// has its window end (column `end`) due; returns all it emitted.
fn replay<R>(
    operator: &mut dyn Operator,
    steps: &[Step<R>],
    schema: &Schema,
    to_row: impl Fn(&R) -> Vec<Value>,
    end: usize,
    lateness: i64,
) -> Result<Vec<Batch>, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    operator
        .open(&operator_support::context(dir.path()))
        .unwrap();
    let mut out = Vec::new();
    let mut watermark = i64::MIN;
    for step in steps {
        match step {
            Step::Rows(rs) => {
                let b = batch(schema, &rs.iter().map(&to_row).collect::<Vec<_>>());
                operator.process(0, &Rows::of_batch(&b), &mut out).unwrap();
            }
            Step::Watermark(w) => {
                let before = out.len();
                watermark = watermark.max(*w);
                operator.on_watermark(Watermark(*w), &mut out).unwrap();
                for row in rows(&out[before..]) {
                    let Value::Timestamp(e) = row[end] else {
                        panic!("{row:?}")
                    };
                    prop_assert!(e - 1 + lateness <= watermark, "{row:?} fired early");
                }
            }
        }
    }
    operator.end_input(0, &mut out).unwrap();
    operator.close().unwrap();
    Ok(out)
}

fn session_params(gap: i64, lateness: i64, distinct: bool) -> WindowParams {
    let agg = |name: &str, function, expr: Option<&str>| AggregateSpec {
        name: name.into(),
        function,
        expr: expr.map(Into::into),
    };
    let mut aggregates = vec![
        agg("n", AggregateFunction::Count, None),
        agg("total", AggregateFunction::Sum, Some("v")),
        agg("top", AggregateFunction::Max, Some("v")),
    ];
    if distinct {
        aggregates[2] = agg("kinds", AggregateFunction::CountDistinct, Some("v"));
    }
    WindowParams {
        time: Some("t".into()),
        processing_time: false,
        window: WindowKind::Session { gap_ms: gap },
        offset_ms: 0,
        group_by: vec!["k".into()],
        aggregates,
        allowed_lateness_ms: lateness,
        memory_bytes: None,
    }
}

fn session_schema() -> Schema {
    Schema::new(vec![
        Field::new("t", DataType::Timestamp),
        Field::new("k", DataType::Int64),
        Field::nullable("v", DataType::Int64),
    ])
}

type SessionRow = (i64, i64, Option<i64>);

/// Sessions of one group's rows: sorted by time, cut wherever a row comes
/// after the session so far ends.
fn cut(rows: &[SessionRow], gap: i64) -> Vec<(i64, i64, Vec<SessionRow>)> {
    let mut sorted = rows.to_vec();
    sorted.sort();
    let mut sessions: Vec<(i64, i64, Vec<SessionRow>)> = Vec::new();
    for row in sorted {
        match sessions.last_mut() {
            Some((_, end, members)) if row.0 <= *end => {
                *end = (*end).max(row.0 + gap);
                members.push(row);
            }
            _ => sessions.push((row.0, row.0 + gap, vec![row])),
        }
    }
    sessions
}

/// The naive session reference: keeps each group's open rows, re-cuts
/// them into sessions whenever it needs to know them, fires the due ones
/// at each watermark.
fn session_reference(
    steps: &[Step<SessionRow>],
    gap: i64,
    lateness: i64,
    distinct: bool,
) -> (Vec<Vec<Value>>, u64) {
    let mut open: BTreeMap<i64, Vec<SessionRow>> = BTreeMap::new();
    let mut out = Vec::new();
    let mut late = 0;
    let mut watermark = i64::MIN;
    let emit =
        |out: &mut Vec<Vec<Value>>, k: i64, (s, e, members): &(i64, i64, Vec<SessionRow>)| {
            let values: Vec<i64> = members.iter().filter_map(|r| r.2).collect();
            let sum = (!values.is_empty()).then(|| values.iter().sum::<i64>());
            let third = if distinct {
                let set: std::collections::BTreeSet<i64> = values.iter().copied().collect();
                Value::Int64(set.len() as i64)
            } else {
                values
                    .iter()
                    .max()
                    .map_or(Value::Null, |m| Value::Int64(*m))
            };
            out.push(vec![
                Value::Timestamp(*s),
                Value::Timestamp(*e),
                Value::Int64(k),
                Value::Int64(members.len() as i64),
                sum.map_or(Value::Null, Value::Int64),
                third,
            ]);
        };
    for step in steps {
        match step {
            Step::Rows(rs) => {
                for &row in rs {
                    let own_due = row.0 + gap - 1 + lateness <= watermark;
                    let group = open.entry(row.1).or_default();
                    let touches = cut(group, gap)
                        .iter()
                        .any(|(s, e, _)| *s <= row.0 + gap && row.0 <= *e);
                    if own_due && !touches {
                        late += 1;
                    } else {
                        group.push(row);
                    }
                }
            }
            Step::Watermark(w) => {
                watermark = watermark.max(*w);
                for (&k, group) in open.iter_mut() {
                    let mut kept = Vec::new();
                    for session in cut(group, gap) {
                        if session.1 - 1 + lateness <= watermark {
                            emit(&mut out, k, &session);
                        } else {
                            kept.extend(session.2);
                        }
                    }
                    *group = kept;
                }
            }
        }
    }
    for (&k, group) in &open {
        for session in cut(group, gap) {
            emit(&mut out, k, &session);
        }
    }
    (out, late)
}

fn session_row() -> impl Strategy<Value = SessionRow> + Clone {
    (
        0i64..200,
        0i64..3,
        proptest::option::weighted(0.9, -5i64..20),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sessions_over_out_of_order_rows_equal_the_reference_and_count_late_rows(
        steps in steps(session_row()), gap in 1i64..30, lateness in 0i64..10,
        distinct in proptest::bool::weighted(0.3),
    ) {
        let schema = session_schema();
        let params = session_params(gap, lateness, distinct);
        let mut operator = WindowAggregate::new(&params, &schema).unwrap();
        let to_row = |r: &SessionRow| {
            vec![Value::Timestamp(r.0), Value::Int64(r.1), r.2.map_or(Value::Null, Value::Int64)]
        };
        let out = replay(&mut operator, &steps, &schema, to_row, 1, lateness)?;
        let (expected, late) = session_reference(&steps, gap, lateness, distinct);
        prop_assert_eq!(sorted(rows(&out)), sorted(expected));
        prop_assert_eq!(operator.late_rows(), late);
    }
}

/// A session window's whole checkpoint, taken now.
fn checkpoint_of(operator: &mut WindowAggregate) -> Vec<u8> {
    match operator.snapshot_parts(1, None).unwrap() {
        Some(StateSnapshot::Whole(bytes)) => bytes,
        other => panic!("a session window saved {other:?}"),
    }
}

fn session_values(r: &SessionRow) -> Vec<Value> {
    vec![
        Value::Timestamp(r.0),
        Value::Int64(r.1),
        r.2.map_or(Value::Null, Value::Int64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A job that fails after a checkpoint goes on from it: the steps
    /// before it run on one operator, the rest on a fresh one restored
    /// from its snapshot, and together they emit what one run does.
    #[test]
    fn sessions_restored_from_a_checkpoint_mid_stream_equal_the_reference(
        steps in steps(session_row()), at in 0usize..60, gap in 1i64..30,
        lateness in 0i64..10, distinct in proptest::bool::weighted(0.4),
    ) {
        let at = at.min(steps.len());
        let schema = session_schema();
        let params = session_params(gap, lateness, distinct);
        let dir = tempfile::tempdir().unwrap();
        let context = operator_support::context(dir.path());
        let mut out = Vec::new();
        let mut before = WindowAggregate::new(&params, &schema).unwrap();
        before.open(&context).unwrap();
        feed(&mut before, &steps[..at], &schema, &mut out);
        let saved = checkpoint_of(&mut before);
        // The snapshot leaves the running operator as it was.
        let mut rest = Vec::new();
        feed(&mut before, &steps[at..], &schema, &mut rest);
        before.end_input(0, &mut rest).unwrap();
        let mut after = WindowAggregate::new(&params, &schema).unwrap();
        after.restore_state(&saved).unwrap();
        after.open(&context).unwrap();
        let mut restored = Vec::new();
        feed(&mut after, &steps[at..], &schema, &mut restored);
        after.end_input(0, &mut restored).unwrap();
        let (expected, late) = session_reference(&steps, gap, lateness, distinct);
        let ran_through = sorted(rows(&out).into_iter().chain(rows(&rest)).collect());
        prop_assert_eq!(&ran_through, &sorted(expected));
        let resumed = sorted(rows(&out).into_iter().chain(rows(&restored)).collect());
        prop_assert_eq!(resumed, ran_through);
        prop_assert_eq!(after.late_rows(), late);
    }
}

/// Feeds `steps` to an open `operator`, its output into `out`.
fn feed(
    operator: &mut WindowAggregate,
    steps: &[Step<SessionRow>],
    schema: &Schema,
    out: &mut Vec<Batch>,
) {
    for step in steps {
        match step {
            Step::Rows(rs) => {
                let b = batch(schema, &rs.iter().map(session_values).collect::<Vec<_>>());
                operator.process(0, &Rows::of_batch(&b), out).unwrap();
            }
            Step::Watermark(w) => {
                operator.on_watermark(Watermark(*w), out).unwrap();
            }
        }
    }
}

#[test]
fn open_sessions_split_by_key_over_more_subtasks_fire_once_each() {
    // Sessions saved by one subtask, restored over three: each key's
    // sessions reach exactly one new subtask, and together they fire
    // what the saving subtask would have.
    let steps = long_stream(400);
    let schema = session_schema();
    let params = session_params(10, 3, true);
    let dir = tempfile::tempdir().unwrap();
    let context = operator_support::context(dir.path());
    let mut original = WindowAggregate::new(&params, &schema).unwrap();
    original.open(&context).unwrap();
    let mut fired = Vec::new();
    feed(&mut original, &steps, &schema, &mut fired);
    let states = vec![(0u32, checkpoint_of(&mut original))];
    let mut rest = Vec::new();
    original.end_input(0, &mut rest).unwrap();
    assert!(!rest.is_empty(), "sessions were open at the checkpoint");
    let routing = KeyRouting {
        columns: vec!["k".into()],
        key_groups: 128,
    };
    let mut restored = Vec::new();
    for subtask in 0..3 {
        let mut share = WindowAggregate::new(&params, &schema).unwrap();
        share
            .restore_rescaled(&Rescaled {
                states: &states,
                from_parallelism: 1,
                subtask,
                parallelism: 3,
                keys: Some(&routing),
            })
            .unwrap();
        share.open(&context).unwrap();
        let mut out = Vec::new();
        share.end_input(0, &mut out).unwrap();
        restored.extend(out);
    }
    assert_eq!(sorted(rows(&restored)), sorted(rows(&rest)));
}

/// A long stream: key 0 never pauses (one session to the end), keys 1
/// and 2 come in bursts; a watermark every ten batches, some rows late.
fn long_stream(batches: i64) -> Vec<Step<SessionRow>> {
    let mut steps = Vec::new();
    for b in 0..batches {
        let t = b * 4;
        let mut rows = vec![(t, 0, Some(b % 17))];
        if (b / 50) % 2 == 0 {
            rows.push((t + 1, 1 + b % 2, Some(b % 5)));
        }
        if b % 7 == 0 {
            rows.push((t - 60, 2, None));
        }
        steps.push(Step::Rows(rows));
        if b % 10 == 9 {
            steps.push(Step::Watermark(t - 40));
        }
    }
    steps
}

#[test]
fn long_sessions_hold_their_rows_again_and_still_equal_the_reference() {
    // Key 0's session keeps every batch's state alive: past the slack
    // the held rows are merged into one state row per session (the
    // distinct values' sets too), with sessions firing in between.
    let steps = long_stream(3000);
    for distinct in [false, true] {
        let schema = session_schema();
        let params = session_params(10, 3, distinct);
        let mut operator = WindowAggregate::new(&params, &schema).unwrap();
        let to_row = |r: &SessionRow| {
            vec![
                Value::Timestamp(r.0),
                Value::Int64(r.1),
                r.2.map_or(Value::Null, Value::Int64),
            ]
        };
        let out = replay(&mut operator, &steps, &schema, to_row, 1, 3).unwrap();
        let (expected, late) = session_reference(&steps, 10, 3, distinct);
        assert!(
            late > 0 && expected.len() > 50,
            "{late} late, {} sessions",
            expected.len()
        );
        assert_eq!(sorted(rows(&out)), sorted(expected), "distinct: {distinct}");
        assert_eq!(operator.late_rows(), late);
    }
}

#[test]
fn a_long_session_folds_its_state_and_stays_within_its_budget() {
    // Ten keys, one row each per batch, none ever pausing: unfolded, a
    // state row per key and batch (10,000 of them) would pass 300 kB.
    let schema = session_schema();
    let mut params = session_params(50, 0, false);
    params.memory_bytes = Some(300_000);
    let mut operator = WindowAggregate::new(&params, &schema).unwrap();
    let mut out = Vec::new();
    for b in 0..1000i64 {
        let rows: Vec<Vec<Value>> = (0..10)
            .map(|k| {
                vec![
                    Value::Timestamp(b * 10 + k),
                    Value::Int64(k),
                    Value::Int64(b),
                ]
            })
            .collect();
        let batch = batch(&schema, &rows);
        operator
            .process(0, &Rows::of_batch(&batch), &mut out)
            .unwrap();
    }
    operator.end_input(0, &mut out).unwrap();
    let got = sorted(rows(&out));
    let expected: Vec<Vec<Value>> = (0..10i64)
        .map(|k| {
            vec![
                Value::Timestamp(k),
                Value::Timestamp(9990 + k + 50),
                Value::Int64(k),
                Value::Int64(1000),
                Value::Int64(999 * 1000 / 2),
                Value::Int64(999),
            ]
        })
        .collect();
    assert_eq!(got, sorted(expected));
    // The same stream without folding (count_distinct) runs out.
    let mut params = session_params(50, 0, true);
    params.memory_bytes = Some(300_000);
    let mut raw = WindowAggregate::new(&params, &schema).unwrap();
    let error = (0..1000i64)
        .try_for_each(|b| {
            let rows: Vec<Vec<Value>> = (0..10)
                .map(|k| {
                    vec![
                        Value::Timestamp(b * 10 + k),
                        Value::Int64(k),
                        Value::Int64(b),
                    ]
                })
                .collect();
            raw.process(0, &Rows::of_batch(&batch(&schema, &rows)), &mut out)
        })
        .unwrap_err();
    assert!(matches!(error, OperatorError::OverBudget { .. }), "{error}");
}

/// A row after a `window`: (window start, partition, score, id).
type TopRow = (i64, i64, Option<i64>, i64);

fn top_schema() -> Schema {
    Schema::new(vec![
        Field::new("window_start", DataType::Timestamp),
        Field::new("window_end", DataType::Timestamp),
        Field::new("p", DataType::Int64),
        Field::nullable("score", DataType::Int64),
        Field::new("id", DataType::Int64),
    ])
}

fn top_params(n: usize, lateness: i64) -> WindowTopNParams {
    WindowTopNParams {
        partition_by: vec!["p".into()],
        order_by: vec![
            SortKey {
                column: "score".into(),
                descending: true,
            },
            SortKey {
                column: "id".into(),
                descending: false,
            },
        ],
        n,
        rank: Some("rank".into()),
        allowed_lateness_ms: lateness,
        memory_bytes: None,
    }
}

/// The naive top-N reference: each window's accepted rows, sorted by
/// score (largest first, nulls last) then id when the window fires.
fn top_reference(steps: &[Step<TopRow>], n: usize, lateness: i64) -> (Vec<Vec<Value>>, u64) {
    let mut open: BTreeMap<i64, Vec<TopRow>> = BTreeMap::new();
    let (mut out, mut late, mut watermark) = (Vec::new(), 0u64, i64::MIN);
    let emit = |out: &mut Vec<Vec<Value>>, start: i64, rows: Vec<TopRow>| {
        let mut by_partition: BTreeMap<i64, Vec<TopRow>> = BTreeMap::new();
        for row in rows {
            by_partition.entry(row.1).or_default().push(row);
        }
        for (p, mut rows) in by_partition {
            rows.sort_by_key(|r| (std::cmp::Reverse(r.2), r.3));
            for (rank, r) in rows.iter().take(n).enumerate() {
                out.push(vec![
                    Value::Timestamp(start),
                    Value::Timestamp(start + 10),
                    Value::Int64(p),
                    r.2.map_or(Value::Null, Value::Int64),
                    Value::Int64(r.3),
                    Value::Int64(rank as i64 + 1),
                ]);
            }
        }
    };
    for step in steps {
        match step {
            Step::Rows(rs) => {
                for &row in rs {
                    if row.0 + 10 - 1 + lateness <= watermark {
                        late += 1;
                    } else {
                        open.entry(row.0).or_default().push(row);
                    }
                }
            }
            Step::Watermark(w) => {
                watermark = watermark.max(*w);
                let due: Vec<i64> = open
                    .keys()
                    .copied()
                    .filter(|s| s + 10 - 1 + lateness <= watermark)
                    .collect();
                for start in due {
                    let rows = open.remove(&start).unwrap_or_default();
                    emit(&mut out, start, rows);
                }
            }
        }
    }
    for (start, rows) in open {
        emit(&mut out, start, rows);
    }
    (out, late)
}

fn top_row() -> impl Strategy<Value = (i64, i64, Option<i64>)> + Clone {
    (0i64..25, 0i64..3, proptest::option::weighted(0.85, 0i64..8))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn window_top_n_over_out_of_order_rows_equals_the_reference_and_counts_late_rows(
        raw in steps(top_row()), n in 1usize..4, lateness in 0i64..6,
    ) {
        // Ids in arrival order: unique, so the order is total.
        let mut id = 0;
        let steps: Vec<Step<TopRow>> = raw
            .into_iter()
            .map(|step| match step {
                Step::Watermark(w) => Step::Watermark(w),
                Step::Rows(rs) => Step::Rows(
                    rs.into_iter()
                        .map(|(w, p, s)| {
                            id += 1;
                            (w * 10, p, s, id)
                        })
                        .collect(),
                ),
            })
            .collect();
        let schema = top_schema();
        let mut operator = WindowTopN::new(&top_params(n, lateness), &schema).unwrap();
        let to_row = |r: &TopRow| {
            vec![
                Value::Timestamp(r.0),
                Value::Timestamp(r.0 + 10),
                Value::Int64(r.1),
                r.2.map_or(Value::Null, Value::Int64),
                Value::Int64(r.3),
            ]
        };
        let out = replay(&mut operator, &steps, &schema, to_row, 1, lateness)?;
        let (expected, late) = top_reference(&steps, n, lateness);
        prop_assert_eq!(sorted(rows(&out)), sorted(expected));
        prop_assert_eq!(operator.late_rows(), late);
    }
}

#[test]
fn window_top_n_cuts_a_big_window_back_and_fails_past_its_budget() {
    let schema = top_schema();
    let many: Vec<Vec<Value>> = (0..30_000i64)
        .map(|i| {
            vec![
                Value::Timestamp(0),
                Value::Timestamp(10),
                Value::Int64(i % 4),
                Value::Int64(i * 7919 % 30_011),
                Value::Int64(i),
            ]
        })
        .collect();
    let batches = operator_support::batches(&schema, &many, 1000);
    let mut operator = WindowTopN::new(&top_params(2, 0), &schema).unwrap();
    let out = operator_support::run(&mut operator, &batches);
    let got = rows(&out);
    assert_eq!(got.len(), 8, "two per partition");
    for p in 0..4 {
        let mut best: Vec<&Vec<Value>> = many.iter().filter(|r| r[2] == Value::Int64(p)).collect();
        best.sort_by_key(|r| match r[3] {
            Value::Int64(s) => std::cmp::Reverse(s),
            _ => std::cmp::Reverse(i64::MIN),
        });
        let ours: Vec<&Vec<Value>> = got.iter().filter(|r| r[2] == Value::Int64(p)).collect();
        assert_eq!(ours[0][..5], best[0][..], "partition {p}");
        assert_eq!(ours[1][..5], best[1][..]);
        assert_eq!(
            (&ours[0][5], &ours[1][5]),
            (&Value::Int64(1), &Value::Int64(2))
        );
    }
    let mut params = top_params(20_000, 0);
    params.memory_bytes = Some(64 * 1024);
    let mut small = WindowTopN::new(&params, &schema).unwrap();
    let mut out = Vec::new();
    let error = batches
        .iter()
        .try_for_each(|b| small.process(0, &Rows::of_batch(b), &mut out))
        .unwrap_err();
    assert!(matches!(error, OperatorError::OverBudget { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("window_top_n: needs more than its memory budget of 65536 bytes"),
        "{error}"
    );
}

#[test]
fn open_sessions_past_the_budget_fail_clearly() {
    let schema = session_schema();
    let mut params = session_params(5, 0, false);
    params.memory_bytes = Some(4096);
    let mut operator = WindowAggregate::new(&params, &schema).unwrap();
    let rows: Vec<Vec<Value>> = (0..2000i64)
        .map(|i| {
            vec![
                Value::Timestamp(i * 100),
                Value::Int64(i % 10),
                Value::Int64(i),
            ]
        })
        .collect();
    let mut out = Vec::new();
    let error = operator_support::batches(&schema, &rows, 100)
        .iter()
        .try_for_each(|b| operator.process(0, &Rows::of_batch(b), &mut out))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("window: needs more than its memory budget of 4096 bytes")
            && error.to_string().contains("open sessions hold"),
        "{error}"
    );
}

/// Generated rows windowed by `window` per key (count and sum), then
/// ranked by `window_top_n` if `top_n`. Per key, bursts of rows come 5 s
/// apart, up to 160 ms out of order; the watermark allows 200.
fn generated(mode: &str, window: serde_json::Value, top_n: bool) -> JobSpec {
    let mut vertices = vec![
        serde_json::json!({"id": "gen", "operator": "generate", "parallelism": 2, "params": {
            "rows": 20000, "batch_rows": 500,
            "event_time": {"column": "t", "max_out_of_orderness_ms": 200},
            "columns": [{"name": "k", "expr": "(i % 10) * (i % 3)"}, {"name": "v", "expr": "i % 13"},
                        {"name": "t", "expr": "CAST(i * 3 + (i / 700) * 5000 + (i % 5) * 40 AS TIMESTAMP)"}]}}),
        serde_json::json!({"id": "w", "operator": "window", "parallelism": 2, "params": {
            "time": "t", "window": window, "group_by": ["k"],
            "aggregates": [{"name": "n", "function": "count"}, {"name": "s", "function": "sum", "expr": "v"}]}}),
        serde_json::json!({"id": "out", "operator": "collect"}),
    ];
    let mut edges =
        vec![serde_json::json!({"from": "gen", "to": "w", "partitioning": {"hash": ["k"]}})];
    if top_n {
        vertices.push(
            serde_json::json!({"id": "best", "operator": "window_top_n", "parallelism": 2,
            "params": {"order_by": [{"column": "n", "descending": true}, {"column": "k"}],
                       "n": 3, "rank": "place"}}),
        );
        edges.push(serde_json::json!({"from": "w", "to": "best", "partitioning": {"hash": ["window_end"]}}));
        edges.push(serde_json::json!({"from": "best", "to": "out", "partitioning": "rebalance"}));
    } else {
        edges.push(serde_json::json!({"from": "w", "to": "out", "partitioning": "rebalance"}));
    }
    let spec =
        serde_json::json!({"name": "windows", "mode": mode, "vertices": vertices, "edges": edges});
    JobSpec::parse(&spec.to_string()).unwrap()
}

fn session() -> serde_json::Value {
    serde_json::json!({"session": {"gap_ms": 1000}})
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
async fn one_session_spec_gives_equal_results_as_a_streaming_and_as_a_batch_job() {
    let streaming = generated("streaming", session(), false);
    let batch = generated("batch", session(), false);
    assert!(validate(&streaming).unwrap().streaming);
    assert!(!validate(&batch).unwrap().streaming);
    let ((a, streamed), (b, _)) = (run(&streaming, "ss").await, run(&batch, "sb").await);
    assert!(streamed.contains("faro_task_watermark_timestamp_seconds"));
    assert_eq!(a, b);
    // Every row in exactly one session, none late; keys 0..=18 that
    // (i % 10) * (i % 3) makes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14,
    // 16, 18 — one session per key and burst.
    let int = |v: &Value| match v {
        Value::Int64(n) => *n,
        _ => panic!("{v:?}"),
    };
    assert_eq!(a.iter().map(|r| int(&r[3])).sum::<i64>(), 20_000);
    assert_eq!(a.len(), 15 * 29, "15 keys, 29 bursts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hottest_keys_per_window_agree_in_both_modes_and_with_the_windows() {
    let tumbling = serde_json::json!({"tumbling": {"size_ms": 1000}});
    let streaming = generated("streaming", tumbling.clone(), true);
    let batch = generated("batch", tumbling.clone(), true);
    let ((a, _), (b, _)) = (run(&streaming, "ts").await, run(&batch, "tb").await);
    assert_eq!(a, b);
    // The reference: every window's counts, best three by hand.
    let (windows, _) = run(&generated("batch", tumbling, false), "tw").await;
    let mut by_window: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    for row in windows {
        by_window
            .entry(format!("{:?}", &row[..2]))
            .or_default()
            .push(row);
    }
    let int = |v: &Value| match v {
        Value::Int64(n) => *n,
        _ => panic!("{v:?}"),
    };
    let mut expected = Vec::new();
    for (_, mut rows) in by_window {
        rows.sort_by_key(|r| (std::cmp::Reverse(int(&r[3])), int(&r[2])));
        for (place, mut row) in rows.into_iter().take(3).enumerate() {
            row.push(Value::Int64(place as i64 + 1));
            expected.push(row);
        }
    }
    assert!(expected.len() > 100, "{}", expected.len());
    assert_eq!(a, sorted(expected));
}

#[test]
fn processing_time_and_top_n_specs_are_checked() {
    let mut spec = generated("batch", session(), true);
    spec.vertices[1].params["processing_time"] = serde_json::json!(true);
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains("either `time` (an event-time column) or `processing_time: true`, not both"),
        "{error}"
    );
    spec.vertices[1]
        .params
        .as_object_mut()
        .unwrap()
        .remove("time");
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains("processing-time windows cannot be sessions"),
        "{error}"
    );
    let mut spec = generated("batch", session(), true);
    spec.vertices.remove(1);
    spec.edges = serde_json::from_value(serde_json::json!([
        {"from": "gen", "to": "best", "partitioning": "rebalance"},
        {"from": "best", "to": "out", "partitioning": "rebalance"}]))
    .unwrap();
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains("no window_start column \"window_start\""),
        "{error}"
    );
    let mut spec = generated("batch", session(), true);
    spec.vertices[3].params["n"] = serde_json::json!(0);
    let error = validate(&spec).unwrap_err().to_string();
    assert!(error.contains("n must be at least 1"), "{error}");
    spec.vertices[3].params["n"] = serde_json::json!(1);
    spec.vertices[3].params["rank"] = serde_json::json!("k");
    let error = validate(&spec).unwrap_err().to_string();
    assert!(error.contains("column \"k\" appears twice"), "{error}");
}

#[test]
fn processing_time_windows_fire_once_the_wall_clock_passes_their_end() {
    let schema = Schema::new(vec![Field::new("v", DataType::Int64)]);
    let params = WindowParams {
        time: None,
        processing_time: true,
        window: WindowKind::Tumbling { size_ms: 150 },
        offset_ms: 0,
        group_by: vec![],
        aggregates: vec![AggregateSpec {
            name: "n".into(),
            function: AggregateFunction::Count,
            expr: None,
        }],
        allowed_lateness_ms: 0,
        memory_bytes: None,
    };
    let mut operator = WindowAggregate::new(&params, &schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    operator
        .open(&operator_support::context(dir.path()))
        .unwrap();
    let three = batch(
        &schema,
        &[
            vec![Value::Int64(1)],
            vec![Value::Int64(2)],
            vec![Value::Int64(3)],
        ],
    );
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let mut out = Vec::new();
    let before = now();
    operator
        .process(0, &Rows::of_batch(&three), &mut out)
        .unwrap();
    let after = now();
    // The rows' window is the clock's: it ends within 150 ms of arrival.
    std::thread::sleep(std::time::Duration::from_millis(160));
    operator.on_watermark(Watermark::MIN, &mut out).unwrap();
    let fired = rows(&out);
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (Value::Timestamp(start), Value::Timestamp(end)) = (&fired[0][0], &fired[0][1]) else {
        panic!("{fired:?}")
    };
    assert_eq!(end - start, 150);
    assert!(
        *start <= after && before < *end,
        "[{start}, {end}) vs {before}..{after}"
    );
    assert!(*end <= now(), "fired only once the clock passed its end");
    assert_eq!(fired[0][2], Value::Int64(3));
    // A batch now lands in a later window, which end of input fires.
    operator
        .process(0, &Rows::of_batch(&three), &mut out)
        .unwrap();
    operator
        .process(0, &Rows::of_batch(&three), &mut out)
        .unwrap();
    operator.end_input(0, &mut out).unwrap();
    let all = rows(&out);
    let total: i64 = all
        .iter()
        .map(|r| match r[2] {
            Value::Int64(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 9);
    assert!(
        all[1..]
            .iter()
            .all(|r| matches!(r[0], Value::Timestamp(s) if s >= *end)),
        "{all:?}"
    );
    assert_eq!(operator.late_rows(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_stream_counted_in_wall_clock_windows_loses_no_row() {
    // 80 rows at 200 a second: about 0.4 s of wall clock, so several
    // 100 ms windows, each firing as later batches arrive.
    let spec = serde_json::json!({"name": "wall", "mode": "streaming", "vertices": [
        {"id": "gen", "operator": "generate", "params": {
            "rows": 80, "rows_per_second": 200, "batch_rows": 4,
            "columns": [{"name": "v", "expr": "i"}]}},
        {"id": "w", "operator": "window", "params": {
            "processing_time": true, "window": {"tumbling": {"size_ms": 100}},
            "aggregates": [{"name": "n", "function": "count"}, {"name": "s", "function": "sum", "expr": "v"}]}},
        {"id": "out", "operator": "collect"}],
        "edges": [{"from": "gen", "to": "w", "partitioning": "forward"},
                  {"from": "w", "to": "out", "partitioning": "forward"}]});
    let spec = JobSpec::parse(&spec.to_string()).unwrap();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (windows, _) = run(&spec, "wall").await;
    let int = |v: &Value| match v {
        Value::Int64(n) | Value::Timestamp(n) => *n,
        _ => panic!("{v:?}"),
    };
    assert!(windows.len() >= 3, "{windows:?}");
    assert_eq!(windows.iter().map(|r| int(&r[2])).sum::<i64>(), 80);
    assert_eq!(windows.iter().map(|r| int(&r[3])).sum::<i64>(), 79 * 80 / 2);
    for row in &windows {
        assert_eq!(int(&row[1]) - int(&row[0]), 100);
        assert!(int(&row[1]) > started, "{row:?} before the job began");
    }
}
