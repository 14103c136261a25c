//! The three Nexmark event kinds as plain values.
//!
//! The fields and their order are the reference's `model.Person`,
//! `model.Auction` and `model.Bid` (the `nexmark/nexmark` flavour, whose
//! bids carry a channel and a URL), in snake case; times are milliseconds
//! since the Unix epoch, the unit of Faro's `Timestamp` columns.

use serde::Serialize;

/// A person joins the auction site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Unique id, from [`super::FIRST_PERSON_ID`] up.
    pub id: i64,
    /// First and last name from small fixed lists.
    pub name: String,
    /// A random address at a random `.com` domain.
    pub email_address: String,
    /// Four groups of four digits.
    pub credit_card: String,
    /// A city from a small fixed list.
    pub city: String,
    /// A US state from a small fixed list.
    pub state: String,
    /// When the person joined (event time).
    pub date_time: i64,
    /// Padding up to the configured average person size.
    pub extra: String,
}

/// A person opens an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Auction {
    /// Unique id, from [`super::FIRST_AUCTION_ID`] up.
    pub id: i64,
    /// A short random name.
    pub item_name: String,
    /// A longer random text.
    pub description: String,
    /// The opening price.
    pub initial_bid: i64,
    /// The lowest price the seller accepts (at least the initial bid).
    pub reserve: i64,
    /// When the auction opened (event time).
    pub date_time: i64,
    /// When the auction closes.
    pub expires: i64,
    /// The person selling.
    pub seller: i64,
    /// One of a few categories, from [`super::FIRST_CATEGORY_ID`] up.
    pub category: i64,
    /// Padding up to the configured average auction size.
    pub extra: String,
}

/// A person bids on an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bid {
    /// The auction bid on.
    pub auction: i64,
    /// The person bidding.
    pub bidder: i64,
    /// The price offered, in cents.
    pub price: i64,
    /// Where the bid came from: a few hot channels, or one of many others
    /// (a fixed table built once per process, so a bid borrows its text).
    pub channel: &'static str,
    /// The page the bid was made on (from the same table).
    pub url: &'static str,
    /// When the bid was made (event time).
    pub date_time: i64,
    /// Padding up to the configured average bid size.
    pub extra: String,
}

/// Which of the three kinds an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A [`Person`].
    Person,
    /// An [`Auction`].
    Auction,
    /// A [`Bid`].
    Bid,
}

/// One generated event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A new bid.
    Bid(Bid),
}

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Person(_) => EventKind::Person,
            Event::Auction(_) => EventKind::Auction,
            Event::Bid(_) => EventKind::Bid,
        }
    }

    /// The event's time, in milliseconds since the Unix epoch.
    pub fn date_time(&self) -> i64 {
        match self {
            Event::Person(person) => person.date_time,
            Event::Auction(auction) => auction.date_time,
            Event::Bid(bid) => bid.date_time,
        }
    }
}
