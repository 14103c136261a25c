//! Plan golden files: each `tests/plans/NAME.sql` ends in `EXPLAIN`s,
//! whose text must be `tests/plans/NAME.plan` — the planner's choices
//! (chaining, combining, edges, exchanges, parallelism) as a user sees
//! them. `FARO_BLESS=1` writes the expected files.

use faro_sql::{Outcome, Session};

#[test]
fn plans_are_the_expected_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "{inputs:?}");
    let mut failures = Vec::new();
    for input in inputs {
        let text = std::fs::read_to_string(&input).unwrap();
        let outcomes = Session::new(2)
            .execute(&text)
            .unwrap_or_else(|e| panic!("{}: {}", input.display(), e.pointed(&text)));
        let plans: String = outcomes
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Explain(plan) => Some(plan),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let expected_path = input.with_extension("plan");
        if std::env::var_os("FARO_BLESS").is_some() {
            std::fs::write(&expected_path, &plans).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if plans != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{plans}",
                input.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
