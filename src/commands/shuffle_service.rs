//! `faro shuffle-service`: one shuffle node, deployed on its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use faro_shuffle::storage::IoPreference;
use faro_shuffle::{ClusterSecret, ShuffleServer};
use faro_transport::{Endpoint, TlsConfig, TransportOptions};

/// Options of `faro shuffle-service`.
#[derive(clap::Args, Debug)]
pub struct ShuffleServiceArgs {
    /// UDP address to serve QUIC on (port 0 picks one; the bound address
    /// is printed on the first line of stdout).
    #[arg(long, default_value = "0.0.0.0:7077")]
    listen: SocketAddr,
    /// Directory holding partition files and commit logs.
    #[arg(long)]
    data_dir: PathBuf,
    /// This node's certificate chain (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// This node's private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// The cluster CA (PEM): peers must present certificates it signed.
    #[arg(long)]
    ca: PathBuf,
    /// File holding the cluster secret job tokens are derived from.
    #[arg(long)]
    secret_file: PathBuf,
    /// Use loopback transport tuning (all peers on this machine).
    #[arg(long)]
    loopback: bool,
    /// How partition files are written: io_uring when the kernel allows
    /// it (auto), io_uring or fail (uring), or plain write(2) (std).
    #[arg(long, value_enum, default_value = "auto")]
    io: IoChoice,
    /// Delete a job's data once its owner has not heartbeated for this long.
    #[arg(long, default_value_t = 1800)]
    job_ttl_secs: u64,
}

/// `--io` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum IoChoice {
    Auto,
    Uring,
    Std,
}

impl From<IoChoice> for IoPreference {
    fn from(choice: IoChoice) -> Self {
        match choice {
            IoChoice::Auto => IoPreference::Auto,
            IoChoice::Uring => IoPreference::Uring,
            IoChoice::Std => IoPreference::Std,
        }
    }
}

/// Runs the node until SIGTERM or Ctrl-C.
pub fn run(args: &ShuffleServiceArgs) -> anyhow::Result<()> {
    let tls = TlsConfig::from_pem_files(&args.cert, &args.key, &args.ca)
        .context("loading the TLS identity")?;
    let secret = std::fs::read(&args.secret_file)
        .with_context(|| format!("reading the cluster secret {}", args.secret_file.display()))?;
    anyhow::ensure!(
        secret.len() >= 16,
        "the cluster secret in {} is shorter than 16 bytes",
        args.secret_file.display()
    );
    let server = Arc::new(
        ShuffleServer::open(&args.data_dir, ClusterSecret::new(&secret), args.io.into())?
            .with_job_ttl(std::time::Duration::from_secs(args.job_ttl_secs)),
    );
    let options = if args.loopback {
        TransportOptions::loopback()
    } else {
        TransportOptions::default()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let endpoint = Endpoint::bind(args.listen, &tls, options).with_context(|| format!("binding {}", args.listen))?;
        println!("faro shuffle-service listening on {}", endpoint.local_addr()?);
        let io_path = faro_shuffle::storage::append_io::AppendIo::new(args.io.into())
            .map(|io| format!("{:?}", io.path()))
            .unwrap_or_else(|error| format!("unavailable ({error})"));
        tracing::info!(data_dir = %args.data_dir.display(), shuffles = server.shuffle_count(), io = %io_path, "shuffle service up");
        let serving = tokio::spawn(server.serve(endpoint.clone()));
        shutdown_signal().await?;
        tracing::info!("shutting down");
        endpoint.close();
        serving.abort();
        Ok(())
    })
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        result = tokio::signal::ctrl_c() => result?,
    }
    Ok(())
}
