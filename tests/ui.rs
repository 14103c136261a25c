//! The web UI in a real headless Chromium against a `faro local`: what a
//! person sees on the jobs, job and cluster pages equals what the REST API
//! says; jobs submitted (spec and SQL) and cancelled from the page; names
//! and errors written as HTML shown as text; a token the page must ask
//! for; a 200-box graph. Every test fails on any error in the browser's
//! console, and a failing test leaves a screenshot in
//! `target/ui-screenshots/`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::local::{attempts, start_local, Local};

fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn wordcount() -> String {
    std::fs::read_to_string(repo().join("examples/wordcount.yaml")).expect("the example")
}

/// An unbounded source of ticks into a `collect`: runs until cancelled.
fn ticker(name: &str) -> String {
    json!({"name": name, "vertices": [
        {"id": "ticks", "operator": "generate", "params": {"rows": null,
         "rows_per_second": 2000, "batch_rows": 50, "event_time": {"column": "t"},
         "columns": [{"name": "n", "expr": "i"}, {"name": "t", "expr": "CAST(i AS TIMESTAMP)"}]}},
        {"id": "out", "operator": "collect"}],
      "edges": [{"from": "ticks", "to": "out", "partitioning": "forward"}]})
    .to_string()
}

/// A job named `name` that fails on its tenth row: `text` cannot be cast.
fn failing(name: &str, text: &str) -> String {
    json!({"name": name, "vertices": [
        {"id": "g", "operator": "generate", "params": {"rows": 100, "columns": [
            {"name": "v", "expr": format!("CASE WHEN i < 10 THEN i ELSE CAST('{text}' AS BIGINT) END")}]}},
        {"id": "out", "operator": "blackhole"}],
      "edges": [{"from": "g", "to": "out", "partitioning": "forward"}]})
    .to_string()
}

fn wait_state(local: &Local, id: &str, state: &str) -> Value {
    for _ in 0..600 {
        let (_, job) = local.get(&format!("/v1/jobs/{id}"));
        if job["state"] == state {
            return job;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("job {id} never became {state}");
}

fn assert_no_console_errors(browser: &Browser) {
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "errors in the browser's console: {errors:#?}"
    );
}

/// The label the page gives an edge of the graph endpoint's.
fn edge_label(edge: &Value) -> String {
    let keys: Vec<&str> = edge["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let keys = if keys.is_empty() {
        String::new()
    } else {
        format!("({})", keys.join(", "))
    };
    format!(
        "{}{keys} · {}",
        edge["partitioning"].as_str().unwrap_or_default(),
        edge["exchange"].as_str().unwrap_or_default()
    )
}

#[test]
fn the_pages_show_what_the_api_says_of_finished_running_and_failed_jobs() {
    let local = start_local(&[], repo());
    let finished = local.submit(&wordcount());
    let done = wait_state(&local, &finished, "finished");
    let running = local.submit(&ticker("ticker"));
    wait_state(&local, &running, "running");
    let failed = local.submit(&failing("doomed", "not a number"));
    let broken = wait_state(&local, &failed, "failed");

    let browser = Browser::start("pages", 1280, 800);
    browser.open(&format!("{}/#/jobs", local.url));
    let rows = browser.wait_for("three jobs", |b| {
        let rows = b.run(
            "return [...document.querySelectorAll('#jobs tbody tr')].map(r => \
             [r.dataset.job, r.querySelector('.badge').textContent])",
            json!([]),
        );
        (rows.as_array().map(Vec::len) == Some(3)).then_some(rows)
    });
    let (_, listed) = local.get("/v1/jobs");
    for job in listed["jobs"].as_array().expect("jobs") {
        let shown = rows
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r[0] == job["id"])
            .unwrap_or_else(|| panic!("job {} is not on the page: {rows}", job["id"]));
        assert_eq!(shown[1], job["state"], "{rows}");
    }
    let filters = browser.texts("#filters a");
    for expected in [
        "all (3)",
        "running (1)",
        "finished (1)",
        "failed (1)",
        "queued (0)",
    ] {
        assert!(filters.iter().any(|f| f == expected), "{filters:?}");
    }
    browser.click("a[data-filter='failed']");
    browser.wait_for("only the failed job", |b| {
        let ids = b.run(
            "return [...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job)",
            json!([]),
        );
        (ids == json!([failed])).then_some(())
    });

    // The finished job: its graph is the API's, box for box and edge for
    // edge; its attempts and result are all there.
    let (_, graph) = local.get(&format!("/v1/jobs/{finished}/graph"));
    browser.open(&format!("{}/#/jobs/{finished}", local.url));
    browser.wait_for("the graph", |b| {
        (b.count("#job-graph g.vertex") > 0).then_some(())
    });
    let names = browser.run(
        "return [...document.querySelectorAll('#job-graph g.vertex')].map(g => g.dataset.name)",
        json!([]),
    );
    let api_names: Vec<Value> = graph["vertices"]
        .as_array()
        .expect("vertices")
        .iter()
        .map(|v| v["name"].clone())
        .collect();
    assert_eq!(names, Value::Array(api_names));
    let labels = browser.texts("#job-graph g.edge text");
    let api_labels: Vec<String> = graph["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(edge_label)
        .collect();
    assert_eq!(labels, api_labels);
    assert_eq!(api_labels[0], "hash(word) · blocking");
    assert_eq!(browser.count("#attempts tbody tr"), attempts(&done).len());
    let (_, result) = local.get(&format!("/v1/jobs/{finished}/result"));
    browser.wait_for("the result", |b| {
        (b.count("#result tbody tr") == 10).then_some(())
    });
    let first = browser.texts("#result tbody tr:first-child td");
    let api_first: Vec<String> = result["rows"][0]
        .as_array()
        .expect("a row")
        .iter()
        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
        .collect();
    assert_eq!(first, api_first);
    assert_eq!(browser.texts("#job-head .badge"), ["finished"]);

    // The running streaming job: its box turns from idle as its attempt
    // reports rows, a rate and its watermark; the API shows the same
    // attempt's rows so far.
    browser.open(&format!("{}/#/jobs/{running}", local.url));
    let line = browser.wait_for("a live rate and watermark", |b| {
        let lines = b.texts("#job-graph g.vertex text.dim:last-of-type");
        lines
            .into_iter()
            .find(|l| l.contains("rows/s") && l.contains("wm "))
    });
    assert!(line.contains("rows/s"), "{line}");
    let class = browser.run(
        "return document.querySelector('#job-graph rect.box').getAttribute('class')",
        json!([]),
    );
    assert_ne!(
        class, "box idle",
        "a running box is coloured by its backpressure"
    );
    let (_, live) = local.get(&format!("/v1/jobs/{running}"));
    let attempt = &attempts(&live)[0];
    assert!(attempt["rows_in"].as_u64() > Some(0), "{live}");
    assert!(attempt["backpressure_ms"].is_u64(), "{live}");
    browser.wait_for("a throughput plot", |b| {
        (b.count("#throughput polyline") > 0).then_some(())
    });
    assert_eq!(browser.texts("#job-head .badge"), ["running"]);
    assert_eq!(browser.texts("dd[data-fact='Mode']"), ["streaming"]);

    // The failed job: its error, as the API words it.
    browser.open(&format!("{}/#/jobs/{failed}", local.url));
    let error = browser.wait_for("the error", |b| b.texts("#job-error").pop());
    assert_eq!(error, broken["error"].as_str().unwrap_or_default());
    assert!(error.contains("cannot cast"), "{error}");

    // The cluster: the embedded worker running the ticker's attempt, the
    // embedded shuffle node answering with its counters.
    browser.open(&format!("{}/#/cluster", local.url));
    browser.wait_for("the workers", |b| {
        (b.count("#workers tbody tr") == 1).then_some(())
    });
    let (_, workers) = local.get("/v1/workers");
    let cells = browser.texts("#workers tbody tr td");
    assert_eq!(cells[1], workers[0]["slots"].to_string());
    assert_eq!(cells[2], "1", "the ticker's one attempt: {cells:?}");
    browser.wait_for("a shuffle node with its counters", |b| {
        (b.count("#shuffle-nodes tbody tr[data-node='embedded']:not(.down)") == 1).then_some(())
    });

    // Narrow: nothing wider than the window but the tables, which scroll
    // in their own boxes.
    browser.resize(390, 800);
    browser.open(&format!("{}/#/jobs/{finished}", local.url));
    browser.wait_for("the narrow page", |b| {
        (b.count("#attempts tbody tr") > 0).then_some(())
    });
    let overflow = browser.run(
        "return document.documentElement.scrollWidth - window.innerWidth",
        json!([]),
    );
    assert!(
        overflow.as_i64() <= Some(0),
        "the page is wider than the window by {overflow}px"
    );
    assert_no_console_errors(&browser);
}

#[test]
fn a_job_submitted_from_the_page_finishes_and_a_running_one_is_cancelled() {
    let local = start_local(&[], repo());
    let browser = Browser::start("submit", 1280, 800);
    browser.open(&format!("{}/#/jobs", local.url));

    // A spec the API refuses: its message, on the page.
    browser.fill("#submit-text", "{\"name\": \"nothing\", \"vertices\": []");
    browser.click("#submit");
    let refused = browser.wait_for("the refusal", |b| {
        b.texts("#submit-outcome.error")
            .pop()
            .filter(|t| !t.is_empty())
    });
    let (status, answer) = local.post("/v1/jobs", "{\"name\": \"nothing\", \"vertices\": []");
    assert_eq!(status, 400);
    assert_eq!(refused, answer["error"].as_str().unwrap_or_default());

    browser.fill("#submit-text", &wordcount());
    browser.click("#submit");
    let id = browser.wait_for("the new job's link", |b| {
        b.texts("#submit-outcome a.job-link").pop()
    });
    browser.click("#submit-outcome a.job-link");
    browser.wait_for("the job finished", |b| {
        (b.texts("#job-head .badge") == ["finished"]).then_some(())
    });
    assert_eq!(local.get(&format!("/v1/jobs/{id}")).1["state"], "finished");

    // SQL: the same word count, planned by the scheduler.
    browser.open(&format!("{}/#/jobs", local.url));
    let sql = std::fs::read_to_string(repo().join("examples/sql/wordcount.sql")).expect("sql");
    browser.fill("#submit-text", &sql);
    browser.click("#submit-kind option[value='sql']");
    browser.click("#submit");
    let planned = browser.wait_for("the SQL job's link", |b| {
        b.texts("#submit-outcome a.job-link").pop()
    });
    wait_state(&local, &planned, "finished");

    browser.click("#submit-kind option[value='spec']");
    browser.fill("#submit-text", &ticker("to cancel"));
    browser.click("#submit");
    let ticking = browser.wait_for("the ticker's link", |b| {
        b.texts("#submit-outcome a.job-link")
            .pop()
            .filter(|t| *t != planned)
    });
    wait_state(&local, &ticking, "running");
    browser.click("#submit-outcome a.job-link");
    browser.click("#cancel-job");
    browser.wait_for("the job cancelled", |b| {
        (b.texts("#job-head .badge") == ["cancelled"]).then_some(())
    });
    assert_eq!(
        local.get(&format!("/v1/jobs/{ticking}")).1["state"],
        "cancelled"
    );
    assert_eq!(browser.count("#cancel-job"), 0, "nothing left to cancel");
    assert_no_console_errors(&browser);
}

#[test]
fn names_and_errors_written_as_html_are_shown_as_text() {
    let local = start_local(&[], repo());
    let name = "<img src=x onerror=\"window.faroPwned=1\"><script>window.faroPwned=2</script>";
    let id = local.submit(&failing(name, "<b onmouseover=alert(1)>x</b>"));
    let job = wait_state(&local, &id, "failed");
    let browser = Browser::start("escaping", 1280, 800);
    browser.open(&format!("{}/#/jobs", local.url));
    let shown = browser.wait_for("the job's name", |b| b.texts("#jobs td.name").pop());
    assert_eq!(shown, name);
    browser.open(&format!("{}/#/jobs/{id}", local.url));
    let heading = browser.wait_for("the job's heading", |b| b.texts("#job-name").pop());
    assert_eq!(heading, name);
    let error = browser.wait_for("the error", |b| b.texts("#job-error").pop());
    assert_eq!(error, job["error"].as_str().unwrap_or_default());
    assert!(error.contains("<b onmouseover=alert(1)>x</b>"), "{error}");
    let injected = browser.run(
        "return [window.faroPwned === undefined, \
         document.querySelectorAll('#view img, #view script, #view b').length]",
        json!([]),
    );
    assert_eq!(injected, json!([true, 0]));
    assert_no_console_errors(&browser);
}

#[test]
fn with_a_token_the_page_shows_nothing_until_it_is_given() {
    let mut local = start_local(&["--token", "open-sesame"], repo());
    local.token = Some("open-sesame".into());
    let id = local.submit(&wordcount());
    wait_state(&local, &id, "finished");

    let browser = Browser::start("token", 1280, 800);
    browser.open(&format!("{}/#/jobs", local.url));
    let asked = "return !document.getElementById('token-bar').hidden";
    browser.wait_for("the token prompt", |b| {
        (b.run(asked, json!([])) == json!(true)).then_some(())
    });
    assert_eq!(browser.count("#jobs tbody tr"), 0);

    browser.type_into("#token", "guessed");
    browser.click("#use-token");
    browser.wait_for("the prompt again", |b| {
        let message = b.texts("#token-message").pop().unwrap_or_default();
        (b.run(asked, json!([])) == json!(true) && message.contains("refused")).then_some(())
    });
    assert_eq!(browser.count("#jobs tbody tr"), 0);

    browser.type_into("#token", "open-sesame");
    browser.click("#use-token");
    browser.wait_for("the job", |b| {
        (b.count("#jobs tbody tr") == 1).then_some(())
    });
    assert_eq!(browser.run(asked, json!([])), json!(false));
    assert_no_console_errors(&browser);
}

#[test]
fn a_200_box_graph_is_drawn_and_the_page_stays_live() {
    // A source fanned out into 20 branches of 9 filters and a sink each,
    // every edge a rebalance (nothing chains): 201 boxes, 200 arrows.
    let mut vertices = vec![json!({"id": "source", "operator": "generate",
        "params": {"rows": 1000, "columns": [{"name": "v", "expr": "i"}]}})];
    let mut edges = Vec::new();
    for branch in 0..20 {
        let mut from = "source".to_string();
        for step in 0..10 {
            let id = format!("b{branch}s{step}");
            let vertex = if step == 9 {
                json!({"id": id, "operator": "blackhole"})
            } else {
                json!({"id": id, "operator": "filter", "params": {"predicate": format!("v % 7 <> {step}")}})
            };
            vertices.push(vertex);
            edges.push(json!({"from": from, "to": id, "partitioning": "rebalance"}));
            from = id;
        }
    }
    let spec = json!({"name": "wide", "vertices": vertices, "edges": edges}).to_string();
    let local = start_local(&[], repo());
    let id = local.submit(&spec);
    let (_, graph) = local.get(&format!("/v1/jobs/{id}/graph"));
    assert_eq!(graph["vertices"].as_array().map(Vec::len), Some(201));

    let browser = Browser::start("wide", 1280, 800);
    let opened = std::time::Instant::now();
    browser.open(&format!("{}/#/jobs/{id}", local.url));
    browser.wait_for("201 boxes", |b| {
        (b.count("#job-graph g.vertex") == 201).then_some(())
    });
    let drawn = opened.elapsed();
    assert_eq!(browser.count("#job-graph g.edge"), 200);
    // How long the page kept the browser busy at a stretch (tasks over
    // 50 ms), over three more seconds of refreshes: printed, for
    // bench/RESULTS.md, not asserted.
    let busy = browser.run_async(
        "const done = arguments[arguments.length - 1]; const tasks = []; \
         new PerformanceObserver(l => tasks.push(...l.getEntries().map(e => e.duration))) \
           .observe({type: 'longtask', buffered: true}); \
         setTimeout(() => done([tasks.length, Math.max(0, ...tasks)]), 3000);",
        json!([]),
    );
    println!(
        "201 boxes drawn {} ms after the page was asked for; long tasks (count, longest ms): {busy}",
        drawn.as_millis()
    );
    // Live: the page goes on refreshing while it shows the graph, and a
    // click still takes the person elsewhere.
    let stamp = || browser.texts("#updated").pop().unwrap_or_default();
    let first = stamp();
    browser.wait_for("a later refresh", |_| (stamp() != first).then_some(()));
    browser.click("#nav-cluster");
    browser.wait_for("the cluster page", |b| {
        (b.count("#workers tbody tr") == 1).then_some(())
    });
    assert_no_console_errors(&browser);
}

#[test]
fn faro_run_with_ui_serves_its_job_until_interrupted() {
    let dir = tempfile::tempdir().expect("a directory");
    for (spec, state, exit) in [
        (wordcount(), "finished", 0),
        (failing("doomed", "not a number"), "failed", 1),
    ] {
        let path = dir.path().join(format!("{state}.json"));
        std::fs::write(&path, &spec).expect("the spec written");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_faro"))
            .args(["run", "--slots", "2", "--ui", "127.0.0.1:0"])
            .arg(&path)
            .current_dir(repo())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("faro run starts");
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let page = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        // Read on a borrow: the pipe must stay open for what it prints
        // when it exits.
        let ended = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.contains("stays up"))
            .expect("the job's end, said");
        assert!(ended.contains(state), "{ended}");

        // The job's page, as the line printed names it.
        let browser = Browser::start(&format!("run-{state}"), 1280, 800);
        browser.open(&page);
        browser.wait_for("the job's state", |b| {
            (b.texts("#job-head .badge") == [state]).then_some(())
        });
        assert_no_console_errors(&browser);

        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child.wait().expect("it exits");
        assert_eq!(status.code(), Some(exit), "{state}");
    }
}

#[test]
fn checkpoints_and_a_training_jobs_epochs_are_shown_as_the_api_has_them() {
    let local = start_local(&[], repo());
    let checkpointed = json!({"name": "checkpointed", "mode": "streaming",
        "checkpoints": {"interval_ms": 200, "retain": 3},
        "vertices": [
            {"id": "bids", "operator": "nexmark", "parallelism": 2,
             "params": {"table": "bid", "events": 20000, "rate": 10000, "real_time": true}},
            {"id": "counts", "operator": "window", "parallelism": 2, "params": {
                "time": "date_time", "window": {"tumbling": {"size_ms": 1000}},
                "group_by": ["auction"], "aggregates": [{"name": "bids", "function": "count"}]}},
            {"id": "out", "operator": "collect"}],
        "edges": [{"from": "bids", "to": "counts", "partitioning": {"hash": ["auction"]}},
                  {"from": "counts", "to": "out", "partitioning": "rebalance"}]});
    let model = tempfile::NamedTempFile::new().expect("a model file");
    let training = json!({"name": "kmeans", "vertices": [
            {"id": "points", "operator": "generate", "parallelism": 2, "params": {"rows": 30000,
             "columns": [
                {"name": "x", "expr": "CASE i % 3 WHEN 0 THEN -5.0 WHEN 1 THEN 5.0 ELSE 0.0 END + (hash(i, 'x') % 2001 - 1000) / 400.0"},
                {"name": "y", "expr": "CASE i % 3 WHEN 2 THEN 7.0 ELSE 0.0 END + (hash(i, 'y') % 2001 - 1000) / 400.0"}]}},
            {"id": "train", "operator": "train", "parallelism": 2, "params": {
                "algorithm": {"kmeans": {"k": 3, "seed": 7}}, "features": ["x", "y"],
                "max_epochs": 6, "model_file": model.path().display().to_string()}}],
        "edges": [{"from": "points", "to": "train", "partitioning": "rebalance", "exchange": "blocking"}]});
    let checkpointed = local.submit(&checkpointed.to_string());
    let training = local.submit(&training.to_string());
    let streamed = wait_state(&local, &checkpointed, "finished");
    let trained = wait_state(&local, &training, "finished");
    let history = &streamed["checkpoints"];
    let completed = history["completed"].as_array().map(Vec::len).unwrap_or(0);
    assert!(completed > 0, "no checkpoint completed: {history}");

    let browser = Browser::start("history", 1280, 800);
    browser.open(&format!("{}/#/jobs/{checkpointed}", local.url));
    browser.wait_for("the checkpoints", |b| {
        (b.count("#checkpoints tbody tr") == completed).then_some(())
    });
    let summary = browser
        .texts("#checkpoint-summary")
        .pop()
        .unwrap_or_default();
    assert!(
        summary.starts_with(&format!("{} completed", history["completed_total"])),
        "{summary} vs {history}"
    );
    let newest = history["completed"][completed - 1]["id"].to_string();
    assert_eq!(
        browser.texts("#checkpoints tbody tr:first-child td")[0],
        newest
    );

    let epochs = trained["epochs"].as_array().map(Vec::len).unwrap_or(0);
    assert!(epochs >= 2, "{trained}");
    browser.open(&format!("{}/#/jobs/{training}", local.url));
    browser.wait_for("the epochs and their loss", |b| {
        (b.count("#epochs tbody tr") == epochs && b.count("#loss polyline") == 1).then_some(())
    });
    assert_no_console_errors(&browser);
}
