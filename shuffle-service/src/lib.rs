//! Faro's remote shuffle service: it receives intermediate partitions from
//! producers, persists them, and serves them to consumers, so a failed
//! batch task can be re-run alone and iterative jobs can re-read their
//! data. To it a partition is a sequence of opaque frames; it knows nothing
//! about operators.
//!
//! Built so far: the [`storage`] engine. The server, client, replication
//! and object-store tier follow.

pub mod storage;
