//! Random schemas and batches survive archiving: what the receiver reads
//! in place is exactly what the sender built.

use crate::support;

use faro_runtime::{BatchView, Value, ValuesView};
use proptest::prelude::*;
use support::{build, schema_and_rows};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn archived_batches_read_back_exactly((schema, rows) in schema_and_rows()) {
        let batch = build(&schema, &rows);
        let bytes = batch.to_bytes();
        let view = BatchView::new(&bytes).expect("a fresh archive validates");

        prop_assert_eq!(view.num_rows(), rows.len());
        prop_assert_eq!(view.schema(), schema.clone());
        for (r, row) in rows.iter().enumerate() {
            for (c, expected) in row.iter().enumerate() {
                let column = view.column(c).expect("column exists");
                prop_assert_eq!(&column.value(r), expected, "row {} column {}", r, c);
                let owned = batch.column(c).expect("column exists");
                prop_assert_eq!(&owned.value(r), expected);
            }
        }
        prop_assert_eq!(view.to_batch().expect("deserializes"), batch.clone());

        // Reusing a buffer gives the same bytes.
        let reused = batch.write_into(bytes.clone());
        prop_assert_eq!(reused.as_slice(), bytes.as_slice());
    }

    #[test]
    fn fixed_width_columns_are_native_slices_of_the_received_bytes((schema, rows) in schema_and_rows()) {
        let bytes = build(&schema, &rows).to_bytes();
        let view = BatchView::new(&bytes).unwrap();
        let range = bytes.as_ptr_range();
        for column in view.columns() {
            let slice_start = match column.values {
                ValuesView::Int64(values) | ValuesView::Timestamp(values) => values.as_ptr() as *const u8,
                ValuesView::Float64(values) => values.as_ptr() as *const u8,
                _ => continue,
            };
            prop_assert!(range.contains(&slice_start) || rows.is_empty(), "column {} was copied", column.name);
        }
    }
}

#[test]
fn nulls_read_back_as_nulls_with_placeholders_hidden() {
    use faro_runtime::{BatchBuilder, DataType, Field, Schema};
    let schema = Schema::new(vec![
        Field::nullable("price", DataType::Int64),
        Field::nullable("url", DataType::Utf8),
    ]);
    let mut builder = BatchBuilder::new(schema, 3);
    builder.push_row(&[Value::Int64(5), Value::Null]).unwrap();
    builder
        .push_row(&[Value::Null, Value::Utf8("a".into())])
        .unwrap();
    builder
        .push_row(&[Value::Int64(7), Value::Utf8("bc".into())])
        .unwrap();
    let bytes = builder.finish().unwrap().to_bytes();
    let view = BatchView::new(&bytes).unwrap();
    let price = view.column_by_name("price").unwrap();
    assert_eq!(
        (0..3).map(|r| price.value(r)).collect::<Vec<_>>(),
        [Value::Int64(5), Value::Null, Value::Int64(7)]
    );
    assert_eq!(price.validity.unwrap().count_ones(), 2);
    let url = view.column_by_name("url").unwrap();
    assert!(url.is_null(0) && !url.is_null(1));
    let ValuesView::Utf8(text) = url.values else {
        panic!("utf8 column")
    };
    assert_eq!(text.value(2), "bc");
}
