//! The shuffle node: serves the [`crate::protocol`] over a transport
//! endpoint, on top of one [`ShuffleStore`] per registered shuffle.
//!
//! Data lives under `DATA_DIR/JOB/SHUFFLE/`. On start the node reopens
//! every shuffle it finds there (recovering torn tails, replaying commit
//! logs), so committed partitions survive a crash or restart. This module
//! owns the node's state and the accept loops; [`requests`] answers each
//! request; [`process`] reads the process's own resource use.

mod process;
mod requests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use faro_transport::{BufferPool, Endpoint, Handshake, IncomingChannel, Role, TransportError};
use prometheus::IntGauge;

use crate::expiry::ExpiryBook;
use crate::metrics::ShuffleMetrics;
use crate::protocol::{valid_job_id, Envelope, NodeStats};
use crate::storage::append_io::AppendIo;
use crate::storage::{Durability, IoPreference, MemoryBudget, ShuffleStore, StorageError};
use crate::tier::{Tier, UploadPlan};
use crate::token::ClusterSecret;

type ShuffleId = (String, u32);

/// A shuffle node's state, shared by all its connections.
pub struct ShuffleServer {
    data_dir: PathBuf,
    io: IoPreference,
    durability: Durability,
    /// The memory tier's budget (for [`Durability::Memory`] shuffles).
    memory: Option<Arc<MemoryBudget>>,
    secret: ClusterSecret,
    shuffles: Mutex<HashMap<ShuffleId, Arc<Mutex<ShuffleStore>>>>,
    metrics: ShuffleMetrics,
    pool: OnceLock<Arc<BufferPool>>,
    expiry: Mutex<ExpiryBook>,
    tier: Option<Tier>,
}

/// Jobs silent this long expire unless configured otherwise.
pub const DEFAULT_JOB_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Stops a background task when the owner goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts something (a connection, a channel) for as long as it lives.
struct Live(IntGauge);

impl Live {
    fn new(gauge: &IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn label(job: &str, shuffle: u32) -> String {
    format!("job {job} shuffle {shuffle}")
}

impl ShuffleServer {
    /// Opens the node's data directory and every shuffle stored in it;
    /// `io` picks how partition files are written.
    pub fn open(
        data_dir: &Path,
        secret: ClusterSecret,
        io: IoPreference,
    ) -> Result<Self, StorageError> {
        let io_failed = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| StorageError::Io {
                shuffle: "data directory".into(),
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(data_dir).map_err(io_failed("creating", data_dir))?;
        let io_path = AppendIo::new(io)
            .map_err(io_failed("setting up io_uring for", data_dir))?
            .path();
        tracing::info!(
            io = io_path.name(),
            "partition files are written with {}",
            io_path.name()
        );
        let mut shuffles = HashMap::new();
        // Jobs found on disk get a full TTL from now: their owner may be
        // alive and simply not have spoken to this node since its restart.
        let mut recovered_jobs = ExpiryBook::new(DEFAULT_JOB_TTL);
        for job in std::fs::read_dir(data_dir).map_err(io_failed("listing", data_dir))? {
            let job = job.map_err(io_failed("listing", data_dir))?;
            let Some(job_id) = job
                .file_name()
                .to_str()
                .filter(|id| valid_job_id(id))
                .map(str::to_string)
            else {
                continue;
            };
            for shuffle in
                std::fs::read_dir(job.path()).map_err(io_failed("listing", &job.path()))?
            {
                let shuffle = shuffle.map_err(io_failed("listing", &job.path()))?;
                let Some(id) = shuffle
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse::<u32>().ok())
                else {
                    continue;
                };
                let (store, recoveries) =
                    ShuffleStore::open(&shuffle.path(), &label(&job_id, id), io)?;
                let cut: u64 = recoveries.iter().map(|(_, recovery)| recovery.cut).sum();
                tracing::info!(job = %job_id, shuffle = id, committed_maps = store.book().committed_maps(), cut_bytes = cut, "recovered shuffle");
                shuffles.insert((job_id.clone(), id), Arc::new(Mutex::new(store)));
                recovered_jobs.touch(&job_id, std::time::Instant::now());
            }
        }
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            io,
            durability: Durability::default(),
            memory: None,
            secret,
            shuffles: Mutex::new(shuffles),
            metrics: ShuffleMetrics::new(io_path.name()),
            pool: OnceLock::new(),
            expiry: Mutex::new(recovered_jobs),
            tier: None,
        })
    }

    /// Expires jobs silent for longer than `ttl` (default
    /// [`DEFAULT_JOB_TTL`]).
    pub fn with_job_ttl(self, ttl: std::time::Duration) -> Self {
        lock(&self.expiry).set_ttl(ttl);
        self
    }

    /// What commits wait for, from now on (default
    /// [`Durability::Written`]).
    pub fn with_durability(self, durability: Durability) -> Self {
        for store in lock(&self.shuffles).values() {
            lock(store).set_durability(durability);
        }
        Self { durability, ..self }
    }

    /// Holds the frames of [`Durability::Memory`] shuffles in memory, up
    /// to `bytes` across the node; frames beyond it are written to disk.
    pub fn with_memory_budget(self, bytes: u64) -> Self {
        let budget = MemoryBudget::new(bytes);
        for store in lock(&self.shuffles).values() {
            lock(store).set_memory(budget.clone());
        }
        Self {
            memory: Some(budget),
            ..self
        }
    }

    /// Copies complete shuffles to `tier` and reads from it when a local
    /// partition file is gone.
    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// Deletes the data of jobs whose owner stopped heartbeating, checking
    /// a few times per TTL, until the server is dropped.
    async fn sweep_expired(self: Arc<Self>) {
        let ttl = lock(&self.expiry).ttl();
        let every = (ttl / 4).clamp(
            std::time::Duration::from_millis(100),
            std::time::Duration::from_secs(30),
        );
        loop {
            tokio::time::sleep(every).await;
            let expired = lock(&self.expiry).take_expired(std::time::Instant::now());
            for job in expired {
                tracing::info!(%job, ttl_secs = ttl.as_secs_f64(), "job expired: no heartbeat; deleting its shuffle data");
                if let Err(message) = self.delete_job(&job).await {
                    tracing::warn!(%job, %message, "cannot delete an expired job");
                }
            }
        }
    }

    /// The node's counters.
    pub fn stats(&self) -> NodeStats {
        let (mut open_partition_files, mut stored_bytes) = (0, 0);
        let shuffles = lock(&self.shuffles);
        for store in shuffles.values() {
            let store = lock(store);
            open_partition_files += store.open_files();
            stored_bytes += store.stored_bytes();
        }
        let metrics = &self.metrics;
        let (tier_uploads, tier_upload_failures) = metrics.tier_upload_counts();
        let count = |gauge: &IntGauge| usize::try_from(gauge.get()).unwrap_or(0);
        NodeStats {
            shuffles: shuffles.len(),
            open_partition_files,
            stored_bytes,
            memory_bytes: self.memory.as_ref().map_or(0, |m| m.used()),
            memory_budget_bytes: self.memory.as_ref().map_or(0, |m| m.limit()),
            active_channels: count(&metrics.active_channels),
            frames_pushed: metrics.frames_pushed.get(),
            bytes_pushed: metrics.bytes_pushed.get(),
            bytes_fetched: metrics.bytes_fetched.get(),
            tier_reads: metrics.tier_reads.get(),
            tier_uploads,
            tier_upload_failures,
            refused: metrics.refused.get(),
            connections: count(&metrics.connections),
            receive_buffers_in_use: self.pool.get().map_or(0, |pool| pool.stats().in_use),
            open_fds: process::open_fds(),
            cpu_millis: process::cpu_millis(),
            peak_rss_bytes: process::peak_rss_bytes(),
        }
    }

    /// Every metric in the Prometheus text format, for `GET /metrics`.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(&self.stats())
    }

    /// Shuffles currently held.
    pub fn shuffle_count(&self) -> usize {
        lock(&self.shuffles).len()
    }

    /// Serves connections from `endpoint` until it is closed.
    pub async fn serve(self: Arc<Self>, endpoint: Endpoint) {
        let _ = self.pool.set(endpoint.pool().clone());
        let sweeper = tokio::spawn(self.clone().sweep_expired());
        let _stop_sweeper = AbortOnDrop(sweeper);
        // Shuffles that completed before a restart may not have been
        // copied yet; the copy skips partitions already in the store.
        let complete: Vec<UploadPlan> = lock(&self.shuffles)
            .iter()
            .filter_map(|((job, shuffle), store)| upload_plan(job, *shuffle, &lock(store)))
            .collect();
        for plan in complete {
            self.start_upload(plan);
        }
        while let Some(handshake) = endpoint.accept_handshake().await {
            tokio::spawn(self.clone().serve_connection(handshake));
        }
    }

    async fn serve_connection(self: Arc<Self>, handshake: Handshake) {
        let peer = handshake.remote_address();
        let connection = match handshake.complete().await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%error, %peer, "connection refused");
                return;
            }
        };
        let _live = Live::new(&self.metrics.connections);
        loop {
            match connection.accept_channel().await {
                Ok(incoming) => {
                    tokio::spawn(self.clone().serve_channel(incoming));
                }
                Err(TransportError::ConnectionLost(reason)) => {
                    tracing::debug!(%reason, peer = %connection.remote_address(), "connection ended");
                    return;
                }
                Err(error) => tracing::warn!(%error, "bad channel"),
            }
        }
    }

    async fn serve_channel(self: Arc<Self>, incoming: IncomingChannel) {
        let _live = Live::new(&self.metrics.active_channels);
        let envelope = serde_json::from_slice::<Envelope>(incoming.payload())
            .map_err(|error| format!("malformed request: {error}"))
            .and_then(|envelope| self.authorize(envelope));
        let result = match (incoming.role(), envelope) {
            (Role::Push, Ok(envelope)) => match incoming.into_receiver() {
                Ok(rx) => self.serve_push(envelope, rx).await,
                Err(error) => Err(error.to_string()),
            },
            (Role::Pull, Ok(envelope)) => match incoming.into_sender() {
                Ok(tx) => self.serve_pull(envelope, tx).await,
                Err(error) => Err(error.to_string()),
            },
            (Role::Push, Err(message)) => match incoming.into_receiver() {
                Ok(rx) => {
                    rx.refuse(&message);
                    Err(message)
                }
                Err(error) => Err(error.to_string()),
            },
            (Role::Pull, Err(message)) => match incoming.into_sender() {
                Ok(tx) => tx
                    .refuse(&message)
                    .await
                    .map_err(|e| e.to_string())
                    .and(Err(message)),
                Err(error) => Err(error.to_string()),
            },
        };
        if let Err(message) = result {
            self.metrics.refused.inc();
            tracing::info!(%message, "request refused");
        }
    }

    fn authorize(&self, envelope: Envelope) -> Result<Envelope, String> {
        if !valid_job_id(&envelope.job) {
            return Err(format!(
                "invalid job id {:?}: use letters, digits, '-' and '_' (at most 64)",
                envelope.job
            ));
        }
        if !self.secret.verify(&envelope.job, &envelope.token) {
            return Err(format!("wrong token for job {}", envelope.job));
        }
        lock(&self.expiry).touch(&envelope.job, std::time::Instant::now());
        Ok(envelope)
    }

    fn store(&self, job: &str, shuffle: u32) -> Option<Arc<Mutex<ShuffleStore>>> {
        lock(&self.shuffles)
            .get(&(job.to_string(), shuffle))
            .cloned()
    }

    fn not_registered(job: &str, shuffle: u32) -> String {
        format!("{} is not registered on this node", label(job, shuffle))
    }

    /// Copies a complete shuffle to the tier in the background.
    fn start_upload(self: &Arc<Self>, plan: UploadPlan) {
        let Some(tier) = self.tier.clone() else {
            return;
        };
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            match tier.upload(&plan).await {
                Ok(bytes) => {
                    tracing::info!(job = %plan.job, shuffle = plan.shuffle, bytes, "shuffle copied to the object store");
                    metrics.tier_uploaded_bytes.inc_by(bytes);
                    metrics.tier_uploads.with_label_values(&["ok"]).inc();
                }
                Err(error) => {
                    tracing::warn!(job = %plan.job, shuffle = plan.shuffle, %error, "copying the shuffle to the object store failed");
                    metrics.tier_uploads.with_label_values(&["failed"]).inc();
                }
            }
        });
    }
}

/// What copying `store` needs, if it is complete and kept in files (a
/// memory shuffle is not meant to outlive the node).
fn upload_plan(job: &str, shuffle: u32, store: &ShuffleStore) -> Option<UploadPlan> {
    let in_files = store.durability() != Durability::Memory;
    (in_files && store.is_complete()).then(|| UploadPlan {
        job: job.to_string(),
        shuffle,
        shape: store.shape(),
        commits: store.book().commits(),
        files: store.partition_files(),
    })
}
