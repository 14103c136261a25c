//! Event-time windows: which windows a row belongs to ([`assign`]:
//! tumbling, hopping, cumulating), how a key's sessions merge
//! ([`session`]), and the `window` operator built on them ([`aggregate`]:
//! an incremental aggregate per window and group, fired by the watermark).

pub mod aggregate;
pub mod assign;
pub mod session;

pub use aggregate::{WindowAggregate, WindowDefinition, WindowKind, WindowParams};
pub use assign::{Assigner, Window, WindowError};
