//! Faro mode: the bytes travel on Faro's credit-based channels
//! (`faro_transport`), one channel per sending task, over one connection,
//! with the loopback options (64 KiB UDP payloads).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use faro_transport::{
    ChannelReceiver, ChannelSender, Endpoint, SenderStats, TlsConfig, TransportOptions,
};

use super::process::{announce_listening, finish_receiving, Sent, LINGER};
use super::{check_frame, path_note, payload_ring, Workload, PAYLOAD_RING};
use crate::rusage::Meter;

/// Receive memory the pool may hold at most, unless the channels' own
/// minimum (exclusive buffers plus one floating each) needs more.
const POOL_MEMORY_CAP: usize = 512 << 20;

/// The options both sides use: frame-sized buffers, and a pool with each
/// channel's exclusive buffers plus two floating ones per channel (at least
/// 16 buffers), capped at [`POOL_MEMORY_CAP`] but never below the minimum.
fn options(channels: usize, frame_size: usize) -> TransportOptions {
    let mut options = TransportOptions {
        buffer_size: frame_size,
        ..TransportOptions::loopback()
    };
    let exclusive = options.channel_exclusive() as usize;
    let minimum = channels * (exclusive + 1);
    let wanted = (channels * (exclusive + 2)).max(16);
    let cap = (POOL_MEMORY_CAP / frame_size).max(minimum);
    options.pool_buffers = wanted.min(cap);
    options.floating_buffers = options.pool_buffers - channels * exclusive;
    options
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The parent's side: connects, opens one channel per workload channel,
/// and measures from the first send until every `finish` has returned
/// (each waits until the receiver has seen the channel's end).
pub async fn send(addr: SocketAddr, tls: &TlsConfig, workload: &Workload) -> Result<Sent> {
    let channels = workload.frames_per_channel.len();
    let endpoint = Endpoint::bind(loopback(), tls, options(channels, workload.frame_size))
        .context("cannot bind the sending endpoint")?;
    let conn = endpoint
        .connect(addr, "localhost")
        .await
        .context("cannot connect to the receiver")?;
    let mut senders = Vec::with_capacity(channels);
    for channel in 0..channels {
        let tx = conn
            .open_sender(format!("bench channel {channel}").as_bytes())
            .await
            .with_context(|| format!("cannot open channel {channel}"))?;
        senders.push(tx);
    }
    let ring: Arc<[Bytes]> = payload_ring(workload.frame_size).into();

    let meter = Meter::start()?;
    let tasks: Vec<_> = senders
        .into_iter()
        .zip(&workload.frames_per_channel)
        .map(|(tx, &frames)| tokio::spawn(send_channel(tx, ring.clone(), frames)))
        .collect();
    let mut backpressure = Duration::ZERO;
    for (channel, task) in tasks.into_iter().enumerate() {
        let stats = task
            .await
            .context("a sending task panicked")?
            .with_context(|| format!("channel {channel} failed"))?;
        backpressure += stats.backpressure;
    }
    let measurement = meter.stop()?;
    let path = path_note(conn.quinn());

    conn.close();
    endpoint.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    Ok(Sent {
        measurement,
        note: format!(
            "; {path}; credit wait {:.2} s summed over channels",
            backpressure.as_secs_f64()
        ),
    })
}

async fn send_channel(
    mut tx: ChannelSender,
    ring: Arc<[Bytes]>,
    frames: u64,
) -> Result<SenderStats> {
    for n in 0..frames {
        let payload = ring[(n % PAYLOAD_RING) as usize].clone();
        tx.send(payload)
            .await
            .with_context(|| format!("cannot send frame {n}"))?;
    }
    tx.finish().await.context("cannot finish the channel")
}

/// The child's side: accepts one connection and its channels, drains each
/// in its own task, reports, and waits for the sender to close.
pub async fn receive(tls: &TlsConfig, channels: usize, frame_size: usize) -> Result<()> {
    let endpoint = Endpoint::bind(loopback(), tls, options(channels, frame_size))
        .context("cannot bind the receiving endpoint")?;
    announce_listening(endpoint.local_addr()?);
    let conn = endpoint
        .accept()
        .await
        .context("the endpoint closed before a connection arrived")?
        .context("the handshake failed")?;

    let meter = Meter::start()?;
    let mut tasks = Vec::with_capacity(channels);
    for channel in 0..channels {
        let incoming = conn
            .accept_channel()
            .await
            .with_context(|| format!("cannot accept channel {channel}"))?;
        let rx = incoming
            .into_receiver()
            .with_context(|| format!("cannot receive on channel {channel}"))?;
        tasks.push(tokio::spawn(drain(rx)));
    }
    finish_receiving(tasks, &meter).await?;

    if tokio::time::timeout(LINGER, conn.closed()).await.is_err() {
        eprintln!("receiver: the sender did not close the connection within {LINGER:?}");
    }
    endpoint.close();
    Ok(())
}

async fn drain(mut rx: ChannelReceiver) -> Result<(u64, u64)> {
    let (mut bytes, mut frames) = (0u64, 0u64);
    while let Some(frame) = rx
        .recv()
        .await
        .with_context(|| format!("cannot receive frame {frames}"))?
    {
        check_frame(&frame, frames)?;
        bytes += frame.len() as u64;
        frames += 1;
    }
    Ok((bytes, frames))
}
