//! `top_n` per partition, numbered or not (SQL's `ROW_NUMBER() OVER
//! (PARTITION BY …)`): its changelog, applied in order, holds after every
//! batch the best `limit` net rows of each partition with ranks 1…n in
//! order — over random inserts and retractions, and over input that only
//! grows (where it keeps only each partition's best rows); a streaming job
//! ends equal to the batch job; its state restores to the same output.

use crate::changelog_support;
use crate::operator_support;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use changelog_support::{applied, apply_batches, collected};
use faro_runtime::operator::{Operator, Rows};
use faro_runtime::operators::sort::{ContinuousTopN, RankingSpec, SortKey};
use faro_runtime::spec::JobSpec;
use faro_runtime::{BatchBuilder, DataType, Field, RowKind, Schema, Value};
use operator_support::{rows, sorted};
use proptest::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("p", DataType::Utf8),
        Field::nullable("v", DataType::Int64),
        Field::new("x", DataType::Int64),
    ])
}

/// Smallest `v` first (nulls first, as ascending puts them).
fn keys() -> Vec<SortKey> {
    vec![SortKey {
        column: "v".into(),
        descending: false,
    }]
}

fn top_n(limit: usize, rank: bool, retracting: bool, continuous: bool) -> ContinuousTopN {
    let spec = RankingSpec {
        keys: &keys(),
        partition_by: &["p".to_string()],
        limit,
        rank: rank.then_some("rn"),
        budget: 1 << 30,
        continuous,
        retracting,
    };
    ContinuousTopN::new(&spec, &schema()).unwrap()
}

fn v(row: &[Value]) -> Option<i64> {
    match row[1] {
        Value::Int64(v) => Some(v),
        _ => None,
    }
}

/// Rows by partition.
fn by_partition(rows: &[Vec<Value>]) -> BTreeMap<String, Vec<Vec<Value>>> {
    let mut parts: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    for row in rows {
        parts
            .entry(row[0].to_string())
            .or_default()
            .push(row.clone());
    }
    parts
}

fn rank(row: &[Value]) -> i64 {
    match row[3] {
        Value::Int64(rank) => rank,
        _ => panic!("no rank in {row:?}"),
    }
}

/// `table` holds, per partition, a best `limit` of the net rows, and when
/// `ranked` their numbers 1…n in order.
fn check(
    table: &[Vec<Value>],
    net: &[Vec<Value>],
    limit: usize,
    ranked: bool,
) -> Result<(), String> {
    let shown = by_partition(table);
    let net = by_partition(net);
    for (partition, rows) in &net {
        let want = limit.min(rows.len());
        let got = shown.get(partition).cloned().unwrap_or_default();
        if got.len() != want {
            return Err(format!(
                "{partition:?}: {} rows shown, want {want}",
                got.len()
            ));
        }
        let mut got = got;
        if ranked {
            got.sort_by_key(|r| rank(r));
            let ranks: Vec<i64> = got.iter().map(|r| rank(r)).collect();
            let want: Vec<i64> = (1..=got.len() as i64).collect();
            if ranks != want {
                return Err(format!("{partition:?}: ranks {ranks:?}"));
            }
            if got
                .windows(2)
                .any(|w| v(&w[0]).cmp(&v(&w[1])) == Ordering::Greater)
            {
                return Err(format!("{partition:?}: numbered out of order: {got:?}"));
            }
            for row in &mut got {
                row.pop();
            }
        }
        let mut rest = rows.clone();
        for row in &got {
            let at = rest.iter().position(|r| r == row);
            let at = at.ok_or_else(|| format!("{row:?} is shown but not a net row"))?;
            rest.swap_remove(at);
        }
        let worst = got.iter().map(|r| v(r)).max();
        if let Some(better) = rest.iter().find(|r| worst.is_some_and(|w| v(r) < w)) {
            return Err(format!(
                "{partition:?}: {better:?} is better than a shown row"
            ));
        }
    }
    match shown.keys().find(|p| !net.contains_key(*p)) {
        Some(p) => Err(format!("partition {p:?} shown without net rows")),
        None => Ok(()),
    }
}

/// One batch: rows to insert (`true`: partition, value) or retract
/// (`false`: an index into the net rows).
type Steps = Vec<Vec<(bool, &'static str, Option<i64>, usize)>>;

fn steps(retractions: bool) -> impl Strategy<Value = Steps> {
    let insert = if retractions { 0.65 } else { 1.0 };
    let op = (
        prop::bool::weighted(insert),
        prop::sample::select(vec!["a", "b", "c"]),
        prop::option::weighted(0.9, 0i64..8),
        any::<usize>(),
    );
    prop::collection::vec(prop::collection::vec(op, 1..8), 1..25)
}

fn run(steps: &Steps, limit: usize, ranked: bool, retracting: bool) -> Result<(), TestCaseError> {
    let mut operator = top_n(limit, ranked, retracting, true);
    let (mut net, mut table): (Vec<Vec<Value>>, Vec<Vec<Value>>) = (Vec::new(), Vec::new());
    for (i, step) in steps.iter().enumerate() {
        let mut builder = BatchBuilder::new(schema(), step.len());
        let mut kinds = Vec::new();
        let mut pending = net.clone();
        for &(insert, p, value, pick) in step {
            let (kind, row) = if insert || pending.is_empty() {
                let row = vec![
                    Value::Utf8(p.into()),
                    value.map_or(Value::Null, Value::Int64),
                    Value::Int64((pick % 2) as i64),
                ];
                net.push(row.clone());
                (RowKind::Insert, row)
            } else {
                let row = pending.swap_remove(pick % pending.len());
                let at = net.iter().position(|r| *r == row).unwrap();
                net.swap_remove(at);
                (RowKind::Delete, row)
            };
            builder.push_row(&row).unwrap();
            kinds.push(kind);
        }
        let batch = builder.finish().unwrap().with_kinds(&kinds).unwrap();
        let mut out = Vec::new();
        operator
            .process(0, &Rows::of_batch(&batch), &mut out)
            .unwrap();
        apply_batches(&mut table, &out);
        if let Err(problem) = check(&table, &net, limit, ranked) {
            return Err(TestCaseError::fail(format!("after batch {i}: {problem}")));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn over_a_changelog_each_partition_shows_its_best_rows_after_every_batch(
        steps in steps(true), limit in 0usize..4, ranked in any::<bool>(),
    ) {
        run(&steps, limit, ranked, true)?;
    }

    #[test]
    fn over_inserts_only_it_keeps_just_the_best_and_shows_the_same(
        steps in steps(false), limit in 1usize..4, ranked in any::<bool>(),
    ) {
        run(&steps, limit, ranked, false)?;
    }
}

#[test]
fn a_row_entering_first_renumbers_the_rows_below_it() {
    let mut top = top_n(3, true, false, true);
    let row = |p: &str, v: i64| vec![Value::Utf8(p.into()), Value::Int64(v), Value::Int64(0)];
    let process = |top: &mut ContinuousTopN, rows: &[Vec<Value>]| {
        let batch = operator_support::batches(&schema(), rows, rows.len())
            .pop()
            .unwrap();
        let mut out = Vec::new();
        top.process(0, &Rows::of_batch(&batch), &mut out).unwrap();
        let kinds: Vec<RowKind> = out
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(|i| b.kind(i)))
            .collect();
        kinds
            .into_iter()
            .zip(operator_support::rows(&out))
            .collect::<Vec<_>>()
    };
    process(&mut top, &[row("a", 5), row("a", 7), row("b", 1)]);
    let with_rank = |mut r: Vec<Value>, rank: i64| {
        r.push(Value::Int64(rank));
        r
    };
    use RowKind::{Delete as D, Insert as I};
    // Partition b is untouched; in a, 5 and 7 move down a rank.
    assert_eq!(
        process(&mut top, &[row("a", 2)]),
        vec![
            (D, with_rank(row("a", 5), 1)),
            (D, with_rank(row("a", 7), 2)),
            (I, with_rank(row("a", 2), 1)),
            (I, with_rank(row("a", 5), 2)),
            (I, with_rank(row("a", 7), 3)),
        ]
    );
}

#[test]
fn a_restored_top_n_goes_on_as_if_it_had_not_stopped() {
    let rows: Vec<Vec<Value>> = (0..60)
        .map(|i| {
            vec![
                Value::Utf8(["a", "b", "c"][i % 3].into()),
                Value::Int64(((i * 37) % 23) as i64),
                Value::Int64(i as i64),
            ]
        })
        .collect();
    let batches = operator_support::batches(&schema(), &rows, 7);
    let (first, second) = batches.split_at(4);
    let feed = |top: &mut ContinuousTopN, batches: &[faro_runtime::Batch]| {
        let mut out = Vec::new();
        for batch in batches {
            top.process(0, &Rows::of_batch(batch), &mut out).unwrap();
        }
        out
    };
    let mut whole = top_n(2, true, false, true);
    let mut expected = Vec::new();
    apply_batches(&mut expected, &feed(&mut whole, batches.as_slice()));

    let mut before = top_n(2, true, false, true);
    let mut table = Vec::new();
    apply_batches(&mut table, &feed(&mut before, first));
    let state = before.snapshot_state(1).unwrap().unwrap();
    let mut after = top_n(2, true, false, true);
    after.restore_state(&state).unwrap();
    apply_batches(&mut table, &feed(&mut after, second));
    assert_eq!(sorted(table), sorted(expected));
}

/// Per `k`, the two smallest `v` numbered (`rn`), in `mode`.
fn per_key(mode: &str) -> JobSpec {
    use serde_json::json;
    let spec = json!({"name": "per-key", "mode": mode, "vertices": [
        {"id": "gen", "operator": "generate", "parallelism": 2, "params": {
            "rows": 4000, "batch_rows": 64,
            "columns": [{"name": "k", "expr": "i % 13"}, {"name": "v", "expr": "(i * 7919) % 1009"}]}},
        {"id": "top", "operator": "top_n", "parallelism": 2, "params": {
            "limit": 2, "partition_by": ["k"], "rank": "rn",
            "keys": [{"column": "v"}]}},
        {"id": "out", "operator": "collect"}],
      "edges": [
        {"from": "gen", "to": "top", "partitioning": {"hash": ["k"]}},
        {"from": "top", "to": "out", "partitioning": "rebalance"}]});
    JobSpec::parse(&spec.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_top_n_per_key_ends_equal_to_the_batch_job() {
    let (table, kinds) = applied(&collected(&per_key("streaming"), "per-key-s").await);
    let batch = sorted(rows(&collected(&per_key("batch"), "per-key-b").await));
    assert_eq!(table, batch);
    assert_eq!(batch.len(), 26);
    // Computed directly: the two smallest values of each key, numbered.
    let mut want = Vec::new();
    for k in 0..13i64 {
        let mut values: Vec<i64> = (0..4000i64)
            .filter(|i| i % 13 == k)
            .map(|i| (i * 7919) % 1009)
            .collect();
        values.sort();
        for (rank, v) in values.iter().take(2).enumerate() {
            want.push(vec![
                Value::Int64(k),
                Value::Int64(*v),
                Value::Int64(rank as i64 + 1),
            ]);
        }
    }
    assert_eq!(batch, sorted(want));
    assert!(
        kinds.get(&RowKind::Delete).is_some_and(|&n| n > 0),
        "{kinds:?}"
    );
}
