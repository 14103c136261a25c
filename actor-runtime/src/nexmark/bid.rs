//! Generating one bid, with its channel and URL.
//!
//! The auction, bidder, price and padding follow Apache Beam's
//! `BidGenerator.nextBid` draw for draw. The channel and URL are the
//! `nexmark/nexmark` flavour's (`BidGenerator` there): half the bids come
//! from four hot channels, the rest from 10 000 others, drawn between the
//! price and the padding as that flavour does. That flavour builds its
//! channel URLs from an unseeded random source; here they come from a
//! fixed seed, so every process and split agrees on them.

use std::sync::OnceLock;

use super::config::{NexmarkConfig, FIRST_AUCTION_ID, FIRST_PERSON_ID};
use super::events::Bid;
use super::ids::{
    last_base0_auction_id, last_base0_person_id, next_base0_auction_id, next_base0_person_id,
};
use super::java_random::JavaRandom;
use super::strings::{next_extra, next_price, next_string};

/// Hot auctions are the first of each block of this many auctions.
const HOT_AUCTION_RATIO: i64 = 100;
/// Hot bidders are the second person of each block of this many, so they
/// do not collide with hot sellers (the first).
const HOT_BIDDER_RATIO: i64 = 100;
/// All but one in this many bids come through a hot channel.
const HOT_CHANNELS_RATIO: i32 = 2;
/// The other channels.
const CHANNELS_NUMBER: i32 = 10_000;
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// Seeds the channel URLs ("NEXMARK" in ASCII): any fixed value will do.
const CHANNEL_SEED: i64 = 0x004E_4558_4D41_524B;

/// The URLs of the hot channels and the names and URLs of the others.
struct Channels {
    hot_urls: Vec<String>,
    others: Vec<(String, String)>,
}

/// A random item URL on the auction site.
fn base_url(random: &mut JavaRandom) -> String {
    let a = next_string(random, 5, b'_');
    let b = next_string(random, 5, b'_');
    let c = next_string(random, 5, b'_');
    format!("https://www.nexmark.com/{a}/{b}/{c}/item.htm?query=1")
}

/// Built once per process, as the reference's static tables are.
fn channels() -> &'static Channels {
    static CHANNELS: OnceLock<Channels> = OnceLock::new();
    CHANNELS.get_or_init(|| {
        let mut random = JavaRandom::new(CHANNEL_SEED);
        let hot_urls = HOT_CHANNELS.iter().map(|_| base_url(&mut random)).collect();
        let others = (0..CHANNELS_NUMBER)
            .map(|i| {
                let mut url = base_url(&mut random);
                if random.next_int_bounded(10) > 0 {
                    // Java's `Math.abs(Integer.reverse(i))`, which leaves
                    // i32::MIN (channel 1) negative.
                    let id = i.reverse_bits().wrapping_abs();
                    url.push_str(&format!("&channel_id={id}"));
                }
                (format!("channel-{i}"), url)
            })
            .collect();
        Channels { hot_urls, others }
    })
}

/// The bid event `event_id`, at `timestamp`.
pub fn next_bid(
    config: &NexmarkConfig,
    event_id: i64,
    random: &mut JavaRandom,
    timestamp: i64,
) -> Bid {
    // All but one in `hot_auction_ratio` bids are for a hot auction.
    let base0_auction = if random.next_int_bounded(config.hot_auction_ratio as i32) > 0 {
        last_base0_auction_id(config, event_id) / HOT_AUCTION_RATIO * HOT_AUCTION_RATIO
    } else {
        next_base0_auction_id(config, event_id, random)
    };
    // All but one in `hot_bidders_ratio` bids are by a hot bidder. (The
    // `nexmark/nexmark` flavour adds FIRST_PERSON_ID twice here, a slip;
    // this follows Beam.)
    let base0_bidder = if random.next_int_bounded(config.hot_bidders_ratio as i32) > 0 {
        last_base0_person_id(config, event_id) / HOT_BIDDER_RATIO * HOT_BIDDER_RATIO + 1
    } else {
        next_base0_person_id(config, event_id, random)
    };
    let price = next_price(random);
    let channels = channels();
    let (channel, url) = if random.next_int_bounded(HOT_CHANNELS_RATIO) > 0 {
        let i = random.next_int_bounded(HOT_CHANNELS.len() as i32) as usize;
        (HOT_CHANNELS[i], channels.hot_urls[i].as_str())
    } else {
        let i = random.next_int_bounded(CHANNELS_NUMBER) as usize;
        let (name, url) = &channels.others[i];
        (name.as_str(), url.as_str())
    };
    // The reference's size estimate: four 8-byte numbers.
    let extra = next_extra(
        random,
        8 + 8 + 8 + 8,
        config.avg_bid_byte_size,
        config.build_extra,
    );
    Bid {
        auction: base0_auction + FIRST_AUCTION_ID,
        bidder: base0_bidder + FIRST_PERSON_ID,
        price,
        channel,
        url,
        date_time: timestamp,
        extra,
    }
}
