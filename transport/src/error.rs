//! Errors of the transport, and the fault codes that carry them to a peer.
//!
//! When a receiver rejects a frame it stops the QUIC stream with a fault
//! code, so the peer learns *which* rule it broke, not only that the stream
//! died. [`Fault`] is that shared vocabulary.

use std::io;

use crate::frame::FrameKind;

/// A frame broke one of the codec's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header does not start with the frame magic: not a Faro peer, or
    /// the stream lost its framing.
    #[error("bad frame magic {0:02x?}: expected \"FR\"")]
    BadMagic([u8; 2]),
    /// The header's own checksum does not match: a field was corrupted.
    #[error("bad header checksum: stored {stored:#010x}, computed {computed:#010x}")]
    HeaderChecksum {
        /// Checksum carried in the header.
        stored: u32,
        /// Checksum of the bytes received.
        computed: u32,
    },
    /// The peer speaks another protocol version.
    #[error("unsupported frame protocol version {0}")]
    UnsupportedVersion(u8),
    /// The kind byte names no known frame kind.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// The payload is larger than the receiver accepts.
    #[error("oversized frame: {length} bytes, the maximum is {max}")]
    Oversized {
        /// Announced payload length.
        length: u64,
        /// Largest length accepted.
        max: u64,
    },
    /// A frame kind that carries no payload announced one.
    #[error("bad length {length} for a {kind:?} frame, which carries no payload")]
    BadLength {
        /// The frame's kind.
        kind: FrameKind,
        /// The announced length.
        length: u32,
    },
    /// The payload does not match its checksum.
    #[error("bad payload checksum: stored {stored:#010x}, computed {computed:#010x}")]
    PayloadChecksum {
        /// Checksum carried in the header.
        stored: u32,
        /// Checksum of the bytes received.
        computed: u32,
    },
    /// The stream ended inside a frame.
    #[error("truncated frame: expected {expected} bytes, the stream ended after {received}")]
    Truncated {
        /// Bytes the frame needed.
        expected: usize,
        /// Bytes that arrived before the stream ended.
        received: usize,
    },
    /// A frame arrived where the protocol does not allow it.
    #[error("unexpected {got:?} frame: {context}")]
    Unexpected {
        /// The kind that arrived.
        got: FrameKind,
        /// What the receiver was waiting for.
        context: &'static str,
    },
    /// A data frame arrived without credit for it.
    #[error("data frame sent without credit")]
    NoCredit,
}

/// Reason codes carried by QUIC `STOP_SENDING`/`RESET_STREAM` on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The frame header was malformed (magic, version, kind, header checksum).
    MalformedHeader,
    /// A frame was larger than allowed.
    Oversized,
    /// A length field was inconsistent with the frame or stream.
    BadLength,
    /// A payload failed its checksum.
    PayloadChecksum,
    /// The protocol's frame order or credit rule was broken.
    Protocol,
    /// The local side abandoned the channel (dropped or cancelled).
    Cancelled,
}

impl Fault {
    /// The QUIC application error code for this fault.
    pub fn code(self) -> u32 {
        match self {
            Fault::MalformedHeader => 0x10,
            Fault::Oversized => 0x11,
            Fault::BadLength => 0x12,
            Fault::PayloadChecksum => 0x13,
            Fault::Protocol => 0x14,
            Fault::Cancelled => 0x15,
        }
    }

    /// The fault a peer's error code names, if it is one of ours.
    pub fn from_code(code: u64) -> Option<Self> {
        [
            Fault::MalformedHeader,
            Fault::Oversized,
            Fault::BadLength,
            Fault::PayloadChecksum,
            Fault::Protocol,
            Fault::Cancelled,
        ]
        .into_iter()
        .find(|fault| u64::from(fault.code()) == code)
    }
}

impl From<&FrameError> for Fault {
    fn from(error: &FrameError) -> Self {
        match error {
            FrameError::BadMagic(_)
            | FrameError::HeaderChecksum { .. }
            | FrameError::UnsupportedVersion(_)
            | FrameError::UnknownKind(_) => Fault::MalformedHeader,
            FrameError::Oversized { .. } => Fault::Oversized,
            FrameError::BadLength { .. } | FrameError::Truncated { .. } => Fault::BadLength,
            FrameError::PayloadChecksum { .. } => Fault::PayloadChecksum,
            FrameError::Unexpected { .. } | FrameError::NoCredit => Fault::Protocol,
        }
    }
}

/// Everything that can go wrong in the transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A frame received on a channel broke the codec's rules; the channel is
    /// closed and the peer told why.
    #[error("channel closed: {0}")]
    Frame(#[from] FrameError),
    /// The peer refused the channel and said why.
    #[error("refused by peer: {0}")]
    Refused(String),
    /// The peer closed the channel with a fault code.
    #[error("channel closed by peer: {}", describe_code(*.0))]
    ClosedByPeer(u64),
    /// The connection is gone: the peer closed it, timed out or was killed.
    #[error("connection lost: {0}")]
    ConnectionLost(#[from] quinn::ConnectionError),
    /// Connecting to a peer failed before the handshake.
    #[error("cannot connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The receive buffer pool cannot give a new channel its exclusive buffers.
    #[error("buffer pool exhausted: a channel needs {needed} exclusive buffers, {free} of {capacity} are free")]
    PoolExhausted {
        /// Buffers the channel needs.
        needed: usize,
        /// Buffers still free in the pool.
        free: usize,
        /// Buffers in the pool.
        capacity: usize,
    },
    /// The local end of the channel was already closed or dropped.
    #[error("channel already closed")]
    ChannelClosed,
    /// A payload is larger than the peer's buffers.
    #[error("payload of {length} bytes exceeds the channel's maximum frame size of {max} bytes")]
    PayloadTooLarge {
        /// The payload's size.
        length: usize,
        /// The largest frame the peer accepts.
        max: usize,
    },
    /// TLS material could not be generated, read or used.
    #[error("tls: {0}")]
    Tls(String),
    /// The transport configuration is invalid.
    #[error("invalid transport configuration: {0}")]
    Config(String),
    /// A socket or file operation failed.
    #[error("io: {0}")]
    Io(#[from] io::Error),
}

fn describe_code(code: u64) -> String {
    match Fault::from_code(code) {
        Some(fault) => format!("{fault:?} (code {code:#x})"),
        None => format!("code {code:#x}"),
    }
}

impl From<quinn::ReadError> for TransportError {
    fn from(error: quinn::ReadError) -> Self {
        match error {
            quinn::ReadError::Reset(code) => TransportError::ClosedByPeer(code.into_inner()),
            quinn::ReadError::ConnectionLost(lost) => TransportError::ConnectionLost(lost),
            _ => TransportError::ChannelClosed,
        }
    }
}

impl From<quinn::WriteError> for TransportError {
    fn from(error: quinn::WriteError) -> Self {
        match error {
            quinn::WriteError::Stopped(code) => TransportError::ClosedByPeer(code.into_inner()),
            quinn::WriteError::ConnectionLost(lost) => TransportError::ConnectionLost(lost),
            _ => TransportError::ChannelClosed,
        }
    }
}

impl From<quinn::ClosedStream> for TransportError {
    fn from(_: quinn::ClosedStream) -> Self {
        TransportError::ChannelClosed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_round_trips_through_its_code() {
        for fault in [
            Fault::MalformedHeader,
            Fault::Oversized,
            Fault::BadLength,
            Fault::PayloadChecksum,
            Fault::Protocol,
            Fault::Cancelled,
        ] {
            assert_eq!(Fault::from_code(fault.code().into()), Some(fault));
        }
        assert_eq!(Fault::from_code(0), None);
    }

    #[test]
    fn peer_fault_is_named_in_the_message() {
        let message =
            TransportError::ClosedByPeer(Fault::PayloadChecksum.code().into()).to_string();
        assert!(message.contains("PayloadChecksum"), "{message}");
    }
}
