//! Shared by the batch tests: proptest strategies for random schemas and
//! the rows that fit them.

#![allow(dead_code)]

use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value, VectorElement};
use proptest::prelude::*;

pub fn data_type() -> impl Strategy<Value = DataType> {
    prop_oneof![
        Just(DataType::Bool),
        Just(DataType::Int64),
        Just(DataType::Float64),
        Just(DataType::Utf8),
        Just(DataType::Binary),
        Just(DataType::Timestamp),
        (
            prop_oneof![Just(VectorElement::F32), Just(VectorElement::F64)],
            1u32..5
        )
            .prop_map(|(element, dim)| DataType::Vector { element, dim }),
    ]
}

pub fn schema() -> impl Strategy<Value = Schema> {
    proptest::collection::vec((data_type(), any::<bool>(), "[a-zé_]{0,6}"), 0..7).prop_map(
        |fields| {
            Schema::new(
                fields
                    .into_iter()
                    .enumerate()
                    .map(|(i, (data_type, nullable, name))| Field {
                        name: format!("{name}{i}"),
                        data_type,
                        nullable,
                    })
                    .collect(),
            )
        },
    )
}

fn value(data_type: DataType) -> BoxedStrategy<Value> {
    match data_type {
        DataType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        DataType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        DataType::Float64 => (-1e12f64..1e12).prop_map(Value::Float64).boxed(),
        DataType::Utf8 => ".{0,12}".prop_map(Value::Utf8).boxed(),
        DataType::Binary => proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(Value::Binary)
            .boxed(),
        DataType::Timestamp => any::<i64>().prop_map(Value::Timestamp).boxed(),
        DataType::Vector {
            element: VectorElement::F32,
            dim,
        } => proptest::collection::vec(-1e6f32..1e6, dim as usize)
            .prop_map(Value::F32Vector)
            .boxed(),
        DataType::Vector {
            element: VectorElement::F64,
            dim,
        } => proptest::collection::vec(-1e6f64..1e6, dim as usize)
            .prop_map(Value::F64Vector)
            .boxed(),
    }
}

fn cell(field: &Field) -> BoxedStrategy<Value> {
    if field.nullable {
        prop_oneof![1 => Just(Value::Null), 4 => value(field.data_type)].boxed()
    } else {
        value(field.data_type)
    }
}

/// A schema and rows of values that fit it.
pub fn schema_and_rows() -> impl Strategy<Value = (Schema, Vec<Vec<Value>>)> {
    (schema(), 0usize..60).prop_flat_map(|(schema, rows)| {
        let row: Vec<BoxedStrategy<Value>> = schema.fields.iter().map(cell).collect();
        (Just(schema), proptest::collection::vec(row, rows))
    })
}

pub fn build(schema: &Schema, rows: &[Vec<Value>]) -> Batch {
    let mut builder = BatchBuilder::new(schema.clone(), rows.len());
    for row in rows {
        builder
            .push_row(row)
            .expect("generated rows fit their schema");
    }
    builder.finish().expect("builder output is a valid batch")
}
