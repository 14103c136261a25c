//! Faro's scheduler: turns submitted jobs into running tasks and keeps
//! track of them.
//!
//! - [`embedded`]: a shuffle node and workers in this process — what
//!   `faro run` and `faro local` run jobs on.
//! - [`jobs`]: what is known about a job and how its state may change;
//!   [`store`]: those records in redb, so a restarted scheduler knows
//!   every job.
//! - [`service`]: the scheduler itself; [`rest`]: its REST API.
//!
//! Not built yet: remote workers, the execution graph with per-task
//! attempts and failover, and resuming jobs after a scheduler restart
//! (a restarted scheduler marks unfinished jobs failed).

pub mod embedded;
pub mod jobs;
pub mod rest;
pub mod service;
pub mod store;

pub use embedded::{Embedded, EmbeddedError};
pub use service::{Scheduler, SchedulerError};
