//! Row hashing over key columns, column at a time: the same function
//! routes rows in hash partitioners and groups them in aggregations and
//! joins, so equal keys always meet. Stable across processes and builds.

use super::floats::key_bits;
use crate::data::{ColumnView, ValuesView};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[inline]
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[inline]
fn combine(hash: u64, value: u64) -> u64 {
    mix(hash ^ value.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn bytes_hash(bytes: &[u8]) -> u64 {
    // FNV-1a, then mixed: short keys are the common case.
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for b in bytes {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(hash ^ bytes.len() as u64)
}

/// Folds `column` into `hashes` (one per row). Nulls hash alike.
pub fn hash_into(column: &ColumnView<'_>, hashes: &mut [u64]) {
    const NULL: u64 = 0x6e75_6c6c;
    let valid = |i: usize| column.validity.is_none_or(|v| v.get(i));
    match column.values {
        ValuesView::Int64(v) | ValuesView::Timestamp(v) => {
            for (i, (h, x)) in hashes.iter_mut().zip(v).enumerate() {
                *h = combine(*h, if valid(i) { *x as u64 } else { NULL });
            }
        }
        ValuesView::Float64(v) => {
            for (i, (h, x)) in hashes.iter_mut().zip(v).enumerate() {
                *h = combine(*h, if valid(i) { key_bits(*x) } else { NULL });
            }
        }
        ValuesView::Bool(bits) => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = combine(
                    *h,
                    if valid(i) {
                        u64::from(bits.get(i))
                    } else {
                        NULL
                    },
                );
            }
        }
        ValuesView::Utf8(text) => {
            let raw = text.raw();
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = combine(
                    *h,
                    if valid(i) {
                        bytes_hash(raw.value(i))
                    } else {
                        NULL
                    },
                );
            }
        }
        ValuesView::Binary(bytes) => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = combine(
                    *h,
                    if valid(i) {
                        bytes_hash(bytes.value(i))
                    } else {
                        NULL
                    },
                );
            }
        }
        ValuesView::F32Vector { dim, values } => {
            for (i, h) in hashes.iter_mut().enumerate() {
                let row = &values[i * dim..(i + 1) * dim];
                let bytes: Vec<u8> = row.iter().flat_map(|f| f.to_le_bytes()).collect();
                *h = combine(*h, if valid(i) { bytes_hash(&bytes) } else { NULL });
            }
        }
        ValuesView::F64Vector { dim, values } => {
            for (i, h) in hashes.iter_mut().enumerate() {
                let row = &values[i * dim..(i + 1) * dim];
                let bytes: Vec<u8> = row.iter().flat_map(|f| f.to_le_bytes()).collect();
                *h = combine(*h, if valid(i) { bytes_hash(&bytes) } else { NULL });
            }
        }
    }
}

/// One hash per row over the key columns.
pub fn hash_rows(keys: &[&ColumnView<'_>], rows: usize) -> Vec<u64> {
    let mut hashes = vec![SEED; rows];
    for column in keys {
        hash_into(column, &mut hashes);
    }
    hashes
}

/// The partition (of `partitions`) a hash falls in: multiply-shift, so
/// all hash bits matter and no division is needed.
#[inline]
pub fn partition_of(hash: u64, partitions: u32) -> u32 {
    ((u128::from(hash) * u128::from(partitions)) >> 64) as u32
}
