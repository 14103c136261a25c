//! `sort`, `top_n` and `hash_join` against naive references on random
//! inputs with nulls, empty inputs and spills.

use crate::operator_support;

use std::cmp::Ordering;

use faro_runtime::operators::join::{HashJoin, JoinKind, JoinParams};
use faro_runtime::operators::sort::{Sort, SortKey, TopN};
use faro_runtime::{DataType, Field, Schema, Value};
use operator_support::{batches, rows, run, run_inputs, sorted};
use proptest::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        Field::nullable("k", DataType::Int64),
        Field::new("s", DataType::Utf8),
        Field::new("x", DataType::Float64),
    ])
}

fn input_rows() -> impl Strategy<Value = Vec<Vec<Value>>> {
    prop::collection::vec(
        (
            prop::option::of(-20i64..20),
            prop::sample::select(vec!["a", "b", "c", "é", ""]),
            -100.0f64..100.0,
        ),
        0..400,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(k, s, x)| {
                vec![
                    k.map_or(Value::Null, Value::Int64),
                    Value::Utf8(s.into()),
                    Value::Float64(x),
                ]
            })
            .collect()
    })
}

/// Nulls first; then by value; descending reverses.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Int64(x), Value::Int64(y)) => x.cmp(y),
        (Value::Float64(x), Value::Float64(y)) => x.total_cmp(y),
        (Value::Utf8(x), Value::Utf8(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => Ordering::Equal,
    }
}

fn keys() -> Vec<SortKey> {
    vec![
        SortKey {
            column: "k".into(),
            descending: true,
        },
        SortKey {
            column: "s".into(),
            descending: false,
        },
        SortKey {
            column: "x".into(),
            descending: false,
        },
    ]
}

fn reference_sort(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by(|a, b| {
        compare(&b[0], &a[0])
            .then_with(|| compare(&a[1], &b[1]))
            .then_with(|| compare(&a[2], &b[2]))
    });
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn sort_orders_like_the_reference_with_and_without_spilling(
        input in input_rows(), per_batch in 1usize..50, budget in prop::option::of(100u64..3000),
    ) {
        let mut op = Sort::new(&keys(), &schema(), budget).unwrap();
        let got = rows(&run(&mut op, &batches(&schema(), &input, per_batch)));
        prop_assert_eq!(got, reference_sort(input));
    }

    #[test]
    fn top_n_keeps_the_first_rows(input in input_rows(), per_batch in 1usize..50, limit in 0usize..30) {
        let mut op = TopN::new(&keys(), &schema(), limit, 1 << 30).unwrap();
        let got = rows(&run(&mut op, &batches(&schema(), &input, per_batch)));
        let mut want = reference_sort(input);
        want.truncate(limit);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn hash_join_matches_a_nested_loop(
        left in input_rows(), right in input_rows(), per_batch in 1usize..50, left_join in any::<bool>(),
    ) {
        let right_schema = Schema::new(vec![
            Field::nullable("rk", DataType::Int64),
            Field::new("rs", DataType::Utf8),
            Field::new("rx", DataType::Float64),
        ]);
        let kind = if left_join { JoinKind::Left } else { JoinKind::Inner };
        let mut output = schema().fields;
        output.extend(right_schema.fields.iter().cloned().map(|mut f| {
            f.nullable |= left_join;
            f
        }));
        let output = Schema::new(output);
        let params = JoinParams {
            left: "l".into(),
            right: "r".into(),
            left_keys: vec!["k".into(), "s".into()],
            right_keys: vec!["rk".into(), "rs".into()],
            kind,
            memory_bytes: None,
        };
        let mut op = HashJoin::new(&params, &schema(), &right_schema, &output).unwrap();
        let l = batches(&schema(), &left, per_batch);
        let r = batches(&right_schema, &right, per_batch);
        let got = rows(&run_inputs(&mut op, &[&l, &r]));
        let mut want = Vec::new();
        for a in &left {
            let mut matched = false;
            for b in &right {
                if a[0] != Value::Null && a[0] == b[0] && a[1] == b[1] {
                    matched = true;
                    want.push(a.iter().chain(b).cloned().collect::<Vec<_>>());
                }
            }
            if !matched && left_join {
                want.push(a.iter().cloned().chain([Value::Null, Value::Null, Value::Null]).collect());
            }
        }
        prop_assert_eq!(sorted(got), sorted(want));
    }
}

#[test]
fn a_join_whose_build_side_is_over_budget_fails_clearly() {
    let right: Vec<Vec<Value>> = (0..2000)
        .map(|i| {
            vec![
                Value::Int64(i),
                Value::Utf8("x".into()),
                Value::Float64(0.0),
            ]
        })
        .collect();
    let params = JoinParams {
        left: "l".into(),
        right: "r".into(),
        left_keys: vec!["k".into()],
        right_keys: vec!["k".into()],
        kind: JoinKind::Inner,
        memory_bytes: Some(10_000),
    };
    let mut output = schema().fields;
    output.extend(schema().fields.iter().map(|f| Field {
        name: format!("r_{}", f.name),
        ..f.clone()
    }));
    let mut op = HashJoin::new(&params, &schema(), &schema(), &Schema::new(output)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    use faro_runtime::operator::{Operator, Rows};
    op.open(&operator_support::context(dir.path())).unwrap();
    let mut out = Vec::new();
    let err = batches(&schema(), &right, 100)
        .iter()
        .find_map(|b| op.process(1, &Rows::of_batch(b), &mut out).err())
        .expect("the build side outgrows 10 kB");
    let message = err.to_string();
    assert!(
        message.starts_with("hash_join: needs more than its memory budget of 10000 bytes"),
        "{message}"
    );
    assert!(message.contains("build (right) side"), "{message}");
}

#[test]
fn a_top_n_whose_rows_outgrow_its_memory_fails_clearly() {
    use faro_runtime::operator::{Operator, Rows};
    let input: Vec<Vec<Value>> = (0..20_000)
        .map(|i| {
            vec![
                Value::Int64(i),
                Value::Utf8("a value of some length".into()),
                Value::Float64(0.5),
            ]
        })
        .collect();
    let mut op = TopN::new(&keys(), &schema(), usize::MAX, 64 << 10).unwrap();
    let dir = tempfile::tempdir().unwrap();
    op.open(&operator_support::context(dir.path())).unwrap();
    let mut out = Vec::new();
    let error = batches(&schema(), &input, 1000)
        .iter()
        .find_map(|b| op.process(0, &Rows::of_batch(b), &mut out).err())
        .expect("over budget")
        .to_string();
    assert!(
        error.contains("top_n: needs more than its memory budget of 65536 bytes"),
        "{error}"
    );
}
