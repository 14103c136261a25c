//! The receiving half of a credit-based channel.
//!
//! Two small tasks serve each receiving channel:
//!
//! - the **reader** drains the QUIC stream eagerly into pool buffers, so
//!   received bytes sit in accounted pool memory rather than in QUIC
//!   windows, and checks every frame (header rules, credit, checksum);
//! - the **granter** announces credit whenever buffers become idle: when
//!   the consumer drops a frame, when the sender's backlog asks for floating
//!   buffers, or when the pool has floating buffers again.
//!
//! A frame that breaks a rule ends the channel: the consumer gets the error
//! naming the fault and the peer gets the fault code on both directions of
//! the stream. Other channels and connections are untouched.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::{read_header, read_refusal, refusal_frame};
use crate::credit::CreditLedger;
use crate::error::{Fault, FrameError, TransportError};
use crate::frame::{FrameHeader, FrameKind, HEADER_LEN};
use crate::pool::BufferPool;

/// State shared by a receiving channel's tasks and its outstanding frames.
struct Shared {
    pool: Arc<BufferPool>,
    ledger: Mutex<CreditLedger>,
    wake_granter: Notify,
    /// Set by [`ChannelReceiver::refuse`]: the granter sends it instead of credit.
    refusal: Mutex<Option<String>>,
    /// Set once the reader is done: 0 = running, else the fault code, or
    /// `ENDED` for a clean end.
    outcome: AtomicU32,
    /// The consumer has read the end. Only then does the granter finish
    /// the credit direction, which is what the sender's `finish` waits for:
    /// "finished" means delivered to the application, not just received.
    consumer_saw_end: AtomicBool,
}

const RUNNING: u32 = 0;
const ENDED: u32 = u32::MAX;

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, CreditLedger> {
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last frame and both tasks are gone: every permit goes home.
        let (exclusive, floating) = {
            let ledger = self.ledger();
            (ledger.exclusive() as usize, ledger.floating() as usize)
        };
        self.pool.return_exclusive(exclusive);
        self.pool.return_floating(floating);
    }
}

/// A received data (or event) frame, read in place from a 16-byte aligned
/// pool buffer. Dropping it recycles the buffer and returns its credit.
pub struct Frame {
    buffer: Option<Box<[u128]>>,
    len: usize,
    crc: u32,
    event: bool,
    shared: Arc<Shared>,
}

impl Frame {
    /// Whether the sender sent this as an event
    /// ([`ChannelSender::send_event`](super::ChannelSender::send_event))
    /// rather than data.
    pub fn is_event(&self) -> bool {
        self.event
    }

    /// The payload's CRC-32C, verified on receipt: a store that keeps the
    /// same checksum need not read the payload again to compute it.
    pub fn checksum(&self) -> u32 {
        self.crc
    }
}

impl Deref for Frame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.buffer {
            Some(buffer) => &bytemuck::cast_slice(buffer)[..self.len],
            None => &[],
        }
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("len", &self.len)
            .field("event", &self.event)
            .finish()
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.shared.pool.recycle(buffer);
        }
        if self.shared.ledger().on_release() {
            self.shared.pool.return_floating(1);
        }
        self.shared.wake_granter.notify_one();
    }
}

/// The receiving end of a channel: yields frames in the order sent.
pub struct ChannelReceiver {
    frames: mpsc::UnboundedReceiver<Result<Frame, TransportError>>,
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    finished: bool,
    /// Whether the consumer reads event frames; one that does not (the
    /// shuffle service, RPC) refuses a channel that sends one.
    events: bool,
}

impl ChannelReceiver {
    /// Starts serving a channel on an open stream pair. Reserves the
    /// channel's exclusive buffers, or fails if the pool cannot spare them.
    pub(crate) fn start(
        send: quinn::SendStream,
        recv: quinn::RecvStream,
        pool: Arc<BufferPool>,
        exclusive: u32,
    ) -> Result<Self, TransportError> {
        if let Err(error) = pool.reserve_exclusive(exclusive as usize) {
            // Tell the pusher why, instead of a bare reset it cannot read.
            let message = format!("the receiver cannot take another channel: {error}");
            let mut send = send;
            tokio::spawn(async move {
                let _ = send.write_all_chunks(&mut refusal_frame(&message)).await;
                let _ = send.finish();
                drop(recv);
            });
            return Err(error);
        }
        let shared = Arc::new(Shared {
            pool,
            ledger: Mutex::new(CreditLedger::new(exclusive)),
            wake_granter: Notify::new(),
            refusal: Mutex::new(None),
            outcome: AtomicU32::new(RUNNING),
            consumer_saw_end: AtomicBool::new(false),
        });
        let (tx, frames) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_frames(recv, shared.clone(), tx));
        tokio::spawn(grant_credit(send, shared.clone()));
        Ok(Self {
            frames,
            shared,
            reader,
            finished: false,
            events: false,
        })
    }

    /// The next frame; `Ok(None)` once the sender has ended the channel.
    ///
    /// An error names what went wrong: a malformed frame (the channel is
    /// closed and the peer told why), the peer closing the channel, or the
    /// connection dying (peer killed, idle timeout).
    pub async fn recv(&mut self) -> Result<Option<Frame>, TransportError> {
        if self.finished {
            return Ok(None);
        }
        match self.frames.recv().await {
            Some(Ok(frame)) if frame.is_event() && !self.events => {
                self.finished = true;
                let error = FrameError::Unexpected {
                    got: FrameKind::Event,
                    context: "this channel carries no events",
                };
                self.refuse(&error.to_string());
                Err(error.into())
            }
            Some(Ok(frame)) => Ok(Some(frame)),
            Some(Err(error)) => {
                self.finished = true;
                Err(error)
            }
            None if self.shared.outcome.load(Ordering::Acquire) == ENDED => {
                self.finished = true;
                self.shared.consumer_saw_end.store(true, Ordering::Release);
                self.shared.wake_granter.notify_one();
                Ok(None)
            }
            None => {
                self.finished = true;
                Err(TransportError::ChannelClosed)
            }
        }
    }

    /// Lets [`Self::recv`] yield event frames ([`Frame::is_event`]); a
    /// receiver that was not told so refuses a channel that sends one.
    pub fn accept_events(&mut self) {
        self.events = true;
    }

    /// Refuses the channel: no more credit is granted, and the sender's
    /// next `send` or `finish` fails with [`TransportError::Refused`]
    /// carrying `message`.
    pub fn refuse(&self, message: &str) {
        *self
            .shared
            .refusal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(message.to_string());
        self.shared.wake_granter.notify_one();
    }

    /// The credit state of this channel, for tests and metrics.
    pub fn ledger(&self) -> CreditLedger {
        self.shared.ledger().clone()
    }
}

impl Drop for ChannelReceiver {
    fn drop(&mut self) {
        // Abandoned before the end: the granter resets the credit direction
        // with `Cancelled` and exits by itself, so the sender learns why.
        // Frames the consumer still holds stay valid.
        let cancelled = Fault::Cancelled.code();
        let _ = self.shared.outcome.compare_exchange(
            RUNNING,
            cancelled,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.reader.abort();
        self.shared.wake_granter.notify_one();
    }
}

async fn read_frames(
    mut recv: quinn::RecvStream,
    shared: Arc<Shared>,
    frames: mpsc::UnboundedSender<Result<Frame, TransportError>>,
) {
    let result = read_loop(&mut recv, &shared, &frames).await;
    let code = match &result {
        Ok(()) => ENDED,
        Err(TransportError::Frame(frame_error)) => Fault::from(frame_error).code(),
        Err(_) => Fault::Cancelled.code(),
    };
    // The outcome is published before the consumer can see the error, so a
    // consumer that drops the channel on error cannot mask the real fault.
    shared.outcome.store(code, Ordering::Release);
    shared.wake_granter.notify_one();
    if let Err(error) = result {
        let _ = recv.stop(code.into());
        tracing::debug!(%error, "receiving channel failed");
        let _ = frames.send(Err(error));
    }
}

async fn read_loop(
    recv: &mut quinn::RecvStream,
    shared: &Arc<Shared>,
    frames: &mpsc::UnboundedSender<Result<Frame, TransportError>>,
) -> Result<(), TransportError> {
    let max_payload = shared.pool.buffer_size() as u32;
    loop {
        let header = match read_header(recv, max_payload).await? {
            Some(header) => header,
            None => {
                return Err(FrameError::Truncated {
                    expected: HEADER_LEN,
                    received: 0,
                }
                .into())
            }
        };
        match header.kind {
            FrameKind::Data | FrameKind::Event => {
                shared.ledger().on_frame(header.aux)?;
                let frame = read_payload(recv, shared, &header).await?;
                shared.wake_granter.notify_one();
                if frames.send(Ok(frame)).is_err() {
                    return Err(TransportError::ChannelClosed);
                }
            }
            FrameKind::Error => return Err(read_refusal(recv, &header).await),
            FrameKind::End => {
                let mut probe = [0u8; 1];
                return match recv.read(&mut probe).await? {
                    None => Ok(()),
                    Some(_) => Err(FrameError::Unexpected {
                        got: FrameKind::End,
                        context: "bytes followed the End frame",
                    }
                    .into()),
                };
            }
            other => {
                return Err(FrameError::Unexpected {
                    got: other,
                    context: "a receiving channel accepts only Data, Event and End frames",
                }
                .into())
            }
        }
    }
}

async fn read_payload(
    recv: &mut quinn::RecvStream,
    shared: &Arc<Shared>,
    header: &FrameHeader,
) -> Result<Frame, TransportError> {
    let len = header.length as usize;
    let mut frame = Frame {
        buffer: Some(shared.pool.take_buffer()?),
        len,
        crc: header.payload_crc,
        event: header.kind == FrameKind::Event,
        shared: shared.clone(),
    };
    let bytes = match frame.buffer.as_mut() {
        Some(buffer) => &mut bytemuck::cast_slice_mut::<u128, u8>(buffer)[..len],
        None => return Err(TransportError::ChannelClosed),
    };
    super::read_exact(recv, bytes).await?;
    header.verify_payload(bytes)?;
    Ok(frame)
}

async fn grant_credit(mut send: quinn::SendStream, shared: Arc<Shared>) {
    loop {
        let pool_returned = shared.pool.permits_returned();
        tokio::pin!(pool_returned);
        pool_returned.as_mut().enable();

        let refusal = shared
            .refusal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(message) = refusal {
            let _ = send.write_all_chunks(&mut refusal_frame(&message)).await;
            let _ = send.finish();
            return;
        }
        match shared.outcome.load(Ordering::Acquire) {
            RUNNING => {}
            ENDED if shared.consumer_saw_end.load(Ordering::Acquire) => {
                let _ = send.finish();
                return;
            }
            ENDED => {
                // Received in full; wait until the consumer has read it all.
                shared.wake_granter.notified().await;
                continue;
            }
            code => {
                let _ = send.reset(code.into());
                return;
            }
        }
        let (grant, wants_floating) = {
            let mut ledger = shared.ledger();
            let wanted = ledger.floating_wanted();
            if wanted > 0 {
                let borrowed = shared.pool.borrow_floating(wanted as usize);
                ledger.add_floating(borrowed as u32);
            }
            (ledger.take_grant(), ledger.floating_wanted() > 0)
        };
        if grant > 0 {
            let header = FrameHeader::control(FrameKind::Credit, grant).encode();
            if send.write_all(&header).await.is_err() {
                // The stream or connection is gone; the reader reports why.
                return;
            }
        }
        tokio::select! {
            _ = shared.wake_granter.notified() => {}
            _ = &mut pool_returned, if wants_floating => {}
        }
        // Let the consumer release a few more buffers first, so one credit
        // frame announces several: a credit frame per data frame would
        // cost a packet each way.
        tokio::task::yield_now().await;
    }
}
