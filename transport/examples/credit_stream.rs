//! Streams data between two QUIC endpoints in one process over Faro's
//! credit-based channels, with a consumer that pauses now and then, and
//! prints what the credits did.
//!
//! ```text
//! cargo run --release -p faro-transport --example credit_stream [MiB] [channels]
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use faro_transport::{Endpoint, LocalCa, TransportError, TransportOptions};

const FRAME: usize = 256 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), TransportError> {
    let mut args = std::env::args().skip(1);
    let mebibytes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let channels: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let frames_per_channel = (mebibytes << 20) / FRAME / channels;

    let identity = LocalCa::generate()?.issue(&["localhost"])?;
    let options = TransportOptions {
        buffer_size: FRAME,
        pool_buffers: channels * 2 + 8,
        floating_buffers: 8,
        ..TransportOptions::loopback()
    };
    let loopback = "127.0.0.1:0"
        .parse()
        .map_err(|_| TransportError::Config("bad literal address".into()))?;
    let server = Endpoint::bind(loopback, &identity.tls_config(), options.clone())?;
    let client = Endpoint::bind(loopback, &identity.tls_config(), options)?;
    let server_addr = server.local_addr()?;
    println!(
        "streaming {mebibytes} MiB over {channels} channels of one QUIC connection ({} KiB frames, receive pool {} buffers = {} MiB)",
        FRAME >> 10,
        server.pool().stats().capacity,
        (server.pool().stats().capacity * FRAME) >> 20
    );

    let start = Instant::now();
    let producer = tokio::spawn(async move {
        let connection = client.connect(server_addr, "localhost").await?;
        let payload = Bytes::from(vec![7u8; FRAME]);
        let mut tasks = Vec::new();
        for channel in 0..channels {
            let connection = connection.clone();
            let payload = payload.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = connection
                    .open_sender(format!("channel {channel}").as_bytes())
                    .await?;
                for _ in 0..frames_per_channel {
                    tx.send(payload.clone()).await?;
                }
                tx.finish().await
            }));
        }
        let mut stats = Vec::new();
        for task in tasks {
            stats.push(task.await.map_err(|_| TransportError::ChannelClosed)??);
        }
        Ok::<_, TransportError>(stats)
    });

    let connection = server
        .accept()
        .await
        .ok_or(TransportError::ChannelClosed)??;
    let mut consumers = Vec::new();
    for channel in 0..channels {
        let mut rx = connection.accept_channel().await?.into_receiver()?;
        consumers.push(tokio::spawn(async move {
            let mut bytes = 0usize;
            let mut frames = 0usize;
            while let Some(frame) = rx.recv().await? {
                bytes += frame.len();
                frames += 1;
                // Channel 0 is a slow consumer, like a busy operator: while
                // it naps it grants no credit, and its producer waits.
                if channel == 0 && frames.is_multiple_of(64) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Ok::<_, TransportError>(bytes)
        }));
    }
    let mut received = 0;
    for consumer in consumers {
        received += consumer
            .await
            .map_err(|_| TransportError::ChannelClosed)??;
    }
    let stats = producer
        .await
        .map_err(|_| TransportError::ChannelClosed)??;
    let elapsed = start.elapsed();

    for (channel, stats) in stats.iter().enumerate() {
        println!(
            "channel {channel}: {} frames, {} MiB, waited {:?} for credit",
            stats.frames_sent,
            stats.bytes_sent >> 20,
            stats.backpressure
        );
    }
    let pool = server.pool().stats();
    println!(
        "received {} MiB in {:.2?}: {:.2} GB/s; receive pool peak {} of {} buffers",
        received >> 20,
        elapsed,
        received as f64 / elapsed.as_secs_f64() / 1e9,
        pool.peak_in_use,
        pool.capacity
    );
    Ok(())
}
