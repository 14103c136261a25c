//! `kafka` and `kafka_sink`: rows from and to the topics of a
//! Kafka-protocol broker (Apache Kafka, Redpanda, tansu), through rskafka,
//! a Kafka client in Rust (no librdkafka to build).
//!
//! - [`source`]: a topic's partitions split among the source's subtasks
//!   (partition *i* of the sorted list to subtask *i* mod parallelism),
//!   each partition a split with its own watermark, as Flink's Kafka
//!   source has them. Unbounded by default; `bounded: true` reads what
//!   each partition holds when the source opens and ends, so one spec can
//!   run as a batch job over a topic's contents too.
//! - [`sink`]: each row a record (a JSON object, or text); rows of one
//!   `key` to one partition, in order; acknowledged by the broker before
//!   the sink's input is done.
//! - [`definition`]: the params and catalogue entries.
//!
//! The client is async and operators are called synchronously on their
//! slot, so each subtask runs its client on a thread of its own with a
//! small runtime (as `read` runs opendal) and trades with it over bounded
//! channels: a source holds at most a few fetches in memory and a slow
//! slot stops the fetching; a sink's slot waits when the broker is slower
//! than its input, which holds its producers through credits.
//!
//! The brokers a job names must be allowed by the worker
//! ([`crate::access::AccessPolicy::check_kafka`]). A broker that does not
//! answer within [`BROKER_DEADLINE`] fails the task as unavailable
//! (transient: the scheduler may run it again); a topic that does not
//! exist, or a record that is not a row of the schema (named by topic,
//! partition and offset), fails it as bad input.
//!
//! Known limits: delivery is at least once — offsets are not yet part of
//! checkpoints (a re-run source reads from `start` again) and the sink
//! does not use transactions; the partitions are those the topic has when
//! the source opens; no TLS, SASL or compression codec (a compressed
//! record batch is an error naming its codec); a record whose value is
//! null (a tombstone) carries no row and is skipped.

use std::time::Duration;

use rskafka::client::{Client, ClientBuilder};
use rskafka::BackoffConfig;

use crate::operator::OperatorError;

mod definition;
pub mod sink;
pub mod source;

pub use definition::{
    KafkaDefinition, KafkaParams, KafkaSinkDefinition, KafkaSinkParams, RecordFormat, StartOffset,
};
pub use sink::KafkaSink;
pub use source::KafkaSource;

/// How long a request retries a broker that does not answer before the
/// task fails.
pub const BROKER_DEADLINE: Duration = Duration::from_secs(10);

/// A client of `brokers` that gives up after [`BROKER_DEADLINE`].
async fn connect(brokers: &[String]) -> Result<Client, OperatorError> {
    let backoff = BackoffConfig {
        deadline: Some(BROKER_DEADLINE),
        ..BackoffConfig::default()
    };
    ClientBuilder::new(brokers.to_vec())
        .client_id("faro")
        .backoff_config(backoff)
        .build()
        .await
        .map_err(|e| unavailable(brokers, e))
}

/// A broker that did not answer as asked: worth another attempt.
fn unavailable(brokers: &[String], error: impl std::fmt::Display) -> OperatorError {
    OperatorError::Unavailable(format!("Kafka brokers {}: {error}", brokers.join(", ")))
}

/// A topic's partitions, sorted; a missing topic is bad input.
async fn partitions(
    client: &Client,
    brokers: &[String],
    topic: &str,
) -> Result<Vec<i32>, OperatorError> {
    let topics = client
        .list_topics()
        .await
        .map_err(|e| unavailable(brokers, e))?;
    let found = topics.into_iter().find(|t| t.name == topic);
    match found {
        Some(t) if !t.partitions.is_empty() => Ok(t.partitions.into_iter().collect()),
        _ => Err(OperatorError::BadInput(format!(
            "no Kafka topic {topic:?} on {} (create it first)",
            brokers.join(", ")
        ))),
    }
}

/// A runtime for a client thread.
fn client_runtime() -> Result<tokio::runtime::Runtime, OperatorError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OperatorError::Unavailable(format!("starting a Kafka client runtime: {e}")))
}
