//! Operating `faro shuffle-service` as a separate process: its Prometheus
//! endpoint reports what it did, a node restarted on an empty disk serves
//! complete shuffles from the object-store tier named in `--config`, and a
//! full disk refuses pushes with a clear error while the node keeps
//! serving.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use faro_shuffle::protocol::Response;
use faro_shuffle::ClusterSecret;

use crate::support;

use support::*;

/// One HTTP/1.1 GET; returns the status code and body.
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string());
    (status, body)
}

/// The value of the sample `name` (with its labels, as exported).
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_endpoint_reports_what_the_node_did() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let mut node = start_node_with(
        &dir.path().join("data"),
        &pem,
        &secret_file,
        &["--metrics", "127.0.0.1:0"],
    );
    let metrics_line = node.next_line();
    let metrics_addr: SocketAddr = metrics_line
        .rsplit("http://")
        .next()
        .and_then(|url| url.strip_suffix("/metrics"))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no metrics address in {metrics_line:?}"));
    assert_eq!(http_get(metrics_addr, "/healthz"), (200, "ok\n".into()));
    assert_eq!(http_get(metrics_addr, "/nothing-here").0, 404);

    let token = ClusterSecret::new(SECRET).token("job-m");
    let (_endpoint, cluster) =
        cluster_client(&tls, std::slice::from_ref(&node), "job-m", &token).await;
    cluster.register(0, shape(2, 3)).await.unwrap();
    push_and_commit(&cluster, 2, 3, 4).await;
    let mut fetched = 0;
    for partition in 0..3 {
        fetched += cluster
            .fetch_all(0, partition)
            .await
            .unwrap()
            .iter()
            .map(|frame| frame.len())
            .sum::<usize>();
    }
    let pushed: usize = (0..3)
        .flat_map(|partition| pushed_frames(2, 4, partition))
        .map(|frame| frame.len())
        .sum();
    assert_eq!(fetched, pushed);

    // A fetch is timed until the reader has it all, which the node learns
    // just after the reader does.
    let mut scrapes = 0;
    let metrics = loop {
        let (status, metrics) = http_get(metrics_addr, "/metrics");
        assert_eq!(status, 200);
        scrapes += 1;
        if sample(&metrics, "faro_shuffle_fetch_seconds_count") == 3.0 || scrapes == 100 {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pushed = pushed as f64;
    assert_eq!(sample(&metrics, "faro_shuffle_bytes_pushed_total"), pushed);
    assert_eq!(sample(&metrics, "faro_shuffle_bytes_fetched_total"), pushed);
    assert_eq!(sample(&metrics, "faro_shuffle_frames_pushed_total"), 24.0);
    assert!(sample(&metrics, "faro_shuffle_bytes_stored") > pushed);
    assert_eq!(sample(&metrics, "faro_shuffle_partitions"), 3.0);
    assert_eq!(sample(&metrics, "faro_shuffle_shuffles"), 1.0);
    assert_eq!(
        sample(
            &metrics,
            "faro_shuffle_commits_total{outcome=\"committed\"}"
        ),
        2.0
    );
    assert_eq!(sample(&metrics, "faro_shuffle_push_seconds_count"), 6.0);
    assert_eq!(sample(&metrics, "faro_shuffle_fetch_seconds_count"), 3.0);
    assert_eq!(sample(&metrics, "faro_shuffle_commit_seconds_count"), 2.0);
    assert_eq!(sample(&metrics, "faro_shuffle_connections"), 1.0);
    assert!(
        metrics.contains("faro_shuffle_io_path{path=\"io_uring\"} 1\n")
            || metrics.contains("faro_shuffle_io_path{path=\"std\"} 1\n"),
        "the write path in use is exported:\n{metrics}"
    );
    assert!(sample(&metrics, "faro_process_peak_resident_memory_bytes") > 0.0);
    assert!(sample(&metrics, "faro_process_open_fds") > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_on_an_empty_disk_serves_from_the_object_store() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let store = dir.path().join("object-store");
    let config = dir.path().join("shuffle.toml");
    std::fs::write(
        &config,
        format!(
            "job_ttl_secs = 600\n\n[tier]\nscheme = \"fs\"\noptions = {{ root = {:?} }}\n",
            store.display().to_string()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let data_dir = dir.path().join("data");
    let token = ClusterSecret::new(SECRET).token("job-t");

    let mut node = start_node_with(&data_dir, &pem, &secret_file, &["--config", &config]);
    let (_endpoint, shuffle) = client(&tls, &node, "job-t", &token).await;
    let (_cluster_endpoint, cluster) =
        cluster_client(&tls, std::slice::from_ref(&node), "job-t", &token).await;
    cluster.register(0, shape(3, 4)).await.unwrap();
    push_and_commit(&cluster, 3, 4, 5).await;
    wait_for_stats(&shuffle, |stats| stats.tier_uploads == 1).await;

    node.kill9(); // the disk is lost with the node
    std::fs::remove_dir_all(&data_dir).unwrap();

    let node = start_node_with(&data_dir, &pem, &secret_file, &["--config", &config]);
    let (_endpoint, shuffle) = client(&tls, &node, "job-t", &token).await;
    for partition in 0..4 {
        assert_eq!(
            shuffle.fetch_all(0, partition).await.unwrap(),
            pushed_frames(3, 5, partition),
            "partition {partition} from the object store"
        );
    }
    let stats = shuffle.stats().await.unwrap();
    assert_eq!(stats.tier_reads, 3 * 4 * 5, "{stats:?}");
    assert_eq!(stats.shuffles, 0, "nothing was restored to the empty disk");
}

/// Mounts a tmpfs of `size` on `path` for as long as it lives.
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(path: &'a Path, size: &str) -> Option<Self> {
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|status| status.success())
            .then_some(Self(path))
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_pushes_and_the_node_keeps_serving() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let data_dir = dir.path().join("small-disk");
    std::fs::create_dir(&data_dir).unwrap();
    let Some(_disk) = Tmpfs::mount(&data_dir, "2m") else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the full-disk test did not run"
        );
        return;
    };
    let node = start_node(&data_dir, &pem, &secret_file);
    let token = ClusterSecret::new(SECRET).token("job-full");
    let (_endpoint, shuffle) = client(&tls, &node, "job-full", &token).await;
    let (_cluster_endpoint, cluster) =
        cluster_client(&tls, std::slice::from_ref(&node), "job-full", &token).await;
    cluster.register(0, shape(2, 1)).await.unwrap();
    push_and_commit(&cluster, 1, 1, 10).await; // ~90 KB, committed
    let committed = pushed_frames(1, 10, 0);

    // Map 1 pushes far more than the disk holds.
    let mut push = shuffle.push(0, 0, 1, 0, 0).await.unwrap();
    let mut error = None;
    for seq in 0..1000 {
        if let Err(e) = push.send(frame(1, 0, 0, seq)).await {
            error = Some(e);
            break;
        }
    }
    let error = match error {
        Some(error) => error,
        None => push.finish().await.expect_err("a 2 MiB disk fills up"),
    };
    let message = error.to_string();
    assert!(
        message.contains("job job-full shuffle 0: appending to")
            && message.contains("No space left on device"),
        "the producer is told why: {message}"
    );

    // The node is up, nothing of the failed push is visible, and the
    // committed map reads back intact.
    assert_eq!(shuffle.fetch_all(0, 0).await.unwrap(), committed);
    assert_eq!(shuffle.stats().await.unwrap().shuffles, 1);

    // Once space is freed, the same node takes pushes again.
    shuffle.delete_job().await.unwrap();
    cluster.register(1, shape(1, 1)).await.unwrap();
    let mut push = cluster.push(1, 0, 0, 0, 0).await.unwrap();
    push.send(frame(0, 0, 0, 0)).await.unwrap();
    push.finish().await.unwrap();
    assert_eq!(
        cluster.commit(1, 0, 0).await.unwrap(),
        vec![Response::Committed]
    );
    assert_eq!(
        shuffle.fetch_all(1, 0).await.unwrap(),
        vec![frame(0, 0, 0, 0)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_node_cleanly_and_committed_data_stays() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let data_dir = dir.path().join("data");
    let token = ClusterSecret::new(SECRET).token("job-term");
    let mut node = start_node(&data_dir, &pem, &secret_file);
    let (_endpoint, cluster) =
        cluster_client(&tls, std::slice::from_ref(&node), "job-term", &token).await;
    cluster.register(0, shape(2, 2)).await.unwrap();
    push_and_commit(&cluster, 2, 2, 3).await;

    let pid = node.child.id().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "a clean exit, not a crash: {status:?}");

    let node = start_node(&data_dir, &pem, &secret_file);
    let (_endpoint, cluster) =
        cluster_client(&tls, std::slice::from_ref(&node), "job-term", &token).await;
    for partition in 0..2 {
        assert_eq!(
            cluster.fetch_all(0, partition).await.unwrap(),
            pushed_frames(2, 3, partition)
        );
    }
}
