//! A tansu Kafka-protocol broker for the tests, in memory on a free
//! loopback port (`.ci/run` installs it).

/// A tansu broker on a free loopback port, killed when dropped.
pub struct Broker(std::process::Child, pub String);

impl Broker {
    /// Starts one (`$FARO_TANSU`, or `tansu` on the PATH).
    pub fn start() -> Self {
        let binary = std::env::var("FARO_TANSU").unwrap_or_else(|_| "tansu".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = std::process::Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary} (see .ci/run): {e}"));
        Self(child, url)
    }

    /// Creates `topic`, once the broker answers.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let binary = std::env::var("FARO_TANSU").unwrap_or_else(|_| "tansu".into());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let partitions = partitions.to_string();
        while !std::process::Command::new(&binary)
            .args(["topic", "create", topic, "--broker", &self.1])
            .args(["--partitions", &partitions])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the broker never answered"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// `example` with the broker's address for the one it names.
    pub fn example(&self, example: &str, dir: &std::path::Path) -> String {
        let text = std::fs::read_to_string(example).unwrap();
        let address = self.1.trim_start_matches("tcp://");
        let path = dir.join(example.rsplit('/').next().unwrap());
        std::fs::write(&path, text.replace("127.0.0.1:9092", address)).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
