//! A job's graph as people look at it (`GET /v1/jobs/{id}/graph`, drawn
//! by the web UI): the chains that run as tasks — Flink's job vertices —
//! each with its operators, and the exchanges between them.
//!
//! It is drawn from the execution plan rather than from the spec, so a
//! box is exactly what one task runs: a task's progress (whose records
//! name their chain) belongs to one box, an aggregate combined before its
//! shuffle shows its partial half in the producer's box, and an edge
//! forward-chained inside a task is not drawn as an exchange it is not.

use faro_runtime::plan::{Phase, Plan};
use faro_runtime::spec::{Exchange, Partitioning};
use serde::{Deserialize, Serialize};

/// The chains and the exchanges between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobGraph {
    /// One per chain, in plan order (producers before consumers); a
    /// task's `chain` indexes this list.
    pub vertices: Vec<GraphVertex>,
    /// One per exchange.
    pub edges: Vec<GraphEdge>,
}

/// One chain: the operators one task runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphVertex {
    /// Its position in the plan (what tasks' `chain` says).
    pub chain: usize,
    /// Its spec vertices joined by `+`.
    pub name: String,
    /// Subtasks.
    pub parallelism: u32,
    /// Its operators, head first.
    pub operators: Vec<GraphOperator>,
}

/// One operator in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphOperator {
    /// The spec vertex it comes from.
    pub vertex: String,
    /// The operator's catalogue name.
    pub operator: String,
    /// `complete`, or `partial`/`final` for the halves of an aggregate
    /// combined before its shuffle.
    pub phase: String,
}

/// One exchange between two chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    /// The producing chain.
    pub from: usize,
    /// The consuming chain.
    pub to: usize,
    /// `forward`, `hash`, `range`, `broadcast` or `rebalance`.
    pub partitioning: String,
    /// Key columns of a hash or range edge.
    pub keys: Vec<String>,
    /// `pipelined`, `blocking` or `hybrid`.
    pub exchange: String,
}

/// The graph of `plan`.
pub fn job_graph(plan: &Plan) -> JobGraph {
    let vertices = plan
        .chains
        .iter()
        .map(|chain| GraphVertex {
            chain: chain.id,
            name: chain.name.clone(),
            parallelism: chain.parallelism,
            operators: chain
                .steps
                .iter()
                .map(|step| GraphOperator {
                    vertex: step.vertex.clone(),
                    operator: step.operator.name().to_string(),
                    phase: match step.phase {
                        Phase::Complete => "complete",
                        Phase::Partial => "partial",
                        Phase::Final => "final",
                    }
                    .to_string(),
                })
                .collect(),
        })
        .collect();
    let edges = plan
        .exchanges
        .iter()
        .map(|exchange| {
            let (partitioning, keys) = match &exchange.partitioning {
                Partitioning::Forward => ("forward", Vec::new()),
                Partitioning::Hash(keys) => ("hash", keys.clone()),
                Partitioning::Range(keys) => ("range", keys.clone()),
                Partitioning::Broadcast => ("broadcast", Vec::new()),
                Partitioning::Rebalance => ("rebalance", Vec::new()),
            };
            GraphEdge {
                from: exchange.from,
                to: exchange.to,
                partitioning: partitioning.to_string(),
                keys,
                exchange: match exchange.exchange {
                    Exchange::Pipelined => "pipelined",
                    Exchange::Blocking => "blocking",
                    Exchange::Hybrid => "hybrid",
                }
                .to_string(),
            }
        })
        .collect();
    JobGraph { vertices, edges }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faro_runtime::spec::{validate, JobSpec};

    fn graph_of(spec: &str) -> JobGraph {
        let spec = JobSpec::parse(spec).expect("a spec");
        let job = validate(&spec).expect("a valid job");
        job_graph(&Plan::new(&job))
    }

    #[test]
    fn chained_operators_share_a_box_and_a_combined_aggregate_shows_both_halves() {
        let graph = graph_of(
            r#"{"name": "counts", "vertices": [
                {"id": "numbers", "operator": "generate", "parallelism": 2,
                 "params": {"rows": 100, "columns": [{"name": "k", "expr": "i % 7"}]}},
                {"id": "even", "operator": "filter", "parallelism": 2,
                 "params": {"predicate": "k % 2 = 0"}},
                {"id": "counted", "operator": "aggregate", "parallelism": 3,
                 "params": {"group_by": ["k"], "aggregates": [{"name": "n", "function": "count"}]}},
                {"id": "out", "operator": "collect"}],
              "edges": [
                {"from": "numbers", "to": "even", "partitioning": "forward"},
                {"from": "even", "to": "counted", "partitioning": {"hash": ["k"]}, "exchange": "blocking"},
                {"from": "counted", "to": "out", "partitioning": "rebalance"}]}"#,
        );
        let operators: Vec<Vec<(&str, &str, &str)>> = graph
            .vertices
            .iter()
            .map(|v| {
                v.operators
                    .iter()
                    .map(|o| (o.vertex.as_str(), o.operator.as_str(), o.phase.as_str()))
                    .collect()
            })
            .collect();
        assert_eq!(
            operators,
            vec![
                vec![
                    ("numbers", "generate", "complete"),
                    ("even", "filter", "complete"),
                    ("counted", "aggregate", "partial"),
                ],
                vec![("counted", "aggregate", "final")],
                vec![("out", "collect", "complete")],
            ]
        );
        let parallelism: Vec<u32> = graph.vertices.iter().map(|v| v.parallelism).collect();
        assert_eq!(parallelism, [2, 3, 1]);
        assert_eq!(
            graph.edges,
            vec![
                GraphEdge {
                    from: 0,
                    to: 1,
                    partitioning: "hash".into(),
                    keys: vec!["k".into()],
                    exchange: "blocking".into(),
                },
                GraphEdge {
                    from: 1,
                    to: 2,
                    partitioning: "rebalance".into(),
                    keys: vec![],
                    exchange: "pipelined".into(),
                },
            ]
        );
    }
}
