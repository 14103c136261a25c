//! Exchanges: how batches travel between tasks, under credits.
//!
//! - **Local pipelined** (both tasks in one worker): a bounded channel of
//!   owned batches per (producer, consumer) pair. Its capacity is the
//!   channel's credit: a producer waits when the consumer holds that many
//!   unread messages, so memory per edge is bounded whatever the speeds.
//! - **Remote pipelined**: a transport channel per (producer, consumer)
//!   pair carrying rkyv archives of batches; the consumer reads them in
//!   place from the receive buffer ([`crate::data::BatchView`]).
//! - **Blocking**: the producer pushes each consumer's rows to the shuffle
//!   service as that reduce partition (map id = producer subtask) and
//!   commits at the end; the consumer fetches its partition.
//! - **Hybrid**: pushed and committed as on a blocking edge, but the
//!   consumer runs beside its producers and reads each map's output as
//!   soon as that map commits ([`hybrid`]).
//!
//! Pipelined channels carry [`crate::message::Message`]s: batches and, in
//! order with them, watermarks, checkpoint barriers and end of data (over
//! the transport as event frames and its End frame). Blocking, hybrid and
//! range edges hold data until their producer's input ends, which only a bounded
//! job has; they carry no watermarks or barriers.
//!
//! Every consumer input is one bounded queue per channel
//! ([`InputQueue`]), fed directly by a local producer or by a small
//! forwarding task for a remote channel or shuffle fetch.

pub mod agreement;
pub mod delivered;
pub mod hybrid;
pub mod partition;
mod range;
pub mod sink;
mod source;

pub use range::RangeCoordinator;
pub use sink::{ConsumerSink, OutputWriter};
pub use source::{forward_frames, forward_mapped, ChannelEnds, Delivery, InputQueue, InputSender};

use rkyv::util::AlignedVec;

use crate::data::{Batch, BatchError, BatchView, Schema};
use crate::operator::Rows;

/// Messages a local channel holds in flight.
pub const LOCAL_CREDITS: usize = 4;

/// A batch arriving at a task.
pub enum Incoming {
    /// Handed over in-process.
    Owned(Batch),
    /// An archive in a transport receive buffer, read in place.
    Frame(faro_transport::Frame),
    /// An archive in a shuffle node's memory-mapped partition file (a
    /// node in this process), read in place.
    Mapped(bytes::Bytes),
}

impl Incoming {
    /// Bytes it carries: the archive's length, or an owned batch's buffers.
    pub fn bytes(&self) -> usize {
        match self {
            Incoming::Owned(batch) => batch.buffer_bytes(),
            Incoming::Frame(frame) => frame.len(),
            Incoming::Mapped(bytes) => bytes.len(),
        }
    }

    /// The batch as an archive's bytes (a copy), to store: an unaligned
    /// checkpoint's in-flight message.
    pub fn archive(&self) -> Vec<u8> {
        match self {
            Incoming::Owned(batch) => batch.to_bytes().to_vec(),
            Incoming::Frame(frame) => frame.to_vec(),
            Incoming::Mapped(bytes) => bytes.to_vec(),
        }
    }

    /// Reads the batch (validating an archive, and that it has the
    /// `expected` columns) and calls `f` with its rows.
    pub fn with_rows<T>(
        &self,
        expected: &Schema,
        f: impl FnOnce(&Rows<'_>) -> T,
    ) -> Result<T, BatchError> {
        match self {
            Incoming::Owned(batch) => Ok(f(&Rows::of_batch(batch))),
            Incoming::Frame(frame) => {
                let view = BatchView::new(frame)?;
                view.check_schema(expected)?;
                Ok(f(&Rows::of_view(&view)))
            }
            Incoming::Mapped(bytes) => {
                let view = BatchView::new(bytes)?;
                view.check_schema(expected)?;
                Ok(f(&Rows::of_view(&view)))
            }
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// The transport failed or the peer refused.
    #[error("exchange {exchange}: {message}")]
    Transport {
        /// The exchange.
        exchange: usize,
        /// What happened.
        message: String,
    },
    /// A consumer in this process stopped taking batches: it failed or
    /// was stopped, and its own failure says why.
    #[error("exchange {exchange}: consumer {consumer} is gone")]
    ConsumerGone {
        /// The exchange.
        exchange: usize,
        /// The consumer.
        consumer: usize,
    },
    /// A received batch failed validation.
    #[error("exchange {exchange}: corrupt batch: {message}")]
    Corrupt {
        /// The exchange.
        exchange: usize,
        /// What is wrong.
        message: String,
    },
}

/// Archives `batch` into frames of at most `max` bytes, splitting it by
/// rows as often as needed.
pub fn archive_within(batch: &Batch, max: usize) -> Result<Vec<AlignedVec>, BatchError> {
    let bytes = batch.to_bytes();
    if bytes.len() <= max || batch.num_rows() <= 1 {
        return Ok(vec![bytes]);
    }
    let half = batch.num_rows() / 2;
    let first: Vec<u32> = (0..half as u32).collect();
    let second: Vec<u32> = (half as u32..batch.num_rows() as u32).collect();
    let mut out = archive_within(&batch.take(&first)?, max)?;
    out.extend(archive_within(&batch.take(&second)?, max)?);
    Ok(out)
}
