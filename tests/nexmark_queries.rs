//! The Nexmark queries of `bench/nexmark`, as `faro-bench nexmark` runs
//! them, over a small bounded stream: each one that Faro plans runs in
//! batch and in streaming mode on an embedded cluster, and — the stream
//! being fully ordered by its exact watermark, so nothing is late — both
//! modes end with the same rows (a streaming changelog applied).
//! Queries not planned yet are listed, so that one starting to plan (or
//! one stopping) fails this test until the list says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faro_runtime::access::AccessPolicy;
use faro_runtime::kernels::views;
use faro_runtime::spec::validate;
use faro_runtime::{Batch, Value};
use faro_scheduler::Embedded;
use faro_sql::{Outcome, Session};

/// Queries Faro does not plan yet, and why.
const NOT_YET: &[(&str, &str)] = &[];

/// Queries whose streaming rows depend on the wall clock.
const WALL_CLOCK: &[&str] = &["q12"];

fn queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/nexmark")
}

/// Query `name` as a plain `SELECT` (its `INSERT INTO` target dropped) in
/// `mode`, over `events` events.
fn script(name: &str, mode: &str, events: u64, side_input: &Path) -> String {
    let dir = queries_dir();
    let tables = std::fs::read_to_string(dir.join("tables.sql")).unwrap();
    let query = std::fs::read_to_string(dir.join(format!("{name}.sql"))).unwrap();
    let query = query.replace(&format!("INSERT INTO nexmark_{name}\n"), "");
    format!("SET 'execution.runtime-mode' = '{mode}';\n{tables}{query}")
        .replace("${EVENTS}", &events.to_string())
        .replace("${SIDE_INPUT}", &side_input.display().to_string())
}

/// The rows `batches` leave, as sorted text lines, a changelog (its `op`
/// column first) applied.
fn final_rows(batches: &[Batch]) -> Vec<String> {
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    for batch in batches {
        let changelog = batch
            .schema()
            .fields
            .first()
            .is_some_and(|f| f.name == "op");
        let columns = views(batch);
        for row in 0..batch.num_rows() {
            let values: Vec<Value> = columns.iter().map(|c| c.value(row)).collect();
            let (sign, values) = match (changelog, values.split_first()) {
                (true, Some((op, rest))) => {
                    let op = op.to_string();
                    (if op == "+I" || op == "+U" { 1 } else { -1 }, rest.to_vec())
                }
                _ => (1, values),
            };
            let line: Vec<String> = values.iter().map(Value::to_string).collect();
            *rows.entry(line.join(" | ")).or_insert(0) += sign;
        }
    }
    let mut lines = Vec::new();
    for (line, count) in rows {
        assert!(
            count >= 0,
            "a changelog retracts {line:?} more often than it adds it"
        );
        lines.extend(std::iter::repeat_n(line, count as usize));
    }
    lines
}

async fn run(
    cluster: &Embedded,
    name: &str,
    mode: &str,
    side_input: &Path,
) -> Result<Vec<String>, String> {
    let text = script(name, mode, 30_000, side_input);
    let outcomes = Session::new(2)
        .execute(&text)
        .map_err(|e| e.pointed(&text))?;
    let Some(Outcome::Job(job)) = outcomes.last() else {
        return Err(format!("{name}: the last statement is not a query"));
    };
    let valid = validate(&job.spec).map_err(|e| e.to_string())?;
    let output = cluster.run(&format!("{name}-{mode}"), &valid).await?;
    let truncated = output.reports.iter().any(|r| r.collect_truncated);
    assert!(!truncated, "{name} ({mode}): more rows than collect keeps");
    Ok(final_rows(&output.collected))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planned_query_ends_with_the_same_rows_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let side_input = dir.path().join("side_input.csv");
    let mut text = String::from("key,value\n");
    for key in 0..10_000 {
        text.push_str(&format!("{key},side-{}\n", key * 7 % 1000));
    }
    std::fs::write(&side_input, text).unwrap();
    let access = AccessPolicy::new(&[dir.path().to_path_buf()], &[]).unwrap();
    let cluster = Embedded::start(64, None, access).unwrap();
    let mut problems = Vec::new();
    let mut compared = 0;
    for q in 0..=23 {
        let name = format!("q{q}");
        let not_yet = NOT_YET.iter().find(|(n, _)| *n == name);
        let batch = run(&cluster, &name, "batch", &side_input).await;
        match (not_yet, &batch) {
            (Some((_, what)), Ok(_)) => {
                problems.push(format!("{name} plans now ({what}): list it no more"))
            }
            (Some((_, what)), Err(error)) if !error.contains(what) => {
                problems.push(format!("{name} fails otherwise than by {what}: {error}"))
            }
            (Some(_), Err(_)) => continue,
            (None, Err(error)) => problems.push(format!("{name} (batch): {error}")),
            (None, Ok(_)) => {}
        }
        let Ok(batch) = batch else { continue };
        let streaming = match run(&cluster, &name, "streaming", &side_input).await {
            Ok(rows) => rows,
            Err(error) => {
                problems.push(format!("{name} (streaming): {error}"));
                continue;
            }
        };
        if WALL_CLOCK.contains(&name.as_str()) {
            continue;
        }
        compared += 1;
        eprintln!("{name}: {} rows in both modes", batch.len());
        if batch.is_empty() {
            problems.push(format!("{name}: no rows at all, nothing compared"));
        }
        if batch != streaming {
            problems.push(format!(
                "{name}: batch gave {} rows, streaming {} (first batch row {:?}, first streaming row {:?})",
                batch.len(),
                streaming.len(),
                batch.first(),
                streaming.first()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared >= 23, "only {compared} queries compared");
}
