//! Whole jobs on real task actors: one worker with local exchanges, and
//! two workers in this process exchanging over QUIC with a real shuffle
//! service on loopback for blocking edges; results against references
//! computed directly. And credit-bounded memory between a fast producer
//! and a stalled consumer.

use crate::operator_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use faro_runtime::deploy::ShuffleAccess;
use faro_runtime::exchange::partition::Partitioner;
use faro_runtime::exchange::{ConsumerSink, InputQueue, OutputWriter};
use faro_runtime::message::{Message, Signal};
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec, Partitioning};
use faro_runtime::worker::Worker;
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value};
use faro_shuffle::storage::IoPreference;
use faro_shuffle::{ClusterSecret, ShuffleServer};
use faro_transport::{Endpoint, LocalCa, TlsConfig, TransportOptions};
use operator_support::rows;

const SECRET: &[u8] = b"a test cluster secret, 32 bytes!";

fn spec(json: &str) -> faro_runtime::spec::ValidJob {
    validate(&JobSpec::from_json(json).unwrap()).unwrap()
}

/// gen → filter (chained) → hash → aggregate (partial/final) → EDGE → sort → collect.
fn aggregate_job(edge: &str) -> String {
    format!(
        r#"{{"vertices": [
        {{"id": "gen", "operator": "generate", "parallelism": 2, "params": {{"rows": 20000, "batch_rows": 1000, "columns": [
            {{"name": "k", "expr": "i % 97"}}, {{"name": "v", "expr": "i % 13"}},
            {{"name": "s", "expr": "CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END"}}]}}}},
        {{"id": "keep", "operator": "filter", "parallelism": 2, "params": {{"predicate": "v <> 3"}}}},
        {{"id": "agg", "operator": "aggregate", "parallelism": 3, "params": {{"group_by": ["k"], "aggregates": [
            {{"name": "total", "function": "sum", "expr": "v"}}, {{"name": "n", "function": "count"}},
            {{"name": "first", "function": "min", "expr": "s"}}]}}}},
        {{"id": "order", "operator": "sort", "parallelism": 1, "params": {{"keys": [{{"column": "k"}}]}}}},
        {{"id": "out", "operator": "collect"}}],
      "edges": [
        {{"from": "gen", "to": "keep", "partitioning": "forward"}},
        {{"from": "keep", "to": "agg", "partitioning": {{"hash": ["k"]}}, "exchange": "{edge}"}},
        {{"from": "agg", "to": "order", "partitioning": "rebalance", "exchange": "{edge}"}},
        {{"from": "order", "to": "out", "partitioning": "forward"}}]}}"#
    )
}

fn aggregate_reference() -> Vec<Vec<Value>> {
    let mut groups: BTreeMap<i64, (i64, i64, String)> = BTreeMap::new();
    for i in 0..20000i64 {
        let (k, v) = (i % 97, i % 13);
        if v == 3 {
            continue;
        }
        let s = if i % 2 == 0 { "even" } else { "odd" };
        let entry = groups.entry(k).or_insert((0, 0, s.to_string()));
        entry.0 += v;
        entry.1 += 1;
        if s < entry.2.as_str() {
            entry.2 = s.to_string();
        }
    }
    groups
        .into_iter()
        .map(|(k, (total, n, first))| {
            vec![
                Value::Int64(k),
                Value::Int64(total),
                Value::Int64(n),
                Value::Utf8(first),
            ]
        })
        .collect()
}

fn env(job_id: &str, shuffle: Option<ShuffleAccess>) -> JobEnv {
    JobEnv {
        job_id: job_id.into(),
        shuffle,
        max_frame: TransportOptions::default().buffer_size,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_on_one_worker_with_local_exchanges() {
    let worker = Worker::start(2, None).unwrap();
    let output = run_job(
        &spec(&aggregate_job("pipelined")),
        &[&worker],
        &env("job-1", None),
    )
    .await
    .unwrap();
    assert_eq!(rows(&output.collected), aggregate_reference());
    let partial = output
        .reports
        .iter()
        .find(|r| r.task.starts_with("gen+keep+agg(partial)[0]"))
        .unwrap();
    assert!(
        partial.rows_out < 200,
        "combined before the shuffle: {partial:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_chained_behind_its_source_reports_the_rows_it_took() {
    // Source, filter and sink in one chain: the task's rows in and out
    // say nothing of what reached the sink; `rows_sunk` does.
    let job = r#"{"name": "sunk", "vertices": [
        {"id": "gen", "operator": "generate", "parallelism": 2,
         "params": {"rows": 1000, "columns": [{"name": "k", "expr": "i"}]}},
        {"id": "odd", "operator": "filter", "parallelism": 2, "params": {"predicate": "k % 2 = 1"}},
        {"id": "out", "operator": "blackhole", "parallelism": 2}],
      "edges": [{"from": "gen", "to": "odd", "partitioning": "forward"},
                {"from": "odd", "to": "out", "partitioning": "forward"}]}"#;
    let worker = Worker::start(2, None).unwrap();
    let output = run_job(&spec(job), &[&worker], &env("job-sunk", None))
        .await
        .unwrap();
    let sunk: u64 = output.reports.iter().map(|r| r.rows_sunk).sum();
    assert_eq!(sunk, 500, "{:?}", output.reports);
}

struct Cluster {
    tls: TlsConfig,
    _node: Endpoint,
    node_addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

async fn shuffle_node() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let tls = LocalCa::generate()
        .unwrap()
        .issue(&["localhost"])
        .unwrap()
        .tls_config();
    let server = Arc::new(
        ShuffleServer::open(dir.path(), ClusterSecret::new(SECRET), IoPreference::Auto).unwrap(),
    );
    let node = Endpoint::bind(
        "127.0.0.1:0".parse().unwrap(),
        &tls,
        TransportOptions::loopback(),
    )
    .unwrap();
    let node_addr = node.local_addr().unwrap();
    tokio::spawn(server.serve(node.clone()));
    Cluster {
        tls,
        _node: node,
        node_addr,
        _dir: dir,
    }
}

async fn worker_with_endpoint(tls: &TlsConfig) -> Worker {
    let endpoint = Endpoint::bind(
        "127.0.0.1:0".parse().unwrap(),
        tls,
        TransportOptions::loopback(),
    )
    .unwrap();
    Worker::start(2, Some(endpoint)).unwrap()
}

fn access(cluster: &Cluster, job: &str) -> ShuffleAccess {
    ShuffleAccess {
        nodes: vec![("node".into(), cluster.node_addr)],
        token: ClusterSecret::new(SECRET).token(job),
        replicas: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_across_two_workers_with_pipelined_and_blocking_edges() {
    let cluster = shuffle_node().await;
    let a = worker_with_endpoint(&cluster.tls).await;
    let b = worker_with_endpoint(&cluster.tls).await;
    for (job, edge) in [("job-pipe", "pipelined"), ("job-block", "blocking")] {
        let shuffle = access(&cluster, job);
        let output = run_job(
            &spec(&aggregate_job(edge)),
            &[&a, &b],
            &env(job, Some(shuffle)),
        )
        .await
        .unwrap_or_else(|e| panic!("{job}: {e}"));
        assert_eq!(rows(&output.collected), aggregate_reference(), "{job}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_with_one_blocking_and_one_pipelined_side() {
    let cluster = shuffle_node().await;
    let a = worker_with_endpoint(&cluster.tls).await;
    let b = worker_with_endpoint(&cluster.tls).await;
    let job = r#"{"vertices": [
        {"id": "bids", "operator": "generate", "parallelism": 2, "params": {"rows": 5000, "batch_rows": 700, "columns": [
            {"name": "auction", "expr": "i % 50"}, {"name": "price", "expr": "i"}]}},
        {"id": "auctions", "operator": "generate", "parallelism": 2, "params": {"rows": 40, "columns": [
            {"name": "id", "expr": "i"}, {"name": "seller", "expr": "'s' || CAST(i % 7 AS VARCHAR)"}]}},
        {"id": "j", "operator": "hash_join", "parallelism": 2, "params": {"left": "bids", "right": "auctions",
            "left_keys": ["auction"], "right_keys": ["id"], "kind": "left"}},
        {"id": "per_seller", "operator": "aggregate", "parallelism": 1, "params": {"group_by": ["seller"], "aggregates": [
            {"name": "n", "function": "count"}, {"name": "sum", "function": "sum", "expr": "price"}]}},
        {"id": "order", "operator": "sort", "params": {"keys": [{"column": "seller"}]}},
        {"id": "out", "operator": "collect"}],
      "edges": [
        {"from": "bids", "to": "j", "partitioning": {"hash": ["auction"]}},
        {"from": "auctions", "to": "j", "partitioning": {"hash": ["id"]}, "exchange": "blocking"},
        {"from": "j", "to": "per_seller", "partitioning": {"hash": ["seller"]}},
        {"from": "per_seller", "to": "order", "partitioning": "forward"},
        {"from": "order", "to": "out", "partitioning": "forward"}]}"#;
    let shuffle = access(&cluster, "job-join");
    let output = run_job(&spec(job), &[&a, &b], &env("job-join", Some(shuffle)))
        .await
        .unwrap();
    let mut want: BTreeMap<Option<String>, (i64, i64)> = BTreeMap::new();
    for i in 0..5000i64 {
        let auction = i % 50;
        let seller = (auction < 40).then(|| format!("s{}", auction % 7));
        let e = want.entry(seller).or_default();
        e.0 += 1;
        e.1 += i;
    }
    let want: Vec<Vec<Value>> = want
        .into_iter()
        .map(|(s, (n, sum))| {
            vec![
                s.map_or(Value::Null, Value::Utf8),
                Value::Int64(n),
                Value::Int64(sum),
            ]
        })
        .collect();
    assert_eq!(rows(&output.collected), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_fails_the_job_with_its_name() {
    let worker = Worker::start(2, None).unwrap();
    let job = r#"{"vertices": [
        {"id": "gen", "operator": "generate", "params": {"rows": 100, "columns": [{"name": "s", "expr": "CAST(i AS VARCHAR) || 'x'"}]}},
        {"id": "parse", "operator": "project", "params": {"columns": [{"name": "n", "expr": "CAST(s AS BIGINT)"}]}},
        {"id": "out", "operator": "collect"}],
      "edges": [{"from": "gen", "to": "parse", "partitioning": "forward"},
                {"from": "parse", "to": "out", "partitioning": "rebalance"}]}"#;
    let err = run_job(&spec(job), &[&worker], &env("job-bad", None))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("gen+parse[0]") && message.contains("cannot cast \"0x\" to i64"),
        "{message}"
    );
}

fn numbers(start: i64, rows: usize) -> Batch {
    let schema = Schema::new(vec![Field::new("n", DataType::Int64)]);
    let mut builder = BatchBuilder::new(schema, rows);
    for i in 0..rows as i64 {
        builder.push_row(&[Value::Int64(start + i)]).unwrap();
    }
    builder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_holds_the_producer_to_its_credits_and_loses_nothing() {
    let (mut senders, mut queue) = InputQueue::new(1, 4);
    let sender = senders.pop().unwrap();
    let schema = numbers(0, 1).schema().clone();
    let expected = schema.clone();
    let mut writer = OutputWriter::new(
        0,
        schema,
        Partitioner::new(Partitioning::Forward, vec![], 1, 0),
        vec![ConsumerSink::Local(sender)],
        None,
        faro_runtime::metrics::TaskMetrics::default(),
    );
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let producer = tokio::spawn(async move {
        for b in 0..1000 {
            writer.send(numbers(b * 100, 100)).await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        writer.finish().await.unwrap();
    });
    // The consumer stalls: the producer gets no further than the credits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        ahead <= 5,
        "producer ran {ahead} batches ahead of a stalled consumer with 4 credits"
    );
    let mut next = 0i64;
    while let Some(delivery) = queue.next(0).await {
        let incoming = match delivery.unwrap() {
            Message::Data(incoming) => incoming,
            Message::Signal(Signal::EndOfData) => break,
            Message::Signal(other) => panic!("no {other:?} was sent"),
        };
        incoming
            .with_rows(&expected, |rows| {
                let faro_runtime::ValuesView::Int64(values) = rows.columns[0].values else {
                    panic!()
                };
                for v in values {
                    assert_eq!(*v, next, "in order, nothing lost");
                    next += 1;
                }
            })
            .unwrap();
        let in_flight = sent.load(std::sync::atomic::Ordering::SeqCst) as i64 - next / 100;
        assert!(in_flight <= 5, "{in_flight} batches in flight");
    }
    producer.await.unwrap();
    assert_eq!(next, 100_000);
}

/// A source that panics on its third batch, as a bug would.
struct Panicking(u32);

impl faro_runtime::operator::Source for Panicking {
    fn next_batch(&mut self) -> Result<Option<Batch>, faro_runtime::operator::OperatorError> {
        self.0 += 1;
        if self.0 == 3 {
            panic!("a bug in an operator");
        }
        Ok(Some(numbers(0, 10)))
    }
}

fn lone_task(source: Box<dyn faro_runtime::operator::Source>) -> faro_runtime::task::TaskRun {
    faro_runtime::task::TaskRun {
        name: "lone[0]".into(),
        context: faro_runtime::operator::OperatorContext {
            vertex: "lone".into(),
            subtask: 0,
            parallelism: 1,
            attempt: 0,
            spill_dir: std::env::temp_dir(),
            access: Arc::new(faro_runtime::access::AccessPolicy::deny_all()),
        },
        operators: faro_runtime::task::build::ChainOperators {
            source: Some(source),
            operators: vec![],
        },
        inputs: vec![],
        outputs: vec![],
        metrics: faro_runtime::metrics::TaskMetrics::default(),
        span: tracing::Span::none(),
        live: None,
        checkpoints: None,
        approximate: false,
    }
}

/// Ten batches, then the end.
struct Ten(u32);

impl faro_runtime::operator::Source for Ten {
    fn next_batch(&mut self) -> Result<Option<Batch>, faro_runtime::operator::OperatorError> {
        self.0 += 1;
        Ok((self.0 <= 10).then(|| numbers(0, 10)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_fails_alone_and_its_slot_runs_the_next() {
    let worker = Worker::start(1, None).unwrap();
    let failure = worker
        .deploy(lone_task(Box::new(Panicking(0))))
        .outcome()
        .await
        .unwrap_err();
    assert_eq!(
        failure.cause,
        faro_runtime::failure::FailureCause::Transient
    );
    assert!(
        failure
            .message
            .contains("internal error (panic): a bug in an operator"),
        "{failure}"
    );
    let report = worker
        .deploy(lone_task(Box::new(Ten(0))))
        .outcome()
        .await
        .expect("the same slot runs the next task");
    assert_eq!(report.rows_in, 100);
}
