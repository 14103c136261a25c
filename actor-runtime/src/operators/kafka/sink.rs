//! The `kafka_sink`: each row encoded as a record on the slot, produced
//! by a client thread. The slot hands the thread one batch's records at
//! a time over a bounded channel, so a broker slower than the input
//! holds the sink (and through credits its producers); at a checkpoint
//! barrier and at end of input the sink waits until the broker has
//! acknowledged every record before it, so a finished job's rows are all
//! in the topic.
//!
//! A row's partition: with `key`, the row hash of its key columns (the
//! one exchanges use) scaled to the partition count, so one key's rows
//! keep their order; without, each batch goes whole to the next
//! partition in turn, starting at the subtask's index.

use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rskafka::chrono::{DateTime, Utc};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;

use super::{client_runtime, connect, partitions, unavailable, KafkaSinkParams, RecordFormat};
use crate::data::{Schema, Value, OP_COLUMN};
use crate::kernels::hash::{hash_rows, partition_of};
use crate::message::Barrier;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};

/// Batches of records between the slot and the client thread.
const BATCHES_HELD: usize = 2;

/// What the slot asks of the client thread.
enum Command {
    /// Produce these records; each with its key's hash, if it has a key.
    Produce(Vec<(Option<u64>, Record)>),
    /// Answer once everything before is acknowledged.
    Flush(SyncSender<Result<(), OperatorError>>),
}

/// The `kafka_sink` operator.
pub struct KafkaSink {
    params: KafkaSinkParams,
    input: Schema,
    vertex: String,
    keys: Vec<usize>,
    commands: Option<SyncSender<Command>>,
    failure: Option<Receiver<OperatorError>>,
    thread: Option<JoinHandle<()>>,
}

impl KafkaSink {
    /// A sink of `params` for rows of `input`, for vertex `vertex`.
    pub fn new(params: KafkaSinkParams, input: Schema, vertex: &str) -> Self {
        let keys = params
            .key
            .iter()
            .filter_map(|k| input.index_of(k))
            .collect();
        Self {
            params,
            input,
            vertex: vertex.to_string(),
            keys,
            commands: None,
            failure: None,
            thread: None,
        }
    }

    /// The error that stopped the client thread, or that it stopped.
    fn stopped(&self) -> OperatorError {
        self.failure
            .as_ref()
            .and_then(|f| f.try_recv().ok())
            .unwrap_or_else(|| {
                OperatorError::Unavailable(format!(
                    "{}: the Kafka writer of topic {} stopped",
                    self.vertex, self.params.topic
                ))
            })
    }

    fn send(&self, command: Command) -> Result<(), OperatorError> {
        let sent = self.commands.as_ref().map(|c| c.send(command));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// Waits until the broker holds every record sent so far.
    fn flush(&self) -> Result<(), OperatorError> {
        let (reply, answer) = sync_channel(1);
        self.send(Command::Flush(reply))?;
        answer.recv().map_err(|_| self.stopped())?
    }

    /// One record per row of `rows`.
    fn records(&self, rows: &Rows<'_>) -> Vec<(Option<u64>, Record)> {
        let hashes = (!self.keys.is_empty()).then(|| {
            let keys: Vec<_> = self.keys.iter().map(|&k| &rows.columns[k]).collect();
            hash_rows(&keys, rows.rows)
        });
        let now = DateTime::<Utc>::from_timestamp_millis(now_ms()).unwrap_or_default();
        (0..rows.rows)
            .map(|row| {
                let record = Record {
                    key: (!self.keys.is_empty()).then(|| self.key(rows, row)),
                    value: Some(self.value(rows, row)),
                    headers: BTreeMap::new(),
                    timestamp: now,
                };
                (hashes.as_ref().map(|h| h[row]), record)
            })
            .collect()
    }

    /// A row's key: its one key column's text, or a JSON array of them.
    fn key(&self, rows: &Rows<'_>, row: usize) -> Vec<u8> {
        let values: Vec<Value> = self
            .keys
            .iter()
            .map(|&k| rows.columns[k].value(row))
            .collect();
        match values.as_slice() {
            [Value::Utf8(text)] => text.clone().into_bytes(),
            [one] => one.to_json().to_string().into_bytes(),
            many => serde_json::Value::Array(many.iter().map(Value::to_json).collect())
                .to_string()
                .into_bytes(),
        }
    }

    fn value(&self, rows: &Rows<'_>, row: usize) -> Vec<u8> {
        match self.params.format {
            RecordFormat::Json => {
                let mut object = serde_json::Map::new();
                if self.params.changelog {
                    let kind = rows.kind(row).short();
                    object.insert(OP_COLUMN.to_string(), kind.into());
                }
                for (field, column) in self.input.fields.iter().zip(&rows.columns) {
                    object.insert(field.name.clone(), column.value(row).to_json());
                }
                serde_json::Value::Object(object).to_string().into_bytes()
            }
            RecordFormat::Text => {
                let cells: Vec<String> = rows
                    .columns
                    .iter()
                    .map(|c| match c.value(row) {
                        Value::Null => String::new(),
                        Value::Utf8(s) => s,
                        other => other.to_string(),
                    })
                    .collect();
                cells.join("\t").into_bytes()
            }
        }
    }
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Operator for KafkaSink {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        context.access.check_kafka(&self.params.brokers)?;
        let (commands, received) = sync_channel(BATCHES_HELD);
        let (failed, failure) = sync_channel(1);
        let params = Arc::new(self.params.clone());
        let subtask = context.subtask;
        let thread = std::thread::Builder::new()
            .name(format!("kafka-sink-{}-{subtask}", self.vertex))
            .spawn(move || {
                if let Err(error) = produce_thread(&params, subtask, received) {
                    let _ = failed.send(error);
                }
            })
            .map_err(|e| OperatorError::Unavailable(format!("starting a Kafka writer: {e}")))?;
        self.commands = Some(commands);
        self.failure = Some(failure);
        self.thread = Some(thread);
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        if rows.rows == 0 {
            return Ok(());
        }
        let records = self.records(rows);
        self.send(Command::Produce(records))
    }

    /// Everything before a barrier is in the topic before the barrier
    /// passes (at least once).
    fn on_barrier(&mut self, _: Barrier, _: &mut dyn Emit) -> Result<(), OperatorError> {
        self.flush()
    }

    fn end_input(&mut self, _: usize, _: &mut dyn Emit) -> Result<(), OperatorError> {
        self.flush()
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        // Ends the client thread's loop; what was not flushed is dropped
        // with a failed or cancelled attempt.
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        Ok(())
    }
}

/// The client thread: connects, then produces each command's records
/// until the sink lets go.
fn produce_thread(
    params: &KafkaSinkParams,
    subtask: u32,
    commands: Receiver<Command>,
) -> Result<(), OperatorError> {
    let runtime = client_runtime()?;
    let brokers = &params.brokers;
    let (client, writers) = runtime.block_on(async {
        let client = connect(brokers).await?;
        let mut writers = Vec::new();
        for partition in partitions(&client, brokers, &params.topic).await? {
            let writer = client
                .partition_client(
                    params.topic.as_str(),
                    partition,
                    UnknownTopicHandling::Error,
                )
                .await
                .map_err(|e| unavailable(brokers, e))?;
            writers.push(writer);
        }
        Ok::<_, OperatorError>((client, writers))
    })?;
    let _client = client;
    let mut next = subtask as usize % writers.len();
    // A blocking receive between batches: the thread has nothing else to
    // do, and the runtime is idle while it waits.
    while let Ok(command) = commands.recv() {
        match command {
            Command::Produce(records) => {
                let mut by_partition: Vec<Vec<Record>> = vec![Vec::new(); writers.len()];
                for (hash, record) in records {
                    let partition = match hash {
                        Some(hash) => partition_of(hash, writers.len() as u32) as usize,
                        None => next,
                    };
                    by_partition[partition].push(record);
                }
                next = (next + 1) % writers.len();
                runtime.block_on(produce(&writers, by_partition, brokers))?;
            }
            // Each produce is acknowledged before the next command is
            // taken, so by now everything sent is.
            Command::Flush(reply) => {
                let _ = reply.send(Ok(()));
            }
        }
    }
    Ok(())
}

/// Produces each partition's records, acknowledged one partition after
/// another.
async fn produce(
    writers: &[PartitionClient],
    by_partition: Vec<Vec<Record>>,
    brokers: &[String],
) -> Result<(), OperatorError> {
    for (writer, records) in writers.iter().zip(by_partition) {
        if !records.is_empty() {
            writer
                .produce(records, Compression::NoCompression)
                .await
                .map_err(|e| unavailable(brokers, e))?;
        }
    }
    Ok(())
}
