//! Column kernels operators are built from: gathering rows ([`take`]),
//! hashing rows over key columns ([`hash`]), key encoding, value copying
//! and row ordering by key prefix and full key ([`rows`]), whole rows as
//! compact bytes ([`row_codec`]), how doubles compare and hash as keys
//! ([`floats`]), ordering rows by key prefix in linear passes
//! ([`radix`]), and cache hints for scattered reads ([`prefetch`]). Pure
//! functions over column views.

pub mod floats;
pub mod hash;
pub mod prefetch;
pub mod radix;
pub mod row_codec;
pub mod rows;
pub mod take;

use crate::data::{Batch, ColumnView};

/// The column views of an owned batch, in schema order.
pub fn views(batch: &Batch) -> Vec<ColumnView<'_>> {
    (0..batch.columns().len())
        .filter_map(|i| batch.column(i))
        .collect()
}
