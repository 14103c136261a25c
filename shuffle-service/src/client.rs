//! The client side of the shuffle protocol: what producers and consumers
//! (the runtime, benchmarks, tests) call instead of speaking frames.

use bytes::Bytes;
use faro_transport::{ChannelReceiver, ChannelSender, Connection, TransportError};

use std::ops::Range;

use crate::protocol::{Envelope, NodeStats, Request, Response, ShuffleSummary};
use crate::resume::FrameChain;
use crate::storage::ShuffleShape;

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
    /// The node (named) could not be reached when the job's client
    /// connected.
    #[error("shuffle node {0} is unreachable")]
    Unreachable(String),
    /// The node in this process refused a push (the message says why:
    /// full disk, unknown shuffle or partition).
    #[error("the shuffle node in this process refused: {0}")]
    Refused(String),
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

    /// Whether the connection to the node is still usable.
    pub fn is_open(&self) -> bool {
        self.connection.is_open()
    }

    /// Registers shuffle `shuffle`: its maps and reduce partitions.
    pub async fn register(&self, shuffle: u32, shape: ShuffleShape) -> Result<(), ClientError> {
        let ShuffleShape { maps, partitions } = shape;
        self.call(shuffle, Request::Register { maps, partitions })
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
        self.fetch_request(shuffle, partition, None, None).await
    }

    /// Like [`Self::fetch`] (of the maps in `maps` only, when given),
    /// past the frames `taken` from another replica (the node refuses if
    /// its own first frames are not those).
    pub async fn fetch_resumed(
        &self,
        shuffle: u32,
        partition: u32,
        maps: Option<Range<u32>>,
        taken: FrameChain,
    ) -> Result<ChannelReceiver, ClientError> {
        self.fetch_request(shuffle, partition, maps, Some(taken))
            .await
    }

    /// Like [`Self::fetch`], for the frames of the maps in `maps` only.
    pub async fn fetch_maps(
        &self,
        shuffle: u32,
        partition: u32,
        maps: Range<u32>,
    ) -> Result<ChannelReceiver, ClientError> {
        self.fetch_request(shuffle, partition, Some(maps), None)
            .await
    }

    async fn fetch_request(
        &self,
        shuffle: u32,
        partition: u32,
        maps: Option<Range<u32>>,
        resume: Option<FrameChain>,
    ) -> Result<ChannelReceiver, ClientError> {
        let request = Request::Fetch {
            partition,
            maps,
            resume,
        };
        Ok(self
            .connection
            .open_receiver(&self.envelope(shuffle, request)?)
            .await?)
    }

    /// Fetches a whole partition into memory (tests, small partitions).
    pub async fn fetch_all(&self, shuffle: u32, partition: u32) -> Result<Vec<Bytes>, ClientError> {
        collect(self.fetch(shuffle, partition).await?).await
    }

    /// The job's shuffles on this node.
    pub async fn list(&self) -> Result<Vec<ShuffleSummary>, ClientError> {
        match self.call(0, Request::List).await? {
            Response::Shuffles { shuffles } => Ok(shuffles),
            other => Err(ClientError::BadResponse(format!(
                "expected a shuffle list, got {other:?}"
            ))),
        }
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

/// Every frame of a fetch, copied out of the receive buffers.
pub async fn collect(mut rx: ChannelReceiver) -> Result<Vec<Bytes>, ClientError> {
    let mut frames = Vec::new();
    while let Some(frame) = rx.recv().await? {
        frames.push(Bytes::copy_from_slice(&frame));
    }
    Ok(frames)
}
