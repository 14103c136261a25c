//! Hostile SQL: random text and mutations of real scripts (the golden
//! inputs) never panic the parser or the planner; every refusal is a
//! `SqlError` with a message and, where it concerns the text, a position
//! inside it.

use faro_sql::{Session, SqlError};
use proptest::prelude::*;

/// The golden scripts, the seeds of the mutations.
fn corpus() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sql/inputs");
    let mut scripts: Vec<String> = std::fs::read_dir(&dir)
        .expect("the golden inputs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 10);
    scripts
}

/// Words and symbols a mutation splices in.
const PIECES: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "HAVING",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "AND",
    "OR",
    "NOT",
    "(",
    ")",
    ",",
    ";",
    "*",
    "'",
    "\"",
    "`",
    "-",
    "/",
    "%",
    "||",
    "=",
    "<>",
    "NULL",
    "TRUE",
    "COUNT(*)",
    "SUM(",
    "MAX(DISTINCT",
    "CAST(",
    "AS",
    "BIGINT",
    "INTERVAL '1' SECOND",
    "TABLE(",
    "TUMBLE(",
    "DESCRIPTOR(",
    "LATERAL TABLE(words(",
    "UNION ALL",
    "ORDER BY",
    "LIMIT",
    "-9223372036854775808",
    "1e400",
    "0.5",
    "x",
    "k",
    "v",
    "nums",
    "WATERMARK FOR",
    "WITH",
    "CREATE TABLE",
    "CREATE VIEW",
    "SET",
    "EXPLAIN",
    "INSERT INTO",
    "OVER (",
    "ROW_NUMBER()",
    "\u{0}",
    "é",
    "\n",
    "--",
    "/*",
];

fn check(script: &str) -> Result<(), TestCaseError> {
    let mut session = Session::new(2);
    if let Err(error) = session.execute(script) {
        well_formed(&error, script)?;
    }
    Ok(())
}

fn well_formed(error: &SqlError, script: &str) -> Result<(), TestCaseError> {
    prop_assert!(!error.message.is_empty(), "an empty message for {script:?}");
    if let Some(at) = error.at {
        let lines = script.lines().count().max(1) as u64;
        prop_assert!(
            at.line >= 1 && at.line <= lines + 1,
            "{error} is outside {script:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scripts_are_refused_or_planned_never_a_panic(
        seed in 0usize..1000,
        cuts in proptest::collection::vec((0usize..5000, 0usize..40, 0usize..PIECES.len(), 0u8..3), 1..6),
    ) {
        let corpus = corpus();
        let mut script = corpus[seed % corpus.len()].clone();
        for (at, len, piece, how) in cuts {
            let mut at = at % (script.len() + 1);
            while !script.is_char_boundary(at) { at -= 1; }
            let mut end = (at + len).min(script.len());
            while !script.is_char_boundary(end) { end -= 1; }
            match how {
                0 => script.replace_range(at..end, ""),
                1 => script.insert_str(at, &format!(" {} ", PIECES[piece])),
                _ => script.replace_range(at..end, PIECES[piece]),
            }
        }
        check(&script)?;
    }

    #[test]
    fn random_text_is_refused_never_a_panic(text in "\\PC{0,300}") {
        check(&text)?;
    }

    #[test]
    fn random_token_soup_is_refused_never_a_panic(
        pieces in proptest::collection::vec(0usize..PIECES.len(), 0..60),
    ) {
        let script: Vec<&str> = pieces.iter().map(|&p| PIECES[p]).collect();
        check(&script.join(" "))?;
    }
}

#[test]
fn deep_and_long_inputs_are_refused_cleanly() {
    let deep = format!(
        "SELECT {}1{} AS x",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let error = Session::new(2).execute(&deep).unwrap_err();
    assert!(error.message.contains("nested"), "{error}");
    let table = "CREATE TABLE n (k BIGINT) WITH ('connector' = 'generate', 'rows' = '1', 'fields.k.expr' = 'i');";
    let over = format!("{table} SELECT {} FROM n", vec!["k"; 20_000].join(" + "));
    let error = Session::new(2).execute(&over).unwrap_err();
    assert!(error.message.contains("operators"), "{error}");
    // Within the bound the tree is 5,000 deep: planned on the planner's
    // stack, then refused by the expression engine's own depth bound.
    let deep_chain = format!("{table} SELECT {} FROM n", vec!["k"; 5_000].join(" + "));
    let error = Session::new(2).execute(&deep_chain).unwrap_err();
    assert!(error.message.contains("nested more than 128"), "{error}");
    // A long OR is one flat node to the engine: it plans.
    let conditions: Vec<String> = (0..3_000).map(|i| format!("k = {i}")).collect();
    let wide = format!("{table} SELECT k FROM n WHERE {}", conditions.join(" OR "));
    Session::new(2).execute(&wide).unwrap();
    let huge = "SELECT 1;".repeat(2_000_000);
    let error = Session::new(2).execute(&huge).unwrap_err();
    assert!(error.message.contains("bytes"), "{error}");
}
