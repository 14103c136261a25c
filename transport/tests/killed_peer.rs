//! A peer process killed with SIGKILL is reported as an error, on both a
//! receiving and a sending channel, within the configured idle timeout.
//!
//! The peer is this test binary re-executed: `peer_process` below runs only
//! when the parent sets `FARO_TEST_PEER_DIR`.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faro_transport::{Endpoint, LocalCa, Role, TlsConfig, TransportError, TransportOptions};
use support::{loopback, payload};

const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
/// Scheduling slack on a loaded 2-core machine, on top of the idle timeout.
const SLACK: Duration = Duration::from_millis(1500);

fn options() -> TransportOptions {
    TransportOptions {
        idle_timeout: IDLE_TIMEOUT,
        buffer_size: 16 * 1024,
        ..TransportOptions::loopback()
    }
}

/// The peer: pushes frames to the parent forever and consumes what the
/// parent pushes back, until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs only as the child process of the killed-peer test"]
async fn peer_process() {
    let Ok(dir) = std::env::var("FARO_TEST_PEER_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let tls = TlsConfig::from_pem_files(
        &dir.join("cert.pem"),
        &dir.join("key.pem"),
        &dir.join("ca.pem"),
    )
    .unwrap();
    let addr = std::fs::read_to_string(dir.join("addr"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let endpoint = Endpoint::bind(loopback(), &tls, options()).unwrap();
    let connection = endpoint.connect(addr, "localhost").await.unwrap();
    let mut rx = connection.open_receiver(b"parent to child").await.unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = rx.recv().await {} });
    let mut tx = connection.open_sender(b"child to parent").await.unwrap();
    for seq in 0.. {
        tx.send(payload(seq, 8 * 1024)).await.unwrap();
        tx.flush().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_peer_is_an_error_within_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let identity = LocalCa::generate().unwrap().issue(&["localhost"]).unwrap();
    identity.write_pem_files(dir.path()).unwrap();
    let endpoint = Endpoint::bind(loopback(), &identity.tls_config(), options()).unwrap();
    std::fs::write(
        dir.path().join("addr"),
        endpoint.local_addr().unwrap().to_string(),
    )
    .unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "peer_process", "--ignored", "--nocapture"])
        .env("FARO_TEST_PEER_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let connection = endpoint.accept().await.unwrap().unwrap();
    let (mut rx, mut tx) = (None, None);
    for _ in 0..2 {
        let incoming = connection.accept_channel().await.unwrap();
        match incoming.role() {
            Role::Push => rx = Some(incoming.into_receiver().unwrap()),
            Role::Pull => tx = Some(incoming.into_sender().unwrap()),
        }
    }
    let (mut rx, mut tx) = (rx.unwrap(), tx.unwrap());
    for seq in 0..20 {
        rx.recv().await.unwrap().expect("the peer is streaming");
        tx.send(payload(seq, 8 * 1024)).await.unwrap();
    }

    child.kill().unwrap(); // SIGKILL: no goodbye, no FIN, no CONNECTION_CLOSE.
    child.wait().unwrap();
    let killed = Instant::now();

    let receive_error = async {
        loop {
            match rx.recv().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("a killed peer must not look like a clean end"),
                Err(error) => return (error, killed.elapsed()),
            }
        }
    };
    let send_error = async {
        for seq in 0.. {
            if let Err(error) = tx.send(payload(seq, 8 * 1024)).await {
                return (error, killed.elapsed());
            }
        }
        unreachable!()
    };
    let ((rx_error, rx_after), (tx_error, tx_after)) =
        tokio::time::timeout(IDLE_TIMEOUT + SLACK + Duration::from_secs(10), async {
            tokio::join!(receive_error, send_error)
        })
        .await
        .expect("both channels report the dead peer");

    for (error, after) in [(&rx_error, rx_after), (&tx_error, tx_after)] {
        assert!(
            matches!(
                error,
                TransportError::ConnectionLost(quinn::ConnectionError::TimedOut)
            ),
            "expected an idle timeout, got {error}"
        );
        assert!(
            after <= IDLE_TIMEOUT + SLACK,
            "reported {after:?} after the kill"
        );
    }
}
