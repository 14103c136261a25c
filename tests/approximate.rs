//! Approximate failover across processes, really killed: a windowed
//! count over the Nexmark source writing files, spread over two workers,
//! loses one worker to kill -9. Only the tasks that ran there restart
//! (from the last complete checkpoint, on the surviving worker); every
//! task on the survivor keeps its first attempt and runs to the end, and
//! the job reports how many rows the restarted tasks' neighbours had sent
//! them since that checkpoint — rows that may be missing from the output.

use crate::support;

use std::collections::HashSet;
use std::path::Path;

use support::cluster::start_cluster;
use support::jobs::{finished, get, submit, wait_for};
use support::outputs::committed_rows;

/// Four subtasks per vertex: two slots on each of the two workers, so
/// each worker runs subtasks of every vertex.
fn windowed_bids(out: &Path) -> String {
    format!(
        r#"{{"name": "approximate-windows", "mode": "streaming",
        "checkpoints": {{"interval_ms": 2000, "failover": "approximate"}},
        "vertices": [
          {{"id": "bids", "operator": "nexmark", "parallelism": 4,
            "params": {{"table": "bid", "events": 60000, "rate": 6000, "real_time": true}}}},
          {{"id": "counts", "operator": "window", "parallelism": 4,
            "params": {{"time": "date_time", "window": {{"tumbling": {{"size_ms": 500}}}},
                       "group_by": ["auction"],
                       "aggregates": [{{"name": "bids", "function": "count"}}]}}}},
          {{"id": "out", "operator": "files", "parallelism": 4,
            "params": {{"path": "{}", "format": "csv"}}}}
        ],
        "edges": [
          {{"from": "bids", "to": "counts", "partitioning": {{"hash": ["auction"]}}}},
          {{"from": "counts", "to": "out", "partitioning": "forward"}}
        ]}}"#,
        out.display()
    )
}

/// One attempt: its number, worker and state.
type Attempt = (u64, String, String);

/// Each task's attempts: ((vertex, subtask), attempts).
fn attempts(status: &serde_json::Value) -> Vec<((String, u64), Vec<Attempt>)> {
    status["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let key = (
                t["vertex"].as_str().unwrap_or("").to_string(),
                t["subtask"].as_u64().unwrap_or(0),
            );
            let attempts = t["attempts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    (
                        a["attempt"].as_u64().unwrap_or(0),
                        a["worker"].as_str().unwrap_or("").to_string(),
                        a["state"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            (key, attempts)
        })
        .collect()
}

#[test]
fn a_lost_worker_restarts_only_its_own_tasks_and_reports_what_may_be_lost() {
    let mut cluster = start_cluster();
    let out = cluster.setup.dir.path().join("streamed");
    let id = submit(&cluster.url, &windowed_bids(&out));
    wait_for(&cluster.url, &id, "a checkpoint", |_| {
        let history = get(&format!("{}/v1/jobs/{id}/checkpoints", cluster.url));
        history["completed"].as_array().map_or(0, Vec::len) >= 1
    });
    // Well before the next checkpoint: the sources have sent rows since
    // the one the restarted tasks restore, which they never see again.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let running = get(&format!("{}/v1/jobs/{id}", cluster.url));
    let workers: HashSet<String> = attempts(&running)
        .into_iter()
        .flat_map(|(_, a)| a.into_iter().map(|(_, worker, _)| worker))
        .collect();
    assert_eq!(workers.len(), 2, "spread over both workers: {running:#}");
    let victim = cluster.kill_worker_running(&running, "");

    let status = finished(&cluster.url, &id);
    let tasks = attempts(&status);
    assert_eq!(
        tasks.len(),
        8,
        "bids, and counts chained with out: {status:#}"
    );
    let mut restarted = 0;
    for ((vertex, subtask), attempts) in &tasks {
        let first = &attempts[0];
        if first.1 == victim {
            restarted += 1;
            let last = attempts.last().unwrap();
            assert!(
                attempts.len() >= 2 && last.1 != victim && last.2 == "finished",
                "{vertex}[{subtask}] ran again on the survivor: {attempts:?}"
            );
        } else {
            assert_eq!(
                attempts.as_slice(),
                &[(0, first.1.clone(), "finished".to_string())],
                "{vertex}[{subtask}] on the surviving worker kept its first attempt"
            );
        }
    }
    assert_eq!(restarted, 4, "half the tasks ran on the lost worker");
    let reruns = &status["reruns"];
    assert!(reruns["lost_workers"].as_u64() >= Some(4), "{status:#}");
    assert!(
        reruns["records_possibly_lost"].as_u64() > Some(0),
        "neighbours report what they sent the restarted tasks: {status:#}"
    );
    let history = get(&format!("{}/v1/jobs/{id}/checkpoints", cluster.url));
    assert!(
        history["restores"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "the restarted tasks restored a checkpoint: {history:#}"
    );
    assert!(
        !committed_rows(&out, true).is_empty(),
        "the windows' counts were committed"
    );
}
