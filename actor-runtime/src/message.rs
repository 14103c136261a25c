//! What travels along a job's edges: data and, in order with it, the
//! signals that tell a consumer where the stream stands.
//!
//! A [`Message`] is a batch or a [`Signal`]: a [`Watermark`] (no row with an
//! earlier event time follows on this channel), a checkpoint [`Barrier`]
//! (everything before it belongs to checkpoint n), idleness (do not wait
//! for this channel's event time for now), or end of data. Signals
//! are in-band: they ride the same local queue or transport channel as the
//! batches, so they can neither overtake data nor be overtaken by it — the
//! property watermarks and aligned checkpoints rest on, as in Flink's
//! stream elements, RisingWave's `Message { Chunk, Barrier, Watermark }` and
//! Arroyo's `ArrowMessage { Data, Signal }`.
//!
//! On a transport channel a watermark, barrier or idleness is an event frame holding
//! [`Signal::encode`]'s nine bytes; end of data is the channel's own End
//! frame, so it is never accepted as an event. The codec here is pure.
//!
//! The one exception is an unaligned checkpoint's barrier
//! ([`Overtaking`]): it travels beside the data, not behind it, and says
//! how many data messages its producer sent on the channel before it, so
//! the consumer knows which of the messages it overtook belong to the
//! checkpoint (they are stored with it and replayed on restore). Its
//! event frame is seventeen bytes.

/// Event time a stream has reached: milliseconds since the Unix epoch, the
/// unit of [`crate::DataType::Timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Watermark(pub i64);

impl Watermark {
    /// Before every event time: where a stream stands before its first
    /// watermark.
    pub const MIN: Watermark = Watermark(i64::MIN);
    /// After every event time: a stream that has ended.
    pub const MAX: Watermark = Watermark(i64::MAX);
}

/// A checkpoint barrier: rows before it are in checkpoint `checkpoint`'s
/// snapshot, rows after it are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Barrier {
    /// The checkpoint's id, increasing over a job's run.
    pub checkpoint: u64,
}

/// An unaligned checkpoint's barrier on one channel: it overtakes the
/// data queued on the channel; the first `after` data messages the
/// producer sent on it are before the barrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overtaking {
    /// The barrier.
    pub barrier: Barrier,
    /// Data messages the producer sent on this channel before it.
    pub after: u64,
}

/// The bytes of an encoded [`Overtaking`] barrier.
pub const OVERTAKING_BYTES: usize = 17;

impl Overtaking {
    /// Its event-frame payload: a tag byte, the checkpoint and the count.
    pub fn encode(&self) -> [u8; OVERTAKING_BYTES] {
        let mut bytes = [0u8; OVERTAKING_BYTES];
        bytes[0] = OVERTAKING;
        bytes[1..9].copy_from_slice(&self.barrier.checkpoint.to_le_bytes());
        bytes[9..].copy_from_slice(&self.after.to_le_bytes());
        bytes
    }

    /// Reads an event frame's payload back, if it is one (`None` for
    /// any other event, which [`Signal::decode`] reads).
    pub fn decode(bytes: &[u8]) -> Option<Overtaking> {
        let bytes = <&[u8; OVERTAKING_BYTES]>::try_from(bytes).ok()?;
        if bytes[0] != OVERTAKING {
            return None;
        }
        let word = |range: std::ops::Range<usize>| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[range]);
            u64::from_le_bytes(word)
        };
        Some(Overtaking {
            barrier: Barrier {
                checkpoint: word(1..9),
            },
            after: word(9..17),
        })
    }
}

/// A control message travelling in order with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Event time has advanced to here on this channel.
    Watermark(Watermark),
    /// A checkpoint barrier.
    Barrier(Barrier),
    /// The producer's event time is unknown for now (its source has read
    /// nothing for its idle timeout): consumers stop waiting for this
    /// channel's watermark until it sends rows or a watermark again —
    /// Flink's idle watermark status.
    Idle,
    /// The producer has no more data for this channel.
    EndOfData,
}

/// One item on an edge: a batch (in whatever form the edge carries it:
/// owned, or an archive in a receive buffer) or a signal.
#[derive(Debug)]
pub enum Message<B> {
    /// Rows.
    Data(B),
    /// A watermark, barrier or end of data.
    Signal(Signal),
}

/// Why an event frame could not be read as a signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// Not the nine bytes of an encoded signal.
    #[error("a signal is 9 bytes, this event has {0}")]
    Length(usize),
    /// A tag no signal has (end of data is never sent as an event).
    #[error("unknown signal tag {0}")]
    Tag(u8),
}

const WATERMARK: u8 = 1;
const BARRIER: u8 = 2;
const IDLE: u8 = 3;
const OVERTAKING: u8 = 4;

/// The bytes of an encoded signal.
pub const SIGNAL_BYTES: usize = 9;

impl Signal {
    /// The event-frame payload of a watermark or barrier: a tag byte and a
    /// little-endian word. `None` for end of data, which a channel says
    /// with its own End frame.
    pub fn encode(&self) -> Option<[u8; SIGNAL_BYTES]> {
        let (tag, word) = match self {
            Signal::Watermark(Watermark(time)) => (WATERMARK, *time as u64),
            Signal::Barrier(Barrier { checkpoint }) => (BARRIER, *checkpoint),
            Signal::Idle => (IDLE, 0),
            Signal::EndOfData => return None,
        };
        let mut bytes = [0u8; SIGNAL_BYTES];
        bytes[0] = tag;
        bytes[1..].copy_from_slice(&word.to_le_bytes());
        Some(bytes)
    }

    /// Reads an event frame's payload back.
    pub fn decode(bytes: &[u8]) -> Result<Signal, SignalError> {
        let Ok(bytes) = <&[u8; SIGNAL_BYTES]>::try_from(bytes) else {
            return Err(SignalError::Length(bytes.len()));
        };
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[1..]);
        let word = u64::from_le_bytes(word);
        match bytes[0] {
            WATERMARK => Ok(Signal::Watermark(Watermark(word as i64))),
            BARRIER => Ok(Signal::Barrier(Barrier { checkpoint: word })),
            IDLE if word == 0 => Ok(Signal::Idle),
            IDLE => Err(SignalError::Tag(IDLE)),
            tag => Err(SignalError::Tag(tag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_and_barriers_round_trip_through_their_bytes() {
        for signal in [
            Signal::Watermark(Watermark::MIN),
            Signal::Watermark(Watermark(-1)),
            Signal::Watermark(Watermark(1_700_000_000_000_000)),
            Signal::Watermark(Watermark::MAX),
            Signal::Barrier(Barrier { checkpoint: 0 }),
            Signal::Barrier(Barrier {
                checkpoint: u64::MAX,
            }),
            Signal::Idle,
        ] {
            let bytes = signal.encode().expect("an event");
            assert_eq!(Signal::decode(&bytes), Ok(signal));
        }
    }

    #[test]
    fn end_of_data_is_not_an_event_and_bad_events_are_named() {
        assert_eq!(Signal::EndOfData.encode(), None);
        assert_eq!(Signal::decode(&[1, 2, 3]), Err(SignalError::Length(3)));
        assert_eq!(Signal::decode(&[0; 9]), Err(SignalError::Tag(0)));
        assert_eq!(Signal::decode(&[3; 9]), Err(SignalError::Tag(3)));
        assert_eq!(Signal::decode(&[4; 9]), Err(SignalError::Tag(4)));
        assert!(Signal::decode(&[1; 10]).is_err());
    }

    #[test]
    fn an_overtaking_barrier_round_trips_and_no_signal_reads_as_one() {
        let overtaking = Overtaking {
            barrier: Barrier { checkpoint: 7 },
            after: u64::MAX - 1,
        };
        assert_eq!(Overtaking::decode(&overtaking.encode()), Some(overtaking));
        let barrier = Signal::Barrier(Barrier { checkpoint: 7 });
        assert_eq!(Overtaking::decode(&barrier.encode().unwrap()), None);
        assert!(Signal::decode(&overtaking.encode()).is_err());
        let mut wrong = overtaking.encode();
        wrong[0] = BARRIER;
        assert_eq!(Overtaking::decode(&wrong), None);
    }
}
