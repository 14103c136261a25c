//! The regular (streaming) `hash_join`: its changelog, applied in order to
//! a table, equals a naive join of the net rows of both inputs after every
//! batch of random inserts and retractions on either side, inner and left;
//! streaming jobs (growing inputs, and a changelog from a continuous
//! aggregate on the right of a left join) end equal to the batch job; a
//! join restored from its snapshot mid-run, or one of whose inputs ends
//! (and so stops holding the other's rows), goes on as if never stopped;
//! over its budget it fails clearly.

use crate::changelog_support;
use crate::operator_support;

use changelog_support::{applied, apply_batches, collected};
use faro_runtime::operator::{Operator, OperatorError, Rows};
use faro_runtime::operators::join::{JoinKind, JoinParams};
use faro_runtime::operators::regular_join::RegularJoin;
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::{BatchBuilder, DataType, Field, RowKind, Schema, Value};
use operator_support::{rows, sorted};
use proptest::prelude::*;

fn side(key: &str, value: &str) -> Schema {
    Schema::new(vec![
        Field::nullable(key, DataType::Int64),
        Field::new(value, DataType::Int64),
    ])
}

fn params(kind: JoinKind) -> JoinParams {
    JoinParams {
        left: "l".into(),
        right: "r".into(),
        left_keys: vec!["k".into()],
        right_keys: vec!["rk".into()],
        kind,
        memory_bytes: None,
    }
}

fn join(kind: JoinKind, budget: u64) -> RegularJoin {
    let (left, right) = (side("k", "a"), side("rk", "b"));
    let mut fields: Vec<Field> = left
        .fields
        .iter()
        .cloned()
        .map(|mut f| {
            f.nullable |= kind.keeps_right();
            f
        })
        .collect();
    fields.extend(right.fields.iter().cloned().map(|mut f| {
        f.nullable |= kind.keeps_left();
        f
    }));
    RegularJoin::new(&params(kind), &left, &right, &Schema::new(fields), budget).unwrap()
}

/// The naive reference: every pair of net rows with equal non-null keys,
/// and for each side the join keeps whole its rows without one, padded
/// with nulls.
fn reference(left: &[Vec<Value>], right: &[Vec<Value>], kind: JoinKind) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for l in left {
        let matches: Vec<_> = right
            .iter()
            .filter(|r| l[0] != Value::Null && r[0] == l[0])
            .collect();
        for r in &matches {
            out.push([l.clone(), r.to_vec()].concat());
        }
        if matches.is_empty() && kind.keeps_left() {
            out.push([l.clone(), vec![Value::Null, Value::Null]].concat());
        }
    }
    for r in right.iter().filter(|_| kind.keeps_right()) {
        if !left.iter().any(|l| r[0] != Value::Null && l[0] == r[0]) {
            out.push([vec![Value::Null, Value::Null], r.clone()].concat());
        }
    }
    sorted(out)
}

/// Batches, each on one input (`true`: the right), of rows to insert
/// (`true`) or retract (`false`: an index into that side's rows present).
type Steps = Vec<(bool, Vec<(bool, Option<i64>, i64, usize)>)>;

fn steps() -> impl Strategy<Value = Steps> {
    let op = (
        prop::bool::weighted(0.65),
        prop::option::weighted(0.85, 0i64..4),
        0i64..3,
        any::<usize>(),
    );
    let batch = (any::<bool>(), prop::collection::vec(op, 1..6));
    prop::collection::vec(batch, 1..30)
}

/// Runs `steps`; after batch `restart`, the join is snapshotted and a
/// fresh one restored from it goes on in its place; after batch `end.1`,
/// input `end.0` ends (its later batches are left out).
fn run_steps(
    steps: &Steps,
    kind: JoinKind,
    update_kinds: bool,
    restart: usize,
    end: (bool, usize),
) -> Result<(), TestCaseError> {
    let mut operator = join(kind, 1 << 30);
    let dir = tempfile::tempdir().unwrap();
    operator
        .open(&operator_support::context(dir.path()))
        .unwrap();
    let mut net: [Vec<Vec<Value>>; 2] = [Vec::new(), Vec::new()];
    let mut table = Vec::new();
    let mut ended = false;
    for (i, (right, ops)) in steps.iter().enumerate() {
        let input = usize::from(*right);
        if ended && *right == end.0 {
            continue;
        }
        let schema = if *right {
            side("rk", "b")
        } else {
            side("k", "a")
        };
        let mut builder = BatchBuilder::new(schema, ops.len());
        let mut kinds = Vec::new();
        // Rows retracted in this batch, so one is not retracted twice.
        let mut pending = net[input].clone();
        for &(insert, key, value, pick) in ops {
            let (kind, row) = if insert || pending.is_empty() {
                let row = vec![key.map_or(Value::Null, Value::Int64), Value::Int64(value)];
                let kind = if update_kinds {
                    RowKind::UpdateAfter
                } else {
                    RowKind::Insert
                };
                (kind, row)
            } else {
                let row = pending.swap_remove(pick % pending.len());
                let kind = if update_kinds {
                    RowKind::UpdateBefore
                } else {
                    RowKind::Delete
                };
                (kind, row)
            };
            if kind.is_retraction() {
                let at = net[input].iter().position(|r| *r == row).unwrap();
                net[input].swap_remove(at);
            } else {
                net[input].push(row.clone());
            }
            builder.push_row(&row).unwrap();
            kinds.push(kind);
        }
        let mut batch = builder.finish().unwrap();
        if kinds.iter().any(|k| *k != RowKind::Insert) {
            batch = batch.with_kinds(&kinds).unwrap();
        }
        let mut out = Vec::new();
        operator
            .process(input, &Rows::of_batch(&batch), &mut out)
            .unwrap();
        apply_batches(&mut table, &out);
        prop_assert_eq!(
            sorted(table.clone()),
            reference(&net[0], &net[1], kind),
            "after batch {}",
            i
        );
        if i == end.1 {
            operator
                .end_input(usize::from(end.0), &mut Vec::new())
                .unwrap();
            ended = true;
        }
        if i == restart {
            let state = operator.snapshot_state(1).unwrap().unwrap();
            operator = join(kind, 1 << 30);
            operator.restore_state(&state).unwrap();
            operator
                .open(&operator_support::context(dir.path()))
                .unwrap();
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_regular_joins_changelog_equals_the_join_of_the_net_rows_after_every_batch(
        steps in steps(),
        kind in prop::sample::select(vec![JoinKind::Inner, JoinKind::Left, JoinKind::Full]),
        update_kinds in any::<bool>(),
        restart in 0usize..30,
        end in (any::<bool>(), 0usize..40),
    ) {
        run_steps(&steps, kind, update_kinds, restart, end)?;
    }
}

fn one(schema: Schema, row: [Option<i64>; 2], kind: RowKind) -> faro_runtime::Batch {
    let values: Vec<Value> = row
        .iter()
        .map(|v| v.map_or(Value::Null, Value::Int64))
        .collect();
    let mut builder = BatchBuilder::new(schema, 1);
    builder.push_row(&values).unwrap();
    builder.finish().unwrap().with_kinds(&[kind]).unwrap()
}

#[test]
fn a_left_joins_first_and_last_match_update_the_padded_row() {
    let mut join = join(JoinKind::Left, 1 << 30);
    let mut run = |input: usize, batch: faro_runtime::Batch| {
        let mut out = Vec::new();
        join.process(input, &Rows::of_batch(&batch), &mut out)
            .unwrap();
        let kinds: Vec<String> = out
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(|i| b.kind(i).to_string()))
            .collect();
        (kinds, rows(&out))
    };
    let (i, n) = (Value::Int64, Value::Null);
    let (kinds, got) = run(0, one(side("k", "a"), [Some(1), Some(10)], RowKind::Insert));
    assert_eq!(
        (kinds, got),
        (
            vec!["+I".into()],
            vec![vec![i(1), i(10), n.clone(), n.clone()]]
        )
    );
    let (kinds, got) = run(
        1,
        one(side("rk", "b"), [Some(1), Some(20)], RowKind::Insert),
    );
    assert_eq!(kinds, ["-U", "+U"]);
    assert_eq!(
        got,
        vec![
            vec![i(1), i(10), n.clone(), n.clone()],
            vec![i(1), i(10), i(1), i(20)]
        ]
    );
    let (kinds, _) = run(
        1,
        one(side("rk", "b"), [Some(1), Some(30)], RowKind::Insert),
    );
    assert_eq!(kinds, ["+I"]);
    let (kinds, _) = run(
        1,
        one(side("rk", "b"), [Some(1), Some(20)], RowKind::Delete),
    );
    assert_eq!(kinds, ["-D"]);
    let (kinds, got) = run(
        1,
        one(side("rk", "b"), [Some(1), Some(30)], RowKind::Delete),
    );
    assert_eq!(kinds, ["-U", "+U"]);
    assert_eq!(got[1], vec![i(1), i(10), n.clone(), n.clone()]);

    let mut out = Vec::new();
    let error = join
        .process(
            1,
            &Rows::of_batch(&one(side("rk", "b"), [Some(5), Some(5)], RowKind::Delete)),
            &mut out,
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("on its right input retracts (-D) a row it does not hold")
            && error.contains("rk = 5, b = 5"),
        "{error}"
    );
}

#[test]
fn once_a_side_ends_the_other_streams_through_unheld() {
    let mut join = join(JoinKind::Inner, 1 << 30);
    let mut out = Vec::new();
    let table = one(side("rk", "b"), [Some(1), Some(10)], RowKind::Insert);
    join.process(1, &Rows::of_batch(&table), &mut out).unwrap();
    join.end_input(1, &mut out).unwrap();
    let held = join.state_bytes();
    for n in 0..1000 {
        let row = one(side("k", "a"), [Some(n % 3), Some(n)], RowKind::Insert);
        join.process(0, &Rows::of_batch(&row), &mut out).unwrap();
    }
    assert_eq!(join.state_bytes(), held, "the stream's rows are not held");
    assert_eq!(
        rows(&out).len(),
        333,
        "each of the 333 rows of key 1 joined once"
    );
}

#[test]
fn a_regular_join_over_its_budget_fails_naming_it() {
    let mut join = join(JoinKind::Inner, 4096);
    let mut builder = BatchBuilder::new(side("k", "a"), 200);
    for n in 0..200 {
        builder
            .push_row(&[Value::Int64(n), Value::Int64(n)])
            .unwrap();
    }
    let batch = builder.finish().unwrap();
    let mut out = Vec::new();
    let error = join
        .process(0, &Rows::of_batch(&batch), &mut out)
        .unwrap_err();
    assert!(
        matches!(&error, OperatorError::OverBudget { operator, budget: 4096, .. } if operator == "hash_join"),
        "{error}"
    );
    assert!(
        error.to_string().contains("keeps every row of each side"),
        "{error}"
    );
}

/// Orders joined to counts per key: `right_changelog` counts the right
/// side with a continuous aggregate (a changelog in a streaming job) and
/// left-joins it; otherwise two generated inputs are inner-joined.
fn joined(mode: &str, right_changelog: bool) -> JobSpec {
    let kind = if right_changelog { "left" } else { "inner" };
    joined_as(mode, right_changelog, kind, "(i * 7) % 25")
}

/// [`joined`] as a join of kind `kind`, the right side's keys `right_key`.
fn joined_as(mode: &str, right_changelog: bool, kind: &str, right_key: &str) -> JobSpec {
    use serde_json::json;
    let orders = json!({"id": "orders", "operator": "generate", "parallelism": 2, "params": {
        "rows": 2000, "batch_rows": 50,
        "columns": [{"name": "k", "expr": "i % 30"}, {"name": "x", "expr": "i"}]}});
    let items = json!({"id": "items", "operator": "generate", "parallelism": 2, "params": {
        "rows": 600, "batch_rows": 20,
        "columns": [{"name": "rk", "expr": right_key}, {"name": "y", "expr": "i % 4"}]}});
    let per_key = json!({"id": "per_key", "operator": "aggregate", "parallelism": 2, "params": {
        "group_by": ["rk"], "aggregates": [{"name": "n", "function": "count"}]}});
    let right = if right_changelog { "per_key" } else { "items" };
    let j = json!({"id": "j", "operator": "hash_join", "parallelism": 2, "params": {
        "left": "orders", "right": right, "left_keys": ["k"], "right_keys": ["rk"], "kind": kind}});
    let out = json!({"id": "out", "operator": "collect", "params": {"limit": 1000000}});
    let mut vertices = vec![orders, items, j, out];
    let mut edges = vec![
        json!({"from": "orders", "to": "j", "partitioning": {"hash": ["k"]}}),
        json!({"from": right, "to": "j", "partitioning": {"hash": ["rk"]}}),
        json!({"from": "j", "to": "out", "partitioning": "rebalance"}),
    ];
    if right_changelog {
        vertices.push(per_key);
        edges.push(json!({"from": "items", "to": "per_key", "partitioning": {"hash": ["rk"]}}));
    }
    let spec = json!({"name": "joined", "mode": mode, "vertices": vertices, "edges": edges});
    JobSpec::parse(&spec.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_regular_joins_end_equal_to_the_batch_job() {
    for right_changelog in [false, true] {
        let streaming = joined("streaming", right_changelog);
        let job = validate(&streaming).unwrap();
        let j = &job.vertices[job.vertex_index("j").unwrap()];
        // Growing inputs, inner: plain rows. A changelog or a left join:
        // a changelog.
        assert_eq!(j.changelog, right_changelog);
        let id = format!("join-{right_changelog}");
        let got = collected(&streaming, &format!("{id}-s")).await;
        let table = if right_changelog {
            applied(&got).0
        } else {
            sorted(rows(&got))
        };
        let expected = sorted(rows(
            &collected(&joined("batch", right_changelog), &format!("{id}-b")).await,
        ));
        assert!(expected.len() > 1000, "{}", expected.len());
        assert_eq!(
            table.len(),
            expected.len(),
            "right changelog: {right_changelog}"
        );
        assert!(table == expected, "right changelog: {right_changelog}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_full_join_ends_equal_to_the_batch_job_and_keeps_both_sides() {
    // Orders have keys 0..30, the counts (a changelog in streaming) keys
    // 10..35: orders of keys below 10 have no count, counts of keys from
    // 30 no order.
    let right_key = "(i * 7) % 25 + 10";
    let streaming = joined_as("streaming", true, "full", right_key);
    let table = applied(&collected(&streaming, "full-s").await).0;
    let batch = joined_as("batch", true, "full", right_key);
    let expected = sorted(rows(&collected(&batch, "full-b").await));
    assert!(
        table == expected,
        "{} rows, want {}",
        table.len(),
        expected.len()
    );
    let padded = |column: usize| expected.iter().filter(|r| r[column] == Value::Null).count();
    let unmatched_orders = (0..2000).filter(|i| i % 30 < 10).count();
    assert_eq!(padded(2), unmatched_orders, "orders of keys 0..10");
    assert_eq!(padded(0), 5, "counts of keys 30..35");
}
