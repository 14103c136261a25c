//! A task's part in an unaligned checkpoint (Flink's unaligned
//! checkpoints): the barrier overtakes the data queued on its channel
//! ([`Overtaking`]), so under backpressure a checkpoint does not wait for
//! the backlog to drain.
//!
//! At the first overtaking barrier of checkpoint *n* the task runs it
//! through its chain, sends it on ahead of its own queued output, and
//! snapshots its operators — at once, with no alignment. Every data
//! message that was sent before the barrier on any channel but not yet
//! processed is then *in flight*: recorded, and processed as usual. On a
//! channel whose barrier has come, the task takes those messages out of
//! the queue at once (they are all at hand) and processes them in turn
//! later; on one whose barrier has not, it records what it reads until
//! the barrier comes. Once every channel's barrier has come and all the
//! messages before it are taken (a channel that ends is done), the
//! checkpoint is stored — without waiting for the backlog to be
//! processed. The state and the recorded messages are stored together;
//! a restored task hands its operators the state and then replays the
//! recorded messages before reading on, while its producers — restored
//! from the same checkpoint — send only what came after the barrier.
//!
//! Known limit: the data in a producer's transport send queue (a few
//! frames, waiting for credit) is not overtaken, so one frame per hop
//! still precedes the barrier.

use std::collections::{HashMap, VecDeque};

use super::checkpointing::Taken;
use super::running::Running;
use super::TaskError;
use crate::attempt::batch_from_bytes;
use crate::data::Batch;
use crate::exchange::{Delivery, Incoming, InputQueue};
use crate::message::{Barrier, Message, Overtaking, Signal};
use crate::operator::OperatorError;
use crate::state::StateValue;

/// An unaligned checkpoint a task has snapshotted and still records the
/// in-flight messages of.
pub(super) struct Recording {
    taken: Taken,
    /// Per channel `(input, channel)`: the data messages before the
    /// barrier, once its barrier has come.
    before: HashMap<(usize, usize), u64>,
    /// The recorded messages: (input, archived batch).
    messages: Vec<(u32, Vec<u8>)>,
}

/// The bytes of recorded in-flight messages.
pub fn encode(messages: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    (messages.len() as u64).encode(&mut out);
    for (input, archive) in messages {
        u64::from(*input).encode(&mut out);
        archive.encode(&mut out);
    }
    out
}

/// Reads recorded in-flight messages back as (input, batch).
pub fn decode(mut bytes: &[u8]) -> Result<Vec<(usize, Batch)>, OperatorError> {
    let bytes = &mut bytes;
    let corrupt = |e: crate::state::StateError| {
        OperatorError::BadInput(format!("in-flight messages of a checkpoint: {e}"))
    };
    let count = u64::decode(bytes).map_err(corrupt)?;
    let mut messages = Vec::new();
    for _ in 0..count {
        let input = u64::decode(bytes).map_err(corrupt)?;
        let archive = Vec::<u8>::decode(bytes).map_err(corrupt)?;
        messages.push((input as usize, batch_from_bytes(&archive)?));
    }
    if !bytes.is_empty() {
        return Err(OperatorError::BadInput(format!(
            "in-flight messages of a checkpoint: {} bytes after the last",
            bytes.len()
        )));
    }
    Ok(messages)
}

impl Running {
    /// Sends barrier `barrier` through the chain and on to every output
    /// ahead of the data queued there.
    pub(super) async fn overtake_outputs(&mut self, barrier: Barrier) -> Result<(), TaskError> {
        let (out, _) = self.cascade(0, Vec::new(), Some(Signal::Barrier(barrier)))?;
        self.ship(out).await?;
        for i in 0..self.outputs.len() {
            let sent = self.outputs[i].send_overtaking(barrier).await;
            sent.map_err(|e| self.exchange_error(e))?;
        }
        Ok(())
    }

    /// An overtaking barrier arrived on `(input, channel)`: the first of
    /// its checkpoint snapshots the task and sends it on; each says how
    /// many of the channel's messages are in flight.
    pub(super) async fn overtaking_arrived(
        &mut self,
        input: usize,
        channel: usize,
        overtaking: Overtaking,
    ) -> Result<(), TaskError> {
        let checkpoint = overtaking.barrier.checkpoint;
        let current = self.recording.as_ref().map(|r| r.taken.checkpoint);
        if current.is_some_and(|c| c > checkpoint)
            || (current.is_none() && checkpoint <= self.snapshotted)
        {
            // A barrier of a checkpoint given up on: nothing to do.
            return Ok(());
        }
        if current != Some(checkpoint) {
            // A newer checkpoint: one still recording was abandoned.
            self.overtake_outputs(overtaking.barrier).await?;
            let Some(taken) = self.take_snapshot(checkpoint)? else {
                return Ok(());
            };
            self.barrier_arrived();
            self.recording = Some(Recording {
                taken,
                before: HashMap::new(),
                messages: Vec::new(),
            });
        }
        if let Some(recording) = &mut self.recording {
            recording.before.insert((input, channel), overtaking.after);
        }
        Ok(())
    }

    /// Takes from `queue` every data message of `(input, channel)` the
    /// barrier just arrived there overtook and has not been taken yet
    /// (`pulled` counts what was), recording each and keeping it, with
    /// the signals between them, in `ahead` for the loop to process in
    /// turn. They are all at hand: a local producer queued them before the
    /// barrier, a remote one sent them before it on the same stream. So
    /// the checkpoint need not wait for the backlog to be processed.
    pub(super) async fn pull_ahead(
        &mut self,
        queue: &mut InputQueue,
        (input, channel): (usize, usize),
        pulled: &mut u64,
        ahead: &mut VecDeque<Delivery>,
    ) {
        let Some(before) = self
            .recording
            .as_ref()
            .and_then(|r| r.before.get(&(input, channel)).copied())
        else {
            return;
        };
        while *pulled < before {
            let Some(delivery) = queue.next(channel).await else {
                // The producer went: the loop finds out in turn.
                return;
            };
            let last = match &delivery {
                Ok(Message::Data(incoming)) => {
                    *pulled += 1;
                    self.record_in_flight(input, channel, *pulled, incoming);
                    false
                }
                Ok(Message::Signal(Signal::EndOfData)) | Err(_) => true,
                Ok(Message::Signal(_)) => false,
            };
            ahead.push_back(delivery);
            if last {
                return;
            }
        }
    }

    /// Records message number `seen` (counted from 1) of `(input,
    /// channel)` if it is in flight for the checkpoint being recorded.
    pub(super) fn record_in_flight(
        &mut self,
        input: usize,
        channel: usize,
        seen: u64,
        incoming: &Incoming,
    ) {
        let Some(recording) = &mut self.recording else {
            return;
        };
        let before = recording.before.get(&(input, channel));
        if before.is_some_and(|&before| seen > before) {
            return;
        }
        recording.messages.push((input as u32, incoming.archive()));
    }

    /// Stores the checkpoint being recorded once every channel that is
    /// still open (`open`) has delivered its barrier and everything
    /// before it (`seen`: messages read per input and channel).
    pub(super) fn finish_recording(
        &mut self,
        seen: &[Vec<u64>],
        open: impl Fn(usize, usize) -> bool,
    ) {
        let Some(recording) = &self.recording else {
            return;
        };
        let done = seen.iter().enumerate().all(|(input, channels)| {
            channels.iter().enumerate().all(|(channel, &read)| {
                !open(input, channel)
                    || recording
                        .before
                        .get(&(input, channel))
                        .is_some_and(|&before| read >= before)
            })
        });
        if !done {
            return;
        }
        if let Some(Recording {
            mut taken,
            messages,
            ..
        }) = self.recording.take()
        {
            if let Some(link) = &mut self.checkpoints {
                // From the first barrier to the last one's messages.
                if let Some(at) = link.align_started.take() {
                    taken.stats.alignment_ms = at.elapsed().as_millis() as u64;
                }
            }
            self.store_snapshot(taken, messages);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Column, ColumnData, DataType, Field, Schema};

    #[test]
    fn in_flight_messages_round_trip_and_damage_is_named() {
        let batch = Batch::new(
            Schema::new(vec![Field::new("x", DataType::Int64)]),
            3,
            vec![Column {
                validity: None,
                data: ColumnData::Int64(vec![1, 2, 3]),
            }],
        )
        .unwrap();
        let messages = vec![
            (0, batch.to_bytes().to_vec()),
            (1, batch.to_bytes().to_vec()),
        ];
        let bytes = encode(&messages);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[1].0, back[1].1.num_rows()), (1, 3));
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        let error = decode(&longer).unwrap_err().to_string();
        assert!(error.contains("after the last"), "{error}");
    }
}
