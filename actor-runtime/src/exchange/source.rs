//! The consumer side: each task input is one bounded queue per channel
//! (per producer subtask, or one for a shuffle partition), fed by a local
//! producer directly or by a forwarding task for a remote channel or a
//! shuffle fetch. Per-channel queues let the task stop reading one channel
//! (a checkpoint barrier's alignment) while the others flow, and let
//! watermarks be tracked where they are defined: per channel.
//!
//! Beside each channel's bounded queue runs a lane for unaligned
//! checkpoints' barriers ([`Overtaking`]), which must not wait behind the
//! queued data: a local producer puts them there directly, and the
//! forwarder of a remote channel reads ahead of a full queue (as far as
//! the transport's credits let the producer send) to find them.

use std::collections::VecDeque;

use faro_shuffle::ReplicaFetch;
use faro_transport::{ChannelReceiver, Frame};
use tokio::sync::mpsc;

use super::{ExchangeError, Incoming};
use crate::message::{Message, Overtaking, Signal};

/// What a feeder puts into a channel's queue.
pub type Delivery = Result<Message<Incoming>, ExchangeError>;

/// The producing end of one channel's queue, and of its lane for
/// overtaking barriers.
#[derive(Debug, Clone)]
pub struct InputSender {
    data: mpsc::Sender<Delivery>,
    overtaking: mpsc::UnboundedSender<Overtaking>,
}

impl InputSender {
    /// Queues `delivery`, waiting for room.
    pub async fn send(&self, delivery: Delivery) -> Result<(), mpsc::error::SendError<Delivery>> {
        self.data.send(delivery).await
    }

    /// Queues `delivery` if there is room now.
    pub fn try_send(&self, delivery: Delivery) -> Result<(), mpsc::error::TrySendError<Delivery>> {
        self.data.try_send(delivery)
    }

    /// Waits for room for one delivery.
    pub async fn reserve(&self) -> Result<mpsc::Permit<'_, Delivery>, mpsc::error::SendError<()>> {
        self.data.reserve().await
    }

    /// Room left in the queue.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Hands the consumer an unaligned checkpoint's barrier at once;
    /// `false` if it has gone.
    pub fn overtake(&self, barrier: Overtaking) -> bool {
        self.overtaking.send(barrier).is_ok()
    }
}

/// The receiving ends of one channel made apart from an input
/// ([`InputQueue::channel`]).
#[derive(Debug)]
pub struct ChannelEnds {
    data: mpsc::Receiver<Delivery>,
    overtaking: mpsc::UnboundedReceiver<Overtaking>,
}

/// One input of a task: a queue per channel, each in the order its
/// producer sent, and each channel's overtaking barriers. A channel ends
/// with [`Signal::EndOfData`]; one whose producer goes away without it
/// has failed.
pub struct InputQueue {
    channels: Vec<mpsc::Receiver<Delivery>>,
    overtaking: Vec<mpsc::UnboundedReceiver<Overtaking>>,
}

impl InputQueue {
    /// An input of `channels` channels, each holding at most `credits`
    /// messages, and each channel's sending end.
    pub fn new(channels: usize, credits: usize) -> (Vec<InputSender>, Self) {
        let mut senders = Vec::with_capacity(channels);
        let mut queue = Self {
            channels: Vec::with_capacity(channels),
            overtaking: Vec::with_capacity(channels),
        };
        for _ in 0..channels {
            let (sender, ends) = Self::channel(credits);
            senders.push(sender);
            queue.channels.push(ends.data);
            queue.overtaking.push(ends.overtaking);
        }
        (senders, queue)
    }

    /// A fresh channel of `credits` messages, not yet part of an input:
    /// its sending end, and the ends [`InputQueue::swap`] puts in place.
    pub fn channel(credits: usize) -> (InputSender, ChannelEnds) {
        let (data, receiver) = mpsc::channel(credits.max(1));
        let (overtaking, lane) = mpsc::unbounded_channel();
        let ends = ChannelEnds {
            data: receiver,
            overtaking: lane,
        };
        (InputSender { data, overtaking }, ends)
    }

    /// Puts `ends` in place of channel `channel` (its producer restarted:
    /// approximate failover). What the old channel still held is dropped
    /// with it, and its producer's sends fail from now on. `false` if
    /// there is no such channel.
    pub fn swap(&mut self, channel: usize, ends: ChannelEnds) -> bool {
        match (
            self.channels.get_mut(channel),
            self.overtaking.get_mut(channel),
        ) {
            (Some(data), Some(overtaking)) => {
                *data = ends.data;
                *overtaking = ends.overtaking;
                true
            }
            _ => false,
        }
    }

    /// Polls channel `channel`'s lane for an overtaking barrier.
    pub fn poll_overtaking(
        &mut self,
        channel: usize,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Overtaking>> {
        match self.overtaking.get_mut(channel) {
            Some(lane) => lane.poll_recv(cx),
            None => std::task::Poll::Ready(None),
        }
    }

    /// How many channels feed this input.
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// Polls channel `channel` for its next message; `None` once its
    /// producer has gone (after end of data, or failing).
    pub fn poll_channel(
        &mut self,
        channel: usize,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Delivery>> {
        match self.channels.get_mut(channel) {
            Some(receiver) => receiver.poll_recv(cx),
            None => std::task::Poll::Ready(None),
        }
    }

    /// The next message of channel `channel`.
    pub async fn next(&mut self, channel: usize) -> Option<Delivery> {
        std::future::poll_fn(|cx| self.poll_channel(channel, cx)).await
    }
}

/// Where a forwarder reads frames: a transport channel, or a shuffle
/// fetch that moves between replicas ([`ReplicaFetch`]).
pub trait FrameSource: Send {
    /// Why a read failed.
    type Error: std::fmt::Display + Send;

    /// Lets event frames through (before the first read).
    fn accept_events(&mut self) {}

    /// The next frame; `Ok(None)` at the end. Cancel-safe: it is raced
    /// against the queue.
    fn recv(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Frame>, Self::Error>> + Send;

    /// Stops the sender: what it sent was malformed.
    fn refuse(&self, message: &str);
}

impl FrameSource for ChannelReceiver {
    type Error = faro_transport::TransportError;

    fn accept_events(&mut self) {
        ChannelReceiver::accept_events(self);
    }

    fn recv(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Frame>, Self::Error>> + Send {
        ChannelReceiver::recv(self)
    }

    fn refuse(&self, message: &str) {
        ChannelReceiver::refuse(self, message);
    }
}

impl FrameSource for ReplicaFetch {
    type Error = faro_shuffle::ClientError;

    fn recv(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Frame>, Self::Error>> + Send {
        ReplicaFetch::recv(self)
    }

    fn refuse(&self, message: &str) {
        ReplicaFetch::refuse(self, message);
    }
}

/// Forwards what arrives on `channel` into `queue` until the channel ends
/// (then sends end of data) or fails (then forwards the error): archived
/// batches as data, event frames as signals, an overtaking barrier to the
/// queue's lane at once. While the queue is full it reads on and holds
/// what comes: each data frame keeps its transport credit while it waits,
/// so what is held is bounded by the credits and a slow task still slows
/// the remote producer. `arrived` is told each data frame's length.
pub async fn forward_frames(
    exchange: usize,
    mut channel: impl FrameSource,
    queue: InputSender,
    mut arrived: impl FnMut(usize),
) {
    channel.accept_events();
    let mut held: VecDeque<Delivery> = VecDeque::new();
    let mut reading = true;
    loop {
        tokio::select! {
            biased;
            permit = queue.reserve(), if !held.is_empty() => {
                let (Ok(permit), Some(delivery)) = (permit, held.pop_front()) else {
                    return;
                };
                let last = matches!(delivery, Err(_) | Ok(Message::Signal(Signal::EndOfData)));
                permit.send(delivery);
                if last {
                    return;
                }
            }
            received = channel.recv(), if reading => {
                let delivery = match received {
                    Ok(Some(frame)) if frame.is_event() => {
                        if let Some(barrier) = Overtaking::decode(&frame) {
                            if !queue.overtake(barrier) {
                                return;
                            }
                            continue;
                        }
                        match Signal::decode(&frame) {
                            Ok(signal) => Ok(Message::Signal(signal)),
                            Err(error) => {
                                let message = format!("a malformed signal: {error}");
                                channel.refuse(&message);
                                Err(ExchangeError::Corrupt { exchange, message })
                            }
                        }
                    }
                    Ok(Some(frame)) => {
                        arrived(frame.len());
                        Ok(Message::Data(Incoming::Frame(frame)))
                    }
                    Ok(None) => Ok(Message::Signal(Signal::EndOfData)),
                    Err(error) => Err(ExchangeError::Transport {
                        exchange,
                        message: error.to_string(),
                    }),
                };
                reading = !matches!(delivery, Err(_) | Ok(Message::Signal(Signal::EndOfData)));
                held.push_back(delivery);
            }
            else => return,
        }
    }
}

/// Forwards the frames of a partition read in place (from a shuffle node
/// in this process) into `queue`, then end of data. The queue's bound is
/// the backpressure: nothing is read ahead but the mapping itself.
/// `arrived` is told each frame's length.
pub async fn forward_mapped(
    frames: Vec<bytes::Bytes>,
    queue: InputSender,
    mut arrived: impl FnMut(usize),
) {
    for frame in frames {
        arrived(frame.len());
        if queue
            .send(Ok(Message::Data(Incoming::Mapped(frame))))
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = queue.send(Ok(Message::Signal(Signal::EndOfData))).await;
}
