//! Raw quinn mode, the baseline: quinn 0.11 with default transport and
//! endpoint settings and no credits. Each channel is one bidirectional
//! stream carrying `[8-byte little-endian length][payload]` frames; when
//! the sender finishes the stream, the receiver answers with one byte.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use faro_transport::TlsConfig;

use super::process::{announce_listening, finish_receiving, Sent, LINGER};
use super::{check_frame, path_note, payload_ring, Workload, PAYLOAD_RING};
use crate::rusage::Meter;

/// The byte a receiver writes back once it has read a stream to its end.
const ACK: u8 = 0x06;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The parent's side: connects, opens one stream per workload channel, and
/// measures from the first write until every stream's acknowledgement.
pub async fn send(addr: SocketAddr, tls: &TlsConfig, workload: &Workload) -> Result<Sent> {
    let endpoint =
        quinn::Endpoint::client(loopback()).context("cannot bind the sending endpoint")?;
    let client = quinn::ClientConfig::new(Arc::new(
        tls.quic_client_config()
            .context("cannot build the client TLS config")?,
    ));
    let conn = endpoint
        .connect_with(client, addr, "localhost")
        .context("cannot start connecting")?
        .await
        .context("cannot connect to the receiver")?;
    let channels = workload.frames_per_channel.len();
    let mut streams = Vec::with_capacity(channels);
    for channel in 0..channels {
        let pair = conn
            .open_bi()
            .await
            .with_context(|| format!("cannot open stream {channel}"))?;
        streams.push(pair);
    }
    let ring: Arc<[Bytes]> = payload_ring(workload.frame_size).into();
    let header = Bytes::copy_from_slice(&(workload.frame_size as u64).to_le_bytes());

    let meter = Meter::start()?;
    let tasks: Vec<_> = streams
        .into_iter()
        .zip(&workload.frames_per_channel)
        .map(|((send, recv), &frames)| {
            tokio::spawn(send_stream(
                send,
                recv,
                ring.clone(),
                header.clone(),
                frames,
            ))
        })
        .collect();
    for (channel, task) in tasks.into_iter().enumerate() {
        task.await
            .context("a sending task panicked")?
            .with_context(|| format!("stream {channel} failed"))?;
    }
    let measurement = meter.stop()?;
    let note = format!("; {}", path_note(&conn));

    conn.close(0u32.into(), b"done");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    Ok(Sent { measurement, note })
}

async fn send_stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    ring: Arc<[Bytes]>,
    header: Bytes,
    frames: u64,
) -> Result<()> {
    for n in 0..frames {
        let mut chunks = [header.clone(), ring[(n % PAYLOAD_RING) as usize].clone()];
        send.write_all_chunks(&mut chunks)
            .await
            .with_context(|| format!("cannot send frame {n}"))?;
    }
    send.finish().context("cannot finish the stream")?;
    let mut ack = [0u8; 1];
    recv.read_exact(&mut ack)
        .await
        .context("no acknowledgement from the receiver")?;
    ensure!(ack[0] == ACK, "the receiver answered {:#04x}", ack[0]);
    Ok(())
}

/// The child's side: accepts one connection and its streams, drains each
/// in its own task, reports, and waits for the sender to close.
pub async fn receive(tls: &TlsConfig, channels: usize, frame_size: usize) -> Result<()> {
    let server = quinn::ServerConfig::with_crypto(Arc::new(
        tls.quic_server_config()
            .context("cannot build the server TLS config")?,
    ));
    let endpoint = quinn::Endpoint::server(server, loopback())
        .context("cannot bind the receiving endpoint")?;
    announce_listening(endpoint.local_addr()?);
    let conn = endpoint
        .accept()
        .await
        .context("the endpoint closed before a connection arrived")?
        .await
        .context("the handshake failed")?;

    let meter = Meter::start()?;
    let mut tasks = Vec::with_capacity(channels);
    for channel in 0..channels {
        let (send, recv) = conn
            .accept_bi()
            .await
            .with_context(|| format!("cannot accept stream {channel}"))?;
        tasks.push(tokio::spawn(drain(send, recv, frame_size)));
    }
    finish_receiving(tasks, &meter).await?;

    if tokio::time::timeout(LINGER, conn.closed()).await.is_err() {
        eprintln!("receiver: the sender did not close the connection within {LINGER:?}");
    }
    endpoint.close(0u32.into(), b"done");
    Ok(())
}

async fn drain(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    frame_size: usize,
) -> Result<(u64, u64)> {
    let mut buffer = vec![0u8; frame_size];
    let mut header = [0u8; 8];
    let (mut bytes, mut frames) = (0u64, 0u64);
    loop {
        match recv.read_exact(&mut header).await {
            Ok(()) => {}
            Err(quinn::ReadExactError::FinishedEarly(0)) => break,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read header {frames}"))
            }
        }
        let length = u64::from_le_bytes(header);
        let payload = usize::try_from(length)
            .ok()
            .and_then(|length| buffer.get_mut(..length))
            .with_context(|| format!("frame {frames} claims {length} bytes, over {frame_size}"))?;
        recv.read_exact(payload)
            .await
            .with_context(|| format!("cannot read frame {frames}"))?;
        check_frame(payload, frames)?;
        bytes += length;
        frames += 1;
    }
    send.write_all(&[ACK])
        .await
        .context("cannot acknowledge the end")?;
    send.finish().context("cannot finish the acknowledgement")?;
    Ok((bytes, frames))
}
