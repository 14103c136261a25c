//! The object-store tier as a user sees it, on a real node (in this
//! process, so it can use opendal's memory service) over real QUIC: a
//! complete shuffle is copied in the background, a fetch whose local file
//! is gone is served from the copy byte for byte, a corrupt copy is never
//! served as good, and deleting the job deletes the copy.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use faro_shuffle::client::collect;
use faro_shuffle::protocol::{NodeStats, Response};
use faro_shuffle::storage::{IoPreference, ShuffleShape};
use faro_shuffle::tier::{Tier, TierConfig};
use faro_shuffle::{ClusterSecret, ShuffleClient, ShuffleServer};
use faro_transport::{Endpoint, LocalCa, TransportOptions};

const SECRET: &[u8] = b"a test cluster secret, 32 bytes!";
const JOB: &str = "job-tier";
const MAPS: u32 = 3;
const PARTITIONS: u32 = 2;
const FRAMES: u32 = 5;

fn frame(map: u32, partition: u32, seq: u32) -> Bytes {
    let mut bytes = format!("map {map} partition {partition} frame {seq}|").into_bytes();
    bytes.resize(3000 + seq as usize * 517, (map * 7 + seq) as u8);
    Bytes::from(bytes)
}

fn frames(maps: std::ops::Range<u32>, partition: u32) -> Vec<Bytes> {
    maps.flat_map(|map| (0..FRAMES).map(move |seq| frame(map, partition, seq)))
        .collect()
}

/// A node on `data_dir` with `tier`, serving in this process, and a client.
struct Harness {
    server: Arc<ShuffleServer>,
    client: ShuffleClient,
    _endpoints: (Endpoint, Endpoint),
}

async fn start(data_dir: &Path, tier: &Tier) -> Harness {
    let tls = LocalCa::generate()
        .unwrap()
        .issue(&["localhost"])
        .unwrap()
        .tls_config();
    let server = Arc::new(
        ShuffleServer::open(data_dir, ClusterSecret::new(SECRET), IoPreference::Auto)
            .unwrap()
            .with_tier(tier.clone()),
    );
    let loopback = "127.0.0.1:0".parse().unwrap();
    let node = Endpoint::bind(loopback, &tls, TransportOptions::loopback()).unwrap();
    let addr = node.local_addr().unwrap();
    tokio::spawn(server.clone().serve(node.clone()));
    let client_endpoint = Endpoint::bind(loopback, &tls, TransportOptions::loopback()).unwrap();
    let connection = client_endpoint.connect(addr, "localhost").await.unwrap();
    let token = ClusterSecret::new(SECRET).token(JOB);
    Harness {
        server,
        client: ShuffleClient::new(connection, JOB, &token),
        _endpoints: (node, client_endpoint),
    }
}

async fn push_and_commit_all(client: &ShuffleClient) {
    let shape = ShuffleShape {
        maps: MAPS,
        partitions: PARTITIONS,
    };
    client.register(0, shape).await.unwrap();
    for map in 0..MAPS {
        for partition in 0..PARTITIONS {
            let mut tx = client.push(0, partition, map, 0, 0).await.unwrap();
            for seq in 0..FRAMES {
                tx.send(frame(map, partition, seq)).await.unwrap();
            }
            tx.finish().await.unwrap();
        }
        assert_eq!(client.commit(0, map, 0).await.unwrap(), Response::Committed);
    }
}

async fn uploaded(server: &ShuffleServer) -> NodeStats {
    for _ in 0..200 {
        let stats = server.stats();
        if stats.tier_uploads + stats.tier_upload_failures > 0 {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the shuffle was never copied: {:?}", server.stats());
}

fn memory_tier() -> Tier {
    Tier::open(&TierConfig {
        scheme: "memory".into(),
        options: Default::default(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_partition_file_is_served_from_the_memory_store() {
    let dir = tempfile::tempdir().unwrap();
    let tier = memory_tier();
    let node = start(dir.path(), &tier).await;
    push_and_commit_all(&node.client).await;
    let stats = uploaded(&node.server).await;
    assert_eq!((stats.tier_uploads, stats.tier_upload_failures), (1, 0));

    // The disk loses partition 1.
    let file = dir.path().join(JOB).join("0").join("part-00001.data");
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        node.client.fetch_all(0, 1).await.unwrap(),
        frames(0..MAPS, 1),
        "every committed frame, once, from the store"
    );
    let ranged = collect(node.client.fetch_maps(0, 1, 1..3).await.unwrap())
        .await
        .unwrap();
    assert_eq!(ranged, frames(1..3, 1), "a map range from the store");
    assert_eq!(node.server.stats().tier_reads, u64::from(5 * FRAMES));
    // Partition 0 is still local and still served from disk.
    assert_eq!(
        node.client.fetch_all(0, 0).await.unwrap(),
        frames(0..MAPS, 0)
    );
    assert_eq!(node.server.stats().tier_reads, u64::from(5 * FRAMES));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_an_empty_disk_serves_from_the_filesystem_store() {
    let dir = tempfile::tempdir().unwrap();
    let tier = Tier::open(&TierConfig {
        scheme: "fs".into(),
        options: [(
            "root".to_string(),
            dir.path().join("store").display().to_string(),
        )]
        .into(),
    })
    .unwrap();
    let first = start(&dir.path().join("disk-1"), &tier).await;
    push_and_commit_all(&first.client).await;
    uploaded(&first.server).await;

    // A replacement node with an empty disk, same store.
    let second = start(&dir.path().join("disk-2"), &tier).await;
    for partition in 0..PARTITIONS {
        assert_eq!(
            second.client.fetch_all(0, partition).await.unwrap(),
            frames(0..MAPS, partition)
        );
    }
    assert!(second.client.list().await.unwrap().is_empty());

    // Deleting the job deletes the copy too.
    second.client.delete_job().await.unwrap();
    first.client.delete_job().await.unwrap();
    let err = second.client.fetch_all(0, 0).await.unwrap_err();
    assert!(
        err.to_string().contains("the object store has no copy"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_copy_is_reported_and_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let tier = memory_tier();
    let node = start(dir.path(), &tier).await;
    push_and_commit_all(&node.client).await;
    uploaded(&node.server).await;

    let op = tier.operator();
    let data = op
        .list(&format!("{JOB}/0/"))
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.path().to_string())
        .find(|path| path.contains("part-00000.") && path.ends_with(".data"))
        .expect("partition 0 was copied");
    let mut bytes = op.read(&data).await.unwrap().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    op.write(&data, bytes).await.unwrap();
    std::fs::remove_dir_all(dir.path().join(JOB)).unwrap();

    let err = collect(node.client.fetch(0, 0).await.unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("job job-tier shuffle 0 (object-store copy) partition 0: corrupt data"),
        "{err}"
    );
}
