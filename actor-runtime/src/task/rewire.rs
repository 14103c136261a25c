//! A running task's side of approximate failover ([`crate::rewire`]):
//! swapping in the channels to and from a neighbour's new attempt while
//! the task runs on, and reporting the rows the neighbour may have lost.

use super::frontier::Frontier;
use super::running::Running;
use super::SinkSpec;
use crate::exchange::{ConsumerSink, InputQueue};
use crate::message::Barrier;
use crate::rewire::{RecordsLost, Rewire};

impl Running {
    /// Points each output the restarted neighbour consumes at its new
    /// attempt, and reports how many rows it was sent after the
    /// checkpoint it restored.
    pub(super) async fn rewire_outputs(&mut self, rewire: &mut Rewire) {
        if rewire.outputs.is_empty() {
            return;
        }
        let consumer = rewire.subtask as usize;
        for (exchange, sink) in std::mem::take(&mut rewire.outputs) {
            let Some(writer) = self.outputs.iter_mut().find(|w| w.exchange() == exchange) else {
                continue;
            };
            let sink = match sink {
                SinkSpec::Local(queue) => ConsumerSink::Pending(queue),
                SinkSpec::Remote {
                    connection,
                    open,
                    max_frame,
                } => match connection.open_sender(&open).await {
                    Ok(channel) => ConsumerSink::Remote { channel, max_frame },
                    Err(error) => {
                        tracing::warn!(exchange, consumer, %error, "cannot reach a restarted consumer");
                        ConsumerSink::Detached
                    }
                },
                SinkSpec::Shuffle { .. } => continue,
            };
            let lost = writer.reconnect(consumer, sink, rewire.restored_from);
            tracing::info!(
                exchange,
                consumer,
                restored_from = rewire.restored_from,
                lost,
                "a consumer restarted; sending to its new attempt"
            );
            self.report_lost(exchange, rewire.subtask, lost);
        }
    }

    /// Reports the rows dropped for reconnected consumers while their new
    /// attempts were being deployed, once each is (after shipping).
    pub(super) fn report_settled_drops(&mut self) {
        let mut settled = Vec::new();
        for writer in &mut self.outputs {
            let exchange = writer.exchange();
            settled.extend(
                writer
                    .take_settled_drops()
                    .into_iter()
                    .map(|d| (exchange, d)),
            );
        }
        for (exchange, (consumer, rows)) in settled {
            self.report_lost(exchange, consumer, rows);
        }
    }

    fn report_lost(&self, exchange: usize, consumer: u32, records: u64) {
        let Some(link) = self.checkpoints.as_ref().filter(|_| records > 0) else {
            return;
        };
        link.acks.records_lost(RecordsLost {
            job: link.key.job.clone(),
            exchange,
            consumer,
            records,
        });
    }

    /// Swaps in the channels from the restarted neighbour's new attempt
    /// (what the old one still had queued is dropped) and starts their
    /// feeders. Returns the `(input, channel)`s swapped, and the barrier
    /// being aligned if the swap completed it. An unaligned checkpoint
    /// being recorded is given up: the old channel's barrier will not
    /// come (the coordinator abandoned it when the neighbour failed).
    pub(super) fn rewire_inputs(
        &mut self,
        rewire: &mut Rewire,
        queues: &mut [InputQueue],
        exchanges: &[usize],
        frontier: &mut Frontier,
    ) -> (Vec<(usize, usize)>, Option<Barrier>) {
        let mut swapped = Vec::new();
        let mut aligned = None;
        for new in std::mem::take(&mut rewire.inputs) {
            let Some(input) = exchanges.iter().position(|&e| e == new.exchange) else {
                continue;
            };
            if !queues[input].swap(new.channel, new.ends) {
                continue;
            }
            if let Some((feeder, sender)) = new.feeder {
                feeder.start(sender, &self.metrics);
            }
            aligned = frontier.rewire(input, new.channel).or(aligned);
            swapped.push((input, new.channel));
        }
        if !swapped.is_empty() {
            self.recording = None;
            tracing::info!(
                chain = rewire.chain,
                subtask = rewire.subtask,
                "a producer restarted; reading its new attempt"
            );
        }
        (swapped, aligned)
    }
}
