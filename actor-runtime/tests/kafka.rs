//! Kafka against a real broker (tansu, see `kafka_support`): a topic's
//! records read as a bounded source give one result in streaming and in
//! batch mode; each partition is a split whose event time holds the
//! windows back until it catches up; an unbounded source sees records
//! produced while its job runs and a keyed sink writes them, each once,
//! one key to one partition; a changelog is written with its kinds; and
//! an unknown topic, a record that is not a row, a broker the worker does
//! not allow and malformed params each fail with a message naming them.

use crate::kafka_support;
use crate::operator_support;
use crate::streaming_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use faro_runtime::access::AccessPolicy;
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::Value;
use kafka_support::Broker;
use operator_support::{rows, sorted};
use streaming_support::Streaming;

fn worker(broker: &Broker) -> Worker {
    Worker::start(4, None)
        .unwrap()
        .with_access(AccessPolicy::deny_all().with_kafka(vec![broker.address.clone()], false))
}

fn env(job: &str) -> JobEnv {
    JobEnv {
        job_id: job.into(),
        shuffle: None,
        max_frame: 1 << 20,
    }
}

const BIDS: &str = r#"{"fields": [
    {"name": "auction", "data_type": "int64"},
    {"name": "price", "data_type": "int64"},
    {"name": "at", "data_type": "timestamp"}]}"#;

/// Bid `i`: auction `i % 7`, price `i`, at about `i * 10` ms (up to
/// 300 ms out of order within its partition).
fn bid(i: i64) -> String {
    let at = i * 10 + if i % 5 == 0 { -300 } else { 0 };
    format!(
        r#"{{"auction": {}, "price": {i}, "at": {}}}"#,
        i % 7,
        at.max(0)
    )
}

/// Bids `ids` produced round-robin over 3 partitions, in id order within
/// each.
async fn produce_bids(broker: &Broker, topic: &str, ids: std::ops::Range<i64>) {
    let mut by_partition: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for i in ids {
        by_partition.entry((i % 3) as i32).or_default().push(bid(i));
    }
    for (partition, values) in by_partition {
        let values: Vec<(Option<&str>, &str)> = values.iter().map(|v| (None, v.as_str())).collect();
        for chunk in values.chunks(500) {
            broker.produce(topic, partition, chunk).await;
        }
    }
}

fn windowed(broker: &Broker, topic: &str, mode: &str) -> JobSpec {
    JobSpec::parse(&format!(
        r#"{{"mode": "{mode}", "vertices": [
          {{"id": "bids", "operator": "kafka", "parallelism": 2, "params": {{
             "brokers": ["{}"], "topic": "{topic}", "bounded": true, "schema": {BIDS},
             "batch_rows": 100,
             "event_time": {{"column": "at", "max_out_of_orderness_ms": 500}}}}}},
          {{"id": "per_second", "operator": "window", "parallelism": 3, "params": {{
             "time": "at", "window": {{"tumbling": {{"size_ms": 1000}}}}, "group_by": ["auction"],
             "aggregates": [{{"name": "bids", "function": "count"}},
                            {{"name": "total", "function": "sum", "expr": "price"}}]}}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "bids", "to": "per_second", "partitioning": {{"hash": ["auction"]}}}},
                   {{"from": "per_second", "to": "out", "partitioning": "rebalance"}}]}}"#,
        broker.address
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_topic_gives_one_result_streaming_and_batch() {
    let broker = Broker::start().await;
    broker.create_topic("bids", 3).await;
    produce_bids(&broker, "bids", 0..3000).await;
    let worker = worker(&broker);
    let mut results = Vec::new();
    for mode in ["streaming", "batch"] {
        let job = validate(&windowed(&broker, "bids", mode)).unwrap();
        assert_eq!(job.streaming, mode == "streaming");
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            run_job(&job, &[&worker], &env(mode)),
        )
        .await
        .expect("a bounded topic's job ends")
        .unwrap();
        results.push(sorted(rows(&output.collected)));
    }
    // The reference: every bid in its second, none late (the source's
    // delay covers the disorder).
    let mut reference: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
    for i in 0..3000 {
        let at = (i * 10 + if i % 5 == 0 { -300 } else { 0 }).max(0);
        let window = at / 1000 * 1000;
        let entry = reference.entry((i % 7, window)).or_default();
        entry.0 += 1;
        entry.1 += i;
    }
    let expected: Vec<Vec<Value>> = reference
        .iter()
        .map(|(&(auction, start), &(bids, total))| {
            vec![
                Value::Timestamp(start),
                Value::Timestamp(start + 1000),
                Value::Int64(auction),
                Value::Int64(bids),
                Value::Int64(total),
            ]
        })
        .collect();
    assert_eq!(results[0], sorted(expected));
    assert_eq!(results[0], results[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbounded_topic_streams_into_a_keyed_sink_while_records_arrive() {
    let broker = Broker::start().await;
    broker.create_topic("in", 3).await;
    broker.create_topic("out", 4).await;
    produce_bids(&broker, "in", 0..500).await;
    let spec = JobSpec::parse(&format!(
        r#"{{"vertices": [
          {{"id": "bids", "operator": "kafka", "parallelism": 2, "params": {{
             "brokers": ["{0}"], "topic": "in", "schema": {BIDS}}}}},
          {{"id": "even", "operator": "filter", "parallelism": 2, "params": {{"predicate": "price % 2 = 0"}}}},
          {{"id": "out", "operator": "kafka_sink", "parallelism": 2, "params": {{
             "brokers": ["{0}"], "topic": "out", "key": ["auction"]}}}}],
         "edges": [{{"from": "bids", "to": "even", "partitioning": "forward"}},
                   {{"from": "even", "to": "out", "partitioning": "rebalance"}}]}}"#,
        broker.address
    ))
    .unwrap();
    assert!(
        validate(&spec).unwrap().streaming,
        "a kafka source without `bounded` streams"
    );
    let mut running = Streaming::start(&spec.to_json(), worker(&broker), "live");
    // Rows produced while the job runs reach the output topic too.
    let expected: BTreeSet<i64> = (0..1500).filter(|i| i % 2 == 0).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut produced_more = false;
    let written = loop {
        let written = broker.read_all("out").await;
        let count: usize = written.values().map(Vec::len).sum();
        if !produced_more && count >= 250 {
            produce_bids(&broker, "in", 500..1500).await;
            produced_more = true;
        }
        if count >= expected.len() {
            break written;
        }
        assert!(
            Instant::now() < deadline,
            "{count} of {} rows written",
            expected.len()
        );
        running.assert_running().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Every task ran until it was cancelled.
    running.cancel().await;

    let mut prices = BTreeSet::new();
    let mut partitions_of_key: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for (partition, records) in &written {
        for (key, value) in records {
            let row: serde_json::Value = serde_json::from_str(value).unwrap();
            let auction = row["auction"].as_i64().unwrap();
            assert_eq!(
                key.as_deref(),
                Some(auction.to_string().as_str()),
                "{value}"
            );
            assert!(
                prices.insert(row["price"].as_i64().unwrap()),
                "written twice: {value}"
            );
            partitions_of_key
                .entry(auction.to_string())
                .or_default()
                .insert(*partition);
        }
    }
    assert_eq!(prices, expected);
    assert!(
        partitions_of_key.values().all(|p| p.len() == 1),
        "one key, one partition: {partitions_of_key:?}"
    );
    assert!(partitions_of_key.len() == 7, "{partitions_of_key:?}");
}

/// `times` (ms) as bids of auction 1 on `partition` of `topic`.
async fn produce_at(broker: &Broker, topic: &str, partition: i32, times: std::ops::Range<i64>) {
    let values: Vec<String> = times
        .step_by(10)
        .map(|at| format!(r#"{{"auction": 1, "price": 1, "at": {at}}}"#))
        .collect();
    let values: Vec<(Option<&str>, &str)> = values.iter().map(|v| (None, v.as_str())).collect();
    broker.produce(topic, partition, &values).await;
}

/// The window starts (ms) written to `topic` so far.
async fn window_starts(broker: &Broker, topic: &str) -> BTreeSet<i64> {
    let written = broker.read_all(topic).await;
    let rows = written.values().flatten();
    rows.map(|(_, value)| {
        let row: serde_json::Value = serde_json::from_str(value).unwrap();
        row["window_start"].as_i64().unwrap()
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_partition_holds_event_time_back_until_it_catches_up() {
    let broker = Broker::start().await;
    broker.create_topic("timed", 3).await;
    broker.create_topic("windows", 1).await;
    // Partitions 0 and 1 reach 10 s; partition 2 only 2.5 s.
    produce_at(&broker, "timed", 0, 0..10_000).await;
    produce_at(&broker, "timed", 1, 0..10_000).await;
    produce_at(&broker, "timed", 2, 0..2_500).await;
    let spec = JobSpec::parse(&format!(
        r#"{{"vertices": [
          {{"id": "bids", "operator": "kafka", "params": {{
             "brokers": ["{0}"], "topic": "timed", "schema": {BIDS},
             "event_time": {{"column": "at"}}}}}},
          {{"id": "per_second", "operator": "window", "params": {{
             "time": "at", "window": {{"tumbling": {{"size_ms": 1000}}}}, "group_by": ["auction"],
             "aggregates": [{{"name": "bids", "function": "count"}}]}}}},
          {{"id": "out", "operator": "kafka_sink", "params": {{"brokers": ["{0}"], "topic": "windows"}}}}],
         "edges": [{{"from": "bids", "to": "per_second", "partitioning": {{"hash": ["auction"]}}}},
                   {{"from": "per_second", "to": "out", "partitioning": "forward"}}]}}"#,
        broker.address
    ))
    .unwrap();
    let mut running = Streaming::start(&spec.to_json(), worker(&broker), "timed");
    let wait_for = |want: BTreeSet<i64>| {
        let broker = &broker;
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let starts = window_starts(broker, "windows").await;
                if starts == want || Instant::now() > deadline {
                    return starts;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // The slow partition's 2.49 s holds the watermark: two windows fire.
    assert_eq!(
        wait_for(BTreeSet::from([0, 1000])).await,
        BTreeSet::from([0, 1000])
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.assert_running().await;
    assert_eq!(
        window_starts(&broker, "windows").await,
        BTreeSet::from([0, 1000])
    );
    // It catches up: every window the others passed fires.
    produce_at(&broker, "timed", 2, 2_500..10_000).await;
    let all: BTreeSet<i64> = (0..9).map(|s| s * 1000).collect();
    assert_eq!(wait_for(all.clone()).await, all);
    running.cancel().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changelog_is_written_with_each_rows_kind() {
    let broker = Broker::start().await;
    broker.create_topic("counts", 1).await;
    let spec = JobSpec::parse(&format!(
        r#"{{"mode": "streaming", "vertices": [
          {{"id": "gen", "operator": "generate", "parallelism": 1, "params": {{
             "rows": 400, "batch_rows": 16, "columns": [{{"name": "k", "expr": "i % 5"}}]}}}},
          {{"id": "per_key", "operator": "aggregate", "parallelism": 1, "params": {{
             "group_by": ["k"], "aggregates": [{{"name": "n", "function": "count"}}]}}}},
          {{"id": "out", "operator": "kafka_sink", "params": {{
             "brokers": ["{}"], "topic": "counts", "changelog": true}}}}],
         "edges": [{{"from": "gen", "to": "per_key", "partitioning": {{"hash": ["k"]}}}},
                   {{"from": "per_key", "to": "out", "partitioning": "forward"}}]}}"#,
        broker.address
    ))
    .unwrap();
    let job = validate(&spec).unwrap();
    let worker = worker(&broker);
    run_job(&job, &[&worker], &env("changelog")).await.unwrap();
    // Applied in order, the changelog leaves each key's final count.
    let mut table: BTreeMap<i64, i64> = BTreeMap::new();
    let mut kinds = BTreeSet::new();
    for (_, value) in &broker.read_all("counts").await[&0] {
        let row: serde_json::Value = serde_json::from_str(value).unwrap();
        let (k, n) = (row["k"].as_i64().unwrap(), row["n"].as_i64().unwrap());
        let op = row["op"].as_str().unwrap().to_string();
        match op.as_str() {
            "+I" | "+U" => assert!(table.insert(k, n).is_none(), "{value}"),
            "-U" | "-D" => assert_eq!(table.remove(&k), Some(n), "{value}"),
            other => panic!("kind {other}"),
        }
        kinds.insert(op);
    }
    assert_eq!(table, (0..5).map(|k| (k, 80)).collect());
    assert!(kinds.contains("-U") && kinds.contains("+U"), "{kinds:?}");
}

/// `params` of a bounded `kafka` source into `collect`, run to its end.
async fn run_source(worker: &Worker, params: &str) -> Result<usize, String> {
    let spec = JobSpec::parse(&format!(
        r#"{{"vertices": [
          {{"id": "in", "operator": "kafka", "params": {params}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "in", "to": "out", "partitioning": "forward"}}]}}"#
    ))
    .map_err(|e| e.to_string())?;
    let job = validate(&spec).map_err(|e| e.to_string())?;
    let (workers, env) = ([worker], env("bad"));
    match tokio::time::timeout(Duration::from_secs(60), run_job(&job, &workers, &env)).await {
        Ok(Ok(output)) => Ok(rows(&output.collected).len()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => panic!("the job neither ended nor failed"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_topics_records_brokers_and_params_are_named() {
    let broker = Broker::start().await;
    broker.create_topic("mixed", 1).await;
    broker
        .produce(
            "mixed",
            0,
            &[(None, &bid(1)), (None, "not json"), (None, &bid(2))],
        )
        .await;
    let worker = worker(&broker);
    let params = |topic: &str| {
        format!(
            r#"{{"brokers": ["{}"], "topic": "{topic}", "bounded": true, "schema": {BIDS}}}"#,
            broker.address
        )
    };

    let error = run_source(&worker, &params("missing")).await.unwrap_err();
    assert!(error.contains("no Kafka topic \"missing\""), "{error}");

    let error = run_source(&worker, &params("mixed")).await.unwrap_err();
    assert!(
        error.contains("Kafka topic mixed partition 0 offset 1: expected ident"),
        "{error}"
    );

    let closed = Worker::start(1, None).unwrap();
    let error = run_source(&closed, &params("mixed")).await.unwrap_err();
    assert!(
        error.contains(&format!(
            "connecting to Kafka broker {} refused: this worker allows no Kafka brokers",
            broker.address
        )),
        "{error}"
    );

    for (params, expected) in [
        (
            format!(r#"{{"brokers": ["nohost"], "topic": "t", "schema": {BIDS}}}"#),
            "broker \"nohost\" is not HOST:PORT",
        ),
        (
            format!(r#"{{"brokers": [], "topic": "t", "schema": {BIDS}}}"#),
            "brokers must name at least one HOST:PORT",
        ),
        (
            format!(r#"{{"brokers": ["h:1"], "topic": "a b", "schema": {BIDS}}}"#),
            "topic \"a b\" is not a Kafka topic name",
        ),
        (
            format!(
                r#"{{"brokers": ["h:1"], "topic": "t", "schema": {BIDS},
                    "event_time": {{"column": "price"}}}}"#
            ),
            "event_time column \"price\" is i64",
        ),
    ] {
        let error = run_source(&worker, &params).await.unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}
