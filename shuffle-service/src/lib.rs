//! Faro's remote shuffle service: it receives intermediate partitions from
//! producers, keeps them (in files, or in a memory tier within a budget),
//! and serves them to consumers, so a failed
//! batch task can be re-run alone and iterative jobs can re-read their
//! data. To it a partition is a sequence of opaque frames; it knows nothing
//! about operators.
//!
//! - [`storage`]: partition files, the memory tier, commit log,
//!   exactly-once reads.
//! - [`protocol`], [`server`], [`client`]: the node and how to talk to it;
//!   [`cluster`]: a job's client over several nodes, and
//!   [`replica_fetch`]: a fetch that moves between a partition's replicas.
//! - [`placement`]: which node owns a partition (consistent hashing);
//!   [`resume`]: a fetch moving to another replica where it stopped.
//! - [`token`]: job tokens; [`expiry`]: when silent jobs' data goes.
//! - [`tier`]: copies of complete shuffles in an object store (opendal),
//!   read when the local file is gone.
//! - [`metrics`]: the node's Prometheus metrics.

pub mod client;
pub mod cluster;
pub mod expiry;
pub mod metrics;
pub mod placement;
pub mod protocol;
pub mod replica_fetch;
pub mod resume;
pub mod server;
pub mod storage;
pub mod tier;
pub mod token;

pub use client::{ClientError, ShuffleClient};
pub use cluster::ShuffleCluster;
pub use replica_fetch::{ReplicaFetch, DEFAULT_FETCH_STALL};
pub use server::ShuffleServer;
pub use token::ClusterSecret;
