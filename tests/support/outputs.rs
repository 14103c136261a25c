//! What a job's `files` sink made visible, read back for comparison.

use std::path::Path;

/// Every data line of the visible CSV parts in `dir`, sorted. With
/// `settled` (the job has ended), a pending or in-progress part left
/// behind fails.
pub fn committed_rows(dir: &Path, settled: bool) -> Vec<String> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let hidden = name.starts_with('.') || name.contains(".inprogress-");
        assert!(
            !(settled && hidden),
            "{name} left behind in {}",
            dir.display()
        );
        if !hidden {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            rows.extend(text.lines().skip(1).map(str::to_string));
        }
    }
    rows.sort();
    rows
}

/// Fails naming how many rows are missing and extra (and a few of each),
/// not with two whole outputs; both sorted.
pub fn assert_same_rows(got: &[String], expected: &[String], context: &str) {
    let missing: Vec<&String> = expected
        .iter()
        .filter(|r| got.binary_search(r).is_err())
        .collect();
    let extra: Vec<&String> = got
        .iter()
        .filter(|r| expected.binary_search(r).is_err())
        .collect();
    assert!(
        got.len() == expected.len() && missing.is_empty() && extra.is_empty(),
        "{} rows, {} expected; missing {} (first {:?}), extra {} (first {:?}); {context}",
        got.len(),
        expected.len(),
        missing.len(),
        &missing[..missing.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)],
    );
}
