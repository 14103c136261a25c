//! Watermarks, checkpoint barriers and end of data travel in order with
//! the batches — over a local queue and over a QUIC channel — reach an
//! operator's hooks once every channel has them, and go on downstream.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faro_runtime::exchange::partition::Partitioner;
use faro_runtime::exchange::{ConsumerSink, InputQueue, OutputWriter};
use faro_runtime::message::{Barrier, Message, Signal, Watermark};
use faro_runtime::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use faro_runtime::spec::Partitioning;
use faro_runtime::task::build::ChainOperators;
use faro_runtime::task::{FeederSpec, InputSpec, OutputSpec, SinkSpec, TaskRun};
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value, ValuesView};
use faro_transport::{Endpoint, LocalCa, TransportOptions};
use tokio::sync::oneshot;

fn schema() -> Schema {
    Schema::new(vec![Field::new("n", DataType::Int64)])
}

fn batch(n: i64) -> Batch {
    let mut builder = BatchBuilder::new(schema(), 1);
    builder.push_row(&[Value::Int64(n)]).unwrap();
    builder.finish().unwrap()
}

type Log = Arc<Mutex<Vec<String>>>;

/// Passes rows through and writes down every hook call.
struct Recorder(Log);

impl Recorder {
    fn note(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }
}

impl Operator for Recorder {
    fn process(
        &mut self,
        _input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let ValuesView::Int64(values) = rows.columns[0].values else {
            panic!("an int64 column")
        };
        self.note(format!("data {}", values[0]));
        out.emit(rows.to_batch(&schema())?)
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        _out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.note(format!("watermark {}", watermark.0));
        Ok(Some(watermark))
    }

    fn on_barrier(&mut self, barrier: Barrier, _out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.note(format!("barrier {}", barrier.checkpoint));
        Ok(())
    }

    fn end_input(&mut self, input: usize, _out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.note(format!("end {input}"));
        Ok(())
    }
}

fn writer(sink: ConsumerSink) -> OutputWriter {
    OutputWriter::new(
        0,
        schema(),
        Partitioner::new(Partitioning::Forward, vec![], 1, 0),
        vec![sink],
        None,
        faro_runtime::metrics::TaskMetrics::default(),
    )
}

fn context() -> OperatorContext {
    OperatorContext {
        vertex: "recorder".into(),
        subtask: 0,
        parallelism: 1,
        attempt: 0,
        spill_dir: std::env::temp_dir(),
        access: Arc::new(faro_runtime::access::AccessPolicy::deny_all()),
    }
}

/// A task whose head is a [`Recorder`] over one input of `channels`
/// channels (the last one remote, fed by `remote`), writing to `output`.
fn recording_task(
    log: Log,
    queue: InputQueue,
    feeders: Vec<(FeederSpec, faro_runtime::exchange::InputSender)>,
    output: faro_runtime::exchange::InputSender,
) -> TaskRun {
    let (offer, local_sink) = oneshot::channel();
    offer.send(output).ok().unwrap();
    TaskRun {
        name: "recorder[0]".into(),
        context: context(),
        operators: ChainOperators {
            source: None,
            operators: vec![Box::new(Recorder(log))],
        },
        inputs: vec![InputSpec {
            exchange: 0,
            schema: schema(),
            queue,
            feeders,
        }],
        outputs: vec![OutputSpec {
            exchange: 1,
            schema: schema(),
            partitioning: Partitioning::Forward,
            keys: vec![],
            key_groups: None,
            producer: 0,
            tolerant: false,
            sinks: vec![SinkSpec::Local(local_sink)],
            shuffle: None,
            range: None,
        }],
        metrics: faro_runtime::metrics::TaskMetrics::default(),
        span: tracing::Span::none(),
        live: None,
        checkpoints: None,
        approximate: false,
    }
}

/// Waits until the log holds `n` entries; returns them.
async fn logged(log: &Log, n: usize) -> Vec<String> {
    for _ in 0..1000 {
        let entries = log.lock().unwrap().clone();
        if entries.len() >= n {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "the log never reached {n} entries: {:?}",
        log.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_cross_a_local_queue_and_a_quic_channel_in_order_with_the_data() {
    let tls = LocalCa::generate()
        .unwrap()
        .issue(&["localhost"])
        .unwrap()
        .tls_config();
    let options = TransportOptions::loopback();
    let producer_side =
        Endpoint::bind("127.0.0.1:0".parse().unwrap(), &tls, options.clone()).unwrap();
    let consumer_side =
        Endpoint::bind("127.0.0.1:0".parse().unwrap(), &tls, options.clone()).unwrap();
    let address = consumer_side.local_addr().unwrap();
    let (to_consumer, from_producer) = tokio::join!(
        producer_side.connect(address, "localhost"),
        consumer_side.accept()
    );
    let (to_consumer, from_producer) = (to_consumer.unwrap(), from_producer.unwrap().unwrap());

    // Channel 0 is local, channel 1 crosses QUIC.
    let (mut senders, queue) = InputQueue::new(2, 4);
    let remote_sender = senders.pop().unwrap();
    let mut local = writer(ConsumerSink::Local(senders.pop().unwrap()));
    let (channel_tx, channel_rx) = oneshot::channel();
    // Kept open for the test: a connection closes with its last handle.
    let consumer_connection = from_producer.clone();
    let accept = tokio::spawn(async move {
        let incoming = from_producer.accept_channel().await.unwrap();
        channel_tx.send(incoming.into_receiver().unwrap()).ok();
    });
    let mut remote = writer(ConsumerSink::Remote {
        channel: to_consumer.open_sender(b"pair").await.unwrap(),
        max_frame: options.buffer_size,
    });
    accept.await.unwrap();

    let log: Log = Arc::default();
    let (mut downstream_senders, mut downstream) = InputQueue::new(1, 64);
    let task = recording_task(
        log.clone(),
        queue,
        vec![(
            FeederSpec::Remote {
                exchange: 0,
                channel: channel_rx,
            },
            remote_sender,
        )],
        downstream_senders.pop().unwrap(),
    );
    let running = tokio::spawn(task.run());

    let wm = |t| Signal::Watermark(Watermark(t));
    let b1 = Signal::Barrier(Barrier { checkpoint: 1 });
    local.send(batch(1)).await.unwrap();
    logged(&log, 1).await;
    local.send_signal(wm(10)).await.unwrap();
    remote.send(batch(2)).await.unwrap();
    logged(&log, 2).await;
    // The remote channel has sent no watermark: the task's is still MIN.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.lock().unwrap().len(), 2, "{:?}", log.lock().unwrap());
    remote.send_signal(wm(20)).await.unwrap();
    logged(&log, 3).await;

    // The local channel is held at the barrier; the remote one still flows.
    local.send_signal(b1).await.unwrap();
    local.send(batch(4)).await.unwrap();
    remote.send(batch(3)).await.unwrap();
    logged(&log, 4).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.lock().unwrap().len(), 4, "{:?}", log.lock().unwrap());
    remote.send_signal(b1).await.unwrap();
    logged(&log, 6).await;

    local.send_signal(wm(30)).await.unwrap();
    logged(&log, 7).await;
    remote.finish().await.unwrap();
    logged(&log, 8).await;
    local.finish().await.unwrap();
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.rows_in, 4);
    drop(consumer_connection);

    assert_eq!(
        *log.lock().unwrap(),
        [
            "data 1",
            "data 2",
            "watermark 10",
            "data 3",
            "barrier 1",
            "data 4",
            "watermark 20",
            "watermark 30",
            "end 0",
        ]
    );
    // Downstream sees the same order: what a signal completes precedes it.
    let mut seen = Vec::new();
    loop {
        match downstream.next(0).await.unwrap().unwrap() {
            Message::Data(incoming) => incoming
                .with_rows(&schema(), |rows| {
                    let ValuesView::Int64(values) = rows.columns[0].values else {
                        panic!("an int64 column")
                    };
                    seen.push(format!("data {}", values[0]));
                })
                .unwrap(),
            Message::Signal(Signal::Watermark(w)) => seen.push(format!("watermark {}", w.0)),
            Message::Signal(Signal::Barrier(b)) => seen.push(format!("barrier {}", b.checkpoint)),
            Message::Signal(Signal::Idle) => seen.push("idle".into()),
            Message::Signal(Signal::EndOfData) => break,
        }
    }
    assert_eq!(
        seen,
        [
            "data 1",
            "data 2",
            "watermark 10",
            "data 3",
            "barrier 1",
            "data 4",
            "watermark 20",
            "watermark 30",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_that_goes_away_without_end_of_data_fails_the_consumer() {
    let (mut senders, queue) = InputQueue::new(2, 4);
    let mut second = writer(ConsumerSink::Local(senders.pop().unwrap()));
    let mut first = writer(ConsumerSink::Local(senders.pop().unwrap()));
    let (mut downstream_senders, _downstream) = InputQueue::new(1, 64);
    let log: Log = Arc::default();
    let task = recording_task(log, queue, vec![], downstream_senders.pop().unwrap());
    let running = tokio::spawn(task.run());
    first.send(batch(1)).await.unwrap();
    first.finish().await.unwrap();
    second.send(batch(2)).await.unwrap();
    // Dropped as a panicking producer's writer would be: no end of data.
    drop(second);
    let error = running.await.unwrap().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("producer 1 went away before the end of its data"),
        "{error}"
    );
}
