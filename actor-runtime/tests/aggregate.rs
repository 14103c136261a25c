//! `aggregate` against a naive reference on random rows with nulls, empty
//! inputs and spills: complete, complete under a tiny memory budget (it
//! spills and still gets the exact answer), and partial aggregates on
//! three "producers" merged by a final aggregate.

use crate::operator_support;

use std::collections::{BTreeMap, BTreeSet};

use faro_runtime::operators::aggregate::{
    Aggregate, AggregateFunction as F, AggregateMode, AggregateParams, AggregateSpec,
};
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value};
use operator_support::{batches, rows, run, sorted};
use proptest::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        Field::nullable("k", DataType::Int64),
        Field::new("s", DataType::Utf8),
        Field::nullable("v", DataType::Int64),
        Field::new("x", DataType::Float64),
    ])
}

fn spec(name: &str, function: F, expr: Option<&str>) -> AggregateSpec {
    AggregateSpec {
        name: name.into(),
        function,
        expr: expr.map(str::to_string),
    }
}

fn params(group_by: &[&str], distinct: bool, memory_bytes: Option<u64>) -> AggregateParams {
    let mut aggregates = vec![
        spec("n", F::Count, None),
        spec("nv", F::Count, Some("v")),
        spec("sum_v", F::Sum, Some("v")),
        spec("min_v", F::Min, Some("v")),
        spec("max_x", F::Max, Some("x")),
        spec("min_s", F::Min, Some("s")),
        spec("avg_v", F::Avg, Some("v")),
        spec("sum_x", F::Sum, Some("x * 2")),
    ];
    if distinct {
        aggregates.push(spec("dv", F::CountDistinct, Some("v")));
    }
    AggregateParams {
        group_by: group_by.iter().map(|s| s.to_string()).collect(),
        aggregates,
        memory_bytes,
    }
}

/// The reference: group with a BTreeMap, compute each aggregate plainly.
fn reference(rows: &[Vec<Value>], keys: &[usize], distinct: bool) -> Vec<Vec<Value>> {
    let mut groups: BTreeMap<String, (Vec<Value>, Vec<&Vec<Value>>)> = BTreeMap::new();
    for row in rows {
        let key: Vec<Value> = keys.iter().map(|&k| row[k].clone()).collect();
        groups
            .entry(format!("{key:?}"))
            .or_insert_with(|| (key, Vec::new()))
            .1
            .push(row);
    }
    if keys.is_empty() && groups.is_empty() {
        groups.insert(String::new(), (Vec::new(), Vec::new()));
    }
    let int = |v: &Value| match v {
        Value::Int64(i) => Some(*i),
        _ => None,
    };
    let float = |v: &Value| match v {
        Value::Float64(f) => *f,
        _ => 0.0,
    };
    let text = |v: &Value| match v {
        Value::Utf8(s) => s.clone(),
        _ => String::new(),
    };
    groups
        .into_values()
        .map(|(mut key, members)| {
            let vs: Vec<i64> = members.iter().filter_map(|r| int(&r[2])).collect();
            let xs: Vec<f64> = members.iter().map(|r| float(&r[3])).collect();
            let ss: Vec<String> = members.iter().map(|r| text(&r[1])).collect();
            let opt_i = |v: Option<i64>| v.map_or(Value::Null, Value::Int64);
            let opt_f = |v: Option<f64>| v.map_or(Value::Null, Value::Float64);
            key.extend([
                Value::Int64(members.len() as i64),
                Value::Int64(vs.len() as i64),
                opt_i((!vs.is_empty()).then(|| vs.iter().sum())),
                opt_i(vs.iter().min().copied()),
                opt_f(xs.iter().copied().reduce(f64::max)),
                ss.iter().min().cloned().map_or(Value::Null, Value::Utf8),
                opt_f((!vs.is_empty()).then(|| vs.iter().sum::<i64>() as f64 / vs.len() as f64)),
                opt_f((!xs.is_empty()).then(|| xs.iter().map(|x| x * 2.0).sum())),
            ]);
            if distinct {
                key.push(Value::Int64(vs.iter().collect::<BTreeSet<_>>().len() as i64));
            }
            key
        })
        .collect()
}

fn input_rows() -> impl Strategy<Value = Vec<Vec<Value>>> {
    prop::collection::vec(
        (
            prop::option::of(0i64..6),
            prop::sample::select(vec!["a", "b", "é", ""]),
            prop::option::of(-1000i64..1000),
            (-40i32..40).prop_map(|q| f64::from(q) * 0.25),
        ),
        0..300,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(k, s, v, x)| {
                vec![
                    k.map_or(Value::Null, Value::Int64),
                    Value::Utf8(s.into()),
                    v.map_or(Value::Null, Value::Int64),
                    Value::Float64(x),
                ]
            })
            .collect()
    })
}

fn complete(params: &AggregateParams, input: &[Batch]) -> Vec<Vec<Value>> {
    let mut op = Aggregate::new(params, &schema(), AggregateMode::Complete).unwrap();
    rows(&run(&mut op, input))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn grouped_aggregates_match_the_reference(input in input_rows(), per_batch in 1usize..64) {
        let batches = batches(&schema(), &input, per_batch);
        let want = sorted(reference(&input, &[0, 1], true));
        prop_assert_eq!(sorted(complete(&params(&["k", "s"], true, None), &batches)), want);
    }

    #[test]
    fn grouped_by_one_text_column_matches_the_reference(input in input_rows(), per_batch in 1usize..64) {
        let batches = batches(&schema(), &input, per_batch);
        let want = sorted(reference(&input, &[1], true));
        prop_assert_eq!(sorted(complete(&params(&["s"], true, None), &batches)), want.clone());
        prop_assert_eq!(sorted(complete(&params(&["s"], true, Some(64)), &batches)), want);
    }

    #[test]
    fn a_tiny_budget_spills_and_gets_the_same_answer(input in input_rows(), per_batch in 1usize..64) {
        let batches = batches(&schema(), &input, per_batch);
        let want = sorted(reference(&input, &[0, 1], true));
        let spilling = params(&["k", "s"], true, Some(64));
        prop_assert_eq!(sorted(complete(&spilling, &batches)), want);
    }

    #[test]
    fn partial_then_final_equals_complete(input in input_rows(), per_batch in 1usize..64) {
        let batches = batches(&schema(), &input, per_batch);
        let partial_params = params(&["k"], true, Some(200));
        let mut states = Vec::new();
        for producer in 0..3 {
            let mine: Vec<Batch> = batches.iter().skip(producer).step_by(3).cloned().collect();
            let mut partial = Aggregate::new(&partial_params, &schema(), AggregateMode::Partial).unwrap();
            states.extend(run(&mut partial, &mine));
        }
        let mut last = Aggregate::new(&params(&["k"], true, Some(64)), &schema(), AggregateMode::Final).unwrap();
        let got = rows(&run(&mut last, &states));
        prop_assert_eq!(sorted(got), sorted(reference(&input, &[0], true)));
    }
}

#[test]
fn a_global_aggregate_of_nothing_is_one_row() {
    let got = complete(&params(&[], false, None), &[]);
    assert_eq!(got, reference(&[], &[], false));
    assert_eq!(got[0][0], Value::Int64(0));
    assert_eq!(got[0][2], Value::Null, "sum of no values is null");
}

#[test]
fn count_distinct_state_that_is_not_a_set_fails_clearly() {
    let final_params = params(&["k"], true, None);
    let state_schema = Aggregate::new(&final_params, &schema(), AggregateMode::Final)
        .unwrap()
        .state_schema();
    let sets = state_schema.index_of("dv").unwrap();
    let mut builder = BatchBuilder::new(state_schema.clone(), 1);
    for (at, field) in state_schema.fields.iter().enumerate() {
        let column = builder.column(at);
        match field.data_type {
            // A value's length says 9 bytes follow; 2 do.
            DataType::Binary if at == sets => column.push_bytes(&[9, 0, 0, 0, 1, 2]).unwrap(),
            DataType::Float64 => column.push_f64(0.0).unwrap(),
            DataType::Utf8 => column.push_str("a").unwrap(),
            _ => column.push_i64(1).unwrap(),
        }
    }
    let state = builder.finish().unwrap();
    let mut last = Aggregate::new(&final_params, &schema(), AggregateMode::Final).unwrap();
    let dir = tempfile::tempdir().unwrap();
    use faro_runtime::operator::{Operator, Rows};
    last.open(&operator_support::context(dir.path())).unwrap();
    let err = last
        .process(0, &Rows::of_batch(&state), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("row 0 of dv is not a set of distinct values"),
        "{err}"
    );
}

#[test]
fn an_integer_sum_that_overflows_fails_naming_the_aggregate_and_group() {
    let input = vec![
        vec![
            Value::Int64(7),
            Value::Utf8("a".into()),
            Value::Int64(i64::MAX),
            Value::Float64(0.0),
        ],
        vec![
            Value::Int64(7),
            Value::Utf8("b".into()),
            Value::Int64(1),
            Value::Float64(0.0),
        ],
    ];
    let batches = batches(&schema(), &input, 1);
    let params = AggregateParams {
        group_by: vec!["k".into()],
        aggregates: vec![spec("total", F::Sum, Some("v"))],
        memory_bytes: None,
    };
    for mode in [AggregateMode::Complete, AggregateMode::Partial] {
        let mut op = Aggregate::new(&params, &schema(), mode).unwrap();
        let dir = tempfile::tempdir().unwrap();
        use faro_runtime::operator::{Operator, Rows};
        op.open(&operator_support::context(dir.path())).unwrap();
        let mut out = Vec::new();
        let err = batches
            .iter()
            .find_map(|b| op.process(0, &Rows::of_batch(b), &mut out).err())
            .expect("the second row overflows the sum");
        assert_eq!(
            err.to_string(),
            "BIGINT overflow in a sum in \"sum(v) AS total\" at the row where k = 7"
        );
    }
}

#[test]
fn nan_and_the_two_zeros_are_one_group_each() {
    let other_nan = f64::from_bits(f64::NAN.to_bits() | 1);
    let input: Vec<Vec<Value>> = [f64::NAN, -other_nan, 0.0, -0.0, 1.0]
        .iter()
        .map(|x| {
            vec![
                Value::Int64(1),
                Value::Utf8("a".into()),
                Value::Int64(1),
                Value::Float64(*x),
            ]
        })
        .collect();
    let params = AggregateParams {
        group_by: vec!["x".into()],
        aggregates: vec![spec("n", F::Count, None)],
        memory_bytes: None,
    };
    let mut counts: Vec<i64> = complete(&params, &batches(&schema(), &input, 2))
        .iter()
        .map(|row| match row[1] {
            Value::Int64(n) => n,
            _ => -1,
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 2], "1.0 alone; both NaNs; both zeros");
    let max = AggregateParams {
        group_by: vec![],
        aggregates: vec![
            spec("top", F::Max, Some("x")),
            spec("low", F::Min, Some("x")),
        ],
        memory_bytes: None,
    };
    let got = complete(&max, &batches(&schema(), &input, 2));
    assert!(
        matches!(got[0][0], Value::Float64(v) if v.is_nan()),
        "NaN is the largest: {got:?}"
    );
    assert_eq!(got[0][1], Value::Float64(0.0));
}
