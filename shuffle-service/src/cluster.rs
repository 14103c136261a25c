//! A client for a job's shuffle data spread over several nodes: each reduce
//! partition lives on the node [`Placement`] names, and every call goes
//! where its partition lives.
//!
//! With a replication factor of k, a push goes to the partition's first k
//! owners on the ring, and a fetch falls over to the next replica when a
//! node is unreachable or refuses.
//!
//! Commit is per node: a map attempt commits on every node, and on each
//! node the first attempt to commit wins. Competing attempts of one map are
//! meant to be arbitrated by the scheduler (it commits only the attempt it
//! accepted), as Spark's driver does with map statuses; if two attempts
//! race anyway, each partition still shows exactly one attempt's frames.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Duration;

use faro_transport::{ChannelReceiver, ChannelSender, Connection, Endpoint};

use crate::client::{ClientError, ShuffleClient};
use crate::placement::Placement;
use crate::protocol::{NodeStats, Response};
use crate::storage::ShuffleShape;

/// How long a node may take to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A job's view of a set of shuffle nodes.
pub struct ShuffleCluster {
    job: String,
    placement: Placement,
    clients: Vec<ShuffleClient>,
    replicas: usize,
}

/// A push to every replica of one partition: each frame goes to all.
pub struct ReplicatedPush {
    channels: Vec<ChannelSender>,
}

impl ReplicatedPush {
    /// Sends one frame to every replica.
    pub async fn send(&mut self, frame: Bytes) -> Result<(), ClientError> {
        for channel in &mut self.channels {
            channel.send(frame.clone()).await?;
        }
        Ok(())
    }

    /// Replicas written to.
    pub fn replicas(&self) -> usize {
        self.channels.len()
    }

    /// Time spent waiting for the replicas' credit, summed.
    pub fn backpressure(&self) -> std::time::Duration {
        self.channels.iter().map(|c| c.stats().backpressure).sum()
    }

    /// Credit the replicas granted and this push has not used, summed.
    pub fn credit(&self) -> u32 {
        self.channels.iter().map(ChannelSender::credit).sum()
    }

    /// Ends the push on every replica, waiting until each stored it all.
    pub async fn finish(self) -> Result<(), ClientError> {
        for channel in self.channels {
            channel.finish().await?;
        }
        Ok(())
    }
}

impl ShuffleCluster {
    /// A cluster client over `nodes`: each a name (what placement hashes,
    /// e.g. a pod's DNS name) and an open connection to it.
    pub fn new(job: &str, token: &str, nodes: Vec<(String, Connection)>) -> Option<Self> {
        let (names, connections): (Vec<String>, Vec<Connection>) = nodes.into_iter().unzip();
        Some(Self {
            job: job.to_string(),
            placement: Placement::new(names)?,
            clients: connections
                .into_iter()
                .map(|connection| ShuffleClient::new(connection, job, token))
                .collect(),
            replicas: 1,
        })
    }

    /// Connects from `endpoint` to every node of `nodes` (names and
    /// addresses), each given [`CONNECT_TIMEOUT`] to answer, and keeps
    /// `replicas` copies of every partition.
    pub async fn connect(
        endpoint: &Endpoint,
        job: &str,
        token: &str,
        nodes: &[(String, SocketAddr)],
        replicas: usize,
    ) -> Result<Self, String> {
        let mut connections = Vec::with_capacity(nodes.len());
        for (name, addr) in nodes {
            let connecting = endpoint.connect(*addr, "localhost");
            let connection = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
                .await
                .map_err(|_| format!("shuffle node {name} ({addr}) did not answer"))?
                .map_err(|e| format!("connecting to shuffle node {name} ({addr}): {e}"))?;
            connections.push((name.clone(), connection));
        }
        Self::new(job, token, connections)
            .map(|c| c.with_replicas(replicas))
            .ok_or_else(|| "no shuffle nodes are configured".to_string())
    }

    /// Keeps `replicas` copies of every partition (capped at the node count).
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.clamp(1, self.clients.len());
        self
    }

    /// Whether every node's connection is still usable.
    pub fn is_open(&self) -> bool {
        self.clients.iter().all(ShuffleClient::is_open)
    }

    fn replicas_of(&self, shuffle: u32, partition: u32) -> Vec<usize> {
        self.placement
            .owners(&self.job, shuffle, partition, self.replicas)
    }

    fn owner(&self, shuffle: u32, partition: u32) -> &ShuffleClient {
        &self.clients[self.placement.owner(&self.job, shuffle, partition)]
    }

    /// The name of the node that owns `partition`.
    pub fn owner_name(&self, shuffle: u32, partition: u32) -> &str {
        &self.placement.nodes()[self.placement.owner(&self.job, shuffle, partition)]
    }

    /// Registers the shuffle on every node.
    pub async fn register(&self, shuffle: u32, shape: ShuffleShape) -> Result<(), ClientError> {
        for client in &self.clients {
            client.register(shuffle, shape).await?;
        }
        Ok(())
    }

    /// Opens a push to every replica of `partition`.
    pub async fn push(
        &self,
        shuffle: u32,
        partition: u32,
        map: u32,
        attempt: u32,
        first_seq: u32,
    ) -> Result<ReplicatedPush, ClientError> {
        let mut channels = Vec::with_capacity(self.replicas);
        for node in self.replicas_of(shuffle, partition) {
            channels.push(
                self.clients[node]
                    .push(shuffle, partition, map, attempt, first_seq)
                    .await?,
            );
        }
        Ok(ReplicatedPush { channels })
    }

    /// Commits a map attempt on every node; returns each node's answer.
    /// Stops at the first node that cannot be reached.
    pub async fn commit(
        &self,
        shuffle: u32,
        map: u32,
        attempt: u32,
    ) -> Result<Vec<Response>, ClientError> {
        let mut responses = Vec::with_capacity(self.clients.len());
        for client in &self.clients {
            responses.push(client.commit(shuffle, map, attempt).await?);
        }
        Ok(responses)
    }

    /// Opens a fetch channel to the node owning `partition`.
    pub async fn fetch(
        &self,
        shuffle: u32,
        partition: u32,
    ) -> Result<ChannelReceiver, ClientError> {
        self.owner(shuffle, partition)
            .fetch(shuffle, partition)
            .await
    }

    /// Fetches a whole partition into memory, from the first replica that
    /// serves it in full.
    pub async fn fetch_all(&self, shuffle: u32, partition: u32) -> Result<Vec<Bytes>, ClientError> {
        let mut last_error = None;
        for node in self.replicas_of(shuffle, partition) {
            match self.clients[node].fetch_all(shuffle, partition).await {
                Ok(frames) => return Ok(frames),
                Err(error) => {
                    tracing::warn!(node = %self.placement.nodes()[node], %error, "replica failed; trying the next");
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| ClientError::BadResponse("no replica".into())))
    }

    /// The partitions of `shuffle` that no replica holds complete: each of
    /// their nodes is unreachable, lost the shuffle, or has fewer than
    /// every map committed. The scheduler re-runs the shuffle's producers
    /// when this is not empty.
    pub async fn lost_partitions(&self, shuffle: u32, shape: ShuffleShape) -> Vec<u32> {
        let mut complete = Vec::with_capacity(self.clients.len());
        for client in &self.clients {
            let whole = match client.list().await {
                Ok(shuffles) => shuffles
                    .iter()
                    .any(|s| s.shuffle == shuffle && s.committed_maps >= shape.maps),
                Err(error) => {
                    tracing::debug!(%error, "a shuffle node did not answer");
                    false
                }
            };
            complete.push(whole);
        }
        (0..shape.partitions)
            .filter(|&p| !self.replicas_of(shuffle, p).iter().any(|&n| complete[n]))
            .collect()
    }

    /// Each node's counters, in node order.
    pub async fn stats(&self) -> Result<Vec<NodeStats>, ClientError> {
        let mut stats = Vec::with_capacity(self.clients.len());
        for client in &self.clients {
            stats.push(client.stats().await?);
        }
        Ok(stats)
    }

    /// Heartbeats the job on every node.
    pub async fn heartbeat(&self) -> Result<(), ClientError> {
        for client in &self.clients {
            client.heartbeat().await?;
        }
        Ok(())
    }

    /// Deletes the job's data on every node.
    pub async fn delete_job(&self) -> Result<(), ClientError> {
        for client in &self.clients {
            client.delete_job().await?;
        }
        Ok(())
    }
}
