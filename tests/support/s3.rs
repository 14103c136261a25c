//! An S3-protocol server for tests: moto's (PyPI `moto[server]`, which
//! `.ci/run` installs), on a free loopback port, killed when dropped.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct S3Server {
    child: Child,
    /// Its URL (`http://127.0.0.1:PORT`).
    pub endpoint: String,
}

impl S3Server {
    /// Starts one and waits until it answers.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 to start moto (pip install 'moto[server]')");
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while super::jobs::agent()
            .get(&format!("{}/", server.endpoint))
            .call()
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "moto did not answer on {} (is `moto[server]` installed?)",
                server.endpoint
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Creates bucket `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        super::jobs::agent()
            .put(&format!("{}/{bucket}", self.endpoint))
            .send_empty()
            .unwrap_or_else(|e| panic!("creating bucket {bucket}: {e}"));
    }

    /// The keys in `bucket` (the first thousand).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let xml = super::jobs::agent()
            .get(&format!("{}/{bucket}?list-type=2", self.endpoint))
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_else(|e| panic!("listing bucket {bucket}: {e}"));
        xml.split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>").map(|(key, _)| key.to_string()))
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
