//! Validation: everything that can be known about a job before it runs
//! is checked here, as pure functions of the spec: ids, operators and
//! their parameters, parallelism, edges, cycles, and — walking the graph in
//! topological order — every vertex's output schema, with each expression
//! and column reference checked against the schema that will reach it.
//! What each operator accepts and produces is its catalogue definition's
//! to say ([`crate::catalogue`]); this module walks the graph and asks.

use std::collections::{HashMap, HashSet};

use super::error::SpecError;
use super::job::{CheckpointSpec, EdgeSpec, Exchange, JobMode, JobSpec, Partitioning};
use super::limits;
use crate::catalogue::{column_index, OperatorSpec, SchemaContext};
use crate::data::Schema;
use crate::state::{DEFAULT_KEY_GROUPS, MAX_KEY_GROUPS};

/// A vertex that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidVertex {
    /// Its id.
    pub id: String,
    /// Its typed operator.
    pub operator: OperatorSpec,
    /// Parallel instances.
    pub parallelism: u32,
    /// Indexes into [`ValidJob::edges`] of its inputs, in input order
    /// (for a join: left, then right).
    pub inputs: Vec<usize>,
    /// The schema of each input, in input order.
    pub input_schemas: Vec<Schema>,
    /// The schema of its output.
    pub output: Schema,
    /// Per input (in input order): whether it is a changelog, its rows
    /// carrying [`crate::data::RowKind`]s.
    pub input_changelogs: Vec<bool>,
    /// Whether its output is a changelog (see
    /// [`crate::catalogue::OperatorDefinition::changelog`]).
    pub changelog: bool,
}

/// A job that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidJob {
    /// The spec it was validated from (what deployments carry).
    pub spec: JobSpec,
    /// The job's name.
    pub name: String,
    /// Its vertices, in spec order.
    pub vertices: Vec<ValidVertex>,
    /// Its edges, in spec order.
    pub edges: Vec<EdgeSpec>,
    /// Vertex indexes, producers before consumers.
    pub order: Vec<usize>,
    /// Whether it runs as a streaming job (see [`JobSpec::mode`]).
    pub streaming: bool,
    /// A streaming job's key groups (see [`JobSpec::key_groups`]); `None`
    /// in a batch job, whose hash edges route straight by hash.
    pub key_groups: Option<u32>,
    /// A streaming job's checkpoints (see [`JobSpec::checkpoints`]).
    pub checkpoints: Option<CheckpointSpec>,
}

impl ValidJob {
    /// The index of vertex `id`.
    pub fn vertex_index(&self, id: &str) -> Option<usize> {
        self.vertices.iter().position(|v| v.id == id)
    }
}

/// Checks `spec` and works out every vertex's schema.
pub fn validate(spec: &JobSpec) -> Result<ValidJob, SpecError> {
    if spec.vertices.is_empty() {
        return Err(SpecError::Empty);
    }
    limits::check_shape(spec)?;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut operators = Vec::with_capacity(spec.vertices.len());
    for (i, vertex) in spec.vertices.iter().enumerate() {
        if index.insert(vertex.id.as_str(), i).is_some() {
            return Err(SpecError::DuplicateVertex(vertex.id.clone()));
        }
        if vertex.parallelism == 0 {
            return Err(SpecError::ZeroParallelism(vertex.id.clone()));
        }
        operators.push(OperatorSpec::parse(
            &vertex.id,
            &vertex.operator,
            &vertex.params,
        )?);
    }
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); spec.vertices.len()];
    for (e, edge) in spec.edges.iter().enumerate() {
        let endpoint = |id: &String| {
            index
                .get(id.as_str())
                .copied()
                .ok_or_else(|| SpecError::UnknownVertex {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    missing: id.clone(),
                })
        };
        let (from, to) = (endpoint(&edge.from)?, endpoint(&edge.to)?);
        let (fp, tp) = (
            spec.vertices[from].parallelism,
            spec.vertices[to].parallelism,
        );
        if operators[to].definition().cached_input() && edge.exchange != Exchange::Blocking {
            return Err(SpecError::UncachedInput {
                from: edge.from.clone(),
                to: edge.to.clone(),
                operator: spec.vertices[to].operator.clone(),
            });
        }
        if edge.partitioning == Partitioning::Forward && fp != tp {
            return Err(SpecError::ForwardParallelism {
                from: edge.from.clone(),
                to: edge.to.clone(),
                from_parallelism: fp,
                to_parallelism: tp,
            });
        }
        inputs[to].push(e);
    }
    let order = topological_order(spec, &index)?;
    let streaming = check_mode(spec, &operators)?;
    let key_groups = check_key_groups(spec, streaming)?;
    let checkpoints = check_checkpoints(spec, streaming, &operators)?;
    if let Some(skew) = spec.skew.filter(|skew| skew.factor == 0) {
        return Err(SpecError::SkewFactor(skew.factor));
    }

    let mut outputs: Vec<Option<Schema>> = vec![None; spec.vertices.len()];
    let mut changelogs: Vec<bool> = vec![false; spec.vertices.len()];
    let mut vertices: Vec<Option<ValidVertex>> = vec![None; spec.vertices.len()];
    for &v in &order {
        let vertex = &spec.vertices[v];
        let operator = operators[v].clone();
        let (min, max) = operator.inputs();
        let edges = inputs[v].clone();
        if edges.len() < min || edges.len() > max {
            let expected = match (min, max) {
                (a, b) if a == b => a.to_string(),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(SpecError::InputCount {
                vertex: vertex.id.clone(),
                operator: vertex.operator.clone(),
                expected,
                actual: edges.len(),
            });
        }
        let from: Vec<&str> = edges.iter().map(|&e| spec.edges[e].from.as_str()).collect();
        let edges: Vec<usize> = operator
            .order_inputs(&vertex.id, &from)?
            .into_iter()
            .map(|k| edges[k])
            .collect();
        let input_schemas: Vec<Schema> = edges
            .iter()
            .map(|&e| {
                let from = index[spec.edges[e].from.as_str()];
                outputs[from].clone().unwrap_or_default()
            })
            .collect();
        for (k, &e) in edges.iter().enumerate() {
            check_partitioning(&spec.edges[e], &input_schemas[k])?;
        }
        let input_changelogs: Vec<bool> = edges
            .iter()
            .map(|&e| changelogs[index[spec.edges[e].from.as_str()]])
            .collect();
        let context = SchemaContext::new(&vertex.id).with_changelogs(streaming, &input_changelogs);
        changelogs[v] = operator.changelog(&context).map_err(|reason| {
            let from = edges
                .iter()
                .zip(&input_changelogs)
                .find(|(_, &changelog)| changelog)
                .map(|(&e, _)| spec.edges[e].from.clone())
                .unwrap_or_default();
            SpecError::ChangelogInput {
                vertex: vertex.id.clone(),
                operator: vertex.operator.clone(),
                from,
                reason,
            }
        })?;
        let output = operator.output_schema(&context, &input_schemas)?;
        outputs[v] = Some(output.clone());
        vertices[v] = Some(ValidVertex {
            id: vertex.id.clone(),
            operator,
            parallelism: vertex.parallelism,
            inputs: edges,
            input_schemas,
            output,
            input_changelogs,
            changelog: changelogs[v],
        });
    }
    Ok(ValidJob {
        spec: spec.clone(),
        name: spec.name.clone(),
        vertices: vertices.into_iter().flatten().collect(),
        edges: spec.edges.clone(),
        order,
        streaming,
        key_groups,
        checkpoints,
    })
}

/// A job's checkpoints: only a streaming job has them, at an interval of
/// at least [`MIN_CHECKPOINT_INTERVAL_MS`], and every operator must be
/// able to snapshot what it keeps (else a restore would lose it).
fn check_checkpoints(
    spec: &JobSpec,
    streaming: bool,
    operators: &[OperatorSpec],
) -> Result<Option<CheckpointSpec>, SpecError> {
    let Some(checkpoints) = spec.checkpoints else {
        return Ok(None);
    };
    let bad = |message: String| Err(SpecError::Checkpoints(message));
    if !streaming {
        return bad("only a streaming job is checkpointed (a batch job re-runs what failed from the shuffle service)".into());
    }
    if checkpoints.interval_ms < MIN_CHECKPOINT_INTERVAL_MS {
        return bad(format!(
            "interval_ms must be at least {MIN_CHECKPOINT_INTERVAL_MS}, got {}",
            checkpoints.interval_ms
        ));
    }
    if checkpoints.retain == 0 {
        return bad("retain must be at least 1".into());
    }
    if checkpoints.timeout_ms == 0 {
        return bad("timeout_ms must be at least 1".into());
    }
    if let Some((vertex, _)) = spec
        .vertices
        .iter()
        .zip(operators)
        .find(|(_, operator)| !operator.checkpointable())
    {
        return bad(format!(
            "vertex {:?}: {} cannot snapshot its state yet, so the job cannot be checkpointed",
            vertex.id, vertex.operator
        ));
    }
    Ok(Some(checkpoints))
}

/// The shortest checkpoint interval a job may ask for.
pub const MIN_CHECKPOINT_INTERVAL_MS: u64 = 10;

/// A streaming job's key groups, and that every vertex a hash edge feeds
/// can own at least one (a subtask without a group would get no rows).
fn check_key_groups(spec: &JobSpec, streaming: bool) -> Result<Option<u32>, SpecError> {
    let key_groups = spec.key_groups.unwrap_or(DEFAULT_KEY_GROUPS);
    if key_groups == 0 || key_groups > MAX_KEY_GROUPS {
        return Err(SpecError::KeyGroups(key_groups));
    }
    if !streaming {
        return Ok(None);
    }
    for edge in &spec.edges {
        let Partitioning::Hash(_) = edge.partitioning else {
            continue;
        };
        if let Some(vertex) = spec.vertices.iter().find(|v| v.id == edge.to) {
            if vertex.parallelism > key_groups {
                return Err(SpecError::ParallelismOverKeyGroups {
                    vertex: vertex.id.clone(),
                    parallelism: vertex.parallelism,
                    key_groups,
                });
            }
        }
    }
    Ok(Some(key_groups))
}

/// Whether the job streams, and that its edges suit its mode: a streaming
/// job's edges must all be pipelined and not range-partitioned (both hold
/// data until their input ends, which a streaming input never does).
fn check_mode(spec: &JobSpec, operators: &[OperatorSpec]) -> Result<bool, SpecError> {
    let unbounded = spec
        .vertices
        .iter()
        .zip(operators)
        .find(|(_, operator)| operator.is_unbounded())
        .map(|(vertex, _)| vertex.id.clone());
    let why = match (spec.mode, unbounded) {
        (Some(JobMode::Batch), Some(source)) => return Err(SpecError::UnboundedInBatch(source)),
        (Some(JobMode::Batch), None) | (None, None) => return Ok(false),
        (_, Some(source)) => format!("source {source:?} is unbounded"),
        (Some(JobMode::Streaming), None) => "its mode is streaming".to_string(),
    };
    for edge in &spec.edges {
        let what = match (edge.exchange, &edge.partitioning) {
            (Exchange::Blocking, _) => "blocking",
            (Exchange::Hybrid, _) => "hybrid",
            (_, Partitioning::Range(_)) => "range",
            _ => continue,
        };
        return Err(SpecError::BlockingInStreaming {
            from: edge.from.clone(),
            to: edge.to.clone(),
            what,
            why,
        });
    }
    Ok(true)
}

/// Kahn's algorithm; a leftover vertex lies on (or behind) a cycle.
fn topological_order(
    spec: &JobSpec,
    index: &HashMap<&str, usize>,
) -> Result<Vec<usize>, SpecError> {
    let n = spec.vertices.len();
    let mut indegree = vec![0usize; n];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for edge in &spec.edges {
        let (from, to) = (index[edge.from.as_str()], index[edge.to.as_str()]);
        next[from].push(to);
        indegree[to] += 1;
    }
    let mut ready: Vec<usize> = (0..n).rev().filter(|&v| indegree[v] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(v) = ready.pop() {
        order.push(v);
        for &w in &next[v] {
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(w);
            }
        }
    }
    if order.len() < n {
        let placed: HashSet<usize> = order.iter().copied().collect();
        let stuck: Vec<&str> = (0..n)
            .filter(|v| !placed.contains(v))
            .map(|v| spec.vertices[v].id.as_str())
            .collect();
        return Err(SpecError::Cycle(stuck.join(" -> ")));
    }
    Ok(order)
}

fn check_partitioning(edge: &EdgeSpec, schema: &Schema) -> Result<(), SpecError> {
    let (Partitioning::Hash(columns) | Partitioning::Range(columns)) = &edge.partitioning else {
        return Ok(());
    };
    let place = format!("edge {:?} -> {:?}", edge.from, edge.to);
    if columns.is_empty() {
        return Err(SpecError::Schema {
            place,
            message: "hash and range partitioning need at least one column".into(),
        });
    }
    for column in columns {
        column_index(&place, schema, column)?;
    }
    Ok(())
}
