//! The stateless operators and the simplest sinks, one file each:
//! `generate`, `filter`, `project`, `explode`, `union`, `blackhole` and
//! `collect`. They are re-exported here, so callers name them as one
//! family.

mod blackhole;
mod collect;
mod explode;
mod filter;
mod generate;
mod project;
mod union;

pub use blackhole::Blackhole;
pub use collect::{Collect, CollectBuffer, Collected, KeepLimit};
pub use explode::Explode;
pub use filter::Filter;
pub use generate::Generate;
pub use project::{compile_columns, Project};
pub use union::Union;
