//! `faro worker`: a worker process. Runs task attempts in `--slots` slots,
//! serves other workers' data channels on `--listen`, and keeps a control
//! connection to the scheduler (register, heartbeat, run and cancel
//! attempts), registering again whenever it loses it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use faro_runtime::worker::Worker;
use faro_transport::Endpoint;
use serde::Deserialize;

use super::cluster_config::{load_file, required, transport, IdentityPaths};

/// Options of `faro worker`. Each may instead be set in the `--config`
/// file (TOML, same names with `_`); a flag wins over the file.
#[derive(clap::Args, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerArgs {
    /// TOML file with any of the settings below.
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long)]
    #[serde(skip)]
    check: bool,
    /// The scheduler's control address (HOST:PORT, as it printed).
    #[arg(long)]
    scheduler: Option<String>,
    /// Slots [default: one per core].
    #[arg(long)]
    slots: Option<usize>,
    /// UDP address of the data endpoint [default: 0.0.0.0:0].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The address other workers reach this one at [default: the bound
    /// address].
    #[arg(long)]
    advertise: Option<SocketAddr>,
    /// Where operators spill [default: the system temp dir].
    #[arg(long)]
    spill_dir: Option<PathBuf>,
    /// A directory jobs may read under (repeat for more); without one,
    /// jobs may read no files on this worker.
    #[arg(long = "allow-read", value_name = "DIR")]
    allow_read: Option<Vec<PathBuf>>,
    /// A directory jobs may write under (repeat for more); without one,
    /// jobs may write no files on this worker.
    #[arg(long = "allow-write", value_name = "DIR")]
    allow_write: Option<Vec<PathBuf>>,
    /// A Kafka broker jobs may connect to, `HOST:PORT` as jobs name it
    /// (repeat for more); without one, jobs may reach no broker.
    #[arg(long = "allow-kafka", value_name = "HOST:PORT")]
    allow_kafka: Option<Vec<String>>,
    /// Serve `GET /metrics` (Prometheus) and `GET /healthz` over HTTP here.
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// The bearer token /metrics needs (its series name jobs); prefer
    /// --token-file.
    #[arg(long, env = "FARO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File whose content is the bearer token (the cluster's API token).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Serve /metrics to anyone who can reach it, with no token.
    #[arg(long)]
    #[serde(default)]
    insecure_no_auth: bool,
    /// This process's certificate chain (PEM).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The cluster CA (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Use loopback transport tuning (all peers on this machine).
    #[arg(long)]
    #[serde(default)]
    loopback: bool,
    /// Milliseconds a shuffle node may stay silent, holding credit to
    /// send, before a fetch moves to another replica [default: 2000].
    #[arg(long)]
    fetch_stall_ms: Option<u64>,
}

fn scheduler_addr(text: &str) -> anyhow::Result<SocketAddr> {
    let bare = text
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    use std::net::ToSocketAddrs;
    bare.to_socket_addrs()
        .with_context(|| format!("scheduler address {text:?} is not HOST:PORT"))?
        .next()
        .with_context(|| format!("scheduler address {text:?} resolves to nothing"))
}

/// Runs the worker until SIGTERM or Ctrl-C.
pub fn run(args: &WorkerArgs) -> anyhow::Result<()> {
    let file: WorkerArgs = load_file(args.config.as_deref())?;
    let scheduler = scheduler_addr(&required(
        args.scheduler.clone(),
        file.scheduler,
        "scheduler",
    )?)?;
    let identity = IdentityPaths {
        cert: required(args.cert.clone(), file.cert, "cert")?,
        key: required(args.key.clone(), file.key, "key")?,
        ca: required(args.ca.clone(), file.ca, "ca")?,
    };
    let tls = identity.load()?;
    let slots = super::slots_or_cores(args.slots.or(file.slots));
    anyhow::ensure!(slots >= 1, "slots must be at least 1");
    let listen = match args.listen.or(file.listen) {
        Some(listen) => listen,
        None => "0.0.0.0:0".parse()?,
    };
    let advertise = args.advertise.or(file.advertise);
    let spill_dir = args.spill_dir.clone().or(file.spill_dir);
    let metrics = args.metrics.or(file.metrics);
    let metrics_access = super::cluster_config::api_access(
        args.token.clone().or(file.token),
        args.token_file.as_deref().or(file.token_file.as_deref()),
        args.insecure_no_auth || file.insecure_no_auth,
        metrics.is_some(),
    )?;
    let loopback = args.loopback || file.loopback;
    let fetch_stall_ms = args.fetch_stall_ms.or(file.fetch_stall_ms);
    anyhow::ensure!(
        fetch_stall_ms.is_none_or(|ms| ms >= 100),
        "fetch_stall_ms must be at least 100"
    );
    let access = super::job_access::policy(
        &args
            .allow_read
            .clone()
            .or(file.allow_read)
            .unwrap_or_default(),
        &args
            .allow_write
            .clone()
            .or(file.allow_write)
            .unwrap_or_default(),
    )?
    .with_kafka(
        args.allow_kafka
            .clone()
            .or(file.allow_kafka)
            .unwrap_or_default(),
        false,
    );
    if args.check {
        println!("faro worker: configuration ok");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let endpoint = Endpoint::bind(listen, &tls, transport(loopback))
            .with_context(|| format!("binding the data endpoint {listen}"))?;
        let mut worker = Worker::start(slots, Some(endpoint.clone()))?.with_access(access);
        if let Some(advertise) = advertise {
            worker = worker.with_advertised(advertise);
        }
        if let Some(dir) = &spill_dir {
            worker = worker.with_spill_root(dir);
        }
        if let Some(stall) = fetch_stall_ms {
            worker = worker.with_fetch_stall(std::time::Duration::from_millis(stall));
        }
        anyhow::ensure!(
            !worker.id().starts_with("0.0.0.0") && !worker.id().starts_with("[::]"),
            "the worker listens on {} but other workers cannot reach that address; set --advertise",
            worker.id()
        );
        let worker = Arc::new(worker);
        if let Some(addr) = metrics {
            let scraped = worker.clone();
            let bound = crate::metrics_http::serve(
                addr,
                Arc::new(move || scraped.metrics().render()),
                metrics_access,
            )?;
            println!("faro worker: metrics on http://{bound}/metrics");
        }
        tracing::info!(id = %worker.id(), slots, %scheduler, "worker up");
        let serving = tokio::spawn(faro_scheduler::agent::serve_scheduler(
            worker.clone(),
            endpoint.clone(),
            scheduler,
        ));
        super::shuffle_service::shutdown_signal().await?;
        tracing::info!("shutting down");
        serving.abort();
        worker.cancel_all();
        endpoint.close();
        Ok(())
    })
}
