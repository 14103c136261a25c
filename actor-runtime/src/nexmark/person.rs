//! Generating one person.
//!
//! Follows the reference's `PersonGenerator.nextPerson` draw for draw:
//! name, email, credit card, city, state, then the padding, from the
//! fixed lists below (kept small so example queries find matches even on
//! small runs).

use super::config::{NexmarkConfig, FIRST_PERSON_ID};
use super::events::Person;
use super::ids::last_base0_person_id;
use super::java_random::JavaRandom;
use super::strings::{next_extra, next_string};

const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];

const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];

const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];

const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// One of `items`, uniformly.
fn pick<'a>(random: &mut JavaRandom, items: &[&'a str]) -> &'a str {
    items[random.next_int_bounded(items.len() as i32) as usize]
}

/// The person event `event_id`, at `timestamp`.
pub fn next_person(
    config: &NexmarkConfig,
    event_id: i64,
    random: &mut JavaRandom,
    timestamp: i64,
) -> Person {
    let id = last_base0_person_id(config, event_id) + FIRST_PERSON_ID;
    let first = pick(random, &FIRST_NAMES);
    let name = format!("{first} {}", pick(random, &LAST_NAMES));
    let user = next_string(random, 7, b' ');
    let email_address = format!("{user}@{}.com", next_string(random, 5, b' '));
    let credit_card = (0..4)
        .map(|_| format!("{:04}", random.next_int_bounded(10_000)))
        .collect::<Vec<_>>()
        .join(" ");
    let city = pick(random, &US_CITIES).to_string();
    let state = pick(random, &US_STATES).to_string();
    // The reference's size estimate: 8 bytes of id plus the text.
    let current_size =
        8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len();
    let extra = next_extra(
        random,
        current_size,
        config.avg_person_byte_size,
        config.build_extra,
    );
    Person {
        id,
        name,
        email_address,
        credit_card,
        city,
        state,
        date_time: timestamp,
        extra,
    }
}
