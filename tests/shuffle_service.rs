//! `faro shuffle-service` as a separate process: pushes, commits and
//! fetches over QUIC; killed with SIGKILL mid-push and restarted, it serves
//! every committed partition intact and nothing uncommitted — whether its
//! commits were written (the default) or synced; a wrong token is
//! refused. A node under `--durability memory` serves what it held and
//! what it wrote past its budget, and once SIGKILLed claims nothing. A
//! fetch whose node is stopped (SIGSTOP) mid-partition resumes
//! on the other replica, each frame once, and refuses to when the
//! replica committed other frames. A node lists which maps committed,
//! and refuses a fetch by map range that names one that has not: what a
//! hybrid edge's consumer reads as maps commit. A peer gone silent
//! mid-handshake holds up no other client.

use std::time::Duration;

use bytes::Bytes;
use faro_shuffle::protocol::Response;
use faro_shuffle::{ClusterSecret, ShuffleClient};
use faro_transport::Endpoint;

use crate::support;

use support::*;

const PARTITIONS: u32 = 3;

async fn push_map(client: &ShuffleClient, map: u32, attempt: u32, frames: u32) {
    for partition in 0..PARTITIONS {
        let mut tx = client.push(0, partition, map, attempt, 0).await.unwrap();
        for seq in 0..frames {
            tx.send(frame(map, attempt, partition, seq)).await.unwrap();
        }
        tx.finish().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_partitions_survive_sigkill_and_uncommitted_data_does_not() {
    survives_sigkill(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_commits_survive_sigkill_as_written_ones_do() {
    survives_sigkill(&["--durability", "synced"]).await;
}

/// Pushes and commits three maps to a node started with `extra` flags,
/// kills it with SIGKILL while a fourth pushes, and restarts it: what was
/// committed is served intact, the rest never.
async fn survives_sigkill(extra: &[&str]) {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let data_dir = dir.path().join("data");
    let token = ClusterSecret::new(SECRET).token("job-7");

    let node = start_node_with(&data_dir, &pem, &secret_file, extra);
    let (_endpoint, shuffle) = client(&tls, &node, "job-7", &token).await;
    shuffle.register(0, shape(4, PARTITIONS)).await.unwrap();
    for map in 0..3 {
        push_map(&shuffle, map, 0, 20).await;
        assert_eq!(
            shuffle.commit(0, map, 0).await.unwrap(),
            Response::Committed
        );
    }
    let expected: Vec<Vec<Bytes>> = (0..PARTITIONS)
        .map(|p| {
            (0..3)
                .flat_map(|map| (0..20).map(move |seq| frame(map, 0, p, seq)))
                .collect()
        })
        .collect();
    for partition in 0..PARTITIONS {
        assert_eq!(
            shuffle.fetch_all(0, partition).await.unwrap(),
            expected[partition as usize]
        );
    }

    // Map 3 is pushing when the node is killed.
    let pusher = {
        let shuffle = shuffle.clone();
        tokio::spawn(async move {
            let mut tx = shuffle.push(0, 1, 3, 0, 0).await?;
            for seq in 0.. {
                tx.send(frame(3, 0, 1, seq)).await?;
            }
            Ok::<(), faro_shuffle::ClientError>(())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut node = node;
    node.kill9();
    drop(node);
    assert!(
        pusher.await.unwrap().is_err(),
        "the producer learns the node died"
    );

    let node = start_node_with(&data_dir, &pem, &secret_file, extra);
    let (_endpoint, shuffle) = client(&tls, &node, "job-7", &token).await;
    for partition in 0..PARTITIONS {
        let frames = shuffle.fetch_all(0, partition).await.unwrap();
        assert!(
            frames == expected[partition as usize],
            "partition {partition} differs after the restart"
        );
    }
    // The re-run of map 3 commits on the restarted node and becomes visible.
    push_map(&shuffle, 3, 1, 2).await;
    assert_eq!(shuffle.commit(0, 3, 1).await.unwrap(), Response::Committed);
    assert_eq!(
        shuffle.commit(0, 3, 0).await.unwrap(),
        Response::Lost { winner: 1 }
    );
    let frames = shuffle.fetch_all(0, 1).await.unwrap();
    assert_eq!(frames.len(), 60 + 2);
    assert_eq!(frames[60], frame(3, 1, 1, 0));

    // A wrong token is refused for every operation, with a message.
    let (_endpoint, impostor) = client(
        &tls,
        &node,
        "job-7",
        &ClusterSecret::new(b"guess").token("job-7"),
    )
    .await;
    let err = impostor.fetch_all(0, 0).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by peer: wrong token for job job-7"
    );
    let mut tx = impostor.push(0, 0, 9, 0, 0).await.unwrap();
    let pushed = async {
        tx.send(frame(9, 0, 0, 0)).await?;
        tx.finish().await
    };
    let err = pushed.await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by peer: wrong token for job job-7"
    );
    let err = impostor.commit(0, 9, 0).await.unwrap_err();
    assert!(err.to_string().contains("wrong token"), "{err}");

    shuffle.delete_job().await.unwrap();
    assert!(
        !data_dir.join("job-7").exists(),
        "deleting the job removes its files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_that_vanish_mid_push_leave_nothing_visible_and_nothing_leaked() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let token = ClusterSecret::new(SECRET).token("job-8");
    let node = start_node(&dir.path().join("data"), &pem, &secret_file);
    let (_monitor_endpoint, monitor) = client(&tls, &node, "job-8", &token).await;
    monitor.register(0, shape(2, PARTITIONS)).await.unwrap();

    let mut fds_after_round = Vec::new();
    let mut frames_before = 0;
    for round in 0..3u32 {
        let (endpoint, producer) = client(&tls, &node, "job-8", &token).await;
        let mut channels = Vec::new();
        for partition in 0..PARTITIONS {
            for map in 0..2 {
                let mut tx = producer.push(0, partition, map, round, 0).await.unwrap();
                for seq in 0..5 {
                    tx.send(frame(map, round, partition, seq)).await.unwrap();
                }
                tx.flush().await.unwrap();
                channels.push(tx);
            }
        }
        // The producer vanishes mid-stream: no finish, no commit.
        endpoint.close();
        drop(channels);
        // Only the monitor's own stats channel stays active; no receive
        // buffer stays held.
        let stats = wait_for_stats(&monitor, |s| {
            s.active_channels == 1 && s.receive_buffers_in_use == 0
        })
        .await;
        // Frames still in the producer's QUIC buffers die with it; what
        // arrived was stored (and stays invisible, below).
        assert!(
            stats.frames_pushed > frames_before,
            "round {round} stored nothing: {stats:?}"
        );
        frames_before = stats.frames_pushed;
        fds_after_round.push(stats.open_fds);
    }
    assert_eq!(
        fds_after_round[1], fds_after_round[0],
        "file handles leak: {fds_after_round:?}"
    );
    assert_eq!(
        fds_after_round[2], fds_after_round[0],
        "file handles leak: {fds_after_round:?}"
    );

    for partition in 0..PARTITIONS {
        assert!(
            monitor.fetch_all(0, partition).await.unwrap().is_empty(),
            "uncommitted frames of partition {partition} are visible"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_are_read_by_range_only_once_committed() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let token = ClusterSecret::new(SECRET).token("job-h");
    let node = start_node(&dir.path().join("data"), &pem, &secret_file);
    let (_endpoint, client) = client(&tls, &node, "job-h", &token).await;
    client.register(0, shape(3, PARTITIONS)).await.unwrap();
    for map in [0, 2] {
        push_map(&client, map, 0, 2).await;
    }
    push_map(&client, 1, 0, 2).await;
    for map in [0, 2] {
        client.commit(0, map, 0).await.unwrap();
    }
    let listed = client.list().await.unwrap();
    assert_eq!(listed[0].committed, [0, 2], "{listed:?}");
    // The committed map by itself: its frames.
    let rx = client.fetch_maps(0, 1, 2..3).await.unwrap();
    let frames = faro_shuffle::client::collect(rx).await.unwrap();
    assert_eq!(frames, [frame(2, 0, 1, 0), frame(2, 0, 1, 1)]);
    // A range with map 1, pushed but not committed: refused, naming it,
    // not served as if map 1 had written nothing.
    let rx = client.fetch_maps(0, 1, 0..2).await.unwrap();
    let error = faro_shuffle::client::collect(rx).await.unwrap_err();
    assert!(
        error.to_string().contains("map 1 has no committed attempt"),
        "{error}"
    );
    client.commit(0, 1, 0).await.unwrap();
    let rx = client.fetch_maps(0, 1, 0..3).await.unwrap();
    let frames = faro_shuffle::client::collect(rx).await.unwrap();
    assert_eq!(frames.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_spread_over_two_nodes_and_read_back_from_their_owners() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let token = ClusterSecret::new(SECRET).token("job-9");
    let nodes = [
        start_node(&dir.path().join("a"), &pem, &secret_file),
        start_node(&dir.path().join("b"), &pem, &secret_file),
    ];
    let (_endpoint, cluster) = cluster_client(&tls, &nodes, "job-9", &token).await;

    const REDUCES: u32 = 8;
    cluster.register(0, shape(3, REDUCES)).await.unwrap();
    for answers in push_and_commit(&cluster, 3, REDUCES, 4).await {
        assert!(
            answers.iter().all(|a| *a == Response::Committed),
            "{answers:?}"
        );
    }
    for partition in 0..REDUCES {
        assert_eq!(
            cluster.fetch_all(0, partition).await.unwrap(),
            pushed_frames(3, 4, partition),
            "partition {partition}"
        );
    }
    let owners: std::collections::HashSet<&str> =
        (0..REDUCES).map(|p| cluster.owner_name(0, p)).collect();
    assert_eq!(owners.len(), 2, "8 partitions use both nodes");
    let stats = cluster.stats().await.unwrap();
    assert!(stats.iter().all(|s| s.stored_bytes > 0), "{stats:?}");
    let stored: u64 = stats.iter().map(|s| s.frames_pushed).sum();
    assert_eq!(
        stored,
        3 * u64::from(REDUCES) * 4,
        "each frame went to exactly one node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_replicas_a_killed_node_costs_nothing() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let token = ClusterSecret::new(SECRET).token("job-10");
    let mut nodes = vec![
        start_node(&dir.path().join("a"), &pem, &secret_file),
        start_node(&dir.path().join("b"), &pem, &secret_file),
    ];
    let (_endpoint, cluster) = cluster_client(&tls, &nodes, "job-10", &token).await;
    let cluster = cluster.with_replicas(2);

    const REDUCES: u32 = 6;
    cluster.register(0, shape(2, REDUCES)).await.unwrap();
    push_and_commit(&cluster, 2, REDUCES, 3).await;
    let stats = cluster.stats().await.unwrap();
    assert!(
        stats
            .iter()
            .all(|s| s.frames_pushed == 2 * u64::from(REDUCES) * 3),
        "every frame on both nodes: {stats:?}"
    );

    let mut killed = nodes.remove(0);
    killed.kill9(); // shuffle-a
    for partition in 0..REDUCES {
        assert_eq!(
            cluster.fetch_all(0, partition).await.unwrap(),
            pushed_frames(2, 3, partition),
            "partition {partition} from the surviving replica"
        );
    }

    // A client connecting now (a re-run attempt does) finds shuffle-a down
    // and works on what is up: streamed fetches come from the replica, no
    // partition counts as lost, and new output lands on shuffle-b alone.
    let endpoint = faro_transport::Endpoint::bind(
        "127.0.0.1:0".parse().unwrap(),
        &tls,
        faro_transport::TransportOptions::loopback(),
    )
    .unwrap();
    let addresses = [
        ("shuffle-a".to_string(), killed.addr),
        ("shuffle-b".to_string(), nodes[0].addr),
    ];
    let degraded =
        faro_shuffle::ShuffleCluster::connect(&endpoint, "job-10", &token, &addresses, 2)
            .await
            .unwrap();
    assert_eq!(degraded.down_nodes(), ["shuffle-a"]);
    for partition in 0..REDUCES {
        let channel = degraded.fetch(0, partition).await.unwrap();
        assert_eq!(
            faro_shuffle::client::collect(channel).await.unwrap(),
            pushed_frames(2, 3, partition),
            "partition {partition} streamed from the surviving replica"
        );
    }
    assert_eq!(
        degraded.lost_partitions(0, shape(2, REDUCES)).await,
        Vec::<u32>::new()
    );
    degraded.register(1, shape(1, REDUCES)).await.unwrap();
    for partition in 0..REDUCES {
        let mut push = degraded.push(1, partition, 0, 0, 0).await.unwrap();
        assert_eq!(push.replicas(), 1, "only shuffle-b is up");
        push.send(frame(0, 0, partition, 0)).await.unwrap();
        push.finish().await.unwrap();
    }
    degraded.commit(1, 0, 0).await.unwrap();
    for partition in 0..REDUCES {
        assert_eq!(
            degraded.fetch_all(1, partition).await.unwrap(),
            vec![frame(0, 0, partition, 0)]
        );
    }
    assert_eq!(
        degraded.lost_partitions(1, shape(1, REDUCES)).await,
        Vec::<u32>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_whose_owner_stops_heartbeating_expire_and_lose_their_files() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let data_dir = dir.path().join("data");
    let node = start_node_with(&data_dir, &pem, &secret_file, &["--job-ttl-secs", "1"]);
    let secret = ClusterSecret::new(SECRET);
    let (_e1, silent) = client(&tls, &node, "job-silent", &secret.token("job-silent")).await;
    let (_e2, alive) = client(&tls, &node, "job-alive", &secret.token("job-alive")).await;
    silent.register(0, shape(1, 1)).await.unwrap();
    alive.register(0, shape(1, 1)).await.unwrap();
    assert!(data_dir.join("job-silent").exists() && data_dir.join("job-alive").exists());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        alive.heartbeat().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !data_dir.join("job-silent").exists(),
        "the silent job's files are removed"
    );
    assert!(
        data_dir.join("job-alive").exists(),
        "the heartbeating job keeps its data"
    );
    let err = silent.fetch_all(0, 0).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by peer: job job-silent shuffle 0 is not registered on this node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_silent_mid_handshake_holds_up_no_other_client() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let node = start_node(&dir.path().join("data"), &pem, &secret_file);
    // A relay that passes the peer's first packet (its handshake's opening)
    // to the node and nothing after: to the node, a peer killed or gone
    // silent mid-handshake, which it gives up on only at its idle timeout.
    let relay = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let node_addr = node.addr;
    tokio::spawn(async move {
        let mut packet = vec![0u8; 65536];
        let Ok((len, _)) = relay.recv_from(&mut packet).await else {
            return;
        };
        let _ = relay.send_to(&packet[..len], node_addr).await;
        while relay.recv_from(&mut packet).await.is_ok() {}
    });
    // The peer asks for a long idle timeout: the node waits as long as
    // the shorter of both sides' (its own 10 s) before giving up on it.
    let patient = faro_transport::TransportOptions {
        idle_timeout: Duration::from_secs(60),
        ..faro_transport::TransportOptions::loopback()
    };
    let silent = Endpoint::bind("127.0.0.1:0".parse().unwrap(), &tls, patient).unwrap();
    let stalled = tokio::spawn(async move { silent.connect(relay_addr, "localhost").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Another client is served while that handshake hangs, well within
    // the node's 10 s idle timeout.
    let started = std::time::Instant::now();
    let token = ClusterSecret::new(SECRET).token("job-next");
    let (_endpoint, shuffle) = client(&tls, &node, "job-next", &token).await;
    shuffle.register(0, shape(1, PARTITIONS)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "served after {:?}",
        started.elapsed()
    );
    assert!(!stalled.is_finished(), "the relayed handshake hangs");
    stalled.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shape_beyond_the_bound_is_refused_at_once_and_the_node_serves_on() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let token = ClusterSecret::new(SECRET).token("job-wide");
    let node = start_node(&dir.path().join("data"), &pem, &secret_file);
    let (_endpoint, shuffle) = client(&tls, &node, "job-wide", &token).await;
    for (maps, partitions) in [(1, u32::MAX), (1, 21_436_476), (u32::MAX, 1), (0, 4)] {
        let started = std::time::Instant::now();
        let refused = shuffle
            .register(0, shape(maps, partitions))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("a shuffle needs 1 to 65536 maps and partitions"),
            "{refused}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "refused at once"
        );
    }
    shuffle.register(0, shape(2, PARTITIONS)).await.unwrap();
    push_map(&shuffle, 0, 0, 3).await;
    assert_eq!(shuffle.commit(0, 0, 0).await.unwrap(), Response::Committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_node_serves_from_memory_and_disk_and_after_sigkill_claims_nothing() {
    let Setup {
        dir,
        pem,
        secret_file,
        tls,
        ..
    } = setup();
    let data_dir = dir.path().join("data");
    let token = ClusterSecret::new(SECRET).token("job-m");
    let flags = ["--durability", "memory", "--memory-budget-mb", "1"];
    let node = start_node_with(&data_dir, &pem, &secret_file, &flags);
    let (_endpoint, shuffle) = client(&tls, &node, "job-m", &token).await;
    shuffle.register(0, shape(2, PARTITIONS)).await.unwrap();
    // 3 partitions × 60 frames of ~10 kB: 1.8 MB against a 1 MiB budget.
    push_map(&shuffle, 0, 0, 60).await;
    assert_eq!(shuffle.commit(0, 0, 0).await.unwrap(), Response::Committed);
    let stats = shuffle.stats().await.unwrap();
    assert_eq!(stats.memory_budget_bytes, 1 << 20);
    assert!(
        stats.memory_bytes > 900_000,
        "held up to the budget: {stats:?}"
    );
    assert!(stats.stored_bytes > 500_000, "the rest on disk: {stats:?}");
    for partition in 0..PARTITIONS {
        let want: Vec<Bytes> = (0..60).map(|seq| frame(0, 0, partition, seq)).collect();
        assert!(
            shuffle.fetch_all(0, partition).await.unwrap() == want,
            "partition {partition}: every frame, from memory and disk"
        );
    }

    let mut node = node;
    node.kill9();
    drop(node);
    let node = start_node_with(&data_dir, &pem, &secret_file, &flags);
    let (_endpoint, shuffle) = client(&tls, &node, "job-m", &token).await;
    let listed = shuffle.list().await.unwrap();
    assert!(
        listed.iter().all(|s| s.committed_maps == 0),
        "a restarted memory node claims no commit (its producers run again): {listed:?}"
    );
    for partition in 0..PARTITIONS {
        assert!(shuffle.fetch_all(0, partition).await.unwrap().is_empty());
    }
}

/// Sends `signal` (`STOP`, `CONT`) to `node`'s process.
fn signal(node: &Node, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// Pushes `frames` frames of partition 0 for each map of `maps`, in that
/// order, through `client` as `attempt`, committing each: how two nodes
/// end up with one partition's frames in different file orders.
async fn push_in_order(client: &ShuffleClient, maps: &[u32], attempt: u32, frames: u32) {
    for &map in maps {
        let mut tx = client.push(0, 0, map, attempt, 0).await.unwrap();
        for seq in 0..frames {
            tx.send(frame(map, attempt, 0, seq)).await.unwrap();
        }
        tx.finish().await.unwrap();
        assert_eq!(
            client.commit(0, map, attempt).await.unwrap(),
            Response::Committed
        );
    }
}

/// Two nodes holding partition 0 of maps 0 and 1, pushed to them in
/// opposite orders (map 1's frames as `b_attempt` on the second), and a
/// cluster client over them keeping two replicas, whose fetches move
/// after 300 ms of silence.
async fn two_replicas(
    setup: &Setup,
    job: &str,
    frames: u32,
    b_attempt: u32,
) -> (
    Vec<Node>,
    Endpoint,
    std::sync::Arc<faro_shuffle::ShuffleCluster>,
) {
    let token = ClusterSecret::new(SECRET).token(job);
    let dir = setup.dir.path();
    let nodes = vec![
        start_node(
            &dir.join(format!("{job}-a")),
            &setup.pem,
            &setup.secret_file,
        ),
        start_node(
            &dir.join(format!("{job}-b")),
            &setup.pem,
            &setup.secret_file,
        ),
    ];
    let (endpoint, cluster) = cluster_client(&setup.tls, &nodes, job, &token).await;
    let stall = Duration::from_millis(300);
    let cluster = std::sync::Arc::new(cluster.with_replicas(2).with_fetch_stall(stall));
    cluster.register(0, shape(2, 1)).await.unwrap();
    let (_a_endpoint, a) = client(&setup.tls, &nodes[0], job, &token).await;
    push_in_order(&a, &[0, 1], 0, frames).await;
    let (_b_endpoint, b) = client(&setup.tls, &nodes[1], job, &token).await;
    push_in_order(&b, &[1], b_attempt, frames).await;
    push_in_order(&b, &[0], 0, frames).await;
    (nodes, endpoint, cluster)
}

/// The node serving partition 0 first.
fn serving<'a>(nodes: &'a [Node], cluster: &faro_shuffle::ShuffleCluster) -> &'a Node {
    match cluster.owner_name(0, 0) {
        "shuffle-a" => &nodes[0],
        _ => &nodes[1],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_whose_node_stops_mid_partition_resumes_on_the_replica_each_frame_once() {
    let setup = setup();
    const FRAMES: u32 = 300;
    let (nodes, _endpoint, cluster) = two_replicas(&setup, "job-resume", FRAMES, 0).await;
    let mut fetch = cluster.fetch_from_replicas(0, 0).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 100 {
        let frame = fetch.recv().await.unwrap().expect("more frames");
        got.push(Bytes::copy_from_slice(&frame));
    }
    let stopped = serving(&nodes, &cluster);
    signal(stopped, "STOP");
    while let Some(frame) = fetch.recv().await.unwrap() {
        got.push(Bytes::copy_from_slice(&frame));
    }
    signal(stopped, "CONT");
    assert_eq!(fetch.moves(), 1, "one move, to the replica");
    assert_eq!(got.len(), pushed_frames(2, FRAMES, 0).len());
    assert!(
        got == pushed_frames(2, FRAMES, 0),
        "every frame once, by map and sequence, though the nodes hold them in other orders"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_frames_differ_refuses_the_resume_and_the_fetch_fails() {
    let setup = setup();
    const FRAMES: u32 = 100;
    // shuffle-b committed another attempt of map 1, whose frames differ.
    let (nodes, _endpoint, cluster) = two_replicas(&setup, "job-differ", FRAMES, 1).await;
    let mut fetch = cluster.fetch_from_replicas(0, 0).await.unwrap();
    let first = match cluster.owner_name(0, 0) {
        "shuffle-a" => 0,
        _ => 1,
    };
    // Into map 1's frames, which differ between the two.
    let mut got = Vec::new();
    for _ in 0..FRAMES + 20 {
        let frame = fetch.recv().await.unwrap().expect("more frames");
        got.push(Bytes::copy_from_slice(&frame));
    }
    let stopped = serving(&nodes, &cluster);
    signal(stopped, "STOP");
    let outcome = loop {
        match fetch.recv().await {
            Ok(Some(frame)) => got.push(Bytes::copy_from_slice(&frame)),
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    signal(stopped, "CONT");
    assert!(
        outcome.is_err(),
        "the fetch fails rather than mixing attempts"
    );
    let attempt = [0, 1][first];
    assert!(
        got[FRAMES as usize..]
            .iter()
            .zip(0..)
            .all(|(taken, seq)| *taken == frame(1, attempt, 0, seq)),
        "every frame of map 1 is of the attempt read first"
    );
}
