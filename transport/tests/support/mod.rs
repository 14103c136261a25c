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
