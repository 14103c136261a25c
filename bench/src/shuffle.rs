//! `faro-bench shuffle`: push N bytes of generated frames from M concurrent
//! producers to running shuffle nodes, commit, fetch all R partitions, and
//! verify every byte read against what was written (a CRC-32C per map and
//! partition). Prints one JSON line; exits non-zero if verification fails.
//!
//! Nodes are started separately (`faro shuffle-service`), so the service
//! is measured as deployed. Its CPU time and peak memory come from its
//! stats; the bench's own CPU from `getrusage`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use faro_shuffle::protocol::NodeStats;
use faro_shuffle::storage::ShuffleShape;
use faro_shuffle::{ClusterSecret, ShuffleCluster};
use faro_transport::{Endpoint, TlsConfig, TransportOptions};

use crate::rusage::Meter;
use crate::transport::parse_size;

/// Arguments of `faro-bench shuffle`.
#[derive(Debug, clap::Args)]
pub struct ShuffleArgs {
    /// Shuffle nodes to use.
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<SocketAddr>,
    /// Concurrent producers (map tasks).
    #[arg(long, default_value_t = 8)]
    maps: u32,
    /// Reduce partitions.
    #[arg(long, default_value_t = 8)]
    reduces: u32,
    /// Bytes pushed in total (suffixes KiB, MiB, GiB allowed).
    #[arg(long, value_parser = parse_size, default_value = "2GiB")]
    bytes: u64,
    /// Copies of every partition.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Frame payload size.
    #[arg(long, value_parser = parse_size, default_value = "256KiB")]
    frame_size: u64,
    /// Push a second shuffle while fetching the first.
    #[arg(long)]
    concurrent: bool,
    /// TLS certificate (PEM) trusted by the nodes' CA.
    #[arg(long)]
    cert: PathBuf,
    /// TLS key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// The CA (PEM).
    #[arg(long)]
    ca: PathBuf,
    /// The cluster secret file the nodes use.
    #[arg(long)]
    secret_file: PathBuf,
}

/// Distinct frames per map, reused round-robin: enough to catch reordering
/// and loss, few enough to keep the generator out of the measurement.
const FRAMES_PER_MAP: usize = 4;

/// CRC-32C and byte count of one (map, partition) stream.
type Digest = (u32, u64);

fn frames_for(map: u32, frame_size: usize) -> Vec<Bytes> {
    (0..FRAMES_PER_MAP)
        .map(|k| {
            let mut frame = vec![0u8; frame_size];
            frame[..4].copy_from_slice(&map.to_le_bytes());
            let mut x = u64::from(map) << 32 | k as u64;
            for chunk in frame[4..].chunks_mut(8) {
                x = x
                    .wrapping_mul(0x5851_f42d_4c95_7f2d)
                    .wrapping_add(0x1405_7b7e_f767_814f);
                let bytes = x.to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
            Bytes::from(frame)
        })
        .collect()
}

async fn push_shuffle(
    cluster: &Arc<ShuffleCluster>,
    shuffle: u32,
    args: &ShuffleArgs,
) -> Result<HashMap<(u32, u32), Digest>> {
    let frame_size = args.frame_size as usize;
    let frames_total = (args.bytes / args.frame_size).max(1);
    let per_stream = (frames_total / u64::from(args.maps * args.reduces)).max(1);
    let mut tasks = Vec::new();
    for map in 0..args.maps {
        let cluster = cluster.clone();
        let reduces = args.reduces;
        tasks.push(tokio::spawn(async move {
            let frames = frames_for(map, frame_size);
            let mut digests = Vec::new();
            for partition in 0..reduces {
                let mut push = cluster.push(shuffle, partition, map, 0, 0).await?;
                let mut crc = 0u32;
                for seq in 0..per_stream {
                    let frame = frames[seq as usize % FRAMES_PER_MAP].clone();
                    crc = crc32c::crc32c_append(crc, &frame);
                    push.send(frame).await?;
                }
                push.finish().await?;
                digests.push(((map, partition), (crc, per_stream * frame_size as u64)));
            }
            cluster.commit(shuffle, map, 0).await?;
            Ok::<_, anyhow::Error>(digests)
        }));
    }
    let mut written = HashMap::new();
    for task in tasks {
        written.extend(task.await.context("a producer panicked")??);
    }
    Ok(written)
}

async fn fetch_shuffle(
    cluster: &Arc<ShuffleCluster>,
    shuffle: u32,
    reduces: u32,
) -> Result<HashMap<(u32, u32), Digest>> {
    let mut tasks = Vec::new();
    for partition in 0..reduces {
        let cluster = cluster.clone();
        tasks.push(tokio::spawn(async move {
            let mut rx = cluster.fetch(shuffle, partition).await?;
            let mut digests: HashMap<(u32, u32), Digest> = HashMap::new();
            while let Some(frame) = rx.recv().await? {
                let map = u32::from_le_bytes(
                    frame
                        .get(..4)
                        .context("frame shorter than its header")?
                        .try_into()?,
                );
                let digest = digests.entry((map, partition)).or_default();
                digest.0 = crc32c::crc32c_append(digest.0, &frame);
                digest.1 += frame.len() as u64;
            }
            Ok::<_, anyhow::Error>(digests)
        }));
    }
    let mut read = HashMap::new();
    for task in tasks {
        read.extend(task.await.context("a consumer panicked")??);
    }
    Ok(read)
}

fn service_cpu(before: &[NodeStats], after: &[NodeStats]) -> f64 {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.cpu_millis.saturating_sub(b.cpu_millis))
        .sum::<u64>() as f64
        / 1000.0
}

/// Writes a local identity and a random cluster secret into `dir`.
pub fn write_identity(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    faro_transport::LocalCa::generate()?
        .issue(&["localhost"])?
        .write_pem_files(dir)?;
    std::fs::write(dir.join("secret"), urandom(32))?;
    Ok(())
}

fn urandom(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = vec![0u8; len];
    match std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes)) {
        Ok(()) => bytes,
        Err(_) => format!("{:?}{:032}", Instant::now(), std::process::id()).into_bytes(),
    }
}

/// Runs the benchmark and prints its JSON line.
pub fn run(args: &ShuffleArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: &ShuffleArgs) -> Result<()> {
    let tls = TlsConfig::from_pem_files(&args.cert, &args.key, &args.ca)?;
    let secret = std::fs::read(&args.secret_file)
        .with_context(|| format!("reading {}", args.secret_file.display()))?;
    let job = format!("bench-{}", std::process::id());
    let token = ClusterSecret::new(&secret).token(&job);
    let loopback = args.nodes.iter().all(|node| node.ip().is_loopback());
    let options = TransportOptions {
        buffer_size: (args.frame_size as usize).max(64 << 10),
        ..if loopback {
            TransportOptions::loopback()
        } else {
            TransportOptions::default()
        }
    };
    let endpoint = Endpoint::bind(
        if loopback { "127.0.0.1:0" } else { "0.0.0.0:0" }.parse()?,
        &tls,
        options,
    )?;
    let mut connections = Vec::new();
    for node in &args.nodes {
        let connection = endpoint
            .connect(*node, "localhost")
            .await
            .with_context(|| format!("connecting to {node}"))?;
        connections.push((node.to_string(), connection));
    }
    let cluster = Arc::new(
        ShuffleCluster::new(&job, &token, connections)
            .context("no nodes")?
            .with_replicas(args.replicas),
    );
    let shape = ShuffleShape {
        maps: args.maps,
        partitions: args.reduces,
    };
    cluster.register(0, shape).await?;
    cluster.register(1, shape).await?;

    let before = cluster.stats().await?;
    let meter = Meter::start()?;
    let (written, read, push_time, fetch_time) = if args.concurrent {
        let written0 = push_shuffle(&cluster, 0, args).await?;
        let start = Instant::now();
        let (pushed, fetched) = tokio::join!(
            async {
                let result = push_shuffle(&cluster, 1, args).await;
                (result, start.elapsed())
            },
            async {
                let result = fetch_shuffle(&cluster, 0, args.reduces).await;
                (result, start.elapsed())
            }
        );
        pushed.0?;
        (written0, fetched.0?, pushed.1, fetched.1)
    } else {
        let start = Instant::now();
        let written = push_shuffle(&cluster, 0, args).await?;
        let push_time = start.elapsed();
        let start = Instant::now();
        let read = fetch_shuffle(&cluster, 0, args.reduces).await?;
        (written, read, push_time, start.elapsed())
    };
    let client = meter.stop()?;
    let after = cluster.stats().await?;
    cluster.delete_job().await?;

    let verified = written == read;
    // In concurrent mode the timed push is shuffle 1, the same size as the
    // shuffle 0 whose digests `written` holds.
    let pushed_bytes: u64 = written.values().map(|(_, bytes)| bytes).sum();
    let fetched_bytes: u64 = read.values().map(|(_, bytes)| bytes).sum();
    let gb = |bytes: u64| bytes as f64 / 1e9;
    let rate = |bytes: u64, time: Duration| gb(bytes) / time.as_secs_f64();
    let moved = gb(pushed_bytes + fetched_bytes);
    println!(
        "{{\"maps\":{},\"reduces\":{},\"nodes\":{},\"replicas\":{},\"frame_bytes\":{},\"concurrent\":{},\"pushed_bytes\":{},\"fetched_bytes\":{},\"push_gbps\":{:.3},\"fetch_gbps\":{:.3},\"client_cpu_s_per_gb\":{:.3},\"service_cpu_s_per_gb\":{:.3},\"service_peak_rss_bytes\":{},\"verified\":{}}}",
        args.maps,
        args.reduces,
        args.nodes.len(),
        args.replicas,
        args.frame_size,
        args.concurrent,
        pushed_bytes,
        fetched_bytes,
        rate(pushed_bytes, push_time),
        rate(fetched_bytes, fetch_time),
        client.cpu.as_secs_f64() / moved,
        service_cpu(&before, &after) / moved,
        after.iter().map(|s| s.peak_rss_bytes).max().unwrap_or(0),
        verified
    );
    if !verified {
        bail!(
            "verification failed: {} streams written, {} read, or their checksums differ",
            written.len(),
            read.len()
        );
    }
    Ok(())
}
