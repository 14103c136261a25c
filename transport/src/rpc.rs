//! Control RPC: one request, one response, over channels — what the
//! scheduler and workers say to each other (register, heartbeat, deploy,
//! cancel, task finished). Bodies are opaque bytes (the callers use JSON).
//!
//! A request that fits the `Open` frame (almost all) travels in it, on a
//! receiving channel whose data is the response: one round trip. A larger
//! request (a deployment of a big job spec) is first uploaded on a sending
//! channel under a fresh id; the call then names the id. Either way the
//! response streams back under the caller's credit, in frames of the
//! caller's buffer size.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use crate::channel::{ChannelSender, IncomingChannel, Role};
use crate::endpoint::Connection;
use crate::error::TransportError;
use crate::frame::MAX_OPEN_PAYLOAD;

const SMALL: u8 = b'S';
const UPLOAD: u8 = b'U';
const LARGE: u8 = b'L';

/// How long a large call waits for its upload to be stored.
const UPLOAD_WAIT: Duration = Duration::from_secs(5);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Sends `request` and returns the peer's response.
pub async fn call(connection: &Connection, request: &[u8]) -> Result<Bytes, TransportError> {
    let open = if request.len() < MAX_OPEN_PAYLOAD as usize {
        let mut open = Vec::with_capacity(request.len() + 1);
        open.push(SMALL);
        open.extend_from_slice(request);
        open
    } else {
        // Ids only need to be unique per connection; a process-wide
        // counter mixed with the time is more than that.
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed)
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                << 20);
        let mut upload = vec![UPLOAD];
        upload.extend_from_slice(&id.to_le_bytes());
        let mut tx = connection.open_sender(&upload).await?;
        let chunk = tx.max_payload().max(1);
        for part in request.chunks(chunk) {
            tx.send(Bytes::copy_from_slice(part)).await?;
        }
        tx.finish().await?;
        let mut open = vec![LARGE];
        open.extend_from_slice(&id.to_le_bytes());
        open
    };
    let mut rx = connection.open_receiver(&open).await?;
    let mut response = Vec::new();
    while let Some(frame) = rx.recv().await? {
        response.extend_from_slice(&frame);
    }
    Ok(Bytes::from(response))
}

/// The answering side of a request.
pub struct Responder {
    tx: ChannelSender,
}

impl Responder {
    /// Sends the response and ends the call.
    pub async fn respond(mut self, response: &[u8]) -> Result<(), TransportError> {
        let chunk = self.tx.max_payload().max(1);
        for part in response.chunks(chunk) {
            self.tx.send(Bytes::copy_from_slice(part)).await?;
        }
        self.tx.finish().await.map(|_| ())
    }

    /// Refuses the request; the caller's `call` fails with `message`.
    pub async fn refuse(self, message: &str) {
        let _ = self.tx.refuse(message).await;
    }
}

/// Receives requests on the channels a server accepts.
#[derive(Default)]
pub struct RpcServer {
    uploads: Mutex<HashMap<u64, Vec<u8>>>,
}

fn id_of(payload: &[u8]) -> Option<u64> {
    payload.get(1..9)?.try_into().ok().map(u64::from_le_bytes)
}

impl RpcServer {
    /// A server with no uploads pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns an accepted channel into a request and its responder.
    /// Returns `Ok(None)` for an upload (stored for the call that
    /// follows) and an error for a channel that is not RPC.
    pub async fn accept(
        &self,
        incoming: IncomingChannel,
    ) -> Result<Option<(Vec<u8>, Responder)>, TransportError> {
        let payload = incoming.payload().to_vec();
        match (payload.first().copied(), incoming.role()) {
            (Some(SMALL), Role::Pull) => {
                let tx = incoming.into_sender()?;
                Ok(Some((payload[1..].to_vec(), Responder { tx })))
            }
            (Some(UPLOAD), Role::Push) => {
                let id = id_of(&payload)
                    .ok_or_else(|| TransportError::Refused("malformed upload".into()))?;
                let mut rx = incoming.into_receiver()?;
                let mut body = Vec::new();
                while let Some(frame) = rx.recv().await? {
                    body.extend_from_slice(&frame);
                }
                self.lock().insert(id, body);
                Ok(None)
            }
            (Some(LARGE), Role::Pull) => {
                let tx = incoming.into_sender()?;
                let Some(id) = id_of(&payload) else {
                    let _ = tx.refuse("malformed call").await;
                    return Ok(None);
                };
                // The upload's last frame was read before its sender's
                // `finish` returned, but storing it may still be under way.
                let deadline = tokio::time::Instant::now() + UPLOAD_WAIT;
                loop {
                    if let Some(body) = self.lock().remove(&id) {
                        return Ok(Some((body, Responder { tx })));
                    }
                    if tokio::time::Instant::now() >= deadline {
                        let _ = tx.refuse("no upload for this call").await;
                        return Ok(None);
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            _ => Err(TransportError::Refused("not an RPC channel".into())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Vec<u8>>> {
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }
}
