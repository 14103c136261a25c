//! Credit-based backpressure: a stalled consumer holds its producer back,
//! receive memory stays inside the pool, and one stalled channel does not
//! hold back its neighbours on the same connection.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faro_transport::TransportOptions;
use support::{check_payload, connected_pair, payload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_consumer_holds_back_a_producer_sending_100x_the_pool() {
    const BUFFER: usize = 64 * 1024;
    const POOL: usize = 8;
    let receiver_options = TransportOptions {
        buffer_size: BUFFER,
        pool_buffers: POOL,
        floating_buffers: POOL - 2,
        exclusive_buffers: 2,
        channel_credit_bytes: 0,
        ..TransportOptions::loopback()
    };
    let pair = connected_pair(receiver_options, TransportOptions::loopback()).await;
    let total_frames = (100 * POOL) as u64;
    let written = Arc::new(AtomicU64::new(0));
    let producer = tokio::spawn({
        let conn = pair.client_conn.clone();
        let written = written.clone();
        async move {
            let mut tx = conn.open_sender(b"bulk").await?;
            for seq in 0..total_frames {
                tx.send(payload(seq, BUFFER)).await?;
                written.store(tx.stats().frames_sent, Ordering::SeqCst);
            }
            tx.finish().await
        }
    });
    let mut rx = pair
        .server_conn
        .accept_channel()
        .await
        .unwrap()
        .into_receiver()
        .unwrap();

    // The consumer stalls. The producer may fill the receiver's pool and
    // nothing more: every frame on the wire needs a credit, and every
    // credit is a pool buffer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent_while_stalled = written.load(Ordering::SeqCst);
    assert!(
        sent_while_stalled <= POOL as u64,
        "producer sent {sent_while_stalled} frames while the consumer was stalled; credit allows {POOL}"
    );
    assert!(sent_while_stalled >= 2, "the exclusive credits were usable");
    assert!(
        !producer.is_finished(),
        "the producer waits instead of failing"
    );
    let pool = pair.server.pool().stats();
    assert!(pool.allocated_bytes() <= POOL * BUFFER, "{pool:?}");
    assert!(pool.peak_in_use <= POOL, "{pool:?}");

    for seq in 0..total_frames {
        let frame = rx.recv().await.unwrap().expect("every frame arrives");
        check_payload(&frame, seq, BUFFER);
    }
    assert!(rx.recv().await.unwrap().is_none());
    let stats = producer.await.unwrap().unwrap();
    assert_eq!(stats.bytes_sent, total_frames * BUFFER as u64);
    assert!(
        stats.backpressure >= Duration::from_millis(500),
        "{stats:?}"
    );
    let pool = pair.server.pool().stats();
    assert!(
        pool.allocated <= POOL && pool.peak_in_use <= POOL,
        "{pool:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stalled_channel_of_64_does_not_block_the_other_63() {
    const CHANNELS: usize = 64;
    const FRAMES: u64 = 100;
    const LEN: usize = 16 * 1024;
    let receiver_options = TransportOptions {
        buffer_size: LEN,
        exclusive_buffers: 2,
        channel_credit_bytes: 0,
        pool_buffers: CHANNELS * 2 + 16,
        floating_buffers: 16,
        ..TransportOptions::loopback()
    };
    let pair = connected_pair(receiver_options, TransportOptions::loopback()).await;

    let mut producers = Vec::new();
    for channel in 0..CHANNELS as u64 {
        let conn = pair.client_conn.clone();
        producers.push(tokio::spawn(async move {
            let mut tx = conn.open_sender(&channel.to_le_bytes()).await?;
            for seq in 0..FRAMES {
                tx.send(payload(channel * 1_000_000 + seq, LEN)).await?;
            }
            tx.finish().await
        }));
    }

    let mut stalled = None;
    let mut consumers = Vec::new();
    for _ in 0..CHANNELS {
        let incoming = pair.server_conn.accept_channel().await.unwrap();
        let channel = u64::from_le_bytes(incoming.payload().try_into().unwrap());
        let rx = incoming.into_receiver().unwrap();
        if channel == 13 {
            stalled = Some(rx);
            continue;
        }
        consumers.push(tokio::spawn(async move {
            let mut rx = rx;
            for seq in 0..FRAMES {
                check_payload(
                    &rx.recv().await.unwrap().unwrap(),
                    channel * 1_000_000 + seq,
                    LEN,
                );
            }
            assert!(rx.recv().await.unwrap().is_none());
        }));
    }
    let all_63 = async {
        for consumer in consumers {
            consumer.await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all_63)
        .await
        .expect("the 63 healthy channels completed while channel 13 was stalled");
    assert!(
        !producers[13].is_finished(),
        "the stalled channel's producer is still held back"
    );

    let mut rx = stalled.expect("channel 13 was accepted");
    for seq in 0..FRAMES {
        check_payload(&rx.recv().await.unwrap().unwrap(), 13_000_000 + seq, LEN);
    }
    assert!(rx.recv().await.unwrap().is_none());
    for producer in producers {
        producer.await.unwrap().unwrap();
    }
}
