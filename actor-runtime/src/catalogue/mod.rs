//! The operator catalogue: every built-in operator, each defined once.
//!
//! An operator's [`OperatorDefinition`] lives next to its implementation
//! in [`crate::operators`] and holds all there is to say about it: its
//! name, its typed params, its output schema rule, the state it keeps,
//! whether it is a source, and how a planned step of it is built. The
//! validator, the planner and the task builder ask the catalogue and never
//! name an operator themselves, so adding one means writing its file (a
//! module of [`crate::operators`]) and adding its definition to
//! [`CATALOGUE`].
//!
//! Crates above the runtime add operators of their own with [`register`]
//! (faro-ml's `predict`): the runtime cannot name them, so the program
//! that links them in registers them once at start, before any spec is
//! validated or task built (the `faro` binary does, for every process).

mod definition;
mod schema;
mod spec;

pub use definition::{
    parse_params, pass_changelog, BuildContext, Built, EpochOutcome, NoParams, OperatorDefinition,
    OperatorState, DEFAULT_MEMORY_BYTES,
};
pub use schema::{column_index, SchemaContext};
pub use spec::{CatalogueEntry, OperatorSpec};

use crate::operators::aggregate::AggregateDefinition;
use crate::operators::basic::{
    BlackholeDefinition, CollectDefinition, ExplodeDefinition, FilterDefinition,
    GenerateDefinition, ProjectDefinition, UnionDefinition,
};
use crate::operators::files::FilesDefinition;
use crate::operators::follow::FollowDefinition;
use crate::operators::join::HashJoinDefinition;
use crate::operators::kafka::{KafkaDefinition, KafkaSinkDefinition};
use crate::operators::nexmark::NexmarkDefinition;
use crate::operators::over::OverAggregateDefinition;
use crate::operators::read::ReadDefinition;
use crate::operators::sort::{SortDefinition, TopNDefinition};
use crate::operators::stream_join::{IntervalJoinDefinition, WindowJoinDefinition};
use crate::operators::window::{WindowDefinition, WindowTopNDefinition};

/// Every built-in operator, in the order error messages list them.
pub static CATALOGUE: &[&dyn CatalogueEntry] = &[
    &GenerateDefinition,
    &ReadDefinition,
    &NexmarkDefinition,
    &FollowDefinition,
    &KafkaDefinition,
    &FilterDefinition,
    &ProjectDefinition,
    &ExplodeDefinition,
    &AggregateDefinition,
    &WindowDefinition,
    &WindowTopNDefinition,
    &SortDefinition,
    &TopNDefinition,
    &OverAggregateDefinition,
    &HashJoinDefinition,
    &WindowJoinDefinition,
    &IntervalJoinDefinition,
    &UnionDefinition,
    &BlackholeDefinition,
    &CollectDefinition,
    &FilesDefinition,
    &KafkaSinkDefinition,
];

/// Operators registered by crates above the runtime.
static REGISTERED: std::sync::RwLock<Vec<&'static dyn CatalogueEntry>> =
    std::sync::RwLock::new(Vec::new());

/// The operators registered so far (a poisoned lock still holds them:
/// registering never panics halfway).
fn registered() -> Vec<&'static dyn CatalogueEntry> {
    match REGISTERED.read() {
        Ok(entries) => entries.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Adds `entry` to the catalogue. Registering a name that is already
/// there (a built-in, or the same entry twice) changes nothing, so a
/// crate's `register` may be called more than once.
pub fn register(entry: &'static dyn CatalogueEntry) {
    if lookup(entry.name()).is_some() {
        return;
    }
    let mut entries = match REGISTERED.write() {
        Ok(entries) => entries,
        Err(poisoned) => poisoned.into_inner(),
    };
    if !entries.iter().any(|e| e.name() == entry.name()) {
        entries.push(entry);
    }
}

/// The operator called `name`.
pub fn lookup(name: &str) -> Option<&'static dyn CatalogueEntry> {
    let built_in = CATALOGUE.iter().copied().find(|entry| entry.name() == name);
    built_in.or_else(|| registered().into_iter().find(|entry| entry.name() == name))
}

/// The operators' names, for error messages: the built-ins, then the
/// registered ones.
pub fn names() -> impl Iterator<Item = &'static str> {
    let registered: Vec<&'static str> = registered().iter().map(|e| e.name()).collect();
    CATALOGUE.iter().map(|entry| entry.name()).chain(registered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataType, Field, Schema};
    use crate::operators::aggregate::AggregateParams;
    use crate::spec::{validate, JobSpec};

    #[test]
    fn names_are_distinct_and_found() {
        let all: Vec<&str> = names().collect();
        for name in &all {
            assert_eq!(lookup(name).map(|e| e.name()), Some(*name));
            assert_eq!(all.iter().filter(|n| *n == name).count(), 1, "{name}");
        }
        assert!(lookup("fliter").is_none());
    }

    #[test]
    fn sources_take_no_inputs() {
        for entry in CATALOGUE {
            if entry.is_source() {
                assert_eq!(entry.inputs(), (0, 0), "{}", entry.name());
            } else {
                assert!(entry.inputs().0 >= 1, "{}", entry.name());
            }
        }
    }

    #[test]
    fn a_spec_is_its_definition_with_its_params() {
        let params = serde_json::json!({"group_by": ["k"], "aggregates": [{"name": "n", "function": "count"}]});
        let a = OperatorSpec::parse("a", "aggregate", &params).unwrap();
        assert_eq!(a, OperatorSpec::parse("b", "aggregate", &params).unwrap());
        assert_eq!(a.name(), "aggregate");
        assert_eq!(
            a.params::<AggregateParams>().map(|p| p.group_by.len()),
            Some(1)
        );
        assert!(format!("{a:?}").starts_with("aggregate(AggregateParams"));
        // Same (empty) params type, different operators.
        let null = serde_json::Value::Null;
        let union = OperatorSpec::parse("u", "union", &null).unwrap();
        assert_ne!(union, OperatorSpec::parse("u", "blackhole", &null).unwrap());
        let unknown = OperatorSpec::parse("x", "fliter", &null).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("(known: generate, read, nexmark, follow, kafka, filter, project, explode, aggregate, window, window_top_n, sort,"),
            "{unknown}"
        );
        assert!(
            unknown
                .to_string()
                .contains(", top_n, over_aggregate, hash_join, window_join, interval_join, union,"),
            "{unknown}"
        );
    }

    #[test]
    fn stateful_operators_describe_their_state() {
        let spec = JobSpec::from_json(
            r#"{"vertices": [
              {"id": "gen", "operator": "generate", "params": {"rows": 10, "columns": [{"name": "k", "expr": "i % 3"}, {"name": "v", "expr": "i"}]}},
              {"id": "dim", "operator": "generate", "params": {"rows": 3, "columns": [{"name": "name", "expr": "'x'"}, {"name": "id", "expr": "i"}]}},
              {"id": "agg", "operator": "aggregate", "params": {"group_by": ["k"], "aggregates": [
                {"name": "s", "function": "sum", "expr": "v"}, {"name": "a", "function": "avg", "expr": "v"}]}},
              {"id": "j", "operator": "hash_join", "params": {"left": "gen", "right": "dim", "left_keys": ["k"], "right_keys": ["id"]}},
              {"id": "order", "operator": "sort", "params": {"keys": [{"column": "v"}]}},
              {"id": "keep", "operator": "filter", "params": {"predicate": "v > 1"}}],
             "edges": [
              {"from": "gen", "to": "agg", "partitioning": {"hash": ["k"]}},
              {"from": "dim", "to": "j", "partitioning": "broadcast"},
              {"from": "gen", "to": "j", "partitioning": "rebalance"},
              {"from": "j", "to": "order", "partitioning": "forward"},
              {"from": "gen", "to": "keep", "partitioning": "forward"}]}"#,
        )
        .unwrap();
        let job = validate(&spec).unwrap();
        let state = |id: &str| {
            let vertex = &job.vertices[job.vertex_index(id).unwrap()];
            vertex.operator.state(&vertex.input_schemas)
        };
        assert_eq!(
            state("agg"),
            Some(OperatorState::Groups {
                schema: Schema::new(vec![
                    Field::new("k", DataType::Int64),
                    Field::nullable("s", DataType::Int64),
                    Field::nullable("a__sum", DataType::Float64),
                    Field::new("a__count", DataType::Int64),
                ]),
                keys: 1,
            })
        );
        let dim = job.vertices[job.vertex_index("dim").unwrap()]
            .output
            .clone();
        assert_eq!(
            state("j"),
            Some(OperatorState::BuildSide {
                input: 1,
                schema: dim,
                keys: vec![1],
            })
        );
        let joined = job.vertices[job.vertex_index("j").unwrap()].output.clone();
        assert_eq!(state("order"), Some(OperatorState::Rows { schema: joined }));
        assert_eq!(state("keep"), None);
        assert_eq!(state("gen"), None);
    }
}
