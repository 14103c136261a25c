//! Event-time windows: which windows a row belongs to ([`assign`]:
//! tumbling, hopping, cumulating) and how a key's sessions merge
//! ([`session`]). The window operators build on these pure pieces.

pub mod assign;
pub mod session;

pub use assign::{Assigner, Window, WindowError};
