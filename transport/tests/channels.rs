//! A channel delivers every frame, in order, in both opening directions.

mod support;

use faro_transport::{Role, TransportError, TransportOptions};
use support::{accept_receiver, check_payload, connected_pair, payload, spawn_producer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_frames_arrive_in_order_and_credit_returns() {
    let options = TransportOptions {
        buffer_size: 4096,
        pool_buffers: 8,
        floating_buffers: 4,
        channel_credit_bytes: 0,
        ..TransportOptions::loopback()
    };
    let pair = connected_pair(options.clone(), options).await;
    let frames = 500u64;
    let sender = tokio::spawn({
        let conn = pair.client_conn.clone();
        async move {
            let mut tx = conn.open_sender(b"edge 1 -> 2").await?;
            for seq in 0..frames {
                tx.send(payload(seq, 100 + (seq as usize * 7) % 3900))
                    .await?;
            }
            tx.finish().await
        }
    });
    let incoming = pair.server_conn.accept_channel().await.unwrap();
    assert_eq!(incoming.payload(), b"edge 1 -> 2");
    assert_eq!(incoming.role(), Role::Push);
    let mut rx = incoming.into_receiver().unwrap();
    for seq in 0..frames {
        let frame = rx.recv().await.unwrap().expect("frame before end");
        assert_eq!(
            frame.as_ptr() as usize % 16,
            0,
            "frames are 16-byte aligned"
        );
        check_payload(&frame, seq, 100 + (seq as usize * 7) % 3900);
    }
    assert!(
        rx.recv().await.unwrap().is_none(),
        "clean end after the last frame"
    );
    let stats = sender.await.unwrap().unwrap();
    assert_eq!(stats.frames_sent, frames);
    drop(rx);
    let pool = pair.server.pool().stats();
    assert_eq!(pool.in_use, 0);
    assert!(pool.allocated <= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_can_pull_from_the_peer() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let server_conn = pair.server_conn.clone();
    let serve = tokio::spawn(async move {
        let incoming = server_conn.accept_channel().await?;
        let partition = u64::from_le_bytes(incoming.payload().try_into().expect("8-byte request"));
        let mut tx = incoming.into_sender()?;
        for seq in 0..50 {
            tx.send(payload(partition * 1000 + seq, 1024)).await?;
        }
        tx.finish().await
    });
    let mut rx = pair
        .client_conn
        .open_receiver(&7u64.to_le_bytes())
        .await
        .unwrap();
    for seq in 0..50 {
        check_payload(&rx.recv().await.unwrap().unwrap(), 7000 + seq, 1024);
    }
    assert!(rx.recv().await.unwrap().is_none());
    serve.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_payload_is_refused_before_sending() {
    let options = TransportOptions {
        buffer_size: 1024,
        channel_credit_bytes: 0,
        ..TransportOptions::loopback()
    };
    let pair = connected_pair(options.clone(), options).await;
    let mut tx = pair.client_conn.open_sender(b"x").await.unwrap();
    let err = tx.send(payload(0, 2048)).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::PayloadTooLarge {
                length: 2048,
                max: 1024
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_dropped_without_finish_is_not_a_clean_end() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let mut tx = pair.client_conn.open_sender(b"x").await.unwrap();
    tx.send(payload(0, 64)).await.unwrap();
    // Credit comes only once the server serves the channel.
    let server_conn = pair.server_conn.clone();
    let serve = tokio::spawn(async move { server_conn.accept_channel().await?.into_receiver() });
    tx.flush().await.unwrap();
    let mut rx = serve.await.unwrap().unwrap();
    check_payload(&rx.recv().await.unwrap().unwrap(), 0, 64);
    drop(tx);
    let err = rx.recv().await.unwrap_err();
    assert!(err.to_string().contains("Cancelled"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_can_refuse_and_the_sender_learns_why() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let producer = spawn_producer(&pair.client_conn, b"push", 10_000, 4096);
    let mut rx = accept_receiver(&pair.server_conn).await;
    rx.recv().await.unwrap().expect("a first frame");
    rx.refuse("partition 3: No space left on device");
    let err = producer.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, TransportError::Refused(message) if message == "partition 3: No space left on device"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_can_refuse_and_the_receiver_learns_why() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let server_conn = pair.server_conn.clone();
    let serve = tokio::spawn(async move {
        let mut tx = server_conn.accept_channel().await?.into_sender()?;
        tx.send(payload(0, 64)).await?;
        tx.flush().await?;
        tx.refuse("wrong token for job j1").await
    });
    let mut rx = pair.client_conn.open_receiver(b"fetch").await.unwrap();
    check_payload(&rx.recv().await.unwrap().unwrap(), 0, 64);
    let err = rx.recv().await.unwrap_err();
    assert_eq!(err.to_string(), "refused by peer: wrong token for job j1");
    serve.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_returns_only_once_the_consumer_has_read_everything() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let producer = spawn_producer(&pair.client_conn, b"x", 3, 64);
    let mut rx = accept_receiver(&pair.server_conn).await;
    // Everything has arrived, but the consumer has not read it yet.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !producer.is_finished(),
        "finish waits for the consumer, not just the network"
    );
    for seq in 0..3 {
        check_payload(&rx.recv().await.unwrap().unwrap(), seq, 64);
    }
    assert!(rx.recv().await.unwrap().is_none());
    producer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_out_of_exclusive_buffers_refuses_new_channels_by_name() {
    // Room for exactly two channels of two exclusive buffers each.
    let options = TransportOptions {
        buffer_size: 4096,
        pool_buffers: 6,
        floating_buffers: 2,
        exclusive_buffers: 2,
        channel_credit_bytes: 0,
        ..TransportOptions::loopback()
    };
    let pair = connected_pair(options.clone(), options).await;
    let first = spawn_producer(&pair.client_conn, b"a", 3, 100);
    let second = spawn_producer(&pair.client_conn, b"b", 3, 100);
    let mut receivers = vec![
        accept_receiver(&pair.server_conn).await,
        accept_receiver(&pair.server_conn).await,
    ];
    let third = spawn_producer(&pair.client_conn, b"c", 3, 100);
    let refused = pair
        .server_conn
        .accept_channel()
        .await
        .unwrap()
        .into_receiver()
        .err()
        .expect("no exclusive buffers left");
    assert!(matches!(refused, TransportError::PoolExhausted { .. }));
    let err = third.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, TransportError::Refused(m) if m.contains("cannot take another channel") && m.contains("0 of 4 are free")),
        "the pusher is told why: {err}"
    );
    // The two channels it holds are unaffected.
    for rx in &mut receivers {
        while rx.recv().await.unwrap().is_some() {}
    }
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_supplied_checksum_is_trusted_only_if_it_matches() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let conn = pair.client_conn.clone();
    let producer = tokio::spawn(async move {
        let mut tx = conn.open_sender(b"checked").await?;
        let good = payload(1, 5000);
        tx.send_checked(good.clone(), crc32c::crc32c(&good)).await?;
        let bad = payload(2, 5000);
        tx.send_checked(bad.clone(), crc32c::crc32c(&bad) ^ 1)
            .await?;
        tx.finish().await
    });
    let mut rx = accept_receiver(&pair.server_conn).await;
    let first = rx
        .recv()
        .await
        .unwrap()
        .expect("the frame with a true checksum");
    check_payload(&first, 1, 5000);
    let err = rx.recv().await.unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    assert!(producer.await.unwrap().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_order_with_the_data_where_they_are_accepted() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let sender = tokio::spawn({
        let conn = pair.client_conn.clone();
        async move {
            let mut tx = conn.open_sender(b"with events").await?;
            for seq in 0..20u64 {
                tx.send(payload(seq, 512)).await?;
                if seq % 5 == 4 {
                    tx.send_event(bytes::Bytes::copy_from_slice(&seq.to_le_bytes()))
                        .await?;
                }
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
    rx.accept_events();
    for seq in 0..20u64 {
        let frame = rx.recv().await.unwrap().expect("data");
        assert!(!frame.is_event());
        check_payload(&frame, seq, 512);
        if seq % 5 == 4 {
            let event = rx.recv().await.unwrap().expect("event");
            assert!(
                event.is_event(),
                "the event follows the data sent before it"
            );
            assert_eq!(&event[..], &seq.to_le_bytes());
        }
    }
    assert!(rx.recv().await.unwrap().is_none());
    sender.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_on_a_channel_that_takes_none_refuses_it() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let sender = tokio::spawn({
        let conn = pair.client_conn.clone();
        async move {
            let mut tx = conn.open_sender(b"data only").await?;
            tx.send(payload(0, 64)).await?;
            tx.send_event(bytes::Bytes::from_static(b"wm")).await?;
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
    check_payload(&rx.recv().await.unwrap().unwrap(), 0, 64);
    let error = rx.recv().await.unwrap_err();
    assert!(error.to_string().contains("carries no events"), "{error}");
    let refused = sender.await.unwrap().unwrap_err();
    assert!(
        refused.to_string().contains("carries no events"),
        "the sender is told why: {refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_larger_than_a_few_words_is_refused_before_sending() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let mut tx = pair.client_conn.open_sender(b"big event").await.unwrap();
    let error = tx
        .send_event(bytes::Bytes::from(vec![0u8; 5000]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::PayloadTooLarge { length: 5000, .. }),
        "{error}"
    );
}
