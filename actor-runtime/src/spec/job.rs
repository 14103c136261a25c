//! The job spec: what users write (JSON, or YAML through the CLI) and what
//! the [`super::Dataflow`] builder produces. Operators are named and carry
//! free-form parameters here; [`super::validate`] turns them into typed
//! operator specs, checking everything before anything runs.

use serde::{Deserialize, Serialize};

/// A job: a graph of operator vertices joined by edges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// A name for people (ids are assigned by the scheduler).
    #[serde(default)]
    pub name: String,
    /// The operators.
    pub vertices: Vec<VertexSpec>,
    /// How their outputs reach their inputs.
    #[serde(default)]
    pub edges: Vec<EdgeSpec>,
    /// Batch or streaming; unset, a job is streaming exactly when one of
    /// its sources is unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<JobMode>,
    /// Key groups of a streaming job (Flink's *max parallelism*): its hash
    /// edges route a key to the subtask owning the key's group, so keyed
    /// state can later be restored at another parallelism by moving whole
    /// groups. Unset, 128; no vertex fed by a hash edge may run more
    /// subtasks than this. A batch job ignores it (it keeps no state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_groups: Option<u32>,
    /// Periodic checkpoints of a streaming job: its state and source
    /// positions are snapshotted so a failure restarts from the last
    /// complete one, and its `files` sinks commit exactly once. Unset:
    /// none (a failure restarts the job's region from the beginning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<CheckpointSpec>,
    /// How a batch job divides skewed partitions of its blocking edges
    /// (see [`SkewSpec`]). Unset: as `SkewSpec::default()` says, which is
    /// Spark's adaptive skew join's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew: Option<SkewSpec>,
}

/// `skew`: when a partition of a blocking edge counts as skewed, and
/// whether such partitions are divided. A skewed partition's rows are
/// divided by the maps that wrote them among several consumer subtasks,
/// each reading the same partition of the consumer's other inputs whole
/// (Spark's skew join), where the consumer allows it (see
/// `OperatorDefinition::divisible_input`): a join's side whose rows it
/// never emits unmatched, or an operator that handles rows one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkewSpec {
    /// Whether skewed partitions are divided at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A partition is skewed when it is this many times the median
    /// partition of its edge…
    #[serde(default = "default_skew_factor")]
    pub factor: u32,
    /// …and larger than this many bytes.
    #[serde(default = "default_skew_bytes")]
    pub min_bytes: u64,
}

impl Default for SkewSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            factor: default_skew_factor(),
            min_bytes: default_skew_bytes(),
        }
    }
}

fn yes() -> bool {
    true
}

/// Spark's `spark.sql.adaptive.skewJoin.skewedPartitionFactor`.
fn default_skew_factor() -> u32 {
    5
}

/// Spark's `spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes`.
fn default_skew_bytes() -> u64 {
    256 << 20
}

/// `checkpoints`: how often a streaming job is checkpointed and how many
/// complete checkpoints are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// Milliseconds from one checkpoint's start to the next's.
    pub interval_ms: u64,
    /// Complete checkpoints kept; older ones are deleted.
    #[serde(default = "default_retain")]
    pub retain: u32,
    /// Milliseconds a checkpoint may take before it is abandoned.
    #[serde(default = "default_checkpoint_timeout")]
    pub timeout_ms: u64,
    /// Unaligned: barriers overtake the data queued on each channel and
    /// that data is stored with the checkpoint, so a checkpoint under
    /// backpressure does not wait for the backlog (savepoints stay
    /// aligned).
    #[serde(default)]
    pub unaligned: bool,
    /// Aligned checkpoints whose alignment takes longer than this are
    /// abandoned for an unaligned one at once (Flink's aligned checkpoint
    /// timeout).
    #[serde(default)]
    pub alignment_timeout_ms: Option<u64>,
    /// What a failed task takes down with it (see [`Failover`]).
    #[serde(default)]
    pub failover: Failover,
}

/// `checkpoints.failover`: what restarts when a task of a streaming job
/// fails or its worker is lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failover {
    /// Every task of the region restarts from the last complete
    /// checkpoint: exactly once, the whole job pauses.
    #[default]
    Region,
    /// Flink's approximate task-local recovery: only the failed task
    /// restarts from the last complete checkpoint; the others keep
    /// running, the data in flight to and from it is dropped, and the job
    /// reports how many records its neighbours sent it since that
    /// checkpoint (records that may have been lost). Availability over
    /// exactness.
    Approximate,
}

fn default_retain() -> u32 {
    3
}

fn default_checkpoint_timeout() -> u64 {
    60_000
}

/// How a job runs: the same graph, two engines' worth of behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobMode {
    /// Bounded input, run stage by stage: blocking edges allowed, no
    /// watermarks (an operator's results come at end of input).
    Batch,
    /// Input that may never end, run all at once: pipelined edges only,
    /// sources emit watermarks and windows fire as event time passes.
    Streaming,
}

/// One operator and how many parallel instances of it run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VertexSpec {
    /// Unique within the job; edges refer to it.
    pub id: String,
    /// The operator's name (`generate`, `filter`, `aggregate`, …).
    pub operator: String,
    /// The operator's parameters; which ones depends on the operator.
    #[serde(default)]
    pub params: serde_json::Value,
    /// Parallel instances (subtasks).
    #[serde(default = "one")]
    pub parallelism: u32,
}

fn one() -> u32 {
    1
}

/// How records move along an edge: which consumer subtask gets a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Partitioning {
    /// Subtask i feeds subtask i (equal parallelism; chained when pipelined).
    Forward,
    /// Rows with equal values of these columns go to one subtask.
    Hash(Vec<String>),
    /// Rows in key order across subtasks, split at sampled boundaries.
    Range(Vec<String>),
    /// Every row to every subtask.
    Broadcast,
    /// Batches round-robin over subtasks.
    Rebalance,
}

/// Whether an edge streams or materializes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exchange {
    /// Consumer reads while the producer writes, under credits.
    #[default]
    Pipelined,
    /// The producer's output is stored in the shuffle service first;
    /// the consumer starts once it is committed, and a failed consumer is
    /// re-run alone.
    Blocking,
    /// Stored in the shuffle service as a blocking edge is, but the
    /// consumer runs beside its producers (Flink's hybrid shuffle) and
    /// reads each map's output as soon as that map commits: it works while
    /// other maps still produce. A failed producer or consumer is re-run
    /// alone, as on a blocking edge, since a consumer only ever reads
    /// committed output.
    Hybrid,
}

impl Exchange {
    /// Whether the edge's rows go through the shuffle service (blocking
    /// and hybrid edges).
    pub fn is_stored(self) -> bool {
        matches!(self, Self::Blocking | Self::Hybrid)
    }

    /// Whether the producer and consumer run at the same time, in one
    /// region (pipelined and hybrid edges).
    pub fn runs_together(self) -> bool {
        matches!(self, Self::Pipelined | Self::Hybrid)
    }
}

/// An edge from one vertex's output to another's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// The producing vertex.
    pub from: String,
    /// The consuming vertex.
    pub to: String,
    /// Which consumer subtask gets a row.
    pub partitioning: Partitioning,
    /// Streamed or materialized.
    #[serde(default)]
    pub exchange: Exchange,
}

impl JobSpec {
    /// Parses a JSON job spec.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Parses a YAML job spec: the same shape as JSON (it is read as a
    /// JSON value first, so enums are written the same way in both).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// Parses JSON or YAML: text starting with `{` is JSON. Text over
    /// [`super::limits::MAX_SPEC_BYTES`] is refused unread.
    pub fn parse(text: &str) -> Result<Self, super::SpecError> {
        super::limits::check_spec_bytes(text.len())?;
        let malformed = |e: String| super::SpecError::Malformed(e);
        if text.trim_start().starts_with('{') {
            Self::from_json(text).map_err(|e| malformed(e.to_string()))
        } else {
            Self::from_yaml(text).map_err(malformed)
        }
    }

    /// The spec as pretty JSON.
    pub fn to_json(&self) -> String {
        // A spec is plain data (strings, numbers, JSON values): it always
        // serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let spec = JobSpec::from_json(
            r#"{
              "name": "agg",
              "vertices": [
                {"id": "gen", "operator": "generate", "params": {"rows": 10}, "parallelism": 2},
                {"id": "sink", "operator": "collect"}
              ],
              "edges": [
                {"from": "gen", "to": "sink", "partitioning": {"hash": ["key"]}, "exchange": "blocking"},
                {"from": "gen", "to": "sink", "partitioning": "rebalance"}
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(spec.vertices[1].parallelism, 1);
        assert_eq!(
            spec.edges[0].partitioning,
            Partitioning::Hash(vec!["key".into()])
        );
        assert_eq!(spec.edges[0].exchange, Exchange::Blocking);
        assert_eq!(spec.edges[1].exchange, Exchange::Pipelined);
        assert_eq!(JobSpec::from_json(&spec.to_json()).unwrap(), spec);
        let yaml = "name: agg\nvertices:\n  - id: gen\n    operator: generate\n    params: {rows: 10}\n    parallelism: 2\n  - id: sink\n    operator: collect\nedges:\n  - {from: gen, to: sink, partitioning: {hash: [key]}, exchange: blocking}\n  - {from: gen, to: sink, partitioning: rebalance}\n";
        assert_eq!(JobSpec::parse(yaml).unwrap(), spec);
        let err = JobSpec::parse("vertices: [{id: a}]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("operator"), "{err}");
    }
}
