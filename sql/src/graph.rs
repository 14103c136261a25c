//! The job graph a query is planned onto, built one vertex at a time.
//! Each vertex's output schema (and whether it emits a changelog) is
//! asked of the runtime's operator catalogue as it is added, exactly as
//! validation will work it out, so the planner always knows the columns
//! it builds on and an operator's refusal (a changelog it cannot take)
//! surfaces here, at the query that caused it.

use std::collections::HashMap;

use faro_runtime::catalogue::{OperatorSpec, SchemaContext};
use faro_runtime::data::Schema;
use faro_runtime::spec::{EdgeSpec, Exchange, JobMode, JobSpec, Partitioning, VertexSpec};
use sqlparser::tokenizer::Span;

use crate::error::{ErrorKind, SqlError};
use crate::scope::Scope;

/// A planned relation: a vertex of the graph and how SQL names its
/// columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    /// The vertex producing it.
    pub vertex: String,
    /// Its columns, in the vertex's output order.
    pub scope: Scope,
    /// The vertex's parallelism.
    pub parallelism: u32,
    /// Whether its rows are a changelog (a continuous aggregate's).
    pub changelog: bool,
    /// The internal name of its event-time column, when its source
    /// declares a watermark and the column reaches it unchanged.
    pub time: Option<String>,
    /// The internal name of its processing-time column (computed by
    /// `PROCTIME()` and reaching it unchanged): a window over it runs by
    /// the wall clock.
    pub proctime: Option<String>,
    /// Rows it will have, when the source says (bounded generators).
    pub rows: Option<u64>,
}

/// One input of a vertex being added.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The relation feeding it.
    pub from: &'a Relation,
    /// How its rows are spread over the vertex's subtasks.
    pub partitioning: Partitioning,
}

/// The graph under construction.
#[derive(Debug, Default)]
pub struct Graph {
    vertices: Vec<VertexSpec>,
    edges: Vec<EdgeSpec>,
    outputs: HashMap<String, (Schema, bool)>,
    streaming: bool,
}

impl Graph {
    /// An empty graph for a job in `mode`.
    pub fn new(mode: JobMode) -> Self {
        Self {
            streaming: mode == JobMode::Streaming,
            ..Self::default()
        }
    }

    /// Whether the job streams.
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// Adds a vertex of `operator` with `params` fed by `inputs`; returns
    /// its id, output schema and whether its output is a changelog.
    /// `span` is the SQL that asked for it, named in errors.
    pub fn add(
        &mut self,
        name: &str,
        operator: &str,
        params: serde_json::Value,
        parallelism: u32,
        inputs: &[Input<'_>],
        span: Span,
    ) -> Result<(String, Schema, bool), SqlError> {
        let id = self.fresh_id(name);
        let refused = |message: String| SqlError::new(ErrorKind::Invalid, span, message);
        let spec =
            OperatorSpec::parse(&id, operator, &params).map_err(|e| refused(e.to_string()))?;
        let mut schemas = Vec::with_capacity(inputs.len());
        let mut changelogs = Vec::with_capacity(inputs.len());
        for input in inputs {
            let (schema, changelog) =
                self.outputs
                    .get(&input.from.vertex)
                    .cloned()
                    .ok_or_else(|| {
                        refused(format!(
                            "internal: vertex {} is not planned",
                            input.from.vertex
                        ))
                    })?;
            schemas.push(schema);
            changelogs.push(changelog);
        }
        let context = SchemaContext::new(&id).with_changelogs(self.streaming, &changelogs);
        let schema = spec
            .output_schema(&context, &schemas)
            .map_err(|e| refused(e.to_string()))?;
        let changelog = spec.changelog(&context).map_err(|message| {
            SqlError::new(
                ErrorKind::Unsupported,
                span,
                format!("{message} (in a streaming query, this needs an append-only input)"),
            )
        })?;
        for input in inputs {
            let exchange = match input.partitioning {
                // A batch job's shuffles go through the shuffle service:
                // a failed consumer is re-run alone.
                Partitioning::Hash(_) | Partitioning::Range(_) if !self.streaming => {
                    Exchange::Blocking
                }
                _ => Exchange::Pipelined,
            };
            self.edges.push(EdgeSpec {
                from: input.from.vertex.clone(),
                to: id.clone(),
                partitioning: input.partitioning.clone(),
                exchange,
            });
        }
        self.vertices.push(VertexSpec {
            id: id.clone(),
            operator: operator.to_string(),
            params,
            parallelism,
        });
        self.outputs.insert(id.clone(), (schema.clone(), changelog));
        Ok((id, schema, changelog))
    }

    /// The job: its vertices and edges, in the order they were added.
    pub fn into_spec(self, name: String, mode: JobMode) -> JobSpec {
        JobSpec {
            name,
            vertices: self.vertices,
            edges: self.edges,
            mode: Some(mode),
            ..JobSpec::default()
        }
    }

    /// `name`, or `name_2`, … : unused as a vertex id.
    fn fresh_id(&self, name: &str) -> String {
        crate::scope::fresh_name(name, self.vertices.iter().map(|v| v.id.as_str()))
    }
}
