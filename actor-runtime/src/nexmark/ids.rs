//! Which kind each event id is, and which persons and auctions exist by
//! then: the id arithmetic that keeps foreign keys joinable.
//!
//! Follows the reference's `NexmarkGenerator.nextEvent` (kind from
//! `eventId % totalProportion`), `PersonGenerator.lastBase0PersonId` /
//! `nextBase0PersonId` and `AuctionGenerator.lastBase0AuctionId` /
//! `nextBase0AuctionId`, with the proportions configurable as in the
//! `nexmark/nexmark` flavour. Ids here are "base 0": callers add
//! [`FIRST_PERSON_ID`](super::FIRST_PERSON_ID) or
//! [`FIRST_AUCTION_ID`](super::FIRST_AUCTION_ID). Everything is computed
//! from the event id alone, which is what lets any split generate any
//! event without knowing what the others generated.

use super::config::NexmarkConfig;
use super::events::EventKind;
use super::java_random::JavaRandom;
use super::strings::next_long;

/// Persons not generated yet that a bid or auction may already name, so
/// that persons and their first activity appear slightly swapped in time.
pub const PERSON_ID_LEAD: i64 = 10;
/// Auctions not generated yet that a bid may already name.
pub const AUCTION_ID_LEAD: i64 = 10;

/// The kind of the event with this id: the first `person_proportion` of
/// every cycle of `total_proportion` ids are persons, then auctions, then
/// bids.
pub fn event_kind(config: &NexmarkConfig, event_id: i64) -> EventKind {
    let rem = event_id % config.total_proportion() as i64;
    let persons = i64::from(config.person_proportion);
    if rem < persons {
        EventKind::Person
    } else if rem < persons + i64::from(config.auction_proportion) {
        EventKind::Auction
    } else {
        EventKind::Bid
    }
}

/// The last person generated at or before `event_id` (the person itself
/// if `event_id` is one). With no persons in the mix it is -1.
pub fn last_base0_person_id(config: &NexmarkConfig, event_id: i64) -> i64 {
    let total = config.total_proportion() as i64;
    let persons = i64::from(config.person_proportion);
    let epoch = event_id / total;
    let mut offset = event_id % total;
    if offset >= persons {
        // An auction or bid: back to this cycle's last person.
        offset = persons - 1;
    }
    epoch * persons + offset
}

/// A random person for an auction or bid: one of the latest
/// `num_active_people` persons, or one of the next [`PERSON_ID_LEAD`]
/// (bounding the active set keeps activity per person from thinning out
/// on long runs).
pub fn next_base0_person_id(config: &NexmarkConfig, event_id: i64, random: &mut JavaRandom) -> i64 {
    let num_people = last_base0_person_id(config, event_id) + 1;
    let active_people = num_people.min(i64::from(config.num_active_people));
    let n = next_long(random, active_people + PERSON_ID_LEAD);
    num_people - active_people + n
}

/// The last auction generated at or before `event_id` (the auction itself
/// if `event_id` is one).
pub fn last_base0_auction_id(config: &NexmarkConfig, event_id: i64) -> i64 {
    let total = config.total_proportion() as i64;
    let persons = i64::from(config.person_proportion);
    let auctions = i64::from(config.auction_proportion);
    let mut epoch = event_id / total;
    let mut offset = event_id % total;
    if offset < persons {
        // A person: back to the previous cycle's last auction.
        epoch -= 1;
        offset = auctions - 1;
    } else if offset >= persons + auctions {
        // A bid: back to this cycle's last auction.
        offset = auctions - 1;
    } else {
        offset -= persons;
    }
    epoch * auctions + offset
}

/// A random auction for a bid: one of those likely still open (the
/// latest `num_in_flight_auctions`) or one of the next
/// [`AUCTION_ID_LEAD`]. The reference approximates "still open" this way
/// because tracking expiries exactly is state that cannot be split.
pub fn next_base0_auction_id(
    config: &NexmarkConfig,
    event_id: i64,
    random: &mut JavaRandom,
) -> i64 {
    let max_auction = last_base0_auction_id(config, event_id);
    let min_auction = (max_auction - i64::from(config.num_in_flight_auctions)).max(0);
    min_auction + next_long(random, max_auction - min_auction + 1 + AUCTION_ID_LEAD)
}

#[cfg(test)]
mod tests {
    use super::{event_kind, last_base0_auction_id, last_base0_person_id};
    use crate::nexmark::config::NexmarkConfig;
    use crate::nexmark::events::EventKind;

    #[test]
    fn ids_count_the_kinds_generated_so_far() {
        let config = NexmarkConfig::default();
        let mut persons = -1;
        let mut auctions = -1;
        for event_id in 0..5_000 {
            match event_kind(&config, event_id) {
                EventKind::Person => persons += 1,
                EventKind::Auction => auctions += 1,
                EventKind::Bid => {}
            }
            assert_eq!(last_base0_person_id(&config, event_id), persons);
            assert_eq!(last_base0_auction_id(&config, event_id), auctions);
        }
        assert_eq!((persons + 1, auctions + 1), (100, 300));
    }
}
