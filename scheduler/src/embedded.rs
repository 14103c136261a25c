//! The embedded cluster: a shuffle node and workers in this process, on
//! temporary (or given) directories, with an in-memory CA. `faro run`
//! runs one job on it; `faro local` serves the REST API in front of it.

use std::path::Path;
use std::sync::Arc;

use faro_runtime::deploy::ShuffleAccess;
use faro_runtime::runner::{run_job, JobEnv, JobOutput, RunError};
use faro_runtime::spec::ValidJob;
use faro_runtime::worker::Worker;
use faro_shuffle::storage::IoPreference;
use faro_shuffle::{ClusterSecret, ShuffleServer};
use faro_transport::{Endpoint, LocalCa, TransportOptions};

/// Why the embedded cluster cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A part failed to start.
    #[error("embedded cluster: {0}")]
    Start(String),
}

fn start_error(e: impl std::fmt::Display) -> EmbeddedError {
    EmbeddedError::Start(e.to_string())
}

/// A shuffle node and workers in this process.
pub struct Embedded {
    _temp: Option<tempfile::TempDir>,
    secret: ClusterSecret,
    node_addr: std::net::SocketAddr,
    _node: Endpoint,
    shuffle: Arc<ShuffleServer>,
    workers: Vec<Worker>,
}

impl Embedded {
    /// Starts a shuffle node and one worker with `slots` slots, keeping
    /// data under `dir` (a temporary directory if `None`). Must be called
    /// within a multi-threaded tokio runtime.
    pub fn start(slots: usize, dir: Option<&Path>) -> Result<Self, EmbeddedError> {
        let temp = match dir {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("faro-")
                    .tempdir()
                    .map_err(start_error)?,
            ),
        };
        let dir = match (&temp, dir) {
            (Some(t), _) => t.path().to_path_buf(),
            (None, Some(d)) => d.to_path_buf(),
            (None, None) => return Err(start_error("no directory")),
        };
        let mut seed = [0u8; 32];
        random_bytes(&mut seed);
        let secret = ClusterSecret::new(&seed);
        let tls = LocalCa::generate()
            .and_then(|ca| ca.issue(&["localhost"]))
            .map_err(start_error)?
            .tls_config();
        let loopback = "127.0.0.1:0".parse().map_err(start_error)?;
        let node =
            Endpoint::bind(loopback, &tls, TransportOptions::loopback()).map_err(start_error)?;
        let node_addr = node.local_addr().map_err(start_error)?;
        let shuffle = Arc::new(
            ShuffleServer::open(&dir.join("shuffle"), secret.clone(), IoPreference::Auto)
                .map_err(start_error)?,
        );
        tokio::spawn(shuffle.clone().serve(node.clone()));
        let endpoint =
            Endpoint::bind(loopback, &tls, TransportOptions::loopback()).map_err(start_error)?;
        let worker = Worker::start(slots.max(1), Some(endpoint))
            .map_err(start_error)?
            .with_spill_root(&dir.join("spill"));
        Ok(Self {
            _temp: temp,
            secret,
            node_addr,
            _node: node,
            shuffle,
            workers: vec![worker],
        })
    }

    /// Slots over all workers.
    pub fn slots(&self) -> usize {
        self.workers.iter().map(Worker::slots).sum()
    }

    /// The shuffle node's QUIC address.
    pub fn shuffle_address(&self) -> std::net::SocketAddr {
        self.node_addr
    }

    /// The shuffle node (for its stats and metrics).
    pub fn shuffle(&self) -> &Arc<ShuffleServer> {
        &self.shuffle
    }

    /// Workers' data-plane addresses.
    pub fn worker_addresses(&self) -> Vec<Option<std::net::SocketAddr>> {
        self.workers.iter().map(Worker::address).collect()
    }

    /// Deletes `job_id`'s shuffle data (after a cancellation).
    pub fn delete_job(
        &self,
        job_id: &str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let endpoint = self.workers[0].endpoint().cloned();
        let node = self.node_addr;
        let job = job_id.to_string();
        let token = self.secret.token(job_id);
        async move {
            let Some(endpoint) = endpoint else { return };
            let deleted = async {
                let connection = endpoint
                    .connect(node, "localhost")
                    .await
                    .map_err(|e| e.to_string())?;
                faro_shuffle::ShuffleClient::new(connection, &job, &token)
                    .delete_job()
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Err(error) = deleted.await {
                tracing::warn!(%job, %error, "cannot delete the job's shuffle data");
            }
        }
    }

    /// Runs `job` as `job_id` to its end; its shuffle data is deleted
    /// afterwards, whatever the outcome.
    pub async fn run(&self, job_id: &str, job: &ValidJob) -> Result<JobOutput, RunError> {
        let env = JobEnv {
            job_id: job_id.to_string(),
            shuffle: Some(ShuffleAccess {
                nodes: vec![("embedded".into(), self.node_addr)],
                token: self.secret.token(job_id),
                replicas: 1,
            }),
            max_frame: TransportOptions::default().buffer_size,
        };
        let workers: Vec<&Worker> = self.workers.iter().collect();
        let result = run_job(job, &workers, &env).await;
        self.delete_job(job_id).await;
        result
    }
}

/// Fills `bytes` from the OS random source (time-derived if unavailable).
fn random_bytes(bytes: &mut [u8]) {
    use std::io::Read;
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(bytes))
        .is_err()
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (now >> (i % 16 * 8)) as u8 ^ i as u8;
        }
    }
}
