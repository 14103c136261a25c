//! How the node answers each request: push and fetch stream frames on
//! their channel; the others answer with one [`Response`].

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use faro_transport::{ChannelReceiver, ChannelSender};

use super::{label, lock, upload_plan, ShuffleServer};
use crate::protocol::{Envelope, Request, Response, ShuffleSummary};
use crate::resume::Skipping;
use crate::storage::{
    CommitPlan, PartitionFrames, RecordKey, ShuffleShape, ShuffleStore, StorageError,
};

/// Where a fetch's frames come from.
enum FetchSource {
    /// The local partition file's mmap.
    Local(PartitionFrames),
    /// There is no local copy; `String` says why.
    Missing(String),
}

impl ShuffleServer {
    pub(super) async fn serve_push(
        &self,
        envelope: Envelope,
        mut rx: ChannelReceiver,
    ) -> Result<(), String> {
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
        let Some(store) = self.store(&envelope.job, envelope.shuffle) else {
            let message = Self::not_registered(&envelope.job, envelope.shuffle);
            rx.refuse(&message);
            return Err(message);
        };
        let started = Instant::now();
        let mut seq = first_seq;
        loop {
            let frame = match rx.recv().await {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    self.metrics
                        .push_seconds
                        .observe(started.elapsed().as_secs_f64());
                    return Ok(());
                }
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
            self.metrics.frames_pushed.inc();
            seq = match seq.checked_add(1) {
                Some(next) => next,
                None => {
                    let message = format!(
                        "push of map {map} attempt {attempt}: frame numbers past {} (start lower than first_seq {first_seq})",
                        u32::MAX
                    );
                    rx.refuse(&message);
                    return Err(message);
                }
            };
            self.metrics.bytes_pushed.inc_by(frame.len() as u64);
        }
    }

    pub(super) async fn serve_pull(
        self: &Arc<Self>,
        envelope: Envelope,
        mut tx: ChannelSender,
    ) -> Result<(), String> {
        let (job, shuffle) = (envelope.job.as_str(), envelope.shuffle);
        let response = match envelope.request {
            Request::Fetch {
                partition,
                maps,
                resume,
            } => {
                let skipping = Skipping::new(resume.unwrap_or_default());
                let fetch = (partition, maps, skipping);
                return self.serve_fetch(job, shuffle, fetch, tx).await;
            }
            Request::Register { maps, partitions } => {
                self.register(job, shuffle, ShuffleShape { maps, partitions })
            }
            Request::Commit { map, attempt } => self.commit(job, shuffle, map, attempt).await,
            Request::DeleteJob => self.delete_job(job).await,
            Request::List => Ok(self.list(job)),
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
                // The answer is complete once sent; a client that closes
                // its connection as soon as it has read it (they do) takes
                // the end acknowledgement with it. Not a refusal: had it
                // not read the answer, it would fail on its side.
                if let Err(error) = tx.finish().await {
                    tracing::debug!(%error, "client left before acknowledging its answer");
                }
                Ok(())
            }
            Err(message) => {
                let _ = tx.refuse(&message).await;
                Err(message)
            }
        }
    }

    fn register(&self, job: &str, shuffle: u32, shape: ShuffleShape) -> Result<Response, String> {
        shape
            .check()
            .map_err(|reason| format!("{}: {reason}", label(job, shuffle)))?;
        let mut shuffles = lock(&self.shuffles);
        if let Some(existing) = shuffles.get(&(job.to_string(), shuffle)) {
            let existing = lock(existing).shape();
            return if existing == shape {
                Ok(Response::Ok)
            } else {
                Err(format!(
                    "{} is already registered with {} maps and {} partitions, not {} and {}",
                    label(job, shuffle),
                    existing.maps,
                    existing.partitions,
                    shape.maps,
                    shape.partitions
                ))
            };
        }
        let dir = self.data_dir.join(job).join(shuffle.to_string());
        let mut store = ShuffleStore::create(&dir, &label(job, shuffle), shape, self.io)
            .map_err(|e| e.to_string())?;
        store.set_durability(self.durability);
        if let Some(budget) = &self.memory {
            store.set_memory(budget.clone());
        }
        shuffles.insert((job.to_string(), shuffle), Arc::new(Mutex::new(store)));
        Ok(Response::Ok)
    }

    async fn commit(
        self: &Arc<Self>,
        job: &str,
        shuffle: u32,
        map: u32,
        attempt: u32,
    ) -> Result<Response, String> {
        let store = self
            .store(job, shuffle)
            .ok_or_else(|| Self::not_registered(job, shuffle))?;
        let started = Instant::now();
        let job_id = job.to_string();
        // Commit syncs files: keep it off the async workers.
        let (plan, upload) = tokio::task::spawn_blocking(move || {
            let mut store = lock(&store);
            let plan = store.commit(map, attempt)?;
            let upload = match plan {
                CommitPlan::Commit { .. } => upload_plan(&job_id, shuffle, &store),
                _ => None,
            };
            Ok::<_, StorageError>((plan, upload))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        if let Some(upload) = upload {
            self.start_upload(upload);
        }
        let (outcome, response) = match plan {
            CommitPlan::Commit { .. } => ("committed", Response::Committed),
            CommitPlan::AlreadyCommitted => ("already_committed", Response::AlreadyCommitted),
            CommitPlan::Lost { winner } => ("lost", Response::Lost { winner }),
        };
        self.metrics.commits.with_label_values(&[outcome]).inc();
        Ok(response)
    }

    fn list(&self, job: &str) -> Response {
        let mut shuffles: Vec<ShuffleSummary> = lock(&self.shuffles)
            .iter()
            .filter(|((owner, _), _)| owner == job)
            .map(|((_, shuffle), store)| {
                let store = lock(store);
                let shape = store.shape();
                ShuffleSummary {
                    shuffle: *shuffle,
                    maps: shape.maps,
                    partitions: shape.partitions,
                    committed_maps: u32::try_from(store.book().committed_maps())
                        .unwrap_or(u32::MAX),
                    committed: store.book().commits().into_iter().map(|(m, _)| m).collect(),
                    stored_bytes: store.stored_bytes(),
                }
            })
            .collect();
        shuffles.sort_by_key(|summary| summary.shuffle);
        Response::Shuffles { shuffles }
    }

    pub(super) async fn delete_job(&self, job: &str) -> Result<Response, String> {
        lock(&self.shuffles).retain(|(owner, _), _| owner != job);
        lock(&self.expiry).forget(job);
        if let Some(tier) = &self.tier {
            tier.delete_job(job).await.map_err(|e| e.to_string())?;
        }
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

    /// The frames of `partition` of the maps in `maps` (all when `None`)
    /// from this node's copy. Asked for by range, every map of the range
    /// must have committed here: a consumer that reads maps as they commit
    /// (a hybrid edge) must never take a map's absence for an empty
    /// output.
    fn local_frames(
        &self,
        job: &str,
        shuffle: u32,
        partition: u32,
        maps: Option<Range<u32>>,
    ) -> Result<FetchSource, String> {
        let Some(store) = self.store(job, shuffle) else {
            return Ok(FetchSource::Missing(Self::not_registered(job, shuffle)));
        };
        let store = lock(&store);
        if let Some(map) = maps.as_ref().and_then(|maps| store.first_uncommitted(maps)) {
            return Err(format!(
                "{}: map {map} has no committed attempt on this node",
                label(job, shuffle)
            ));
        }
        let read = store.read_maps(partition, maps.unwrap_or(0..u32::MAX));
        match read {
            Ok(frames) => Ok(FetchSource::Local(frames)),
            Err(error @ StorageError::Io { .. }) if error_is_not_found(&error) => {
                Ok(FetchSource::Missing(error.to_string()))
            }
            Err(error) => Err(error.to_string()),
        }
    }

    /// Serves a fetch of `partition`'s frames of `maps` (all when
    /// `None`), past those `skipping` says the consumer took from another
    /// replica.
    async fn serve_fetch(
        &self,
        job: &str,
        shuffle: u32,
        (partition, maps, mut skipping): (u32, Option<Range<u32>>, Skipping),
        mut tx: ChannelSender,
    ) -> Result<(), String> {
        let started = Instant::now();
        let served = match self.local_frames(job, shuffle, partition, maps.clone()) {
            Ok(FetchSource::Local(frames)) => self.send_mapped(frames, skipping, &mut tx).await,
            Ok(FetchSource::Missing(why)) => match &self.tier {
                Some(tier) => match tier
                    .open_partition(job, shuffle, partition, maps.unwrap_or(0..u32::MAX))
                    .await
                {
                    Ok(Some(mut copy)) => {
                        tracing::info!(%job, shuffle, partition, %why, "serving from the object store");
                        loop {
                            match copy.next_frame().await {
                                Ok(Some((frame, crc))) => {
                                    if !skipping.admit(crc).map_err(|e| e.to_string())? {
                                        continue;
                                    }
                                    self.metrics.tier_reads.inc();
                                    self.metrics.bytes_fetched.inc_by(frame.len() as u64);
                                    tx.send_checked(frame, crc)
                                        .await
                                        .map_err(|e| e.to_string())?;
                                }
                                Ok(None) => break skipping.finish().map_err(|e| e.to_string()),
                                Err(error) => break Err(error.to_string()),
                            }
                        }
                    }
                    Ok(None) => Err(format!("{why}, and the object store has no copy")),
                    Err(error) => Err(format!("{why}; the object store failed: {error}")),
                },
                None => Err(why),
            },
            Err(message) => Err(message),
        };
        if let Err(message) = served {
            let _ = tx.refuse(&message).await;
            return Err(message);
        }
        tx.finish().await.map_err(|e| e.to_string())?;
        self.metrics
            .fetch_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    async fn send_mapped(
        &self,
        frames: PartitionFrames,
        mut skipping: Skipping,
        tx: &mut ChannelSender,
    ) -> Result<(), String> {
        // Each frame goes out straight from the mmap: no copy here; its
        // CRC was checked against the record when the partition was read.
        for (payload, crc) in frames.into_shared() {
            if !skipping.admit(crc).map_err(|e| e.to_string())? {
                continue;
            }
            let len = payload.len() as u64;
            tx.send_checked(payload, crc)
                .await
                .map_err(|e| e.to_string())?;
            self.metrics.bytes_fetched.inc_by(len);
        }
        skipping.finish().map_err(|e| e.to_string())
    }

    /// Checks that the job's `shuffle` takes pushes to `partition`, for a
    /// worker in the same process about to push there by calls.
    pub fn open_push_in_process(
        &self,
        job: &str,
        shuffle: u32,
        partition: u32,
    ) -> Result<(), String> {
        let store = self
            .store(job, shuffle)
            .ok_or_else(|| Self::not_registered(job, shuffle))?;
        let partitions = lock(&store).shape().partitions;
        if partition >= partitions {
            return Err(format!(
                "{}: no partition {partition} (it has {partitions})",
                label(job, shuffle)
            ));
        }
        self.metrics.in_process_pushes.inc();
        Ok(())
    }

    /// Stores one frame of a push from a worker in the same process: what
    /// a push channel's frame becomes on arrival, without the network.
    pub fn push_in_process(
        &self,
        job: &str,
        shuffle: u32,
        partition: u32,
        key: RecordKey,
        frame: Bytes,
    ) -> Result<(), String> {
        let store = self
            .store(job, shuffle)
            .ok_or_else(|| Self::not_registered(job, shuffle))?;
        let bytes = frame.len() as u64;
        lock(&store)
            .push_owned(partition, key, frame)
            .map_err(|e| e.to_string())?;
        self.metrics.frames_pushed.inc();
        self.metrics.bytes_pushed.inc_by(bytes);
        Ok(())
    }

    /// The maps of the job's `shuffle` that have committed on this node,
    /// in order, for a worker in the same process; `None` when the node
    /// does not hold the shuffle.
    pub fn committed_in_process(&self, job: &str, shuffle: u32) -> Option<Vec<u32>> {
        let store = self.store(job, shuffle)?;
        let commits = lock(&store).book().commits();
        Some(commits.into_iter().map(|(map, _)| map).collect())
    }

    /// The committed frames of `partition` of the job's `shuffle` (of
    /// the maps in `maps` only, each of which must have committed here)
    /// as this node holds them, read in place from its mmap (every
    /// frame's CRC checked), for a worker in the same process: the fetch
    /// without the network. `None` when the node holds no local copy (a
    /// fetch then finds it in the object store or on another replica).
    pub fn read_in_process(
        &self,
        job: &str,
        shuffle: u32,
        (partition, maps): (u32, Option<Range<u32>>),
    ) -> Result<Option<Vec<Bytes>>, String> {
        match self.local_frames(job, shuffle, partition, maps)? {
            FetchSource::Local(frames) => {
                let frames: Vec<Bytes> = frames.into_shared().into_iter().map(|(f, _)| f).collect();
                let bytes: usize = frames.iter().map(Bytes::len).sum();
                self.metrics.bytes_fetched.inc_by(bytes as u64);
                self.metrics.in_process_reads.inc();
                Ok(Some(frames))
            }
            FetchSource::Missing(_) => Ok(None),
        }
    }
}

fn error_is_not_found(error: &StorageError) -> bool {
    matches!(error, StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}
