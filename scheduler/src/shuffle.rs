//! The scheduler's view of the shuffle service: which nodes, the secret
//! job tokens derive from, the replication factor, and the few calls the
//! scheduler itself makes — register a job's shuffles before its producers
//! run, find partitions that were lost, delete a job's data, read the
//! nodes' counters for the cluster's status.
//!
//! Every call connects afresh: the scheduler talks to the service rarely
//! (job start, after a failure, job end), and a node that restarted since
//! the last call must not be asked over a dead connection.
//!
//! Deleting a job's data is retried, with a growing wait, until it
//! succeeds or the nodes' own expiry would have removed the data anyway:
//! a node busy or restarting when a job ends must not keep its data.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use faro_runtime::deploy::ShuffleAccess;
use faro_shuffle::protocol::NodeStats;
use faro_shuffle::storage::ShuffleShape;
use faro_shuffle::{ClusterSecret, ShuffleCluster};
use faro_transport::Endpoint;

/// How long a failed delete is retried: the nodes' default job TTL, after
/// which they delete a silent job's data themselves.
pub const DELETE_PATIENCE: Duration = Duration::from_secs(30 * 60);

/// The job id the scheduler asks nodes' counters under (a node serves
/// them to any job's valid token; this one holds no data).
const STATS_ASKER: &str = "faro-status";

/// One shuffle node as the cluster's status shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStatus {
    /// Its name (what placement hashes).
    pub name: String,
    /// Where it listens.
    pub address: String,
    /// Copies the service keeps of each partition.
    pub replicas: usize,
    /// Its counters, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<NodeStats>,
    /// Why it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The shuffle service as the scheduler uses it.
pub struct ShuffleService {
    /// Node names (what placement hashes) and addresses.
    pub nodes: Vec<(String, SocketAddr)>,
    /// Copies of each partition.
    pub replicas: usize,
    secret: ClusterSecret,
    endpoint: Endpoint,
}

impl ShuffleService {
    /// The service at `nodes`, reached from `endpoint`.
    pub fn new(
        nodes: Vec<(String, SocketAddr)>,
        replicas: usize,
        secret: ClusterSecret,
        endpoint: Endpoint,
    ) -> Self {
        Self {
            nodes,
            replicas: replicas.max(1),
            secret,
            endpoint,
        }
    }

    /// What tasks of `job` need to reach the service.
    pub fn access(&self, job: &str) -> ShuffleAccess {
        ShuffleAccess {
            nodes: self.nodes.clone(),
            token: self.secret.token(job),
            replicas: self.replicas,
        }
    }

    /// A client for `job`'s data on every node.
    pub async fn connect(&self, job: &str) -> Result<ShuffleCluster, String> {
        ShuffleCluster::connect(
            &self.endpoint,
            job,
            &self.secret.token(job),
            &self.nodes,
            self.replicas,
        )
        .await
    }

    /// Each node's counters, in node order, or why it could not be
    /// asked. Each node is asked on a connection of its own, all at once
    /// and for at most `patience`, so a node that is down spoils only its
    /// own answer, and only once.
    pub async fn node_stats(&self, patience: Duration) -> Vec<Result<NodeStats, String>> {
        let mut asking = tokio::task::JoinSet::new();
        for (index, node) in self.nodes.iter().enumerate() {
            let (endpoint, node) = (self.endpoint.clone(), node.clone());
            let token = self.secret.token(STATS_ASKER);
            asking.spawn(async move {
                let ask = async {
                    let cluster = ShuffleCluster::connect(
                        &endpoint,
                        STATS_ASKER,
                        &token,
                        std::slice::from_ref(&node),
                        1,
                    )
                    .await?;
                    let stats = cluster.stats().await.map_err(|e| e.to_string())?;
                    stats
                        .into_iter()
                        .next()
                        .ok_or_else(|| "no answer".to_string())
                };
                let answer = tokio::time::timeout(patience, ask)
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {patience:?}")));
                (index, answer)
            });
        }
        let mut answers: Vec<Result<NodeStats, String>> = (0..self.nodes.len())
            .map(|_| Err("not asked".to_string()))
            .collect();
        while let Some(joined) = asking.join_next().await {
            if let Ok((index, answer)) = joined {
                answers[index] = answer;
            }
        }
        answers
    }

    /// Every node with its counters (or why they could not be read).
    pub async fn status(&self, patience: Duration) -> Vec<NodeStatus> {
        let answers = self.node_stats(patience).await;
        self.nodes
            .iter()
            .zip(answers)
            .map(|((name, address), answer)| {
                let (stats, error) = match answer {
                    Ok(stats) => (Some(stats), None),
                    Err(error) => (None, Some(error)),
                };
                NodeStatus {
                    name: name.clone(),
                    address: address.to_string(),
                    replicas: self.replicas,
                    stats,
                    error,
                }
            })
            .collect()
    }

    /// Registers `shuffles` (id and shape) of `job` on every node.
    pub async fn register(
        &self,
        job: &str,
        shuffles: &[(u32, ShuffleShape)],
    ) -> Result<(), String> {
        let cluster = self.connect(job).await?;
        for (id, shape) in shuffles {
            cluster
                .register(*id, *shape)
                .await
                .map_err(|e| format!("registering shuffle {id}: {e}"))?;
        }
        Ok(())
    }

    /// The partitions of `shuffle` no replica holds complete (all of them
    /// if no node can be reached).
    pub async fn lost_partitions(&self, job: &str, shuffle: u32, shape: ShuffleShape) -> Vec<u32> {
        match self.connect(job).await {
            Ok(cluster) => cluster.lost_partitions(shuffle, shape).await,
            Err(error) => {
                tracing::warn!(%job, %error, "cannot check the shuffle service");
                (0..shape.partitions).collect()
            }
        }
    }

    /// Deletes `job`'s data on every node, trying once; if that fails,
    /// tries again in the background (see [`DELETE_PATIENCE`]). Returns
    /// whether the first try succeeded.
    pub async fn delete_job(self: &Arc<Self>, job: &str) -> bool {
        match self.try_delete(job).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%job, %error, "cannot delete the job's shuffle data yet; retrying");
                let service = self.clone();
                let job = job.to_string();
                tokio::spawn(async move { service.keep_deleting(&job).await });
                false
            }
        }
    }

    async fn try_delete(&self, job: &str) -> Result<(), String> {
        self.connect(job)
            .await?
            .delete_job()
            .await
            .map_err(|e| e.to_string())
    }

    async fn keep_deleting(&self, job: &str) {
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            tokio::time::sleep(wait).await;
            match self.try_delete(job).await {
                Ok(()) => {
                    tracing::info!(%job, "deleted the job's shuffle data");
                    return;
                }
                Err(error) if started.elapsed() >= DELETE_PATIENCE => {
                    tracing::warn!(%job, %error, "gave up deleting the job's shuffle data; the nodes expire it");
                    return;
                }
                Err(_) => wait = (wait * 2).min(Duration::from_secs(30)),
            }
        }
    }
}
