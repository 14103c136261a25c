//! The generator's parameters, their reference defaults and their checks.
//!
//! The fields and defaults are those of the reference's
//! `NexmarkConfiguration` (Apache Beam's `sdks/java/testing/nexmark`, and
//! the Flink-based `nexmark/nexmark`, whose event proportions are
//! configurable), in snake case. Faro adds two inputs the reference takes
//! from its environment: `base_time_ms` (the reference reads the clock;
//! here time is an input, so a job that pins it regenerates the same
//! stream) and `seed` (the reference's streams are fixed by event id; a
//! seed gives other, equally deterministic ones, and 0 is the reference's).
//! Everything a generator could divide by zero, overflow or silently
//! duplicate on is rejected here, naming the field.

use serde::{Deserialize, Serialize};

/// Auction ids start here, so small runs still find matches in queries.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// Person ids start here, for the same reason.
pub const FIRST_PERSON_ID: i64 = 1000;
/// Category ids start here.
pub const FIRST_CATEGORY_ID: i64 = 10;

/// The largest accepted average event size: each event's padding is
/// generated in full, so this bounds the work and memory of one event.
pub const MAX_AVG_BYTE_SIZE: u32 = 1 << 20;

/// The reference's out-of-order shuffle permutes each group of event
/// numbers by multiplying by this prime; group sizes it divides would map
/// several events to one number.
const OUT_OF_ORDER_PRIME: u64 = 953;

/// How to generate a Nexmark event stream (all splits together).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NexmarkConfig {
    /// Events to generate over all splits; 0 means unbounded, as in the
    /// reference (which then stops at a count no run reaches).
    pub num_events: u64,
    /// Events per second of event time, over all splits together (the
    /// reference's `firstEventRate` with a constant rate shape).
    pub first_event_rate: u64,
    /// Event time of event number 0, in milliseconds since the Unix epoch.
    pub base_time_ms: i64,
    /// Selects the stream; 0 generates the reference's values.
    pub seed: u64,
    /// Persons among every `person + auction + bid` consecutive events.
    pub person_proportion: u32,
    /// Auctions among every `person + auction + bid` consecutive events.
    pub auction_proportion: u32,
    /// Bids among every `person + auction + bid` consecutive events.
    pub bid_proportion: u32,
    /// Average size a person is padded to (its `extra` field), in bytes.
    pub avg_person_byte_size: u32,
    /// Average size an auction is padded to, in bytes.
    pub avg_auction_byte_size: u32,
    /// Average size a bid is padded to, in bytes.
    pub avg_bid_byte_size: u32,
    /// All but 1 in this many bids go to a hot auction.
    pub hot_auction_ratio: u32,
    /// All but 1 in this many auctions are by a hot seller.
    pub hot_sellers_ratio: u32,
    /// All but 1 in this many bids are by a hot bidder.
    pub hot_bidders_ratio: u32,
    /// Bids for a cold auction pick among this many latest auctions.
    pub num_in_flight_auctions: u32,
    /// Sellers and bidders that are not hot pick among this many latest
    /// persons, so the density of activity per person does not decay.
    pub num_active_people: u32,
    /// Event times are shuffled within groups of this many events (1: in
    /// order).
    pub out_of_order_group_size: u64,
    /// Whether events carry their `extra` padding. Without it the random
    /// draws still happen, so every other field is the same, but no text
    /// is built: for a query that never reads it.
    pub build_extra: bool,
}

impl Default for NexmarkConfig {
    /// The reference's defaults (unbounded, 10 000 events/s, 1:3:46).
    fn default() -> Self {
        Self {
            num_events: 0,
            first_event_rate: 10_000,
            base_time_ms: 0,
            seed: 0,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
            num_in_flight_auctions: 100,
            num_active_people: 1000,
            out_of_order_group_size: 1,
            build_extra: true,
        }
    }
}

/// A configuration or split that no generator can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NexmarkConfigError {
    /// A field (or, for the proportions, a combination) is out of range.
    #[error("nexmark config: {field} {reason}")]
    Invalid {
        /// The offending field, as spelled in the config.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The split index is not below the split count, or the count is 0.
    #[error("nexmark split {index} of {count}: the index must be below a count of at least 1")]
    Split {
        /// The split asked for.
        index: u32,
        /// The number of splits.
        count: u32,
    },
}

impl NexmarkConfigError {
    /// The field at fault (`"split"` for a bad split).
    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } => field,
            Self::Split { .. } => "split",
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> NexmarkConfigError {
    NexmarkConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl NexmarkConfig {
    /// Persons, auctions and bids per cycle of the event mix.
    pub fn total_proportion(&self) -> u64 {
        u64::from(self.person_proportion)
            + u64::from(self.auction_proportion)
            + u64::from(self.bid_proportion)
    }

    /// The reference's stand-in for "unbounded": the most events whose
    /// estimated byte size cannot overflow an `i64`. Ids and times of any
    /// event below it are computed without overflow.
    pub fn unbounded_events(&self) -> u64 {
        let largest = self
            .avg_person_byte_size
            .max(self.avg_auction_byte_size)
            .max(self.avg_bid_byte_size)
            .max(1);
        let per_cycle = self.total_proportion().max(1) * u64::from(largest);
        i64::MAX as u64 / per_cycle
    }

    /// Events over all splits: `num_events`, or [`Self::unbounded_events`]
    /// when that is 0.
    pub fn max_events(&self) -> u64 {
        if self.num_events == 0 {
            self.unbounded_events()
        } else {
            self.num_events
        }
    }

    /// Checks every field a generator relies on.
    pub fn validate(&self) -> Result<(), NexmarkConfigError> {
        if self.first_event_rate == 0 {
            return Err(invalid(
                "first_event_rate",
                "must be at least 1 event per second",
            ));
        }
        for (field, proportion) in [
            ("person_proportion", self.person_proportion),
            ("auction_proportion", self.auction_proportion),
            ("bid_proportion", self.bid_proportion),
        ] {
            if proportion > i32::MAX as u32 {
                return Err(invalid(field, "must be at most 2^31 - 1"));
            }
        }
        if self.total_proportion() == 0 {
            return Err(invalid(
                "person_proportion + auction_proportion + bid_proportion",
                "sum to 0: there is no event kind to generate",
            ));
        }
        for (field, ratio) in [
            ("hot_auction_ratio", self.hot_auction_ratio),
            ("hot_sellers_ratio", self.hot_sellers_ratio),
            ("hot_bidders_ratio", self.hot_bidders_ratio),
        ] {
            if ratio == 0 || ratio > i32::MAX as u32 {
                return Err(invalid(field, "must be between 1 and 2^31 - 1"));
            }
        }
        for (field, count) in [
            ("num_in_flight_auctions", self.num_in_flight_auctions),
            ("num_active_people", self.num_active_people),
        ] {
            if count == 0 || count > i32::MAX as u32 {
                return Err(invalid(field, "must be between 1 and 2^31 - 1"));
            }
        }
        for (field, size) in [
            ("avg_person_byte_size", self.avg_person_byte_size),
            ("avg_auction_byte_size", self.avg_auction_byte_size),
            ("avg_bid_byte_size", self.avg_bid_byte_size),
        ] {
            if size > MAX_AVG_BYTE_SIZE {
                return Err(invalid(
                    field,
                    format!("is {size}, above the limit of {MAX_AVG_BYTE_SIZE} bytes"),
                ));
            }
        }
        let group = self.out_of_order_group_size;
        if group == 0 {
            return Err(invalid("out_of_order_group_size", "must be at least 1"));
        }
        if group.is_multiple_of(OUT_OF_ORDER_PRIME) {
            return Err(invalid(
                "out_of_order_group_size",
                format!(
                    "is a multiple of {OUT_OF_ORDER_PRIME}, which would repeat some events \
                     and drop others"
                ),
            ));
        }
        let limit = self.unbounded_events();
        if group > limit {
            return Err(invalid(
                "out_of_order_group_size",
                format!("is {group}, above the limit of {limit}"),
            ));
        }
        if self.num_events > limit {
            return Err(invalid(
                "num_events",
                format!("is {}, above the limit of {limit}", self.num_events),
            ));
        }
        Ok(())
    }

    /// Event time, in ms since the epoch, of event number `event_number`
    /// on the unadjusted schedule: `base_time_ms` plus the whole
    /// milliseconds `event_number` inter-event delays take. The reference
    /// (`timestampForEvent`) multiplies by a floating-point delay in
    /// microseconds; exact integer arithmetic gives the same millisecond
    /// without its rounding.
    pub fn event_time(&self, event_number: u64) -> i64 {
        let rate = i128::from(self.first_event_rate.max(1));
        let offset = i128::from(event_number) * 1000 / rate;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.base_time_ms.saturating_add(offset)
    }

    /// The reference's `nextAdjustedEventNumber`: event numbers are
    /// permuted within each group of `out_of_order_group_size`, which is
    /// how the reference makes event times arrive out of order.
    pub fn adjusted_event_number(&self, event_number: u64) -> u64 {
        let group = self.out_of_order_group_size.max(1);
        let base = event_number / group * group;
        // `(n * 953) % group`, computed without overflowing.
        let offset =
            u128::from(event_number % group) * u128::from(OUT_OF_ORDER_PRIME) % u128::from(group);
        // Below `group`, so it fits.
        base + offset as u64
    }

    /// The reference's `nextEventNumberForWatermark`: the first number of
    /// `event_number`'s group, whose time bounds every later adjusted time.
    pub fn watermark_event_number(&self, event_number: u64) -> u64 {
        let group = self.out_of_order_group_size.max(1);
        event_number / group * group
    }
}

#[cfg(test)]
mod tests {
    use super::{NexmarkConfig, NexmarkConfigError};

    fn field_of(config: NexmarkConfig) -> &'static str {
        config.validate().unwrap_err().field()
    }

    #[test]
    fn defaults_are_valid_and_deserialize_from_empty() {
        NexmarkConfig::default().validate().unwrap();
        let parsed: NexmarkConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, NexmarkConfig::default());
        let parsed: NexmarkConfig =
            serde_json::from_str(r#"{"num_events": 100, "bid_proportion": 10}"#).unwrap();
        assert_eq!((parsed.num_events, parsed.bid_proportion), (100, 10));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<NexmarkConfig>(r#"{"bid_proprtion": 10}"#).unwrap_err();
        assert!(err.to_string().contains("bid_proprtion"), "{err}");
    }

    #[test]
    fn errors_name_the_field() {
        let base = NexmarkConfig::default;
        let zero_rate = NexmarkConfig {
            first_event_rate: 0,
            ..base()
        };
        assert_eq!(field_of(zero_rate), "first_event_rate");
        let no_kinds = NexmarkConfig {
            person_proportion: 0,
            auction_proportion: 0,
            bid_proportion: 0,
            ..base()
        };
        assert!(field_of(no_kinds).contains("bid_proportion"));
        let hot = NexmarkConfig {
            hot_bidders_ratio: 0,
            ..base()
        };
        assert_eq!(field_of(hot), "hot_bidders_ratio");
        let people = NexmarkConfig {
            num_active_people: 0,
            ..base()
        };
        assert_eq!(field_of(people), "num_active_people");
        let padding = NexmarkConfig {
            avg_bid_byte_size: u32::MAX,
            ..base()
        };
        assert_eq!(field_of(padding), "avg_bid_byte_size");
        for group in [0, 953, 2 * 953] {
            let shuffle = NexmarkConfig {
                out_of_order_group_size: group,
                ..base()
            };
            assert_eq!(field_of(shuffle), "out_of_order_group_size");
        }
        let huge = NexmarkConfig {
            num_events: u64::MAX,
            ..base()
        };
        assert_eq!(field_of(huge), "num_events");
        let message = NexmarkConfigError::Split { index: 3, count: 2 }.to_string();
        assert!(message.contains("split 3 of 2"), "{message}");
    }

    #[test]
    fn event_time_follows_the_rate() {
        let config = NexmarkConfig {
            first_event_rate: 3,
            base_time_ms: 1_000,
            ..NexmarkConfig::default()
        };
        // A third of a second apart, truncated to whole milliseconds.
        let times: Vec<i64> = (0..4).map(|n| config.event_time(n)).collect();
        assert_eq!(times, [1_000, 1_333, 1_666, 2_000]);
    }

    #[test]
    fn adjusted_numbers_permute_each_group() {
        let config = NexmarkConfig {
            out_of_order_group_size: 10,
            ..NexmarkConfig::default()
        };
        let mut adjusted: Vec<u64> = (20..30).map(|n| config.adjusted_event_number(n)).collect();
        assert_ne!(adjusted, (20..30).collect::<Vec<_>>());
        adjusted.sort_unstable();
        assert_eq!(adjusted, (20..30).collect::<Vec<_>>());
        assert_eq!(config.watermark_event_number(27), 20);
        let in_order = NexmarkConfig::default();
        assert_eq!(in_order.adjusted_event_number(27), 27);
    }
}
