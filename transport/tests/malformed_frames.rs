//! Malformed frames from a raw QUIC peer close that channel with an error
//! naming the fault, on both sides, while the process keeps serving others.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use faro_transport::frame::{FrameHeader, FrameKind, HEADER_LEN};
use faro_transport::{Endpoint, Fault, TlsConfig, TransportError, TransportOptions};
use support::{check_payload, identity, loopback, payload};
use tokio::sync::mpsc;

const BUFFER: usize = 4096;

/// Serves every channel of every connection as a receiver and reports how
/// each one ended: the number of frames received, or the error.
fn serve(endpoint: Endpoint) -> mpsc::UnboundedReceiver<Result<usize, TransportError>> {
    let (report, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(connection) = endpoint.accept().await {
            let Ok(connection) = connection else { continue };
            let report = report.clone();
            tokio::spawn(async move {
                while let Ok(incoming) = connection.accept_channel().await {
                    let report = report.clone();
                    tokio::spawn(async move {
                        let result = async {
                            let mut rx = incoming.into_receiver()?;
                            let mut frames = 0;
                            while rx.recv().await?.is_some() {
                                frames += 1;
                            }
                            Ok(frames)
                        }
                        .await;
                        let _ = report.send(result);
                    });
                }
            });
        }
    });
    reports
}

/// A QUIC peer that speaks raw bytes instead of Faro frames.
async fn raw_connection(tls: &TlsConfig, server: std::net::SocketAddr) -> quinn::Connection {
    let endpoint = quinn::Endpoint::client(loopback()).unwrap();
    let config = quinn::ClientConfig::new(Arc::new(tls.quic_client_config().unwrap()));
    endpoint
        .connect_with(config, server, "localhost")
        .unwrap()
        .await
        .unwrap()
}

/// Opens a push channel properly and waits for its first credit, so the
/// next bytes are judged as a data frame.
async fn open_push_channel(
    connection: &quinn::Connection,
) -> (quinn::SendStream, quinn::RecvStream) {
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    let open = FrameHeader::for_payload(FrameKind::Open, 1, b"raw").unwrap();
    send.write_all(&open.encode()).await.unwrap();
    send.write_all(b"raw").await.unwrap();
    let mut credit = [0u8; HEADER_LEN];
    recv.read_exact(&mut credit).await.unwrap();
    let credit = FrameHeader::decode(&credit, 0).unwrap();
    assert_eq!(credit.kind, FrameKind::Credit);
    assert!(credit.aux >= 1);
    (send, recv)
}

/// Sends `bytes` on a fresh channel and returns the server's error and the
/// fault code the raw peer was told, on the credit direction of the stream
/// (and on the data direction too, unless the peer had already finished it).
async fn send_malformed(
    connection: &quinn::Connection,
    reports: &mut mpsc::UnboundedReceiver<Result<usize, TransportError>>,
    bytes: Vec<u8>,
    finish: bool,
) -> (TransportError, Option<Fault>) {
    let (mut send, mut recv) = open_push_channel(connection).await;
    send.write_all(&bytes).await.unwrap();
    if finish {
        send.finish().unwrap();
    }
    let server_error = tokio::time::timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("the server reports the channel")
        .expect("server running")
        .expect_err("a malformed frame is an error, not data");
    let stopped = tokio::time::timeout(Duration::from_secs(10), send.stopped())
        .await
        .expect("the peer learns the channel was closed");
    let stop_fault = stopped
        .ok()
        .flatten()
        .and_then(|code| Fault::from_code(code.into_inner()));
    let reset = tokio::time::timeout(Duration::from_secs(10), recv.read_to_end(1 << 16))
        .await
        .expect("the credit direction is reset");
    let reset_fault = match reset {
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => {
            Fault::from_code(code.into_inner())
        }
        other => panic!("expected a reset credit stream, got {other:?}"),
    };
    if !finish {
        assert_eq!(
            stop_fault, reset_fault,
            "both directions name the same fault"
        );
    }
    (server_error, reset_fault)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_only_their_channel_and_name_the_fault() {
    let tls = identity();
    let options = TransportOptions {
        buffer_size: BUFFER,
        channel_credit_bytes: 0,
        ..TransportOptions::loopback()
    };
    let server = Endpoint::bind(loopback(), &tls, options.clone()).unwrap();
    let addr = server.local_addr().unwrap();
    let mut reports = serve(server);
    let raw = raw_connection(&tls, addr).await;

    // Oversized: a data frame larger than the receiver's buffers.
    let header = FrameHeader {
        kind: FrameKind::Data,
        length: BUFFER as u32 + 1,
        aux: 0,
        payload_crc: 0,
    };
    let (error, fault) = send_malformed(&raw, &mut reports, header.encode().to_vec(), false).await;
    assert!(
        error
            .to_string()
            .contains("oversized frame: 4097 bytes, the maximum is 4096"),
        "{error}"
    );
    assert_eq!(fault, Some(Fault::Oversized));

    // Bad checksum: the payload was altered after the header was computed.
    let mut bytes = FrameHeader::for_payload(FrameKind::Data, 0, b"the real payload")
        .unwrap()
        .encode()
        .to_vec();
    bytes.extend_from_slice(b"the fake payload");
    let (error, fault) = send_malformed(&raw, &mut reports, bytes, false).await;
    assert!(
        error.to_string().contains("bad payload checksum"),
        "{error}"
    );
    assert_eq!(fault, Some(Fault::PayloadChecksum));

    // Bad length, declared: an End frame claiming a payload.
    let header = FrameHeader {
        kind: FrameKind::End,
        length: 5,
        aux: 0,
        payload_crc: 0,
    };
    let (error, fault) = send_malformed(&raw, &mut reports, header.encode().to_vec(), false).await;
    assert!(
        error.to_string().contains("bad length 5 for a End frame"),
        "{error}"
    );
    assert_eq!(fault, Some(Fault::BadLength));

    // Bad length, actual: the stream ends before the announced payload.
    let mut bytes = FrameHeader::for_payload(FrameKind::Data, 0, &[7u8; 1000])
        .unwrap()
        .encode()
        .to_vec();
    bytes.extend_from_slice(&[7u8; 10]);
    let (error, fault) = send_malformed(&raw, &mut reports, bytes, true).await;
    assert!(
        error
            .to_string()
            .contains("truncated frame: expected 1000 bytes, the stream ended after 10"),
        "{error}"
    );
    assert_eq!(fault, Some(Fault::BadLength));

    // A corrupted header field is caught by the header checksum.
    let mut bytes = FrameHeader::for_payload(FrameKind::Data, 0, b"abc")
        .unwrap()
        .encode();
    bytes[4] ^= 0x40;
    let (error, fault) = send_malformed(&raw, &mut reports, bytes.to_vec(), false).await;
    assert!(error.to_string().contains("bad header checksum"), "{error}");
    assert_eq!(fault, Some(Fault::MalformedHeader));

    // The same raw connection still gets a well-formed channel served...
    let (mut send, _recv) = open_push_channel(&raw).await;
    let good = FrameHeader::for_payload(FrameKind::Data, 0, b"fine").unwrap();
    send.write_all_chunks(&mut [
        Bytes::copy_from_slice(&good.encode()),
        Bytes::from_static(b"fine"),
    ])
    .await
    .unwrap();
    send.write_all(&FrameHeader::control(FrameKind::End, 0).encode())
        .await
        .unwrap();
    send.finish().unwrap();
    assert_eq!(reports.recv().await.unwrap().unwrap(), 1);

    // ...and so does a new, well-behaved connection.
    let client = Endpoint::bind(loopback(), &tls, options).unwrap();
    let connection = client.connect(addr, "localhost").await.unwrap();
    let mut tx = connection.open_sender(b"good").await.unwrap();
    for seq in 0..100 {
        tx.send(payload(seq, 1000)).await.unwrap();
    }
    tx.finish().await.unwrap();
    assert_eq!(reports.recv().await.unwrap().unwrap(), 100);
    check_payload(&payload(3, 1000), 3, 1000);
}
