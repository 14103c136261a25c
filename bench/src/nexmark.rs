//! Nexmark data, generated deterministically: the bid stream of the
//! Nexmark benchmark, as columnar batches.
//!
//! Values follow the shapes of the reference generator (auction and bidder
//! ids from a small hot set, prices, four channels, item URLs, padding in
//! `extra`) closely enough for throughput work; they are not bit-identical
//! to Flink's generator.

use faro_runtime::{Batch, BatchBuilder, BatchError, DataType, Field, Schema};

/// The schema of a Nexmark bid.
pub fn bid_schema() -> Schema {
    Schema::new(vec![
        Field::new("auction", DataType::Int64),
        Field::new("bidder", DataType::Int64),
        Field::new("price", DataType::Int64),
        Field::new("channel", DataType::Utf8),
        Field::new("url", DataType::Utf8),
        Field::new("date_time", DataType::Timestamp),
        Field::new("extra", DataType::Utf8),
    ])
}

/// Only the fixed-width columns of a bid.
pub fn fixed_width_bid_schema() -> Schema {
    let mut schema = bid_schema();
    schema
        .fields
        .retain(|field| !matches!(field.data_type, DataType::Utf8));
    schema
}

const CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const BASE_TIME_MS: i64 = 1_700_000_000_000;

/// splitmix64: a tiny, fast, well-mixed deterministic generator.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Bids `first .. first + rows` as one batch of `schema`, which must be
/// [`bid_schema`] or [`fixed_width_bid_schema`].
pub fn bids(schema: &Schema, first: u64, rows: usize) -> Result<Batch, BatchError> {
    let mut builder = BatchBuilder::new(schema.clone(), rows);
    let mut url = String::with_capacity(96);
    let mut extra = String::with_capacity(64);
    for n in first..first + rows as u64 {
        let random = mix(n);
        for (index, field) in schema.fields.iter().enumerate() {
            let column = builder.column(index);
            match field.name.as_str() {
                "auction" => column.push_i64(1000 + (random % 1000) as i64)?,
                "bidder" => column.push_i64(1000 + ((random >> 10) % 10_000) as i64)?,
                "price" => column.push_i64(100 + ((random >> 20) % 1_000_000) as i64)?,
                "date_time" => column.push_i64(BASE_TIME_MS + n as i64)?,
                "channel" => column.push_str(CHANNELS[(random >> 40) as usize % CHANNELS.len()])?,
                "url" => {
                    use std::fmt::Write;
                    url.clear();
                    let _ = write!(
                        url,
                        "https://www.nexmark.com/{:x}/item.htm?query=1&channel_id={}",
                        random >> 48,
                        random % 1000
                    );
                    column.push_str(&url)?
                }
                _ => {
                    extra.clear();
                    let len = ((random >> 8) % 32) as usize;
                    extra.extend(
                        (0..len).map(|i| (b'a' + ((random >> (i % 56)) % 26) as u8) as char),
                    );
                    column.push_str(&extra)?
                }
            }
        }
    }
    builder.finish()
}
