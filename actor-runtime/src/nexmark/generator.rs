//! The generator: which event numbers a split owns, and the event each
//! number becomes.
//!
//! Follows the reference's `Generator.nextEvent` (Apache Beam; the same in
//! `nexmark/nexmark`'s `NexmarkGenerator`): the k-th event of the stream
//! has the adjusted number `n` (k itself unless events are shuffled out of
//! order), the id `n`, the event time `timestampForEvent(n)`, and every
//! field drawn from `new java.util.Random(id)`.
//!
//! Splitting differs from the reference on purpose. The reference's
//! `GeneratorConfig.split` hands each of N generators a contiguous range
//! of ids on its own parallel timeline, so the events of N generators are
//! not those of one (their times differ, and an unbounded stream's later
//! ranges start at ids no run reaches). Here split `i` of `N` generates
//! the stream's event numbers `i, i + N, i + 2N, …`: each event is a pure
//! function of its number, so the splits together generate exactly the
//! unsplit stream, times included; every split advances through event time
//! together, at `first_event_rate / N` (which is what the reference's
//! `numEventGenerators` divides the rate by).
//!
//! A split resumed at another parallelism (a savepoint rescaled) skips
//! the numbers the old splits already generated: each old layout is a
//! *taken* layer, `limits[r]` being the first number old split `r` had
//! not generated, so number `x` is taken if `x < limits[x mod len]`. The
//! new splits together then generate exactly the numbers no old one did.

use super::auction::next_auction;
use super::bid::next_bid;
use super::config::{NexmarkConfig, NexmarkConfigError};
use super::events::{Event, EventKind};
use super::ids::event_kind;
use super::java_random::JavaRandom;
use super::person::next_person;

/// Generates one split of a Nexmark event stream, deterministically: no
/// clock, no I/O; the same config, seed and split give the same events.
#[derive(Debug, Clone)]
pub struct NexmarkGenerator {
    config: NexmarkConfig,
    /// Mixed into every event's Java seed; 0 for seed 0.
    seed_mix: i64,
    split_index: u64,
    split_count: u64,
    /// Events of this split in all.
    split_events: u64,
    /// Events this split has generated so far (numbers it skipped as
    /// taken included).
    generated: u64,
    /// Numbers earlier layouts of the stream generated, one layer per
    /// layout (see the module header); dropped once passed.
    taken: Vec<Vec<u64>>,
}

/// MurmurHash3's 64-bit finalizer: spreads the seed over all bits, so
/// nearby seeds give unrelated streams, and maps 0 to 0.
fn mix_seed(seed: u64) -> i64 {
    let mut k = seed;
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k as i64
}

impl NexmarkGenerator {
    /// Split `split_index` of `split_count` of the stream `config`
    /// describes; `(0, 1)` is the whole stream.
    pub fn new(
        config: NexmarkConfig,
        split_index: u32,
        split_count: u32,
    ) -> Result<Self, NexmarkConfigError> {
        config.validate()?;
        if split_count == 0 || split_index >= split_count {
            return Err(NexmarkConfigError::Split {
                index: split_index,
                count: split_count,
            });
        }
        let (index, count) = (u64::from(split_index), u64::from(split_count));
        let max_events = config.max_events();
        let split_events = if index >= max_events {
            0
        } else {
            (max_events - index - 1) / count + 1
        };
        Ok(Self {
            seed_mix: mix_seed(config.seed),
            config,
            split_index: index,
            split_count: count,
            split_events,
            generated: 0,
            taken: Vec::new(),
        })
    }

    /// The (validated) configuration.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// Events this split generates in all (for an unbounded stream, the
    /// share of the reference's unreachable bound).
    pub fn split_events(&self) -> u64 {
        self.split_events
    }

    /// Events generated so far: what a checkpoint records.
    pub fn events_generated(&self) -> u64 {
        self.generated
    }

    /// Continues as if `events_generated` events had been generated (to
    /// restore a checkpoint), at most [`Self::split_events`].
    pub fn resume_at(&mut self, events_generated: u64) {
        self.generated = events_generated.min(self.split_events);
        self.skip_taken();
    }

    /// Skips, from now on, the numbers earlier layouts generated: each
    /// layer's `limits[r]` is the first number split `r` of that layout
    /// had not generated.
    pub fn resume_past(&mut self, taken: Vec<Vec<u64>>) {
        self.taken = taken.into_iter().filter(|l| !l.is_empty()).collect();
        // Below every limit of a layer, all numbers are taken.
        let floor = self
            .taken
            .iter()
            .filter_map(|limits| limits.iter().min())
            .max()
            .copied()
            .unwrap_or(0);
        if floor > self.split_index {
            let first = (floor - self.split_index).div_ceil(self.split_count);
            self.generated = self.generated.max(first).min(self.split_events);
        }
        self.skip_taken();
    }

    /// The layers of numbers still to skip (what a checkpoint of a
    /// rescaled split must keep).
    pub fn taken(&self) -> &[Vec<u64>] {
        &self.taken
    }

    fn skip_taken(&mut self) {
        while let Some(number) = self.next_event_number() {
            let is_taken =
                |limits: &Vec<u64>| number < limits[(number % limits.len() as u64) as usize];
            if !self.taken.iter().any(is_taken) {
                // A layer whose every limit is behind has nothing left.
                self.taken
                    .retain(|limits| limits.iter().any(|&l| l > number));
                return;
            }
            self.generated += 1;
        }
        self.taken.clear();
    }

    /// Whether every event of the split has been generated.
    pub fn is_exhausted(&self) -> bool {
        self.generated >= self.split_events
    }

    /// The stream's number of the next event, if any.
    pub fn next_event_number(&self) -> Option<u64> {
        (!self.is_exhausted()).then(|| self.split_index + self.generated * self.split_count)
    }

    /// When the next event is due on the in-order schedule (its event
    /// time, before any out-of-order shuffle). A rate-limited source emits
    /// it once its clock is this far past `base_time_ms` since it started.
    pub fn next_scheduled_time(&self) -> Option<i64> {
        self.next_event_number()
            .map(|number| self.config.event_time(number))
    }

    /// A lower bound on the event times of everything this split has yet
    /// to generate (`i64::MAX` once exhausted), as the reference's
    /// `nextEventNumberForWatermark`: out-of-order events stay within their
    /// group, so the group's first time bounds them.
    pub fn watermark(&self) -> i64 {
        match self.next_event_number() {
            Some(number) => self
                .config
                .event_time(self.config.watermark_event_number(number)),
            None => i64::MAX,
        }
    }

    /// Event time of the stream's event number `event_number` on the
    /// in-order schedule (see [`NexmarkConfig::event_time`]).
    pub fn event_time(&self, event_number: u64) -> i64 {
        self.config.event_time(event_number)
    }

    /// The stream's event number `event_number`, whichever split owns it.
    pub fn event_at(&self, event_number: u64) -> Event {
        let number = self.config.adjusted_event_number(event_number);
        // Validation bounds every number well below i64::MAX.
        let event_id = number as i64;
        let timestamp = self.config.event_time(number);
        let mut random = JavaRandom::new(event_id ^ self.seed_mix);
        let config = &self.config;
        match event_kind(config, event_id) {
            EventKind::Person => {
                Event::Person(next_person(config, event_id, &mut random, timestamp))
            }
            EventKind::Auction => Event::Auction(next_auction(
                config,
                event_id,
                number,
                &mut random,
                timestamp,
            )),
            EventKind::Bid => Event::Bid(next_bid(config, event_id, &mut random, timestamp)),
        }
    }

    /// The split's next event, or `None` once it is exhausted.
    pub fn next_event(&mut self) -> Option<Event> {
        let number = self.next_event_number()?;
        self.generated += 1;
        if !self.taken.is_empty() {
            self.skip_taken();
        }
        Some(self.event_at(number))
    }

    /// The split's next event if it is of kind `kind` (`Some(None)`: it
    /// was another kind, counted as generated but never built), or `None`
    /// once the split is exhausted. Each event is drawn from its own
    /// number, so a reader of one kind skips the others for free: a table
    /// of persons costs its persons, not every bid as well.
    pub fn next_event_of(&mut self, kind: EventKind) -> Option<Option<Event>> {
        let number = self.next_event_number()?;
        self.generated += 1;
        if !self.taken.is_empty() {
            self.skip_taken();
        }
        let id = self.config.adjusted_event_number(number) as i64;
        Some((event_kind(&self.config, id) == kind).then(|| self.event_at(number)))
    }

    /// Up to `n` next events (fewer only at the end of a bounded stream).
    pub fn next_events(&mut self, n: usize) -> Vec<Event> {
        let left = self.split_events - self.generated;
        let n = usize::try_from(left).map_or(n, |left| left.min(n));
        (0..n).filter_map(|_| self.next_event()).collect()
    }
}

impl Iterator for NexmarkGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.next_event()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.split_events - self.generated;
        let left = usize::try_from(left).ok();
        (left.unwrap_or(usize::MAX), left)
    }
}
