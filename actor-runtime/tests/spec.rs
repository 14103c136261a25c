//! Job specs as users write them: a good one validates with the schemas
//! each vertex will see, and each kind of mistake is refused before
//! anything runs, with a message naming the vertex or edge.

use faro_runtime::operators::aggregate::{AggregateFunction, AggregateParams, AggregateSpec};
use faro_runtime::operators::basic::GenerateParams;
use faro_runtime::spec::{columns, validate, Dataflow, Exchange, JobSpec, Partitioning, SpecError};
use faro_runtime::{DataType, Field, Schema};

fn job(json: &str) -> JobSpec {
    JobSpec::from_json(json).expect("well-formed JSON")
}

fn error(json: &str) -> String {
    validate(&job(json))
        .expect_err("the spec is refused")
        .to_string()
}

const GOOD: &str = r#"{
  "name": "bids",
  "vertices": [
    {"id": "gen", "operator": "generate", "parallelism": 2,
     "params": {"rows": 1000, "columns": [
        {"name": "auction", "expr": "i % 100"},
        {"name": "price", "expr": "random_int(1, 1000)"},
        {"name": "channel", "expr": "CASE WHEN i % 3 = 0 THEN 'web' ELSE 'app' END"}]}},
    {"id": "cheap", "operator": "filter", "parallelism": 2, "params": {"predicate": "price < 500 AND channel <> 'x'"}},
    {"id": "eur", "operator": "project", "parallelism": 2,
     "params": {"columns": [{"name": "auction", "expr": "auction"}, {"name": "eur", "expr": "price * 0.908"}]}},
    {"id": "sum", "operator": "aggregate", "parallelism": 3,
     "params": {"group_by": ["auction"], "aggregates": [
        {"name": "n", "function": "count"},
        {"name": "total", "function": "sum", "expr": "eur"}]}},
    {"id": "out", "operator": "collect"}
  ],
  "edges": [
    {"from": "gen", "to": "cheap", "partitioning": "forward"},
    {"from": "cheap", "to": "eur", "partitioning": "forward"},
    {"from": "eur", "to": "sum", "partitioning": {"hash": ["auction"]}, "exchange": "blocking"},
    {"from": "sum", "to": "out", "partitioning": "rebalance"}
  ]
}"#;

#[test]
fn a_good_spec_validates_with_every_schema_worked_out() {
    let valid = validate(&job(GOOD)).unwrap();
    let schema = |id: &str| {
        valid.vertices[valid.vertex_index(id).unwrap()]
            .output
            .clone()
    };
    assert_eq!(
        schema("gen"),
        Schema::new(vec![
            Field::new("auction", DataType::Int64),
            Field::new("price", DataType::Int64),
            Field::new("channel", DataType::Utf8),
        ])
    );
    assert_eq!(
        schema("sum"),
        Schema::new(vec![
            Field::new("auction", DataType::Int64),
            Field::new("n", DataType::Int64),
            Field::nullable("total", DataType::Float64),
        ])
    );
    let position = |id: &str| {
        let v = valid.vertex_index(id).unwrap();
        valid.order.iter().position(|&o| o == v).unwrap()
    };
    assert!(position("gen") < position("cheap") && position("sum") < position("out"));
}

#[test]
fn the_builder_produces_the_same_spec_as_json() {
    let mut flow = Dataflow::new("b");
    let gen = flow.generate(
        "gen",
        GenerateParams {
            rows: Some(10),
            columns: columns(&[("k", "i % 2"), ("v", "i")]),
            seed: 0,
            batch_rows: 8192,
            rows_per_second: None,
            event_time: None,
        },
        2,
    );
    let agg = flow.aggregate(
        "agg",
        AggregateParams {
            group_by: vec!["k".into()],
            aggregates: vec![AggregateSpec {
                name: "s".into(),
                function: AggregateFunction::Sum,
                expr: Some("v".into()),
            }],
            memory_bytes: None,
        },
        2,
    );
    let out = flow.collect("out", 100);
    flow.edge(
        &gen,
        &agg,
        Partitioning::Hash(vec!["k".into()]),
        Exchange::Blocking,
    )
    .edge(&agg, &out, Partitioning::Rebalance, Exchange::Pipelined);
    let spec = flow.build();
    assert_eq!(JobSpec::from_json(&spec.to_json()).unwrap(), spec);
    validate(&spec).unwrap();
}

#[test]
fn each_mistake_is_refused_by_name() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#""operator": "filter""#,
            r#""operator": "fliter""#,
            r#"vertex "cheap": unknown operator "fliter""#,
        ),
        (
            "price < 500",
            "prize < 500",
            r#"vertex "cheap": unknown column "prize""#,
        ),
        (
            "price < 500",
            "channel < 500",
            r#"vertex "cheap": type mismatch: cannot apply < to utf8 and i64"#,
        ),
        (
            r#""id": "sum", "operator": "aggregate", "parallelism": 3"#,
            r#""id": "sum", "operator": "aggregate", "parallelism": 0"#,
            r#"vertex "sum": parallelism must be at least 1"#,
        ),
        (
            r#"{"from": "cheap", "to": "eur", "partitioning": "forward"}"#,
            r#"{"from": "cheap", "to": "out", "partitioning": "forward"}"#,
            r#"edge "cheap" -> "out": forward needs equal parallelism, got 2 and 1"#,
        ),
        (
            r#"{"hash": ["auction"]}"#,
            r#"{"hash": ["auktion"]}"#,
            r#"edge "eur" -> "sum": unknown column "auktion""#,
        ),
        (
            r#"{"from": "sum", "to": "out", "partitioning": "rebalance"}"#,
            r#"{"from": "sum", "to": "gen", "partitioning": "rebalance"}"#,
            "the edges form a cycle through",
        ),
        (
            r#""predicate": "price < 500 AND channel <> 'x'""#,
            r#""predicate": "price + 1""#,
            r#"vertex "cheap": type mismatch: the predicate "price + 1" is i64, not bool"#,
        ),
        (
            r#"{"name": "eur", "expr": "price * 0.908"}"#,
            r#"{"name": "eur", "expr": "price * "}"#,
            r#"vertex "eur": cannot parse expression "price * ""#,
        ),
        (
            r#""function": "sum", "expr": "eur""#,
            r#""function": "summ", "expr": "eur""#,
            r#"vertex "sum": bad params: unknown variant `summ`"#,
        ),
        (
            r#"{"from": "gen", "to": "cheap", "partitioning": "forward"}"#,
            r#"{"from": "gen", "to": "nowhere", "partitioning": "forward"}"#,
            r#"edge "gen" -> "nowhere": no vertex "nowhere""#,
        ),
    ];
    for (from, to, expected) in cases {
        assert!(GOOD.contains(from), "the case edits {from:?}");
        let message = error(&GOOD.replacen(from, to, 1));
        assert!(
            message.starts_with(expected),
            "expected {expected:?}, got {message:?}"
        );
    }
}

#[test]
fn structural_mistakes() {
    assert_eq!(error(r#"{"vertices": []}"#), "the job has no vertices");
    assert_eq!(
        error(
            r#"{"vertices": [{"id": "a", "operator": "blackhole"}, {"id": "a", "operator": "blackhole"}]}"#
        ),
        r#"vertex id "a" is used twice"#
    );
    assert_eq!(
        error(
            r#"{"vertices": [{"id": "a", "operator": "filter", "params": {"predicate": "true"}}]}"#
        ),
        r#"vertex "a": filter takes 1 input(s), it has 0"#
    );
    let err = JobSpec::from_json(r#"{"vertices": [], "edgez": []}"#).unwrap_err();
    assert!(err.to_string().contains("edgez"), "{err}");
}

#[test]
fn spec_files_in_inputs_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/specs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let result = JobSpec::from_json(&text)
            .map_err(|e| SpecError::Malformed(e.to_string()))
            .and_then(|spec| validate(&spec));
        assert!(result.is_ok(), "{}: {:?}", path.display(), result.err());
        seen += 1;
    }
    assert!(seen > 0);
}

#[test]
fn sizes_over_the_bounds_are_refused_before_anything_is_allocated() {
    use faro_runtime::spec::limits::{MAX_SPEC_BYTES, MAX_VERTICES};
    let cases: &[(&str, &str, &str)] = &[
        (
            r#""id": "sum", "operator": "aggregate", "parallelism": 3"#,
            r#""id": "sum", "operator": "aggregate", "parallelism": 4294967295"#,
            r#"vertex "sum" is too large: parallelism 4294967295, more than the 4096 allowed"#,
        ),
        (
            r#""rows": 1000,"#,
            r#""rows": 1000, "batch_rows": 1152921504606846976,"#,
            r#"vertex "gen": bad params: batch_rows must be 1 to 1048576"#,
        ),
        (
            r#""rows": 1000,"#,
            r#""rows": 1000, "batch_rows": 0,"#,
            r#"vertex "gen": bad params: batch_rows must be 1 to 1048576"#,
        ),
        (
            r#""name": "bids""#,
            r#""name": "bids\u001b[2J\u001b[H""#,
            r#"holds the control character '\u{1b}'"#,
        ),
    ];
    for (from, to, want) in cases {
        let spec = GOOD.replace(from, to);
        assert_ne!(spec, GOOD, "{from} is in the good spec");
        let got = error(&spec);
        assert!(got.contains(want), "{to}: got {got}");
    }
    let long_name = GOOD.replace(
        r#""name": "bids""#,
        &format!(r#""name": "{}""#, "n".repeat(300)),
    );
    assert!(error(&long_name).contains("the job name is too large: 300 characters"));

    let many: Vec<String> = (0..=MAX_VERTICES)
        .map(|i| format!(r#"{{"id": "v{i}", "operator": "blackhole"}}"#))
        .collect();
    let spec = format!(r#"{{"vertices": [{}]}}"#, many.join(","));
    assert!(error(&spec).contains("1025 vertices, more than the 1024 allowed"));

    let huge = format!(
        r#"{{"name": "{}", "vertices": []}}"#,
        "x".repeat(MAX_SPEC_BYTES)
    );
    let refused = JobSpec::parse(&huge).unwrap_err().to_string();
    assert!(refused.contains("the job spec is too large"), "{refused}");
}
