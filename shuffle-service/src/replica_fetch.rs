//! A fetch that outlives the replica it started on. When the node serving
//! it fails, or stops sending although it holds credit to send (a cut
//! link, a stopped process, a dead disk), the fetch reopens on the
//! partition's next replica and resumes after the frames it already took
//! ([`crate::resume`]): the consumer sees one stream, each frame once,
//! and its task is not re-run.
//!
//! Why a stall and not just the transport's idle timeout: a cut link
//! looks like silence, and QUIC declares a silent connection dead only
//! after its idle timeout (10 s by default), which must stay long enough
//! for every connection of a loaded machine. Moving a fetch is cheap and
//! exact, so its threshold can be short: a slow but live node costs one
//! move, and the next stall must last twice as long before the fetch
//! moves again. With no other replica the fetch waits on, and the idle
//! timeout decides.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faro_transport::{ChannelReceiver, Frame};

use crate::client::ClientError;
use crate::cluster::ShuffleCluster;
use crate::resume::{Failover, FrameChain};

/// How long a fetch's node may stay silent, holding credit to send,
/// before the fetch moves to another replica.
pub const DEFAULT_FETCH_STALL: Duration = Duration::from_secs(2);

/// How often a waiting fetch looks at how long its node has been silent.
const STALL_CHECK: Duration = Duration::from_millis(100);

/// One partition's committed frames, from whichever replica can serve
/// them.
pub struct ReplicaFetch {
    cluster: Arc<ShuffleCluster>,
    shuffle: u32,
    partition: u32,
    /// Only these maps' frames (all when `None`).
    maps: Option<Range<u32>>,
    failover: Failover,
    /// `None` between a failure and the reopening (which may have been
    /// cancelled half way: [`Self::recv`] is polled inside `select!`).
    channel: Option<ChannelReceiver>,
    taken: FrameChain,
    last_heard: Instant,
    moves: u32,
    /// Set once every replica failed: the fetch is over.
    failed: Option<String>,
    /// Told of each move (a metric).
    on_move: Option<Box<dyn Fn() + Send + Sync>>,
}

impl ReplicaFetch {
    /// Opens a fetch of `partition` (of the frames of `maps` only, when
    /// given) on its first replica that is up and accepts it.
    pub(crate) async fn open(
        cluster: Arc<ShuffleCluster>,
        shuffle: u32,
        (partition, maps): (u32, Option<Range<u32>>),
        stall: Duration,
    ) -> Result<Self, ClientError> {
        let nodes = cluster.up_replicas_of(shuffle, partition);
        if nodes.is_empty() {
            let owner = cluster.owner_name(shuffle, partition).to_string();
            return Err(ClientError::Unreachable(owner));
        }
        let mut fetch = Self {
            cluster,
            shuffle,
            partition,
            maps,
            failover: Failover::new(nodes, stall),
            channel: None,
            taken: FrameChain::default(),
            last_heard: Instant::now(),
            moves: 0,
            failed: None,
            on_move: None,
        };
        fetch.reopen().await?;
        Ok(fetch)
    }

    /// Calls `moved` each time the fetch moves to another replica.
    pub fn on_move(mut self, moved: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_move = Some(Box::new(moved));
        self
    }

    /// Times the fetch moved to another replica.
    pub fn moves(&self) -> u32 {
        self.moves
    }

    /// The next frame; `Ok(None)` at the partition's end; an error once
    /// every replica failed (or refused to resume: their frames differ).
    pub async fn recv(&mut self) -> Result<Option<Frame>, ClientError> {
        loop {
            if let Some(failed) = &self.failed {
                return Err(ClientError::BadResponse(failed.clone()));
            }
            let Some(channel) = self.channel.as_mut() else {
                self.reopen().await?;
                continue;
            };
            let waited = tokio::select! {
                received = channel.recv() => Some(received),
                _ = tokio::time::sleep(STALL_CHECK) => None,
            };
            match waited {
                Some(Ok(Some(frame))) => {
                    self.taken.push(frame.checksum());
                    self.last_heard = Instant::now();
                    return Ok(Some(frame));
                }
                Some(Ok(None)) => return Ok(None),
                Some(Err(error)) => self.move_on_error(error.into())?,
                None => {
                    // With every buffer held downstream the node has no
                    // credit: its silence is ours.
                    let owed = (self.channel.as_ref()).is_some_and(|c| c.ledger().granted() > 0);
                    if !owed {
                        self.last_heard = Instant::now();
                    } else if self.last_heard.elapsed() >= self.failover.stall() {
                        self.move_on_stall();
                    }
                }
            }
        }
    }

    /// Refuses the stream (a malformed frame): the node serving it stops.
    pub fn refuse(&self, message: &str) {
        if let Some(channel) = &self.channel {
            channel.refuse(message);
        }
    }

    fn node_name(&self) -> String {
        let node = self.failover.node().unwrap_or(0);
        self.cluster.node_name(node).to_string()
    }

    fn moved(&mut self) {
        self.moves += 1;
        if let Some(moved) = &self.on_move {
            moved();
        }
    }

    /// The node failed: on to the next replica, or the fetch fails.
    fn move_on_error(&mut self, error: ClientError) -> Result<(), ClientError> {
        let from = self.node_name();
        self.channel = None;
        match self.failover.on_error() {
            Some(_) => {
                self.moved();
                tracing::warn!(
                    node = %from, to = %self.node_name(), partition = self.partition,
                    frames = self.taken.frames, %error,
                    "fetch failed; resuming on another replica"
                );
                Ok(())
            }
            None => {
                self.failed = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// The node has been silent too long: on to another replica if there
    /// is one; otherwise wait on.
    fn move_on_stall(&mut self) {
        let from = self.node_name();
        let silent = self.last_heard.elapsed();
        self.last_heard = Instant::now();
        if self.failover.on_stall().is_some() {
            self.channel = None;
            self.moved();
            tracing::warn!(
                node = %from, to = %self.node_name(), partition = self.partition,
                frames = self.taken.frames, silent_ms = silent.as_millis() as u64,
                "fetch stalled; resuming on another replica"
            );
        }
    }

    /// Opens the fetch on the current replica, past the frames taken,
    /// moving on past replicas that fail to open it.
    async fn reopen(&mut self) -> Result<(), ClientError> {
        loop {
            let Some(node) = self.failover.node() else {
                return Err(ClientError::BadResponse("no replica".into()));
            };
            let opened = match self.cluster.client(node) {
                Ok(client) => {
                    let maps = self.maps.clone();
                    (client.fetch_resumed(self.shuffle, self.partition, maps, self.taken)).await
                }
                Err(down) => Err(down),
            };
            match opened {
                Ok(channel) => {
                    self.channel = Some(channel);
                    self.last_heard = Instant::now();
                    return Ok(());
                }
                Err(error) => self.move_on_error(error)?,
            }
        }
    }
}
