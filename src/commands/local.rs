//! `faro local`: the embedded cluster (a shuffle node and a worker) with
//! the scheduler's REST API in front, serving until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

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
        let temp = match &args.data_dir {
            Some(_) => None,
            None => Some(tempfile::Builder::new().prefix("faro-local-").tempdir()?),
        };
        let dir = match (&args.data_dir, &temp) {
            (Some(dir), _) => dir.clone(),
            (None, Some(temp)) => temp.path().to_path_buf(),
            (None, None) => anyhow::bail!("no data directory"),
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = Store::open(&dir.join("jobs.redb"))?;
        let (cluster, node) = Embedded::start(slots, Some(&dir), access)?.into_parts();
        let config = SchedulerConfig {
            result_rows: args.result_rows,
            ..SchedulerConfig::default()
        };
        let scheduler = Scheduler::new(store, cluster, Some(node), config)?;
        let bound = faro_scheduler::rest::serve(args.listen, scheduler, api)
            .with_context(|| format!("binding the REST API on {}", args.listen))?;
        println!("faro local: REST API on http://{bound}");
        tracing::info!(slots, data_dir = %dir.display(), "embedded cluster up");
        super::shuffle_service::shutdown_signal().await?;
        tracing::info!("shutting down");
        Ok(())
    })
}
