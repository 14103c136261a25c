//! `batch`: archived columnar batches read in place, as a task reads a
//! batch that arrived in a transport frame or sits in a shuffle file.
//!
//! The input is copied to a 16-byte-aligned buffer (transport pool buffers
//! and shuffle-file payloads are 16-byte aligned) and handed to
//! `BatchView::new`. When it validates, every column and value is touched
//! through the public API an operator uses: `ColumnView::value`/`is_null`,
//! the key kernels (hash, key encoding, row comparison, take), expression
//! arrays (`Array::from_view`), `check_schema` (every received batch goes
//! through it), `to_batch`, and a re-archive round trip. The row count must
//! be within what `BatchView::new` promises for the input's size.
//! A validation hole then shows up as a panic (index out of bounds, an
//! assert in `Bitmap::get`, invalid UTF-8 through `from_utf8_unchecked`…).

#![no_main]

use faro_runtime::expr::Array;
use faro_runtime::kernels::{hash, rows, take};
use faro_runtime::{Batch, BatchView, ColumnView, DataType, Field};
use libfuzzer_sys::fuzz_target;
use rkyv::util::AlignedVec;

/// Most rows `BatchView::new` lets an archive of `len` bytes claim: one
/// bit per byte, or 65,536 (`MAX_HOLLOW_ROWS`) for a batch whose columns
/// take no bytes per row (no columns, vectors of dimension 0).
fn most_rows(len: usize) -> usize {
    (1usize << 16).max(len.saturating_mul(8))
}

fn touch(view: &BatchView<'_>, input_len: usize) {
    let rows = view.num_rows();
    assert!(
        rows <= most_rows(input_len),
        "{rows} rows in {input_len} bytes"
    );
    let columns = view.columns();
    let schema = view.schema();
    assert_eq!(schema.fields.len(), columns.len());
    // A received batch is checked against the columns its reader planned
    // (`Incoming::with_rows`): its own schema fits, one more column not.
    view.check_schema(&schema)
        .expect("a view has its own columns");
    let mut wider = schema.clone();
    wider.fields.push(Field::new("extra", DataType::Bool));
    assert!(view.check_schema(&wider).is_err());
    for (index, column) in columns.iter().enumerate() {
        assert_eq!(column.len, rows);
        assert!(view.column(index).is_some());
        assert!(view.column_by_name(column.name).is_some());
        let _ = column.data_type.to_string();
        if let Some(validity) = column.validity {
            assert_eq!(validity.len(), rows);
            let _ = validity.count_ones();
        }
        for i in 0..rows {
            let _ = column.is_null(i);
            let _ = column.value(i);
        }
        if let Some(array) = Array::from_view(column) {
            assert_eq!(array.len(), rows);
            for i in 0..rows {
                let _ = array.is_valid(i);
                let _ = array.scalar(i);
            }
        }
    }
    let _ = format!("{view:?}");

    // The key kernels operators run over received rows.
    let keys: Vec<&ColumnView<'_>> = columns.iter().collect();
    let hashes = hash::hash_rows(&keys, rows);
    assert_eq!(hashes.len(), rows);
    for &h in &hashes {
        assert!(hash::partition_of(h, 7) < 7);
    }
    let mut key = Vec::new();
    for i in 0..rows {
        key.clear();
        rows::encode_key(&keys, i, &mut key);
    }
    let sort_keys: Vec<rows::KeyColumn> = (0..columns.len())
        .map(|column| rows::KeyColumn {
            column,
            descending: column % 2 == 1,
        })
        .collect();
    for i in 1..rows {
        let _ = rows::compare_rows(&sort_keys, columns, i - 1, columns, i);
    }
    let all: Vec<u32> = (0..rows as u32).collect();
    let taken = take::take_batch(&schema, columns, &all).expect("take of every row");
    assert_eq!(taken.num_rows(), rows);
    let reversed: Vec<u32> = all.iter().rev().copied().collect();
    take::take_batch(&schema, columns, &reversed).expect("take in reverse");

    // Copying out must succeed for anything the view accepted, and the
    // owned batch must pass the same rules when rebuilt and re-archived.
    let batch = view.to_batch().expect("to_batch of a validated view");
    assert_eq!(batch.num_rows(), rows);
    let rebuilt = Batch::new(batch.schema().clone(), rows, batch.columns().to_vec())
        .expect("Batch::new accepts what BatchView accepted");
    let bytes = rebuilt.to_bytes();
    let again = BatchView::new(&bytes).expect("a re-archived batch validates");
    assert_eq!(again.num_rows(), rows);
    // Compared as archives: `Batch`'s `PartialEq` says NaN != NaN.
    let round = again.to_batch().expect("to_batch again").to_bytes();
    assert_eq!(&round[..], &bytes[..]);
}

fuzz_target!(|data: &[u8]| {
    let mut aligned = AlignedVec::<16>::with_capacity(data.len());
    aligned.extend_from_slice(data);
    if let Ok(view) = BatchView::new(&aligned) {
        touch(&view, data.len());
    }
});
