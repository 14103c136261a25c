//! Control RPC between two real endpoints: small requests in one round
//! trip, requests far over the Open frame's limit uploaded first,
//! responses larger than a buffer streamed back, refusals named.

mod support;

use faro_transport::rpc::{call, RpcServer};
use faro_transport::{TransportError, TransportOptions};
use support::connected_pair;

fn serve(conn: faro_transport::Connection) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let server = std::sync::Arc::new(RpcServer::new());
        while let Ok(incoming) = conn.accept_channel().await {
            let server = server.clone();
            tokio::spawn(async move {
                if let Ok(Some((request, responder))) = server.accept(incoming).await {
                    if request == b"fail" {
                        responder.refuse("no such worker: w9").await;
                    } else {
                        // Echo, reversed, and padded to a size of the caller's choosing.
                        let mut response: Vec<u8> = request.iter().rev().copied().collect();
                        response.resize(request.len().max(3 << 20), b'.');
                        responder.respond(&response).await.unwrap();
                    }
                }
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_and_large_requests_get_whole_responses() {
    let pair = connected_pair(TransportOptions::loopback(), TransportOptions::loopback()).await;
    let _server = serve(pair.server_conn.clone());

    let response = call(&pair.client_conn, b"hello").await.unwrap();
    assert_eq!(&response[..5], b"olleh");
    assert_eq!(
        response.len(),
        3 << 20,
        "a 3 MiB response over 1 MiB buffers"
    );

    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let response = call(&pair.client_conn, &big).await.unwrap();
    let reversed: Vec<u8> = big.iter().rev().copied().collect();
    assert_eq!(
        &response[..big.len()],
        &reversed[..],
        "a 200 kB request, uploaded first"
    );

    let err = call(&pair.client_conn, b"fail").await.unwrap_err();
    assert!(
        matches!(&err, TransportError::Refused(m) if m == "no such worker: w9"),
        "{err}"
    );
}
