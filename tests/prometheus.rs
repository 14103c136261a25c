//! The real Prometheus server (Debian's `prometheus`, 2.42) scraping Faro:
//! a cluster of separate processes (a shuffle service, a scheduler, one
//! worker) and an embedded cluster (`faro local`), one job on each.
//! Asked through Prometheus's HTTP API, every target is up, and the
//! `faro_` series Prometheus stored say exactly what the jobs did: every
//! generated row left the map stage and reached the reduce stage, each of
//! the 6 subtasks ran once and finished, the job finished, each scheduler
//! sees its one worker, and the bytes the tasks pushed to and fetched from
//! the shuffle service are the bytes the shuffle service says it stored
//! and served. So the metric names, labels (`job` = the Faro job id,
//! `vertex` = the chain's name, `subtask`) and the `honor_labels: true`
//! that deploy/prometheus/prometheus.yml sets work in a real server.

use crate::support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::jobs::{agent, distinct_per_key, finished, submit, MAPS, REDUCES};
use support::{
    announced_addr, free_tcp_port, identity_args, setup, spawn_faro, start_node_with, token_args,
    FaroProcess,
};

/// Rows the test job generates.
const ROWS: u64 = 1_000_000;
/// How long a job, or an expected value in Prometheus, may take.
const PATIENCE: Duration = Duration::from_secs(60);

// --- Faro --------------------------------------------------------------

/// The separate processes: shuffle service, scheduler, one worker.
struct Cluster {
    /// Killed before the identity and data directories go.
    _node: support::Node,
    _scheduler: FaroProcess,
    _worker: FaroProcess,
    node_metrics: SocketAddr,
    /// The scheduler's REST API, which also serves its `/metrics`.
    scheduler: SocketAddr,
    worker_metrics: SocketAddr,
    _setup: support::Setup,
}

fn start_cluster() -> Cluster {
    let setup = setup();
    let mut node = start_node_with(
        &setup.dir.path().join("node"),
        &setup.pem,
        &setup.secret_file,
        &["--metrics", "127.0.0.1:0"],
    );
    let node_metrics = announced_addr(&node.next_line());

    let mut scheduler = spawn_faro(
        [
            "scheduler",
            "--loopback",
            "--listen",
            "127.0.0.1:0",
            "--shuffle-node",
            &format!("shuffle-a={}", node.addr),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(path_arg("--data-dir", &setup.dir.path().join("scheduler")))
        .chain(path_arg("--secret-file", &setup.secret_file))
        .chain(token_args(&setup))
        .chain(identity_args(&setup)),
    );
    // "faro scheduler: REST API on http://ADDR, workers connect to ADDR"
    let line = scheduler.next_line();
    let (rest, control) = line
        .split_once(',')
        .unwrap_or_else(|| panic!("unexpected scheduler line {line:?}"));
    let (rest, control) = (announced_addr(rest), announced_addr(control));

    let mut worker = spawn_faro(
        [
            "worker",
            "--loopback",
            "--scheduler",
            &control.to_string(),
            "--slots",
            "2",
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(token_args(&setup))
        .chain(identity_args(&setup)),
    );
    let worker_metrics = announced_addr(&worker.next_line());
    let registered = worker.next_line();
    assert!(registered.contains("registered"), "{registered:?}");

    Cluster {
        _node: node,
        _scheduler: scheduler,
        _worker: worker,
        node_metrics,
        scheduler: rest,
        worker_metrics,
        _setup: setup,
    }
}

fn path_arg(flag: &str, path: &Path) -> [String; 2] {
    [flag.to_string(), path.display().to_string()]
}

/// `faro local` and the REST address it serves (`/metrics` included).
fn start_local() -> (FaroProcess, SocketAddr) {
    let mut local = spawn_faro(["local", "--listen", "127.0.0.1:0", "--slots", "2"]);
    let addr = announced_addr(&local.next_line());
    (local, addr)
}

/// Subtasks per vertex name (the chain's name) in a job's status.
fn subtasks_per_vertex(status: &serde_json::Value) -> BTreeMap<String, usize> {
    let mut vertices = BTreeMap::new();
    for task in status["tasks"].as_array().into_iter().flatten() {
        let vertex = task["vertex"].as_str().unwrap_or("?").to_string();
        *vertices.entry(vertex).or_default() += 1;
    }
    vertices
}

// --- Prometheus --------------------------------------------------------

const NOT_INSTALLED: &str =
    "the Prometheus server is not installed: apt-get install prometheus (.ci/run does)";

/// A Prometheus server, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `prometheus` executable: on PATH, or Debian's.
fn prometheus_binary() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("prometheus"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{NOT_INSTALLED}"))
}

/// Starts Prometheus scraping every second `targets`: (scrape job name,
/// address serving `/metrics`, the file of the bearer token it wants if
/// any), each with `honor_labels` as deploy/prometheus/prometheus.yml has
/// it; waits until it is ready.
fn start_prometheus(targets: &[(&str, SocketAddr, Option<&Path>)]) -> Prometheus {
    let binary = prometheus_binary();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for (name, addr, token) in targets {
        let _ = write!(
            config,
            "  - job_name: {name}\n    honor_labels: true\n    static_configs:\n      - targets: [\"{addr}\"]\n"
        );
        if let Some(token) = token {
            let _ = write!(
                config,
                "    authorization:\n      credentials_file: {}\n",
                token.display()
            );
        }
    }
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, config).expect("writing prometheus.yml");
    let log = dir.path().join("prometheus.log");
    let port = free_tcp_port();
    let child = Command::new(&binary)
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("creating the Prometheus log"))
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
    let mut prometheus = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = agent()
            .get(&format!("{}/-/ready", prometheus.url))
            .call()
            .is_ok_and(|response| response.status() == 200);
        if ready {
            return prometheus;
        }
        if let Ok(Some(exit)) = prometheus.child.try_wait() {
            panic!("Prometheus exited ({exit}):\n{}", prometheus.log_tail());
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus was not ready within 30 s:\n{}",
            prometheus.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Prometheus {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// A sample of an instant query: its labels and value.
type Sample = (BTreeMap<String, String>, f64);

/// Evaluates `expr` now through `/api/v1/query`.
fn query(prometheus: &Prometheus, expr: &str) -> Result<Vec<Sample>, String> {
    let body: serde_json::Value = agent()
        .get(&format!("{}/api/v1/query", prometheus.url))
        .query("query", expr)
        .call()
        .and_then(|mut response| response.body_mut().read_json())
        .map_err(|error| format!("querying {expr:?}: {error}"))?;
    if body["status"] != "success" {
        return Err(format!("{expr:?} failed: {body}"));
    }
    let result = body["data"]["result"]
        .as_array()
        .ok_or_else(|| format!("{expr:?}: not a vector: {body}"))?;
    result
        .iter()
        .map(|sample| {
            let labels = sample["metric"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            // "value": [timestamp, "42"]
            let value = sample["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{expr:?}: no value in {sample}"))?;
            Ok((labels, value))
        })
        .collect()
}

/// The single value `expr` evaluates to now.
fn value(prometheus: &Prometheus, expr: &str) -> Result<f64, String> {
    match query(prometheus, expr)?.as_slice() {
        [(_, value)] => Ok(*value),
        samples => Err(format!(
            "{expr:?} gave {} samples, not one: {samples:?}",
            samples.len()
        )),
    }
}

/// Polls until `check` returns Ok (then returns it) or PATIENCE passed
/// (then fails with `what` and the last error).
fn eventually<T>(prometheus: &Prometheus, what: &str, check: impl Fn() -> Result<T, String>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match check() {
            Ok(found) => return found,
            Err(last) if Instant::now() >= deadline => panic!(
                "{what}: not so after {PATIENCE:?}; last: {last}\nPrometheus log:\n{}",
                prometheus.log_tail()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Waits until `expr` evaluates to the single value `expected`.
fn wait_for(prometheus: &Prometheus, expr: &str, expected: f64) {
    eventually(prometheus, &format!("{expr} == {expected}"), || {
        let found = value(prometheus, expr)?;
        if found == expected {
            Ok(())
        } else {
            Err(format!("{expr} = {found}"))
        }
    });
}

/// Waits until the per-task shuffle counter `task_metric` summed over job
/// `id` equals the shuffle node's `node_metric` scraped by `scrape_job`,
/// and is positive; returns the value.
fn wait_for_shuffle_bytes(
    prometheus: &Prometheus,
    id: &str,
    task_metric: &str,
    node_metric: &str,
    scrape_job: &str,
) -> f64 {
    let tasks = format!(r#"sum({task_metric}{{job="{id}"}})"#);
    let node = format!(r#"{node_metric}{{job="{scrape_job}"}}"#);
    eventually(prometheus, &format!("{tasks} == {node} > 0"), || {
        let (by_tasks, by_node) = (value(prometheus, &tasks)?, value(prometheus, &node)?);
        if by_tasks == by_node && by_tasks > 0.0 {
            Ok(by_tasks)
        } else {
            Err(format!(
                "{tasks} = {by_tasks}, {node} = {by_node} (node - tasks = {})",
                by_node - by_tasks
            ))
        }
    })
}

/// What Prometheus must hold of job `id` (whose status the REST API gave
/// as `status`) after it finished.
fn assert_job_series(prometheus: &Prometheus, id: &str, status: &serde_json::Value) {
    let rows = ROWS as f64;
    let tasks = (MAPS + REDUCES) as f64;
    // The vertex labels are the chain names the REST API reports.
    let expected = BTreeMap::from([("agg+out".to_string(), REDUCES), ("rows".to_string(), MAPS)]);
    assert_eq!(subtasks_per_vertex(status), expected, "{status:#}");
    let per_vertex = format!(r#"count by (vertex) (faro_task_records_in_total{{job="{id}"}})"#);
    eventually(prometheus, &per_vertex, || {
        let found: BTreeMap<String, usize> = query(prometheus, &per_vertex)?
            .into_iter()
            .map(|(labels, n)| {
                (
                    labels.get("vertex").cloned().unwrap_or_default(),
                    n as usize,
                )
            })
            .collect();
        if found == expected {
            Ok(())
        } else {
            Err(format!("{found:?}, not {expected:?}"))
        }
    });

    // Every generated row left the map stage (16 bytes a row: two integer
    // columns) and reached the reduce stage; each subtask ran once, and
    // finished; nothing ran again.
    let expectations = [
        (
            r#"sum(faro_task_records_out_total{job="ID",vertex="rows"})"#,
            rows,
        ),
        (
            r#"sum(faro_task_bytes_out_total{job="ID",vertex="rows"})"#,
            rows * 16.0,
        ),
        (
            r#"sum(faro_task_records_in_total{job="ID",vertex=~"agg.*"})"#,
            rows,
        ),
        (r#"sum(faro_job_task_attempts_total{job="ID"})"#, tasks),
        (r#"count(faro_job_task_attempts_total{job="ID"})"#, tasks),
        (r#"sum(faro_job_reruns_total{job="ID"})"#, 0.0),
        (
            r#"sum(faro_worker_attempts_total{job="ID",outcome="finished"})"#,
            tasks,
        ),
        (r#"sum(faro_worker_attempts_total{job="ID"})"#, tasks),
        (r#"faro_job_state{job="ID",state="finished"}"#, 1.0),
        (r#"sum(faro_job_state{job="ID"})"#, 1.0),
    ];
    for (expr, expected) in expectations {
        wait_for(prometheus, &expr.replace("ID", id), expected);
    }
}

/// What Prometheus must hold of the scheduler scraped as `scrape_job`
/// after one job: one worker, one finished job of 6 attempts.
fn assert_scheduler_series(prometheus: &Prometheus, scrape_job: &str) {
    let tasks = (MAPS + REDUCES) as f64;
    let expectations = [
        (r#"faro_scheduler_workers{job="SCRAPE"}"#, 1.0),
        (r#"faro_scheduler_jobs{job="SCRAPE",state="finished"}"#, 1.0),
        (r#"sum(faro_scheduler_jobs{job="SCRAPE"})"#, 1.0),
        (r#"faro_scheduler_task_attempts_total{job="SCRAPE"}"#, tasks),
    ];
    for (expr, expected) in expectations {
        wait_for(prometheus, &expr.replace("SCRAPE", scrape_job), expected);
    }
}

#[test]
fn prometheus_scrapes_what_the_jobs_did() {
    let started = Instant::now();
    // Fail first, and clearly, without the server.
    prometheus_binary();
    let cluster = start_cluster();
    let (_local, local) = start_local();
    // The scheduler's and the worker's series name jobs: they want the
    // cluster's token (`faro local` on loopback, and the shuffle node, do
    // not).
    for addr in [cluster.scheduler, cluster.worker_metrics] {
        let status = agent()
            .get(&format!("http://{addr}/metrics"))
            .call()
            .map(|response| response.status().as_u16());
        assert_eq!(
            status.ok(),
            Some(401),
            "{addr} serves metrics without a token"
        );
    }
    let token = Some(cluster._setup.token_file.as_path());
    let prometheus = start_prometheus(&[
        ("faro-local", local, None),
        ("faro-shuffle", cluster.node_metrics, None),
        ("faro-scheduler", cluster.scheduler, token),
        ("faro-worker", cluster.worker_metrics, token),
    ]);

    // Every target is up (the `up` series keeps the scrape job's name:
    // Faro sets no `job` label on it).
    for scrape_job in [
        "faro-local",
        "faro-shuffle",
        "faro-scheduler",
        "faro-worker",
    ] {
        wait_for(&prometheus, &format!(r#"up{{job="{scrape_job}"}}"#), 1.0);
    }
    wait_for(&prometheus, "count(up)", 4.0);
    wait_for(&prometheus, r#"faro_worker_slots{job="faro-worker"}"#, 2.0);

    // One job on each scheduler, running at the same time.
    let spec = distinct_per_key(ROWS);
    let cluster_url = format!("http://{}", cluster.scheduler);
    let local_url = format!("http://{local}");
    let on_cluster = submit(&cluster_url, &spec);
    // Job ids carry a tag random per scheduler: two schedulers never
    // choose the same one (whose series, told apart only by `instance`,
    // the sums below would mix), even within one millisecond.
    let on_local = submit(&local_url, &spec);
    assert_ne!(
        on_cluster, on_local,
        "both schedulers chose the same job id"
    );
    let cluster_status = finished(&cluster_url, &on_cluster);
    let local_status = finished(&local_url, &on_local);
    eprintln!("jobs finished after {:?}", started.elapsed());

    assert_job_series(&prometheus, &on_cluster, &cluster_status);
    assert_job_series(&prometheus, &on_local, &local_status);
    assert_scheduler_series(&prometheus, "faro-scheduler");
    assert_scheduler_series(&prometheus, "faro-local");
    // Nothing runs any more.
    wait_for(&prometheus, "sum(faro_worker_running_attempts)", 0.0);

    // The bytes the tasks pushed to and fetched from the shuffle service
    // are what it stored and served (one job each, one replica), and a
    // clean job had nothing refused.
    for (id, scrape_job) in [(&on_cluster, "faro-shuffle"), (&on_local, "faro-local")] {
        wait_for(
            &prometheus,
            &format!(r#"faro_shuffle_refused_total{{job="{scrape_job}"}}"#),
            0.0,
        );
        let pushed = wait_for_shuffle_bytes(
            &prometheus,
            id,
            "faro_task_shuffle_bytes_pushed_total",
            "faro_shuffle_bytes_pushed_total",
            scrape_job,
        );
        let fetched = wait_for_shuffle_bytes(
            &prometheus,
            id,
            "faro_task_shuffle_bytes_fetched_total",
            "faro_shuffle_bytes_fetched_total",
            scrape_job,
        );
        // Every stored byte was fetched once, by one reduce subtask.
        assert_eq!(pushed, fetched, "{scrape_job}");
        // At least the rows' 16 bytes each crossed the shuffle.
        assert!(pushed >= (ROWS * 16) as f64, "{scrape_job}: {pushed}");
        // The finished job's shuffle was deleted (`bytes_stored` counts
        // what is on disk: each record's payload, 32-byte header and
        // padding).
        wait_for(
            &prometheus,
            &format!(r#"faro_shuffle_shuffles{{job="{scrape_job}"}}"#),
            0.0,
        );
        wait_for(
            &prometheus,
            &format!(r#"faro_shuffle_bytes_stored{{job="{scrape_job}"}}"#),
            0.0,
        );
    }
    eprintln!("done after {:?}", started.elapsed());
}
