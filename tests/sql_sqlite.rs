//! Faro's SQL against a reference engine nobody here wrote: the same
//! queries over the same generated tables (CSV files) run in Faro, on an
//! embedded cluster in batch and streaming mode, and in SQLite (Python's
//! `sqlite3`, with `LIKE` made case-sensitive as standard SQL has it),
//! and their rows must agree (numbers to 9 significant digits, unordered
//! unless the query orders them).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use faro_runtime::access::AccessPolicy;
use faro_runtime::kernels::views;
use faro_runtime::spec::validate;
use faro_runtime::Value;
use faro_scheduler::Embedded;
use faro_sql::{Outcome, Session};

/// Queries both engines run (standard SQL both read the same way).
const QUERIES: &[&str] = &[
    "SELECT grp, COUNT(*), SUM(qty), MIN(val), MAX(val) FROM t GROUP BY grp",
    "SELECT grp, AVG(qty), COUNT(qty) FROM t GROUP BY grp HAVING COUNT(*) > 40",
    "SELECT t.id, u.w, t.name FROM t JOIN u ON t.id = u.id WHERE u.w > 50",
    "SELECT t.id, u.id, u.w FROM t LEFT JOIN u ON t.id = u.w WHERE t.id < 60",
    "SELECT u.id, t.id FROM t RIGHT JOIN u ON t.qty = u.id",
    "SELECT t.id, t.qty, u.id, u.w FROM t FULL OUTER JOIN u ON t.qty = u.w",
    "SELECT id, grp FROM (SELECT id, grp, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY id) AS rn FROM t) WHERE rn = 1",
    "SELECT DISTINCT grp, qty % 3 FROM t WHERE qty IS NOT NULL",
    "SELECT name, qty FROM t WHERE name LIKE 'a%' OR name LIKE '%Z'",
    "SELECT id, CASE WHEN val > 0.5 THEN 'hi' WHEN val > 0.25 THEN 'mid' ELSE 'lo' END FROM t WHERE id < 50",
    "SELECT COUNT(DISTINCT grp), COUNT(DISTINCT qty) FROM t",
    "SELECT grp, COUNT(*) FILTER (WHERE qty > 5), SUM(val) FILTER (WHERE name LIKE 'b%') FROM t GROUP BY grp",
    "WITH s AS (SELECT grp, SUM(qty) AS total FROM t GROUP BY grp) SELECT COUNT(*), MAX(total) FROM s WHERE total > 100",
    "SELECT id FROM t WHERE id < 5 UNION ALL SELECT id FROM u WHERE id < 3",
    "SELECT id, val FROM t ORDER BY val DESC, id LIMIT 10",
    "SELECT id / 7, id % 7, -id / 4, id * 3 - 2 FROM t WHERE id < 30",
    "SELECT COALESCE(qty, 0) + 1, qty IS NULL FROM t WHERE id < 40",
    "SELECT upper(name), lower(name), substr(name, 2, 3), length(name) FROM t WHERE id < 25",
    "SELECT grp, MIN(name), MAX(name) FROM t GROUP BY grp",
    "SELECT x.grp, x.n FROM (SELECT grp, COUNT(*) AS n FROM t WHERE val < 0.5 GROUP BY grp) AS x WHERE x.n > 20",
    "SELECT t.grp, SUM(u.w) FROM t JOIN u ON t.id = u.id GROUP BY t.grp",
    "SELECT id, val * 2 + 1, CAST(qty AS DOUBLE) / 4 FROM t WHERE qty BETWEEN 3 AND 6 AND grp IN (1, 3)",
    "SELECT grp, SUM(qty) FROM t WHERE qty IS NULL GROUP BY grp",
    "SELECT grp, id, rn FROM (SELECT grp, id, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY val DESC, id) AS rn FROM t WHERE qty > 2) WHERE rn <= 3",
    "SELECT id, EXTRACT(YEAR FROM CAST(id * 86400000 * 40 AS TIMESTAMP)) FROM t WHERE id < 3",
];

/// SQLite has no timestamps: its text for the query, where it differs.
fn for_sqlite(query: &str) -> String {
    query.replace(
        "EXTRACT(YEAR FROM CAST(id * 86400000 * 40 AS TIMESTAMP))",
        "CAST(strftime('%Y', id * 86400 * 40, 'unixepoch') AS INTEGER)",
    )
}

/// Queries whose order is part of the answer.
fn ordered(query: &str) -> bool {
    query.contains("ORDER BY") && !query.contains("OVER (")
}

/// Queries a streaming job cannot run: MAX over a changelog (a grouped
/// WITH query's updates) would need every value seen, and is refused.
fn batch_only(query: &str) -> bool {
    ordered(query) || query.starts_with("WITH s AS")
}

/// Writes the two tables as CSV: 600 and 200 rows from a fixed LCG.
fn write_tables(dir: &Path) {
    let mut state: u64 = 42;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut t = String::from("id,grp,val,name,qty\n");
    for id in 0..600 {
        let grp = next() % 5;
        let val = (next() % 1_000_000) as f64 / 1_000_000.0;
        let letters = [
            "alpha", "Bravo", "beta", "gamma", "aZ", "Delta", "epsiloN", "zZ",
        ];
        let name = format!("{}{}", letters[(next() % 8) as usize], next() % 10);
        let name = if id % 37 == 0 {
            letters[(id / 37 % 8) as usize].to_string()
        } else {
            name
        };
        let qty = if next() % 9 == 0 {
            String::new()
        } else {
            (next() % 12).to_string()
        };
        writeln!(t, "{id},{grp},{val},{name},{qty}").unwrap();
    }
    let mut u = String::from("id,w\n");
    for id in 0..200 {
        writeln!(u, "{},{}", id * 2 % 250, next() % 100).unwrap();
    }
    std::fs::write(dir.join("t.csv"), t).unwrap();
    std::fs::write(dir.join("u.csv"), u).unwrap();
}

/// A cell as both engines' answers are compared: numbers to 9
/// significant digits, booleans as SQLite's 0 and 1.
fn normalized(cell: &str) -> String {
    let cell = match cell {
        "true" => "1",
        "false" => "0",
        other => other,
    };
    match cell.parse::<f64>() {
        Ok(n) if cell.chars().any(|c| c.is_ascii_digit()) => format!("{n:.8e}"),
        _ => cell.to_string(),
    }
}

fn rows_text(rows: Vec<Vec<String>>, keep_order: bool) -> String {
    let mut lines: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| normalized(c))
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    if !keep_order {
        lines.sort();
    }
    lines.join("\n")
}

/// SQLite's answers to every query, in order.
fn sqlite(dir: &Path) -> Vec<Vec<Vec<String>>> {
    let script = r#"
import csv, json, sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect(":memory:")
db.execute("PRAGMA case_sensitive_like = ON")
db.execute("CREATE TABLE t (id INTEGER, grp INTEGER, val REAL, name TEXT, qty INTEGER)")
db.execute("CREATE TABLE u (id INTEGER, w INTEGER)")
def num(x, f):
    return None if x == "" else f(x)
with open(d + "/t.csv") as f:
    for r in csv.DictReader(f):
        db.execute("INSERT INTO t VALUES (?,?,?,?,?)", (int(r["id"]), int(r["grp"]), float(r["val"]), r["name"], num(r["qty"], int)))
with open(d + "/u.csv") as f:
    for r in csv.DictReader(f):
        db.execute("INSERT INTO u VALUES (?,?)", (int(r["id"]), int(r["w"])))
out = []
for q in json.load(sys.stdin):
    out.append([["null" if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in row] for row in db.execute(q)])
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs SQLite, the reference engine");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            serde_json::to_string(&QUERIES.iter().map(|q| for_sqlite(q)).collect::<Vec<_>>())
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "sqlite failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn faro(
    cluster: &Embedded,
    dir: &Path,
    query: &str,
    mode: &str,
    n: usize,
) -> Vec<Vec<String>> {
    let tables = format!(
        "SET 'execution.runtime-mode' = '{mode}';
         CREATE TABLE t (id BIGINT, grp BIGINT, val DOUBLE, name STRING, qty BIGINT)
         WITH ('connector' = 'files', 'path' = '{0}/t.csv', 'format' = 'csv');
         CREATE TABLE u (id BIGINT, w BIGINT) WITH ('connector' = 'files', 'path' = '{0}/u.csv', 'format' = 'csv');",
        dir.display()
    );
    let script = format!("{tables}\n{query}");
    let mut session = Session::new(2);
    let outcomes = session
        .execute(&script)
        .unwrap_or_else(|e| panic!("{query} ({mode}): {}", e.pointed(&script)));
    let Some(Outcome::Job(job)) = outcomes.last() else {
        panic!("{query}: no job");
    };
    let valid = validate(&job.spec).unwrap();
    let output = cluster
        .run(&format!("sqlite-{n}-{mode}"), &valid)
        .await
        .unwrap_or_else(|e| panic!("{query} ({mode}): {e}"));
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in &output.collected {
        let changelog = batch
            .schema()
            .fields
            .first()
            .is_some_and(|f| f.name == "op");
        let columns = views(batch);
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| match c.value(row) {
                    Value::Null => "null".to_string(),
                    other => other.to_string(),
                })
                .collect();
            if !changelog {
                rows.push(cells);
                continue;
            }
            let values = cells[1..].to_vec();
            match cells[0].as_str() {
                "+I" | "+U" => rows.push(values),
                _ => {
                    let at = rows
                        .iter()
                        .position(|r| *r == values)
                        .expect("a retraction of a row never added");
                    rows.remove(at);
                }
            }
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_agree_with_sqlite_in_batch_and_streaming_mode() {
    let dir = tempfile::tempdir().unwrap();
    write_tables(dir.path());
    let reference = sqlite(dir.path());
    let access = AccessPolicy::new(&[dir.path().to_path_buf()], &[]).unwrap();
    let cluster = Embedded::start(2, None, access).unwrap();
    let mut disagreements = Vec::new();
    for (n, (query, expected)) in QUERIES.iter().zip(reference).enumerate() {
        let keep_order = ordered(query);
        let expected = rows_text(expected, keep_order);
        assert!(
            !expected.is_empty() || query.contains("IS NULL GROUP"),
            "{query}: SQLite found no rows"
        );
        let modes: &[&str] = if batch_only(query) {
            &["batch"]
        } else {
            &["batch", "streaming"]
        };
        for mode in modes {
            let got = rows_text(faro(&cluster, dir.path(), query, mode, n).await, keep_order);
            if got != expected {
                disagreements.push(format!(
                    "{query} ({mode}):\n--- sqlite\n{expected}\n--- faro\n{got}"
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
}
