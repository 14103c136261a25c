//! An output writer's part in approximate failover: detaching a consumer
//! that went away instead of failing, swapping in the channel to its new
//! attempt, and counting what its new attempt never sees.

use tokio::sync::oneshot;

use super::{ConsumerSink, OutputWriter};
use crate::exchange::ExchangeError;

impl OutputWriter {
    /// Detaches a consumer that goes away instead of failing (approximate
    /// failover; pipelined edges only).
    pub fn tolerate_lost_consumers(mut self) -> Self {
        self.tolerant = true;
        self
    }

    /// Puts `sink` in place of consumer `consumer`'s (its new attempt,
    /// after approximate failover restored it from `restored_from`);
    /// returns how many rows it was sent since that checkpoint's barrier
    /// — rows that may have been lost.
    pub fn reconnect(
        &mut self,
        consumer: usize,
        sink: ConsumerSink,
        restored_from: Option<u64>,
    ) -> u64 {
        let Some(slot) = self.sinks.get_mut(consumer) else {
            return 0;
        };
        *slot = sink;
        self.sent[consumer] = 0;
        // What was dropped so far is in the count below.
        self.pending_drops[consumer] = 0;
        self.delivered.lost_since(consumer, restored_from)
    }

    /// Rows dropped for reconnected consumers while their new attempts
    /// were being deployed, once each has been: (consumer, rows).
    pub fn take_settled_drops(&mut self) -> Vec<(u32, u64)> {
        std::mem::take(&mut self.settled_drops)
    }

    /// Takes a pending consumer's queue if it has been deployed since.
    pub(super) fn resolve(&mut self, consumer: usize) {
        let Some(ConsumerSink::Pending(queue)) = self.sinks.get_mut(consumer) else {
            return;
        };
        self.sinks[consumer] = match queue.try_recv() {
            Ok(queue) => ConsumerSink::Local(queue),
            Err(oneshot::error::TryRecvError::Empty) => return,
            Err(oneshot::error::TryRecvError::Closed) => ConsumerSink::Detached,
        };
        let dropped = std::mem::take(&mut self.pending_drops[consumer]);
        if dropped > 0 {
            self.settled_drops.push((consumer as u32, dropped));
        }
    }

    /// What a failed send to `consumer` becomes: with approximate
    /// failover the consumer is detached and the task goes on.
    pub(super) fn lost(
        &mut self,
        consumer: usize,
        result: Result<(), ExchangeError>,
    ) -> Result<(), ExchangeError> {
        match result {
            Err(error) if self.tolerant => {
                tracing::warn!(exchange = self.exchange, consumer, %error, "consumer lost; dropping its rows until it is back");
                if let Some(sink) = self.sinks.get_mut(consumer) {
                    *sink = ConsumerSink::Detached;
                }
                Ok(())
            }
            result => result,
        }
    }
}
