//! The contract of a built-in operator's definition: everything the
//! validator, the planner and the task builder need to know about one
//! operator, written once next to its implementation. Every hook but the
//! schema rule and the build has the default most operators want, so a
//! definition states only what makes its operator different.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::schema::SchemaContext;
use crate::data::Schema;
use crate::operator::{Operator, OperatorError, Source};
use crate::operators::basic::Collected;
use crate::plan::{Phase, Step};
use crate::spec::SpecError;

/// Memory a stateful operator may hold when its spec gives no
/// `memory_bytes`: aggregate and sort spill beyond it, hash join fails;
/// top-n fails beyond it.
pub const DEFAULT_MEMORY_BYTES: u64 = 1 << 30;

/// One built-in operator: its name, its typed params, its output schema
/// rule, the state it keeps, and how a plan step of it is built.
///
/// A definition is a unit struct listed once in [`super::CATALOGUE`];
/// its hooks are called only with params its own [`Self::parse`] made.
pub trait OperatorDefinition: Send + Sync + 'static {
    /// Its parameters, as a vertex's `params` hold them.
    type Params: Serialize
        + DeserializeOwned
        + std::fmt::Debug
        + Clone
        + PartialEq
        + Send
        + Sync
        + 'static;

    /// Its name, as specs write it (`aggregate`, `hash_join`, …).
    fn name(&self) -> &'static str;

    /// Reads `vertex`'s `params` (null counts as `{}`), with errors that
    /// name the vertex.
    fn parse(&self, vertex: &str, params: &serde_json::Value) -> Result<Self::Params, SpecError> {
        parse_params(vertex, params)
    }

    /// Whether it has no inputs and is pulled for batches instead.
    fn is_source(&self) -> bool {
        false
    }

    /// Whether its output goes nowhere.
    fn is_sink(&self) -> bool {
        false
    }

    /// Whether its running operator (or source) snapshots everything it
    /// keeps across batches at a checkpoint barrier and restores it
    /// ([`crate::operator::Operator::snapshot_state`]): stateless ones
    /// and those that implement the hooks say so. A job with checkpoints
    /// may only hold such operators, since a restore would silently lose
    /// the state of any other.
    fn checkpointable(&self, _params: &Self::Params) -> bool {
        false
    }

    /// Whether it is a source that may never end (which makes its job
    /// streaming).
    fn is_unbounded(&self, _params: &Self::Params) -> bool {
        false
    }

    /// Whether its input is read again and again (a `train` vertex's,
    /// once per epoch), so must come through blocking edges: committed
    /// once to the shuffle service, and read from there each time.
    fn cached_input(&self) -> bool {
        false
    }

    /// How many inputs it takes: `(min, max)`.
    fn inputs(&self) -> (usize, usize) {
        if self.is_source() {
            (0, 0)
        } else {
            (1, 1)
        }
    }

    /// Its inputs in the order it reads them, as positions into `from`
    /// (the vertex each incoming edge comes from, in spec order): an
    /// operator whose params name its inputs (a join's left and right)
    /// says which is which here.
    fn order_inputs(
        &self,
        _vertex: &str,
        _params: &Self::Params,
        from: &[&str],
    ) -> Result<Vec<usize>, SpecError> {
        Ok((0..from.len()).collect())
    }

    /// Its output schema given its inputs' (in [`Self::order_inputs`]
    /// order), checking every column and expression its params name.
    fn output_schema(
        &self,
        params: &Self::Params,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError>;

    /// Whether its output is a changelog (rows carrying
    /// [`crate::data::RowKind`]s: updates and retractions), given the
    /// job's mode and which inputs are changelogs (`context`); or, as
    /// `Err(reason)`, why it cannot take the changelog inputs it has (the
    /// validator names the vertex and the input). The default suits an
    /// operator that assumes its input only grows: it refuses changelog
    /// input and its output is not one. Operators that pass rows through
    /// one by one ([`pass_changelog`]), consume retractions (`aggregate`)
    /// or write them out (the sinks) say so.
    fn changelog(
        &self,
        _params: &Self::Params,
        context: &SchemaContext<'_>,
    ) -> Result<bool, String> {
        if context.any_changelog_input() {
            return Err(format!(
                "{} assumes its input only grows (inserts) and does not handle \
                 retractions; put it before the continuous aggregate, or use a \
                 window instead of an unwindowed aggregate",
                self.name()
            ));
        }
        Ok(false)
    }

    /// Whether the rows of one partition of its input `input` (in
    /// [`Self::order_inputs`] order) may be divided among several subtasks
    /// when the partition is skewed, each subtask reading the same
    /// partition of every *other* input whole (Spark's skew join): true
    /// for a join's side whose rows each find their matches on their own,
    /// and for the one input of an operator that handles each row on its
    /// own. False (the default) for anything that must see a whole
    /// partition: aggregates, sorts, windows, a join's side whose
    /// unmatched rows it emits, every input of a union (the others would
    /// be read twice).
    fn divisible_input(&self, _params: &Self::Params, _input: usize) -> bool {
        false
    }

    /// What it keeps across batches, for inputs of these schemas; `None`
    /// when each batch is handled on its own.
    fn state(&self, _params: &Self::Params, _inputs: &[Schema]) -> Option<OperatorState> {
        None
    }

    /// If it can combine rows before a hash exchange on `hash_keys` (run
    /// a [`Phase::Partial`] step on the producer's side and a
    /// [`Phase::Final`] one after the exchange), the schema of the partial
    /// state that then crosses; `None` when it cannot.
    fn combine(
        &self,
        _params: &Self::Params,
        _input: &Schema,
        _hash_keys: &[String],
    ) -> Option<Schema> {
        None
    }

    /// The runnable operator or source of one planned step of it.
    fn build(
        &self,
        params: &Self::Params,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError>;

    /// For an operator that trains over epochs (faro-ml's `train`): what
    /// the epoch that just ended means, given the rows its region
    /// collected — the params to run the region again with, or that
    /// training has finished — and the rows the job's result shows for
    /// it. Pure: the scheduler runs it between epochs. `None` (the
    /// default): the operator does not iterate; its region runs once.
    fn after_epoch(
        &self,
        _params: &Self::Params,
        _collected: &[crate::data::Batch],
    ) -> Option<Result<EpochOutcome, String>> {
        None
    }
}

/// What [`OperatorDefinition::after_epoch`] decides.
#[derive(Debug, Clone)]
pub struct EpochOutcome {
    /// The epoch that ended, if the run was one (a final run that only
    /// saves the model is not).
    pub epoch: Option<u64>,
    /// Its loss, if it measured one.
    pub loss: Option<f64>,
    /// The vertex's params for the next epoch (the model fed back), or
    /// `None` when training has finished.
    pub next: Option<serde_json::Value>,
    /// Rows for the job's result (one per epoch: its number and loss).
    pub summary: Vec<crate::data::Batch>,
}

/// The [`OperatorDefinition::changelog`] of an operator that handles each
/// row on its own and keeps its kind (filter, project, union): its output
/// is a changelog exactly when an input is.
pub fn pass_changelog(context: &SchemaContext<'_>) -> Result<bool, String> {
    Ok(context.any_changelog_input())
}

/// Reads `value` as params of type `T`, naming `vertex` in the error.
pub fn parse_params<T: DeserializeOwned>(
    vertex: &str,
    value: &serde_json::Value,
) -> Result<T, SpecError> {
    let value = if value.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        value.clone()
    };
    serde_json::from_value(value).map_err(|error| SpecError::BadParams {
        vertex: vertex.to_string(),
        message: error.to_string(),
    })
}

/// The params of an operator that takes none. Whatever a vertex gives is
/// accepted and ignored, as it always has been for these operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct NoParams {}

impl<'de> Deserialize<'de> for NoParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Self {})
    }
}

/// What an operator keeps across batches: what a snapshot of it would
/// hold, and by which columns that state can be split into key groups.
#[derive(Debug, Clone, PartialEq)]
pub enum OperatorState {
    /// One entry per group: `schema` is the group's key columns (the
    /// first `keys`), then each accumulator's state columns.
    Groups {
        /// Keys, then accumulator state.
        schema: Schema,
        /// How many leading columns are the key.
        keys: usize,
    },
    /// The rows of input `input`, held whole and looked up by `keys`
    /// (a hash join's build side).
    BuildSide {
        /// Which input is held.
        input: usize,
        /// Its schema.
        schema: Schema,
        /// Positions of the lookup key columns in `schema`.
        keys: Vec<usize>,
    },
    /// Input rows buffered (or spilled) until the input ends, with no key
    /// of their own (sort and top-n).
    Rows {
        /// The rows' schema.
        schema: Schema,
    },
}

/// What a built step is: the head of a chain that is pulled, or an
/// operator that is pushed batches.
pub enum Built {
    /// A source (it must head its chain).
    Source(Box<dyn Source>),
    /// An operator.
    Operator(Box<dyn Operator>),
}

/// What [`OperatorDefinition::build`] builds from.
pub struct BuildContext<'a> {
    /// The planned step: vertex, schemas and phase.
    pub step: &'a Step,
    /// Where `collect` sinks hand their rows.
    pub collected: &'a Collected,
}

impl BuildContext<'_> {
    /// The schema of input `index` (empty for a source).
    pub fn input(&self, index: usize) -> Schema {
        self.step
            .input_schemas
            .get(index)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether input `index` is a changelog (its rows carry kinds).
    pub fn input_changelog(&self, index: usize) -> bool {
        self.step
            .input_changelogs
            .get(index)
            .copied()
            .unwrap_or(false)
    }

    /// Whether the step's own output is a changelog.
    pub fn changelog(&self) -> bool {
        self.step.changelog
    }

    /// Whether the job is checkpointed (a stateful operator then keeps
    /// what incremental snapshots need).
    pub fn checkpointing(&self) -> bool {
        self.step.checkpointing
    }

    /// Which part of a split operator the step runs.
    pub fn phase(&self) -> Phase {
        self.step.phase
    }

    /// The memory budget: the spec's `memory_bytes`, or
    /// [`DEFAULT_MEMORY_BYTES`].
    pub fn budget(&self, memory_bytes: Option<u64>) -> u64 {
        memory_bytes.unwrap_or(DEFAULT_MEMORY_BYTES)
    }
}
