//! Unaligned checkpoints across processes: a Nexmark source running as
//! fast as it can into a hopping window that cannot keep up (a
//! hundred windows a row) writing files — backpressure on every edge. The
//! checkpoints are unaligned, so their barriers overtake the queued data,
//! which is stored with them; kill -9 of a worker mid-stream restores the
//! state and replays that data, and the committed output equals the same
//! windows computed undisturbed in batch mode. Aligned checkpoints with an
//! alignment timeout give way to unaligned ones under the same load.

use crate::support;

use std::path::Path;

use support::cluster::{start_cluster, Cluster};
use support::jobs::{finished, get, submit, wait_for};
use support::outputs::{assert_same_rows, committed_rows};

/// Unaligned checkpoints every 200 ms.
const UNALIGNED: &str = r#"{"interval_ms": 200, "unaligned": true}"#;

/// The job (streaming with `checkpoints`, or batch for the reference
/// without), writing CSV parts under `out`.
fn backpressured(out: &Path, checkpoints: Option<&str>) -> String {
    let (mode, extra) = match checkpoints {
        Some(spec) => ("streaming", format!(r#","checkpoints": {spec}"#)),
        None => ("batch", String::new()),
    };
    format!(
        r#"{{"name": "unaligned", "mode": "{mode}"{extra},
        "vertices": [
          {{"id": "bids", "operator": "nexmark", "parallelism": 1,
            "params": {{"table": "bid", "events": 150000, "rate": 10000}}}},
          {{"id": "buckets", "operator": "project", "parallelism": 1,
            "params": {{"columns": [{{"name": "bucket", "expr": "auction % 16"}},
                                    {{"name": "price", "expr": "price"}},
                                    {{"name": "date_time", "expr": "date_time"}}]}}}},
          {{"id": "windows", "operator": "window", "parallelism": 1,
            "params": {{"time": "date_time",
                       "window": {{"hopping": {{"size_ms": 2000, "slide_ms": 20}}}},
                       "group_by": ["bucket"],
                       "aggregates": [{{"name": "bids", "function": "count"}},
                                      {{"name": "top", "function": "max", "expr": "price"}}]}}}},
          {{"id": "out", "operator": "files", "parallelism": 1,
            "params": {{"path": "{}", "format": "csv"}}}}
        ],
        "edges": [
          {{"from": "bids", "to": "buckets", "partitioning": "forward"}},
          {{"from": "buckets", "to": "windows", "partitioning": {{"hash": ["bucket"]}}}},
          {{"from": "windows", "to": "out", "partitioning": "forward"}}
        ]}}"#,
        out.display()
    )
}

/// The same windows in batch mode.
fn reference(cluster: &Cluster) -> Vec<String> {
    let reference = cluster.setup.dir.path().join("reference");
    let id = submit(&cluster.url, &backpressured(&reference, None));
    finished(&cluster.url, &id);
    let expected = committed_rows(&reference, true);
    assert!(expected.len() > 1_000, "{} reference rows", expected.len());
    expected
}

fn checkpoints(cluster: &Cluster, id: &str) -> serde_json::Value {
    get(&format!("{}/v1/jobs/{id}/checkpoints", cluster.url))
}

/// Complete checkpoints that stored in-flight data.
fn with_in_flight(cluster: &Cluster, id: &str) -> usize {
    checkpoints(cluster, id)["completed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["in_flight_bytes"].as_u64() > Some(0))
        .count()
}

#[test]
fn a_worker_killed_under_backpressure_replays_the_overtaken_data_exactly() {
    let mut cluster = start_cluster();
    let dir = cluster.setup.dir.path();
    let expected = reference(&cluster);
    let out = dir.join("streamed");
    let id = submit(&cluster.url, &backpressured(&out, Some(UNALIGNED)));
    let status = wait_for(&cluster.url, &id, "a checkpoint with in-flight data", |s| {
        s["state"] == "finished" || with_in_flight(&cluster, &id) >= 1
    });
    assert_eq!(
        status["state"],
        "running",
        "no checkpoint overtook data: {:#}",
        checkpoints(&cluster, &id)
    );
    let status = get(&format!("{}/v1/jobs/{id}", cluster.url));
    cluster.kill_worker_running(&status, "windows");
    let status = finished(&cluster.url, &id);
    let history = checkpoints(&cluster, &id);
    assert_same_rows(
        &committed_rows(&out, true),
        &expected,
        &format!("{history:#}"),
    );
    // It restored a checkpoint that held overtaken data, and replayed it.
    let restored = history["restores"]
        .as_array()
        .and_then(|r| r.last()?.as_u64())
        .unwrap_or_else(|| panic!("no restore: {history:#} {status:#}"));
    let record = history["completed"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"].as_u64() == Some(restored))
        .cloned()
        .unwrap_or_default();
    assert!(
        record["in_flight_bytes"].as_u64() > Some(0),
        "restored checkpoint {restored} held no in-flight data: {history:#}"
    );
    assert_eq!(
        history["unusable"],
        serde_json::json!([]),
        "every restore read its checkpoint: {status:#}"
    );
}

#[test]
fn aligned_checkpoints_past_their_alignment_timeout_give_way_to_unaligned_ones() {
    let cluster = start_cluster();
    let expected = reference(&cluster);
    let out = cluster.setup.dir.path().join("streamed");
    let spec = r#"{"interval_ms": 200, "alignment_timeout_ms": 1}"#;
    let id = submit(&cluster.url, &backpressured(&out, Some(spec)));
    let status = finished(&cluster.url, &id);
    let history = checkpoints(&cluster, &id);
    assert_same_rows(
        &committed_rows(&out, true),
        &expected,
        &format!("{status:#}"),
    );
    assert!(
        history["abandoned"].as_u64() >= Some(1) && with_in_flight(&cluster, &id) >= 1,
        "aligned ones abandoned, unaligned ones with in-flight data completed: {history:#}"
    );
}
