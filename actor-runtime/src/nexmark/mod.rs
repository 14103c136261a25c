//! The Nexmark benchmark's event generator, as pure, deterministic code.
//!
//! Nexmark models an online auction: persons join, open auctions and bid.
//! This module owns generating that stream the way the reference does
//! (Apache Beam's `sdks/java/testing/nexmark` `sources/generator`, and the
//! Flink-based `nexmark/nexmark` that Nexmark results are usually quoted
//! from): the 1:3:46 mix of persons, auctions and bids, ids that keep
//! bids and auctions pointing at existing (mostly hot) persons and open
//! auctions, the reference's strings, log-spread prices and padding, and
//! event times derived from the event number and a rate. It owns no I/O,
//! no task and no clock (time is the `base_time_ms` input), so a future
//! source operator only has to schedule [`NexmarkGenerator`] calls and
//! route the [`batch`] it builds.
//!
//! - [`config`]: [`NexmarkConfig`], its reference defaults and checks, and
//!   the time schedule (`event_time`, the out-of-order shuffle).
//! - [`generator`]: [`NexmarkGenerator`], which split owns which events.
//! - [`events`]: [`Event`] and its three kinds; [`batch`]: their schemas
//!   and Faro batches.
//! - Internals, one reference class each: the `java.util.Random` every
//!   event is drawn from, the id arithmetic, strings and prices, and one
//!   file per kind.

mod auction;
pub mod batch;
mod bid;
pub mod config;
pub mod events;
pub mod generator;
mod ids;
mod java_random;
mod person;
mod strings;

#[cfg(test)]
mod tests;

pub use batch::{
    auction_schema, auctions_batch, bid_schema, bids_batch, event_batches, person_schema,
    persons_batch, push_event, EventBatches,
};
pub use config::{
    NexmarkConfig, NexmarkConfigError, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID,
};
pub use events::{Auction, Bid, Event, EventKind, Person};
pub use generator::NexmarkGenerator;
pub use ids::{AUCTION_ID_LEAD, PERSON_ID_LEAD};
