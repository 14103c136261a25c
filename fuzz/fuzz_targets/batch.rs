//! `batch`: archived columnar batches read in place, as a task reads a
//! batch that arrived in a transport frame or sits in a shuffle file.
//!
//! The input is copied to a 16-byte-aligned buffer (transport pool buffers
//! and shuffle-file payloads are 16-byte aligned) and handed to
//! `BatchView::new`. When it validates, every column and value is touched
//! through the public API an operator uses: `ColumnView::value`/`is_null`,
//! the key kernels (hash, key encoding, row comparison, take), expression
//! arrays (`Array::from_view`), `to_batch`, and a re-archive round trip.
//! A validation hole then shows up as a panic (index out of bounds, an
//! assert in `Bitmap::get`, invalid UTF-8 through `from_utf8_unchecked`…).

#![no_main]

use faro_runtime::expr::Array;
use faro_runtime::kernels::{hash, rows, take};
use faro_runtime::{Batch, BatchView, ColumnView};
use libfuzzer_sys::fuzz_target;
use rkyv::util::AlignedVec;

/// A view claims `num_rows`; real buffers bound it by the input size (a
/// bool column holds 8 rows a byte), except for batches whose columns hold
/// no bytes at all (no columns, or vectors of dimension 0). Those are
/// walked only this far, so a 40-byte archive claiming 4 billion rows does
/// not stall the fuzzer (see the README's observations).
fn row_cap(input_len: usize) -> usize {
    input_len.saturating_mul(8) + 64
}

fn touch(view: &BatchView<'_>, input_len: usize) {
    let rows = view.num_rows();
    let walk = rows.min(row_cap(input_len));
    let columns = view.columns();
    let schema = view.schema();
    assert_eq!(schema.fields.len(), columns.len());
    for (index, column) in columns.iter().enumerate() {
        assert_eq!(column.len, rows);
        assert!(view.column(index).is_some());
        assert!(view.column_by_name(column.name).is_some());
        let _ = column.data_type.to_string();
        if let Some(validity) = column.validity {
            assert_eq!(validity.len(), rows);
            let _ = validity.count_ones();
        }
        for i in 0..walk {
            let _ = column.is_null(i);
            let _ = column.value(i);
        }
        if let Some(array) = Array::from_view(column) {
            assert_eq!(array.len(), rows);
            for i in 0..walk {
                let _ = array.is_valid(i);
                let _ = array.scalar(i);
            }
        }
    }
    let _ = format!("{view:?}");

    // The key kernels operators run over received rows.
    if rows == walk {
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
    }

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
