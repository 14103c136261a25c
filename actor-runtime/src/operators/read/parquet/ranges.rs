//! The byte ranges of one Parquet file that a row group's projected
//! columns occupy, fetched once and served to the `parquet` crate's page
//! readers as if they were the file: the crate asks for pages by file
//! offset, and only the fetched ranges can answer.
//!
//! Fetching a row group's column chunks whole (rather than handing the
//! crate a file handle) is what lets one reader serve local files and
//! object stores alike, with one request per column chunk.

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

/// Fetched ranges of one file, by start offset.
#[derive(Debug, Default)]
pub(super) struct FetchedRanges {
    /// `(start, bytes)`, in no particular order (a row group has few).
    ranges: Vec<(u64, Bytes)>,
    /// The file's length.
    length: u64,
}

impl FetchedRanges {
    /// No ranges yet of a file of `length` bytes.
    pub(super) fn new(length: u64) -> Self {
        Self {
            ranges: Vec::new(),
            length,
        }
    }

    /// Adds the bytes fetched from `start`.
    pub(super) fn insert(&mut self, start: u64, bytes: Bytes) {
        self.ranges.push((start, bytes));
    }

    /// The fetched bytes from `start` to the end of the range holding it.
    fn from(&self, start: u64) -> Result<Bytes, ParquetError> {
        self.ranges
            .iter()
            .find(|(at, bytes)| *at <= start && start < at + bytes.len() as u64)
            .map(|(at, bytes)| bytes.slice((start - at) as usize..))
            .ok_or_else(|| {
                ParquetError::General(format!(
                    "offset {start} is outside the column chunks the footer names"
                ))
            })
    }
}

impl Length for FetchedRanges {
    fn len(&self) -> u64 {
        self.length
    }
}

impl ChunkReader for FetchedRanges {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        Ok(bytes::Buf::reader(self.from(start)?))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        let rest = self.from(start)?;
        if rest.len() < length {
            return Err(ParquetError::EOF(format!(
                "{length} bytes at offset {start} run past the column chunk"
            )));
        }
        Ok(rest.slice(..length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn serves_reads_inside_fetched_ranges_only() {
        let mut ranges = FetchedRanges::new(100);
        ranges.insert(10, Bytes::from_static(b"abcdef"));
        ranges.insert(50, Bytes::from_static(b"xyz"));
        assert_eq!(ranges.get_bytes(12, 3).unwrap(), Bytes::from_static(b"cde"));
        assert_eq!(ranges.get_bytes(50, 3).unwrap(), Bytes::from_static(b"xyz"));
        let mut rest = String::new();
        ranges
            .get_read(13)
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        assert_eq!(rest, "def");
        assert!(ranges.get_bytes(14, 5).is_err(), "past the range's end");
        assert!(ranges.get_bytes(30, 1).is_err(), "between ranges");
        assert_eq!(ranges.len(), 100);
    }
}
