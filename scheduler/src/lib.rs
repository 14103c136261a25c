//! Faro's scheduler: turns submitted jobs into running tasks and keeps
//! track of them.
//!
//! - [`embedded`]: a shuffle node and workers in this process — what
//!   `faro run` and `faro local` run jobs on.
//!
//! Not built yet: the execution graph with attempts and failover, remote
//! workers, the redb metadata store and the REST API.

pub mod embedded;

pub use embedded::{Embedded, EmbeddedError};
