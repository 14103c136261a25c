//! The Nexmark queries of `bench/nexmark` against an independent answer:
//! the same events, drawn from the generator directly, put through a
//! straightforward computation of what each query means (loops and maps
//! in [`answers`], no Faro operator), and compared with what Faro's batch
//! job for the query ends with. Streaming is held equal to batch by the
//! `nexmark_queries` test.
//!
//! The stream is 40,000 events at 400 a second, so 100 seconds of event
//! time: ten tumbling windows, fifty hopping ones, sessions that close.
//! Where a query's order leaves ties (two bids at one price, two at one
//! millisecond), only the columns the ties cannot change are compared.
//! Doubles are compared to 9 significant digits (a sum's order differs).
//! Every query but q12 (windows by the wall clock) is answered.

mod answers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faro_runtime::access::AccessPolicy;
use faro_runtime::kernels::views;
use faro_runtime::nexmark::{Auction, Bid, Event, NexmarkConfig, NexmarkGenerator, Person};
use faro_runtime::spec::validate;
use faro_runtime::{Batch, Value};
use faro_scheduler::Embedded;
use faro_sql::{Outcome, Session};

const EVENTS: u64 = 40_000;
const RATE: u64 = 400;

/// The events every query reads, by kind.
pub struct Events {
    /// Persons, in event order.
    pub persons: Vec<Person>,
    /// Auctions, in event order.
    pub auctions: Vec<Auction>,
    /// Bids, in event order.
    pub bids: Vec<Bid>,
    /// The side input of q13: `value` by `key`.
    pub side: BTreeMap<i64, String>,
}

fn events(side: BTreeMap<i64, String>) -> Events {
    let config = NexmarkConfig {
        num_events: EVENTS,
        first_event_rate: RATE,
        ..NexmarkConfig::default()
    };
    let mut generator = NexmarkGenerator::new(config, 0, 1).unwrap();
    let mut events = Events {
        persons: Vec::new(),
        auctions: Vec::new(),
        bids: Vec::new(),
        side,
    };
    while let Some(event) = generator.next_event() {
        match event {
            Event::Person(p) => events.persons.push(p),
            Event::Auction(a) => events.auctions.push(a),
            Event::Bid(b) => events.bids.push(b),
        }
    }
    events
}

/// A value as compared: doubles to 9 significant digits.
fn shown(value: &Value) -> String {
    match value {
        Value::Float64(x) => format!("{x:.8e}"),
        other => other.to_string(),
    }
}

/// Rows as sorted lines of the `columns` compared.
fn lines(rows: &[Vec<Value>], columns: &[usize]) -> Vec<String> {
    let mut lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let picked: Vec<String> = columns.iter().map(|&c| shown(&row[c])).collect();
            picked.join(" | ")
        })
        .collect();
    lines.sort();
    lines
}

/// Query `name`'s `SELECT` over the test's stream, in batch mode.
fn script(name: &str, side_input: &Path) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/nexmark");
    let tables = std::fs::read_to_string(dir.join("tables.sql")).unwrap();
    let query = std::fs::read_to_string(dir.join(format!("{name}.sql"))).unwrap();
    let query = query.replace(&format!("INSERT INTO nexmark_{name}\n"), "");
    let stream = format!("'events' = '{EVENTS}', 'rate' = '{RATE}'");
    format!("SET 'execution.runtime-mode' = 'batch';\n{tables}{query}")
        .replace("'events' = '${EVENTS}'", &stream)
        .replace("${SIDE_INPUT}", &side_input.display().to_string())
}

/// The rows a batch job's output holds.
fn rows_of(batches: &[Batch]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns = views(batch);
        for row in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c.value(row)).collect());
        }
    }
    rows
}

async fn run(cluster: &Embedded, name: &str, side_input: &Path) -> Vec<Vec<Value>> {
    let text = script(name, side_input);
    let outcomes = Session::new(2)
        .execute(&text)
        .unwrap_or_else(|e| panic!("{name}: {}", e.pointed(&text)));
    let Some(Outcome::Job(job)) = outcomes.last() else {
        panic!("{name}: the last statement is not a query");
    };
    let valid = validate(&job.spec).unwrap();
    let output = cluster.run(name, &valid).await.unwrap();
    assert!(
        !output.reports.iter().any(|r| r.collect_truncated),
        "{name}: more rows than collect keeps"
    );
    rows_of(&output.collected)
}

fn side_input(dir: &Path) -> (PathBuf, BTreeMap<i64, String>) {
    let path = dir.join("side_input.csv");
    let mut text = String::from("key,value\n");
    let mut side = BTreeMap::new();
    for key in 0..10_000i64 {
        let value = format!("side-{}", key * 7 % 1000);
        text.push_str(&format!("{key},{value}\n"));
        side.insert(key, value);
    }
    std::fs::write(&path, text).unwrap();
    (path, side)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_give_the_independently_computed_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (path, side) = side_input(dir.path());
    let events = events(side);
    let access = AccessPolicy::new(&[dir.path().to_path_buf()], &[]).unwrap();
    let cluster = Embedded::start(64, None, access).unwrap();
    let mut problems = Vec::new();
    for answer in answers::all() {
        let expected = (answer.compute)(&events);
        let got = run(&cluster, answer.query, &path).await;
        let all: Vec<usize> = (0..answer.compared.len()).collect();
        let (expected, got) = (lines(&expected, &all), lines(&got, &answer.compared));
        eprintln!("{}: {} rows expected", answer.query, expected.len());
        if expected.is_empty() {
            problems.push(format!(
                "{}: the answer is empty, nothing compared",
                answer.query
            ));
        }
        if expected != got {
            let missing: Vec<_> = expected
                .iter()
                .filter(|l| !got.contains(l))
                .take(3)
                .collect();
            let extra: Vec<_> = got
                .iter()
                .filter(|l| !expected.contains(l))
                .take(3)
                .collect();
            problems.push(format!(
                "{}: expected {} rows, got {}; missing e.g. {missing:?}, unexpected e.g. {extra:?}",
                answer.query,
                expected.len(),
                got.len()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
