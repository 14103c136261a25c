//! A cluster of separate processes — a shuffle node, a scheduler, two
//! workers — that tests really kill and restart.

#![allow(dead_code)]

use std::path::Path;

use super::{
    identity_args, setup, spawn_faro, start_node_with, token_args, FaroProcess, Node, Setup,
};

/// A process that said it is up, and the line it said it with.
pub struct Process {
    /// The process.
    pub faro: FaroProcess,
    /// What it printed when it came up.
    pub line: String,
    /// Where it serves `/metrics` (a worker's), if it said.
    pub metrics: Option<std::net::SocketAddr>,
}

/// Spawns `faro ARGS EXTRA` and waits for its first line.
fn spawn(args: &[&str], extra: &[String]) -> Process {
    let mut faro = spawn_faro(
        args.iter()
            .map(|a| a.to_string())
            .chain(extra.iter().cloned()),
    );
    let line = faro.next_line();
    Process {
        faro,
        line,
        metrics: None,
    }
}

pub struct Cluster {
    #[allow(missing_docs)]
    pub setup: Setup,
    #[allow(missing_docs)]
    pub node: Node,
    #[allow(missing_docs)]
    pub node_dir: std::path::PathBuf,
    #[allow(missing_docs)]
    pub scheduler: Process,
    #[allow(missing_docs)]
    pub scheduler_dir: std::path::PathBuf,
    #[allow(missing_docs)]
    pub url: String,
    #[allow(missing_docs)]
    pub workers: Vec<Process>,
    /// Flags the scheduler was started with beyond the usual ones.
    pub scheduler_args: Vec<String>,
}

impl Cluster {
    /// The `/metrics` text of every worker still answering.
    pub fn worker_metrics(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter_map(|w| w.metrics)
            .filter_map(|addr| {
                super::jobs::agent()
                    .get(&format!("http://{addr}/metrics"))
                    .header("authorization", &super::jobs::bearer())
                    .call()
                    .ok()?
                    .body_mut()
                    .read_to_string()
                    .ok()
            })
            .collect()
    }

    /// kill -9 the shuffle node and start it again on the same address
    /// (with its disk wiped if `wipe`).
    pub fn restart_node(&mut self, wipe: bool) {
        let port = self.node.addr.to_string();
        self.node.child.kill().unwrap();
        self.node.child.wait().unwrap();
        if wipe {
            std::fs::remove_dir_all(&self.node_dir).unwrap();
        }
        self.node = start_node_with(
            &self.node_dir,
            &self.setup.pem,
            &self.setup.secret_file,
            &["--listen", &port],
        );
    }

    /// kill -9 of the worker running an attempt of a chain whose name
    /// starts with `vertex` ("" for any) in job status `status`; returns
    /// the worker's id.
    pub fn kill_worker_running(&mut self, status: &serde_json::Value, vertex: &str) -> String {
        let victim = worker_running(status, vertex)
            .unwrap_or_else(|| panic!("no {vertex:?} attempt running: {status:#}"));
        let index = self
            .workers
            .iter()
            .position(|w| w.line.contains(&victim))
            .unwrap_or_else(|| panic!("no worker {victim}"));
        self.workers[index].faro.kill9();
        victim
    }

    /// Starts the scheduler again (it was killed) on its address and
    /// with its directory, as an operator restarting it would.
    pub fn restart_scheduler(&mut self) {
        let listen = self.url.trim_start_matches("http://").to_string();
        let (scheduler, url, _) = start_scheduler_with(
            &self.setup,
            &self.scheduler_dir,
            &self.node,
            &listen,
            &self.scheduler_args,
        );
        assert_eq!(url, self.url, "the scheduler came back elsewhere");
        self.scheduler = scheduler;
    }
}

/// The worker running an attempt of a chain whose name starts with
/// `vertex` in job status `status`, if one is running.
pub fn worker_running(status: &serde_json::Value, vertex: &str) -> Option<String> {
    status["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["vertex"].as_str().is_some_and(|v| v.starts_with(vertex)))
        .flat_map(|t| t["attempts"].as_array().cloned().unwrap_or_default())
        .find(|a| a["state"] == "running")
        .and_then(|a| a["worker"].as_str().map(str::to_string))
}

/// Starts a scheduler keeping its data in `dir`.
pub fn start_scheduler(
    setup: &Setup,
    dir: &Path,
    node: &Node,
    listen: &str,
) -> (Process, String, String) {
    start_scheduler_with(setup, dir, node, listen, &[])
}

/// Starts a scheduler keeping its data in `dir`, with `args` added.
pub fn start_scheduler_with(
    setup: &Setup,
    dir: &Path,
    node: &Node,
    listen: &str,
    args: &[String],
) -> (Process, String, String) {
    let mut extra = identity_args(setup);
    extra.extend(token_args(setup));
    extra.extend([
        "--listen".into(),
        listen.into(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--shuffle-node".into(),
        format!("shuffle-a={}", node.addr),
        "--secret-file".into(),
        setup.secret_file.display().to_string(),
        "--backoff-ms".into(),
        "200".into(),
        "--max-attempts".into(),
        "6".into(),
    ]);
    extra.extend(args.iter().cloned());
    let process = spawn(&["scheduler", "--loopback"], &extra);
    // "faro scheduler: REST API on http://ADDR, workers connect to ADDR"
    let words: Vec<&str> = process.line.split_whitespace().collect();
    let url = words
        .iter()
        .find(|w| w.starts_with("http://"))
        .map(|w| w.trim_end_matches(',').to_string())
        .unwrap_or_else(|| panic!("no URL in {:?}", process.line));
    let control = words.last().map(|w| w.to_string()).unwrap_or_default();
    (process, url, control)
}

/// Starts a worker of the scheduler at `control`, reading and writing
/// under the setup's directory (training jobs save models there; jobs
/// read side tables from there).
pub fn start_worker(setup: &Setup, control: &str) -> Process {
    let mut extra = identity_args(setup);
    extra.extend([
        "--scheduler".into(),
        control.into(),
        "--slots".into(),
        "2".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--allow-write".into(),
        setup.dir.path().display().to_string(),
        "--allow-read".into(),
        setup.dir.path().display().to_string(),
        "--metrics".into(),
        "127.0.0.1:0".into(),
    ]);
    extra.extend(super::token_args(setup));
    let mut worker = spawn(&["worker", "--loopback"], &extra);
    // First where it serves metrics, then that it registered.
    worker.metrics = Some(super::announced_addr(&worker.line));
    worker.line = worker.faro.next_line();
    assert!(worker.line.contains("registered"), "{:?}", worker.line);
    worker
}

/// A shuffle node, a scheduler and two workers.
pub fn start_cluster() -> Cluster {
    start_cluster_with(&[])
}

/// A shuffle node, a scheduler started with `scheduler_args` added, and
/// two workers.
pub fn start_cluster_with(scheduler_args: &[String]) -> Cluster {
    let setup = setup();
    let node_dir = setup.dir.path().join("node");
    let node = start_node_with(&node_dir, &setup.pem, &setup.secret_file, &[]);
    let scheduler_dir = setup.dir.path().join("scheduler");
    let (scheduler, url, control) =
        start_scheduler_with(&setup, &scheduler_dir, &node, "127.0.0.1:0", scheduler_args);
    let workers = (0..2).map(|_| start_worker(&setup, &control)).collect();
    Cluster {
        setup,
        node,
        node_dir,
        scheduler,
        scheduler_dir,
        url,
        workers,
        scheduler_args: scheduler_args.to_vec(),
    }
}
