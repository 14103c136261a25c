//! The client side of the shuffle protocol: what producers and consumers
//! (the runtime, benchmarks, tests) call instead of speaking frames.

use bytes::Bytes;
use faro_transport::{ChannelReceiver, ChannelSender, Connection, TransportError};

use crate::protocol::{Envelope, NodeStats, Request, Response};

/// Talks to one shuffle node on behalf of one job.
#[derive(Clone)]
pub struct ShuffleClient {
    connection: Connection,
    job: String,
    token: String,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The transport failed, or the node refused the request (the message
    /// says why: wrong token, full disk, unknown shuffle).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The request could not be encoded.
    #[error("cannot encode the request: {0}")]
    BadRequest(String),
    /// The node answered something that is not a response.
    #[error("bad response from the shuffle node: {0}")]
    BadResponse(String),
}

impl ShuffleClient {
    /// A client for `job`, authenticating with `token`.
    pub fn new(connection: Connection, job: &str, token: &str) -> Self {
        Self {
            connection,
            job: job.to_string(),
            token: token.to_string(),
        }
    }

    fn envelope(&self, shuffle: u32, request: Request) -> Result<Vec<u8>, ClientError> {
        let envelope = Envelope {
            job: self.job.clone(),
            shuffle,
            token: self.token.clone(),
            request,
        };
        serde_json::to_vec(&envelope).map_err(|e| ClientError::BadRequest(e.to_string()))
    }

    async fn call(&self, shuffle: u32, request: Request) -> Result<Response, ClientError> {
        let mut rx = self
            .connection
            .open_receiver(&self.envelope(shuffle, request)?)
            .await?;
        let frame = rx
            .recv()
            .await?
            .ok_or_else(|| ClientError::BadResponse("no response frame".into()))?;
        let response =
            serde_json::from_slice(&frame).map_err(|e| ClientError::BadResponse(e.to_string()))?;
        drop(frame);
        match rx.recv().await? {
            None => Ok(response),
            Some(_) => Err(ClientError::BadResponse(
                "more than one response frame".into(),
            )),
        }
    }

    /// Registers shuffle `shuffle` with `partitions` reduce partitions.
    pub async fn register(&self, shuffle: u32, partitions: u32) -> Result<(), ClientError> {
        self.call(shuffle, Request::Register { partitions })
            .await
            .map(|_| ())
    }

    /// Opens a channel pushing frames of `(map, attempt)` to `partition`;
    /// frames are numbered from `first_seq`. `finish` it when done.
    pub async fn push(
        &self,
        shuffle: u32,
        partition: u32,
        map: u32,
        attempt: u32,
        first_seq: u32,
    ) -> Result<ChannelSender, ClientError> {
        let request = Request::Push {
            partition,
            map,
            attempt,
            first_seq,
        };
        Ok(self
            .connection
            .open_sender(&self.envelope(shuffle, request)?)
            .await?)
    }

    /// Commits `(map, attempt)`; the response says whether it won.
    pub async fn commit(
        &self,
        shuffle: u32,
        map: u32,
        attempt: u32,
    ) -> Result<Response, ClientError> {
        self.call(shuffle, Request::Commit { map, attempt }).await
    }

    /// Opens a channel streaming `partition`'s committed frames.
    pub async fn fetch(
        &self,
        shuffle: u32,
        partition: u32,
    ) -> Result<ChannelReceiver, ClientError> {
        Ok(self
            .connection
            .open_receiver(&self.envelope(shuffle, Request::Fetch { partition })?)
            .await?)
    }

    /// Fetches a whole partition into memory (tests, small partitions).
    pub async fn fetch_all(&self, shuffle: u32, partition: u32) -> Result<Vec<Bytes>, ClientError> {
        let mut rx = self.fetch(shuffle, partition).await?;
        let mut frames = Vec::new();
        while let Some(frame) = rx.recv().await? {
            frames.push(Bytes::copy_from_slice(&frame));
        }
        Ok(frames)
    }

    /// The node's counters.
    pub async fn stats(&self) -> Result<NodeStats, ClientError> {
        match self.call(0, Request::Stats).await? {
            Response::Stats(stats) => Ok(stats),
            other => Err(ClientError::BadResponse(format!(
                "expected stats, got {other:?}"
            ))),
        }
    }

    /// Tells the node the job is alive, so its data does not expire.
    pub async fn heartbeat(&self) -> Result<(), ClientError> {
        self.call(0, Request::Heartbeat).await.map(|_| ())
    }

    /// Deletes all of the job's shuffle data on the node.
    pub async fn delete_job(&self) -> Result<(), ClientError> {
        self.call(0, Request::DeleteJob).await.map(|_| ())
    }
}
