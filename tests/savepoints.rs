//! Savepoints across processes: a windowed count over the Nexmark source
//! writing files is stopped with a savepoint (`faro savepoint --stop`) at
//! parallelism 2 (source, window and sink), resumed from it at 3 (`faro
//! submit --from-savepoint`), stopped again and resumed at 1 to the end
//! of its stream. The committed output equals the same windows computed
//! undisturbed in batch mode: the new source splits generated exactly the
//! events no old one had, each key's window state followed its key group
//! to the subtask that now gets its rows, and no sink made anything after
//! a savepoint visible.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::cluster::{start_cluster, Cluster};
use support::jobs::{finished, get, submit, wait_for};
use support::outputs::{assert_same_rows, committed_rows};

/// The job, every vertex at `parallelism` (streaming with checkpoints,
/// or batch for the reference), writing CSV under `out`.
fn windowed_bids(out: &Path, streaming: bool, parallelism: u32) -> String {
    let (mode, real_time, extra) = match streaming {
        true => ("streaming", true, r#","checkpoints": {"interval_ms": 200}"#),
        false => ("batch", false, ""),
    };
    format!(
        r#"{{"name": "rescaled-windows", "mode": "{mode}"{extra},
        "vertices": [
          {{"id": "bids", "operator": "nexmark", "parallelism": {parallelism},
            "params": {{"table": "bid", "events": 60000, "rate": 10000, "real_time": {real_time}}}}},
          {{"id": "counts", "operator": "window", "parallelism": {parallelism},
            "params": {{"time": "date_time", "window": {{"tumbling": {{"size_ms": 500}}}},
                       "group_by": ["auction"],
                       "aggregates": [{{"name": "bids", "function": "count"}},
                                      {{"name": "top", "function": "max", "expr": "price"}}]}}}},
          {{"id": "out", "operator": "files", "parallelism": {parallelism},
            "params": {{"path": "{}", "format": "csv"}}}}
        ],
        "edges": [
          {{"from": "bids", "to": "counts", "partitioning": {{"hash": ["auction"]}}}},
          {{"from": "counts", "to": "out", "partitioning": "forward"}}
        ]}}"#,
        out.display()
    )
}

/// `faro ARGS` against the cluster's scheduler; its standard output.
fn faro(cluster: &Cluster, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(args)
        .args(["--scheduler", &cluster.url])
        .arg("--token-file")
        .arg(&cluster.setup.token_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "faro {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Waits for two more complete checkpoints of job `id`, then stops it
/// with a savepoint through the CLI; returns the savepoint's directory.
fn stop_with_savepoint(cluster: &Cluster, id: &str) -> String {
    let completed = || {
        get(&format!("{}/v1/jobs/{id}/checkpoints", cluster.url))["completed"]
            .as_array()
            .map_or(0, Vec::len)
    };
    wait_for(&cluster.url, id, "two checkpoints", |_| completed() >= 2);
    let path = faro(cluster, &["savepoint", id, "--stop"]);
    assert!(Path::new(&path).join("_metadata.json").is_file(), "{path}");
    let status = finished(&cluster.url, id);
    let history = get(&format!("{}/v1/jobs/{id}/checkpoints", cluster.url));
    assert_eq!(history["savepoints"][0]["path"], path, "{history:#}");
    assert_eq!(history["savepoints"][0]["stopped"], true, "{status:#}");
    path
}

#[test]
fn a_job_stopped_with_a_savepoint_resumes_at_other_parallelisms_exactly() {
    let cluster = start_cluster();
    let dir = cluster.setup.dir.path();
    let reference = dir.join("reference");
    let id = submit(&cluster.url, &windowed_bids(&reference, false, 2));
    finished(&cluster.url, &id);
    let expected = committed_rows(&reference, true);
    assert!(expected.len() > 1_000, "{} reference rows", expected.len());

    let out = dir.join("streamed");
    let spec = |parallelism| {
        let path = dir.join(format!("spec-{parallelism}.json"));
        std::fs::write(&path, windowed_bids(&out, true, parallelism)).unwrap();
        path.display().to_string()
    };
    let first = faro(&cluster, &["submit", &spec(2)]);
    let savepoint = stop_with_savepoint(&cluster, &first);
    // Stopped: what it committed is some of the output, each row once.
    let so_far = committed_rows(&out, false);
    assert!(so_far.len() < expected.len(), "{} rows", so_far.len());
    for row in &so_far {
        assert!(expected.binary_search(row).is_ok(), "{row} is not expected");
    }

    let wider = faro(
        &cluster,
        &["submit", &spec(3), "--from-savepoint", &savepoint],
    );
    let savepoint = stop_with_savepoint(&cluster, &wider);
    let narrower = faro(
        &cluster,
        &["submit", &spec(1), "--from-savepoint", &savepoint],
    );
    let status = finished(&cluster.url, &narrower);
    assert_same_rows(
        &committed_rows(&out, true),
        &expected,
        &format!("{status:#}"),
    );
}

#[test]
fn a_savepoint_that_does_not_fit_the_job_is_refused_with_the_reason() {
    let cluster = start_cluster();
    let dir = cluster.setup.dir.path();
    let out = dir.join("streamed");
    let spec = dir.join("spec.json");
    std::fs::write(&spec, windowed_bids(&out, true, 2)).unwrap();
    let spec = spec.display().to_string();
    let id = faro(&cluster, &["submit", &spec]);
    let savepoint = stop_with_savepoint(&cluster, &id);
    // A job without the window's vertex would drop its state.
    let other = windowed_bids(&out, true, 2).replace("\"counts\"", "\"tallies\"");
    let other_path = dir.join("other.json");
    std::fs::write(&other_path, other).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(["submit", &other_path.display().to_string()])
        .args(["--from-savepoint", &savepoint, "--scheduler", &cluster.url])
        .arg("--token-file")
        .arg(&cluster.setup.token_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("vertex \"counts\"") && stderr.contains("does not have"),
        "{stderr}"
    );
    // A missing savepoint is named.
    let output = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args([
            "submit",
            &spec,
            "--from-savepoint",
            "/nonexistent/savepoint",
        ])
        .args(["--scheduler", &cluster.url])
        .arg("--token-file")
        .arg(&cluster.setup.token_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("/nonexistent/savepoint/_metadata.json"),
        "{stderr}"
    );
}
