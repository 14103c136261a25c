//! Mutual TLS: a peer whose certificate our CA did not sign is refused, in
//! either direction.

mod support;

use std::time::Duration;

use faro_transport::{Endpoint, LocalCa, TlsConfig, TransportOptions};
use support::loopback;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_of_another_ca_are_refused_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let ours = LocalCa::generate().unwrap().issue(&["localhost"]).unwrap();
    let theirs = LocalCa::generate().unwrap().issue(&["localhost"]).unwrap();
    let ours_dir = dir.path().join("ours");
    let theirs_dir = dir.path().join("theirs");
    std::fs::create_dir_all(&ours_dir).unwrap();
    std::fs::create_dir_all(&theirs_dir).unwrap();
    let our_files = ours.write_pem_files(&ours_dir).unwrap();
    let their_files = theirs.write_pem_files(&theirs_dir).unwrap();

    let server =
        Endpoint::bind(loopback(), &ours.tls_config(), TransportOptions::default()).unwrap();
    let addr = server.local_addr().unwrap();
    let accepted = tokio::spawn({
        let server = server.clone();
        async move {
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                outcomes.push(server.accept().await.expect("endpoint open").map(|_| ()));
            }
            outcomes
        }
    });

    // A client with a foreign certificate that trusts our CA: the server refuses it.
    let impostor =
        TlsConfig::from_pem_files(&their_files.cert, &their_files.key, &our_files.ca).unwrap();
    let client = Endpoint::bind(loopback(), &impostor, TransportOptions::default()).unwrap();
    let refused = match client.connect(addr, "localhost").await {
        // The client may finish its side of the handshake before the server's
        // verdict arrives; the connection then dies at once.
        Ok(connection) => tokio::time::timeout(Duration::from_secs(5), connection.closed())
            .await
            .is_ok(),
        Err(_) => true,
    };
    assert!(
        refused,
        "a client certificate from another CA must be refused"
    );

    // A client of another CA altogether refuses our server.
    let stranger = Endpoint::bind(
        loopback(),
        &theirs.tls_config(),
        TransportOptions::default(),
    )
    .unwrap();
    let err = stranger
        .connect(addr, "localhost")
        .await
        .err()
        .expect("our server is not trusted");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // A client of our CA is served.
    let friend =
        Endpoint::bind(loopback(), &ours.tls_config(), TransportOptions::default()).unwrap();
    friend.connect(addr, "localhost").await.unwrap();

    let outcomes = accepted.await.unwrap();
    assert!(outcomes[0].is_err() && outcomes[1].is_err(), "{outcomes:?}");
    assert!(outcomes[2].is_ok(), "{outcomes:?}");
}
