//! The stateless operators and the simplest sinks, one file each:
//! `generate`, `filter`, `project`, `explode`, `union`, `blackhole` and
//! `collect`, each with its params and catalogue definition. They are
//! re-exported here, so callers name them as one family.

mod blackhole;
mod collect;
mod explode;
mod filter;
mod generate;
mod project;
mod union;

pub use blackhole::{Blackhole, BlackholeDefinition};
pub use collect::{
    Collect, CollectBuffer, CollectDefinition, CollectParams, Collected, KeepLimit, LiveRows,
};
pub use explode::{Explode, ExplodeDefinition, ExplodeParams};
pub use filter::{Filter, FilterDefinition, FilterParams};
pub use generate::{
    generate_input_schema, EventTimeParams, Generate, GenerateDefinition, GenerateParams,
};
pub use project::{
    columns_schema, compile_columns, NamedExpr, Project, ProjectDefinition, ProjectParams,
};
pub use union::{Union, UnionDefinition};
