//! The scheduler's failure detector on real processes: a worker that hangs
//! (SIGSTOP: its process and connection stay, it just stops answering) is
//! suspected from its heartbeats' silence, probed, and lost — long before
//! the heartbeat ceiling and the transport's idle timeout — its work runs
//! again elsewhere, and once it resumes it registers again.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::cluster::{start_cluster_with, worker_running};
use support::jobs::{agent, bearer, distinct_per_key_paced, finished, get, submit, wait_for};

/// The value of the scheduler's series `name` (with its labels, as
/// printed), or 0 if it is absent.
fn series(url: &str, name: &str) -> f64 {
    let text = agent()
        .get(&format!("{url}/metrics"))
        .header("authorization", &bearer())
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
        .unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill {signal} {pid}");
}

fn workers_alive(url: &str) -> usize {
    get(&format!("{url}/v1/workers"))
        .as_array()
        .map_or(0, |w| w.len())
}

#[test]
fn a_hung_worker_is_probed_lost_and_its_work_reruns_elsewhere() {
    // A ceiling far above the test's length: only the detector and its
    // probe can lose the hung worker in time.
    let mut cluster = start_cluster_with(&["--heartbeat-timeout-ms".into(), "600000".into()]);
    let rows = 2_000_000;
    let id = submit(&cluster.url, &distinct_per_key_paced(rows, Some(1_000_000)));
    let status = wait_for(&cluster.url, &id, "the map stage", |s| {
        worker_running(s, "rows").is_some()
    });
    let victim = worker_running(&status, "rows").expect("a map attempt runs");
    let hung = cluster
        .workers
        .iter()
        .find(|w| w.line.contains(&victim))
        .expect("the victim is one of the cluster's workers");
    let pid = hung.faro.child.id();
    signal(pid, "-STOP");

    let status = finished(&cluster.url, &id);
    assert!(
        status["reruns"]["lost_workers"].as_u64() >= Some(1),
        "{status:#}"
    );
    let result = get(&format!("{}/v1/jobs/{id}/result", cluster.url));
    let counted: i64 = result["rows"]
        .as_array()
        .expect("result rows")
        .iter()
        .map(|row| row[1].as_i64().expect("a count"))
        .sum();
    assert_eq!(counted, rows as i64, "every row counted once");
    // Lost by its heartbeats' silence and an unanswered probe, not by a
    // closed connection or the ceiling.
    let url = &cluster.url;
    assert_eq!(
        series(
            url,
            r#"faro_scheduler_worker_suspicions_total{outcome="confirmed"}"#
        ),
        1.0
    );
    assert_eq!(
        series(
            url,
            r#"faro_scheduler_workers_lost_total{signal="heartbeat"}"#
        ),
        1.0
    );
    assert_eq!(
        series(
            url,
            r#"faro_scheduler_workers_lost_total{signal="connection"}"#
        ),
        0.0
    );
    assert_eq!(
        series(url, "faro_scheduler_worker_loss_detection_seconds_count"),
        1.0
    );
    assert_eq!(workers_alive(url), 1);

    // Resumed, it finds out it was lost and registers again.
    signal(pid, "-CONT");
    let deadline = Instant::now() + Duration::from_secs(60);
    while workers_alive(url) < 2 {
        assert!(
            Instant::now() < deadline,
            "the resumed worker did not register again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster.workers.clear();
}
