//! The shuffle node: serves the [`crate::protocol`] over a transport
//! endpoint, on top of one [`ShuffleStore`] per registered shuffle.
//!
//! Data lives under `DATA_DIR/JOB/SHUFFLE/`. On start the node reopens
//! every shuffle it finds there (recovering torn tails, replaying commit
//! logs), so committed partitions survive a crash or restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use faro_transport::{
    BufferPool, ChannelReceiver, ChannelSender, Connection, Endpoint, IncomingChannel, Role,
    TransportError,
};

use crate::expiry::ExpiryBook;
use crate::protocol::{valid_job_id, Envelope, NodeStats, Request, Response};
use crate::storage::{
    CommitPlan, IoPreference, PartitionFrames, RecordKey, ShuffleStore, StorageError,
};
use crate::token::ClusterSecret;

type ShuffleId = (String, u32);

/// A shuffle node's state, shared by all its connections.
pub struct ShuffleServer {
    data_dir: PathBuf,
    io: IoPreference,
    secret: ClusterSecret,
    shuffles: Mutex<HashMap<ShuffleId, Arc<Mutex<ShuffleStore>>>>,
    counters: Counters,
    pool: OnceLock<Arc<BufferPool>>,
    expiry: Mutex<ExpiryBook>,
}

/// Jobs silent this long expire unless configured otherwise.
pub const DEFAULT_JOB_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 60);

#[derive(Default)]
struct Counters {
    active_channels: AtomicUsize,
    frames_pushed: AtomicU64,
    bytes_pushed: AtomicU64,
    bytes_fetched: AtomicU64,
}

/// Stops a background task when the owner goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts a channel as active for as long as it lives.
struct ActiveChannel<'a>(&'a AtomicUsize);

impl<'a> ActiveChannel<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for ActiveChannel<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
            secret,
            shuffles: Mutex::new(shuffles),
            counters: Counters::default(),
            pool: OnceLock::new(),
            expiry: Mutex::new(recovered_jobs),
        })
    }

    /// Expires jobs silent for longer than `ttl` (default
    /// [`DEFAULT_JOB_TTL`]).
    pub fn with_job_ttl(self, ttl: std::time::Duration) -> Self {
        lock(&self.expiry).set_ttl(ttl);
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
        NodeStats {
            shuffles: shuffles.len(),
            open_partition_files,
            stored_bytes,
            active_channels: self.counters.active_channels.load(Ordering::Relaxed),
            frames_pushed: self.counters.frames_pushed.load(Ordering::Relaxed),
            bytes_pushed: self.counters.bytes_pushed.load(Ordering::Relaxed),
            bytes_fetched: self.counters.bytes_fetched.load(Ordering::Relaxed),
            receive_buffers_in_use: self.pool.get().map_or(0, |pool| pool.stats().in_use),
            open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |fds| fds.count()),
            cpu_millis: process_cpu_millis(),
            peak_rss_bytes: peak_rss_bytes(),
        }
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
        while let Some(connection) = endpoint.accept().await {
            match connection {
                Ok(connection) => {
                    tokio::spawn(self.clone().serve_connection(connection));
                }
                Err(error) => tracing::warn!(%error, "connection refused"),
            }
        }
    }

    async fn serve_connection(self: Arc<Self>, connection: Connection) {
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
        let _active = ActiveChannel::new(&self.counters.active_channels);
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

    fn store(&self, job: &str, shuffle: u32) -> Result<Arc<Mutex<ShuffleStore>>, String> {
        lock(&self.shuffles)
            .get(&(job.to_string(), shuffle))
            .cloned()
            .ok_or_else(|| format!("{} is not registered on this node", label(job, shuffle)))
    }

    async fn serve_push(&self, envelope: Envelope, mut rx: ChannelReceiver) -> Result<(), String> {
        let Request::Push {
            partition,
            map,
            attempt,
            first_seq,
        } = envelope.request
        else {
            rx.refuse("only push requests open a sending channel");
            return Err("push channel without a push request".into());
        };
        let store = match self.store(&envelope.job, envelope.shuffle) {
            Ok(store) => store,
            Err(message) => {
                rx.refuse(&message);
                return Err(message);
            }
        };
        let mut seq = first_seq;
        loop {
            let frame = match rx.recv().await {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(error) => {
                    return Err(format!(
                        "push of map {map} attempt {attempt} broke off: {error}"
                    ))
                }
            };
            let key = RecordKey {
                map_id: map,
                attempt,
                seq,
            };
            if let Err(error) = lock(&store).push_checked(partition, key, &frame, frame.checksum())
            {
                let message = error.to_string();
                rx.refuse(&message);
                return Err(message);
            }
            seq += 1;
            self.counters.frames_pushed.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes_pushed
                .fetch_add(frame.len() as u64, Ordering::Relaxed);
        }
    }

    async fn serve_pull(&self, envelope: Envelope, mut tx: ChannelSender) -> Result<(), String> {
        let response = match envelope.request {
            Request::Fetch { partition } => {
                return self.serve_fetch(&envelope, partition, tx).await
            }
            Request::Register { partitions } => {
                self.register(&envelope.job, envelope.shuffle, partitions)
            }
            Request::Commit { map, attempt } => {
                self.commit(&envelope.job, envelope.shuffle, map, attempt)
                    .await
            }
            Request::DeleteJob => self.delete_job(&envelope.job).await,
            Request::Stats => Ok(Response::Stats(self.stats())),
            Request::Heartbeat => Ok(Response::Ok),
            Request::Push { .. } => {
                Err("push requests open a sending channel, not a receiving one".into())
            }
        };
        match response {
            Ok(response) => {
                let body = serde_json::to_vec(&response).map_err(|e| e.to_string())?;
                tx.send(Bytes::from(body))
                    .await
                    .map_err(|e| e.to_string())?;
                tx.finish().await.map(|_| ()).map_err(|e| e.to_string())
            }
            Err(message) => {
                let _ = tx.refuse(&message).await;
                Err(message)
            }
        }
    }

    fn register(&self, job: &str, shuffle: u32, partitions: u32) -> Result<Response, String> {
        let mut shuffles = lock(&self.shuffles);
        if let Some(existing) = shuffles.get(&(job.to_string(), shuffle)) {
            let existing = lock(existing).partitions();
            return if existing == partitions {
                Ok(Response::Ok)
            } else {
                Err(format!(
                    "{} is already registered with {existing} partitions, not {partitions}",
                    label(job, shuffle)
                ))
            };
        }
        let dir = self.data_dir.join(job).join(shuffle.to_string());
        let store = ShuffleStore::create(&dir, &label(job, shuffle), partitions, self.io)
            .map_err(|e| e.to_string())?;
        shuffles.insert((job.to_string(), shuffle), Arc::new(Mutex::new(store)));
        Ok(Response::Ok)
    }

    async fn commit(
        &self,
        job: &str,
        shuffle: u32,
        map: u32,
        attempt: u32,
    ) -> Result<Response, String> {
        let store = self.store(job, shuffle)?;
        // Commit syncs files: keep it off the async workers.
        let plan = tokio::task::spawn_blocking(move || lock(&store).commit(map, attempt))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(match plan {
            CommitPlan::Commit { .. } => Response::Committed,
            CommitPlan::AlreadyCommitted => Response::AlreadyCommitted,
            CommitPlan::Lost { winner } => Response::Lost { winner },
        })
    }

    async fn delete_job(&self, job: &str) -> Result<Response, String> {
        lock(&self.shuffles).retain(|(owner, _), _| owner != job);
        lock(&self.expiry).forget(job);
        let dir = self.data_dir.join(job);
        let removing = dir.clone();
        let removed = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(removing))
            .await
            .map_err(|e| e.to_string())?;
        match removed {
            Ok(()) => Ok(Response::Ok),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Response::Ok),
            Err(error) => Err(format!("cannot delete {}: {error}", dir.display())),
        }
    }

    async fn serve_fetch(
        &self,
        envelope: &Envelope,
        partition: u32,
        mut tx: ChannelSender,
    ) -> Result<(), String> {
        let frames = self
            .store(&envelope.job, envelope.shuffle)
            .and_then(|store| lock(&store).read(partition).map_err(|e| e.to_string()));
        let frames = match frames {
            Ok(frames) => Arc::new(frames),
            Err(message) => {
                let _ = tx.refuse(&message).await;
                return Err(message);
            }
        };
        for index in 0..frames.len() {
            // The frame goes out straight from the mmap: no copy here.
            let payload = Bytes::from_owner(MappedFrame {
                frames: frames.clone(),
                index,
            });
            tx.send(payload).await.map_err(|e| e.to_string())?;
        }
        tx.finish().await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// One frame of a mapped partition, owning a share of the mapping.
struct MappedFrame {
    frames: Arc<PartitionFrames>,
    index: usize,
}

impl AsRef<[u8]> for MappedFrame {
    fn as_ref(&self) -> &[u8] {
        self.frames.get(self.index).unwrap_or(&[])
    }
}

/// User plus system CPU time of this process, from `/proc/self/stat`.
fn process_cpu_millis() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .unwrap_or(100)
        .max(1);
    ticks * 1000 / per_second
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}
