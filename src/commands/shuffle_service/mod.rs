//! `faro shuffle-service`: one shuffle node, deployed on its own.

mod config;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use faro_shuffle::tier::Tier;
use faro_shuffle::{ClusterSecret, ShuffleServer};
use faro_transport::{Endpoint, TlsConfig, TransportOptions};

use config::{DurabilityChoice, FileConfig, IoChoice, NodeConfig};

/// Options of `faro shuffle-service`. Each may instead be set in the
/// `--config` file (TOML, same names with `_`); a flag wins over the file.
#[derive(clap::Args, Debug)]
pub struct ShuffleServiceArgs {
    /// TOML file with any of the settings below, and `[tier]` (the
    /// object-store tier: `scheme` and `options`, as opendal names them).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Check the configuration (files readable, TLS identity, secret,
    /// object store reachable) and exit.
    #[arg(long)]
    check: bool,
    /// UDP address to serve QUIC on [default: 0.0.0.0:7077]. Port 0 picks
    /// one; the bound address is printed on the first line of stdout.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory holding partition files and commit logs.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Serve `GET /metrics` (Prometheus) and `GET /healthz` over HTTP here;
    /// the bound address is printed on the second line of stdout.
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// This node's certificate chain (PEM).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The cluster CA (PEM): peers must present certificates it signed.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// File holding the cluster secret job tokens are derived from.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Use loopback transport tuning (all peers on this machine).
    #[arg(long)]
    loopback: bool,
    /// How partition files are written: io_uring when the kernel allows
    /// it (auto, the default), io_uring or fail (uring), or write(2) (std).
    #[arg(long, value_enum)]
    io: Option<IoChoice>,
    /// What a commit waits for: the bytes handed to the kernel (written,
    /// the default, as Spark and Celeborn: survives the service being
    /// killed), synced to disk (synced: survives the machine failing), or
    /// held in memory (memory: survives neither; producers re-run).
    #[arg(long, value_enum)]
    durability: Option<DurabilityChoice>,
    /// MiB the memory tier holds under `--durability memory` before
    /// writing frames to disk [default: 2048].
    #[arg(long)]
    memory_budget_mb: Option<u64>,
    /// Delete a job's data once its owner has not heartbeated for this
    /// many seconds [default: 1800].
    #[arg(long)]
    job_ttl_secs: Option<u64>,
}

impl ShuffleServiceArgs {
    fn resolve(&self) -> anyhow::Result<NodeConfig> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let flags = FileConfig {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            metrics: self.metrics,
            cert: self.cert.clone(),
            key: self.key.clone(),
            ca: self.ca.clone(),
            secret_file: self.secret_file.clone(),
            loopback: self.loopback.then_some(true),
            io: self.io,
            durability: self.durability,
            memory_budget_mb: self.memory_budget_mb,
            job_ttl_secs: self.job_ttl_secs,
            tier: None,
        };
        NodeConfig::resolve(flags, file)
    }
}

/// Everything a node needs, loaded and checked.
struct Loaded {
    tls: TlsConfig,
    secret: ClusterSecret,
    tier: Option<Tier>,
}

fn load(config: &NodeConfig) -> anyhow::Result<Loaded> {
    let tls = TlsConfig::from_pem_files(&config.cert, &config.key, &config.ca)
        .context("loading the TLS identity")?;
    let secret = std::fs::read(&config.secret_file).with_context(|| {
        format!(
            "reading the cluster secret {}",
            config.secret_file.display()
        )
    })?;
    anyhow::ensure!(
        secret.len() >= 16,
        "the cluster secret in {} is shorter than 16 bytes",
        config.secret_file.display()
    );
    let tier = config
        .tier
        .as_ref()
        .map(Tier::open)
        .transpose()
        .context("opening the object-store tier")?;
    Ok(Loaded {
        tls,
        secret: ClusterSecret::new(&secret),
        tier,
    })
}

/// Runs the node until SIGTERM or Ctrl-C (or, with `--check`, checks the
/// configuration and returns).
pub fn run(args: &ShuffleServiceArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let loaded = load(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.check {
        if let Some(tier) = &loaded.tier {
            runtime
                .block_on(tier.operator().check())
                .context("checking the object-store tier")?;
        }
        println!("faro shuffle-service: configuration ok");
        return Ok(());
    }
    let mut server = ShuffleServer::open(&config.data_dir, loaded.secret, config.io.into())?
        .with_job_ttl(std::time::Duration::from_secs(config.job_ttl_secs))
        .with_durability(config.durability.into());
    // Only a memory node has a memory tier: a written or synced one
    // reports no budget rather than one it never uses.
    if config.durability == DurabilityChoice::Memory {
        server = server.with_memory_budget(config.memory_budget_mb.saturating_mul(1 << 20));
    }
    if let Some(tier) = loaded.tier {
        server = server.with_tier(tier);
    }
    let server = Arc::new(server);
    let options = if config.loopback {
        TransportOptions::loopback()
    } else {
        TransportOptions::default()
    };

    runtime.block_on(async {
        let endpoint = Endpoint::bind(config.listen, &loaded.tls, options)
            .with_context(|| format!("binding {}", config.listen))?;
        println!("faro shuffle-service listening on {}", endpoint.local_addr()?);
        if let Some(addr) = config.metrics {
            let render = server.clone();
            // The node's metrics name no jobs: they are served openly.
            let bound = crate::metrics_http::serve(
                addr,
                Arc::new(move || render.render_metrics()),
                faro_scheduler::auth::ApiAccess::Open,
            )?;
            println!("faro shuffle-service metrics on http://{bound}/metrics");
        }
        tracing::info!(data_dir = %config.data_dir.display(), shuffles = server.shuffle_count(), io = ?config.io, tier = ?config.tier.as_ref().map(|t| &t.scheme), "shuffle service up");
        let serving = tokio::spawn(server.serve(endpoint.clone()));
        shutdown_signal().await?;
        tracing::info!("shutting down");
        endpoint.close();
        serving.abort();
        Ok(())
    })
}

/// Waits for SIGTERM or Ctrl-C.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        result = tokio::signal::ctrl_c() => result?,
    }
    Ok(())
}
