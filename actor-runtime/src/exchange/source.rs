//! The consumer side: each task input is one bounded queue per channel
//! (per producer subtask, or one for a shuffle partition), fed by a local
//! producer directly or by a forwarding task for a remote channel or a
//! shuffle fetch. Per-channel queues let the task stop reading one channel
//! (a checkpoint barrier's alignment) while the others flow, and let
//! watermarks be tracked where they are defined: per channel.

use faro_transport::ChannelReceiver;
use tokio::sync::mpsc;

use super::{ExchangeError, Incoming};
use crate::message::{Message, Signal};

/// What a feeder puts into a channel's queue.
pub type Delivery = Result<Message<Incoming>, ExchangeError>;

/// The producing end of one channel's queue.
pub type InputSender = mpsc::Sender<Delivery>;

/// One input of a task: a queue per channel, each in the order its
/// producer sent. A channel ends with [`Signal::EndOfData`]; one whose
/// producer goes away without it has failed.
pub struct InputQueue {
    channels: Vec<mpsc::Receiver<Delivery>>,
}

impl InputQueue {
    /// An input of `channels` channels, each holding at most `credits`
    /// messages, and each channel's sending end.
    pub fn new(channels: usize, credits: usize) -> (Vec<InputSender>, Self) {
        let (senders, receivers) = (0..channels).map(|_| mpsc::channel(credits.max(1))).unzip();
        (
            senders,
            Self {
                channels: receivers,
            },
        )
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

/// Forwards what arrives on `channel` into `queue` until the channel ends
/// (then sends end of data) or fails (then forwards the error): archived
/// batches as data, event frames as signals. Each data frame keeps its
/// transport credit while it waits in the queue, so a slow task slows the
/// remote producer. `arrived` is told each data frame's length.
pub async fn forward_frames(
    exchange: usize,
    mut channel: ChannelReceiver,
    queue: InputSender,
    mut arrived: impl FnMut(usize),
) {
    channel.accept_events();
    loop {
        let delivery = match channel.recv().await {
            Ok(Some(frame)) if frame.is_event() => match Signal::decode(&frame) {
                Ok(signal) => Ok(Message::Signal(signal)),
                Err(error) => {
                    let message = format!("a malformed signal: {error}");
                    channel.refuse(&message);
                    Err(ExchangeError::Corrupt { exchange, message })
                }
            },
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
        let last = matches!(delivery, Err(_) | Ok(Message::Signal(Signal::EndOfData)));
        if queue.send(delivery).await.is_err() || last {
            return;
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
