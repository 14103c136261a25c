//! `EXPLAIN`: the job graph a statement would run, as text: vertices with
//! operator and parallelism in the order they were planned (sources
//! first), then edges with partitioning and exchange kind, and which
//! operators the runtime splits into partial and final steps.

use faro_runtime::spec::{Exchange, JobSpec, Partitioning};

/// The plan of `spec`, one line per vertex and edge.
pub fn explain(spec: &JobSpec) -> String {
    let mut out = format!(
        "job {:?} ({})\nvertices:\n",
        spec.name,
        match spec.mode {
            Some(faro_runtime::spec::JobMode::Streaming) => "streaming",
            _ => "batch",
        }
    );
    for vertex in &spec.vertices {
        let detail = detail(&vertex.operator, &vertex.params);
        out += &format!(
            "  {} = {}{} x{}\n",
            vertex.id,
            vertex.operator,
            if detail.is_empty() {
                String::new()
            } else {
                format!(" {detail}")
            },
            vertex.parallelism
        );
    }
    out += "edges:\n";
    for edge in &spec.edges {
        let partitioning = match &edge.partitioning {
            Partitioning::Forward => "forward".to_string(),
            Partitioning::Hash(keys) => format!("hash({})", keys.join(", ")),
            Partitioning::Range(keys) => format!("range({})", keys.join(", ")),
            Partitioning::Broadcast => "broadcast".to_string(),
            Partitioning::Rebalance => "rebalance".to_string(),
        };
        let exchange = match edge.exchange {
            Exchange::Pipelined => "pipelined",
            Exchange::Blocking => "blocking",
            Exchange::Hybrid => "hybrid",
        };
        let combined = matches!(edge.partitioning, Partitioning::Hash(_))
            && spec
                .vertices
                .iter()
                .find(|v| v.id == edge.to)
                .is_some_and(|v| v.operator == "aggregate" && combined_before_shuffle(&v.params));
        out += &format!(
            "  {} -> {} {partitioning} {exchange}{}\n",
            edge.from,
            edge.to,
            if combined {
                " (partial aggregate before the shuffle)"
            } else {
                ""
            }
        );
    }
    if let Some(checkpoints) = &spec.checkpoints {
        out += &format!("checkpoints every {} ms\n", checkpoints.interval_ms);
    }
    out
}

/// Whether an aggregate's state is combined before a shuffle (the
/// runtime combines every aggregate but one that counts distinct values).
fn combined_before_shuffle(params: &serde_json::Value) -> bool {
    let aggregates = params.get("aggregates").and_then(|a| a.as_array());
    !aggregates.is_some_and(|list| {
        list.iter()
            .any(|a| a.get("function").and_then(|f| f.as_str()) == Some("count_distinct"))
    })
}

/// The parameters people look for in a plan, compactly.
fn detail(operator: &str, params: &serde_json::Value) -> String {
    let text = |key: &str| params.get(key).map(compact).unwrap_or_default();
    match operator {
        "filter" => text("predicate"),
        "project" => params
            .get("columns")
            .and_then(|c| c.as_array())
            .map(|columns| {
                columns
                    .iter()
                    .map(|c| {
                        let name = c.get("name").map(compact).unwrap_or_default();
                        let expr = c.get("expr").map(compact).unwrap_or_default();
                        if expr == format!("\"{name}\"") {
                            name
                        } else {
                            format!("{name} := {expr}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .map(|c| format!("[{c}]"))
            .unwrap_or_default(),
        "aggregate" | "window" => {
            let aggregates = params
                .get("aggregates")
                .and_then(|a| a.as_array())
                .map(|list| {
                    list.iter()
                        .map(|a| {
                            format!(
                                "{} := {}({})",
                                a.get("name").map(compact).unwrap_or_default(),
                                a.get("function").map(compact).unwrap_or_default(),
                                a.get("expr")
                                    .filter(|e| !e.is_null())
                                    .map(compact)
                                    .unwrap_or("*".into())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let window = if operator == "window" {
                let clock = match params.get("processing_time") {
                    Some(serde_json::Value::Bool(true)) => "the wall clock".to_string(),
                    _ => text("time"),
                };
                format!(" window {} on {clock}", text("window"))
            } else {
                String::new()
            };
            format!("group by {}{window} [{aggregates}]", text("group_by"))
        }
        "hash_join" => format!(
            "{} on {} = {}",
            text("kind"),
            text("left_keys"),
            text("right_keys")
        ),
        "interval_join" => format!(
            "on {} = {}, {} - {} in [{}, {}] ms",
            text("left_keys"),
            text("right_keys"),
            text("right_time"),
            text("left_time"),
            text("lower_ms"),
            text("upper_ms")
        ),
        "window_join" => format!(
            "{} on {} = {} in windows {} of {} and {}",
            text("kind"),
            text("left_keys"),
            text("right_keys"),
            text("window"),
            text("left_time"),
            text("right_time")
        ),
        "window_top_n" => format!(
            "partition by window, {} order by {} keep {}",
            text("partition_by"),
            text("order_by"),
            text("n")
        ),
        "explode" => format!(
            "{} into {}",
            text("column"),
            params
                .get("as")
                .map(compact)
                .unwrap_or_else(|| text("column"))
        ),
        "sort" | "top_n" => {
            let partitioned = params
                .get("partition_by")
                .and_then(|p| p.as_array())
                .filter(|p| !p.is_empty())
                .map(|_| format!("partition by {} ", text("partition_by")))
                .unwrap_or_default();
            let numbered = params
                .get("rank")
                .and_then(|r| r.as_str())
                .map(|r| format!(" numbered as {r}"))
                .unwrap_or_default();
            format!(
                "{partitioned}{}{}{numbered}",
                text("keys"),
                params
                    .get("limit")
                    .map(|l| format!(" limit {l}"))
                    .unwrap_or_default()
            )
        }
        "over_aggregate" => {
            let aggregates = params
                .get("aggregates")
                .and_then(|a| a.as_array())
                .map(|calls| {
                    calls
                        .iter()
                        .map(|c| {
                            let of = |key: &str| c.get(key).map(compact).unwrap_or_default();
                            let column = match c.get("column") {
                                Some(serde_json::Value::String(column)) => format!("{column:?}"),
                                _ => "*".into(),
                            };
                            format!("{} := {}({column})", of("as"), of("function"))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!(
                "partition by {} order by {} rows {} preceding [{aggregates}]",
                text("partition_by"),
                text("order_by"),
                text("preceding")
            )
        }
        "nexmark" => match params.get("columns") {
            Some(columns) => format!("table {} {}", text("table"), compact(columns)),
            None => format!("table {}", text("table")),
        },
        "read" | "files" => format!("{} {}", text("format"), text("path")),
        "generate" => format!("rows {}", text("rows")),
        _ => String::new(),
    }
}

/// A JSON value as plain text (strings without quotes).
fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
