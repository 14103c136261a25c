//! Windows: which windows a row belongs to ([`assign`]: tumbling,
//! hopping, cumulating; [`session`]: how a group's sessions merge), the
//! `window` operator built on them ([`aggregate`], running [`aligned`]
//! or [`sessions`] state — session rows kept in [`held`] — with
//! [`params`]), and `window_top_n` ([`top_n`]: the best rows per window,
//! after a `window`).

pub mod aggregate;
pub mod aligned;
mod aligned_state;
pub mod assign;
pub mod held;
pub mod params;
pub mod session;
pub mod sessions;
pub mod top_n;

pub use aggregate::{WindowAggregate, WindowDefinition};
pub use aligned::wall_clock_ms;
pub use assign::{Assigner, Window, WindowError};
pub use params::{ParamsError, WindowKind, WindowParams};
pub use top_n::{WindowTopN, WindowTopNDefinition, WindowTopNParams};
