//! `read` of Parquet files: the declared columns only (a projection by
//! name), row groups shared out across the subtasks, nulls kept.
//!
//! Every subtask reads the footer of every file in the listing (sorted),
//! numbers all their row groups in order and takes every
//! `parallelism`-th — so one large file is read by all subtasks at once,
//! and many small ones spread as evenly as their row groups allow. For
//! each of its row groups a subtask fetches the projected columns' chunks
//! (one ranged read each, through opendal, so local files and object
//! stores are read alike) and decodes them into batches of `batch_rows`.
//!
//! Fetching and decoding run on a thread of their own, a batch ahead of
//! the operator, so decoding overlaps the work downstream. Memory is a
//! row group's projected, compressed chunks plus two batches.
//!
//! Hostile files: a footer that does not fit the file, a chunk outside
//! it, or a page that does not decode is an error naming the file (and
//! row group, column and row where known) — and a panic inside the
//! `parquet` crate on such a file is caught and reported the same way,
//! so a bad file fails its job, never the worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::column::page::PageReader;
use parquet::column::reader::get_column_reader;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::serialized_reader::SerializedPageReader;

use super::{open_listing, Failure, Location, ReadParams};
use crate::access::AccessPolicy;
use crate::data::Batch;
use crate::data::{BatchBuilder, Schema};
use crate::operator::{OperatorContext, OperatorError, Source};

mod decode;
mod projection;
mod ranges;

use decode::ColumnDecoder;
use projection::{project, ColumnSource};
use ranges::FetchedRanges;

/// Parquet's magic bytes, at both ends of a file.
const MAGIC: &[u8; 4] = b"PAR1";

/// What the reading thread sends.
enum Piece {
    Batch(Batch),
    Failed(Failure),
    /// Every row group of the subtask was read.
    Done,
}

/// The `read` source of Parquet files.
pub struct ReadParquet {
    params: ReadParams,
    pieces: Option<Receiver<Piece>>,
}

impl ReadParquet {
    /// A reader of `params` (whose format is Parquet).
    pub fn new(params: ReadParams) -> Self {
        Self {
            params,
            pieces: None,
        }
    }
}

impl Source for ReadParquet {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let location = Location::of(&self.params, &context.access)?;
        let (tx, rx) = sync_channel(1);
        let job = SubtaskFiles {
            location,
            access: context.access.clone(),
            schema: self.params.schema.clone(),
            batch_rows: self.params.batch_rows.max(1),
            subtask: context.subtask as usize,
            parallelism: context.parallelism.max(1) as usize,
        };
        std::thread::spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| job.read(&tx))).unwrap_or_else(|_| {
                Err(Failure::Input(format!(
                    "{}: the Parquet decoder failed on this file (is it corrupt?)",
                    job.location.shown(&job.location.path)
                )))
            });
            let _ = tx.send(match result {
                Ok(()) => Piece::Done,
                Err(failure) => Piece::Failed(failure),
            });
        });
        self.pieces = Some(rx);
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        let Some(pieces) = &self.pieces else {
            return Ok(None);
        };
        match pieces.recv() {
            Ok(Piece::Batch(batch)) => Ok(Some(batch)),
            Ok(Piece::Failed(failure)) => {
                self.pieces = None;
                Err(failure.error())
            }
            Ok(Piece::Done) => {
                self.pieces = None;
                Ok(None)
            }
            Err(_) => Err(OperatorError::BadInput(
                "the Parquet reader stopped before its files ended".into(),
            )),
        }
    }
}

/// One file's footer, as the subtask uses it.
struct Footer {
    key: String,
    shown: String,
    length: u64,
    metadata: ParquetMetaData,
    columns: Vec<ColumnSource>,
}

/// What one subtask reads.
struct SubtaskFiles {
    location: Location,
    access: Arc<AccessPolicy>,
    schema: Schema,
    batch_rows: usize,
    subtask: usize,
    parallelism: usize,
}

impl SubtaskFiles {
    /// Reads the subtask's row groups, sending their batches; stops early
    /// (with `Ok`) if the operator has gone.
    fn read(&self, out: &SyncSender<Piece>) -> Result<(), Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Unavailable(e.to_string()))?;
        let (op, keys) = runtime.block_on(open_listing(&self.location))?;
        let mut footers = Vec::with_capacity(keys.len());
        for key in keys {
            self.location.allowed(&key, &self.access)?;
            let shown = self.location.shown(&key);
            let (length, metadata) = runtime.block_on(read_footer(&op, &key, &shown))?;
            let columns = project(
                &self.schema,
                metadata.file_metadata().schema_descr(),
                &shown,
            )
            .map_err(Failure::Input)?;
            footers.push(Footer {
                key,
                shown,
                length,
                metadata,
                columns,
            });
        }
        let groups = footers
            .iter()
            .enumerate()
            .flat_map(|(f, footer)| (0..footer.metadata.num_row_groups()).map(move |g| (f, g)));
        for (_, (f, group)) in groups
            .enumerate()
            .filter(|(i, _)| i % self.parallelism == self.subtask)
        {
            let footer = &footers[f];
            let fetched = runtime.block_on(fetch_group(&op, footer, group))?;
            let failed =
                |e: String| Failure::Input(format!("{}: row group {group}: {e}", footer.shown));
            if !self
                .decode_group(footer, group, fetched, out)
                .map_err(failed)?
            {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Decodes row group `group` of `footer`'s file from its `fetched`
    /// chunks into batches sent to `out`; `false` if the operator has
    /// gone.
    fn decode_group(
        &self,
        footer: &Footer,
        group: usize,
        fetched: FetchedRanges,
        out: &SyncSender<Piece>,
    ) -> Result<bool, String> {
        let metadata = footer.metadata.row_group(group);
        let rows = usize::try_from(metadata.num_rows())
            .map_err(|_| format!("a row count of {}", metadata.num_rows()))?;
        let first_row: u64 = (0..group)
            .map(|g| footer.metadata.row_group(g).num_rows().max(0) as u64)
            .sum();
        let fetched = Arc::new(fetched);
        let mut decoders = Vec::with_capacity(footer.columns.len());
        for source in &footer.columns {
            let chunk = metadata.column(source.leaf);
            check_codec(chunk.compression())
                .map_err(|codec| format!("column {:?} is compressed with {codec}, which Faro does not read (it reads snappy, gzip, lz4 and uncompressed files)", source.field.name))?;
            let pages = SerializedPageReader::new(fetched.clone(), chunk, rows, None)
                .map_err(|e| e.to_string())?;
            let pages: Box<dyn PageReader> = Box::new(pages);
            let reader = get_column_reader(chunk.column_descr_ptr(), pages);
            decoders.push(ColumnDecoder::new(
                reader,
                source.clone(),
                chunk.column_descr(),
            ));
        }
        let mut done = 0;
        while done < rows {
            let n = self.batch_rows.min(rows - done);
            let mut builder = BatchBuilder::new(self.schema.clone(), n);
            for (c, decoder) in decoders.iter_mut().enumerate() {
                decoder.read(n, builder.column(c), first_row + done as u64)?;
            }
            let batch = builder.finish().map_err(|e| e.to_string())?;
            if out.send(Piece::Batch(batch)).is_err() {
                return Ok(false);
            }
            done += n;
        }
        Ok(true)
    }
}

/// Whether pages compressed with `codec` can be read; the codec's name
/// if not.
fn check_codec(codec: Compression) -> Result<(), &'static str> {
    match codec {
        Compression::UNCOMPRESSED
        | Compression::SNAPPY
        | Compression::GZIP(_)
        | Compression::LZ4
        | Compression::LZ4_RAW => Ok(()),
        Compression::ZSTD(_) => Err("ZSTD"),
        Compression::BROTLI(_) => Err("BROTLI"),
        Compression::LZO => Err("LZO"),
    }
}

/// The length and footer of the file `key` (shown as `shown`).
async fn read_footer(
    op: &opendal::Operator,
    key: &str,
    shown: &str,
) -> Result<(u64, ParquetMetaData), Failure> {
    let reading = |e: opendal::Error| Failure::store(format!("reading {shown}"), &e);
    let length = op.stat(key).await.map_err(reading)?.content_length();
    let not_parquet = |why: &str| Failure::Input(format!("{shown}: not a Parquet file ({why})"));
    if length < 12 {
        return Err(not_parquet("shorter than a header and footer"));
    }
    let tail = op
        .read_with(key)
        .range(length - 8..length)
        .await
        .map_err(reading)?
        .to_bytes();
    if tail.len() != 8 || &tail[4..] != MAGIC {
        return Err(not_parquet("it does not end in PAR1; truncated?"));
    }
    let footer_length = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer_length > length - 12 {
        return Err(not_parquet(
            "its footer is longer than the file; truncated?",
        ));
    }
    let footer = op
        .read_with(key)
        .range(length - 8 - footer_length..length - 8)
        .await
        .map_err(reading)?
        .to_bytes();
    let metadata = ParquetMetaDataReader::decode_metadata(&footer)
        .map_err(|e| Failure::Input(format!("{shown}: a footer that does not decode: {e}")))?;
    Ok((length, metadata))
}

/// Fetches the projected column chunks of row group `group`.
async fn fetch_group(
    op: &opendal::Operator,
    footer: &Footer,
    group: usize,
) -> Result<FetchedRanges, Failure> {
    let metadata = footer.metadata.row_group(group);
    let mut fetched = FetchedRanges::new(footer.length);
    for source in &footer.columns {
        let (start, length) = metadata.column(source.leaf).byte_range();
        let end = start
            .checked_add(length)
            .filter(|&end| end <= footer.length);
        let Some(end) = end else {
            return Err(Failure::Input(format!(
                "{}: row group {group}: column {:?} lies past the end of the file; truncated?",
                footer.shown, source.field.name
            )));
        };
        let bytes = op
            .read_with(&footer.key)
            .range(start..end)
            .await
            .map_err(|e| Failure::store(format!("reading {}", footer.shown), &e))?
            .to_bytes();
        fetched.insert(start, bytes);
    }
    Ok(fetched)
}
