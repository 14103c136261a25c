//! Faro's SQL front end: Flink-style SQL planned onto the same job specs
//! users write by hand, so a SQL job runs on the same runtime, in batch
//! or streaming mode, with nothing SQL-specific below this crate.
//!
//! - [`script`] parses a script into statements (sqlparser, with Flink's
//!   `WATERMARK` and `TABLE t` arguments taken care of on the tokens);
//! - [`Session`] runs statements in order: `CREATE TABLE`/`VIEW` and
//!   `SET` change the session, `SELECT` and `INSERT INTO` plan a job,
//!   `EXPLAIN` shows one ([`explain()`]);
//! - [`planner`] turns a query into vertices and edges, asking the
//!   runtime's operator catalogue for every vertex's output schema as it
//!   goes, and compiling every expression with the runtime's own engine,
//!   so types are checked by the rules the job will run with;
//! - every error is a [`SqlError`] with its kind, a message naming what
//!   was wrong, and the line and column it is at.
//!
//! Known limits: no `OVER` windows but `ROW_NUMBER()` (a window top-N,
//! a top-N per key, deduplication); `ORDER BY` names output columns; a global aggregate
//! (no `GROUP BY`) runs at one subtask (see docs/architecture.md).

pub mod error;
mod explain;
pub mod expression;
pub mod graph;
pub mod planner;
pub mod scope;
pub mod script;
pub mod session;
pub mod settings;
pub mod table;

pub use error::{ErrorKind, Position, SqlError};
pub use explain::explain;
pub use session::{Outcome, PlannedJob, Session};
pub use settings::Settings;
