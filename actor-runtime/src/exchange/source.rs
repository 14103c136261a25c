//! The consumer side: one bounded queue per task input, fed by local
//! producers directly and by remote or shuffle sources through a
//! forwarding task. The input ends when every feeder has gone.

use faro_transport::ChannelReceiver;
use tokio::sync::mpsc;

use super::{ExchangeError, Incoming, LOCAL_CREDITS};

/// What a feeder puts into an input queue.
pub type Delivery = Result<Incoming, ExchangeError>;

/// The producing end of an input queue (cloned per producer).
pub type InputSender = mpsc::Sender<Delivery>;

/// One input of a task: everything its producers send, in arrival order.
pub struct InputQueue {
    receiver: mpsc::Receiver<Delivery>,
}

impl InputQueue {
    /// A queue holding at most `credits` batches, and its sending end.
    pub fn new(credits: usize) -> (InputSender, Self) {
        let (sender, receiver) = mpsc::channel(credits.max(1));
        (sender, Self { receiver })
    }

    /// A queue with the default local credit.
    pub fn local() -> (InputSender, Self) {
        Self::new(LOCAL_CREDITS)
    }

    /// The next batch; `None` once every producer is done.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.receiver.recv().await
    }

    /// Polls for the next batch (for waiting on several inputs at once).
    pub fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Delivery>> {
        self.receiver.poll_recv(cx)
    }
}

/// Forwards the archived batches arriving on `channel` into `queue` until
/// the channel ends (then drops its sender) or fails (then forwards the
/// error). Each frame keeps its transport credit while it waits in the
/// queue, so a slow task slows the remote producer. `arrived` is told
/// each frame's length.
pub async fn forward_frames(
    exchange: usize,
    mut channel: ChannelReceiver,
    queue: InputSender,
    mut arrived: impl FnMut(usize),
) {
    loop {
        let delivery = match channel.recv().await {
            Ok(Some(frame)) => {
                arrived(frame.len());
                Ok(Incoming::Frame(frame))
            }
            Ok(None) => return,
            Err(error) => Err(ExchangeError::Transport {
                exchange,
                message: error.to_string(),
            }),
        };
        let failed = delivery.is_err();
        if queue.send(delivery).await.is_err() || failed {
            return;
        }
    }
}
