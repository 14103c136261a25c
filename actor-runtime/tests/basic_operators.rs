//! `generate`, `filter`, `project` and `union` against plain Rust
//! references on random inputs with nulls and empty batches.

use crate::operator_support;

use faro_runtime::operator::{OperatorContext, Source};
use faro_runtime::operators::basic::{Filter, Generate, GenerateParams, Project, Union};
use faro_runtime::spec::columns;
use faro_runtime::{DataType, Field, Schema, Value};
use operator_support::{batches, rows, run, run_inputs};
use proptest::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        Field::nullable("a", DataType::Int64),
        Field::new("s", DataType::Utf8),
    ])
}

fn input_rows() -> impl Strategy<Value = Vec<Vec<Value>>> {
    prop::collection::vec(
        (
            prop::option::of(-5i64..5),
            prop::sample::select(vec!["x", "y", "zé", ""]),
        ),
        0..200,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(a, s)| vec![a.map_or(Value::Null, Value::Int64), Value::Utf8(s.into())])
            .collect()
    })
}

fn generated(count: u64, parallelism: u32, batch_rows: usize) -> Vec<Vec<Value>> {
    let params = GenerateParams {
        rows: Some(count),
        rows_per_second: None,
        event_time: None,
        columns: columns(&[
            ("i", "i"),
            ("r", "random_int(0, 10)"),
            ("t", "CAST(i % 3 AS VARCHAR)"),
        ]),
        seed: 42,
        batch_rows,
    };
    let mut all = Vec::new();
    for subtask in 0..parallelism {
        let mut source = Generate::new(params.clone()).unwrap();
        let context = OperatorContext {
            vertex: "gen".into(),
            subtask,
            parallelism,
            attempt: 0,
            spill_dir: std::env::temp_dir(),
            access: std::sync::Arc::new(faro_runtime::access::AccessPolicy::deny_all()),
        };
        source.open(&context).unwrap();
        while let Some(batch) = source.next_batch().unwrap() {
            assert!(batch.num_rows() <= batch_rows);
            all.extend(rows(&[batch]));
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn filter_keeps_exactly_the_true_rows(input in input_rows(), per_batch in 1usize..40) {
        let mut op = Filter::new("a > 0 AND s <> 'x'", &schema()).unwrap();
        let got = rows(&run(&mut op, &batches(&schema(), &input, per_batch)));
        let want: Vec<Vec<Value>> = input
            .iter()
            .filter(|r| matches!(r[0], Value::Int64(a) if a > 0) && r[1] != Value::Utf8("x".into()))
            .cloned()
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn project_computes_each_row(input in input_rows(), per_batch in 1usize..40) {
        let mut op = Project::new(&columns(&[("twice", "a * 2"), ("loud", "upper(s)")]), &schema()).unwrap();
        let got = rows(&run(&mut op, &batches(&schema(), &input, per_batch)));
        let want: Vec<Vec<Value>> = input
            .iter()
            .map(|r| {
                let twice = match r[0] { Value::Int64(a) => Value::Int64(a * 2), _ => Value::Null };
                let Value::Utf8(s) = &r[1] else { unreachable!() };
                vec![twice, Value::Utf8(s.to_uppercase())]
            })
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn union_passes_every_input_through(left in input_rows(), right in input_rows()) {
        let mut op = Union::new(&schema());
        let (l, r) = (batches(&schema(), &left, 7), batches(&schema(), &right, 11));
        let got = rows(&run_inputs(&mut op, &[&l, &r]));
        prop_assert_eq!(got, left.into_iter().chain(right).collect::<Vec<_>>());
    }

    #[test]
    fn generate_is_the_same_however_it_is_split(rows in 0u64..3000, parallelism in 1u32..5, batch_rows in 1usize..700) {
        let whole = generated(rows, 1, 4096);
        let mut split = generated(rows, parallelism, batch_rows);
        split.sort_by_key(|r| match r[0] { Value::Int64(i) => i, _ => -1 });
        prop_assert_eq!(split.len() as u64, rows);
        prop_assert_eq!(split, whole);
    }
}
