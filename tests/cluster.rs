//! A cluster of separate processes — shuffle service, scheduler, two
//! workers — really killed: jobs submitted over HTTP give the reference
//! result; kill -9 of a worker while the reduce stage runs re-runs only
//! that worker's tasks; kill -9 of the shuffle service during the map
//! stage (then a restart) and of the scheduler during the reduce stage
//! (then a restart) still finish with the reference result, the latter
//! without running the committed map stage again. A streaming job's rows
//! reach the scheduler from the worker processes as they come. A skewed
//! join partition is fetched in pieces by the worker processes. Over a
//! hybrid edge, kill -9 of a worker running a map re-runs that map while
//! the other worker's reduces, running beside it, read on; kill -9 of a
//! worker running a reduce restarts that reduce's pipelined group and
//! leaves the committed maps alone.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use support::cluster::start_cluster;
use support::jobs::{
    distinct_per_key, distinct_per_key_over, distinct_per_key_paced, finished, get,
    skewed_inner_join_reference, skewed_join, submit, wait_for,
};

/// Rows the test job generates.
const ROWS: u64 = 6_000_000;

/// key → (rows, distinct values), computed directly.
fn reference(rows: u64) -> HashMap<i64, (i64, i64)> {
    let mut values: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut counts: HashMap<i64, i64> = HashMap::new();
    for i in 0..rows as i64 {
        let key = i % 997;
        values.entry(key).or_default().insert((i * 7919) % 20011);
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, n)| (k, (n, values[&k].len() as i64)))
        .collect()
}

/// Whether an attempt of a subtask of the chain named `vertex` runs.
fn running(status: &serde_json::Value, vertex: &str) -> bool {
    tasks(status).iter().any(|t| {
        t["vertex"].as_str().is_some_and(|v| v.starts_with(vertex))
            && t["attempts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["state"] == "running"))
    })
}

fn tasks(status: &serde_json::Value) -> Vec<serde_json::Value> {
    status["tasks"].as_array().cloned().unwrap_or_default()
}

fn assert_reference(url: &str, id: &str, rows: u64) {
    let result = get(&format!("{url}/v1/jobs/{id}/result"));
    let columns: Vec<&str> = result["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no result: {result}"))
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(columns, ["key", "n", "distinct"]);
    let mut got = HashMap::new();
    for row in result["rows"].as_array().unwrap() {
        let value = |i: usize| row[i].as_i64().unwrap();
        assert!(
            got.insert(value(0), (value(1), value(2))).is_none(),
            "key twice: {row}"
        );
    }
    assert_eq!(got, reference(rows));
}

/// The worker id each map (`rows…`) and reduce (`agg…`) attempt ran on.
fn attempts_of(status: &serde_json::Value, vertex: &str) -> Vec<Vec<(u64, String)>> {
    tasks(status)
        .iter()
        .filter(|t| t["vertex"].as_str().is_some_and(|v| v.starts_with(vertex)))
        .map(|t| {
            t["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    (
                        a["attempt"].as_u64().unwrap(),
                        a["worker"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_job_over_http_gives_the_reference_result() {
    let cluster = start_cluster();
    let workers = get(&format!("{}/v1/workers", cluster.url));
    assert_eq!(workers.as_array().map(Vec::len), Some(2), "{workers}");
    let id = submit(&cluster.url, &distinct_per_key(200_000));
    let status = finished(&cluster.url, &id);
    assert_reference(&cluster.url, &id, 200_000);
    // Every subtask ran once, spread over both workers.
    let hosts: HashSet<String> = tasks(&status)
        .iter()
        .flat_map(|t| t["attempts"].as_array().cloned().unwrap_or_default())
        .map(|a| a["worker"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hosts.len(), 2, "{status:#}");
    assert_eq!(status["reruns"]["task_failures"], 0);
    assert_eq!(tasks(&status).len(), 6, "{status:#}");
    // Records and bytes: the map stage generated every row (16 bytes a
    // row: two integer columns) and shipped them all; the reduce stage
    // took them all in (its output goes to a `collect` sink in its own
    // chain, so it ships nothing).
    let sum = |vertex: &str, field: &str| -> u64 {
        tasks(&status)
            .iter()
            .filter(|t| t["vertex"].as_str().is_some_and(|v| v.starts_with(vertex)))
            .map(|t| t["attempts"][0][field].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(sum("rows", "rows_in"), 200_000);
    assert_eq!(sum("rows", "bytes_in"), 200_000 * 16);
    assert_eq!(sum("rows", "rows_out"), 200_000);
    assert_eq!(sum("agg", "rows_in"), 200_000);
    assert!(sum("agg", "bytes_in") >= 200_000 * 16, "{status:#}");
    assert_eq!(sum("rows", "bytes_out"), 200_000 * 16);
    assert_eq!(sum("agg", "rows_out"), 0);
}

#[test]
fn killing_a_worker_during_the_reduce_stage_reruns_only_its_tasks() {
    let mut cluster = start_cluster();
    let id = submit(&cluster.url, &distinct_per_key(ROWS));
    let status = wait_for(&cluster.url, &id, "the reduce stage", |s| running(s, "agg"));
    // The worker to kill: one running a reduce attempt now.
    let victim = cluster.kill_worker_running(&status, "agg");
    let status = finished(&cluster.url, &id);
    assert_reference(&cluster.url, &id, ROWS);
    // The map stage was committed: not one map attempt ran again.
    for attempts in attempts_of(&status, "rows") {
        assert_eq!(attempts.len(), 1, "{status:#}");
    }
    // Only the killed worker's reduce subtasks ran again, elsewhere.
    let mut reran = 0;
    for attempts in attempts_of(&status, "agg") {
        if attempts.len() > 1 {
            reran += 1;
            assert_eq!(attempts[0].1, victim, "{status:#}");
            assert!(
                attempts[1..].iter().all(|(_, w)| *w != victim),
                "{status:#}"
            );
        }
    }
    assert!(reran >= 1, "{status:#}");
    assert_eq!(status["reruns"]["lost_workers"], reran, "{status:#}");
    assert_eq!(status["reruns"]["task_failures"], 0, "{status:#}");
}

#[test]
fn a_killed_producer_of_a_hybrid_edge_reruns_alone_while_its_consumers_read_on() {
    let mut cluster = start_cluster();
    // Paced to last about three seconds, so the map is killed before it
    // commits.
    let spec = distinct_per_key_over(ROWS, Some(ROWS / 3), "hybrid");
    let id = submit(&cluster.url, &spec);
    let status = wait_for(&cluster.url, &id, "maps and reduces at once", |s| {
        running(s, "rows") && running(s, "agg")
    });
    let victim = cluster.kill_worker_running(&status, "rows");
    let status = finished(&cluster.url, &id);
    // Every row counted once, although the reduces read the surviving
    // map's output while the killed one was produced again.
    assert_reference(&cluster.url, &id, ROWS);
    let maps = attempts_of(&status, "rows");
    assert!(
        maps.iter().any(|a| a.len() > 1 && a[0].1 == victim),
        "the killed map did not run again: {status:#}"
    );
    let survivors: Vec<_> = (attempts_of(&status, "agg").into_iter())
        .filter(|attempts| attempts[0].1 != victim)
        .collect();
    assert!(!survivors.is_empty(), "{status:#}");
    for attempts in survivors {
        assert_eq!(
            attempts.len(),
            1,
            "a surviving reduce restarted: {status:#}"
        );
    }
    assert_eq!(status["reruns"]["task_failures"], 0, "{status:#}");
}

#[test]
fn a_killed_reduce_behind_a_hybrid_edge_restarts_its_pipelined_group_not_the_maps() {
    let mut cluster = start_cluster();
    // The reduces feed one sink over a pipelined edge: a failed reduce
    // restarts them all (the sink took part of its stream), but not the
    // maps, which a hybrid edge keeps apart.
    let spec = distinct_per_key_over(ROWS, Some(ROWS / 3), "hybrid");
    let mut spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    spec["vertices"][2]["parallelism"] = 1.into();
    spec["edges"][1]["partitioning"] = "rebalance".into();
    let id = submit(&cluster.url, &spec.to_string());
    let status = wait_for(&cluster.url, &id, "maps and reduces at once", |s| {
        running(s, "rows") && running(s, "agg")
    });
    let victim = cluster.kill_worker_running(&status, "agg");
    let status = finished(&cluster.url, &id);
    assert_reference(&cluster.url, &id, ROWS);
    // The surviving worker's map ran once, the reduces all ran again.
    let maps = attempts_of(&status, "rows");
    let kept: Vec<_> = maps.iter().filter(|a| a[0].1 != victim).collect();
    assert!(!kept.is_empty(), "{status:#}");
    for attempts in kept {
        assert_eq!(attempts.len(), 1, "a surviving map restarted: {status:#}");
    }
    for attempts in attempts_of(&status, "agg") {
        assert!(attempts.len() > 1, "a reduce did not restart: {status:#}");
    }
}

#[test]
fn killing_the_shuffle_service_during_the_map_stage_then_restarting_it() {
    let mut cluster = start_cluster();
    // Paced to last about three seconds: unpaced, the map stage may commit
    // between the poll that saw it running and the kill, and nothing
    // would be lost for the test to see recovered.
    let id = submit(&cluster.url, &distinct_per_key_paced(ROWS, Some(ROWS / 3)));
    wait_for(&cluster.url, &id, "the map stage", |s| running(s, "rows"));
    // A map that is running may not have reached the node yet: killed
    // before its first push, the node would lose nothing of it.
    let started = std::time::Instant::now();
    while !cluster.worker_metrics().iter().any(|text| {
        support::task_metric(text, "faro_task_shuffle_bytes_pushed_total", "rows") > 0.0
    }) {
        assert!(started.elapsed() < Duration::from_secs(20), "no map pushed");
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.restart_node(false);
    let status = finished(&cluster.url, &id);
    assert_reference(&cluster.url, &id, ROWS);
    let reruns = &status["reruns"];
    assert!(
        reruns["task_failures"].as_u64().unwrap_or(0)
            + reruns["lost_partitions"].as_u64().unwrap_or(0)
            >= 1,
        "{status:#}"
    );
}

#[test]
fn a_restarted_scheduler_resumes_without_rerunning_committed_stages() {
    let mut cluster = start_cluster();
    let id = submit(&cluster.url, &distinct_per_key(ROWS));
    wait_for(&cluster.url, &id, "the reduce stage", |s| {
        s["done_regions"].as_array().is_some_and(|d| !d.is_empty()) && running(s, "agg")
    });
    cluster.scheduler.faro.kill9();
    cluster.restart_scheduler();
    let status = finished(&cluster.url, &id);
    assert_reference(&cluster.url, &id, ROWS);
    for attempts in attempts_of(&status, "rows") {
        assert_eq!(attempts.len(), 1, "the map stage ran again: {status:#}");
    }
    // The reduce stage ran again from fresh attempt numbers: the first
    // scheduler recorded every attempt before deploying it, and no number
    // it recorded was used again. (A subtask it had not yet recorded was
    // never deployed, so its attempt 0 is still unused.)
    let agg: Vec<_> = tasks(&status)
        .into_iter()
        .filter(|t| t["vertex"].as_str().is_some_and(|v| v.starts_with("agg")))
        .collect();
    assert!(!agg.is_empty(), "{status:#}");
    for task in &agg {
        let attempts = task["attempts"].as_array().unwrap();
        let numbers: Vec<u64> = attempts
            .iter()
            .map(|a| a["attempt"].as_u64().unwrap())
            .collect();
        let mut distinct = numbers.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            numbers.len(),
            "an attempt number was used twice: {status:#}"
        );
        let last = attempts.last().unwrap();
        assert_eq!(last["state"], "finished", "{status:#}");
        assert!(
            attempts[..attempts.len() - 1]
                .iter()
                .all(|a| a["attempt"].as_u64() < last["attempt"].as_u64()),
            "{status:#}"
        );
    }
    assert!(
        agg.iter()
            .any(|t| t["attempts"].as_array().unwrap().len() > 1),
        "the first scheduler's reduce attempts were not replaced: {status:#}"
    );
}

#[test]
fn lost_partitions_rerun_their_producers_then_the_consumers() {
    let mut cluster = start_cluster();
    let id = submit(&cluster.url, &distinct_per_key(ROWS));
    wait_for(&cluster.url, &id, "the reduce stage", |s| {
        s["done_regions"].as_array().is_some_and(|d| !d.is_empty()) && running(s, "agg")
    });
    // The node dies with its disk: no replica, no tier copy.
    cluster.restart_node(true);
    let status = finished(&cluster.url, &id);
    assert_reference(&cluster.url, &id, ROWS);
    assert!(
        status["reruns"]["lost_partitions"].as_u64().unwrap_or(0) >= 1,
        "{status:#}"
    );
    // Every producer ran again (each wrote to the lost partitions), then
    // the consumers.
    for attempts in attempts_of(&status, "rows") {
        assert!(attempts.len() >= 2, "{status:#}");
    }
    for attempts in attempts_of(&status, "agg") {
        assert!(attempts.len() >= 2, "{status:#}");
    }
}

#[test]
fn range_edges_agree_boundaries_across_worker_processes() {
    let cluster = start_cluster();
    for exchange in ["pipelined", "blocking"] {
        let spec = format!(
            r#"{{"name": "ranges", "vertices": [
            {{"id": "rows", "operator": "generate", "parallelism": 4,
              "params": {{"rows": 200000, "columns": [{{"name": "v", "expr": "(i * 7919) % 1000003"}}]}}}},
            {{"id": "span", "operator": "aggregate", "parallelism": 4, "params": {{"aggregates": [
                {{"name": "low", "function": "min", "expr": "v"}},
                {{"name": "high", "function": "max", "expr": "v"}},
                {{"name": "n", "function": "count"}}]}}}},
            {{"id": "out", "operator": "collect", "parallelism": 4}}],
          "edges": [
            {{"from": "rows", "to": "span", "partitioning": {{"range": ["v"]}}, "exchange": "{exchange}"}},
            {{"from": "span", "to": "out", "partitioning": "forward"}}]}}"#
        );
        let id = submit(&cluster.url, &spec);
        finished(&cluster.url, &id);
        let result = get(&format!("{}/v1/jobs/{id}/result", cluster.url));
        let mut spans: Vec<(i64, i64, i64)> = result["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{result}"))
            .iter()
            .filter(|r| !r[0].is_null())
            .map(|r| {
                (
                    r[0].as_i64().unwrap(),
                    r[1].as_i64().unwrap(),
                    r[2].as_i64().unwrap(),
                )
            })
            .collect();
        spans.sort();
        // Four disjoint ranges covering every row: every producer, in
        // either process, routed by the same boundaries.
        assert_eq!(spans.len(), 4, "{exchange}: {spans:?}");
        assert_eq!(
            spans.iter().map(|s| s.2).sum::<i64>(),
            200_000,
            "{exchange}"
        );
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 < pair[1].0,
                "{exchange}: overlapping ranges {spans:?}"
            );
        }
    }
}

#[test]
fn a_streaming_jobs_rows_reach_the_scheduler_from_worker_processes_as_they_come() {
    let cluster = start_cluster();
    let spec = r#"{"name": "ticker", "vertices": [
        {"id": "ticks", "operator": "generate", "parallelism": 2,
         "params": {"rows": null, "rows_per_second": 2000, "batch_rows": 50,
                    "event_time": {"column": "t"},
                    "columns": [{"name": "n", "expr": "i"},
                                {"name": "t", "expr": "CAST(i * 10 AS TIMESTAMP)"}]}},
        {"id": "out", "operator": "collect", "parallelism": 2}],
      "edges": [{"from": "ticks", "to": "out", "partitioning": "rebalance"}]}"#;
    let id = submit(&cluster.url, spec);
    // The result grows while the job runs: rows cross from the workers'
    // sinks to the scheduler as they come, not at the job's end.
    let rows_now = || -> Vec<i64> {
        get(&format!("{}/v1/jobs/{id}/result", cluster.url))["rows"]
            .as_array()
            .map(|rows| rows.iter().filter_map(|r| r[0].as_i64()).collect())
            .unwrap_or_default()
    };
    wait_for(&cluster.url, &id, "rows while running", |status| {
        status["state"] == "running" && rows_now().len() >= 500
    });
    let status = get(&format!("{}/v1/jobs/{id}", cluster.url));
    assert_eq!(status["streaming"], true, "{status:#}");
    // Each running attempt's watermark, as its worker's heartbeats report
    // it, advances in the job's status.
    let watermark = |status: &serde_json::Value| -> Option<i64> {
        tasks(status)
            .iter()
            .filter(|t| t["vertex"] == "ticks")
            .flat_map(|t| t["attempts"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["watermark_ms"].as_i64())
            .min()
    };
    let first = wait_for(&cluster.url, &id, "a watermark", |s| watermark(s).is_some());
    let first = watermark(&first).unwrap_or_default();
    wait_for(&cluster.url, &id, "the watermark to advance", |s| {
        watermark(s).is_some_and(|w| w > first)
    });
    let cancelled = support::jobs::cancel(&cluster.url, &id);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled:#}");
    // What arrived stays readable, each generated row once.
    let rows = rows_now();
    assert!(rows.len() >= 500, "{}", rows.len());
    let distinct: HashSet<i64> = rows.iter().copied().collect();
    assert_eq!(distinct.len(), rows.len(), "a row arrived twice");
}

#[test]
fn a_skewed_join_partition_is_fetched_in_pieces_by_worker_processes() {
    let cluster = start_cluster();
    let spec = skewed_join("inner", serde_json::json!({"factor": 3, "min_bytes": 1000}));
    let id = submit(&cluster.url, &spec.to_string());
    let status = finished(&cluster.url, &id);
    let divided = status["divided"].as_array().cloned().unwrap_or_default();
    assert_eq!(divided.len(), 1, "{status:#}");
    assert_eq!(divided[0]["vertex"], "joined");
    assert!(divided[0]["pieces"].as_u64() >= Some(2), "{status:#}");
    let result = get(&format!("{}/v1/jobs/{id}/result", cluster.url));
    let mut got = std::collections::BTreeMap::new();
    for row in result["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{result}"))
    {
        let value = |i: usize| row[i].as_i64().unwrap();
        got.insert(value(0), (value(1), value(2), value(3)));
    }
    assert_eq!(got, skewed_inner_join_reference());
}
