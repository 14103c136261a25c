//! `read`: rows from CSV (by default with a header line), JSON lines or plain text
//! files, from any path opendal reaches — a local path is opendal's `fs`
//! service. Parquet files are read column by column instead, by
//! [`ReadParquet`] in [`parquet`]; this module streams the line formats.
//!
//! A directory's files are read except those [`is_data_file`] passes
//! over, as Spark and Hadoop skip them: hidden names, `_SUCCESS` and
//! other names starting with `_`, and parts still being written.
//!
//! Reading runs on a thread of its own with its own small async runtime
//! (opendal is async; operators are called synchronously on their slot),
//! streaming each file's bytes through a bounded channel: memory is a few
//! chunks whatever the file size. Files are cut into byte ranges at line
//! breaks ([`splits`]) — CSV too, unless its quoted fields may hold line
//! breaks (`multi_line`) — and a subtask reads every `parallelism`-th
//! split of the sorted listing.
//! Every parse error names the file (and the split's first byte), line
//! and column.
//!
//! In a checkpointed job it saves how far it has got ([`position`]): the
//! file it is in and the rows emitted of it; a restore skips what came
//! before. Restoring at another parallelism is refused (a subtask's
//! files are every `parallelism`-th, so the positions do not carry
//! over).
//!
//! Only files the worker's [`AccessPolicy`] allows are read: the path is
//! checked when the source opens, and each file a directory lists is
//! checked again (a link inside an allowed directory may lead out). A
//! line (a CSV record) is at most [`MAX_LINE_BYTES`] long, so a file
//! without line breaks cannot make the reader hold it whole.
//!
//! [`listing`] finds the files, `parse` turns their bytes into rows (CSV
//! records found by `csv_records`); its catalogue entry is
//! [`ReadDefinition`].

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use crate::access::AccessPolicy;
use crate::data::{Batch, BatchBuilder};
use crate::operator::{OperatorContext, OperatorError, Source};
use position::Position;

mod csv_records;
mod definition;
mod listing;
mod parquet;
mod parse;
mod position;
mod splits;

pub use self::parquet::ReadParquet;
pub(crate) use definition::declared_schema;
pub use definition::{CsvOptions, FileFormat, ReadDefinition, ReadParams, StoreSpec};
pub(crate) use listing::is_data_file;
use listing::{header_line, open_listing, Location};
pub(crate) use parse::{push_json_row, FileRows};

const CHUNK: usize = 1 << 20;

/// Longest line a JSON-lines or text file may have.
pub const MAX_LINE_BYTES: u64 = 16 << 20;

/// Why the reader thread stopped, as an operator error to raise (kept
/// cloneable: a failure is reported where it is met, and again at the
/// file's end).
#[derive(Debug, Clone)]
enum Failure {
    /// The job's input is wrong (a missing file, a bad store setting).
    Input(String),
    /// The store did not answer; it may later.
    Unavailable(String),
    /// A file the worker may not read.
    Denied { path: String, reason: String },
}

impl Failure {
    fn error(&self) -> OperatorError {
        match self {
            Self::Input(message) => OperatorError::BadInput(message.clone()),
            Self::Unavailable(message) => OperatorError::Unavailable(message.clone()),
            Self::Denied { path, reason } => OperatorError::AccessDenied {
                action: "reading",
                path: path.clone(),
                reason: reason.clone(),
            },
        }
    }

    fn of(error: OperatorError) -> Self {
        match error {
            OperatorError::AccessDenied { path, reason, .. } => Self::Denied { path, reason },
            other => Self::Input(other.to_string()),
        }
    }

    /// An opendal error while `doing`: temporary ones may pass.
    fn store(doing: String, error: &opendal::Error) -> Self {
        let message = format!("{doing}: {error}");
        if error.is_temporary() {
            Self::Unavailable(message)
        } else {
            Self::Input(message)
        }
    }
}

/// What the reader thread sends.
enum Piece {
    /// A split starts: its file, as shown, and its first byte.
    File(String, u64),
    Bytes(Vec<u8>),
    Failed(Failure),
}

/// A split's bytes as `std::io::Read`, until the next split starts (then
/// it reads as ended and remembers the next split).
struct Chunks {
    from: Receiver<Piece>,
    buffer: Vec<u8>,
    at: usize,
    next_file: Option<(String, u64)>,
    failed: Option<Failure>,
}

impl Chunks {
    fn new(from: Receiver<Piece>) -> Self {
        Self {
            from,
            buffer: Vec::new(),
            at: 0,
            next_file: None,
            failed: None,
        }
    }
}

impl std::io::Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buffer.len() {
            if self.next_file.is_some() || self.failed.is_some() {
                return Ok(0);
            }
            match self.from.recv() {
                Ok(Piece::Bytes(bytes)) => {
                    self.buffer = bytes;
                    self.at = 0;
                }
                Ok(Piece::File(name, offset)) => self.next_file = Some((name, offset)),
                Ok(Piece::Failed(failure)) => {
                    let message = failure.error().to_string();
                    self.failed = Some(failure);
                    return Err(std::io::Error::other(message));
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Whether a reader cuts files into splits, and how big if it was told.
#[derive(Clone, Copy)]
struct Cutting {
    splittable: bool,
    asked: Option<u64>,
    /// Each file starts with a header line, which a split after the
    /// first is read behind.
    header: bool,
}

/// Lists and streams the subtask's splits on a background thread.
fn start_reader(
    location: Location,
    access: Arc<AccessPolicy>,
    (subtask, parallelism): (u32, u32),
    cutting: Cutting,
    resume: Option<Position>,
) -> Receiver<Piece> {
    let (tx, rx) = sync_channel(4);
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = tx.send(Piece::Failed(Failure::Unavailable(e.to_string())));
                return;
            }
        };
        runtime.block_on(async move {
            let fail = |failure: Failure| {
                let _ = tx.send(Piece::Failed(failure));
            };
            let (op, files) = match open_listing(&location).await {
                Ok(listing) => listing,
                Err(failure) => return fail(failure),
            };
            let mut lengths = Vec::with_capacity(files.len());
            for file in &files {
                // Checked before anything of the file is asked, its size
                // included.
                if let Err(denied) = location.allowed(file, &access) {
                    return fail(denied);
                }
                match op.stat(file).await {
                    Ok(meta) => lengths.push(meta.content_length()),
                    Err(e) => {
                        let shown = location.shown(file);
                        return fail(Failure::store(format!("reading {shown}"), &e));
                    }
                }
            }
            let size = match cutting.splittable {
                true => splits::split_bytes(lengths.iter().sum(), parallelism, cutting.asked),
                false => u64::MAX,
            };
            for (i, split) in splits::cut(&lengths, size).into_iter().enumerate() {
                if i as u32 % parallelism.max(1) != subtask {
                    continue;
                }
                let file = &files[split.file];
                let shown = location.shown(file);
                if resume
                    .as_ref()
                    .is_some_and(|at| at.passed(&shown, split.start))
                {
                    continue;
                }
                if tx.send(Piece::File(shown.clone(), split.start)).is_err() {
                    return;
                }
                let length = lengths[split.file];
                if cutting.header && split.start > 0 {
                    let header = match header_line(&op, file, length, &shown).await {
                        Ok(header) => header,
                        Err(failure) => return fail(failure),
                    };
                    if tx.send(Piece::Bytes(header)).is_err() {
                        return;
                    }
                }
                let reader = match op.reader(file).await {
                    Ok(reader) => reader,
                    Err(e) => return fail(Failure::store(format!("reading {shown}"), &e)),
                };
                let mut range = splits::LineRange::new(split.start, split.end);
                let mut at = range.read_from();
                while at < length && !range.done() {
                    match reader.read(at..(at + CHUNK as u64).min(length)).await {
                        Ok(buffer) if buffer.is_empty() => break,
                        Ok(buffer) => {
                            let buffer = buffer.to_vec();
                            let taken = range.take(&buffer, at);
                            at += buffer.len() as u64;
                            let piece = match taken == (0..buffer.len()) {
                                true => buffer,
                                false => buffer[taken].to_vec(),
                            };
                            if !piece.is_empty() && tx.send(Piece::Bytes(piece)).is_err() {
                                return;
                            }
                        }
                        Err(e) => return fail(Failure::store(format!("reading {shown}"), &e)),
                    }
                }
            }
        });
    });
    rx
}

/// Where the `read` source is in its files.
enum Cursor {
    /// Between files.
    Idle(Chunks),
    /// In a file.
    In(FileRows<Chunks>),
    /// No more files.
    Done,
}

/// The `read` source.
pub struct Read {
    params: ReadParams,
    cursor: Cursor,
    /// How far it has got: what a checkpoint saves.
    position: Option<Position>,
    /// Where a restore said to go on from.
    resume: Option<Position>,
}

impl Read {
    /// A reader of `params`.
    pub fn new(params: ReadParams) -> Self {
        Self {
            params,
            cursor: Cursor::Done,
            position: None,
            resume: None,
        }
    }

    /// Opens the next file, or ends.
    fn advance(&mut self, mut chunks: Chunks) -> Result<Cursor, OperatorError> {
        let (file, offset) = match chunks.next_file.take() {
            Some(split) => split,
            None => loop {
                match chunks.from.recv() {
                    Ok(Piece::File(name, offset)) => break (name, offset),
                    Ok(Piece::Failed(failure)) => return Err(failure.error()),
                    Ok(Piece::Bytes(_)) => continue,
                    Err(_) => return Ok(Cursor::Done),
                }
            },
        };
        chunks.buffer.clear();
        chunks.at = 0;
        let skip = (self.resume.as_ref()).map_or(0, |at| at.rows_read_of(&file, offset));
        // Errors count lines from a split's start, and say so.
        let behind_header = self.params.format == FileFormat::Csv && self.params.csv.header;
        let shown = match offset {
            0 => file.clone(),
            _ if behind_header => format!("{file} from byte {offset} (line 1 its header)"),
            _ => format!("{file} from byte {offset}"),
        };
        let (format, schema) = (self.params.format, &self.params.schema);
        let mut rows = FileRows::open(format, schema, &self.params.csv, shown.clone(), chunks)?;
        let more = self.skip_rows(&mut rows, &shown, skip)?;
        self.position = Some(Position {
            file,
            offset,
            rows: skip,
            finished: !more,
        });
        if more {
            Ok(Cursor::In(rows))
        } else {
            end_of_file(rows.into_source())
        }
    }

    /// Reads past the first `count` rows of `file`, emitted before the
    /// checkpoint it resumes from; whether rows follow them.
    fn skip_rows(
        &self,
        rows: &mut FileRows<Chunks>,
        file: &str,
        count: u64,
    ) -> Result<bool, OperatorError> {
        let schema = &self.params.schema;
        let mut left = count;
        while left > 0 {
            let chunk = left.min(self.params.batch_rows.max(1) as u64) as usize;
            let mut scratch = BatchBuilder::new(schema.clone(), chunk);
            let more = rows.fill(schema, &mut scratch, chunk)?;
            left -= scratch.len() as u64;
            if !more && left > 0 {
                return Err(OperatorError::BadInput(format!(
                    "{file} has {} rows, but the checkpoint resumed from had read {count} \
                     of it: the file changed",
                    count - left
                )));
            }
            if !more {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Source for Read {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let location = Location::of(&self.params, &context.access)?;
        let csv = &self.params.csv;
        let cutting = Cutting {
            splittable: match self.params.format {
                FileFormat::Text | FileFormat::JsonLines => true,
                FileFormat::Csv => !csv.multi_line,
                FileFormat::Parquet => false,
            },
            asked: self.params.split_bytes,
            header: self.params.format == FileFormat::Csv && csv.header,
        };
        let pieces = start_reader(
            location,
            context.access.clone(),
            (context.subtask, context.parallelism),
            cutting,
            self.resume.clone(),
        );
        self.cursor = Cursor::Idle(Chunks::new(pieces));
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        let limit = self.params.batch_rows;
        let mut builder = BatchBuilder::new(self.params.schema.clone(), limit);
        while builder.len() < limit {
            match std::mem::replace(&mut self.cursor, Cursor::Done) {
                Cursor::Done => break,
                Cursor::Idle(chunks) => self.cursor = self.advance(chunks)?,
                Cursor::In(mut rows) => match self.fill(&mut rows, &mut builder) {
                    Ok(true) => self.cursor = Cursor::In(rows),
                    Ok(false) => self.cursor = end_of_file(rows.into_source())?,
                    // A failed read of the store is the cause, not the
                    // parse error it left behind.
                    Err(error) => {
                        return Err(rows.source().failed.as_ref().map_or(error, Failure::error))
                    }
                },
            }
        }
        if builder.is_empty() {
            return Ok(None);
        }
        Ok(Some(builder.finish()?))
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        Ok(Some(position::encode(self.position.as_ref())))
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        self.resume = position::decode(state)?;
        self.position = self.resume.clone();
        Ok(())
    }
}

impl Read {
    /// Rows of the open file into `builder`, counted in its position;
    /// whether the file has more.
    fn fill(
        &mut self,
        rows: &mut FileRows<Chunks>,
        builder: &mut BatchBuilder,
    ) -> Result<bool, OperatorError> {
        let before = builder.len();
        let more = rows.fill(&self.params.schema, builder, self.params.batch_rows);
        if let Some(position) = &mut self.position {
            position.rows += (builder.len() - before) as u64;
            position.finished = matches!(more, Ok(false));
        }
        more
    }
}

/// After a file: a read failure ends the job; otherwise on to the next.
fn end_of_file(chunks: Chunks) -> Result<Cursor, OperatorError> {
    match &chunks.failed {
        Some(failure) => Err(failure.error()),
        None => Ok(Cursor::Idle(chunks)),
    }
}
