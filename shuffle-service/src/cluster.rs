//! A client for a job's shuffle data spread over several nodes: each reduce
//! partition lives on the node [`Placement`] names, and every call goes
//! where its partition lives.
//!
//! With a replication factor of k, a push goes to the partition's first k
//! owners on the ring, and a fetch falls over to the next replica when a
//! node is unreachable or refuses — also in the middle of a partition,
//! resuming where it stopped ([`ReplicaFetch`]).
//!
//! A node that cannot be reached when the client connects stays in the
//! placement (partitions must keep their owners) but is *down* for this
//! client: pushes go to the partition's replicas that are up, commits and
//! fetches skip it. So a re-run attempt, which connects afresh, finishes
//! on the surviving replicas of a node that died or was cut off. A client
//! with every node down is an error.
//!
//! A node running in the caller's own process (the embedded cluster of
//! `faro run`/`faro local`) takes its pushes as calls, not over QUIC, as
//! its partitions are already read in place: the same frames stored the
//! same way, without encrypting, sending and checking them in between.
//!
//! Commit is per node: a map attempt commits on every node, and on each
//! node the first attempt to commit wins. Competing attempts of one map are
//! meant to be arbitrated by the scheduler (it commits only the attempt it
//! accepted), as Spark's driver does with map statuses; if two attempts
//! race anyway, each partition still shows exactly one attempt's frames.

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use faro_transport::{ChannelReceiver, ChannelSender, Connection, Endpoint};

use crate::client::{ClientError, ShuffleClient};
use crate::placement::Placement;
use crate::protocol::{NodeStats, Response};
use crate::replica_fetch::{ReplicaFetch, DEFAULT_FETCH_STALL};
use crate::storage::{RecordKey, ShuffleShape};
use crate::ShuffleServer;

/// How long a node may take to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A job's view of a set of shuffle nodes.
pub struct ShuffleCluster {
    job: String,
    placement: Placement,
    /// One per node, in placement order; `None` for a node that was down
    /// when this client connected.
    clients: Vec<Option<ShuffleClient>>,
    replicas: usize,
    /// The node (its placement index) that runs in this process, if any.
    in_process: Option<(usize, Arc<ShuffleServer>)>,
    /// How long a fetch's node may stay silent before the fetch moves.
    fetch_stall: Duration,
}

/// A push to every replica of one partition: each frame goes to all.
pub struct ReplicatedPush {
    channels: Vec<ChannelSender>,
    in_process: Option<InProcessPush>,
}

/// A push to the node in this process: frames stored by a call.
struct InProcessPush {
    server: Arc<ShuffleServer>,
    job: String,
    shuffle: u32,
    partition: u32,
    key: RecordKey,
}

impl ReplicatedPush {
    /// Sends one frame to every replica.
    pub async fn send(&mut self, frame: Bytes) -> Result<(), ClientError> {
        if let Some(push) = &mut self.in_process {
            push.server
                .push_in_process(
                    &push.job,
                    push.shuffle,
                    push.partition,
                    push.key,
                    frame.clone(),
                )
                .map_err(ClientError::Refused)?;
            push.key.seq = push.key.seq.checked_add(1).ok_or_else(|| {
                ClientError::Refused(format!("push of map {}: too many frames", push.key.map_id))
            })?;
        }
        for channel in &mut self.channels {
            channel.send(frame.clone()).await?;
        }
        Ok(())
    }

    /// Replicas written to.
    pub fn replicas(&self) -> usize {
        self.channels.len() + usize::from(self.in_process.is_some())
    }

    /// Time spent waiting for the replicas' credit, summed.
    pub fn backpressure(&self) -> std::time::Duration {
        self.channels.iter().map(|c| c.stats().backpressure).sum()
    }

    /// Credit the replicas granted and this push has not used, summed
    /// (the node in this process takes frames without credit).
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
        Self::with_down_nodes(
            job,
            token,
            nodes.into_iter().map(|(name, c)| (name, Some(c))).collect(),
        )
    }

    /// Like [`Self::new`], where a node without a connection is down.
    fn with_down_nodes(
        job: &str,
        token: &str,
        nodes: Vec<(String, Option<Connection>)>,
    ) -> Option<Self> {
        let (names, connections): (Vec<String>, Vec<Option<Connection>>) =
            nodes.into_iter().unzip();
        Some(Self {
            job: job.to_string(),
            placement: Placement::new(names)?,
            clients: connections
                .into_iter()
                .map(|c| c.map(|connection| ShuffleClient::new(connection, job, token)))
                .collect(),
            replicas: 1,
            in_process: None,
            fetch_stall: DEFAULT_FETCH_STALL,
        })
    }

    /// Names `server`, running in this process, as node `name`: pushes to
    /// it become calls. A name that is not one of the nodes changes
    /// nothing.
    pub fn with_in_process(mut self, name: &str, server: Arc<ShuffleServer>) -> Self {
        self.in_process = self
            .placement
            .nodes()
            .iter()
            .position(|node| node == name)
            .map(|node| (node, server));
        self
    }

    /// Connects from `endpoint` to every node of `nodes` (names and
    /// addresses) at once, each given [`CONNECT_TIMEOUT`] to answer, and
    /// keeps `replicas` copies of every partition. Nodes that do not
    /// answer are down for this client; it fails only when every node is.
    pub async fn connect(
        endpoint: &Endpoint,
        job: &str,
        token: &str,
        nodes: &[(String, SocketAddr)],
        replicas: usize,
    ) -> Result<Self, String> {
        // At once: a node that does not answer costs one timeout, not one
        // per node, and nothing to the nodes that do.
        let mut connecting = tokio::task::JoinSet::new();
        for (index, (name, addr)) in nodes.iter().enumerate() {
            let (endpoint, name, addr) = (endpoint.clone(), name.clone(), *addr);
            connecting.spawn(async move {
                let attempt = endpoint.connect(addr, "localhost");
                let outcome = match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
                    Ok(Ok(connection)) => Ok(connection),
                    Ok(Err(error)) => Err(format!(
                        "connecting to shuffle node {name} ({addr}): {error}"
                    )),
                    Err(_) => Err(format!("shuffle node {name} ({addr}) did not answer")),
                };
                (index, outcome)
            });
        }
        let mut outcomes: Vec<Option<Result<Connection, String>>> =
            (0..nodes.len()).map(|_| None).collect();
        while let Some(joined) = connecting.join_next().await {
            if let Ok((index, outcome)) = joined {
                outcomes[index] = Some(outcome);
            }
        }
        let mut links = Vec::with_capacity(nodes.len());
        let mut failures = Vec::new();
        for ((name, _), outcome) in nodes.iter().zip(outcomes) {
            let connection = match outcome {
                Some(Ok(connection)) => Some(connection),
                Some(Err(failure)) => {
                    failures.push(failure);
                    None
                }
                None => {
                    failures.push(format!("connecting to shuffle node {name} panicked"));
                    None
                }
            };
            links.push((name.clone(), connection));
        }
        if links.iter().all(|(_, c)| c.is_none()) {
            return Err(if failures.is_empty() {
                "no shuffle nodes are configured".to_string()
            } else {
                failures.join("; ")
            });
        }
        for failure in &failures {
            tracing::warn!(%job, "{failure}; its partitions are served by their other replicas");
        }
        Self::with_down_nodes(job, token, links)
            .map(|c| c.with_replicas(replicas))
            .ok_or_else(|| "no shuffle nodes are configured".to_string())
    }

    /// Moves a fetch to another replica once its node has been silent
    /// for `stall` while holding credit ([`ReplicaFetch`]).
    pub fn with_fetch_stall(mut self, stall: Duration) -> Self {
        self.fetch_stall = stall;
        self
    }

    /// Keeps `replicas` copies of every partition (capped at the node count).
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.clamp(1, self.clients.len());
        self
    }

    /// Whether the connection to every node that is up is still usable.
    pub fn is_open(&self) -> bool {
        self.up().all(|(_, client)| client.is_open())
    }

    /// Names of the nodes that were down when this client connected.
    pub fn down_nodes(&self) -> Vec<&str> {
        self.clients
            .iter()
            .zip(self.placement.nodes())
            .filter(|(client, _)| client.is_none())
            .map(|(_, name)| name.as_str())
            .collect()
    }

    fn up(&self) -> impl Iterator<Item = (usize, &ShuffleClient)> {
        self.clients
            .iter()
            .enumerate()
            .filter_map(|(node, client)| client.as_ref().map(|c| (node, c)))
    }

    pub(crate) fn client(&self, node: usize) -> Result<&ShuffleClient, ClientError> {
        self.clients
            .get(node)
            .and_then(Option::as_ref)
            .ok_or_else(|| ClientError::Unreachable(self.placement.nodes()[node].clone()))
    }

    fn replicas_of(&self, shuffle: u32, partition: u32) -> Vec<usize> {
        self.placement
            .owners(&self.job, shuffle, partition, self.replicas)
    }

    /// The replicas of `partition` that were up when this client
    /// connected, in placement order.
    pub(crate) fn up_replicas_of(&self, shuffle: u32, partition: u32) -> Vec<usize> {
        let mut nodes = self.replicas_of(shuffle, partition);
        nodes.retain(|&node| self.client(node).is_ok());
        nodes
    }

    /// Node `node`'s name.
    pub(crate) fn node_name(&self, node: usize) -> &str {
        self.placement.nodes().get(node).map_or("?", String::as_str)
    }

    /// The job this client speaks for.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The name of the node that owns `partition`.
    pub fn owner_name(&self, shuffle: u32, partition: u32) -> &str {
        &self.placement.nodes()[self.placement.owner(&self.job, shuffle, partition)]
    }

    /// Registers the shuffle on every node that is up.
    pub async fn register(&self, shuffle: u32, shape: ShuffleShape) -> Result<(), ClientError> {
        for (_, client) in self.up() {
            client.register(shuffle, shape).await?;
        }
        Ok(())
    }

    /// Opens a push to every replica of `partition` that is up.
    pub async fn push(
        &self,
        shuffle: u32,
        partition: u32,
        map: u32,
        attempt: u32,
        first_seq: u32,
    ) -> Result<ReplicatedPush, ClientError> {
        let replicas = self.replicas_of(shuffle, partition);
        let mut channels = Vec::with_capacity(replicas.len());
        let mut in_process = None;
        for &node in &replicas {
            match (&self.in_process, &self.clients[node]) {
                (Some((local, server)), _) if *local == node => {
                    server
                        .open_push_in_process(&self.job, shuffle, partition)
                        .map_err(ClientError::Refused)?;
                    in_process = Some(InProcessPush {
                        server: server.clone(),
                        job: self.job.clone(),
                        shuffle,
                        partition,
                        key: RecordKey {
                            map_id: map,
                            attempt,
                            seq: first_seq,
                        },
                    });
                }
                (_, Some(client)) => channels.push(
                    client
                        .push(shuffle, partition, map, attempt, first_seq)
                        .await?,
                ),
                (_, None) => {}
            }
        }
        match replicas.first() {
            Some(&node) if channels.is_empty() && in_process.is_none() => Err(
                ClientError::Unreachable(self.placement.nodes()[node].clone()),
            ),
            _ => Ok(ReplicatedPush {
                channels,
                in_process,
            }),
        }
    }

    /// Commits a map attempt on every node that is up; returns each
    /// node's answer. Stops at the first node that fails.
    pub async fn commit(
        &self,
        shuffle: u32,
        map: u32,
        attempt: u32,
    ) -> Result<Vec<Response>, ClientError> {
        let mut responses = Vec::with_capacity(self.clients.len());
        for (_, client) in self.up() {
            responses.push(client.commit(shuffle, map, attempt).await?);
        }
        Ok(responses)
    }

    /// Opens a fetch channel to the first replica of `partition` that is
    /// up and accepts it.
    pub async fn fetch(
        &self,
        shuffle: u32,
        partition: u32,
    ) -> Result<ChannelReceiver, ClientError> {
        self.first_replica(shuffle, partition, |client| {
            client.fetch(shuffle, partition)
        })
        .await
    }

    /// Opens a fetch of `partition` that moves to the next replica, where
    /// it stopped, when its node fails or stays silent too long (see
    /// [`Self::with_fetch_stall`] and [`ReplicaFetch`]).
    pub async fn fetch_from_replicas(
        self: &Arc<Self>,
        shuffle: u32,
        partition: u32,
    ) -> Result<ReplicaFetch, ClientError> {
        ReplicaFetch::open(self.clone(), shuffle, (partition, None), self.fetch_stall).await
    }

    /// As [`Self::fetch_from_replicas`], for the frames of the maps in
    /// `maps` only: a piece of a skewed partition.
    pub async fn fetch_maps_from_replicas(
        self: &Arc<Self>,
        shuffle: u32,
        partition: u32,
        maps: std::ops::Range<u32>,
    ) -> Result<ReplicaFetch, ClientError> {
        let piece = (partition, Some(maps));
        ReplicaFetch::open(self.clone(), shuffle, piece, self.fetch_stall).await
    }

    /// Fetches a whole partition into memory, from the first replica that
    /// serves it in full.
    pub async fn fetch_all(&self, shuffle: u32, partition: u32) -> Result<Vec<Bytes>, ClientError> {
        self.first_replica(shuffle, partition, |client| {
            client.fetch_all(shuffle, partition)
        })
        .await
    }

    /// `call`'s answer from the first replica of `partition` that gives
    /// one, trying them in placement order.
    async fn first_replica<'a, T, F>(
        &'a self,
        shuffle: u32,
        partition: u32,
        call: impl Fn(&'a ShuffleClient) -> F,
    ) -> Result<T, ClientError>
    where
        F: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut last_error = None;
        for node in self.replicas_of(shuffle, partition) {
            let answer = match self.client(node) {
                Ok(client) => call(client).await,
                Err(down) => Err(down),
            };
            match answer {
                Ok(answer) => return Ok(answer),
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
        let mut complete = vec![false; self.clients.len()];
        for (node, client) in self.up() {
            complete[node] = match client.list().await {
                Ok(shuffles) => shuffles
                    .iter()
                    .any(|s| s.shuffle == shuffle && s.committed_maps >= shape.maps),
                Err(error) => {
                    tracing::debug!(%error, "a shuffle node did not answer");
                    false
                }
            };
        }
        (0..shape.partitions)
            .filter(|&p| !self.replicas_of(shuffle, p).iter().any(|&n| complete[n]))
            .collect()
    }

    /// The maps of `shuffle` committed on every replica of `partition`
    /// that is up and answers, in order: those a consumer reading maps as
    /// they commit (a hybrid edge) may fetch now, whichever replica serves
    /// the fetch. An error when no replica answers.
    pub async fn committed_maps(
        &self,
        shuffle: u32,
        partition: u32,
    ) -> Result<Vec<u32>, ClientError> {
        let unregistered =
            || ClientError::BadResponse(format!("shuffle {shuffle} is not registered"));
        let mut common: Option<Vec<u32>> = None;
        let mut last_error = None;
        for node in self.up_replicas_of(shuffle, partition) {
            let committed = match (&self.in_process, self.client(node)) {
                (Some((local, server)), _) if *local == node => server
                    .committed_in_process(&self.job, shuffle)
                    .ok_or_else(unregistered),
                (_, Ok(client)) => client.list().await.and_then(|shuffles| {
                    (shuffles.into_iter().find(|s| s.shuffle == shuffle))
                        .map(|s| s.committed)
                        .ok_or_else(unregistered)
                }),
                (_, Err(down)) => Err(down),
            };
            match committed {
                Ok(maps) => {
                    common = Some(match common {
                        None => maps,
                        Some(common) => (common.into_iter())
                            .filter(|map| maps.binary_search(map).is_ok())
                            .collect(),
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        common.ok_or_else(|| {
            last_error.unwrap_or_else(|| {
                ClientError::Unreachable(self.owner_name(shuffle, partition).to_string())
            })
        })
    }

    /// Each node's counters, in node order (an error if one is down).
    pub async fn stats(&self) -> Result<Vec<NodeStats>, ClientError> {
        let mut stats = Vec::with_capacity(self.clients.len());
        for node in 0..self.clients.len() {
            stats.push(self.client(node)?.stats().await?);
        }
        Ok(stats)
    }

    /// Heartbeats the job on every node that is up.
    pub async fn heartbeat(&self) -> Result<(), ClientError> {
        for (_, client) in self.up() {
            client.heartbeat().await?;
        }
        Ok(())
    }

    /// Deletes the job's data on every node that is up (a node that is
    /// down deletes it itself once the job stops heartbeating).
    pub async fn delete_job(&self) -> Result<(), ClientError> {
        for (_, client) in self.up() {
            client.delete_job().await?;
        }
        Ok(())
    }
}
