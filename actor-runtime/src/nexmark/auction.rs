//! Generating one auction.
//!
//! Follows the reference's `AuctionGenerator.nextAuction` and
//! `nextAuctionLengthMs` draw for draw: seller (mostly hot), category,
//! initial bid, length, name, description, reserve, padding.

use super::config::{NexmarkConfig, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID};
use super::events::Auction;
use super::ids::{last_base0_auction_id, last_base0_person_id, next_base0_person_id};
use super::java_random::JavaRandom;
use super::strings::{next_extra, next_long, next_price, next_string};

/// Categories are few so that example queries find matches.
const NUM_CATEGORIES: i32 = 5;

/// Hot sellers are the first person of each block of this many.
const HOT_SELLER_RATIO: i64 = 100;

/// The auction event `event_id`, at `timestamp`, whose adjusted event
/// number (its place on the time schedule) is `event_number`.
pub fn next_auction(
    config: &NexmarkConfig,
    event_id: i64,
    event_number: u64,
    random: &mut JavaRandom,
    timestamp: i64,
) -> Auction {
    let id = last_base0_auction_id(config, event_id) + FIRST_AUCTION_ID;
    // All but one in `hot_sellers_ratio` auctions are by a hot seller.
    let base0_seller = if random.next_int_bounded(config.hot_sellers_ratio as i32) > 0 {
        // The first person of the latest block of HOT_SELLER_RATIO.
        last_base0_person_id(config, event_id) / HOT_SELLER_RATIO * HOT_SELLER_RATIO
    } else {
        next_base0_person_id(config, event_id, random)
    };
    let seller = base0_seller + FIRST_PERSON_ID;
    let category = FIRST_CATEGORY_ID + i64::from(random.next_int_bounded(NUM_CATEGORIES));
    let initial_bid = next_price(random);
    let expires = timestamp.saturating_add(next_auction_length_ms(
        config,
        event_number,
        random,
        timestamp,
    ));
    let item_name = next_string(random, 20, b' ');
    let description = next_string(random, 100, b' ');
    let reserve = initial_bid + next_price(random);
    // The reference's size estimate: five 8-byte numbers plus the text.
    let current_size = 8 + item_name.len() + description.len() + 8 + 8 + 8 + 8 + 8;
    let extra = next_extra(
        random,
        current_size,
        config.avg_auction_byte_size,
        config.build_extra,
    );
    Auction {
        id,
        item_name,
        description,
        initial_bid,
        reserve,
        date_time: timestamp,
        expires,
        seller,
        category,
        extra,
    }
}

/// How long the auction runs: uniform up to twice the time until
/// `num_in_flight_auctions` more auctions will have been generated, so on
/// average about that many are open at once.
fn next_auction_length_ms(
    config: &NexmarkConfig,
    event_number: u64,
    random: &mut JavaRandom,
    timestamp: i64,
) -> i64 {
    // Events until `num_in_flight_auctions` more auctions: the reference's
    // `numInFlightAuctions * totalProportion / auctionProportion` (an
    // auction is being generated, so the divisor is not 0).
    let events_ahead = u128::from(config.num_in_flight_auctions)
        * u128::from(config.total_proportion())
        / u128::from(config.auction_proportion.max(1));
    let future_number = u64::try_from(u128::from(event_number) + events_ahead).unwrap_or(u64::MAX);
    let horizon_ms = config.event_time(future_number).saturating_sub(timestamp);
    1 + next_long(random, horizon_ms.saturating_mul(2).max(1))
}
