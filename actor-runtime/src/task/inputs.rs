//! A task's input loop: which of its channels to read next, and what
//! each message does to the chain.
//!
//! Channels are read round-robin, one message at a time, except those
//! the frontier holds (an aligned barrier's alignment) and, while the head
//! operator prefers one input, the others. Before any data the loop takes
//! an operator's due timer, a command from the checkpoint coordinator and
//! an unaligned checkpoint's overtaking barriers (`super::unaligned`),
//! so a busy input starves none of them. A restored task first replays
//! the in-flight messages its checkpoint held. Under approximate
//! failover a channel whose producer is lost is detached rather than
//! failing the task, and a restarted producer's channel is swapped in
//! (`super::rewire`).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::Instant;

use super::frontier::Frontier;
use super::running::Running;
use super::TaskError;
use crate::data::Schema;
use crate::exchange::{ExchangeError, InputQueue};
use crate::message::{Message, Signal};

/// What woke the input loop.
enum Wake {
    /// An operator's timer is due.
    Timer,
    /// The checkpoint coordinator sent a command.
    Command(crate::checkpoint::CheckpointCommand),
    /// A channel (by its place in the round-robin) delivered an
    /// unaligned checkpoint's barrier, ahead of its data.
    Overtaking(usize, crate::message::Overtaking),
    /// A channel (by its place in the round-robin) delivered an item;
    /// `true` if it was pulled ahead of its turn (already counted).
    Delivery(usize, Option<crate::exchange::Delivery>, bool),
}

impl Running {
    /// Reads every input to its end, pushing what comes through the
    /// chain and shipping what it emits.
    pub(super) async fn drive_inputs(
        &mut self,
        mut queues: Vec<InputQueue>,
        schemas: Vec<Schema>,
        exchanges: Vec<usize>,
    ) -> Result<(), TaskError> {
        let channels: Vec<usize> = queues.iter().map(InputQueue::channels).collect();
        // Every (input, channel), read round-robin.
        let all: Vec<(usize, usize)> = (0..channels.len())
            .flat_map(|i| (0..channels[i]).map(move |c| (i, c)))
            .collect();
        let mut frontier = Frontier::new(&channels);
        // Data messages taken from each channel's queue (what an
        // overtaking barrier's count is compared with), and what an
        // unaligned checkpoint pulled from a queue ahead of its turn.
        let mut pulled: Vec<Vec<u64>> = channels.iter().map(|&n| vec![0; n]).collect();
        let mut ahead: Vec<Vec<VecDeque<crate::exchange::Delivery>>> = channels
            .iter()
            .map(|&n| (0..n).map(|_| VecDeque::new()).collect())
            .collect();
        for (input, batch) in std::mem::take(&mut self.replay) {
            self.process(
                input,
                crate::exchange::Incoming::Owned(batch),
                &schemas[input],
            )
            .await?;
        }
        for input in (0..channels.len()).filter(|&i| !frontier.input_open(i)) {
            self.end_input(input).await?;
        }
        let mut start = 0usize;
        let mut timer_due = Instant::now();
        let mut timer = Box::pin(tokio::time::sleep_until(timer_due.into()));
        while !frontier.all_ended() {
            // A preferred input held whole at a barrier must let the
            // others catch up, or alignment would wait on itself.
            let preferred = self
                .operators
                .first()
                .and_then(|op| op.input_preference())
                .filter(|&p| frontier.input_readable(p));
            // One sleep for the loop's life, moved only when the chain's
            // earliest timer does: not a new timer per message.
            let due = self.next_timer();
            if let Some(due) = due.filter(|&d| d != timer_due) {
                timer.as_mut().reset(due.into());
                timer_due = due;
            }
            let checkpoints = &mut self.checkpoints;
            let woken = poll_fn(|cx| {
                // Polled first, so a busy input cannot starve a timer or
                // the coordinator.
                if due.is_some() && timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Timer);
                }
                if let Some(link) = checkpoints.as_mut() {
                    if let Poll::Ready(Some(command)) = link.inbox.poll_recv(cx) {
                        return Poll::Ready(Wake::Command(command));
                    }
                    // Overtaking barriers before any data.
                    for (at, &(input, channel)) in all.iter().enumerate() {
                        if let Poll::Ready(Some(barrier)) =
                            queues[input].poll_overtaking(channel, cx)
                        {
                            return Poll::Ready(Wake::Overtaking(at, barrier));
                        }
                    }
                }
                for k in 0..all.len() {
                    let at = (start + k) % all.len();
                    let (input, channel) = all[at];
                    if !frontier.readable(input, channel) || preferred.is_some_and(|p| p != input) {
                        continue;
                    }
                    if let Some(item) = ahead[input][channel].pop_front() {
                        return Poll::Ready(Wake::Delivery(at, Some(item), true));
                    }
                    if let Poll::Ready(item) = queues[input].poll_channel(channel, cx) {
                        return Poll::Ready(Wake::Delivery(at, item, false));
                    }
                }
                Poll::Pending
            })
            .await;
            let (at, delivery) = match woken {
                Wake::Timer => {
                    self.fire_timers().await?;
                    continue;
                }
                Wake::Command(crate::checkpoint::CheckpointCommand::PeerRestarted(mut rewire)) => {
                    self.rewire_outputs(&mut rewire).await;
                    let (swapped, aligned) =
                        self.rewire_inputs(&mut rewire, &mut queues, &exchanges, &mut frontier);
                    for (input, channel) in swapped {
                        pulled[input][channel] = 0;
                        ahead[input][channel].clear();
                    }
                    if let Some(barrier) = aligned {
                        self.signal(0, Signal::Barrier(barrier)).await?;
                        self.snapshot(barrier.checkpoint)?;
                    }
                    continue;
                }
                Wake::Command(command) => {
                    self.on_command(command).await?;
                    continue;
                }
                Wake::Overtaking(at, barrier) => {
                    let (input, channel) = all[at];
                    self.overtaking_arrived(input, channel, barrier).await?;
                    let (queue, ahead) = (&mut queues[input], &mut ahead[input][channel]);
                    self.pull_ahead(queue, (input, channel), &mut pulled[input][channel], ahead)
                        .await;
                    self.finish_recording(&pulled, |i, c| frontier.channel_open(i, c));
                    continue;
                }
                Wake::Delivery(at, delivery, early) => {
                    if let (false, Some(Ok(Message::Data(incoming)))) = (early, &delivery) {
                        let (input, channel) = all[at];
                        pulled[input][channel] += 1;
                        if self.recording.is_some() {
                            let n = pulled[input][channel];
                            self.record_in_flight(input, channel, n, incoming);
                            self.finish_recording(&pulled, |i, c| frontier.channel_open(i, c));
                        }
                    }
                    (at, delivery)
                }
            };
            start = at + 1;
            let (input, channel) = all[at];
            let message = match delivery {
                Some(Ok(message)) => message,
                // Approximate failover: the task reads on without the
                // producer until its new attempt is swapped in.
                lost if self.approximate
                    && !matches!(lost, Some(Err(ExchangeError::Corrupt { .. }))) =>
                {
                    let why = match lost {
                        Some(Err(error)) => error.to_string(),
                        _ => "it went away before the end of its data".into(),
                    };
                    tracing::warn!(input, channel, %why, "producer lost; reading on without it");
                    self.recording = None;
                    let detached = frontier.detach(input, channel);
                    if let Some(watermark) = detached.watermark {
                        self.signal(0, Signal::Watermark(watermark)).await?;
                    }
                    if let Some(barrier) = detached.barrier {
                        self.signal(0, Signal::Barrier(barrier)).await?;
                        self.snapshot(barrier.checkpoint)?;
                    }
                    continue;
                }
                Some(Err(source)) => return Err(self.exchange_error(source)),
                None => {
                    return Err(self.exchange_error(ExchangeError::Transport {
                        exchange: exchanges[input],
                        message: format!("producer {channel} went away before the end of its data"),
                    }))
                }
            };
            match message {
                Message::Data(incoming) => {
                    frontier.on_data(input, channel);
                    self.process(input, incoming, &schemas[input]).await?
                }
                Message::Signal(Signal::Watermark(watermark)) => {
                    if let Some(advanced) = frontier.on_watermark(input, channel, watermark) {
                        self.signal(0, Signal::Watermark(advanced)).await?;
                    }
                }
                Message::Signal(Signal::Idle) => {
                    if let Some(advanced) = frontier.on_idle(input, channel) {
                        self.signal(0, Signal::Watermark(advanced)).await?;
                    }
                }
                // A checkpoint this task already took, sent again by a
                // neighbour's new attempt (approximate failover).
                Message::Signal(Signal::Barrier(barrier))
                    if barrier.checkpoint <= self.snapshotted => {}
                Message::Signal(Signal::Barrier(barrier)) => {
                    self.barrier_arrived();
                    let aligned = frontier.on_barrier(input, channel, barrier).map_err(|e| {
                        self.exchange_error(ExchangeError::Corrupt {
                            exchange: exchanges[input],
                            message: e.to_string(),
                        })
                    })?;
                    if let Some(barrier) = aligned {
                        self.signal(0, Signal::Barrier(barrier)).await?;
                        self.snapshot(barrier.checkpoint)?;
                    }
                }
                Message::Signal(Signal::EndOfData) => {
                    let ended = frontier.on_end(input, channel);
                    self.finish_recording(&pulled, |i, c| frontier.channel_open(i, c));
                    if ended.input_ended {
                        self.end_input(input).await?;
                    }
                    if let (Some(watermark), false) = (ended.watermark, frontier.all_ended()) {
                        self.signal(0, Signal::Watermark(watermark)).await?;
                    }
                    if let Some(barrier) = ended.barrier {
                        self.signal(0, Signal::Barrier(barrier)).await?;
                        self.snapshot(barrier.checkpoint)?;
                    }
                }
            }
            self.tell_status(frontier.all_idle()).await?;
        }
        let (out, _) = self.cascade(1, Vec::new(), Some(Signal::EndOfData))?;
        self.ship(out).await
    }
}
