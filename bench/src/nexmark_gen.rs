//! `faro-bench nexmark-gen`: the Nexmark events Faro's `nexmark` source
//! generates (the same events, seed and rate give the same stream) written
//! as JSON lines, so that other engines read exactly Faro's input.
//!
//! One object per event in the shape of the suite's Kafka/JSON tables:
//! `event_type` (0 person, 1 auction, 2 bid), then `person`, `auction`
//! and `bid`, the event's own kind an object with the reference's
//! camelCase fields and the other two `null`; times as `yyyy-MM-dd
//! HH:mm:ss.SSS` in UTC, as Flink's JSON format reads a `TIMESTAMP(3)`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use faro_runtime::expr::temporal::format;
use faro_runtime::nexmark::{Event, NexmarkConfig, NexmarkGenerator};
use serde_json::{json, Value};

/// Options of `faro-bench nexmark-gen`.
#[derive(Debug, clap::Args)]
pub struct NexmarkGenArgs {
    /// Events to write (people, auctions and bids together).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per second of event time.
    #[arg(long)]
    rate: Option<u64>,
    /// Selects the stream (0: the reference generator's values).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The file to write; standard output when absent.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn time(ms: i64) -> Result<String> {
    format(ms, "yyyy-MM-dd HH:mm:ss.SSS").map_err(|e| anyhow::anyhow!(e))
}

/// One event as the suite's JSON object.
fn event_json(event: &Event) -> Result<Value> {
    Ok(match event {
        Event::Person(p) => json!({"event_type": 0, "person": {
            "id": p.id, "name": p.name, "emailAddress": p.email_address,
            "creditCard": p.credit_card, "city": p.city, "state": p.state,
            "dateTime": time(p.date_time)?, "extra": p.extra},
            "auction": null, "bid": null}),
        Event::Auction(a) => json!({"event_type": 1, "person": null, "auction": {
            "id": a.id, "itemName": a.item_name, "description": a.description,
            "initialBid": a.initial_bid, "reserve": a.reserve,
            "dateTime": time(a.date_time)?, "expires": time(a.expires)?,
            "seller": a.seller, "category": a.category, "extra": a.extra},
            "bid": null}),
        Event::Bid(b) => json!({"event_type": 2, "person": null, "auction": null, "bid": {
            "auction": b.auction, "bidder": b.bidder, "price": b.price,
            "channel": b.channel, "url": b.url, "dateTime": time(b.date_time)?,
            "extra": b.extra}}),
    })
}

/// Writes the events.
pub fn run(args: &NexmarkGenArgs) -> Result<()> {
    let defaults = NexmarkConfig::default();
    let config = NexmarkConfig {
        num_events: args.events,
        first_event_rate: args.rate.unwrap_or(defaults.first_event_rate),
        seed: args.seed,
        ..defaults
    };
    let mut generator = NexmarkGenerator::new(config, 0, 1)?;
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    while let Some(event) = generator.next_event() {
        serde_json::to_writer(&mut out, &event_json(&event)?)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_the_suites_json_objects() {
        let config = NexmarkConfig {
            num_events: 50,
            ..NexmarkConfig::default()
        };
        let mut generator = NexmarkGenerator::new(config, 0, 1).unwrap();
        let mut kinds = [0; 3];
        while let Some(event) = generator.next_event() {
            let value = event_json(&event).unwrap();
            let kind = value["event_type"].as_u64().unwrap() as usize;
            kinds[kind] += 1;
            let name = ["person", "auction", "bid"][kind];
            let own = &value[name];
            assert!(own.is_object(), "{value}");
            let time = own["dateTime"].as_str().unwrap();
            assert_eq!(time.len(), "2015-07-15 00:00:00.000".len(), "{time}");
            for other in ["person", "auction", "bid"].iter().filter(|o| **o != name) {
                assert!(value[*other].is_null(), "{value}");
            }
        }
        assert_eq!(kinds, [1, 3, 46]);
    }
}
