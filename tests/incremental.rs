//! Incremental checkpoints across processes: a continuous aggregate (bids
//! counted per auction, forever) over the Nexmark source, checkpointed
//! every 200 ms, stores after its first checkpoint only the key groups
//! that changed, pointing at older checkpoints' files for the rest. A
//! worker is killed with -9 once such a checkpoint is complete; the job
//! restores from it — reading parts out of several checkpoints — and the
//! changelog it committed, applied in order, is exactly the batch
//! aggregate of every bid: nothing lost, nothing counted twice; the
//! surviving worker's metrics time the restore. Stopped
//! with a savepoint after such a checkpoint, the job's savepoint holds
//! every task's state whole, and resumed from it at parallelism 3 each
//! key's groups follow it to its new subtask, exactly again.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;

use support::cluster::{start_cluster, Cluster};
use support::jobs::{finished, get, submit, wait_for};
use support::outputs::{assert_same_rows, committed_rows};

/// The job: streaming with checkpoints (its output a changelog), or
/// batch for the reference.
fn bids_per_auction(out: &Path, streaming: bool) -> String {
    bids_per_auction_at(out, streaming, 2)
}

/// The job with its aggregate and sink at `parallelism`.
fn bids_per_auction_at(out: &Path, streaming: bool, parallelism: u32) -> String {
    let (mode, extra) = match streaming {
        true => ("streaming", r#","checkpoints": {"interval_ms": 200}"#),
        false => ("batch", ""),
    };
    format!(
        r#"{{"name": "incremental", "mode": "{mode}"{extra},
        "vertices": [
          {{"id": "bids", "operator": "nexmark", "parallelism": 2,
            "params": {{"table": "bid", "events": 8000, "rate": 1000, "real_time": {streaming}}}}},
          {{"id": "counts", "operator": "aggregate", "parallelism": {parallelism},
            "params": {{"group_by": ["auction"],
                       "aggregates": [{{"name": "bids", "function": "count"}},
                                      {{"name": "spent", "function": "sum", "expr": "price"}}]}}}},
          {{"id": "out", "operator": "files", "parallelism": {parallelism},
            "params": {{"path": "{}", "format": "csv", "changelog": {streaming}}}}}
        ],
        "edges": [
          {{"from": "bids", "to": "counts", "partitioning": {{"hash": ["auction"]}}}},
          {{"from": "counts", "to": "out", "partitioning": "forward"}}
        ]}}"#,
        out.display()
    )
}

/// A committed changelog (`op,row…` lines) applied: the rows it leaves.
/// Each kind adds or takes away one copy of its row, so the order of
/// the files does not matter; a row left more than once, or taken more
/// often than added, is a duplicate.
fn applied(lines: &[String]) -> Vec<String> {
    let mut net: BTreeMap<&str, i64> = BTreeMap::new();
    for line in lines {
        let (op, row) = line.split_once(',').unwrap_or_else(|| panic!("{line}"));
        let sign = match op {
            "+I" | "+U" => 1,
            "-U" | "-D" => -1,
            other => panic!("unknown row kind {other} in {line}"),
        };
        *net.entry(row).or_default() += sign;
    }
    for (row, count) in &net {
        assert!((0..=1).contains(count), "row {row} is left {count} times");
    }
    let mut rows: Vec<String> = net
        .into_iter()
        .filter(|&(_, n)| n == 1)
        .map(|(row, _)| row.to_string())
        .collect();
    rows.sort();
    rows
}

fn history(cluster: &Cluster, id: &str) -> serde_json::Value {
    get(&format!("{}/v1/jobs/{id}/checkpoints", cluster.url))
}

/// The complete checkpoints that point into older ones' files.
fn incremental(history: &serde_json::Value) -> Vec<u64> {
    history["completed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["shared_from"].as_u64().is_some())
        .filter_map(|c| c["id"].as_u64())
        .collect()
}

/// The batch aggregate's rows.
fn reference(cluster: &Cluster) -> Vec<String> {
    let reference_dir = cluster.setup.dir.path().join("reference");
    let id = submit(&cluster.url, &bids_per_auction(&reference_dir, false));
    finished(&cluster.url, &id);
    let expected = committed_rows(&reference_dir, true);
    assert!(expected.len() > 200, "{} auctions", expected.len());
    expected
}

/// Submits the streaming job (writing under `out`) and waits for an
/// incremental checkpoint of it; returns its id.
fn until_incremental(cluster: &Cluster, out: &Path) -> String {
    let id = submit(&cluster.url, &bids_per_auction(out, true));
    wait_for(&cluster.url, &id, "an incremental checkpoint", |_| {
        !incremental(&history(cluster, &id)).is_empty()
    });
    id
}

#[test]
fn a_killed_worker_restores_incremental_checkpoints_exactly() {
    let mut cluster = start_cluster();
    let expected = reference(&cluster);
    let out = cluster.setup.dir.path().join("streamed");
    let id = until_incremental(&cluster, &out);
    let job_dir = cluster.scheduler_dir.join("checkpoints").join(&id);
    let parts = std::fs::read_dir(&job_dir)
        .unwrap()
        .flat_map(|chk| std::fs::read_dir(chk.unwrap().path()).unwrap())
        .filter(|f| {
            let name = f.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".parts")
        })
        .count();
    assert!(parts > 0, "no parts files under {}", job_dir.display());
    let status = get(&format!("{}/v1/jobs/{id}", cluster.url));
    cluster.kill_worker_running(&status, "counts");

    let status = finished(&cluster.url, &id);
    let history = history(&cluster, &id);
    assert_same_rows(
        &applied(&committed_rows(&out, true)),
        &expected,
        &format!("{status:#}\n{history:#}"),
    );
    let restores: Vec<u64> = history["restores"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_u64())
        .collect();
    assert!(!restores.is_empty(), "restored: {history:#}");
    // The surviving worker says how long its restores took.
    let restored: f64 = cluster
        .worker_metrics()
        .iter()
        .flat_map(|text| text.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|line| {
            let value = line.strip_prefix("faro_worker_checkpoint_restore_seconds_count ")?;
            value.trim().parse::<f64>().ok()
        })
        .sum();
    assert!(restored >= 1.0, "no restore in the workers' metrics");
    let shared = incremental(&history);
    assert!(
        shared.iter().any(|c| c <= &restores[0]),
        "an incremental checkpoint completed before the restore: {history:#}"
    );
}

#[test]
fn a_savepoint_of_an_incremental_checkpoint_stands_alone_and_rescales_exactly() {
    let cluster = start_cluster();
    let expected = reference(&cluster);
    let out = cluster.setup.dir.path().join("streamed");
    let id = until_incremental(&cluster, &out);
    let savepoint: serde_json::Value = support::jobs::agent()
        .post(&format!("{}/v1/jobs/{id}/savepoints", cluster.url))
        .header("authorization", &support::jobs::bearer())
        .send_json(serde_json::json!({"stop": true}))
        .and_then(|mut r| r.body_mut().read_json())
        .unwrap();
    let path = savepoint["path"]
        .as_str()
        .unwrap_or_else(|| panic!("{savepoint:#}"));
    finished(&cluster.url, &id);
    let files: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(".state")) && !files.iter().any(|f| f.ends_with(".parts")),
        "every task's state whole, no parts: {files:?}"
    );

    let resumed = support::jobs::agent()
        .post(&format!("{}/v1/jobs?from_savepoint={path}", cluster.url))
        .header("content-type", "application/json")
        .header("authorization", &support::jobs::bearer())
        .send(&bids_per_auction_at(&out, true, 3))
        .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>())
        .unwrap();
    let resumed = resumed["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{resumed:#}"));
    let status = finished(&cluster.url, resumed);
    assert_same_rows(
        &applied(&committed_rows(&out, true)),
        &expected,
        &format!("{status:#}"),
    );
}
