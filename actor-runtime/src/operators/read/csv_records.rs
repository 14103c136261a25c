//! CSV records read from a byte stream, the way the `csv` crate reads
//! them (RFC 4180 quoting with doubled quotes, `\n`, `\r\n` or `\r`
//! ending a record, blank lines skipped, a leading byte-order mark
//! dropped, every record as wide as the first) but at the speed of
//! splitting lines: most lines of most files hold no quote at all, and
//! such a line is cut at its delimiters where it lies in the buffer, its
//! UTF-8 checked once. A line with a quote or a lone `\r` goes through
//! `csv_core`'s state machine instead, which unquotes into a buffer of
//! its own. Both paths give the same records; a property test checks
//! them against the `csv` crate.
//!
//! A record is at most [`MAX_LINE_BYTES`] long, so a file without line
//! breaks (or with an unclosed quote) is refused rather than held whole.

use std::io::Read;

use csv_core::ReadRecordResult;

use super::MAX_LINE_BYTES;

/// Bytes read from the source at a time.
const READ_BYTES: usize = 256 << 10;

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CsvError {
    /// The source failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A field's bytes are not UTF-8.
    #[error("field {field} is not UTF-8 text")]
    NotUtf8 {
        /// The field, from 1.
        field: usize,
    },
    /// The record has another number of fields than the first.
    #[error("found a record with {found} fields, but the first record has {expected}")]
    Width {
        /// Fields in this record.
        found: usize,
        /// Fields in the file's first record.
        expected: usize,
    },
    /// No record end within [`MAX_LINE_BYTES`].
    #[error("a record longer than {} MiB (a quote left open?)", MAX_LINE_BYTES >> 20)]
    TooLong,
}

/// One record: its fields, borrowed from the reader until the next.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvRecord<'a> {
    text: &'a str,
    spans: &'a [(usize, usize)],
    line: u64,
}

impl<'a> CsvRecord<'a> {
    /// The line (from 1) the record ends on.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Fields in the record.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Field `i` (from 0), unquoted.
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        let &(start, end) = self.spans.get(i)?;
        self.text.get(start..end)
    }

    /// Every field, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// Where the last record's fields are.
#[derive(Debug, Clone, Copy)]
enum Current {
    /// No record yet, or the stream has ended.
    None,
    /// A line without quotes, in place in the buffer at this range.
    Line(usize, usize),
    /// An unquoted copy, in `unquoted`.
    Unquoted(usize),
}

/// The records of one CSV byte stream.
pub(crate) struct CsvRecords<R> {
    source: R,
    buffer: Vec<u8>,
    /// Unparsed bytes are `buffer[start..end]`.
    start: usize,
    end: usize,
    /// `buffer[start..checked]` is known to be UTF-8: checked in one pass
    /// as it was read, far cheaper than a check per line.
    checked: usize,
    exhausted: bool,
    /// Past the byte-order mark, if the stream had one.
    started: bool,
    delimiter: u8,
    quote: u8,
    core: csv_core::Reader,
    unquoted: Vec<u8>,
    core_ends: Vec<usize>,
    spans: Vec<(usize, usize)>,
    current: Current,
    /// Line breaks passed.
    breaks: u64,
    /// The line (from 1) the last record read ends on.
    record_line: u64,
    /// Fields of the first record; every other must have as many.
    width: Option<usize>,
}

impl<R: Read> CsvRecords<R> {
    /// Records of `source`, fields cut at `delimiter` and quoted with
    /// `quote` (both ASCII).
    pub(crate) fn new(source: R, delimiter: u8, quote: u8) -> Self {
        Self::with_buffer(source, delimiter, quote, READ_BYTES)
    }

    /// As [`Self::new`], reading `bytes` at a time at first.
    fn with_buffer(source: R, delimiter: u8, quote: u8, bytes: usize) -> Self {
        Self {
            source,
            buffer: vec![0; bytes.max(1)],
            start: 0,
            end: 0,
            checked: 0,
            exhausted: false,
            started: false,
            delimiter,
            quote,
            core: csv_core::ReaderBuilder::new()
                .delimiter(delimiter)
                .quote(quote)
                .build(),
            unquoted: vec![0; 1024],
            core_ends: vec![0; 64],
            spans: Vec::new(),
            current: Current::None,
            breaks: 0,
            record_line: 0,
            width: None,
        }
    }

    /// The line (from 1) the last record read (or failed) ends on.
    pub(crate) fn line(&self) -> u64 {
        self.record_line
    }

    /// The byte source (to ask it why a read failed).
    pub(crate) fn get_ref(&self) -> &R {
        &self.source
    }

    /// The byte source back (what was buffered of it is dropped).
    pub(crate) fn into_inner(self) -> R {
        self.source
    }

    /// The next record, or `None` once the stream has ended.
    pub(crate) fn next_record(&mut self) -> Result<Option<CsvRecord<'_>>, CsvError> {
        self.current = Current::None;
        let read = self.read_line()?;
        if !read {
            return Ok(None);
        }
        let found = self.spans.len();
        match self.width {
            None => self.width = Some(found),
            Some(expected) if expected != found => return Err(CsvError::Width { found, expected }),
            Some(_) => {}
        }
        Ok(Some(self.record()?))
    }

    fn record(&self) -> Result<CsvRecord<'_>, CsvError> {
        let bytes = match self.current {
            Current::Line(start, end) if end <= self.checked => {
                // SAFETY: `checked` only covers bytes `from_utf8` accepted
                // as they were read; they have not changed since (the
                // buffer is only written past `end` or moved together with
                // `checked`), and a line is cut from them at ASCII bytes,
                // which are never inside a character.
                let text = unsafe { std::str::from_utf8_unchecked(&self.buffer[start..end]) };
                return Ok(CsvRecord {
                    text,
                    spans: &self.spans,
                    line: self.record_line,
                });
            }
            Current::Line(start, end) => &self.buffer[start..end],
            Current::Unquoted(len) => &self.unquoted[..len],
            Current::None => &[],
        };
        let text = std::str::from_utf8(bytes).map_err(|error| CsvError::NotUtf8 {
            field: 1 + self
                .spans
                .iter()
                .position(|&(_, end)| end > error.valid_up_to())
                .unwrap_or(0),
        })?;
        let record = CsvRecord {
            text,
            spans: &self.spans,
            line: self.record_line,
        };
        // Valid as a whole, a split may still fall inside a character
        // made of bytes from two fields.
        if let Some(field) = (0..record.len()).find(|&i| record.get(i).is_none()) {
            return Err(CsvError::NotUtf8 { field: field + 1 });
        }
        Ok(record)
    }

    /// Finds the next record; `false` at the end of the stream.
    fn read_line(&mut self) -> Result<bool, CsvError> {
        loop {
            if !self.started {
                if !self.skip_byte_order_mark()? {
                    continue;
                }
                self.started = true;
            }
            let pending = &self.buffer[self.start..self.end];
            let (line, consumed) = match memchr::memchr(b'\n', pending) {
                Some(n) => (&pending[..n], n + 1),
                None if self.exhausted && pending.is_empty() => return Ok(false),
                None if self.exhausted => (pending, pending.len()),
                None => {
                    self.refill()?;
                    continue;
                }
            };
            let content = line.strip_suffix(b"\r").unwrap_or(line);
            if memchr::memchr2(self.quote, b'\r', content).is_some() {
                return self.read_quoted();
            }
            let at = self.start;
            self.start += consumed;
            self.record_line = self.breaks + 1;
            self.breaks += u64::from(consumed > line.len());
            if content.is_empty() {
                continue;
            }
            self.spans.clear();
            let mut field_start = 0;
            for cut in memchr::memchr_iter(self.delimiter, content) {
                self.spans.push((field_start, cut));
                field_start = cut + 1;
            }
            self.spans.push((field_start, content.len()));
            self.current = Current::Line(at, at + content.len());
            return Ok(true);
        }
    }

    /// Drops a UTF-8 byte-order mark at the start of the stream; `false`
    /// if more bytes must be read to tell.
    fn skip_byte_order_mark(&mut self) -> Result<bool, CsvError> {
        const MARK: &[u8] = b"\xEF\xBB\xBF";
        let pending = &self.buffer[self.start..self.end];
        if pending.len() < MARK.len() && !self.exhausted && MARK.starts_with(pending) {
            self.refill()?;
            return Ok(false);
        }
        if pending.starts_with(MARK) {
            self.start += MARK.len();
        }
        Ok(true)
    }

    /// Reads one record through `csv_core` (quotes, lone `\r`).
    fn read_quoted(&mut self) -> Result<bool, CsvError> {
        let (mut written, mut ends) = (0, 0);
        loop {
            if written == self.unquoted.len() {
                self.unquoted.resize(written * 2, 0);
            }
            if ends == self.core_ends.len() {
                self.core_ends.resize(ends * 2, 0);
            }
            let input = &self.buffer[self.start..self.end];
            let (result, read, wrote, ended) = self.core.read_record(
                input,
                &mut self.unquoted[written..],
                &mut self.core_ends[ends..],
            );
            self.breaks += memchr::memchr_iter(b'\n', &input[..read]).count() as u64;
            self.start += read;
            written += wrote;
            ends += ended;
            match result {
                ReadRecordResult::InputEmpty => {
                    if written as u64 > MAX_LINE_BYTES {
                        return Err(CsvError::TooLong);
                    }
                    self.refill()?;
                }
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => {
                    self.spans.clear();
                    let mut field_start = 0;
                    for &end in &self.core_ends[..ends] {
                        self.spans.push((field_start, end));
                        field_start = end;
                    }
                    self.current = Current::Unquoted(written);
                    // Its own line break, if it took it, ends its line.
                    let took_break = self.start > 0 && self.buffer[self.start - 1] == b'\n';
                    self.record_line = self.breaks + 1 - u64::from(took_break);
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }

    /// Moves the unparsed bytes to the front and reads more after them,
    /// growing the buffer for a record longer than it.
    fn refill(&mut self) -> Result<(), CsvError> {
        if self.exhausted {
            return Ok(());
        }
        self.buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.checked = self.checked.saturating_sub(self.start);
        self.start = 0;
        if self.end == self.buffer.len() {
            if self.buffer.len() as u64 > MAX_LINE_BYTES {
                return Err(CsvError::TooLong);
            }
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        loop {
            match self.source.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.exhausted = true,
                Ok(n) => self.end += n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            }
            // Up to a character cut off at the end (finished by the next
            // read) or a byte that is not UTF-8 (lines holding it are
            // checked one by one, which names them).
            if self.checked < self.start {
                self.checked = self.start;
            }
            self.checked += match std::str::from_utf8(&self.buffer[self.checked..self.end]) {
                Ok(text) => text.len(),
                Err(error) => error.valid_up_to(),
            };
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A source that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// Records as the `csv` crate reads them, up to its first error
    /// (`true` if there was one).
    fn by_csv_crate(input: &[u8], delimiter: u8, quote: u8) -> (Vec<Vec<String>>, bool) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .quote(quote)
            .from_reader(input);
        let mut records = Vec::new();
        for record in reader.records() {
            match record {
                Ok(record) => records.push(record.iter().map(str::to_string).collect()),
                Err(_) => return (records, true),
            }
        }
        (records, false)
    }

    fn by_faro(
        input: &[u8],
        delimiter: u8,
        quote: u8,
        step: usize,
        buffer: usize,
    ) -> (Vec<Vec<String>>, bool) {
        let source = Trickle { bytes: input, step };
        let mut reader = CsvRecords::with_buffer(source, delimiter, quote, buffer);
        let mut records = Vec::new();
        loop {
            match reader.next_record() {
                Ok(Some(record)) => records.push(record.iter().map(str::to_string).collect()),
                Ok(None) => return (records, false),
                Err(_) => return (records, true),
            }
        }
    }

    fn pieces() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop::sample::select(vec![
            &b"a"[..],
            b"bc",
            b"1",
            b",",
            b";",
            b"\"",
            b"'",
            b"\n",
            b"\r",
            b"\r\n",
            b" ",
            "\u{e9}".as_bytes(),
            b"\xff",
            b"\xc3",
        ]);
        (any::<bool>(), prop::collection::vec(piece, 0..60)).prop_map(|(mark, pieces)| {
            let mut bytes = if mark {
                b"\xEF\xBB\xBF".to_vec()
            } else {
                Vec::new()
            };
            bytes.extend(pieces.concat());
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn reads_what_the_csv_crate_reads(
            input in pieces(),
            step in 1usize..9,
            buffer in 1usize..12,
            semicolons in any::<bool>(),
            apostrophes in any::<bool>(),
        ) {
            let delimiter = if semicolons { b';' } else { b',' };
            let quote = if apostrophes { b'\'' } else { b'"' };
            let expected = by_csv_crate(&input, delimiter, quote);
            prop_assert_eq!(by_faro(&input, delimiter, quote, step, buffer), expected);
        }
    }

    #[test]
    fn names_the_line_a_record_ends_on() {
        let input = b"a,b\n\nc,\"d\ne\"\nf,g";
        let mut reader = CsvRecords::new(&input[..], b',', b'"');
        let mut lines = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            lines.push(record.line());
        }
        assert_eq!(lines, [1, 4, 5]);
    }

    #[test]
    fn refuses_a_quote_left_open_past_the_longest_record() {
        let mut input = b"a,\"".to_vec();
        input.resize(MAX_LINE_BYTES as usize * 2 + 10, b'x');
        let mut reader = CsvRecords::new(&input[..], b',', b'"');
        assert!(matches!(reader.next_record(), Err(CsvError::TooLong)));
    }

    #[test]
    fn refuses_a_line_past_the_longest_record() {
        let input = vec![b'x'; MAX_LINE_BYTES as usize * 2 + 10];
        let mut reader = CsvRecords::new(&input[..], b',', b'"');
        assert!(matches!(reader.next_record(), Err(CsvError::TooLong)));
    }
}
