//! How `read` shares out text, JSON-lines and CSV files: each file is cut into
//! byte ranges (*splits*), as Hadoop's input splits and Spark's file
//! partitions are, and the subtasks take every `parallelism`-th split — so
//! one big file keeps every subtask busy instead of one. Pure: sizes in,
//! ranges and byte spans out.
//!
//! A split owns the lines that *start* in its range. It reads from one
//! byte before its start and drops everything through the first line
//! break (a line starting at its first byte follows a break at that byte
//! before), and reads past its end to finish the line it is in. Every
//! line of a file is thus read by exactly one split, whole.
//!
//! A CSV file is cut the same way, its records taken to be lines (as
//! Spark does unless told `multiLine`); a split after the first is
//! read behind the file's header line, so its columns are matched by
//! name like the first's. CSV whose quoted fields hold line breaks is
//! read whole (`multi_line`): a byte range cannot tell where its
//! records start.

use std::ops::Range;

/// An even share is never cut finer than this (Spark's
/// `openCostInBytes`): a smaller file is read whole.
pub(super) const MIN_SPLIT_BYTES: u64 = 4 << 20;

/// Nor coarser than this (Spark's `maxPartitionBytes`).
pub(super) const MAX_SPLIT_BYTES: u64 = 128 << 20;

/// A byte range of one file of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Split {
    /// The file's place in the listing.
    pub file: usize,
    /// Its first byte.
    pub start: u64,
    /// One past its last byte.
    pub end: u64,
}

/// The size to cut files of `total` bytes into for `parallelism`
/// subtasks: an even share each, within [`MIN_SPLIT_BYTES`] and
/// [`MAX_SPLIT_BYTES`]; `asked` (at least one byte) overrides it.
pub(super) fn split_bytes(total: u64, parallelism: u32, asked: Option<u64>) -> u64 {
    if let Some(asked) = asked {
        return asked.max(1);
    }
    let share = total.div_ceil(u64::from(parallelism.max(1)));
    share.clamp(MIN_SPLIT_BYTES, MAX_SPLIT_BYTES)
}

/// Files of `lengths` (in listing order) cut into ranges of at most
/// `size` bytes, in order; an empty file is one empty split.
pub(super) fn cut(lengths: &[u64], size: u64) -> Vec<Split> {
    let size = size.max(1);
    let mut splits = Vec::new();
    for (file, &length) in lengths.iter().enumerate() {
        let mut start = 0;
        loop {
            let end = (start + size).min(length);
            splits.push(Split { file, start, end });
            if end >= length {
                break;
            }
            start = end;
        }
    }
    splits
}

/// Which bytes of a file a split hands on, chunk by chunk.
pub(super) struct LineRange {
    start: u64,
    end: u64,
    state: State,
    /// The last byte handed on.
    last: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first line break (a split after the first).
    Skipping,
    /// Within the range.
    Passing,
    /// Past the end, in the last line.
    Finishing,
    /// Nothing more is the split's.
    Done,
}

impl LineRange {
    /// The split `start..end`.
    pub fn new(start: u64, end: u64) -> Self {
        let state = match start {
            0 => State::Passing,
            _ => State::Skipping,
        };
        Self {
            start,
            end,
            state,
            last: None,
        }
    }

    /// Where to read from: one byte early, but for the file's first.
    pub fn read_from(&self) -> u64 {
        self.start.saturating_sub(1)
    }

    /// Whether the split has what it needs.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// The part of `chunk` (the file's bytes from offset `at`, read in
    /// order from [`Self::read_from`]) that is the split's.
    pub fn take(&mut self, chunk: &[u8], at: u64) -> Range<usize> {
        let mut from = 0;
        if self.state == State::Skipping {
            match chunk.iter().position(|&b| b == b'\n') {
                None => return 0..0,
                Some(i) => from = i + 1,
            }
            self.state = State::Passing;
            if at + from as u64 >= self.end {
                // The first line starting after the break is the next
                // split's.
                self.state = State::Done;
                return from..from;
            }
        }
        if self.state == State::Passing {
            let until = self.end.saturating_sub(at);
            if until >= chunk.len() as u64 {
                self.last = chunk.last().copied().or(self.last);
                return from..chunk.len();
            }
            let cut = (until as usize).max(from);
            let before = if cut > 0 {
                chunk.get(cut - 1).copied()
            } else {
                self.last
            };
            if before.is_none_or(|b| b == b'\n') {
                self.state = State::Done;
                return from..cut;
            }
            self.state = State::Finishing;
            return from..self.finish(chunk, cut);
        }
        if self.state == State::Finishing {
            return 0..self.finish(chunk, 0);
        }
        0..0
    }

    /// Where the line in progress at `from` ends in `chunk` (through its
    /// break, which ends the split), or the chunk's end.
    fn finish(&mut self, chunk: &[u8], from: usize) -> usize {
        match chunk[from..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.state = State::Done;
                from + i + 1
            }
            None => chunk.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What split `start..end` of `file` hands on, read in chunks of
    /// `chunk` bytes.
    fn read(file: &[u8], start: u64, end: u64, chunk: usize) -> Vec<u8> {
        let mut range = LineRange::new(start, end);
        let mut out = Vec::new();
        let mut at = range.read_from();
        while (at as usize) < file.len() && !range.done() {
            let piece = &file[at as usize..(at as usize + chunk).min(file.len())];
            out.extend_from_slice(&piece[range.take(piece, at)]);
            at += piece.len() as u64;
        }
        out
    }

    #[test]
    fn an_even_share_within_bounds_unless_asked() {
        assert_eq!(split_bytes(52 << 20, 2, None), 26 << 20);
        assert_eq!(split_bytes(1 << 20, 2, None), MIN_SPLIT_BYTES);
        assert_eq!(split_bytes(10 << 30, 2, None), MAX_SPLIT_BYTES);
        assert_eq!(split_bytes(100, 2, Some(7)), 7);
        let splits = cut(&[10, 0, 3], 4);
        let ranges: Vec<_> = splits.iter().map(|s| (s.file, s.start, s.end)).collect();
        assert_eq!(
            ranges,
            [(0, 0, 4), (0, 4, 8), (0, 8, 10), (1, 0, 0), (2, 0, 3)]
        );
    }

    #[test]
    fn a_split_starting_at_a_line_reads_it_and_one_ending_mid_line_finishes_it() {
        let file = b"ab\ncd\nef\n";
        assert_eq!(read(file, 0, 3, 2), b"ab\n");
        assert_eq!(read(file, 3, 4, 2), b"cd\n");
        assert_eq!(read(file, 4, 9, 2), b"ef\n");
        assert_eq!(read(file, 4, 5, 1), b"", "no line starts in it");
    }

    proptest! {
        #[test]
        fn every_line_is_read_once_and_whole(
            lines in prop::collection::vec("[a-z]{0,6}", 0..20),
            last_break in any::<bool>(),
            size in 1u64..12,
            chunk in 1usize..9,
        ) {
            let mut file = lines.join("\n").into_bytes();
            if last_break && !file.is_empty() {
                file.push(b'\n');
            }
            let mut whole = Vec::new();
            for split in cut(&[file.len() as u64], size) {
                let part = read(&file, split.start, split.end, chunk);
                prop_assert!(
                    part.is_empty() || part.ends_with(b"\n") || whole.len() + part.len() == file.len(),
                    "a split ends mid-line: {:?}", String::from_utf8_lossy(&part)
                );
                whole.extend_from_slice(&part);
            }
            prop_assert_eq!(whole, file);
        }
    }
}
