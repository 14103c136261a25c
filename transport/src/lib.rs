//! Faro's transport: how bytes move between Faro processes.
//!
//! It owns QUIC endpoints (quinn) with mutually authenticated TLS 1.3
//! (rustls with the ring provider), a checksummed frame codec, and
//! credit-based channels in the style of Flink's network stack: a receiver
//! grants credit for buffers it can hold, a sender sends only against
//! credit, and a per-endpoint buffer pool bounds receive memory.
//!
//! The transport knows nothing of batches or operators: a frame's payload
//! is opaque bytes, delivered into a 16-byte aligned pool buffer so that
//! layers above can read archived data in place. [`rpc`] builds
//! request/response control calls on the same channels.
//!
//! ```text
//! Endpoint ── Connection ── ChannelSender ══ QUIC stream ══ ChannelReceiver
//!    └ BufferPool (permits + reusable buffers)   ◄── credit frames ──┘
//! ```

pub mod channel;
pub mod credit;
pub mod endpoint;
pub mod error;
pub mod frame;
pub mod options;
pub mod pool;
pub mod rpc;
pub mod socket;
pub mod tls;

pub use channel::{ChannelReceiver, ChannelSender, Frame, IncomingChannel, Role, SenderStats};
pub use endpoint::{Connection, Endpoint, Handshake};
pub use error::{Fault, FrameError, TransportError};
pub use options::TransportOptions;
pub use pool::{BufferPool, PoolStats};
pub use tls::{IssuedIdentity, LocalCa, PemPaths, TlsConfig};
