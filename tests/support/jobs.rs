//! The job the process tests run, and the scheduler's REST API as they
//! use it: submit a spec, poll a job until it is in the state wanted.

use std::time::{Duration, Instant};

/// Map subtasks of [`distinct_per_key`].
pub const MAPS: usize = 2;
/// Reduce subtasks of [`distinct_per_key`].
pub const REDUCES: usize = 4;

/// A map stage (`rows`) generating `rows` rows and hashing them on `key`
/// through the shuffle service, and a reduce stage (`agg+out`) counting
/// rows and distinct values per key: count_distinct does not split, so
/// every row crosses the shuffle and the reduce stage does real work.
pub fn distinct_per_key(rows: u64) -> String {
    distinct_per_key_paced(rows, None)
}

/// A `kind` hash join (`inner`, `left`, `full`) of 40,000 left rows, nine
/// in ten on key 7, from 4 maps, with 1,000 right rows (`id` 0..1000,
/// `w` = 3 × id) on 4 subtasks, then rows, `v` and `w` summed per key;
/// `skew` is the job's `skew` field.
pub fn skewed_join(kind: &str, skew: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "name": format!("skewed-{kind}"),
        "vertices": [
            {"id": "big", "operator": "generate", "parallelism": 4, "params": {"rows": 40000, "batch_rows": 1000,
                "columns": [
                    {"name": "k", "expr": "CASE WHEN i % 10 < 9 THEN 7 ELSE i % 1200 END"},
                    {"name": "v", "expr": "i"}]}},
            {"id": "small", "operator": "generate", "parallelism": 2, "params": {"rows": 1000,
                "columns": [{"name": "id", "expr": "i"}, {"name": "w", "expr": "i * 3"}]}},
            {"id": "joined", "operator": "hash_join", "parallelism": 4, "params": {"left": "big", "right": "small",
                "left_keys": ["k"], "right_keys": ["id"], "kind": kind}},
            {"id": "per_key", "operator": "aggregate", "parallelism": 2, "params": {"group_by": ["k"], "aggregates": [
                {"name": "n", "function": "count"},
                {"name": "v", "function": "sum", "expr": "v"},
                {"name": "w", "function": "sum", "expr": "w"}]}},
            {"id": "out", "operator": "collect", "parallelism": 2}],
        "edges": [
            {"from": "big", "to": "joined", "partitioning": {"hash": ["k"]}, "exchange": "blocking"},
            {"from": "small", "to": "joined", "partitioning": {"hash": ["id"]}, "exchange": "blocking"},
            {"from": "joined", "to": "per_key", "partitioning": {"hash": ["k"]}},
            {"from": "per_key", "to": "out", "partitioning": "forward"}],
        "skew": skew,
    })
}

/// [`skewed_join`]'s inner join computed directly: key → (rows, Σ v, Σ w).
pub fn skewed_inner_join_reference() -> std::collections::BTreeMap<i64, (i64, i64, i64)> {
    let mut per_key = std::collections::BTreeMap::new();
    for i in 0..40_000i64 {
        let k = if i % 10 < 9 { 7 } else { i % 1200 };
        if k < 1000 {
            let entry = per_key.entry(k).or_insert((0, 0, 0));
            *entry = (entry.0 + 1, entry.1 + i, entry.2 + 3 * k);
        }
    }
    per_key
}

/// [`distinct_per_key`] with the map stage generating at most
/// `rows_per_second` rows, so that it surely still runs when a test
/// kills a process under it.
pub fn distinct_per_key_paced(rows: u64, rows_per_second: Option<u64>) -> String {
    distinct_per_key_over(rows, rows_per_second, "blocking")
}

/// [`distinct_per_key_paced`] with the map stage's edge `exchange`
/// (`blocking` or `hybrid`).
pub fn distinct_per_key_over(rows: u64, rows_per_second: Option<u64>, exchange: &str) -> String {
    let rate = rows_per_second.map_or(String::new(), |r| format!(r#""rows_per_second": {r}, "#));
    format!(
        r#"{{"name": "distinct-per-key", "vertices": [
        {{"id": "rows", "operator": "generate", "parallelism": {MAPS},
          "params": {{"rows": {rows}, {rate}"columns": [
            {{"name": "key", "expr": "i % 997"}},
            {{"name": "val", "expr": "(i * 7919) % 20011"}}]}}}},
        {{"id": "agg", "operator": "aggregate", "parallelism": {REDUCES},
          "params": {{"group_by": ["key"], "aggregates": [
            {{"name": "n", "function": "count"}},
            {{"name": "distinct", "function": "count_distinct", "expr": "val"}}]}}}},
        {{"id": "out", "operator": "collect", "parallelism": {REDUCES}}}],
      "edges": [
        {{"from": "rows", "to": "agg", "partitioning": {{"hash": ["key"]}}, "exchange": "{exchange}"}},
        {{"from": "agg", "to": "out", "partitioning": "forward"}}]}}"#
    )
}

/// An HTTP client that returns error statuses as answers.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The `Authorization` header the test clusters want (a process started
/// without a token ignores it).
/// The `authorization` header's value for the tests' API token.
pub fn bearer() -> String {
    format!("Bearer {}", super::API_TOKEN)
}

/// The JSON at `url`, or null if there is none (the server may be down).
pub fn get(url: &str) -> serde_json::Value {
    agent()
        .get(url)
        .header("authorization", &bearer())
        .call()
        .and_then(|mut r| r.body_mut().read_json())
        .unwrap_or(serde_json::Value::Null)
}

/// Submits `spec` to the scheduler at `url` (`http://HOST:PORT`); returns
/// the job's id.
pub fn submit(url: &str, spec: &str) -> String {
    let body: serde_json::Value = agent()
        .post(&format!("{url}/v1/jobs"))
        .header("content-type", "application/json")
        .header("authorization", &bearer())
        .send(spec)
        .and_then(|mut response| response.body_mut().read_json())
        .unwrap_or_else(|error| panic!("submitting to {url}: {error}"));
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no job id in the answer of {url}: {body}"))
        .to_string()
}

/// Polls the job until `ready` holds of its status; fails if it fails,
/// is cancelled, or two minutes pass.
pub fn wait_for(
    url: &str,
    id: &str,
    what: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = get(&format!("{url}/v1/jobs/{id}"));
        if ready(&status) {
            return status;
        }
        let state = status["state"].as_str().unwrap_or("");
        assert!(
            !matches!(state, "failed" | "cancelled") && Instant::now() < deadline,
            "job {id} on {url}, waiting for {what}: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the job to finish; returns its status.
pub fn finished(url: &str, id: &str) -> serde_json::Value {
    wait_for(url, id, "the job to finish", |s| s["state"] == "finished")
}

/// Cancels job `id` on the scheduler at `url`; returns its status.
pub fn cancel(url: &str, id: &str) -> serde_json::Value {
    agent()
        .post(&format!("{url}/v1/jobs/{id}/cancel"))
        .header("authorization", &bearer())
        .send_empty()
        .and_then(|mut r| r.body_mut().read_json())
        .unwrap_or_else(|error| panic!("cancelling {id} on {url}: {error}"))
}
