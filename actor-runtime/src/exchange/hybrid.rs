//! Reading a hybrid edge's partition while its producers still run
//! (Flink's hybrid shuffle): each map's output is taken as soon as that
//! map has committed, a run of consecutive committed maps at a time, until
//! every map was read once.
//!
//! Why this is exactly once without restarting anyone: a consumer only
//! reads committed output, and a map's committed output never changes
//! (the first attempt to commit wins). A producer that fails before it
//! commits is re-run alone and the consumer reads the re-run's output when
//! it commits; a consumer that fails is re-run alone and reads every map
//! again. What it gives up against a pipelined edge is latency within one
//! map: nothing of a map is read before that map's input has ended.
//!
//! [`ReadyMaps`] decides what to read next and how long to wait before
//! asking again; [`HybridFetch`] reads over the network from the
//! partition's replicas, [`follow_in_process`] from a node in this
//! process.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faro_shuffle::{ClientError, ReplicaFetch, ShuffleCluster, ShuffleServer};
use faro_transport::Frame;

use super::source::{FrameSource, InputSender};
use super::{ExchangeError, Incoming};
use crate::message::{Message, Signal};
use crate::metrics::TaskMetrics;

/// The first wait before asking again which maps have committed.
const FIRST_WAIT: Duration = Duration::from_millis(5);

/// The longest wait: how late, at most, a commit is noticed.
const LONGEST_WAIT: Duration = Duration::from_millis(100);

/// How many of a task's hybrid inputs still have maps producing, shared
/// by their readers: a frame read while any has is work a blocking edge
/// would have kept waiting (counted as read early).
#[derive(Debug, Clone, Default)]
pub struct ProducingInputs(Arc<AtomicUsize>);

impl ProducingInputs {
    /// `inputs` hybrid inputs, none known to be complete.
    pub fn new(inputs: usize) -> Self {
        Self(Arc::new(AtomicUsize::new(inputs)))
    }

    /// Whether some input still has a map producing.
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }

    fn completed_one(&self) {
        let _ = (self.0).fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Which maps of a partition are still to be read, and how long to wait
/// before asking again when none of them has committed: pure decisions.
#[derive(Debug, Clone)]
pub struct ReadyMaps {
    read: Vec<bool>,
    left: usize,
    wait: Duration,
    /// Whether every map was seen committed.
    complete: bool,
}

impl ReadyMaps {
    /// Nothing read yet of a shuffle with `maps` maps.
    pub fn new(maps: u32) -> Self {
        Self {
            read: vec![false; maps as usize],
            left: maps as usize,
            wait: FIRST_WAIT,
            complete: false,
        }
    }

    /// Takes in which maps have committed (`committed`, in order) before
    /// a read: tells `producing` when this input is seen complete for the
    /// first time. Returns whether what is read now is read early.
    pub fn observe(&mut self, committed: &[u32], producing: &ProducingInputs) -> bool {
        if !self.complete && committed.len() >= self.read.len() {
            self.complete = true;
            producing.completed_one();
        }
        producing.any()
    }

    /// Whether every map was read.
    pub fn is_done(&self) -> bool {
        self.left == 0
    }

    /// The first run of consecutive maps that are committed (`committed`,
    /// in order) and not read yet.
    pub fn next_run(&self, committed: &[u32]) -> Option<Range<u32>> {
        let unread = |map: u32| self.read.get(map as usize) == Some(&false);
        let first = committed.iter().position(|&map| unread(map))?;
        let start = committed[first];
        let mut end = start + 1;
        for &map in &committed[first + 1..] {
            if map != end || !unread(map) {
                break;
            }
            end += 1;
        }
        Some(start..end)
    }

    /// Records `run` as read; the next wait starts short again.
    pub fn taken(&mut self, run: Range<u32>) {
        for map in run {
            if let Some(read) = self.read.get_mut(map as usize) {
                if !*read {
                    *read = true;
                    self.left -= 1;
                }
            }
        }
        self.wait = FIRST_WAIT;
    }

    /// How long to wait before asking again, none of the unread maps
    /// having committed: doubling up to [`LONGEST_WAIT`].
    pub fn backoff(&mut self) -> Duration {
        let wait = self.wait;
        self.wait = (wait * 2).min(LONGEST_WAIT);
        wait
    }
}

/// A hybrid partition read from the network: one [`ReplicaFetch`] per run
/// of committed maps (each moves between replicas as any fetch does),
/// asking the replicas which maps have committed in between. Ends when
/// every map was read.
pub struct HybridFetch {
    cluster: Arc<ShuffleCluster>,
    shuffle: u32,
    partition: u32,
    ready: ReadyMaps,
    producing: ProducingInputs,
    /// The run being read, whether it is read early, and its fetch.
    current: Option<(Range<u32>, bool, ReplicaFetch)>,
    metrics: TaskMetrics,
}

impl HybridFetch {
    /// A reader of `partition` of `shuffle`, the maps `ready` has not
    /// read yet, one of the task's hybrid inputs (`producing`), counting
    /// what it reads early (and fetches that move replica) into
    /// `metrics`.
    pub fn new(
        cluster: Arc<ShuffleCluster>,
        (shuffle, partition): (u32, u32),
        (ready, producing): (ReadyMaps, ProducingInputs),
        metrics: TaskMetrics,
    ) -> Self {
        Self {
            cluster,
            shuffle,
            partition,
            ready,
            producing,
            current: None,
            metrics,
        }
    }

    /// The next frame; `Ok(None)` once every map was read. Cancel-safe:
    /// what it learns is kept only once each call it awaits returned.
    pub async fn recv(&mut self) -> Result<Option<Frame>, ClientError> {
        loop {
            if let Some((run, early, fetch)) = self.current.as_mut() {
                if let Some(frame) = fetch.recv().await? {
                    if *early {
                        self.metrics.shuffle_fetched_early(frame.len());
                    }
                    return Ok(Some(frame));
                }
                let run = run.clone();
                self.current = None;
                self.ready.taken(run);
                continue;
            }
            if self.ready.is_done() {
                return Ok(None);
            }
            let committed = (self.cluster)
                .committed_maps(self.shuffle, self.partition)
                .await?;
            let Some(run) = self.ready.next_run(&committed) else {
                tokio::time::sleep(self.ready.backoff()).await;
                continue;
            };
            let fetch = (self.cluster)
                .fetch_maps_from_replicas(self.shuffle, self.partition, run.clone())
                .await?;
            let early = self.ready.observe(&committed, &self.producing);
            let metrics = self.metrics.clone();
            let fetch = fetch.on_move(move || metrics.shuffle_fetch_moved());
            self.current = Some((run, early, fetch));
        }
    }
}

impl FrameSource for HybridFetch {
    type Error = ClientError;

    fn recv(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Frame>, Self::Error>> + Send {
        HybridFetch::recv(self)
    }

    fn refuse(&self, message: &str) {
        if let Some((_, _, fetch)) = &self.current {
            fetch.refuse(message);
        }
    }
}

/// Reads a hybrid partition from the shuffle node in this process, in
/// place, sending each frame into `queue` and end of data after the last
/// map (or the error that stopped it). Returns the maps left to read when
/// the node holds no copy of the shuffle or partition: the network's
/// replicas may. What it reads counts into `metrics`.
pub async fn follow_in_process(
    server: &ShuffleServer,
    (job, exchange, shuffle, partition): (&str, usize, u32, u32),
    (mut ready, producing): (ReadyMaps, &ProducingInputs),
    queue: &InputSender,
    metrics: &TaskMetrics,
) -> Option<ReadyMaps> {
    while !ready.is_done() {
        let committed = server.committed_in_process(job, shuffle)?;
        let Some(run) = ready.next_run(&committed) else {
            tokio::time::sleep(ready.backoff()).await;
            continue;
        };
        let frames = match server.read_in_process(job, shuffle, (partition, Some(run.clone()))) {
            Ok(Some(frames)) => frames,
            Ok(None) => return Some(ready),
            Err(message) => {
                let error = ExchangeError::Transport {
                    exchange,
                    message: format!("reading partition {partition} of maps {run:?}: {message}"),
                };
                let _ = queue.send(Err(error)).await;
                return None;
            }
        };
        let early = ready.observe(&committed, producing);
        for frame in frames {
            metrics.shuffle_fetched(frame.len());
            if early {
                metrics.shuffle_fetched_early(frame.len());
            }
            let data = Ok(Message::Data(Incoming::Mapped(frame)));
            if queue.send(data).await.is_err() {
                return None;
            }
        }
        ready.taken(run);
    }
    let _ = queue.send(Ok(Message::Signal(Signal::EndOfData))).await;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runs_of_committed_maps_each_once() {
        let mut ready = ReadyMaps::new(6);
        assert_eq!(ready.next_run(&[]), None);
        assert_eq!(ready.next_run(&[1, 2, 4]), Some(1..3));
        ready.taken(1..3);
        assert_eq!(ready.next_run(&[1, 2, 4]), Some(4..5));
        ready.taken(4..5);
        // Map 3 committing joins no run with the maps already read.
        assert_eq!(ready.next_run(&[0, 1, 2, 3, 4]), Some(0..1));
        ready.taken(0..1);
        assert_eq!(ready.next_run(&[0, 1, 2, 3, 4, 5]), Some(3..4));
        ready.taken(3..4);
        assert!(!ready.is_done());
        ready.taken(5..6);
        assert!(ready.is_done());
        assert_eq!(ready.next_run(&[0, 1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn maps_outside_the_shuffle_are_never_read() {
        let mut ready = ReadyMaps::new(2);
        assert_eq!(ready.next_run(&[7, 8]), None);
        ready.taken(1..9);
        assert!(!ready.is_done());
        assert_eq!(ready.next_run(&[0, 1]), Some(0..1));
    }

    #[test]
    fn reads_are_early_while_any_hybrid_input_has_maps_producing() {
        let producing = ProducingInputs::new(2);
        let (mut small, mut big) = (ReadyMaps::new(2), ReadyMaps::new(3));
        assert!(small.observe(&[0], &producing));
        // The small input is complete, the big one is not.
        assert!(small.observe(&[0, 1], &producing));
        assert!(small.observe(&[0, 1], &producing));
        assert!(big.observe(&[0, 2], &producing));
        assert!(!big.observe(&[0, 1, 2], &producing));
        assert!(!producing.any());
    }

    #[test]
    fn waits_double_until_a_map_commits() {
        let mut ready = ReadyMaps::new(1);
        let waits: Vec<Duration> = (0..7).map(|_| ready.backoff()).collect();
        assert_eq!(waits[0], FIRST_WAIT);
        assert_eq!(waits[1], FIRST_WAIT * 2);
        assert_eq!(waits[6], LONGEST_WAIT);
        ready.taken(0..1);
        assert_eq!(ready.backoff(), FIRST_WAIT);
    }
}
