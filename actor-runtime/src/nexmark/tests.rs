//! Properties of whole generated streams: the mix, the id windows, prices,
//! splitting, determinism and the time schedule.

use super::{
    Event, EventKind, NexmarkConfig, NexmarkConfigError, NexmarkGenerator, AUCTION_ID_LEAD,
    FIRST_AUCTION_ID, FIRST_PERSON_ID, PERSON_ID_LEAD,
};

fn bounded(num_events: u64) -> NexmarkConfig {
    NexmarkConfig {
        num_events,
        ..NexmarkConfig::default()
    }
}

fn generate(config: &NexmarkConfig, index: u32, count: u32) -> Vec<Event> {
    NexmarkGenerator::new(config.clone(), index, count)
        .unwrap()
        .collect()
}

#[test]
fn the_mix_is_one_three_forty_six() {
    let events = generate(&bounded(50_000), 0, 1);
    assert_eq!(events.len(), 50_000);
    let count = |kind| events.iter().filter(|event| event.kind() == kind).count();
    assert_eq!(count(EventKind::Person), 1_000);
    assert_eq!(count(EventKind::Auction), 3_000);
    assert_eq!(count(EventKind::Bid), 46_000);
    // Every cycle of 50 starts with its person, then its three auctions.
    let kinds: Vec<EventKind> = events[50..54].iter().map(Event::kind).collect();
    use EventKind::{Auction, Bid, Person};
    assert_eq!(kinds, [Person, Auction, Auction, Auction]);
    assert_eq!(events[54].kind(), Bid);

    let config = NexmarkConfig {
        person_proportion: 2,
        auction_proportion: 0,
        bid_proportion: 3,
        ..bounded(1_000)
    };
    let events = generate(&config, 0, 1);
    let persons = events.iter().filter(|e| e.kind() == Person).count();
    assert_eq!((persons, events.len() - persons), (400, 600));
}

#[test]
fn ids_stay_within_the_reference_windows() {
    let config = bounded(200_000);
    let active = i64::from(config.num_active_people);
    let in_flight = i64::from(config.num_in_flight_auctions);
    // Persons and auctions generated so far (base 0 ids are these minus 1).
    let (mut persons, mut auctions) = (0i64, 0i64);
    let person_window = |persons: i64| {
        let first = FIRST_PERSON_ID + persons - persons.min(active);
        first..FIRST_PERSON_ID + persons + PERSON_ID_LEAD
    };
    for event in generate(&config, 0, 1) {
        match event {
            Event::Person(person) => {
                assert_eq!(person.id, FIRST_PERSON_ID + persons);
                persons += 1;
            }
            Event::Auction(auction) => {
                assert_eq!(auction.id, FIRST_AUCTION_ID + auctions);
                auctions += 1;
                assert!(person_window(persons).contains(&auction.seller));
                assert!(auction.initial_bid > 0 && auction.reserve > auction.initial_bid);
                assert!(auction.expires > auction.date_time);
                assert!((10..15).contains(&auction.category));
            }
            Event::Bid(bid) => {
                let last = auctions - 1;
                let first = FIRST_AUCTION_ID + (last - in_flight).max(0);
                let open = first..=FIRST_AUCTION_ID + last + AUCTION_ID_LEAD;
                assert!(
                    open.contains(&bid.auction),
                    "{} not in {open:?}",
                    bid.auction
                );
                assert!(person_window(persons).contains(&bid.bidder));
                assert!(bid.price > 0);
                assert!(!bid.channel.is_empty() && bid.url.starts_with("https://"));
            }
        }
    }
    assert_eq!((persons, auctions), (4_000, 12_000));
}

#[test]
fn hot_auctions_and_bidders_take_most_bids() {
    let events = generate(&bounded(100_000), 0, 1);
    let bids: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::Bid(bid) => Some(bid),
            _ => None,
        })
        .collect();
    // A hot auction is the first of a block of 100.
    let hot = bids
        .iter()
        .filter(|bid| (bid.auction - FIRST_AUCTION_ID) % 100 == 0)
        .count();
    // Half the bids are hot (hot_auction_ratio 2), plus a few cold ones
    // landing on a block's first auction by chance.
    let share = hot as f64 / bids.len() as f64;
    assert!((0.48..0.56).contains(&share), "{share}");
    let hot_channels = bids
        .iter()
        .filter(|bid| ["Google", "Facebook", "Baidu", "Apple"].contains(&bid.channel))
        .count();
    let share = hot_channels as f64 / bids.len() as f64;
    assert!((0.48..0.52).contains(&share), "{share}");
}

#[test]
fn splits_together_are_the_unsplit_stream() {
    for group in [1, 10] {
        let config = NexmarkConfig {
            out_of_order_group_size: group,
            ..bounded(10_007)
        };
        let whole = generate(&config, 0, 1);
        for count in [2u32, 3, 7] {
            let mut merged: Vec<Option<Event>> = vec![None; whole.len()];
            for index in 0..count {
                for (k, event) in generate(&config, index, count).into_iter().enumerate() {
                    let number = index as usize + k * count as usize;
                    assert!(merged[number].replace(event).is_none());
                }
            }
            let merged: Vec<Event> = merged.into_iter().map(Option::unwrap).collect();
            assert!(merged == whole, "{count} splits of groups of {group}");
        }
    }
    // Unbounded: split 1 of 4 starts at the stream's event 1.
    let config = NexmarkConfig::default();
    let whole: Vec<Event> = NexmarkGenerator::new(config.clone(), 0, 1)
        .unwrap()
        .take(41)
        .collect();
    let split: Vec<Event> = NexmarkGenerator::new(config, 1, 4)
        .unwrap()
        .take(10)
        .collect();
    assert!(split
        .iter()
        .zip(whole.iter().skip(1).step_by(4))
        .all(|(a, b)| a == b));
    let err = NexmarkGenerator::new(NexmarkConfig::default(), 4, 4).unwrap_err();
    assert_eq!(err, NexmarkConfigError::Split { index: 4, count: 4 });
}

#[test]
fn same_config_and_seed_give_the_same_events() {
    let config = bounded(5_000);
    assert_eq!(generate(&config, 0, 1), generate(&config, 0, 1));
    let reseeded = NexmarkConfig {
        seed: 1,
        ..config.clone()
    };
    let (a, b) = (generate(&config, 0, 1), generate(&reseeded, 0, 1));
    assert_eq!(a.len(), b.len());
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0, "another seed is another stream");
    // The structure (kinds, ids of persons and auctions) is the seed's too.
    assert!(a.iter().zip(&b).all(|(x, y)| x.kind() == y.kind()));
}

#[test]
fn resuming_continues_where_a_generator_stopped() {
    let config = bounded(1_000);
    let mut first = NexmarkGenerator::new(config.clone(), 1, 3).unwrap();
    let head = first.next_events(100);
    assert_eq!(head.len(), 100);
    let mut resumed = NexmarkGenerator::new(config, 1, 3).unwrap();
    resumed.resume_at(first.events_generated());
    assert_eq!(first.next_events(1_000), resumed.next_events(1_000));
    assert!(first.is_exhausted() && resumed.next_event().is_none());
    // 1 000 events over 3 splits: 334, 333, 333; this split has 333.
    assert_eq!(first.events_generated(), 333);
}

#[test]
fn in_order_times_follow_the_rate() {
    let config = NexmarkConfig {
        first_event_rate: 1_000,
        base_time_ms: 1_700_000_000_000,
        ..bounded(20_000)
    };
    let mut generator = NexmarkGenerator::new(config.clone(), 0, 1).unwrap();
    let mut previous = i64::MIN;
    for number in 0..20_000u64 {
        assert_eq!(generator.watermark(), config.event_time(number));
        let event = generator.next_event().unwrap();
        assert!(event.date_time() >= previous);
        // One event per millisecond at 1 000 events per second.
        assert_eq!(event.date_time(), 1_700_000_000_000 + number as i64);
        previous = event.date_time();
    }
    assert_eq!(generator.watermark(), i64::MAX);
    // A split of 4 steps through the same time at a quarter of the rate.
    let mut split = NexmarkGenerator::new(config, 2, 4).unwrap();
    let times: Vec<i64> = split.next_events(3).iter().map(Event::date_time).collect();
    assert_eq!(
        times,
        [1_700_000_000_002, 1_700_000_000_006, 1_700_000_000_010]
    );
}

#[test]
fn out_of_order_times_stay_above_the_watermark() {
    let config = NexmarkConfig {
        first_event_rate: 1_000,
        out_of_order_group_size: 16,
        ..bounded(4_000)
    };
    let mut generator = NexmarkGenerator::new(config, 0, 1).unwrap();
    let mut times = Vec::new();
    while let Some(number) = generator.next_event_number() {
        let watermark = generator.watermark();
        let scheduled = generator.next_scheduled_time().unwrap();
        assert_eq!(scheduled, number as i64);
        let time = generator.next_event().unwrap().date_time();
        assert!(time >= watermark && time < watermark + 16);
        times.push(time);
    }
    assert!(times.windows(2).any(|pair| pair[1] < pair[0]), "shuffled");
    times.sort_unstable();
    assert_eq!(times, (0..4_000).collect::<Vec<i64>>());
}

/// Runs each split of a `count`-split layout past `taken` for `runs[i]`
/// events (to its end if fewer remain), counting every number generated
/// in `seen`; returns the layers the next layout must skip.
fn run_layout(
    config: &NexmarkConfig,
    count: u32,
    runs: &[u64],
    taken: &[Vec<u64>],
    seen: &mut [u32],
) -> Vec<Vec<u64>> {
    let mut limits = Vec::new();
    let mut layers: Vec<Vec<u64>> = Vec::new();
    for (index, &run) in (0..count).zip(runs) {
        let mut split = NexmarkGenerator::new(config.clone(), index, count).unwrap();
        split.resume_past(taken.to_vec());
        for _ in 0..run {
            let Some(number) = split.next_event_number() else {
                break;
            };
            split.next_event();
            seen[number as usize] += 1;
        }
        limits.push(u64::from(index) + split.events_generated() * u64::from(count));
        for layer in split.taken() {
            if !layers.contains(layer) {
                layers.push(layer.clone());
            }
        }
    }
    layers.insert(0, limits);
    layers
}

#[test]
fn splits_resumed_at_other_parallelisms_generate_exactly_what_is_left() {
    let config = bounded(1_000);
    let mut seen = vec![0u32; 1_000];
    let taken = run_layout(&config, 2, &[210, 37], &[], &mut seen);
    let taken = run_layout(&config, 3, &[40, 0, 300], &taken, &mut seen);
    let taken = run_layout(&config, 5, &[10, 20, 30, 0, 50], &taken, &mut seen);
    run_layout(&config, 1, &[u64::MAX], &taken, &mut seen);
    let wrong: Vec<(usize, u32)> = seen
        .iter()
        .enumerate()
        .filter(|(_, &n)| n != 1)
        .map(|(number, &n)| (number, n))
        .collect();
    assert!(wrong.is_empty(), "numbers not generated once: {wrong:?}");
}
