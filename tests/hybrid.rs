//! Hybrid edges (Flink's hybrid shuffle) on the embedded cluster: a join
//! whose inputs cross hybrid edges runs beside its producers and builds
//! its hash table from the small side while the big side is still being
//! produced; its rows are the join's reference rows, as with blocking
//! edges. Killing a producer mid-stream is the cluster test's
//! (`tests/cluster.rs`): that needs worker processes.

use crate::support;

use faro_runtime::access::AccessPolicy;
use faro_runtime::kernels::views;
use faro_runtime::spec::{validate, JobSpec, SpecError};
use faro_runtime::Value;
use faro_scheduler::Embedded;
use support::jobs::{skewed_inner_join_reference, skewed_join};
use support::task_metric;

/// [`skewed_join`]'s inner join with both inputs on hybrid edges, the big
/// side generating at most 20,000 rows a second: two seconds of work in
/// which its maps have not committed.
fn hybrid_join() -> JobSpec {
    let mut spec = skewed_join("inner", serde_json::json!({"enabled": false}));
    spec["vertices"][0]["params"]["rows_per_second"] = serde_json::json!(20_000);
    for edge in 0..2 {
        spec["edges"][edge]["exchange"] = serde_json::json!("hybrid");
    }
    serde_json::from_value(spec).unwrap()
}

/// The collected rows as (k, n, v, w), in order.
fn rows(batches: &[faro_runtime::data::Batch]) -> Vec<[i64; 4]> {
    let mut rows: Vec<[i64; 4]> = batches
        .iter()
        .flat_map(|batch| {
            let columns = views(batch);
            (0..batch.num_rows())
                .map(|r| {
                    let int = |c: usize| match columns[c].value(r) {
                        Value::Int64(v) => v,
                        other => panic!("not an integer: {other:?}"),
                    };
                    [int(0), int(1), int(2), int(3)]
                })
                .collect::<Vec<_>>()
        })
        .collect();
    rows.sort_unstable();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_over_hybrid_edges_reads_the_small_side_while_the_big_side_is_produced() {
    let cluster = Embedded::start(16, None, AccessPolicy::new(&[], &[]).unwrap()).unwrap();
    let job = validate(&hybrid_join()).unwrap();
    let output = cluster.run("hybrid-join", &job).await.unwrap();
    let expected: Vec<[i64; 4]> = skewed_inner_join_reference()
        .into_iter()
        .map(|(k, (n, v, w))| [k, n, v, w])
        .collect();
    assert_eq!(rows(&output.collected), expected);
    // Every task ran once: producers and consumers in one region.
    assert_eq!(output.reports.len(), 4 + 2 + 4 + 2, "{:?}", output.reports);
    let metrics = cluster.worker().metrics().render();
    let fetched = task_metric(&metrics, "faro_task_shuffle_bytes_fetched_total", "joined");
    let early = task_metric(
        &metrics,
        "faro_task_shuffle_bytes_fetched_early_total",
        "joined",
    );
    // The small side (1,000 rows of two integers) committed long before
    // the big side's paced maps: the join read it early.
    assert!(early >= 16_000.0, "read early: {early} of {fetched} bytes");
    assert!(early < fetched, "read early: {early} of {fetched} bytes");
}

#[test]
fn a_streaming_job_refuses_hybrid_edges() {
    let mut spec = hybrid_join();
    spec.mode = Some(faro_runtime::spec::JobMode::Streaming);
    let error = validate(&spec).unwrap_err();
    assert!(
        matches!(
            &error,
            SpecError::BlockingInStreaming { what: "hybrid", .. }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("hybrid edges"), "{error}");
}
