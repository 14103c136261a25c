//! Faro's remote shuffle service: it receives intermediate partitions from
//! producers, persists them, and serves them to consumers, so a failed
//! batch task can be re-run alone and iterative jobs can re-read their
//! data. To it a partition is a sequence of opaque frames; it knows nothing
//! about operators.
//!
//! - [`storage`]: partition files, commit log, exactly-once reads.
//! - [`protocol`], [`server`], [`client`]: the node and how to talk to it.
//! - [`token`]: job tokens.
//!
//! Not built yet: placement over several nodes, replication, the
//! object-store tier, expiry and metrics.

pub mod client;
pub mod protocol;
pub mod server;
pub mod storage;
pub mod token;

pub use client::{ClientError, ShuffleClient};
pub use server::ShuffleServer;
pub use token::ClusterSecret;
