//! Nexmark events as Faro batches: one schema and one batch per kind.
//!
//! The columns are the reference's `person`, `auction` and `bid` views
//! (`nexmark/nexmark`'s `ddl_views.sql`) in snake case, with `Int64` ids
//! and prices, `Utf8` text and `Timestamp` (ms since the epoch) times.
//! Faro has no nested rows, so a mixed stream becomes three batches
//! rather than the reference's one wide row with a kind tag; a source
//! operator only has to route each batch to its output.

use crate::data::{Batch, BatchBuilder, BatchError, ColumnBuilder, DataType, Field, Schema};

use super::events::{Auction, Bid, Event, Person};
use super::generator::NexmarkGenerator;

/// The columns of a batch of persons.
pub fn person_schema() -> Schema {
    use DataType::{Int64, Timestamp, Utf8};
    Schema::new(vec![
        Field::new("id", Int64),
        Field::new("name", Utf8),
        Field::new("email_address", Utf8),
        Field::new("credit_card", Utf8),
        Field::new("city", Utf8),
        Field::new("state", Utf8),
        Field::new("date_time", Timestamp),
        Field::new("extra", Utf8),
    ])
}

/// The columns of a batch of auctions.
pub fn auction_schema() -> Schema {
    use DataType::{Int64, Timestamp, Utf8};
    Schema::new(vec![
        Field::new("id", Int64),
        Field::new("item_name", Utf8),
        Field::new("description", Utf8),
        Field::new("initial_bid", Int64),
        Field::new("reserve", Int64),
        Field::new("date_time", Timestamp),
        Field::new("expires", Timestamp),
        Field::new("seller", Int64),
        Field::new("category", Int64),
        Field::new("extra", Utf8),
    ])
}

/// The columns of a batch of bids.
pub fn bid_schema() -> Schema {
    use DataType::{Int64, Timestamp, Utf8};
    Schema::new(vec![
        Field::new("auction", Int64),
        Field::new("bidder", Int64),
        Field::new("price", Int64),
        Field::new("channel", Utf8),
        Field::new("url", Utf8),
        Field::new("date_time", Timestamp),
        Field::new("extra", Utf8),
    ])
}

/// A batch of these persons, in order.
pub fn persons_batch<'a>(
    persons: impl IntoIterator<Item = &'a Person>,
) -> Result<Batch, BatchError> {
    let persons = persons.into_iter();
    let schema = person_schema();
    let fields = all(schema.fields.len());
    let mut builder = BatchBuilder::new(schema, persons.size_hint().0);
    for person in persons {
        push_row(&mut builder, person, &fields, push_person_field)?;
    }
    builder.finish()
}

/// A batch of these auctions, in order.
pub fn auctions_batch<'a>(
    auctions: impl IntoIterator<Item = &'a Auction>,
) -> Result<Batch, BatchError> {
    let auctions = auctions.into_iter();
    let schema = auction_schema();
    let fields = all(schema.fields.len());
    let mut builder = BatchBuilder::new(schema, auctions.size_hint().0);
    for auction in auctions {
        push_row(&mut builder, auction, &fields, push_auction_field)?;
    }
    builder.finish()
}

/// A batch of these bids, in order.
pub fn bids_batch<'a>(bids: impl IntoIterator<Item = &'a Bid>) -> Result<Batch, BatchError> {
    let bids = bids.into_iter();
    let schema = bid_schema();
    let fields = all(schema.fields.len());
    let mut builder = BatchBuilder::new(schema, bids.size_hint().0);
    for bid in bids {
        push_row(&mut builder, bid, &fields, push_bid_field)?;
    }
    builder.finish()
}

/// Appends `event` as a row of `builder`: the event's fields at
/// `fields` (positions in its kind's schema — [`person_schema`],
/// [`auction_schema`] or [`bid_schema`] — in the builder's column order).
/// A source builds its batch as it generates, holding no events.
pub fn push_event(
    builder: &mut BatchBuilder,
    event: &Event,
    fields: &[usize],
) -> Result<(), BatchError> {
    match event {
        Event::Person(person) => push_row(builder, person, fields, push_person_field),
        Event::Auction(auction) => push_row(builder, auction, fields, push_auction_field),
        Event::Bid(bid) => push_row(builder, bid, fields, push_bid_field),
    }
}

/// How one field of an event of kind `T` is appended to a column.
type PushField<T> = fn(&mut ColumnBuilder, &T, usize) -> Result<(), BatchError>;

fn push_row<T>(
    builder: &mut BatchBuilder,
    item: &T,
    fields: &[usize],
    push: PushField<T>,
) -> Result<(), BatchError> {
    for (at, &field) in fields.iter().enumerate() {
        push(builder.column(at), item, field)?;
    }
    Ok(())
}

fn push_person_field(
    column: &mut ColumnBuilder,
    person: &Person,
    field: usize,
) -> Result<(), BatchError> {
    match field {
        0 => column.push_i64(person.id),
        1 => column.push_str(&person.name),
        2 => column.push_str(&person.email_address),
        3 => column.push_str(&person.credit_card),
        4 => column.push_str(&person.city),
        5 => column.push_str(&person.state),
        6 => column.push_i64(person.date_time),
        _ => column.push_str(&person.extra),
    }
}

fn push_auction_field(
    column: &mut ColumnBuilder,
    auction: &Auction,
    field: usize,
) -> Result<(), BatchError> {
    match field {
        0 => column.push_i64(auction.id),
        1 => column.push_str(&auction.item_name),
        2 => column.push_str(&auction.description),
        3 => column.push_i64(auction.initial_bid),
        4 => column.push_i64(auction.reserve),
        5 => column.push_i64(auction.date_time),
        6 => column.push_i64(auction.expires),
        7 => column.push_i64(auction.seller),
        8 => column.push_i64(auction.category),
        _ => column.push_str(&auction.extra),
    }
}

fn push_bid_field(column: &mut ColumnBuilder, bid: &Bid, field: usize) -> Result<(), BatchError> {
    match field {
        0 => column.push_i64(bid.auction),
        1 => column.push_i64(bid.bidder),
        2 => column.push_i64(bid.price),
        3 => column.push_str(bid.channel),
        4 => column.push_str(bid.url),
        5 => column.push_i64(bid.date_time),
        _ => column.push_str(&bid.extra),
    }
}

/// Every field of a schema of `width` columns, in order.
fn all(width: usize) -> Vec<usize> {
    (0..width).collect()
}

/// A mixed run of events split by kind, each batch in event order.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatches {
    /// The persons, with [`person_schema`].
    pub persons: Batch,
    /// The auctions, with [`auction_schema`].
    pub auctions: Batch,
    /// The bids, with [`bid_schema`].
    pub bids: Batch,
}

/// Splits `events` into one batch per kind (a kind absent from `events`
/// gives an empty batch).
pub fn event_batches(events: &[Event]) -> Result<EventBatches, BatchError> {
    Ok(EventBatches {
        persons: persons_batch(events.iter().filter_map(|event| match event {
            Event::Person(person) => Some(person),
            _ => None,
        }))?,
        auctions: auctions_batch(events.iter().filter_map(|event| match event {
            Event::Auction(auction) => Some(auction),
            _ => None,
        }))?,
        bids: bids_batch(events.iter().filter_map(|event| match event {
            Event::Bid(bid) => Some(bid),
            _ => None,
        }))?,
    })
}

impl NexmarkGenerator {
    /// The next `n` events (fewer only at the end of a bounded stream) as
    /// one batch per kind: what a source operator emits. Fails only where
    /// any batch would (over 2^32 rows or 4 GiB of text in a column).
    pub fn next_batches(&mut self, n: usize) -> Result<EventBatches, BatchError> {
        event_batches(&self.next_events(n))
    }
}

#[cfg(test)]
mod tests {
    use super::{bid_schema, event_batches};
    use crate::data::Value;
    use crate::nexmark::{Event, NexmarkConfig, NexmarkGenerator};

    #[test]
    fn batches_hold_the_events_by_kind() {
        let config = NexmarkConfig {
            num_events: 500,
            ..NexmarkConfig::default()
        };
        let events: Vec<Event> = NexmarkGenerator::new(config.clone(), 0, 1)
            .unwrap()
            .collect();
        let batches = event_batches(&events).unwrap();
        let mut generator = NexmarkGenerator::new(config, 0, 1).unwrap();
        assert_eq!(generator.next_batches(1_000).unwrap(), batches);
        assert_eq!(
            (
                batches.persons.num_rows(),
                batches.auctions.num_rows(),
                batches.bids.num_rows()
            ),
            (10, 30, 460)
        );
        assert_eq!(batches.bids.schema(), &bid_schema());
        let first_bid = events
            .iter()
            .find_map(|event| match event {
                Event::Bid(bid) => Some(bid),
                _ => None,
            })
            .unwrap();
        let price = batches.bids.column(2).unwrap().value(0);
        assert_eq!(price, Value::Int64(first_bid.price));
        let url = batches.bids.column(4).unwrap().value(0);
        assert_eq!(url, Value::Utf8(first_bid.url.to_string()));
        let time = batches.bids.column(5).unwrap().value(0);
        assert_eq!(time, Value::Timestamp(first_bid.date_time));
        let first_person_id = batches.persons.column(0).unwrap().value(0);
        assert_eq!(first_person_id, Value::Int64(1000));
    }
}
