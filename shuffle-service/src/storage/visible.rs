//! Which stored records a reader sees, as pure rules shared by every
//! reader (the local mmap and the object-store copy): only the committed
//! attempt of each map, only maps in the asked range, each sequence number
//! once (a retried push may have stored a frame twice), and never past a
//! hole in a committed attempt's sequence.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::ops::Range;

use super::commit::CommitBook;
use super::record::RecordKey;

/// A committed attempt's frames skip a sequence number: a frame is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    /// The map task.
    pub map: u32,
    /// Its committed attempt.
    pub attempt: u32,
    /// The sequence number that should come next.
    pub expected: u32,
    /// The one that came.
    pub found: u32,
}

/// Decides, record by record in file order, what a reader is served.
/// `B` is the commit book, owned or borrowed.
#[derive(Debug)]
pub struct VisibleRecords<B> {
    book: B,
    maps: Range<u32>,
    next_seq: HashMap<u32, u32>,
}

impl<B: Borrow<CommitBook>> VisibleRecords<B> {
    /// A reader of the maps in `maps` under the commits in `book`.
    pub fn new(book: B, maps: Range<u32>) -> Self {
        Self {
            book,
            maps,
            next_seq: HashMap::new(),
        }
    }

    /// Whether the record `key` is served (`Ok(true)`), skipped
    /// (`Ok(false)`), or proves a committed frame missing.
    pub fn admit(&mut self, key: RecordKey) -> Result<bool, Hole> {
        if !self.maps.contains(&key.map_id)
            || self.book.borrow().committed_attempt(key.map_id) != Some(key.attempt)
        {
            return Ok(false);
        }
        let expected = self.next_seq.entry(key.map_id).or_insert(0);
        if key.seq < *expected {
            return Ok(false);
        }
        if key.seq > *expected {
            return Err(Hole {
                map: key.map_id,
                attempt: key.attempt,
                expected: *expected,
                found: key.seq,
            });
        }
        *expected += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(map_id: u32, attempt: u32, seq: u32) -> RecordKey {
        RecordKey {
            map_id,
            attempt,
            seq,
        }
    }

    fn book() -> CommitBook {
        let mut book = CommitBook::default();
        book.apply(0, 1);
        book.apply(1, 0);
        book
    }

    #[test]
    fn serves_committed_attempts_once_in_range() {
        let book = book();
        let mut all = VisibleRecords::new(&book, 0..u32::MAX);
        let served: Vec<bool> = [
            key(0, 0, 0), // losing attempt
            key(0, 1, 0),
            key(0, 1, 0), // retried push stored it twice
            key(1, 0, 0),
            key(0, 1, 1),
            key(2, 0, 0), // never committed
        ]
        .into_iter()
        .map(|k| all.admit(k).unwrap())
        .collect();
        assert_eq!(served, [false, true, false, true, true, false]);

        let mut only_map_1 = VisibleRecords::new(&book, 1..2);
        assert!(!only_map_1.admit(key(0, 1, 0)).unwrap());
        assert!(only_map_1.admit(key(1, 0, 0)).unwrap());
    }

    #[test]
    fn a_gap_in_a_committed_attempt_is_a_hole() {
        let book = book();
        let mut reader = VisibleRecords::new(&book, 0..u32::MAX);
        assert!(reader.admit(key(1, 0, 0)).unwrap());
        assert_eq!(
            reader.admit(key(1, 0, 2)),
            Err(Hole {
                map: 1,
                attempt: 0,
                expected: 1,
                found: 2
            })
        );
        // A gap in an attempt nobody reads is not an error.
        assert!(!reader.admit(key(0, 0, 5)).unwrap());
    }
}
