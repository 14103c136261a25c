//! Untrusted bytes: corrupt, truncated or hostile archives are errors that
//! name what is wrong, never panics, and a view that does validate can be
//! read completely.

use crate::support;

use faro_runtime::{BatchBuilder, BatchError, BatchView, DataType, Field, Schema, Value};
use proptest::prelude::*;
use rkyv::util::AlignedVec;
use support::{build, schema_and_rows};

fn aligned(bytes: &[u8]) -> AlignedVec {
    let mut buffer = AlignedVec::with_capacity(bytes.len());
    buffer.extend_from_slice(bytes);
    buffer
}

/// Reads every cell, as a consumer would; must not panic.
fn read_everything(view: &BatchView<'_>) {
    for column in view.columns() {
        for row in 0..view.num_rows() {
            std::hint::black_box(column.value(row));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_archives_never_panic(
        (schema, rows) in schema_and_rows(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
    ) {
        let mut bytes = build(&schema, &rows).to_bytes().to_vec();
        for (index, mask) in flips {
            let at = index.index(bytes.len());
            bytes[at] ^= mask;
        }
        let bytes = aligned(&bytes);
        if let Ok(view) = BatchView::new(&bytes) {
            read_everything(&view);
            let _ = view.to_batch();
        }
    }

    #[test]
    fn truncated_archives_never_panic((schema, rows) in schema_and_rows(), cut in any::<prop::sample::Index>()) {
        let bytes = build(&schema, &rows).to_bytes();
        let cut = cut.index(bytes.len());
        let truncated = aligned(&bytes[..cut]);
        if let Ok(view) = BatchView::new(&truncated) {
            read_everything(&view);
        }
    }
}

fn bids() -> Schema {
    Schema::new(vec![
        Field::new("auction", DataType::Int64),
        Field::new("channel", DataType::Utf8),
    ])
}

fn small_batch() -> AlignedVec {
    let mut builder = BatchBuilder::new(bids(), 2);
    builder
        .push_row(&[Value::Int64(1), Value::Utf8("Apple".into())])
        .unwrap();
    builder
        .push_row(&[Value::Int64(2), Value::Utf8("Baidu".into())])
        .unwrap();
    builder.finish().unwrap().to_bytes()
}

#[test]
fn every_truncation_of_a_batch_is_an_error() {
    let bytes = small_batch();
    for cut in 0..bytes.len() {
        let truncated = aligned(&bytes[..cut]);
        assert!(
            BatchView::new(&truncated).is_err(),
            "a batch cut to {cut} of {} bytes validated",
            bytes.len()
        );
    }
}

#[test]
fn invalid_utf8_is_named_by_column_and_row() {
    let mut bytes = small_batch().to_vec();
    let at = bytes
        .windows(5)
        .position(|w| w == b"Baidu")
        .expect("text is stored verbatim");
    bytes[at + 1] = 0xFF;
    let err = BatchView::new(&aligned(&bytes)).unwrap_err();
    assert_eq!(
        err,
        BatchError::InvalidUtf8 {
            column: "channel".into(),
            row: 1
        }
    );
}

#[test]
fn misaligned_bytes_are_refused_not_read() {
    let bytes = small_batch();
    let mut shifted = AlignedVec::<16>::with_capacity(bytes.len() + 1);
    shifted.push(0);
    shifted.extend_from_slice(&bytes);
    let err = BatchView::new(&shifted[1..]).unwrap_err();
    assert!(
        matches!(err, BatchError::Misaligned { required: 8, .. }),
        "{err}"
    );
}

#[test]
fn garbage_is_a_malformed_batch() {
    let garbage = aligned(&[0xA5; 64]);
    let err = BatchView::new(&garbage).unwrap_err();
    assert!(
        err.to_string().starts_with("malformed batch bytes"),
        "{err}"
    );
    assert!(BatchView::new(&aligned(&[])).is_err());
}

#[test]
fn builder_refuses_what_does_not_fit_and_names_the_column() {
    let mut builder = BatchBuilder::new(bids(), 1);
    let err = builder
        .push_row(&[Value::Utf8("x".into()), Value::Utf8("y".into())])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'auction' of type i64 cannot take a utf8 value"
    );
    let err = builder
        .push_row(&[Value::Null, Value::Utf8("y".into())])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'auction' is not nullable but has nulls"
    );
    let err = builder.push_row(&[Value::Int64(1)]).unwrap_err();
    assert_eq!(err.to_string(), "row has 1 values, the schema has 2 fields");
    assert!(
        builder.is_empty(),
        "rejected rows leave no partial values behind"
    );

    builder.column(0).push_i64(1).unwrap();
    let err = builder.finish().unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'channel' has 0 rows, other columns have 1"
    );
}

#[test]
fn batch_new_checks_lengths_and_types() {
    use faro_runtime::{Batch, Column, ColumnData};
    let schema = bids();
    let columns = vec![
        Column {
            validity: None,
            data: ColumnData::Int64(vec![1, 2, 3]),
        },
        Column {
            validity: None,
            data: ColumnData::Utf8 {
                offsets: vec![0, 1, 2],
                data: b"ab".to_vec(),
            },
        },
    ];
    let err = Batch::new(schema.clone(), 2, columns).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'auction': values has length 3, expected 2"
    );

    let columns = vec![
        Column {
            validity: None,
            data: ColumnData::Float64(vec![1.0, 2.0]),
        },
        Column {
            validity: None,
            data: ColumnData::Utf8 {
                offsets: vec![0, 1, 2],
                data: b"ab".to_vec(),
            },
        },
    ];
    let err = Batch::new(schema.clone(), 2, columns).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'auction' is declared i64 but holds f64 data"
    );

    let columns = vec![
        Column {
            validity: None,
            data: ColumnData::Int64(vec![1, 2]),
        },
        Column {
            validity: None,
            data: ColumnData::Utf8 {
                offsets: vec![0, 2, 1],
                data: b"ab".to_vec(),
            },
        },
    ];
    let err = Batch::new(schema, 2, columns).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'channel': invalid offsets: offsets descend"
    );
}

#[test]
fn a_batch_claiming_more_rows_than_its_bytes_can_hold_is_refused() {
    use faro_runtime::{Batch, BatchView, Schema};
    let hollow = Batch::new(Schema::new(vec![]), u32::MAX as usize, vec![]).unwrap();
    let bytes = hollow.to_bytes();
    let error = BatchView::new(&bytes).unwrap_err().to_string();
    assert!(error.contains("4294967295 rows in"), "{error}");
    let fine = Batch::new(Schema::new(vec![]), 1000, vec![]).unwrap();
    assert_eq!(BatchView::new(&fine.to_bytes()).unwrap().num_rows(), 1000);
}

#[test]
fn a_received_batch_must_have_the_columns_its_reader_planned() {
    use faro_runtime::{BatchBuilder, BatchView, DataType, Field, Schema, Value};
    let sent = Schema::new(vec![Field::new("a", DataType::Utf8)]);
    let mut builder = BatchBuilder::new(sent.clone(), 1);
    builder.push_row(&[Value::Utf8("x".into())]).unwrap();
    let bytes = builder.finish().unwrap().to_bytes();
    let view = BatchView::new(&bytes).unwrap();
    assert!(view.check_schema(&sent).is_ok());
    let planned = Schema::new(vec![Field::new("a", DataType::Int64)]);
    let error = view.check_schema(&planned).unwrap_err().to_string();
    assert_eq!(
        error,
        "the batch has columns (a utf8), not the expected (a i64)"
    );
    assert!(view.check_schema(&Schema::new(vec![])).is_err());
}
