//! `Dataflow`: builds a [`JobSpec`] from Rust, so programs and tests
//! produce exactly what a user would write in JSON.

use serde::Serialize;

use super::job::{EdgeSpec, Exchange, JobSpec, Partitioning, VertexSpec};
use crate::operators::aggregate::AggregateParams;
use crate::operators::basic::{
    CollectParams, FilterParams, GenerateParams, NamedExpr, ProjectParams,
};

/// A job under construction.
#[derive(Debug, Clone, Default)]
pub struct Dataflow {
    spec: JobSpec,
}

/// A vertex added to a [`Dataflow`], to connect edges with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VertexRef(String);

impl VertexRef {
    /// The vertex id.
    pub fn id(&self) -> &str {
        &self.0
    }
}

/// `name = expr` pairs as [`NamedExpr`]s.
pub fn columns(pairs: &[(&str, &str)]) -> Vec<NamedExpr> {
    pairs
        .iter()
        .map(|(name, expr)| NamedExpr {
            name: name.to_string(),
            expr: expr.to_string(),
        })
        .collect()
}

impl Dataflow {
    /// An empty job called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            spec: JobSpec {
                name: name.to_string(),
                ..JobSpec::default()
            },
        }
    }

    /// Adds a vertex running `operator` with `params`.
    pub fn vertex(
        &mut self,
        id: &str,
        operator: &str,
        params: impl Serialize,
        parallelism: u32,
    ) -> VertexRef {
        self.spec.vertices.push(VertexSpec {
            id: id.to_string(),
            operator: operator.to_string(),
            // Parameter types are plain data and always serialize.
            params: serde_json::to_value(params).unwrap_or_default(),
            parallelism,
        });
        VertexRef(id.to_string())
    }

    /// Adds a `generate` vertex.
    pub fn generate(&mut self, id: &str, params: GenerateParams, parallelism: u32) -> VertexRef {
        self.vertex(id, "generate", params, parallelism)
    }

    /// Adds a `filter` vertex.
    pub fn filter(&mut self, id: &str, predicate: &str, parallelism: u32) -> VertexRef {
        let params = FilterParams {
            predicate: predicate.to_string(),
        };
        self.vertex(id, "filter", params, parallelism)
    }

    /// Adds a `project` vertex.
    pub fn project(&mut self, id: &str, exprs: &[(&str, &str)], parallelism: u32) -> VertexRef {
        let params = ProjectParams {
            columns: columns(exprs),
        };
        self.vertex(id, "project", params, parallelism)
    }

    /// Adds an `aggregate` vertex.
    pub fn aggregate(&mut self, id: &str, params: AggregateParams, parallelism: u32) -> VertexRef {
        self.vertex(id, "aggregate", params, parallelism)
    }

    /// Adds a `collect` sink.
    pub fn collect(&mut self, id: &str, limit: usize) -> VertexRef {
        self.vertex(id, "collect", CollectParams { limit }, 1)
    }

    /// Connects `from`'s output to `to`'s input.
    pub fn edge(
        &mut self,
        from: &VertexRef,
        to: &VertexRef,
        partitioning: Partitioning,
        exchange: Exchange,
    ) -> &mut Self {
        self.spec.edges.push(EdgeSpec {
            from: from.0.clone(),
            to: to.0.clone(),
            partitioning,
            exchange,
        });
        self
    }

    /// The finished spec.
    pub fn build(self) -> JobSpec {
        self.spec
    }
}
