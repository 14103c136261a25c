//! Two hundred jobs submitted at once to one `faro local`, as a busy team
//! would: every job finishes with the right result and no failed attempt
//! (they queue for the embedded worker's slots instead of overloading its
//! shuffle node: run all at once, 143 of 200 first attempts were refused
//! for want of receive buffers), the shuffle node holds nothing once they
//! are done, and the process's memory comes back near where it started.

use crate::support;

use std::time::{Duration, Instant};

use support::local::{attempts, start_local};

const JOBS: usize = 200;
/// One client per job: they all submit at once.
const CLIENTS: usize = 200;
/// Copies of the example text in each job's input (600 KB).
const COPIES: usize = 400;

#[test]
fn two_hundred_concurrent_jobs_finish_cleanly_and_leave_nothing_behind() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo.join("examples/data/dataflow.txt")).unwrap();
    let path = input.path().join("text.txt");
    std::fs::write(&path, text.repeat(COPIES)).unwrap();
    let spec = std::fs::read_to_string(repo.join("examples/wordcount.yaml"))
        .unwrap()
        .replace("examples/data/dataflow.txt", path.to_str().unwrap());
    let local = start_local(&[], repo);

    // One job first: its result is the reference, and the memory after it
    // the baseline (the process has warmed its pools and caches).
    let first = local.submit(&spec);
    assert_eq!(local.ended(&first)["state"], "finished");
    let (_, reference) = local.get(&format!("/v1/jobs/{first}/result"));
    let baseline = local.rss();

    let started = Instant::now();
    let ids: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(|| {
                    (0..JOBS / CLIENTS)
                        .map(|_| local.submit(&spec))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("a client"))
            .collect()
    });
    assert_eq!(ids.len(), JOBS);
    let mut peak = baseline;
    for id in &ids {
        let job = local.ended(id);
        peak = peak.max(local.rss());
        assert_eq!(job["state"], "finished", "{id}: {}", job["error"]);
        assert_eq!(job["reruns"]["task_failures"], 0, "{job}");
        assert_eq!(job["reruns"]["lost_workers"], 0, "{job}");
        assert!(
            attempts(&job).iter().all(|a| a["state"] == "finished"),
            "{id}: every attempt finished the first time: {job}"
        );
        let (_, result) = local.get(&format!("/v1/jobs/{id}/result"));
        assert_eq!(result["rows"], reference["rows"], "{id}");
    }
    let took = started.elapsed();

    // Each job's shuffle data is deleted when it ends.
    let deadline = Instant::now() + Duration::from_secs(30);
    // (`faro local`'s node holds it in its memory tier.)
    while local.metric("faro_shuffle_shuffles") != Some(0.0)
        || local.metric("faro_shuffle_bytes_stored") != Some(0.0)
        || local.metric("faro_shuffle_memory_bytes") != Some(0.0)
    {
        assert!(
            Instant::now() < deadline,
            "shuffle data left: {:?} shuffles, {:?} bytes on disk, {:?} in memory",
            local.metric("faro_shuffle_shuffles"),
            local.metric("faro_shuffle_bytes_stored"),
            local.metric("faro_shuffle_memory_bytes")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Freed memory goes back to the system within seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = local.rss();
    while after >= baseline + (48 << 20) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        after = local.rss();
    }
    eprintln!(
        "{JOBS} jobs in {:.1} s; RSS {} MiB before, {} MiB at the peak, {} MiB after",
        took.as_secs_f64(),
        baseline >> 20,
        peak >> 20,
        after >> 20
    );
    assert!(
        after < baseline + (48 << 20),
        "memory did not come back: {} MiB before, {} MiB after",
        baseline >> 20,
        after >> 20
    );
}
