//! The scheduler's view of the shuffle service: which nodes, the secret
//! job tokens derive from, the replication factor, and the few calls the
//! scheduler itself makes — register a job's shuffles before its producers
//! run, find partitions that were lost, delete a job's data.
//!
//! Every call connects afresh: the scheduler talks to the service rarely
//! (job start, after a failure, job end), and a node that restarted since
//! the last call must not be asked over a dead connection.

use std::net::SocketAddr;

use faro_runtime::deploy::ShuffleAccess;
use faro_shuffle::storage::ShuffleShape;
use faro_shuffle::{ClusterSecret, ShuffleCluster};
use faro_transport::Endpoint;

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

    /// Deletes `job`'s data on every node it can reach.
    pub async fn delete_job(&self, job: &str) {
        let deleted = async {
            self.connect(job)
                .await?
                .delete_job()
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(error) = deleted.await {
            tracing::warn!(%job, %error, "cannot delete the job's shuffle data");
        }
    }
}
