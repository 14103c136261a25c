//! Helpers shared by the transport's integration tests: a connected pair of
//! real endpoints on loopback, and payloads whose content can be checked.

#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use faro_transport::{Connection, Endpoint, LocalCa, TlsConfig, TransportOptions};

pub const LOOPBACK: &str = "127.0.0.1:0";

pub fn loopback() -> SocketAddr {
    LOOPBACK.parse().expect("literal address")
}

/// One identity from a fresh local CA.
pub fn identity() -> TlsConfig {
    LocalCa::generate()
        .unwrap()
        .issue(&["localhost"])
        .unwrap()
        .tls_config()
}

/// Two endpoints sharing one identity, and a connection from client to server.
pub struct Pair {
    pub server: Endpoint,
    pub client: Endpoint,
    /// The client's side of the connection.
    pub client_conn: Connection,
    /// The server's side of the same connection.
    pub server_conn: Connection,
}

pub async fn connected_pair(
    server_options: TransportOptions,
    client_options: TransportOptions,
) -> Pair {
    let tls = identity();
    let server = Endpoint::bind(loopback(), &tls, server_options).unwrap();
    let client = Endpoint::bind(loopback(), &tls, client_options).unwrap();
    let addr = server.local_addr().unwrap();
    let (client_conn, server_conn) =
        tokio::join!(client.connect(addr, "localhost"), server.accept());
    Pair {
        client_conn: client_conn.unwrap(),
        server_conn: server_conn.expect("endpoint open").unwrap(),
        server,
        client,
    }
}

/// Frame `seq` of a stream: its sequence number, then a pattern derived from it.
pub fn payload(seq: u64, len: usize) -> Bytes {
    let mut bytes = vec![0u8; len.max(8)];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    for (i, byte) in bytes[8..].iter_mut().enumerate() {
        *byte = (seq as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    Bytes::from(bytes)
}

/// Checks that `frame` is exactly `payload(seq, len)`.
pub fn check_payload(frame: &[u8], seq: u64, len: usize) {
    assert_eq!(frame.len(), len.max(8), "frame {seq} has the wrong length");
    let got = u64::from_le_bytes(frame[..8].try_into().unwrap());
    assert_eq!(got, seq, "frames arrived out of order");
    assert!(
        frame == &payload(seq, len)[..],
        "frame {seq} content differs"
    );
}

/// Spawns a producer on `conn` that opens a sending channel, sends
/// `frames` checkable frames of `len` bytes and finishes.
pub fn spawn_producer(
    conn: &Connection,
    open: &'static [u8],
    frames: u64,
    len: usize,
) -> tokio::task::JoinHandle<Result<faro_transport::SenderStats, faro_transport::TransportError>> {
    let conn = conn.clone();
    tokio::spawn(async move {
        let mut tx = conn.open_sender(open).await?;
        for seq in 0..frames {
            tx.send(payload(seq, len)).await?;
        }
        tx.finish().await
    })
}

/// Accepts the next channel `conn`'s peer opens, as its receiving end.
pub async fn accept_receiver(conn: &Connection) -> faro_transport::ChannelReceiver {
    conn.accept_channel()
        .await
        .unwrap()
        .into_receiver()
        .unwrap()
}
