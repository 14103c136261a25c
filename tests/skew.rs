//! A skewed partition read in pieces (Spark's skew join): a hash join
//! whose left side sends nine rows in ten to one key runs on the embedded
//! cluster with skew handling on and off. On, the hot partition is read
//! by map range on several subtasks and no subtask takes most of the
//! rows; either way the result is the same, row for row, for each join
//! kind that allows it, and a full join (whose unmatched rows must be
//! emitted once) is never divided, nor a join whose build side is
//! broadcast.

use crate::support;

use faro_runtime::access::AccessPolicy;
use faro_runtime::kernels::views;
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::Value;
use faro_scheduler::embedded::JobOutput;
use faro_scheduler::Embedded;
use support::jobs::{skewed_inner_join_reference, skewed_join};

fn job(kind: &str, skew: serde_json::Value) -> JobSpec {
    serde_json::from_value(skewed_join(kind, skew)).unwrap()
}

async fn run(cluster: &Embedded, id: &str, spec: &JobSpec) -> JobOutput {
    let job = validate(spec).unwrap();
    cluster.run(id, &job).await.unwrap()
}

/// The job's rows, in one order.
fn rows(output: &JobOutput) -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = output
        .collected
        .iter()
        .flat_map(|batch| {
            let columns = views(batch);
            (0..batch.num_rows())
                .map(|r| columns.iter().map(|c| c.value(r)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .collect();
    rows.sort_by_key(|row| format!("{row:?}"));
    rows
}

/// The inner join's rows computed directly, in [`rows`]' order.
fn inner_reference() -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = skewed_inner_join_reference()
        .into_iter()
        .map(|(k, (n, v, w))| [k, n, v, w].map(Value::Int64).to_vec())
        .collect();
    rows.sort_by_key(|row| format!("{row:?}"));
    rows
}

/// The most rows one join subtask took in.
fn busiest_join_task(output: &JobOutput) -> u64 {
    (output.reports.iter())
        .filter(|r| r.task.starts_with("joined"))
        .map(|r| r.rows_in)
        .max()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skewed_join_partition_is_read_in_pieces_with_the_same_result() {
    let cluster = Embedded::start(16, None, AccessPolicy::new(&[], &[]).unwrap()).unwrap();
    let on = serde_json::json!({"factor": 3, "min_bytes": 1000});
    let off = serde_json::json!({"enabled": false});
    for kind in ["inner", "left", "full"] {
        let divided = run(&cluster, &format!("{kind}-on"), &job(kind, on.clone())).await;
        let whole = run(&cluster, &format!("{kind}-off"), &job(kind, off.clone())).await;
        assert!(whole.divided.is_empty(), "{kind}: divided with skew off");
        assert_eq!(rows(&divided), rows(&whole), "{kind}: results differ");
        // Key 7's 36,000 left rows and the 4,000 others.
        let hot = rows(&whole)
            .into_iter()
            .find(|row| row[0] == Value::Int64(7))
            .unwrap();
        assert_eq!(hot[1], Value::Int64(36_000), "{kind}");
        if kind == "inner" {
            assert_eq!(rows(&divided), inner_reference());
        }
        if kind == "full" {
            assert!(
                divided.divided.is_empty(),
                "a full join must not be divided"
            );
            continue;
        }
        let [division] = &divided.divided[..] else {
            panic!(
                "{kind}: expected one divided partition, got {:?}",
                divided.divided
            );
        };
        assert_eq!(division.vertex, "joined");
        assert!(division.pieces >= 2, "{division:?}");
        // Without division one subtask takes the hot key's 36,000 rows.
        let (busiest, alone) = (busiest_join_task(&divided), busiest_join_task(&whole));
        assert!(alone > 36_000, "{kind}: {alone}");
        assert!(
            busiest * 10 < alone * 6,
            "{kind}: busiest subtask {busiest} rows, {alone} undivided"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_build_side_is_broadcast_is_never_divided() {
    let cluster = Embedded::start(16, None, AccessPolicy::new(&[], &[]).unwrap()).unwrap();
    let mut spec = skewed_join("inner", serde_json::json!({"factor": 3, "min_bytes": 1000}));
    // Every partition of a broadcast edge holds every row: a subtask
    // reading two of them would match each left row twice.
    spec["edges"][1]["partitioning"] = serde_json::json!("broadcast");
    let spec: JobSpec = serde_json::from_value(spec).unwrap();
    let output = run(&cluster, "broadcast", &spec).await;
    assert!(output.divided.is_empty(), "{:?}", output.divided);
    assert_eq!(rows(&output), inner_reference());
}
