//! Why a job spec cannot run. Every error names the vertex or edge it is
//! about, so a user can find it in a spec of many.

use crate::expr::ExprError;

/// A problem found in a job spec before anything runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The spec is not valid JSON of the job shape.
    #[error("invalid job spec: {0}")]
    Malformed(String),
    /// Something in the spec is over a bound (see [`super::limits`]).
    #[error("{what} is too large: {message}")]
    TooLarge {
        /// What is too large.
        what: String,
        /// By how much, and the bound.
        message: String,
    },
    /// The spec has no vertices.
    #[error("the job has no vertices")]
    Empty,
    /// Two vertices share an id.
    #[error("vertex id {0:?} is used twice")]
    DuplicateVertex(String),
    /// An operator Faro does not have.
    #[error("vertex {vertex:?}: unknown operator {operator:?} (known: {known})", known = crate::catalogue::names().collect::<Vec<_>>().join(", "))]
    UnknownOperator {
        /// The vertex.
        vertex: String,
        /// The operator named.
        operator: String,
    },
    /// A changelog (rows that update and retract earlier ones) reaches an
    /// operator that cannot take it.
    #[error("vertex {vertex:?} ({operator}) cannot take the changelog from {from:?}: {reason}")]
    ChangelogInput {
        /// The vertex refusing.
        vertex: String,
        /// Its operator.
        operator: String,
        /// The vertex whose output is a changelog.
        from: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// Parameters that do not fit the operator.
    #[error("vertex {vertex:?}: bad params: {message}")]
    BadParams {
        /// The vertex.
        vertex: String,
        /// What is wrong.
        message: String,
    },
    /// A pipelined edge into an operator that reads its input again and
    /// again.
    #[error("edge {from:?} -> {to:?}: {operator} reads its input once per epoch, so the edge must be blocking (its rows are then kept in the shuffle service and read from there each epoch)")]
    UncachedInput {
        /// The producer.
        from: String,
        /// The vertex that reads again.
        to: String,
        /// Its operator.
        operator: String,
    },
    /// Checkpoints the job cannot have.
    #[error("checkpoints: {0}")]
    Checkpoints(String),
    /// A skew factor that would call every partition skewed.
    #[error("skew: factor must be at least 1, got {0}")]
    SkewFactor(u32),
    /// A key group count out of range.
    #[error("key_groups must be 1 to {max}, got {0}", max = crate::state::MAX_KEY_GROUPS)]
    KeyGroups(u32),
    /// A keyed vertex with more subtasks than the job has key groups.
    #[error("vertex {vertex:?}: parallelism {parallelism} is more than the job's {key_groups} key groups (set key_groups to at least {parallelism})")]
    ParallelismOverKeyGroups {
        /// The vertex fed by a hash edge.
        vertex: String,
        /// Its parallelism.
        parallelism: u32,
        /// The job's key groups.
        key_groups: u32,
    },
    /// Parallelism 0.
    #[error("vertex {0:?}: parallelism must be at least 1")]
    ZeroParallelism(String),
    /// An edge naming a vertex that does not exist.
    #[error("edge {from:?} -> {to:?}: no vertex {missing:?}")]
    UnknownVertex {
        /// Edge source.
        from: String,
        /// Edge target.
        to: String,
        /// The id that does not exist.
        missing: String,
    },
    /// A blocking, hybrid or range edge in a streaming job.
    #[error("edge {from:?} -> {to:?}: {what} edges hold data until the input ends, and this job is streaming ({why}); use a pipelined edge with hash, broadcast, rebalance or forward partitioning")]
    BlockingInStreaming {
        /// The producer.
        from: String,
        /// The consumer.
        to: String,
        /// `blocking`, `hybrid` or `range`.
        what: &'static str,
        /// Why the job is streaming.
        why: String,
    },
    /// A batch job with a source that never ends.
    #[error("the job's mode is batch, but source {0:?} is unbounded; set mode: streaming or bound the source")]
    UnboundedInBatch(String),
    /// The edges form a cycle.
    #[error("the edges form a cycle through {0}")]
    Cycle(String),
    /// A forward edge between vertices of different parallelism.
    #[error("edge {from:?} -> {to:?}: forward needs equal parallelism, got {from_parallelism} and {to_parallelism}")]
    ForwardParallelism {
        /// Edge source.
        from: String,
        /// Edge target.
        to: String,
        /// Source parallelism.
        from_parallelism: u32,
        /// Target parallelism.
        to_parallelism: u32,
    },
    /// A vertex with the wrong number of inputs for its operator.
    #[error("vertex {vertex:?}: {operator} takes {expected} input(s), it has {actual}")]
    InputCount {
        /// The vertex.
        vertex: String,
        /// Its operator.
        operator: String,
        /// What it takes.
        expected: String,
        /// What it has.
        actual: usize,
    },
    /// A column named in params or a partitioning that the input lacks,
    /// or an expression that does not type-check.
    #[error("{place}: {error}")]
    Expr {
        /// The vertex or edge.
        place: String,
        /// The expression problem (in the message, not a separate cause,
        /// so a chain of causes does not repeat it).
        error: ExprError,
    },
    /// Inputs or columns whose schemas do not fit together.
    #[error("{place}: {message}")]
    Schema {
        /// The vertex or edge.
        place: String,
        /// What does not fit.
        message: String,
    },
}
