//! Windows: which windows a row belongs to ([`assign`]: tumbling,
//! hopping, cumulating; [`session`]: how a group's sessions merge), and
//! the `window` operator built on them ([`aggregate`], running
//! [`aligned`] or [`sessions`] state, with [`params`]).

pub mod aggregate;
pub mod aligned;
pub mod assign;
pub mod params;
pub mod session;
pub mod sessions;

pub use aggregate::{WindowAggregate, WindowDefinition};
pub use assign::{Assigner, Window, WindowError};
pub use params::{ParamsError, WindowKind, WindowParams};
