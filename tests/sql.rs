//! SQL golden files: each `tests/sql/inputs/NAME.sql` (tables, then one
//! query) runs on an embedded cluster in the modes its first line names
//! (`-- modes: batch streaming`), and its final result must be
//! `tests/sql/expected/NAME.out` in every one of them. A streaming
//! query's changelog is applied to give its final rows; rows are compared
//! in order when the query orders them (`-- ordered`), sorted otherwise.
//! `FARO_BLESS=1` writes the expected files from what runs.

use std::path::{Path, PathBuf};

use faro_runtime::access::AccessPolicy;
use faro_runtime::kernels::views;
use faro_runtime::spec::validate;
use faro_runtime::{Batch, Value};
use faro_scheduler::Embedded;
use faro_sql::{Outcome, Session};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql")
}

/// What the first lines of an input say.
struct Header {
    modes: Vec<String>,
    ordered: bool,
}

fn header(text: &str) -> Header {
    let mut modes = vec!["batch".to_string(), "streaming".to_string()];
    let mut ordered = false;
    for line in text.lines().take_while(|l| l.starts_with("--")) {
        let line = line.trim_start_matches("--").trim();
        if let Some(list) = line.strip_prefix("modes:") {
            modes = list.split_whitespace().map(str::to_string).collect();
        }
        ordered |= line == "ordered";
    }
    Header { modes, ordered }
}

/// The rows of `batches` as text lines, a changelog applied.
fn final_rows(batches: &[Batch]) -> (Vec<String>, Vec<String>) {
    let Some(first) = batches.first() else {
        return (Vec::new(), Vec::new());
    };
    let names: Vec<String> = first
        .schema()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let changelog = names.first().is_some_and(|n| n == "op");
    let mut rows: Vec<String> = Vec::new();
    for batch in batches {
        let columns = views(batch);
        for row in 0..batch.num_rows() {
            let values: Vec<Value> = columns.iter().map(|c| c.value(row)).collect();
            if !changelog {
                rows.push(line(&values));
                continue;
            }
            let op = values[0].to_string();
            let text = line(&values[1..]);
            match op.as_str() {
                "+I" | "+U" => rows.push(text),
                _ => {
                    let at = rows.iter().position(|r| *r == text);
                    let at = at.unwrap_or_else(|| panic!("retracting a row never added: {text}"));
                    rows.remove(at);
                }
            }
        }
    }
    let names = if changelog {
        names[1..].to_vec()
    } else {
        names
    };
    (names, rows)
}

fn line(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Runs the script's last statement (a query) in `mode`; returns the
/// result as text.
async fn run(cluster: &Embedded, script: &str, mode: &str, ordered: bool, id: &str) -> String {
    let mut session = Session::new(2);
    let text = format!("SET 'execution.runtime-mode' = '{mode}';\n{script}");
    let outcomes = session
        .execute(&text)
        .unwrap_or_else(|e| panic!("{id} ({mode}): {}", e.pointed(&text)));
    let Some(Outcome::Job(job)) = outcomes.last() else {
        panic!("{id}: the last statement is not a query");
    };
    let valid = validate(&job.spec).unwrap_or_else(|e| panic!("{id} ({mode}): {e}"));
    let output = cluster
        .run(&format!("{id}-{mode}"), &valid)
        .await
        .unwrap_or_else(|e| panic!("{id} ({mode}) failed: {e}"));
    let (names, mut rows) = final_rows(&output.collected);
    if !ordered {
        rows.sort();
    }
    let mut out = names.join(" | ");
    out.push('\n');
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_queries_give_their_expected_results_in_every_mode() {
    let dir = golden_dir();
    let data = dir.join("inputs");
    let access = AccessPolicy::new(std::slice::from_ref(&data), &[]).unwrap();
    let cluster = Embedded::start(2, None, access).unwrap();
    let bless = std::env::var_os("FARO_BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "golden inputs missing: {inputs:?}");
    let mut failures = Vec::new();
    for input in &inputs {
        let id = input.file_stem().unwrap().to_string_lossy().to_string();
        // Paths in the scripts are relative to the inputs directory.
        let script = std::fs::read_to_string(input)
            .unwrap()
            .replace("'path' = '", &format!("'path' = '{}/", data.display()));
        let header = header(&script);
        let expected_path = dir.join("expected").join(format!("{id}.out"));
        let mut results = Vec::new();
        for mode in &header.modes {
            results.push((
                mode.clone(),
                run(&cluster, &script, mode, header.ordered, &id).await,
            ));
        }
        if bless {
            std::fs::write(&expected_path, &results[0].1).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("no {} (run with FARO_BLESS=1)", expected_path.display()));
        for (mode, result) in results {
            if result != expected {
                failures.push(format!(
                    "{id} ({mode}):\n--- expected\n{expected}--- got\n{result}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
