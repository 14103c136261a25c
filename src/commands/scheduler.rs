//! `faro scheduler`: the standalone scheduler. Serves the REST API over
//! HTTP on `--listen` (TCP) and the workers' control connections over
//! QUIC on the same address (UDP, or `--control`); runs jobs on the workers
//! that register, with the shuffle service nodes from its configuration;
//! keeps job metadata in redb under `--data-dir`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use faro_scheduler::checkpoints::CheckpointHub;
use faro_scheduler::detector::Detection;
use faro_scheduler::driver::Cluster;
use faro_scheduler::failover::FailoverPolicy;
use faro_scheduler::ranges::Samples;
use faro_scheduler::service::SchedulerConfig;
use faro_scheduler::shuffle::ShuffleService;
use faro_scheduler::store::Store;
use faro_scheduler::workers::Workers;
use faro_scheduler::Scheduler;
use faro_shuffle::ClusterSecret;
use faro_transport::Endpoint;
use serde::Deserialize;

use super::cluster_config::{api_access, load_file, required, transport, IdentityPaths};
use faro_scheduler::auth::ApiAccess;

/// Options of `faro scheduler`. Each may instead be set in the `--config`
/// file (TOML, same names with `_`); a flag wins over the file.
#[derive(clap::Args, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerArgs {
    /// TOML file with any of the settings below.
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Check the configuration (files readable, identity, secret, node
    /// addresses) and exit.
    #[arg(long)]
    #[serde(skip)]
    check: bool,
    /// Address of the REST API (TCP) and, unless `--control` is given, of
    /// the workers' control endpoint (UDP) [default: 0.0.0.0:7070].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// UDP address for the workers' control connections.
    #[arg(long)]
    control: Option<SocketAddr>,
    /// Directory of the job metadata store.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where checkpoints are written: a directory every worker reaches
    /// (a local or shared file system), or an S3 bucket as
    /// `s3://BUCKET/PREFIX?endpoint=URL&region=R` (credentials as
    /// `&access_key_id=K&secret_access_key=S`, or each process's `AWS_*`
    /// environment) [default: DATA_DIR/checkpoints].
    #[arg(long)]
    checkpoint_dir: Option<String>,
    /// Directory savepoints are copied to, which a job started from one
    /// must reach on every worker [default: DATA_DIR/savepoints].
    #[arg(long)]
    savepoint_dir: Option<PathBuf>,
    /// A shuffle-service node as NAME=HOST:PORT (repeat for each node).
    #[arg(long = "shuffle-node")]
    shuffle_nodes: Option<Vec<String>>,
    /// Copies of each shuffle partition [default: 1].
    #[arg(long)]
    replicas: Option<usize>,
    /// This process's certificate chain (PEM).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The cluster CA (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// File holding the cluster secret job tokens are derived from.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// The bearer token every /v1 call and /metrics need
    /// (`Authorization: Bearer TOKEN`); prefer --token-file.
    #[arg(long, env = "FARO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File whose content is the bearer token (`faro identity` writes one
    /// as `api-token`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Serve the REST API and /metrics to anyone who can reach them, with
    /// no token.
    #[arg(long)]
    #[serde(default)]
    insecure_no_auth: bool,
    /// Rows of a job's `collect` result kept [default: 100000].
    #[arg(long)]
    result_rows: Option<usize>,
    /// Bytes (as JSON) of a job's `collect` result kept [default: 67108864].
    #[arg(long)]
    result_bytes: Option<usize>,
    /// How often workers heartbeat [default: 100].
    #[arg(long)]
    heartbeat_interval_ms: Option<u64>,
    /// Suspect a silent worker once the failure detector's phi (-log10 of
    /// the chance a heartbeat comes this late) reaches this [default: 8].
    #[arg(long)]
    suspect_phi: Option<f64>,
    /// A pause a healthy worker may take beyond its usual heartbeat spread
    /// [default: 200].
    #[arg(long)]
    heartbeat_pause_ms: Option<u64>,
    /// How long a suspected worker has to answer a probe before it is
    /// lost [default: 250].
    #[arg(long)]
    probe_timeout_ms: Option<u64>,
    /// A worker silent this long is lost whatever the detector says
    /// [default: 10000].
    #[arg(long)]
    heartbeat_timeout_ms: Option<u64>,
    /// Attempts per subtask, the first included [default: 4].
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Wait before the first re-run, doubling after [default: 500].
    #[arg(long)]
    backoff_ms: Option<u64>,
    /// Use loopback transport tuning (all peers on this machine).
    #[arg(long)]
    #[serde(default)]
    loopback: bool,
}

fn parse_node(text: &str) -> anyhow::Result<(String, SocketAddr)> {
    let (name, addr) = text
        .split_once('=')
        .with_context(|| format!("shuffle node {text:?} is not NAME=HOST:PORT"))?;
    // A name (a StatefulSet pod's DNS name, say) is resolved once, here.
    use std::net::ToSocketAddrs;
    let addr = addr
        .to_socket_addrs()
        .with_context(|| format!("shuffle node {name}: {addr:?} is not a reachable HOST:PORT"))?
        .next()
        .with_context(|| format!("shuffle node {name}: {addr:?} resolves to no address"))?;
    Ok((name.to_string(), addr))
}

/// Everything the scheduler needs, resolved and loaded.
struct Resolved {
    listen: SocketAddr,
    control: Option<SocketAddr>,
    data_dir: PathBuf,
    nodes: Vec<(String, SocketAddr)>,
    replicas: usize,
    identity: IdentityPaths,
    secret: ClusterSecret,
    access: ApiAccess,
    config: SchedulerConfig,
    detection: Detection,
    loopback: bool,
}

fn resolve(flags: &SchedulerArgs) -> anyhow::Result<Resolved> {
    let file: SchedulerArgs = load_file(flags.config.as_deref())?;
    let detection = detection(flags, &file)?;
    let heartbeat_timeout = detection.ceiling;
    let nodes = flags
        .shuffle_nodes
        .clone()
        .or(file.shuffle_nodes)
        .unwrap_or_default()
        .iter()
        .map(|n| parse_node(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let secret_file = required(flags.secret_file.clone(), file.secret_file, "secret_file")?;
    let secret = std::fs::read(&secret_file)
        .with_context(|| format!("reading the cluster secret {}", secret_file.display()))?;
    anyhow::ensure!(
        secret.len() >= 16,
        "the cluster secret in {} is shorter than 16 bytes",
        secret_file.display()
    );
    let max_attempts = flags.max_attempts.or(file.max_attempts).unwrap_or(4);
    anyhow::ensure!(max_attempts >= 1, "max_attempts must be at least 1");
    let backoff = Duration::from_millis(flags.backoff_ms.or(file.backoff_ms).unwrap_or(500));
    Ok(Resolved {
        listen: match flags.listen.or(file.listen) {
            Some(listen) => listen,
            None => "0.0.0.0:7070".parse()?,
        },
        control: flags.control.or(file.control),
        data_dir: required(flags.data_dir.clone(), file.data_dir, "data_dir")?,
        nodes,
        replicas: flags.replicas.or(file.replicas).unwrap_or(1),
        identity: IdentityPaths {
            cert: required(flags.cert.clone(), file.cert, "cert")?,
            key: required(flags.key.clone(), file.key, "key")?,
            ca: required(flags.ca.clone(), file.ca, "ca")?,
        },
        secret: ClusterSecret::new(&secret),
        access: api_access(
            flags.token.clone().or(file.token),
            flags.token_file.as_deref().or(file.token_file.as_deref()),
            flags.insecure_no_auth || file.insecure_no_auth,
            true,
        )?,
        config: SchedulerConfig {
            result_rows: flags.result_rows.or(file.result_rows).unwrap_or(100_000),
            result_bytes: flags.result_bytes.or(file.result_bytes).unwrap_or(64 << 20),
            policy: FailoverPolicy {
                max_attempts,
                backoff,
                max_backoff: backoff.max(Duration::from_secs(10)),
            },
            worker_patience: heartbeat_timeout.max(Duration::from_secs(30)),
        },
        detection,
        loopback: flags.loopback || file.loopback,
    })
}

/// The failure detector's settings, each from the flag, else the file,
/// else [`Detection::default`].
fn detection(flags: &SchedulerArgs, file: &SchedulerArgs) -> anyhow::Result<Detection> {
    let defaults = Detection::default();
    let ms = |flag: Option<u64>, from_file: Option<u64>, default: Duration| {
        flag.or(from_file).map_or(default, Duration::from_millis)
    };
    let detection = Detection {
        interval: ms(
            flags.heartbeat_interval_ms,
            file.heartbeat_interval_ms,
            defaults.interval,
        ),
        phi: flags
            .suspect_phi
            .or(file.suspect_phi)
            .unwrap_or(defaults.phi),
        pause: ms(
            flags.heartbeat_pause_ms,
            file.heartbeat_pause_ms,
            defaults.pause,
        ),
        probe: ms(
            flags.probe_timeout_ms,
            file.probe_timeout_ms,
            defaults.probe,
        ),
        ceiling: ms(
            flags.heartbeat_timeout_ms,
            file.heartbeat_timeout_ms,
            defaults.ceiling,
        ),
    };
    anyhow::ensure!(
        detection.ceiling >= Duration::from_millis(100),
        "heartbeat_timeout_ms must be at least 100"
    );
    anyhow::ensure!(
        detection.interval >= Duration::from_millis(10) && detection.interval * 2 <= detection.ceiling,
        "heartbeat_interval_ms must be at least 10 and at most half of heartbeat_timeout_ms ({} ms)",
        detection.ceiling.as_millis()
    );
    anyhow::ensure!(
        detection.phi > 0.0,
        "suspect_phi must be above 0 (it is {})",
        detection.phi
    );
    anyhow::ensure!(
        detection.probe >= Duration::from_millis(10),
        "probe_timeout_ms must be at least 10"
    );
    Ok(detection)
}

/// A port free for both TCP (the REST API) and UDP (control) on `ip`,
/// for `--listen HOST:0`.
fn free_port_pair(listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    for _ in 0..64 {
        let tcp = std::net::TcpListener::bind(listen)?;
        let candidate = tcp.local_addr()?;
        if std::net::UdpSocket::bind(candidate).is_ok() {
            return Ok(candidate);
        }
    }
    anyhow::bail!("no port on {} is free for both TCP and UDP", listen.ip())
}

/// Runs the scheduler until SIGTERM or Ctrl-C.
pub fn run(args: &SchedulerArgs) -> anyhow::Result<()> {
    let resolved = resolve(args)?;
    let tls = resolved.identity.load()?;
    if args.check {
        println!("faro scheduler: configuration ok");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        std::fs::create_dir_all(&resolved.data_dir)
            .with_context(|| format!("creating {}", resolved.data_dir.display()))?;
        let store = Store::open(&resolved.data_dir.join("jobs.redb"))?;
        let listen = match resolved.control {
            None if resolved.listen.port() == 0 => free_port_pair(resolved.listen)?,
            _ => resolved.listen,
        };
        let control_addr = resolved.control.unwrap_or(listen);
        let endpoint = Endpoint::bind(control_addr, &tls, transport(resolved.loopback))
            .with_context(|| format!("binding the control endpoint {control_addr}"))?;
        let control = endpoint.local_addr()?;
        let workers = Workers::new(resolved.detection);
        let samples = Samples::new();
        let checkpoint_dir = args
            .checkpoint_dir
            .clone()
            .unwrap_or_else(|| resolved.data_dir.join("checkpoints").display().to_string());
        faro_runtime::checkpoint::CheckpointStorage::new(&checkpoint_dir)
            .with_context(|| "--checkpoint-dir".to_string())?;
        let savepoint_dir = args
            .savepoint_dir
            .clone()
            .unwrap_or_else(|| resolved.data_dir.join("savepoints"));
        let checkpoints = std::sync::Arc::new(CheckpointHub::new(
            checkpoint_dir,
            savepoint_dir,
        ));
        tokio::spawn(faro_scheduler::standalone::serve_control(
            endpoint.clone(),
            workers.clone(),
            samples.clone(),
            checkpoints.clone(),
        ));
        let shuffle = (!resolved.nodes.is_empty()).then(|| {
            std::sync::Arc::new(ShuffleService::new(
                resolved.nodes.clone(),
                resolved.replicas,
                resolved.secret.clone(),
                endpoint.clone(),
            ))
        });
        let cluster = Cluster {
            workers,
            shuffle,
            max_frame: faro_transport::TransportOptions::default().buffer_size,
            samples,
            slots: faro_scheduler::slots::SlotPool::new(),
            checkpoints,
        };
        let scheduler = Scheduler::new(store, cluster, None, resolved.config.clone())?;
        let bound = faro_scheduler::rest::serve(listen, scheduler, resolved.access.clone())
            .with_context(|| format!("binding the REST API on {listen}"))?;
        println!("faro scheduler: REST API on http://{bound}, workers connect to {control}");
        tracing::info!(data_dir = %resolved.data_dir.display(), shuffle_nodes = resolved.nodes.len(), "scheduler up");
        super::shuffle_service::shutdown_signal().await?;
        tracing::info!("shutting down");
        endpoint.close();
        Ok(())
    })
}
