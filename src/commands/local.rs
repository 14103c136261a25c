//! `faro local`: the embedded cluster (a shuffle node and a worker) with
//! the scheduler's REST API and web UI in front, serving until SIGTERM or
//! Ctrl-C ([`serve`] is also what `faro run --ui` runs its job on).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use faro_scheduler::service::SchedulerConfig;
use faro_scheduler::store::Store;
use faro_scheduler::{Embedded, Scheduler};

/// Options of `faro local`.
#[derive(clap::Args, Debug)]
pub struct LocalArgs {
    /// Address of the REST API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where jobs' metadata and shuffle data live [default: a temporary
    /// directory, gone when the process stops].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Slots of the embedded worker [default: one per core].
    #[arg(long)]
    slots: Option<usize>,
    /// Require `Authorization: Bearer TOKEN` on every /v1 call and
    /// /metrics [needed unless --listen is a loopback address].
    #[arg(long, env = "FARO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File whose content is the bearer token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Serve the API with no token on a non-loopback address.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Rows of a job's `collect` result kept for `GET /v1/jobs/{id}/result`.
    #[arg(long, default_value_t = 100_000)]
    result_rows: usize,
    #[command(flatten)]
    access: super::job_access::JobAccessArgs,
}

/// Serves until stopped.
pub fn run(args: &LocalArgs) -> anyhow::Result<()> {
    let slots = super::slots_or_cores(args.slots);
    let access = args.access.policy()?;
    // On loopback only this machine's users reach the API; elsewhere it
    // wants a token, as a cluster's does.
    let api = super::cluster_config::api_access(
        args.token.clone(),
        args.token_file.as_deref(),
        args.insecure_no_auth,
        !args.listen.ip().is_loopback(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = SchedulerConfig {
            result_rows: args.result_rows,
            ..SchedulerConfig::default()
        };
        let served = serve(
            args.listen,
            args.data_dir.as_deref(),
            slots,
            access,
            api,
            config,
        )?;
        println!("faro local: REST API on http://{}", served.address);
        super::shuffle_service::shutdown_signal().await?;
        tracing::info!("shutting down");
        Ok(())
    })
}

/// An embedded cluster behind the scheduler's REST API and web UI, until
/// dropped.
pub struct Served {
    /// Where the API and the UI listen.
    pub address: SocketAddr,
    /// The scheduler.
    pub scheduler: std::sync::Arc<Scheduler>,
    /// The data directory, when it is a temporary one (removed with it).
    _temporary: Option<tempfile::TempDir>,
}

/// Starts the embedded cluster (its data in `data_dir`, or in a temporary
/// directory) and the scheduler's API on `listen`; must run on a Tokio
/// runtime.
pub fn serve(
    listen: SocketAddr,
    data_dir: Option<&Path>,
    slots: usize,
    access: faro_runtime::access::AccessPolicy,
    api: faro_scheduler::auth::ApiAccess,
    config: SchedulerConfig,
) -> anyhow::Result<Served> {
    let temporary = match data_dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("faro-local-").tempdir()?),
    };
    let dir = match (data_dir, &temporary) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => anyhow::bail!("no data directory"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let store = Store::open(&dir.join("jobs.redb"))?;
    let (cluster, node) = Embedded::start(slots, Some(&dir), access)?.into_parts();
    let scheduler = Scheduler::new(store, cluster, Some(node), config)?;
    let address = faro_scheduler::rest::serve(listen, scheduler.clone(), api)
        .with_context(|| format!("binding the REST API on {listen}"))?;
    tracing::info!(slots, data_dir = %dir.display(), "embedded cluster up");
    Ok(Served {
        address,
        scheduler,
        _temporary: temporary,
    })
}
