//! Credit-based channels: one logical channel is one bidirectional QUIC
//! stream. Data frames flow from sender to receiver; credit frames flow
//! back on the same stream.
//!
//! Either end may open a channel. The opener's first frame is `Open`,
//! carrying an opaque payload (what the channel is for: a partition to
//! fetch, an edge of a job) and its [`Role`]: a producer opens to *push*
//! data, a consumer opens to *pull* it (and sends its first credit at once).

mod receiver;
mod sender;

pub use receiver::{ChannelReceiver, Frame};
pub use sender::{ChannelSender, SenderStats};

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{FrameError, TransportError};
use crate::frame::{FrameHeader, FrameKind, HEADER_LEN};
use crate::options::TransportOptions;
use crate::pool::BufferPool;

/// Who sends data on a channel, from the opener's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The opener sends data; the acceptor receives.
    Push = 1,
    /// The opener receives data; the acceptor sends.
    Pull = 2,
}

/// A channel a peer opened, not yet turned into a sender or receiver.
pub struct IncomingChannel {
    payload: Vec<u8>,
    role: Role,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    pool: Arc<BufferPool>,
    options: Arc<TransportOptions>,
}

impl IncomingChannel {
    /// The opener's payload: what the channel is for.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Whether the opener pushes data (so this end receives) or pulls it.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Serves this channel as the receiving end; the opener must push.
    pub fn into_receiver(self) -> Result<ChannelReceiver, TransportError> {
        if self.role != Role::Push {
            return Err(TransportError::Config(
                "the peer opened this channel to pull data, not to push it".into(),
            ));
        }
        ChannelReceiver::start(
            self.send,
            self.recv,
            self.pool,
            self.options.channel_exclusive(),
        )
    }

    /// Serves this channel as the sending end; the opener must pull.
    pub fn into_sender(self) -> Result<ChannelSender, TransportError> {
        if self.role != Role::Pull {
            return Err(TransportError::Config(
                "the peer opened this channel to push data, not to pull it".into(),
            ));
        }
        Ok(ChannelSender::start(
            self.send,
            self.recv,
            self.options.sender_queue,
            self.options.buffer_size,
        ))
    }
}

/// Opens a channel on `connection` and returns its stream halves.
pub(crate) async fn open_streams(
    connection: &quinn::Connection,
    role: Role,
    payload: &[u8],
) -> Result<(quinn::SendStream, quinn::RecvStream), TransportError> {
    let header = FrameHeader::for_payload(FrameKind::Open, role as u32, payload)?;
    let (mut send, recv) = connection.open_bi().await?;
    send.write_all_chunks(&mut [
        Bytes::copy_from_slice(&header.encode()),
        Bytes::copy_from_slice(payload),
    ])
    .await?;
    Ok((send, recv))
}

/// Reads a peer's `Open` frame from a freshly accepted stream.
pub(crate) async fn accept_stream(
    send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    pool: Arc<BufferPool>,
    options: Arc<TransportOptions>,
) -> Result<IncomingChannel, TransportError> {
    let header = read_header(&mut recv, 0).await;
    let header = match header {
        Ok(Some(header)) if header.kind == FrameKind::Open => header,
        Ok(Some(header)) => {
            return Err(reject(
                &mut recv,
                FrameError::Unexpected {
                    got: header.kind,
                    context: "a channel must start with an Open frame",
                },
            ))
        }
        Ok(None) => {
            return Err(FrameError::Truncated {
                expected: HEADER_LEN,
                received: 0,
            }
            .into())
        }
        Err(TransportError::Frame(error)) => return Err(reject(&mut recv, error)),
        Err(error) => return Err(error),
    };
    let role = match header.aux {
        1 => Role::Push,
        2 => Role::Pull,
        _ => {
            return Err(reject(
                &mut recv,
                FrameError::Unexpected {
                    got: FrameKind::Open,
                    context: "the Open frame names no known role",
                },
            ))
        }
    };
    let mut payload = vec![0u8; header.length as usize];
    if let Err(error) = read_exact(&mut recv, &mut payload).await {
        return Err(match error {
            TransportError::Frame(error) => reject(&mut recv, error),
            other => other,
        });
    }
    if let Err(error) = header.verify_payload(&payload) {
        return Err(reject(&mut recv, error));
    }
    Ok(IncomingChannel {
        payload,
        role,
        send,
        recv,
        pool,
        options,
    })
}

fn reject(recv: &mut quinn::RecvStream, error: FrameError) -> TransportError {
    let _ = recv.stop(crate::error::Fault::from(&error).code().into());
    error.into()
}

/// Reads one frame header; `Ok(None)` if the stream ended cleanly before it.
pub(crate) async fn read_header(
    recv: &mut quinn::RecvStream,
    max_payload: u32,
) -> Result<Option<FrameHeader>, TransportError> {
    let mut bytes = [0u8; HEADER_LEN];
    match recv.read_exact(&mut bytes).await {
        Ok(()) => Ok(Some(FrameHeader::decode(&bytes, max_payload)?)),
        Err(quinn::ReadExactError::FinishedEarly(0)) => Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(received)) => Err(FrameError::Truncated {
            expected: HEADER_LEN,
            received,
        }
        .into()),
        Err(quinn::ReadExactError::ReadError(error)) => Err(error.into()),
    }
}

/// Reads the message of an `Error` frame whose header was just read.
pub(crate) async fn read_refusal(
    recv: &mut quinn::RecvStream,
    header: &FrameHeader,
) -> TransportError {
    let mut message = vec![0u8; header.length as usize];
    if let Err(error) = read_exact(recv, &mut message).await {
        return error;
    }
    if let Err(error) = header.verify_payload(&message) {
        return error.into();
    }
    TransportError::Refused(String::from_utf8_lossy(&message).into_owned())
}

/// Encodes an `Error` frame carrying `message` (cut to the allowed size).
pub(crate) fn refusal_frame(message: &str) -> [Bytes; 2] {
    let mut end = message.len().min(crate::frame::MAX_OPEN_PAYLOAD as usize);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let message = Bytes::copy_from_slice(&message.as_bytes()[..end]);
    let header = FrameHeader::for_payload(FrameKind::Error, 0, &message)
        .map(|h| h.encode())
        .unwrap_or([0; HEADER_LEN]);
    [Bytes::copy_from_slice(&header), message]
}

/// Fills `buf` from the stream; a stream that ends first is a truncated frame.
pub(crate) async fn read_exact(
    recv: &mut quinn::RecvStream,
    buf: &mut [u8],
) -> Result<(), TransportError> {
    match recv.read_exact(buf).await {
        Ok(()) => Ok(()),
        Err(quinn::ReadExactError::FinishedEarly(received)) => Err(FrameError::Truncated {
            expected: buf.len(),
            received,
        }
        .into()),
        Err(quinn::ReadExactError::ReadError(error)) => Err(error.into()),
    }
}
