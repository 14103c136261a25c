//! The stateless operators and the simplest sinks, one file each:
//! `generate`, `filter`, `project`, `explode`, `union`, `blackhole` and
//! `collect`, each with its catalogue definition. They are re-exported
//! here, so callers name them as one family.

mod blackhole;
mod collect;
mod explode;
mod filter;
mod generate;
mod project;
mod union;

pub use blackhole::{Blackhole, BlackholeDefinition};
pub use collect::{Collect, CollectBuffer, CollectDefinition, Collected, KeepLimit};
pub use explode::{Explode, ExplodeDefinition};
pub use filter::{Filter, FilterDefinition};
pub use generate::{generate_input_schema, Generate, GenerateDefinition};
pub use project::{columns_schema, compile_columns, Project, ProjectDefinition};
pub use union::{Union, UnionDefinition};
