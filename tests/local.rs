//! `faro local` as a separate process: jobs submitted over HTTP and with
//! the CLI run and give the reference result; bad specs get 400 with the
//! validation message, unknown ids 404, a missing token 401; a cancelled
//! job stops; an unbounded one shows its watermarks in `faro status` and
//! its rows so far; job metadata survives a restart on the same data
//! directory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Local {
    child: Child,
    url: String,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Local {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faro"))
        .arg("local")
        .args(["--listen", "127.0.0.1:0", "--slots", "2"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("faro local starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("prints its address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(url.starts_with("http://"), "{line:?}");
    Local { child, url }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    (
        status,
        response
            .body_mut()
            .read_json()
            .unwrap_or(serde_json::Value::Null),
    )
}

fn post(url: &str, body: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = agent().post(url).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    (
        status,
        response
            .body_mut()
            .read_json()
            .unwrap_or(serde_json::Value::Null),
    )
}

fn wait_for(url: &str, id: &str, state: &str) -> serde_json::Value {
    for _ in 0..300 {
        let (_, job) = get(&format!("{url}/v1/jobs/{id}"));
        if job["state"] == state {
            return job;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("job {id} never became {state}");
}

fn faro(args: &[&str], url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(args)
        .env("FARO_SCHEDULER", url)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("faro runs")
}

#[test]
fn jobs_over_http_and_the_cli() {
    let data = tempfile::tempdir().unwrap();
    let local = start(&["--data-dir", data.path().to_str().unwrap()]);
    let url = &local.url;

    // The CLI: submit and wait prints the golden table.
    let output = faro(&["submit", "examples/wordcount.yaml", "--wait"], url);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/expected/wordcount.txt"
    ))
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), golden);

    // HTTP: the shuffle-agg result matches the reference.
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/shuffle_agg.json"
    ))
    .unwrap();
    let (status, created) = post(&format!("{url}/v1/jobs"), &spec, None);
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let job = wait_for(url, &id, "finished");
    assert!(
        job["tasks"].as_array().is_some_and(|t| !t.is_empty()),
        "{job}"
    );
    let (status, result) = get(&format!("{url}/v1/jobs/{id}/result"));
    assert_eq!(status, 200);
    assert_eq!(result["columns"], serde_json::json!(["key", "total", "n"]));
    assert_eq!(
        result["rows"][0],
        serde_json::json!([999_999, 20 * 999_999 + 190_000_000, 20])
    );
    // Both producers stored their partitions in the node of this process
    // by calls (no QUIC push), and the result above came out of them.
    let mut response = agent().get(&format!("{url}/metrics")).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    let counter = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    assert!(
        counter("faro_shuffle_in_process_pushes_total ").is_some_and(|n| n >= 2),
        "{text}"
    );
    assert!(
        counter("faro_shuffle_bytes_pushed_total ").is_some_and(|n| n > 0),
        "{text}"
    );

    // Mistakes are named, with the right status.
    let (status, body) = post(
        &format!("{url}/v1/jobs"),
        r#"{"vertices": [{"id": "x", "operator": "nope"}]}"#,
        None,
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("vertex \"x\": unknown operator \"nope\""),
        "{body}"
    );
    let (status, _) = post(&format!("{url}/v1/jobs"), "not json {", None);
    assert_eq!(status, 400);
    assert_eq!(get(&format!("{url}/v1/jobs/job-none")).0, 404);
    assert_eq!(get(&format!("{url}/v1/jobs/job-none/result")).0, 404);

    // A long job, cancelled, stops; the scheduler keeps serving.
    let sort = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sort.json"))
        .unwrap();
    let (_, created) = post(&format!("{url}/v1/jobs"), &sort, None);
    let long = created["id"].as_str().unwrap().to_string();
    wait_for(url, &long, "running");
    let cancel = faro(&["cancel", &long], url);
    assert!(String::from_utf8_lossy(&cancel.stdout).contains("cancelled"));
    assert_eq!(get(&format!("{url}/v1/jobs/{long}/result")).0, 409);

    // An unbounded job runs until cancelled: `faro status` shows each
    // running attempt's watermark, and its rows so far can be read.
    let ticker = r#"{"name": "ticker", "vertices": [
        {"id": "ticks", "operator": "generate", "params": {"rows": null,
         "rows_per_second": 1000, "batch_rows": 50, "event_time": {"column": "t"},
         "columns": [{"name": "n", "expr": "i"}, {"name": "t", "expr": "CAST(i AS TIMESTAMP)"}]}},
        {"id": "out", "operator": "collect"}],
      "edges": [{"from": "ticks", "to": "out", "partitioning": "forward"}]}"#;
    let (_, created) = post(&format!("{url}/v1/jobs"), ticker, None);
    let streaming = created["id"].as_str().unwrap().to_string();
    wait_for(url, &streaming, "running");
    let mut shown = serde_json::Value::Null;
    for _ in 0..300 {
        let status = faro(&["status", &streaming, "--json"], url);
        shown = serde_json::from_slice(&status.stdout).unwrap_or_default();
        if shown["tasks"][0]["attempts"][0]["watermark_ms"].as_i64() > Some(0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        shown["tasks"][0]["attempts"][0]["watermark_ms"].as_i64() > Some(0),
        "{shown:#}"
    );
    let (status, so_far) = get(&format!("{url}/v1/jobs/{streaming}/result"));
    assert_eq!(status, 200, "{so_far}");
    faro(&["cancel", &streaming], url);
    let (status, kept) = get(&format!("{url}/v1/jobs/{streaming}/result"));
    assert_eq!(status, 200, "{kept}");
    assert!(kept["rows"].as_array().map(Vec::len) >= so_far["rows"].as_array().map(Vec::len));

    let (status, api) = get(&format!("{url}/v1/openapi.json"));
    assert_eq!((status, api["openapi"].as_str()), (200, Some("3.0.3")));
    let listed = faro(&["jobs"], url);
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed.contains("wordcount") && listed.contains("cancelled"),
        "{listed}"
    );
    drop(local);

    // Restarted on the same directory, it still knows every job.
    let again = start(&["--data-dir", data.path().to_str().unwrap()]);
    let (_, jobs) = get(&format!("{}/v1/jobs", again.url));
    let states: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["finished", "finished", "cancelled", "cancelled"]);
    let (status, result) = get(&format!("{}/v1/jobs/{id}/result", again.url));
    assert_eq!(
        (status, result["rows"].as_array().map(Vec::len)),
        (200, Some(5))
    );
}

#[test]
fn a_streaming_job_runs_on_once_its_result_is_full() {
    let local = start(&["--result-rows", "100"]);
    let url = &local.url;
    let ticker = r#"{"name": "fast", "vertices": [
        {"id": "ticks", "operator": "generate", "params": {"rows": null,
         "rows_per_second": 20000, "batch_rows": 100, "event_time": {"column": "t"},
         "columns": [{"name": "n", "expr": "i"}, {"name": "t", "expr": "CAST(i AS TIMESTAMP)"}]}},
        {"id": "out", "operator": "collect"}],
      "edges": [{"from": "ticks", "to": "out", "partitioning": "forward"}]}"#;
    let (_, created) = post(&format!("{url}/v1/jobs"), ticker, None);
    let id = created["id"].as_str().unwrap().to_string();
    wait_for(url, &id, "running");
    let watermark = || {
        get(&format!("{url}/v1/jobs/{id}")).1["tasks"][0]["attempts"][0]["watermark_ms"].as_i64()
    };
    let mut full = serde_json::Value::Null;
    for _ in 0..300 {
        full = get(&format!("{url}/v1/jobs/{id}/result")).1;
        if full["truncated"] == true {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(full["truncated"], true, "{full}");
    assert_eq!(full["rows"].as_array().map(Vec::len), Some(100));
    // Rows past the limit are taken and dropped, not waited for: the
    // source's event time keeps moving.
    let before = watermark();
    std::thread::sleep(Duration::from_millis(500));
    assert!(watermark() > before, "{before:?}");
    assert_eq!(get(&format!("{url}/v1/jobs/{id}")).1["state"], "running");
    faro(&["cancel", &id], url);
}

#[test]
fn a_token_is_required_when_configured() {
    let local = start(&["--token", "s3cret-token"]);
    let url = &local.url;
    let spec = r#"{"vertices": [{"id": "g", "operator": "generate", "params": {"rows": 3, "columns": [{"name": "i", "expr": "i"}]}},
                                {"id": "out", "operator": "collect"}],
                   "edges": [{"from": "g", "to": "out", "partitioning": "forward"}]}"#;
    assert_eq!(post(&format!("{url}/v1/jobs"), spec, None).0, 401);
    assert_eq!(
        post(&format!("{url}/v1/jobs"), spec, Some("wrong-token!")).0,
        401
    );
    let (status, created) = post(&format!("{url}/v1/jobs"), spec, Some("s3cret-token"));
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        get(&format!("{url}/healthz")).0,
        200,
        "health needs no token"
    );
}

#[test]
fn a_training_job_reports_its_epochs_in_status_metrics_and_result() {
    let local = start(&[]);
    let url = &local.url;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("kmeans.model.json");
    let spec = format!(
        r#"{{"name": "blobs", "vertices": [
          {{"id": "points", "operator": "generate", "parallelism": 2, "params": {{"rows": 30000,
             "columns": [{{"name": "x", "expr": "CASE i % 2 WHEN 0 THEN -4.0 ELSE 4.0 END + (hash(i, 'x') % 201 - 100) / 100.0"}}]}}}},
          {{"id": "train", "operator": "train", "parallelism": 2, "params": {{
             "algorithm": {{"kmeans": {{"k": 2, "seed": 3}}}}, "features": ["x"],
             "model_file": "{}"}}}}],
         "edges": [{{"from": "points", "to": "train", "partitioning": "rebalance", "exchange": "blocking"}}]}}"#,
        model.display()
    );
    let (status, created) = post(&format!("{url}/v1/jobs"), &spec, None);
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let job = wait_for(url, &id, "finished");
    // `faro status` prints this record: every epoch with its loss.
    let epochs = job["epochs"].as_array().expect("epochs").clone();
    assert!(epochs.len() >= 2, "{job}");
    assert!(epochs[0]["loss"].is_null(), "epoch 0 chooses the centers");
    assert!(
        epochs[1..].iter().all(|e| e["loss"].as_f64().is_some()),
        "{job}"
    );
    let (_, result) = get(&format!("{url}/v1/jobs/{id}/result"));
    assert_eq!(
        result["rows"].as_array().map(Vec::len),
        Some(epochs.len()),
        "{result}"
    );
    let mut response = agent().get(&format!("{url}/metrics")).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    let last = epochs.len() - 1;
    assert!(
        text.contains(&format!("faro_iteration_epoch{{job=\"{id}\"}} {last}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "faro_iteration_epoch_seconds_count{{job=\"{id}\"}} {}",
            epochs.len()
        )),
        "{text}"
    );
    assert!(text.contains(&format!("faro_iteration_loss{{job=\"{id}\"}}")));
    // Every epoch's two training tasks read the cached partitions from
    // the shuffle node in this process, in place.
    let in_process = text
        .lines()
        .find_map(|l| l.strip_prefix("faro_shuffle_in_process_reads_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(
        in_process.is_some_and(|n| n >= 2 * epochs.len() as u64),
        "{in_process:?}: {text}"
    );
    assert!(model.exists(), "the model file is written");
}
