//! The execution plan: a validated job turned into the tasks that run it,
//! as pure decisions with no I/O.
//!
//! - **Chaining.** A vertex whose only input is a pipelined forward edge
//!   from a vertex with no other output joins that vertex's chain: chained
//!   operators run in one task and hand batches over by function call.
//! - **Combining before shuffling.** An operator fed by a hash edge that
//!   its catalogue definition says it can combine before (an aggregate,
//!   on a subset of its group keys) is split: a partial step joins the
//!   producer's chain and only its state crosses the exchange, where a
//!   final step merges it.
//! - **Exchanges.** Every other edge becomes an exchange between two
//!   chains, with its partitioning resolved to column positions in the
//!   schema that actually crosses it; a streaming job's hash edges route
//!   through its key groups, so a key's rows reach the subtask that owns
//!   the key's state.

use crate::data::Schema;
use crate::spec::{Exchange, OperatorSpec, Partitioning, ValidJob};

/// Which part of its operator a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// All of it, in one place.
    Complete,
    /// The half before a shuffle: raw rows in, state out.
    Partial,
    /// The half after a shuffle: state in, final rows out.
    Final,
}

/// One operator in a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The vertex it comes from (a partial step names its vertex).
    pub vertex: String,
    /// The operator.
    pub operator: OperatorSpec,
    /// Schemas of its inputs (for a final step: of the raw rows, whose
    /// state reaches it).
    pub input_schemas: Vec<Schema>,
    /// Schema of its output.
    pub output: Schema,
    /// Which part of the operator it runs.
    pub phase: Phase,
    /// Whether the job streams: its sources then emit watermarks.
    pub streaming: bool,
    /// Whether the job is checkpointed: sinks then commit their output
    /// when a checkpoint completes (exactly once).
    pub checkpointing: bool,
    /// Per input: whether it is a changelog (rows carry kinds).
    pub input_changelogs: Vec<bool>,
    /// Whether its output is a changelog.
    pub changelog: bool,
}

/// Operators that run together in one task per subtask.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// Position in [`Plan::chains`].
    pub id: usize,
    /// Vertex ids joined by `+`, for logs and metrics.
    pub name: String,
    /// Subtasks.
    pub parallelism: u32,
    /// The operators, head first.
    pub steps: Vec<Step>,
    /// Exchanges feeding the head, in the head's input order.
    pub inputs: Vec<usize>,
    /// Exchanges fed by the last step.
    pub outputs: Vec<usize>,
}

/// An edge between two chains.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangePlan {
    /// Position in [`Plan::exchanges`].
    pub id: usize,
    /// Producing chain.
    pub from: usize,
    /// Consuming chain.
    pub to: usize,
    /// Which input of the consumer's head it is.
    pub to_input: usize,
    /// How rows are routed.
    pub partitioning: Partitioning,
    /// Key column positions in [`Self::schema`] (hash and range).
    pub keys: Vec<usize>,
    /// Streamed or through the shuffle service.
    pub exchange: Exchange,
    /// What crosses it.
    pub schema: Schema,
    /// Producer subtasks.
    pub producers: u32,
    /// Consumer subtasks.
    pub consumers: u32,
    /// For a hash edge of a streaming job: the job's key groups, which
    /// rows are routed through (see [`crate::state::key_group`]).
    pub key_groups: Option<u32>,
}

/// A job as tasks and exchanges.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The chains, producers before consumers.
    pub chains: Vec<Chain>,
    /// The exchanges between them.
    pub exchanges: Vec<ExchangePlan>,
}

impl Plan {
    /// Plans `job`.
    pub fn new(job: &ValidJob) -> Self {
        let outgoing = |v: usize| {
            job.edges
                .iter()
                .filter(|e| e.from == job.vertices[v].id)
                .count()
        };
        let mut chain_of: Vec<usize> = vec![usize::MAX; job.vertices.len()];
        let mut chains: Vec<Chain> = Vec::new();
        for &v in &job.order {
            let vertex = &job.vertices[v];
            let chained_into = match vertex.inputs.as_slice() {
                [e] => {
                    let edge = &job.edges[*e];
                    let from = job.vertex_index(&edge.from).unwrap_or(usize::MAX);
                    (edge.partitioning == Partitioning::Forward
                        && edge.exchange == Exchange::Pipelined
                        && outgoing(from) == 1)
                        .then_some(chain_of[from])
                }
                _ => None,
            };
            let step = Step {
                vertex: vertex.id.clone(),
                operator: vertex.operator.clone(),
                input_schemas: vertex.input_schemas.clone(),
                output: vertex.output.clone(),
                phase: Phase::Complete,
                streaming: job.streaming,
                checkpointing: job.checkpoints.is_some(),
                input_changelogs: vertex.input_changelogs.clone(),
                changelog: vertex.changelog,
            };
            match chained_into {
                Some(c) => {
                    chains[c].name = format!("{}+{}", chains[c].name, vertex.id);
                    chains[c].steps.push(step);
                    chain_of[v] = c;
                }
                None => {
                    chain_of[v] = chains.len();
                    chains.push(Chain {
                        id: chains.len(),
                        name: vertex.id.clone(),
                        parallelism: vertex.parallelism,
                        steps: vec![step],
                        inputs: Vec::new(),
                        outputs: Vec::new(),
                    });
                }
            }
        }
        let mut exchanges = Vec::new();
        for &v in &job.order {
            let vertex = &job.vertices[v];
            for (input, &e) in vertex.inputs.iter().enumerate() {
                let edge = &job.edges[e];
                let from = job.vertex_index(&edge.from).unwrap_or(0);
                let (fc, tc) = (chain_of[from], chain_of[v]);
                if fc == tc {
                    continue;
                }
                let mut schema = vertex.input_schemas[input].clone();
                // A partial step joins the producer's whole chain, so only
                // a producer with no other output may take one: its other
                // consumers would get partial state for rows.
                let split = match outgoing(from) {
                    1 => split(&mut chains, fc, tc, &edge.partitioning),
                    _ => None,
                };
                if let Some(state) = split {
                    schema = state;
                }
                let keys = match &edge.partitioning {
                    Partitioning::Hash(cols) | Partitioning::Range(cols) => {
                        cols.iter().filter_map(|c| schema.index_of(c)).collect()
                    }
                    _ => Vec::new(),
                };
                let id = exchanges.len();
                chains[fc].outputs.push(id);
                chains[tc].inputs.push(id);
                exchanges.push(ExchangePlan {
                    id,
                    from: fc,
                    to: tc,
                    to_input: input,
                    partitioning: edge.partitioning.clone(),
                    keys,
                    exchange: edge.exchange,
                    schema,
                    producers: job.vertices[from].parallelism,
                    consumers: vertex.parallelism,
                    key_groups: job
                        .key_groups
                        .filter(|_| matches!(edge.partitioning, Partitioning::Hash(_))),
                });
            }
        }
        Plan { chains, exchanges }
    }
}

/// If chain `to` starts with an operator that can combine before the
/// hash exchange from chain `from`, adds its partial step to `from` and
/// makes `to`'s head its final step; returns the state schema that then
/// crosses the exchange.
fn split(
    chains: &mut [Chain],
    from: usize,
    to: usize,
    partitioning: &Partitioning,
) -> Option<Schema> {
    let Partitioning::Hash(hash_keys) = partitioning else {
        return None;
    };
    let head = chains[to].steps.first()?.clone();
    // An operator whose output is a changelog (a continuous aggregate)
    // emits updates per batch; partial state cannot carry them.
    if head.phase != Phase::Complete || head.changelog {
        return None;
    }
    let input = head.input_schemas.first()?.clone();
    let state = head.operator.combine(&input, hash_keys)?;
    chains[from].name = format!("{}+{}(partial)", chains[from].name, head.vertex);
    chains[from].steps.push(Step {
        vertex: head.vertex.clone(),
        operator: head.operator.clone(),
        input_schemas: vec![input],
        output: state.clone(),
        phase: Phase::Partial,
        streaming: head.streaming,
        checkpointing: head.checkpointing,
        input_changelogs: head.input_changelogs.clone(),
        changelog: false,
    });
    chains[to].steps[0].phase = Phase::Final;
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{validate, JobSpec};

    fn plan(json: &str) -> Plan {
        Plan::new(&validate(&JobSpec::from_json(json).unwrap()).unwrap())
    }

    const JOB: &str = r#"{"vertices": [
        {"id": "gen", "operator": "generate", "parallelism": 2,
         "params": {"rows": 10, "columns": [{"name": "k", "expr": "i % 3"}, {"name": "v", "expr": "i"}]}},
        {"id": "f", "operator": "filter", "parallelism": 2, "params": {"predicate": "v > 1"}},
        {"id": "agg", "operator": "aggregate", "parallelism": 3,
         "params": {"group_by": ["k"], "aggregates": [{"name": "s", "function": "sum", "expr": "v"}]}},
        {"id": "out", "operator": "collect"}],
      "edges": [
        {"from": "gen", "to": "f", "partitioning": "forward"},
        {"from": "f", "to": "agg", "partitioning": {"hash": ["k"]}, "exchange": "blocking"},
        {"from": "agg", "to": "out", "partitioning": "rebalance"}]}"#;

    #[test]
    fn a_producer_with_another_output_does_not_combine_before_the_shuffle() {
        let plan = plan(
            r#"{"vertices": [
            {"id": "gen", "operator": "generate", "parallelism": 2,
             "params": {"rows": 10, "columns": [{"name": "k", "expr": "i % 3"}, {"name": "v", "expr": "i"}]}},
            {"id": "agg", "operator": "aggregate", "parallelism": 2,
             "params": {"group_by": ["k"], "aggregates": [{"name": "s", "function": "sum", "expr": "v"}]}},
            {"id": "f", "operator": "filter", "parallelism": 2, "params": {"predicate": "v > 1"}},
            {"id": "out", "operator": "collect"},
            {"id": "sums", "operator": "collect"}],
          "edges": [
            {"from": "gen", "to": "agg", "partitioning": {"hash": ["k"]}},
            {"from": "gen", "to": "f", "partitioning": "forward"},
            {"from": "f", "to": "out", "partitioning": "rebalance"},
            {"from": "agg", "to": "sums", "partitioning": "rebalance"}]}"#,
        );
        let names: Vec<&str> = plan.chains.iter().map(|c| c.name.as_str()).collect();
        assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
        // Both of gen's exchanges carry its rows as they are.
        for exchange in plan.exchanges.iter().filter(|e| e.from == 0) {
            assert_eq!(exchange.schema.fields.len(), 2, "{exchange:?}");
        }
    }

    #[test]
    fn forward_pipelined_edges_chain_and_aggregates_combine_before_the_shuffle() {
        let plan = plan(JOB);
        let names: Vec<&str> = plan.chains.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["gen+f+agg(partial)", "agg", "out"]);
        assert_eq!(plan.chains[0].steps[2].phase, Phase::Partial);
        assert_eq!(plan.chains[1].steps[0].phase, Phase::Final);
        let shuffle = &plan.exchanges[0];
        assert_eq!(
            (
                shuffle.from,
                shuffle.to,
                shuffle.producers,
                shuffle.consumers
            ),
            (0, 1, 2, 3)
        );
        assert_eq!(shuffle.exchange, Exchange::Blocking);
        let state: Vec<&str> = shuffle
            .schema
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(state, ["k", "s"], "only per-group state crosses");
        assert_eq!(shuffle.keys, [0]);
        assert_eq!(plan.chains[2].inputs, [1]);
    }

    #[test]
    fn a_blocking_forward_edge_or_a_fan_out_does_not_chain() {
        let blocking = JOB.replace(
            r#"{"from": "gen", "to": "f", "partitioning": "forward"}"#,
            r#"{"from": "gen", "to": "f", "partitioning": "forward", "exchange": "blocking"}"#,
        );
        assert_eq!(plan(&blocking).chains.len(), 4);
        let distinct = JOB.replace(r#""function": "sum""#, r#""function": "count_distinct""#);
        let names: Vec<String> = plan(&distinct)
            .chains
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(
            names,
            ["gen+f", "agg", "out"],
            "count_distinct is not combined"
        );
    }
}
