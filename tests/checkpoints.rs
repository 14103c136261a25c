//! Checkpoints across processes, really killed: a windowed count over the
//! Nexmark source writing files, checkpointed every 300 ms, survives
//! kill -9 of a worker (the one running its tasks) and of the scheduler
//! — also when the newest checkpoint was damaged meanwhile, which is
//! then passed over for the one before — and its committed output is
//! exactly what the same windows give undisturbed (computed here by the
//! same spec in batch mode): nothing lost, nothing twice. The same holds
//! with the checkpoints in an S3 bucket (moto's server) instead of a
//! directory, and after a task has finished: checkpoints go on, record it
//! finished, and a restore ends it at once instead of running it again.

use crate::support;

use std::path::Path;

use support::cluster::{start_cluster, start_cluster_with, Cluster};
use support::jobs::{finished, get, submit, wait_for};
use support::outputs::{assert_same_rows, committed_rows};

/// The streaming job (`mode`: streaming with checkpoints, or batch for
/// the reference), writing CSV parts under `out`.
fn windowed_bids(out: &Path, streaming: bool) -> String {
    let (mode, real_time, extra) = match streaming {
        true => ("streaming", true, r#","checkpoints": {"interval_ms": 300}"#),
        false => ("batch", false, ""),
    };
    format!(
        r#"{{"name": "checkpointed-windows", "mode": "{mode}"{extra},
        "vertices": [
          {{"id": "bids", "operator": "nexmark", "parallelism": 2,
            "params": {{"table": "bid", "events": 40000, "rate": 8000, "real_time": {real_time}}}}},
          {{"id": "counts", "operator": "window", "parallelism": 2,
            "params": {{"time": "date_time", "window": {{"tumbling": {{"size_ms": 500}}}},
                       "group_by": ["auction"],
                       "aggregates": [{{"name": "bids", "function": "count"}},
                                      {{"name": "top", "function": "max", "expr": "price"}}]}}}},
          {{"id": "out", "operator": "files", "parallelism": 2,
            "params": {{"path": "{}", "format": "csv"}}}}
        ],
        "edges": [
          {{"from": "bids", "to": "counts", "partitioning": {{"hash": ["auction"]}}}},
          {{"from": "counts", "to": "out", "partitioning": "forward"}}
        ]}}"#,
        out.display()
    )
}

/// The reference rows: the same windows in batch mode.
fn reference(cluster: &Cluster) -> Vec<String> {
    let out = cluster.setup.dir.path().join("reference");
    let id = submit(&cluster.url, &windowed_bids(&out, false));
    finished(&cluster.url, &id);
    let rows = committed_rows(&out, true);
    assert!(rows.len() > 1_000, "{} reference rows", rows.len());
    rows
}

fn checkpoints(url: &str, id: &str) -> serde_json::Value {
    get(&format!("{url}/v1/jobs/{id}/checkpoints"))
}

fn completed(url: &str, id: &str) -> usize {
    checkpoints(url, id)["completed"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Submits the checkpointed job and waits for two complete checkpoints;
/// returns its id and output directory.
fn checkpointed_run(cluster: &Cluster) -> (String, std::path::PathBuf) {
    let out = cluster.setup.dir.path().join("streamed");
    let id = submit(&cluster.url, &windowed_bids(&out, true));
    wait_for(&cluster.url, &id, "two checkpoints", |_| {
        completed(&cluster.url, &id) >= 2
    });
    (id, out)
}

#[test]
fn a_worker_killed_mid_stream_costs_nothing_and_duplicates_nothing() {
    let mut cluster = start_cluster();
    let expected = reference(&cluster);
    let (id, out) = checkpointed_run(&cluster);
    // The worker to kill: one running the job's tasks now.
    let status = get(&format!("{}/v1/jobs/{id}", cluster.url));
    cluster.kill_worker_running(&status, "");
    let status = finished(&cluster.url, &id);
    assert_same_rows(
        &committed_rows(&out, true),
        &expected,
        &format!("{status:#}"),
    );
    let history = checkpoints(&cluster.url, &id);
    let restores = history["restores"].as_array().cloned().unwrap_or_default();
    assert!(
        !restores.is_empty() && restores.iter().all(|r| r.as_u64() >= Some(2)),
        "restored from a checkpoint, not from the start: {history:#}"
    );
    assert!(
        status["reruns"]["lost_workers"].as_u64() >= Some(1),
        "{status:#}"
    );
    let last = &history["completed"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["bytes"].as_u64() > Some(0) && last["tasks"] == 4,
        "{history:#}"
    );
}

#[test]
fn checkpoints_in_an_s3_bucket_restore_a_killed_worker_exactly() {
    let s3 = support::s3::S3Server::start();
    s3.create_bucket("faro-checkpoints");
    let store = format!(
        "s3://faro-checkpoints/chk?endpoint={}&region=us-east-1&access_key_id=test&secret_access_key=test",
        s3.endpoint
    );
    let mut cluster = start_cluster_with(&["--checkpoint-dir".into(), store]);
    let expected = reference(&cluster);
    let (id, out) = checkpointed_run(&cluster);
    let stored = s3.keys("faro-checkpoints");
    assert!(
        stored
            .iter()
            .any(|k| k.starts_with(&format!("chk/{id}/chk-")) && k.ends_with(".state")),
        "task state in the bucket: {stored:?}"
    );
    // A savepoint is copied out of the bucket into a directory.
    let savepoint: serde_json::Value = support::jobs::agent()
        .post(&format!("{}/v1/jobs/{id}/savepoints", cluster.url))
        .header("authorization", &support::jobs::bearer())
        .send_json(serde_json::json!({"stop": false}))
        .and_then(|mut r| r.body_mut().read_json())
        .unwrap();
    let copied = Path::new(savepoint["path"].as_str().unwrap());
    assert!(copied.join("_metadata.json").is_file(), "{savepoint:#}");
    let states = std::fs::read_dir(copied)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".state"))
        })
        .count();
    assert_eq!(states, 4, "every task's state: {savepoint:#}");
    let status = get(&format!("{}/v1/jobs/{id}", cluster.url));
    cluster.kill_worker_running(&status, "");
    finishes_restored_exactly(&cluster, &id, &out, &expected);
}

/// Waits for job `id` to finish; its committed output is `expected`
/// exactly, and it was restored from a checkpoint.
fn finishes_restored_exactly(cluster: &Cluster, id: &str, out: &Path, expected: &[String]) {
    let status = finished(&cluster.url, id);
    assert_same_rows(&committed_rows(out, true), expected, &format!("{status:#}"));
    let history = checkpoints(&cluster.url, id);
    assert!(
        history["restores"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "restored from a checkpoint: {history:#}"
    );
}

#[test]
fn a_restarted_scheduler_resumes_from_the_latest_checkpoint() {
    let mut cluster = start_cluster();
    let expected = reference(&cluster);
    let (id, out) = checkpointed_run(&cluster);
    cluster.scheduler.faro.kill9();
    cluster.restart_scheduler();
    finishes_restored_exactly(&cluster, &id, &out, &expected);
}

#[test]
fn a_damaged_newest_checkpoint_is_passed_over_for_the_one_before() {
    let mut cluster = start_cluster();
    let expected = reference(&cluster);
    let (id, out) = checkpointed_run(&cluster);
    let newest = checkpoints(&cluster.url, &id)["completed"]
        .as_array()
        .and_then(|c| c.last()?["id"].as_u64())
        .unwrap();
    cluster.scheduler.faro.kill9();
    // With the scheduler down no checkpoint starts. In each from the
    // newest it reported on (one may have completed since), one byte of
    // one file flips and another file goes.
    let job_dir = cluster.scheduler_dir.join("checkpoints").join(&id);
    for checkpoint in on_disk(&job_dir).into_iter().filter(|&c| c >= newest) {
        let dir = job_dir.join(format!("chk-{checkpoint:010}"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        if let Some(first) = files.first() {
            let mut bytes = std::fs::read(first).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x40;
            std::fs::write(first, bytes).unwrap();
        }
        if let Some(second) = files.get(1) {
            std::fs::remove_file(second).unwrap();
        }
    }
    cluster.restart_scheduler();
    let status = finished(&cluster.url, &id);
    assert_same_rows(
        &committed_rows(&out, true),
        &expected,
        &format!("{status:#}"),
    );
    let history = checkpoints(&cluster.url, &id);
    let unusable: Vec<u64> = history["unusable"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_u64())
        .collect();
    assert!(
        unusable.contains(&newest) && unusable.iter().all(|&c| c >= newest),
        "{history:#}"
    );
    let restores: Vec<u64> = history["restores"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_u64())
        .collect();
    assert!(
        restores.contains(&newest) && restores.last().is_some_and(|&r| r < newest),
        "tried the newest, then restored an older one: {history:#}"
    );
    // The attempt that could not restore says why.
    let errors: Vec<String> = status["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["attempts"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["error"].as_str().map(str::to_string))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&format!("checkpoint {newest}"))),
        "{errors:#?}"
    );
}

/// A streaming SQL join of paced bids with a small CSV side table (read
/// in milliseconds, its task then finished) into CSV files under `out`;
/// in batch mode for the reference.
fn bids_with_side_table(dir: &Path, out: &Path, streaming: bool) -> String {
    let side = dir.join("side.csv");
    let rows: String = (0..100).map(|k| format!("{k},label-{k}\n")).collect();
    std::fs::write(&side, format!("k,label\n{rows}")).unwrap();
    let (mode, checkpoints, real_time) = match streaming {
        true => (
            "streaming",
            "SET 'execution.checkpointing.interval' = '300 ms';",
            "true",
        ),
        false => ("batch", "", "false"),
    };
    format!(
        "SET 'execution.runtime-mode' = '{mode}'; {checkpoints}
         CREATE TABLE side (k BIGINT, label STRING)
           WITH ('connector' = 'files', 'path' = '{}', 'format' = 'csv');
         CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3))
           WITH ('connector' = 'nexmark', 'events' = '40000', 'rate' = '8000',
                 'real-time' = '{real_time}');
         CREATE TABLE out (auction BIGINT, bidder BIGINT, price BIGINT, label STRING)
           WITH ('connector' = 'files', 'path' = '{}', 'format' = 'csv');
         INSERT INTO out SELECT b.auction, b.bidder, b.price, s.label
         FROM bid AS b JOIN side AS s ON MOD(b.auction, 100) = s.k;",
        side.display(),
        out.display()
    )
}

/// Runs a SQL script of one `INSERT` on the cluster; returns its job id.
fn submit_sql(url: &str, script: &str) -> String {
    let answer: serde_json::Value = support::jobs::agent()
        .post(&format!("{url}/v1/sql"))
        .header("authorization", &support::jobs::bearer())
        .send_json(serde_json::json!({ "sql": script }))
        .and_then(|mut r| r.body_mut().read_json())
        .unwrap_or_else(|e| panic!("{url}/v1/sql: {e}"));
    let job = answer["statements"]
        .as_array()
        .and_then(|s| s.iter().find_map(|s| s["job"].as_str()));
    job.unwrap_or_else(|| panic!("no job in {answer:#}"))
        .to_string()
}

/// The tasks a complete checkpoint records as finished.
fn finished_in(checkpoint: &serde_json::Value) -> usize {
    checkpoint["finished"].as_array().map_or(0, Vec::len)
}

#[test]
fn checkpoints_go_on_after_a_task_finishes_and_a_restore_does_not_run_it_again() {
    let mut cluster = start_cluster();
    let dir = cluster.setup.dir.path().to_path_buf();
    let reference_out = dir.join("reference");
    let id = submit_sql(
        &cluster.url,
        &bids_with_side_table(&dir, &reference_out, false),
    );
    finished(&cluster.url, &id);
    let expected = committed_rows(&reference_out, true);
    assert!(expected.len() > 10_000, "{} reference rows", expected.len());

    let out = dir.join("streamed");
    let id = submit_sql(&cluster.url, &bids_with_side_table(&dir, &out, true));
    // The side table's task ends at once; two checkpoints after it.
    wait_for(
        &cluster.url,
        &id,
        "two checkpoints after a task finished",
        |_| {
            let history = checkpoints(&cluster.url, &id);
            let completed = history["completed"].as_array().cloned().unwrap_or_default();
            completed.iter().filter(|c| finished_in(c) > 0).count() >= 2
        },
    );
    let status = get(&format!("{}/v1/jobs/{id}", cluster.url));
    cluster.kill_worker_running(&status, "");
    let status = finished(&cluster.url, &id);
    // Read again, the side table would join every bid twice.
    assert_same_rows(
        &committed_rows(&out, true),
        &expected,
        &format!("{status:#}"),
    );
    let history = checkpoints(&cluster.url, &id);
    let restored = history["restores"]
        .as_array()
        .and_then(|r| r.last()?.as_u64());
    let from = history["completed"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| restored.is_some_and(|r| c["id"].as_u64() == Some(r)));
    assert!(
        from.is_some_and(|c| finished_in(c) > 0),
        "restored from a checkpoint taken after the side table's task finished: {history:#}"
    );
    // Its finished task was not asked for state it never saved.
    assert_eq!(history["unusable"], serde_json::json!([]), "{history:#}");
}

/// The checkpoints (`chk-N`) under a job's checkpoint directory.
fn on_disk(job_dir: &Path) -> Vec<u64> {
    std::fs::read_dir(job_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", job_dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_prefix("chk-")?.parse().ok()
        })
        .collect()
}
