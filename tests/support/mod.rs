//! Helpers for tests that run `faro shuffle-service` as separate
//! processes: a fresh identity and secret on disk, starting and killing
//! nodes, clients, and frames whose content says where they belong.

#![allow(dead_code)]

pub mod browser;
pub mod cluster;
pub mod jobs;
pub mod kafka;
pub mod local;
pub mod outputs;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use faro_shuffle::protocol::{NodeStats, Response};
use faro_shuffle::storage::ShuffleShape;
use faro_shuffle::{ShuffleClient, ShuffleCluster};
use faro_transport::{Endpoint, LocalCa, PemPaths, TlsConfig, TransportOptions};

pub fn shape(maps: u32, partitions: u32) -> ShuffleShape {
    ShuffleShape { maps, partitions }
}

pub const SECRET: &[u8] = b"a test cluster secret, 32 bytes!";

/// The bearer token of the test clusters' REST APIs and workers' metrics.
pub const API_TOKEN: &str = "a-test-api-token-for-the-cluster";

/// A temporary directory holding a fresh identity (PEM files) and the
/// cluster secret, and the identity for clients.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub pem: PemPaths,
    pub secret_file: std::path::PathBuf,
    /// Holds [`API_TOKEN`].
    pub token_file: std::path::PathBuf,
    pub tls: TlsConfig,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let identity = LocalCa::generate().unwrap().issue(&["localhost"]).unwrap();
    let pem = identity.write_pem_files(dir.path()).unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let token_file = dir.path().join("api-token");
    std::fs::write(&token_file, format!("{API_TOKEN}\n")).unwrap();
    Setup {
        tls: identity.tls_config(),
        dir,
        pem,
        secret_file,
        token_file,
    }
}

pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
    /// The node's stdout, kept open: a node writing to a closed pipe dies.
    pub stdout: BufReader<ChildStdout>,
}

impl Node {
    /// Kills the node with SIGKILL (no chance to flush or close anything)
    /// and waits until it is gone.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the node");
        self.child.wait().expect("the killed node is reaped");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_node(data_dir: &Path, pem: &PemPaths, secret_file: &Path) -> Node {
    start_node_with(data_dir, pem, secret_file, &[])
}

pub fn start_node_with(
    data_dir: &Path,
    pem: &PemPaths,
    secret_file: &Path,
    extra: &[&str],
) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faro"))
        .arg("shuffle-service")
        .args(extra)
        .args(if extra.contains(&"--listen") {
            &["--loopback"][..]
        } else {
            &["--listen", "127.0.0.1:0", "--loopback"][..]
        })
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--cert")
        .arg(&pem.cert)
        .arg("--key")
        .arg(&pem.key)
        .arg("--ca")
        .arg(&pem.ca)
        .arg("--secret-file")
        .arg(secret_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("faro starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the node prints its address");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Node {
        child,
        addr,
        stdout,
    }
}

/// A client endpoint with a short idle timeout, so a killed node is
/// noticed quickly.
pub fn client_endpoint(tls: &TlsConfig) -> Endpoint {
    let options = TransportOptions {
        idle_timeout: Duration::from_secs(2),
        ..TransportOptions::loopback()
    };
    Endpoint::bind("127.0.0.1:0".parse().unwrap(), tls, options).unwrap()
}

pub async fn client(
    tls: &TlsConfig,
    node: &Node,
    job: &str,
    token: &str,
) -> (Endpoint, ShuffleClient) {
    let endpoint = client_endpoint(tls);
    let connection = endpoint.connect(node.addr, "localhost").await.unwrap();
    (endpoint, ShuffleClient::new(connection, job, token))
}

/// A job's cluster client over `nodes`, named shuffle-a, shuffle-b, ….
pub async fn cluster_client(
    tls: &TlsConfig,
    nodes: &[Node],
    job: &str,
    token: &str,
) -> (Endpoint, ShuffleCluster) {
    let endpoint = client_endpoint(tls);
    let mut connections = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let name = format!("shuffle-{}", (b'a' + index as u8) as char);
        connections.push((
            name,
            endpoint.connect(node.addr, "localhost").await.unwrap(),
        ));
    }
    let cluster = ShuffleCluster::new(job, token, connections).unwrap();
    (endpoint, cluster)
}

pub fn frame(map: u32, attempt: u32, partition: u32, seq: u32) -> Bytes {
    let mut bytes =
        format!("map {map} attempt {attempt} partition {partition} frame {seq}|").into_bytes();
    let fill = (map * 31 + partition * 7 + seq) as u8;
    bytes.resize(8 * 1024 + (seq as usize % 5) * 1000, fill);
    Bytes::from(bytes)
}

/// What `push_and_commit(maps, _, frames)` leaves readable in `partition`.
pub fn pushed_frames(maps: u32, frames: u32, partition: u32) -> Vec<Bytes> {
    (0..maps)
        .flat_map(|map| (0..frames).map(move |seq| frame(map, 0, partition, seq)))
        .collect()
}

/// Pushes `frames` frames per (map, partition) through `cluster` for maps
/// `0..maps` as attempt 0, committing each map; returns the nodes' answers.
pub async fn push_and_commit(
    cluster: &ShuffleCluster,
    maps: u32,
    reduces: u32,
    frames: u32,
) -> Vec<Vec<Response>> {
    let mut answers = Vec::new();
    for map in 0..maps {
        for partition in 0..reduces {
            let mut push = cluster.push(0, partition, map, 0, 0).await.unwrap();
            for seq in 0..frames {
                push.send(frame(map, 0, partition, seq)).await.unwrap();
            }
            push.finish().await.unwrap();
        }
        answers.push(cluster.commit(0, map, 0).await.unwrap());
    }
    answers
}

/// Polls the node's stats until `done` holds, or fails after 10 s.
pub async fn wait_for_stats(
    client: &ShuffleClient,
    done: impl Fn(&NodeStats) -> bool,
) -> NodeStats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = client.stats().await.unwrap();
        if done(&stats) {
            return stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stats never settled: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Node {
    /// The next line the node prints (the second is its metrics address).
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("the node prints");
        line.trim().to_string()
    }
}

/// Any `faro` command run as a process (scheduler, worker, `faro local`,
/// …), killed when dropped, with its stdout kept open (a process writing
/// to a closed pipe dies) for the lines it prints.
pub struct FaroProcess {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    /// The command line, for messages.
    pub command: String,
}

impl Drop for FaroProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FaroProcess {
    /// Kills it with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// The next line the process prints; fails if it exited instead.
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("reading the stdout of `{}`: {error}", self.command));
        assert!(read > 0, "`{}` exited before printing a line", self.command);
        line.trim().to_string()
    }
}

/// Where a spawned process's stderr goes: discarded, or — with
/// `FARO_TEST_STDERR=DIR` set, to debug a process test — appended to a
/// file per process under DIR.
fn stderr_of(command: &str) -> Stdio {
    let Some(dir) = std::env::var_os("FARO_TEST_STDERR") else {
        return Stdio::null();
    };
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let role = command.split_whitespace().nth(1).unwrap_or("faro");
    let path = std::path::Path::new(&dir).join(format!("{}-{n}-{role}.log", std::process::id()));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

/// Starts `faro ARGS`, its stderr discarded (see [`stderr_of`]).
pub fn spawn_faro<I, S>(args: I) -> FaroProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let command = std::iter::once("faro".into())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<String>>()
        .join(" ");
    let mut child = Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(stderr_of(&command))
        .spawn()
        .unwrap_or_else(|error| panic!("starting `{command}`: {error}"));
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    FaroProcess {
        child,
        stdout,
        command,
    }
}

/// `--cert C --key K --ca A` for `setup`'s identity.
/// `--token-file` with the setup's API token, for schedulers and workers.
pub fn token_args(setup: &Setup) -> Vec<String> {
    vec![
        "--token-file".into(),
        setup.token_file.display().to_string(),
    ]
}

pub fn identity_args(setup: &Setup) -> Vec<String> {
    [
        ("--cert", &setup.pem.cert),
        ("--key", &setup.pem.key),
        ("--ca", &setup.pem.ca),
    ]
    .iter()
    .flat_map(|(flag, path)| [flag.to_string(), path.display().to_string()])
    .collect()
}

/// The address a process announced as the last word of `line`
/// ("… on http://127.0.0.1:4242/metrics", "… workers connect to
/// 127.0.0.1:4243"): without the scheme, the path and a trailing comma.
pub fn announced_addr(line: &str) -> SocketAddr {
    line.split_whitespace()
        .last()
        .map(|word| word.trim_end_matches(','))
        .map(|word| word.strip_prefix("http://").unwrap_or(word))
        .map(|word| word.strip_suffix("/metrics").unwrap_or(word))
        .and_then(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no address at the end of {line:?}"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for programs
/// that cannot be told to listen on port 0 and say which they got).
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free TCP port on 127.0.0.1")
}

/// The value of a worker's `metric` series for the chain `vertex` heads,
/// summed over its subtasks, from the worker's `/metrics` text.
pub fn task_metric(metrics: &str, metric: &str, vertex: &str) -> f64 {
    let label = format!("vertex=\"{vertex}");
    metrics
        .lines()
        .filter(|line| line.starts_with(metric) && line.contains(&label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
