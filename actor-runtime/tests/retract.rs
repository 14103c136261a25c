//! Retracting operators: the continuous `top_n`'s changelog, applied in
//! order to a table, holds the top `limit` of the net rows after every
//! batch of random inserts and retractions; a streaming job of a
//! continuous aggregate ranked by `top_n` ends equal to the batch job;
//! over its budget it fails clearly; `sort` still refuses a changelog.

use crate::changelog_support;
use crate::operator_support;

use std::cmp::Ordering;

use changelog_support::{applied, apply_batches, collected};
use faro_runtime::operator::{Operator, OperatorError, Rows};
use faro_runtime::operators::sort::{ContinuousTopN, RankingSpec, SortKey};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::{Batch, BatchBuilder, DataType, Field, RowKind, Schema, Value};
use operator_support::{rows, sorted};
use proptest::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        Field::nullable("v", DataType::Int64),
        Field::new("s", DataType::Utf8),
        Field::new("x", DataType::Float64),
    ])
}

/// Largest `v` first (nulls last, as descending puts them), then `s`.
fn keys() -> Vec<SortKey> {
    vec![
        SortKey {
            column: "v".into(),
            descending: true,
        },
        SortKey {
            column: "s".into(),
            descending: false,
        },
    ]
}

/// A continuous top `limit` over a changelog of `schema()` rows.
fn continuous(limit: usize, budget: u64) -> ContinuousTopN {
    let spec = RankingSpec {
        keys: &keys(),
        partition_by: &[],
        limit,
        rank: None,
        budget,
        continuous: true,
        retracting: true,
    };
    ContinuousTopN::new(&spec, &schema()).unwrap()
}

/// `keys()`'s order on value rows: what the reference ranks by.
fn compare(a: &[Value], b: &[Value]) -> Ordering {
    let v = |row: &[Value]| match row[0] {
        Value::Int64(v) => Some(v),
        _ => None,
    };
    let s = |row: &[Value]| match &row[1] {
        Value::Utf8(s) => s.clone(),
        _ => String::new(),
    };
    // Descending with nulls first ascending means nulls last here.
    v(b).cmp(&v(a)).then_with(|| s(a).cmp(&s(b)))
}

/// `table` is a top `limit` of `net`: as many rows as it can be, each one
/// of the net rows, and ranked as the best of them (ties at the boundary
/// may be any of the tied rows).
fn check_top(table: &[Vec<Value>], net: &[Vec<Value>], limit: usize) -> Result<(), String> {
    let want = limit.min(net.len());
    if table.len() != want {
        return Err(format!("{} rows shown, want {want}", table.len()));
    }
    let mut rest = net.to_vec();
    for row in table {
        let at = rest.iter().position(|r| r == row);
        let at = at.ok_or_else(|| format!("{row:?} is shown but not a net row"))?;
        rest.swap_remove(at);
    }
    for row in table {
        if let Some(better) = rest.iter().find(|r| compare(r, row) == Ordering::Less) {
            return Err(format!("{row:?} is shown but {better:?}, better, is not"));
        }
    }
    Ok(())
}

/// One input batch: rows to insert (`true`) or retract (`false`: an index
/// into the rows present).
type Steps = Vec<Vec<(bool, Option<i64>, &'static str, usize)>>;

fn steps() -> impl Strategy<Value = Steps> {
    let op = (
        prop::bool::weighted(0.65),
        prop::option::weighted(0.85, 0i64..6),
        prop::sample::select(vec!["a", "b", ""]),
        any::<usize>(),
    );
    prop::collection::vec(prop::collection::vec(op, 1..7), 1..30)
}

/// Runs `steps` through a continuous top `limit`, checking the applied
/// changelog after every batch.
fn run_steps(steps: &Steps, limit: usize, update_kinds: bool) -> Result<(), TestCaseError> {
    let mut operator = continuous(limit, 1 << 30);
    let dir = tempfile::tempdir().unwrap();
    operator
        .open(&operator_support::context(dir.path()))
        .unwrap();
    let (mut net, mut table): (Vec<Vec<Value>>, Vec<Vec<Value>>) = (Vec::new(), Vec::new());
    for (i, step) in steps.iter().enumerate() {
        let mut builder = BatchBuilder::new(schema(), step.len());
        let mut kinds = Vec::new();
        // Rows retracted in this batch, so one is not retracted twice.
        let mut pending = net.clone();
        for &(insert, v, s, pick) in step {
            let (kind, row) = if insert || pending.is_empty() {
                // `x` tells equal-keyed rows apart, but not always.
                let x = Value::Float64((pick % 3) as f64);
                let row = vec![
                    v.map_or(Value::Null, Value::Int64),
                    Value::Utf8(s.into()),
                    x,
                ];
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
                let at = net.iter().position(|r| *r == row).unwrap();
                net.swap_remove(at);
            } else {
                net.push(row.clone());
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
            .process(0, &Rows::of_batch(&batch), &mut out)
            .unwrap();
        apply_batches(&mut table, &out);
        if let Err(problem) = check_top(&table, &net, limit) {
            return Err(TestCaseError::fail(format!("after batch {i}: {problem}")));
        }
    }
    let mut out = Vec::new();
    operator.end_input(0, &mut out).unwrap();
    prop_assert!(out.is_empty(), "everything was emitted as it came");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_continuous_top_n_shows_the_top_of_the_net_rows_after_every_batch(
        steps in steps(), limit in 0usize..6, update_kinds in any::<bool>(),
    ) {
        run_steps(&steps, limit, update_kinds)?;
    }
}

fn row(v: i64, s: &str) -> Vec<Value> {
    vec![Value::Int64(v), Value::Utf8(s.into()), Value::Float64(0.0)]
}

fn changes(operator: &mut ContinuousTopN, batch: &Batch) -> Vec<(RowKind, Vec<Value>)> {
    let mut out = Vec::new();
    operator
        .process(0, &Rows::of_batch(batch), &mut out)
        .unwrap();
    out.iter()
        .flat_map(|b| {
            let kinds: Vec<RowKind> = (0..b.num_rows()).map(|i| b.kind(i)).collect();
            kinds.into_iter().zip(rows(std::slice::from_ref(b)))
        })
        .collect()
}

fn batch(rows: &[Vec<Value>], kind: RowKind) -> Batch {
    let batch = operator_support::batches(&schema(), rows, rows.len())
        .pop()
        .unwrap();
    batch.with_kinds(&vec![kind; rows.len()]).unwrap()
}

#[test]
fn rows_entering_and_leaving_the_top_are_inserted_and_deleted() {
    let mut top = continuous(2, 1 << 30);
    use RowKind::{Delete as D, Insert as I};
    let got = changes(&mut top, &batch(&[row(1, "a"), row(5, "a")], I));
    assert_eq!(got, vec![(I, row(5, "a")), (I, row(1, "a"))]);
    // Below the top: nothing to say.
    assert_eq!(changes(&mut top, &batch(&[row(0, "a")], I)), vec![]);
    // A better row pushes the worst shown one out.
    let got = changes(&mut top, &batch(&[row(3, "a")], I));
    assert_eq!(got, vec![(D, row(1, "a")), (I, row(3, "a"))]);
    // Retracting a shown row brings the next best back.
    let got = changes(&mut top, &batch(&[row(5, "a")], D));
    assert_eq!(got, vec![(D, row(5, "a")), (I, row(1, "a"))]);
    // A retraction of a row it never held is an error naming the row.
    let mut out = Vec::new();
    let error = top
        .process(0, &Rows::of_batch(&batch(&[row(9, "z")], D)), &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("retracts (-D) a row it does not hold") && error.contains("v = 9, s = z"),
        "{error}"
    );
}

#[test]
fn a_continuous_top_n_over_its_budget_fails_naming_it() {
    let mut top = continuous(3, 4096);
    let many: Vec<Vec<Value>> = (0..200).map(|i| row(i, "a")).collect();
    let mut out = Vec::new();
    let error = top
        .process(0, &Rows::of_batch(&batch(&many, RowKind::Insert)), &mut out)
        .unwrap_err();
    assert!(
        matches!(&error, OperatorError::OverBudget { operator, budget: 4096, .. } if operator == "top_n"),
        "{error}"
    );
    assert!(error.to_string().contains("keeps every row"), "{error}");
}

/// Rows per key counted (a continuous aggregate in a streaming job), then
/// the five busiest keys (`top_n` over its changelog); `direct` ranks the
/// generated rows themselves instead (insert-only input).
fn ranked(mode: &str, direct: bool) -> JobSpec {
    use serde_json::json;
    let gen = json!({"id": "gen", "operator": "generate", "parallelism": 2, "params": {
        "rows": 3000, "batch_rows": 64,
        "columns": [{"name": "k", "expr": "i % (1 + i % 40)"}, {"name": "v", "expr": "(i * 7919) % 1000"}]}});
    let per_key = json!({"id": "per_key", "operator": "aggregate", "parallelism": 2, "params": {
        "group_by": ["k"], "aggregates": [{"name": "n", "function": "count"},
                                          {"name": "s", "function": "sum", "expr": "v"}]}});
    let (from, ranked_by) = if direct {
        ("gen", "v")
    } else {
        ("per_key", "n")
    };
    let top = json!({"id": "top", "operator": "top_n", "parallelism": 1, "params": {
        "limit": 5, "keys": [{"column": ranked_by, "descending": true}, {"column": "k"}]}});
    let out = json!({"id": "out", "operator": "collect"});
    let mut vertices = vec![gen, top, out];
    let mut edges = vec![
        json!({"from": from, "to": "top", "partitioning": "rebalance"}),
        json!({"from": "top", "to": "out", "partitioning": "forward"}),
    ];
    if !direct {
        vertices.insert(1, per_key);
        edges.push(json!({"from": "gen", "to": "per_key", "partitioning": {"hash": ["k"]}}));
    }
    let spec = json!({"name": "busiest", "mode": mode, "vertices": vertices, "edges": edges});
    JobSpec::parse(&spec.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_top_n_of_a_continuous_aggregate_ends_equal_to_the_batch_job() {
    for direct in [false, true] {
        let streaming = ranked("streaming", direct);
        let job = validate(&streaming).unwrap();
        let vertex = |id: &str| &job.vertices[job.vertex_index(id).unwrap()];
        assert!(vertex("top").changelog);
        assert_eq!(vertex("top").input_changelogs[0], !direct);
        assert_eq!(vertex("out").output.fields[0].name, "op");
        let batch = validate(&ranked("batch", direct)).unwrap();
        assert!(batch.vertices.iter().all(|v| !v.changelog));

        let (table, kinds) = applied(&collected(&streaming, &format!("top-s-{direct}")).await);
        let expected = sorted(rows(
            &collected(&ranked("batch", direct), &format!("top-b-{direct}")).await,
        ));
        assert_eq!(table, expected, "direct: {direct}");
        assert_eq!(expected.len(), 5);
        // The ranking moved as rows came: rows left the top as well as
        // entered it.
        assert!(
            kinds.get(&RowKind::Delete).is_some_and(|&n| n > 5),
            "{kinds:?}"
        );
    }
}

#[test]
fn sort_still_refuses_a_changelog_naming_itself() {
    let mut spec = ranked("streaming", false);
    spec.vertices[2] = serde_json::from_value(serde_json::json!({
        "id": "top", "operator": "sort", "parallelism": 1,
        "params": {"keys": [{"column": "n"}]}}))
    .unwrap();
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains(r#"vertex "top" (sort) cannot take the changelog from "per_key""#)
            && error.contains("does not handle retractions"),
        "{error}"
    );
}
