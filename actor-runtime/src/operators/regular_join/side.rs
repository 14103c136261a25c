//! One input's rows as the regular join holds them: by join key, each
//! copy of a row as its [`RowCodec`](crate::kernels::row_codec::RowCodec)
//! encoding, in arrival order, with what they cost counted.
//!
//! Copies are kept apart rather than counted, so holding a row is a push
//! whatever its key holds already (a hot key of an input that only grows
//! never pays a search); taking one back (a retraction) searches its key's
//! rows, so costs what that key holds.

use std::collections::HashMap;

/// Bytes a held row costs beyond its encoding: its slot in the key's list
/// and its allocation.
const ROW_OVERHEAD: u64 = 32;

/// Bytes a key costs beyond its encoding: the map's entry, the key's
/// allocation and its list.
const KEY_OVERHEAD: u64 = 80;

/// One input's held rows (see the module docs).
#[derive(Default)]
pub(super) struct Side {
    keys: HashMap<Box<[u8]>, Vec<Box<[u8]>>>,
    rows: usize,
    bytes: u64,
}

impl Side {
    /// Holds one more copy of `row` under `key`.
    pub(super) fn hold(&mut self, key: &[u8], row: &[u8]) {
        let rows = match self.keys.get_mut(key) {
            Some(rows) => rows,
            None => {
                self.bytes += key.len() as u64 + KEY_OVERHEAD;
                self.keys.entry(key.into()).or_default()
            }
        };
        rows.push(row.into());
        self.rows += 1;
        self.bytes += row.len() as u64 + ROW_OVERHEAD;
    }

    /// Takes one copy of `row` under `key` back; `false` if none is held.
    pub(super) fn release(&mut self, key: &[u8], row: &[u8]) -> bool {
        let Some(rows) = self.keys.get_mut(key) else {
            return false;
        };
        let Some(at) = rows.iter().rposition(|held| &held[..] == row) else {
            return false;
        };
        rows.remove(at);
        self.rows -= 1;
        self.bytes = self.bytes.saturating_sub(row.len() as u64 + ROW_OVERHEAD);
        // Keys that come and go leave nothing behind.
        if rows.is_empty() {
            self.keys.remove(key);
            self.bytes = self.bytes.saturating_sub(key.len() as u64 + KEY_OVERHEAD);
        }
        true
    }

    /// The copies held under `key`, oldest first.
    pub(super) fn matches(&self, key: &[u8]) -> &[Box<[u8]>] {
        self.keys.get(key).map_or(&[], |rows| &rows[..])
    }

    /// Every copy held, key by key.
    pub(super) fn all(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.values().flatten().map(|row| &row[..])
    }

    /// Copies held, over all keys.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// What the held rows cost, roughly.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_held_and_released_one_at_a_time() {
        let mut side = Side::default();
        side.hold(b"k", b"a");
        side.hold(b"k", b"b");
        side.hold(b"k", b"a");
        assert_eq!(side.matches(b"k").len(), 3);
        assert!(side.release(b"k", b"a"));
        let left: Vec<&[u8]> = side.matches(b"k").iter().map(|r| &r[..]).collect();
        assert_eq!(left, [&b"a"[..], &b"b"[..]]);
        assert!(!side.release(b"k", b"c"));
        assert!(!side.release(b"other", b"a"));
        assert!(side.release(b"k", b"a"));
        assert!(side.release(b"k", b"b"));
        assert_eq!((side.rows(), side.bytes()), (0, 0));
        assert!(side.matches(b"k").is_empty());
    }
}
