//! The sending half of a credit-based channel.
//!
//! A sender writes a data frame only against a credit from its receiver.
//! Payloads it cannot send yet wait in a short local queue; every frame
//! announces how many wait behind it (the backlog), which is what lets the
//! receiver lend floating buffers to the channels that need them. When the
//! queue is full, [`ChannelSender::send`] waits: that wait is backpressure
//! (and so is a write QUIC's stream window holds up).
//!
//! Events (watermarks, barriers: [`ChannelSender::send_event`]) share the
//! queue and the credit with the data, so they arrive exactly where they
//! were sent in the stream.
//!
//! Queued frames go out on the next `send`, `flush` or `finish`; a producer
//! that goes idle with frames queued calls `flush`, as Flink's output
//! flusher does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{read_header, read_refusal, refusal_frame};
use crate::error::{Fault, FrameError, TransportError};
use crate::frame::{FrameHeader, FrameKind, MAX_EVENT_PAYLOAD};

/// Credits received from the peer, shared with the task that reads them.
#[derive(Default)]
struct Credit {
    available: AtomicU32,
    wake: Notify,
    /// The receiver finished its credit direction: no more credit will come.
    closed: AtomicBool,
    failure: Mutex<Option<TransportError>>,
}

impl Credit {
    fn try_take(&self) -> bool {
        self.available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    fn take_failure(&self) -> Option<TransportError> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    async fn acquire(&self) -> Result<(), TransportError> {
        loop {
            if self.try_take() {
                return Ok(());
            }
            if let Some(error) = self.take_failure() {
                return Err(error);
            }
            if self.closed.load(Ordering::Acquire) {
                return Err(TransportError::ChannelClosed);
            }
            self.wake.notified().await;
        }
    }
}

/// Counters of a sending channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Data frames written to the stream.
    pub frames_sent: u64,
    /// Payload bytes written to the stream.
    pub bytes_sent: u64,
    /// Time spent waiting for credit, or for QUIC's flow-control window
    /// when the receiver stops reading the stream before its credits run
    /// out: how long the receiver held us back.
    pub backpressure: Duration,
}

/// The sending end of a channel.
pub struct ChannelSender {
    send: quinn::SendStream,
    credit: Arc<Credit>,
    /// Frames waiting for credit: kind, payload, and the payload's CRC-32C
    /// when the caller supplied it.
    queue: VecDeque<(FrameKind, Bytes, Option<u32>)>,
    queue_limit: usize,
    max_payload: usize,
    credit_reader: Option<JoinHandle<()>>,
    stats: SenderStats,
}

impl ChannelSender {
    pub(crate) fn start(
        send: quinn::SendStream,
        recv: quinn::RecvStream,
        queue_limit: usize,
        max_payload: usize,
    ) -> Self {
        let credit = Arc::new(Credit::default());
        let credit_reader = tokio::spawn(read_credit(recv, credit.clone()));
        Self {
            send,
            credit,
            queue: VecDeque::with_capacity(queue_limit + 1),
            queue_limit,
            max_payload,
            credit_reader: Some(credit_reader),
            stats: SenderStats::default(),
        }
    }

    /// Queues `payload` as one frame and sends what credit allows; waits
    /// while the local queue is full and no credit is available.
    pub async fn send(&mut self, payload: Bytes) -> Result<(), TransportError> {
        self.enqueue(FrameKind::Data, payload, None).await
    }

    /// Queues an application event (at most [`MAX_EVENT_PAYLOAD`] bytes)
    /// behind the data sent so far; it takes a credit like a data frame,
    /// and the receiver sees it in order, [`Frame::is_event`] set.
    ///
    /// [`Frame::is_event`]: super::Frame::is_event
    pub async fn send_event(&mut self, payload: Bytes) -> Result<(), TransportError> {
        if payload.len() > MAX_EVENT_PAYLOAD as usize {
            return Err(TransportError::PayloadTooLarge {
                length: payload.len(),
                max: MAX_EVENT_PAYLOAD as usize,
            });
        }
        self.enqueue(FrameKind::Event, payload, None).await
    }

    /// Like [`Self::send`], for a payload whose CRC-32C the caller already
    /// has (a shuffle node serving checksummed records): saves a pass over
    /// the bytes. A wrong checksum makes the receiver reject the frame.
    pub async fn send_checked(&mut self, payload: Bytes, crc: u32) -> Result<(), TransportError> {
        self.enqueue(FrameKind::Data, payload, Some(crc)).await
    }

    async fn enqueue(
        &mut self,
        kind: FrameKind,
        payload: Bytes,
        crc: Option<u32>,
    ) -> Result<(), TransportError> {
        if payload.len() > self.max_payload {
            return Err(TransportError::PayloadTooLarge {
                length: payload.len(),
                max: self.max_payload,
            });
        }
        self.queue.push_back((kind, payload, crc));
        self.pump(false).await
    }

    /// Sends every queued frame, waiting for credit as needed.
    pub async fn flush(&mut self) -> Result<(), TransportError> {
        self.pump(true).await
    }

    /// Sends what is queued, ends the channel, and waits until the
    /// receiving application has read every frame and the end: when this
    /// returns `Ok`, the data was delivered, not merely sent.
    pub async fn finish(mut self) -> Result<SenderStats, TransportError> {
        self.pump(true).await?;
        self.send
            .write_all(&FrameHeader::control(FrameKind::End, 0).encode())
            .await?;
        self.send.finish()?;
        if let Some(reader) = self.credit_reader.take() {
            let _ = reader.await;
        }
        match self.credit.take_failure() {
            Some(error) => Err(error),
            None => Ok(self.stats),
        }
    }

    /// Refuses the channel: the receiver's next `recv` fails with
    /// [`TransportError::Refused`] carrying `message`. Queued frames are
    /// dropped.
    pub async fn refuse(mut self, message: &str) -> Result<(), TransportError> {
        self.queue.clear();
        self.send
            .write_all_chunks(&mut refusal_frame(message))
            .await?;
        self.send.finish()?;
        if let Some(reader) = self.credit_reader.take() {
            reader.abort();
        }
        Ok(())
    }

    /// The largest payload one frame may carry (the receiver's buffer).
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Credits held and not used yet.
    pub fn credit(&self) -> u32 {
        self.credit.available.load(Ordering::Acquire)
    }

    /// Frames queued locally, waiting for credit.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// This channel's counters.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    async fn pump(&mut self, drain: bool) -> Result<(), TransportError> {
        while !self.queue.is_empty() {
            if !self.credit.try_take() {
                if !drain && self.queue.len() <= self.queue_limit {
                    return Ok(());
                }
                let waited = Instant::now();
                self.credit.acquire().await?;
                self.stats.backpressure += waited.elapsed();
            }
            let Some((kind, payload, crc)) = self.queue.pop_front() else {
                break;
            };
            let backlog = self.queue.len() as u32;
            let header = match crc {
                Some(crc) => FrameHeader::for_checked_payload(kind, backlog, &payload, crc)?,
                None => FrameHeader::for_payload(kind, backlog, &payload)?,
            };
            self.stats.frames_sent += 1;
            self.stats.bytes_sent += payload.len() as u64;
            let mut chunks = [Bytes::copy_from_slice(&header.encode()), payload];
            // Normally quinn takes the frame at once; it waits only when
            // the stream's window is full, which is backpressure too.
            let writing = Instant::now();
            let written = self.send.write_all_chunks(&mut chunks).await;
            self.stats.backpressure += writing.elapsed();
            if let Err(error) = written {
                // A refusal explains a stopped stream better than its code;
                // it may still be in flight on the credit direction (the
                // receiver stops reading as it refuses), so let the credit
                // reader finish first, briefly.
                if let Some(reader) = self.credit_reader.take() {
                    let _ = tokio::time::timeout(REFUSAL_GRACE, reader).await;
                }
                return Err(self.credit.take_failure().unwrap_or(error.into()));
            }
        }
        Ok(())
    }
}

/// How long a failed write waits for the receiver's reason.
const REFUSAL_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for ChannelSender {
    fn drop(&mut self) {
        if let Some(reader) = self.credit_reader.take() {
            reader.abort();
            // Dropped without `finish`: tell the receiver this is no clean end.
            let _ = self.send.reset(Fault::Cancelled.code().into());
        }
    }
}

async fn read_credit(mut recv: quinn::RecvStream, credit: Arc<Credit>) {
    loop {
        let outcome = match read_header(&mut recv, 0).await {
            Ok(Some(header)) if header.kind == FrameKind::Credit => {
                // Saturating: a peer announcing absurd credit must not
                // wrap the count back to nothing.
                let _ = credit
                    .available
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                        Some(now.saturating_add(header.aux))
                    });
                credit.wake.notify_one();
                continue;
            }
            Ok(Some(header)) if header.kind == FrameKind::Error => {
                Some(read_refusal(&mut recv, &header).await)
            }
            Ok(Some(header)) => {
                let error = FrameError::Unexpected {
                    got: header.kind,
                    context: "a sending channel accepts only Credit frames",
                };
                let _ = recv.stop(Fault::from(&error).code().into());
                Some(TransportError::from(error))
            }
            Ok(None) => None,
            Err(error) => {
                if let TransportError::Frame(frame_error) = &error {
                    let _ = recv.stop(Fault::from(frame_error).code().into());
                }
                Some(error)
            }
        };
        if let Some(error) = outcome {
            tracing::debug!(%error, "sending channel failed");
            *credit
                .failure
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
        }
        credit.closed.store(true, Ordering::Release);
        credit.wake.notify_one();
        return;
    }
}
