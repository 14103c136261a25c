//! A real Kafka-protocol broker for the tests: tansu (crates.io), run as
//! a process on a free loopback port with in-memory storage, and a client
//! to create topics, produce records and read a topic back.
//!
//! The broker binary is `$FARO_TANSU`, or `tansu` on the PATH (`.ci/run`
//! installs it); without it the tests fail saying how to install it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rskafka::chrono::{TimeZone, Utc};
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;

/// A running broker, killed when dropped.
pub struct Broker {
    process: Child,
    /// `127.0.0.1:PORT`, as jobs name it.
    pub address: String,
}

impl Broker {
    /// Starts a broker and waits until it answers Kafka requests.
    pub async fn start() -> Self {
        let binary = std::env::var("FARO_TANSU").unwrap_or_else(|_| "tansu".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let process = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting the Kafka broker {binary:?}: {e}; install it with \
                     `cargo install --locked tansu --features dynostore` (or set FARO_TANSU)"
                )
            });
        let broker = Self {
            process,
            address: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(client) = ClientBuilder::new(vec![broker.address.clone()])
                .build()
                .await
            {
                if client.list_topics().await.is_ok() {
                    return broker;
                }
            }
            assert!(Instant::now() < deadline, "the broker did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A client of the broker.
    pub async fn client(&self) -> Client {
        ClientBuilder::new(vec![self.address.clone()])
            .build()
            .await
            .expect("a client of the test broker")
    }

    /// Creates `topic` with `partitions` partitions.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let client = self.client().await;
        let controller = client.controller_client().unwrap();
        controller
            .create_topic(topic, partitions, 1, 5_000)
            .await
            .unwrap();
        // Metadata catches up with the new topic.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !client
            .list_topics()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == topic && t.partitions.len() == partitions as usize)
        {
            assert!(Instant::now() < deadline, "topic {topic} never listed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Produces `values` (with `key`s, if any) to `partition` of `topic`.
    pub async fn produce(&self, topic: &str, partition: i32, values: &[(Option<&str>, &str)]) {
        let client = self.client().await;
        let writer = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await
            .unwrap();
        let records = values
            .iter()
            .map(|(key, value)| Record {
                key: key.map(|k| k.as_bytes().to_vec()),
                value: Some(value.as_bytes().to_vec()),
                headers: BTreeMap::new(),
                timestamp: Utc.timestamp_millis_opt(0).unwrap(),
            })
            .collect();
        writer
            .produce(records, Compression::NoCompression)
            .await
            .unwrap();
    }

    /// Every record of `topic` now, per partition, as (key, value) text.
    pub async fn read_all(&self, topic: &str) -> BTreeMap<i32, Vec<(Option<String>, String)>> {
        let client = self.client().await;
        let listed = client.list_topics().await.unwrap();
        let partitions = &listed.iter().find(|t| t.name == topic).unwrap().partitions;
        let mut out = BTreeMap::new();
        for &partition in partitions {
            let reader = client
                .partition_client(topic, partition, UnknownTopicHandling::Retry)
                .await
                .unwrap();
            // From offset 0 (nothing here is ever truncated) to the high
            // watermark, as the source takes them: tansu's ListOffsets
            // answers earliest with the batch written first and latest
            // with the last batch's first offset.
            let mut offset = 0;
            let (_, end) = reader.fetch_records(offset, 1..2, 0).await.unwrap();
            let mut records = Vec::new();
            while offset < end {
                let (batch, _) = reader.fetch_records(offset, 1..1 << 20, 100).await.unwrap();
                for record in batch {
                    if record.offset < offset {
                        continue;
                    }
                    offset = record.offset + 1;
                    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
                    records.push((
                        record.record.key.map(text),
                        text(record.record.value.unwrap_or_default()),
                    ));
                }
            }
            out.insert(partition, records);
        }
        out
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
