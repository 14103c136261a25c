//! Faro's scheduler: turns submitted jobs into running tasks, recovers
//! them, and keeps track of them.
//!
//! - [`placement`], [`failover`] and [`skew`]: the pure decisions — where
//!   subtasks run, what re-runs after a failure, how long to wait, which
//!   skewed partitions are divided and who reads each piece; [`slots`]: the
//!   cluster's slots granted to regions in turn, across jobs.
//! - [`workers`]: the workers tasks may run on (in-process, or processes
//!   that registered over [`control`] and heartbeat, judged by the
//!   [`detector`]); [`shuffle`]: the shuffle service as the scheduler uses
//!   it.
//! - [`driver`]: runs one job's regions in order over those, with failover,
//!   reporting each step as [`progress`]; a streaming job's checkpoints
//!   are decided by [`coordinator`] and stored as [`checkpoints`] says;
//!   [`ranges`]: range-edge samples gathered for producers in several
//!   processes.
//! - [`agent`]: the worker process's side of the control connection.
//! - [`embedded`]: a shuffle node and a worker in this process — what
//!   `faro run` and `faro local` run jobs on; [`standalone`]: the
//!   scheduler process's control endpoint.
//! - [`jobs`]: what is known about a job, [`graph`]: its chains as people
//!   look at them; [`store`]: those records in redb; [`service`]: the
//!   scheduler itself; [`rest`]: its REST API, behind [`auth`], and [`ui`]:
//!   the web UI that reads it, served beside it.

pub mod agent;
pub mod auth;
pub mod checkpoints;
pub mod control;
pub mod coordinator;
pub mod detector;
pub mod driver;
pub mod embedded;
pub mod failover;
pub mod graph;
pub mod jobs;
pub mod metrics;
pub mod placement;
pub mod progress;
pub mod ranges;
pub mod rest;
pub mod savepoints;
pub mod service;
pub mod shuffle;
pub mod skew;
pub mod slots;
pub mod standalone;
pub mod store;
pub mod ui;
pub mod workers;

pub use embedded::{Embedded, EmbeddedError, EpochDone, EpochHook};
pub use service::{Scheduler, SchedulerError};
