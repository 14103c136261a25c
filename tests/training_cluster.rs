//! Training jobs on a cluster of processes, really killed: kill -9 of the
//! scheduler mid-training, then a restart, goes on from the last finished
//! epoch (each epoch number recorded once) without reading the source
//! again; kill -9 of a worker mid-training — past the number of
//! failures allowed, in epochs — re-runs only training tasks and ends
//! with the model an undisturbed run trains.

use crate::support;

use support::cluster::{start_cluster, worker_running};
use support::jobs::{finished, submit, wait_for};

/// A logistic regression over 100,000 generated rows that stops only
/// after `epochs` epochs (its tolerance is 0), saving to `model`.
fn training(model: &std::path::Path, epochs: u32) -> String {
    format!(
        r#"{{"name": "trained", "vertices": [
          {{"id": "rows", "operator": "generate", "parallelism": 2, "params": {{"rows": 100000,
             "columns": [{{"name": "a", "expr": "(hash(i, 'a') % 6001 - 3000) / 1000.0"}},
                         {{"name": "b", "expr": "(hash(i, 'b') % 6001 - 3000) / 1000.0"}},
                         {{"name": "label", "expr": "CASE WHEN hash(i, 'a') % 6001 - hash(i, 'b') % 6001 + hash(i, 'n') % 3001 > 1500 THEN 1 ELSE 0 END"}}]}}}},
          {{"id": "train", "operator": "train", "parallelism": 2, "params": {{
             "algorithm": {{"logistic": {{"l2": 0.001, "tolerance": 0}}}},
             "features": ["a", "b"], "label": "label", "max_epochs": {epochs},
             "model_file": "{}"}}}}],
         "edges": [{{"from": "rows", "to": "train", "partitioning": "rebalance", "exchange": "blocking"}}]}}"#,
        model.display()
    )
}

fn epochs(status: &serde_json::Value) -> Vec<u64> {
    status["epochs"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["epoch"].as_u64()).collect())
        .unwrap_or_default()
}

/// Attempts of every subtask of the vertex `vertex`.
fn attempts(status: &serde_json::Value, vertex: &str) -> Vec<usize> {
    status["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["vertex"].as_str() == Some(vertex))
        .map(|t| t["attempts"].as_array().map_or(0, Vec::len))
        .collect()
}

#[test]
fn a_restarted_scheduler_goes_on_from_the_last_finished_epoch() {
    let mut cluster = start_cluster();
    let model = cluster.setup.dir.path().join("restarted.model.json");
    let id = submit(&cluster.url, &training(&model, 40));
    wait_for(&cluster.url, &id, "five epochs", |s| epochs(s).len() >= 5);
    cluster.scheduler.faro.kill9();
    cluster.restart_scheduler();
    let status = finished(&cluster.url, &id);
    // Every epoch once, in order: it went on, not over.
    assert_eq!(epochs(&status), (0..40).collect::<Vec<u64>>(), "{status:#}");
    assert_eq!(
        attempts(&status, "rows"),
        [1, 1],
        "the source ran once: {status:#}"
    );
    assert!(model.exists());
}

#[test]
fn a_killed_worker_reruns_training_tasks_and_the_model_is_the_same() {
    let mut cluster = start_cluster();
    let calm = cluster.setup.dir.path().join("calm.model.json");
    let id = submit(&cluster.url, &training(&calm, 150));
    finished(&cluster.url, &id);

    let disturbed = cluster.setup.dir.path().join("disturbed.model.json");
    let id = submit(&cluster.url, &training(&disturbed, 150));
    // Past the attempts a failure may take: epochs are not failures. Each
    // epoch is a new attempt, so wait for a moment one is running.
    let status = wait_for(&cluster.url, &id, "eight epochs, one running", |s| {
        epochs(s).len() >= 8 && worker_running(s, "train").is_some()
    });
    cluster.kill_worker_running(&status, "train");
    let status = finished(&cluster.url, &id);
    assert!(
        status["reruns"]["lost_workers"].as_u64() >= Some(1),
        "killed mid-training: {status:#}"
    );
    assert_eq!(
        epochs(&status),
        (0..150).collect::<Vec<u64>>(),
        "{status:#}"
    );
    // The cached rows outlived the worker: the source never ran again.
    assert_eq!(attempts(&status, "rows"), [1, 1], "{status:#}");
    let read = |path: &std::path::Path| -> Vec<f64> {
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        file["coefficients"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect()
    };
    // The same model up to rounding: a re-run subtask may take its
    // partition's map outputs in another interleaving, so its partial
    // sums are added in another order (25 epochs later, a few parts in
    // 10^10). A lost or doubled batch of rows would move them by far more.
    let (a, b) = (read(&calm), read(&disturbed));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-8 * x.abs().max(1.0), "{a:?} vs {b:?}");
    }
}
