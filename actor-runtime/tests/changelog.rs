//! Changelogs: a continuous aggregate's updates, applied in order to a
//! table, equal a naive reference aggregate of the net rows after every
//! batch, retractions in its input included; a streaming job of two
//! aggregates (the second consuming the first's retractions) ends equal
//! to the batch job; operators that cannot take retractions are refused
//! at validation, naming themselves; kinds survive archives, and corrupt
//! kind bytes are refused.

use crate::operator_support;

use faro_runtime::operator::{Operator, Rows};
use faro_runtime::operators::aggregate::{
    AggregateFunction, AggregateParams, AggregateSpec, ContinuousAggregate,
};
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobMode, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::Value;
use faro_runtime::{Batch, BatchBuilder, BatchError, BatchView, DataType, Field, RowKind, Schema};
use operator_support::{rows, sorted};
use proptest::prelude::*;

fn input_schema() -> Schema {
    Schema::new(vec![
        Field::new("k", DataType::Int64),
        Field::nullable("v", DataType::Int64),
    ])
}

fn spec(name: &str, function: AggregateFunction, expr: Option<&str>) -> AggregateSpec {
    AggregateSpec {
        name: name.into(),
        function,
        expr: expr.map(str::to_string),
    }
}

fn params() -> AggregateParams {
    AggregateParams {
        group_by: vec!["k".into()],
        aggregates: vec![
            spec("rows", AggregateFunction::Count, None),
            spec("values", AggregateFunction::Count, Some("v")),
            spec("total", AggregateFunction::Sum, Some("v")),
            spec("mean", AggregateFunction::Avg, Some("v")),
        ],
        memory_bytes: None,
    }
}

/// The naive reference: `GROUP BY k` over the net rows, one row per group
/// that has a row.
fn reference(net: &[(i64, Option<i64>)]) -> Vec<Vec<Value>> {
    let mut groups: std::collections::BTreeMap<i64, Vec<Option<i64>>> = Default::default();
    for &(k, v) in net {
        groups.entry(k).or_default().push(v);
    }
    let out = groups.into_iter().map(|(k, vs)| {
        let values: Vec<i64> = vs.iter().flatten().copied().collect();
        let n = values.len() as i64;
        let sum: i64 = values.iter().sum();
        vec![
            Value::Int64(k),
            Value::Int64(vs.len() as i64),
            Value::Int64(n),
            if n == 0 {
                Value::Null
            } else {
                Value::Int64(sum)
            },
            if n == 0 {
                Value::Null
            } else {
                Value::Float64(sum as f64 / n as f64)
            },
        ]
    });
    sorted(out.collect())
}

/// Applies a changelog's rows to `table` in order; a retraction must
/// remove a row the table holds, exactly.
fn apply(table: &mut Vec<Vec<Value>>, kind: RowKind, row: Vec<Value>) {
    if kind.is_retraction() {
        let at = table.iter().position(|r| *r == row);
        let at = at.unwrap_or_else(|| panic!("{kind} of {row:?}, which the table does not hold"));
        table.swap_remove(at);
    } else {
        table.push(row);
    }
}

fn apply_batches(table: &mut Vec<Vec<Value>>, batches: &[Batch]) {
    for batch in batches {
        for (i, row) in rows(std::slice::from_ref(batch)).into_iter().enumerate() {
            apply(table, batch.kind(i), row);
        }
    }
}

/// One input batch: rows to insert (`true`) or retract (`false`, an
/// index into the rows present), and whether it carries kinds at all.
type Steps = Vec<Vec<(bool, i64, Option<i64>, usize)>>;

fn steps() -> impl Strategy<Value = Steps> {
    let op = (
        prop::bool::weighted(0.6),
        0i64..4,
        prop::option::weighted(0.8, -50i64..50),
        any::<usize>(),
    );
    prop::collection::vec(prop::collection::vec(op, 1..8), 1..25)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_continuous_aggregates_changelog_equals_the_reference_after_every_batch(
        steps in steps(), update_kinds in any::<bool>(),
    ) {
        let schema = input_schema();
        let mut operator = ContinuousAggregate::new(&params(), &schema).unwrap();
        let dir = tempfile::tempdir().unwrap();
        operator.open(&operator_support::context(dir.path())).unwrap();
        let mut net: Vec<(i64, Option<i64>)> = Vec::new();
        let mut table = Vec::new();
        for step in &steps {
            let mut builder = BatchBuilder::new(schema.clone(), step.len());
            let mut kinds = Vec::new();
            // Rows retracted in this batch, so one is not retracted twice.
            let mut pending = net.clone();
            for &(insert, k, v, pick) in step {
                let (kind, row) = if insert || pending.is_empty() {
                    let kind = if update_kinds { RowKind::UpdateAfter } else { RowKind::Insert };
                    (kind, (k, v))
                } else {
                    let row = pending.swap_remove(pick % pending.len());
                    let kind = if update_kinds { RowKind::UpdateBefore } else { RowKind::Delete };
                    (kind, row)
                };
                if kind.is_retraction() {
                    let at = net.iter().position(|r| *r == row).unwrap();
                    net.swap_remove(at);
                } else {
                    net.push(row);
                }
                builder.push_row(&[Value::Int64(row.0), row.1.map_or(Value::Null, Value::Int64)]).unwrap();
                kinds.push(kind);
            }
            let mut batch = builder.finish().unwrap();
            if kinds.iter().any(|k| *k != RowKind::Insert) {
                batch = batch.with_kinds(&kinds).unwrap();
            }
            let mut out = Vec::new();
            operator.process(0, &Rows::of_batch(&batch), &mut out).unwrap();
            apply_batches(&mut table, &out);
            prop_assert_eq!(sorted(table.clone()), reference(&net));
        }
        let mut out = Vec::new();
        operator.end_input(0, &mut out).unwrap();
        prop_assert!(out.is_empty(), "everything was emitted as it came");
    }
}

#[test]
fn an_unchanged_group_emits_nothing_and_a_changed_one_its_update() {
    let schema = input_schema();
    let only_rows = AggregateParams {
        aggregates: vec![spec("total", AggregateFunction::Sum, Some("v"))],
        ..params()
    };
    let mut operator = ContinuousAggregate::new(&only_rows, &schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    operator
        .open(&operator_support::context(dir.path()))
        .unwrap();
    let batch = |rows: &[(i64, i64)]| {
        let mut builder = BatchBuilder::new(schema.clone(), rows.len());
        for &(k, v) in rows {
            builder
                .push_row(&[Value::Int64(k), Value::Int64(v)])
                .unwrap();
        }
        builder.finish().unwrap()
    };
    let mut run = |batch: &Batch| {
        let mut out = Vec::new();
        operator
            .process(0, &Rows::of_batch(batch), &mut out)
            .unwrap();
        out.iter()
            .flat_map(|b| {
                rows(std::slice::from_ref(b))
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| (b.kind(i), r))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let i = |k, v| vec![Value::Int64(k), Value::Int64(v)];
    assert_eq!(run(&batch(&[(1, 5)])), vec![(RowKind::Insert, i(1, 5))]);
    // Adding 0 changes nothing: no update.
    assert_eq!(run(&batch(&[(1, 0)])), vec![]);
    assert_eq!(
        run(&batch(&[(1, 2), (2, 7)])),
        vec![
            (RowKind::UpdateBefore, i(1, 5)),
            (RowKind::UpdateAfter, i(1, 7)),
            (RowKind::Insert, i(2, 7)),
        ]
    );
    // Retracting every row of group 2 deletes it.
    let retract = batch(&[(2, 7)]).with_kinds(&[RowKind::Delete]).unwrap();
    assert_eq!(run(&retract), vec![(RowKind::Delete, i(2, 7))]);
    // A retraction of a row never inserted is an error, not a count of -1.
    let bogus = batch(&[(3, 1)]).with_kinds(&[RowKind::Delete]).unwrap();
    let mut out = Vec::new();
    let error = operator
        .process(0, &Rows::of_batch(&bogus), &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("retracts a row of a group that has none"),
        "{error}"
    );
}

/// Counts per key, then how many keys have each count: the second
/// aggregate's groups change as the first's counts do, so it consumes
/// their retractions.
fn two_aggregates(mode: &str, sink: &str) -> JobSpec {
    JobSpec::parse(&format!(
        r#"{{"name": "histogram", "mode": "{mode}", "vertices": [
          {{"id": "gen", "operator": "generate", "parallelism": 2, "params": {{
             "rows": 3000, "batch_rows": 64,
             "columns": [{{"name": "k", "expr": "i % (1 + i % 40)"}}, {{"name": "v", "expr": "i % 13"}}]}}}},
          {{"id": "per_key", "operator": "aggregate", "parallelism": 2, "params": {{
             "group_by": ["k"], "aggregates": [{{"name": "n", "function": "count"}},
                                               {{"name": "s", "function": "sum", "expr": "v"}}]}}}},
          {{"id": "busy", "operator": "filter", "parallelism": 2, "params": {{"predicate": "n > 3"}}}},
          {{"id": "histogram", "operator": "aggregate", "parallelism": 2, "params": {{
             "group_by": ["n"], "aggregates": [{{"name": "keys", "function": "count"}},
                                               {{"name": "total", "function": "sum", "expr": "s"}},
                                               {{"name": "mean", "function": "avg", "expr": "s"}}]}}}},
          {sink}],
         "edges": [{{"from": "gen", "to": "per_key", "partitioning": {{"hash": ["k"]}}}},
                   {{"from": "per_key", "to": "busy", "partitioning": "forward"}},
                   {{"from": "busy", "to": "histogram", "partitioning": {{"hash": ["n"]}}}},
                   {{"from": "histogram", "to": "out", "partitioning": "rebalance"}}]}}"#
    ))
    .unwrap()
}

const COLLECT: &str = r#"{"id": "out", "operator": "collect"}"#;

async fn collected(spec: &JobSpec, id: &str) -> Vec<Batch> {
    let job = validate(spec).unwrap();
    let worker = Worker::start(4, None).unwrap();
    let env = JobEnv {
        job_id: id.into(),
        shuffle: None,
        max_frame: faro_transport::TransportOptions::default().buffer_size,
    };
    run_job(&job, &[&worker], &env).await.unwrap().collected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_aggregate_of_an_aggregate_ends_equal_to_the_batch_job() {
    let streaming = two_aggregates("streaming", COLLECT);
    let job = validate(&streaming).unwrap();
    let vertex = |id: &str| &job.vertices[job.vertex_index(id).unwrap()];
    assert!(vertex("per_key").changelog && vertex("busy").changelog);
    assert!(vertex("histogram").changelog && vertex("histogram").input_changelogs[0]);
    assert_eq!(vertex("out").output.fields[0].name, "op");
    let batch = validate(&two_aggregates("batch", COLLECT)).unwrap();
    assert!(batch.vertices.iter().all(|v| !v.changelog));

    let updates = collected(&streaming, "changelog-s").await;
    let expected = sorted(rows(
        &collected(&two_aggregates("batch", COLLECT), "changelog-b").await,
    ));
    let mut table = Vec::new();
    let mut kinds = std::collections::BTreeMap::new();
    for row in rows(&updates) {
        let Value::Utf8(op) = &row[0] else {
            panic!("no op column: {row:?}")
        };
        let kind = RowKind::parse_short(op).unwrap();
        *kinds.entry(kind).or_insert(0) += 1;
        apply(&mut table, kind, row[1..].to_vec());
    }
    assert_eq!(sorted(table), expected);
    assert!(expected.len() > 3, "{expected:?}");
    // The histogram's groups moved as counts grew: it emitted updates and
    // deletes, having consumed the first aggregate's retractions.
    assert!(
        kinds.get(&RowKind::UpdateBefore).is_some_and(|&n| n > 10),
        "{kinds:?}"
    );
    assert!(
        kinds.get(&RowKind::Delete).is_some_and(|&n| n > 0),
        "{kinds:?}"
    );
}

fn refusal(sink: &str) -> String {
    validate(&two_aggregates("streaming", sink))
        .unwrap_err()
        .to_string()
}

#[test]
fn operators_that_cannot_take_retractions_are_refused_at_validation() {
    let files =
        r#"{"id": "out", "operator": "files", "params": {"path": "/tmp/x", "format": "csv"}}"#;
    let error = refusal(files);
    assert!(
        error.contains(r#"vertex "out" (files) cannot take the changelog from "histogram""#)
            && error.contains("changelog: true"),
        "{error}"
    );
    let files = r#"{"id": "out", "operator": "files", "params": {"path": "/tmp/x", "format": "csv", "changelog": true}}"#;
    assert!(validate(&two_aggregates("streaming", files)).is_ok());
    let blackhole = r#"{"id": "out", "operator": "blackhole"}"#;
    assert!(validate(&two_aggregates("streaming", blackhole)).is_ok());
    let sort = r#"{"id": "out", "operator": "sort", "params": {"keys": [{"column": "keys"}]}}"#;
    let error = refusal(sort);
    assert!(
        error.contains(r#"vertex "out" (sort) cannot take the changelog from "histogram""#)
            && error.contains("does not handle retractions"),
        "{error}"
    );

    let mut spec = two_aggregates("streaming", COLLECT);
    spec.vertices[3].params["aggregates"][0] =
        serde_json::json!({"name": "most", "function": "max", "expr": "s"});
    let error = validate(&spec).unwrap_err().to_string();
    assert!(
        error.contains(r#"vertex "histogram" (aggregate) cannot take the changelog from "busy""#)
            && error.contains(r#"aggregate "most" is max, which cannot take retractions"#),
        "{error}"
    );
    // The same job in batch mode has no changelog, so max is fine.
    spec.mode = Some(JobMode::Batch);
    assert!(validate(&spec).is_ok());
}

/// `histogram` replaced by a two-input join of `busy` (a changelog) and
/// a generated `dim`, keyed on `k` = `rk`.
fn joined(operator: &str, params: serde_json::Value) -> JobSpec {
    let mut spec = two_aggregates("streaming", COLLECT);
    spec.vertices[3] = serde_json::from_value(serde_json::json!({
        "id": "histogram", "operator": operator, "parallelism": 2, "params": params}))
    .unwrap();
    spec.vertices.push(
        serde_json::from_value(serde_json::json!({"id": "dim", "operator": "generate",
            "params": {"rows": 10, "columns": [{"name": "rk", "expr": "i"}]}}))
        .unwrap(),
    );
    spec.edges.push(
        serde_json::from_value(serde_json::json!(
            {"from": "dim", "to": "histogram", "partitioning": {"hash": ["rk"]}}))
        .unwrap(),
    );
    spec.edges[2].partitioning = faro_runtime::spec::Partitioning::Hash(vec!["k".into()]);
    spec
}

#[test]
fn a_streaming_hash_join_takes_a_changelog_and_a_time_bound_join_refuses_it() {
    let keys = serde_json::json!({"left": "busy", "right": "dim", "left_keys": ["k"], "right_keys": ["rk"]});
    let job = validate(&joined("hash_join", keys.clone())).unwrap();
    let join = &job.vertices[job.vertex_index("histogram").unwrap()];
    assert!(join.changelog && join.input_changelogs.iter().any(|&c| c));

    let mut interval = keys;
    interval["left_time"] = "k".into();
    interval["right_time"] = "rk".into();
    interval["lower_ms"] = 0.into();
    interval["upper_ms"] = 0.into();
    let error = validate(&joined("interval_join", interval))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            r#"vertex "histogram" (interval_join) cannot take the changelog from "busy""#
        ),
        "{error}"
    );
}

fn with_kinds() -> Batch {
    let mut builder = BatchBuilder::new(input_schema(), 8);
    for i in 0..8 {
        builder
            .push_row(&[Value::Int64(i), Value::Int64(i * 10)])
            .unwrap();
    }
    let kinds = [0u8, 1, 2, 3, 3, 2, 1, 0].map(|b| RowKind::from_byte(b).unwrap());
    builder.finish().unwrap().with_kinds(&kinds).unwrap()
}

#[test]
fn kinds_survive_archives_views_and_takes() {
    let batch = with_kinds();
    let bytes = batch.to_bytes();
    let view = BatchView::new(&bytes).unwrap();
    let kinds: Vec<RowKind> = view.kinds().unwrap().iter().collect();
    assert_eq!(kinds, (0..8).map(|i| batch.kind(i)).collect::<Vec<_>>());
    assert_eq!(view.to_batch().unwrap(), batch);
    let rows = Rows::of_view(&view);
    let taken = rows.take(&input_schema(), &[3, 1]).unwrap();
    assert_eq!(
        (taken.kind(0), taken.kind(1)),
        (RowKind::Delete, RowKind::UpdateBefore)
    );
    let both = batch.take(&[7, 1]).unwrap();
    assert_eq!(
        (both.kind(0), both.kind(1)),
        (RowKind::Insert, RowKind::UpdateBefore)
    );
    // A batch without kinds archives none: every row is an insert.
    let plain = Batch::new(input_schema(), 8, batch.columns().to_vec()).unwrap();
    let bytes = plain.to_bytes();
    let view = BatchView::new(&bytes).unwrap();
    assert!(view.kinds().is_none() && plain.kinds().is_none());
    assert_eq!(Rows::of_view(&view).kind(3), RowKind::Insert);
    let error = batch.with_kinds(&[RowKind::Insert]).unwrap_err();
    assert!(
        error.to_string().contains("1 kind bytes for 8 rows"),
        "{error}"
    );
}

#[test]
fn corrupt_kind_bytes_are_refused() {
    let bytes = with_kinds().to_bytes();
    let pattern = [0u8, 1, 2, 3, 3, 2, 1, 0];
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("the kinds are in the archive");
    let mut corrupt = rkyv::util::AlignedVec::<16>::new();
    corrupt.extend_from_slice(&bytes);
    corrupt[at + 2] = 7;
    let error = BatchView::new(&corrupt).unwrap_err();
    assert!(
        matches!(&error, BatchError::RowKinds(m) if m.contains("row 2 has kind byte 0x07")),
        "{error}"
    );
}

#[test]
fn files_with_changelog_write_each_rows_kind_first() {
    use faro_runtime::access::AccessPolicy;
    use faro_runtime::operator::OperatorContext;
    use faro_runtime::operators::files::{Files, FilesParams, WriteMode};
    use faro_runtime::operators::read::FileFormat;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let params = FilesParams {
        path: out.display().to_string(),
        format: FileFormat::Csv,
        mode: WriteMode::Error,
        rolling: None,
        changelog: true,
        csv: Default::default(),
    };
    let mut sink = Files::new(params, &input_schema(), false);
    let roots = [dir.path().to_path_buf()];
    let context = OperatorContext {
        access: std::sync::Arc::new(AccessPolicy::new(&roots, &roots).unwrap()),
        ..operator_support::context(dir.path())
    };
    sink.open(&context).unwrap();
    let batch = with_kinds().take(&[0, 1, 2, 3]).unwrap();
    let mut emitted = Vec::new();
    sink.process(0, &Rows::of_batch(&batch), &mut emitted)
        .unwrap();
    sink.end_input(0, &mut emitted).unwrap();
    sink.close().unwrap();
    let text = std::fs::read_to_string(out.join("part-00000.csv")).unwrap();
    assert_eq!(text, "op,k,v\n+I,0,0\n-U,1,10\n+U,2,20\n-D,3,30\n");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_archives_with_kinds_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let mut bytes = rkyv::util::AlignedVec::<16>::new();
        bytes.extend_from_slice(&with_kinds().to_bytes());
        for (index, mask) in flips {
            let at = index.index(bytes.len());
            bytes[at] ^= mask;
        }
        if let Ok(view) = BatchView::new(&bytes) {
            let rows = Rows::of_view(&view);
            for row in 0..rows.rows {
                std::hint::black_box(rows.kind(row));
            }
            let _ = view.to_batch();
        }
    }
}
