//! `sort` far over its memory budget: hundreds of runs, merged level by
//! level, against a reference sort; the files it holds open and leaves on
//! disk; and its errors when the spill directory fails it.
//!
//! The tests share the process's open-file count, so they run one at a
//! time (see [`serial`]).

mod operator_support;

use std::cmp::Ordering;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};

use faro_runtime::operator::{Emit, Operator, OperatorError, Rows};
use faro_runtime::operators::sort::{Sort, SortKey, MERGE_FAN_IN};
use faro_runtime::{Batch, DataType, Field, Schema, Value};
use operator_support::{batches, context, rows, run};
use proptest::prelude::*;

/// Held by every test: the open-file test counts the whole process's
/// files, so no other sort may run meanwhile.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::nullable("k", DataType::Int64),
        Field::nullable("s", DataType::Utf8),
        Field::new("x", DataType::Float64),
    ])
}

/// Sort keys over all three columns (so the order is total and the
/// reference is exact), in the given directions.
fn keys(descending: [bool; 3]) -> Vec<SortKey> {
    ["k", "s", "x"]
        .iter()
        .zip(descending)
        .map(|(column, descending)| SortKey {
            column: (*column).into(),
            descending,
        })
        .collect()
}

/// Nulls first, then by value; descending reverses both.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Int64(x), Value::Int64(y)) => x.cmp(y),
        (Value::Float64(x), Value::Float64(y)) => x.total_cmp(y),
        (Value::Utf8(x), Value::Utf8(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => Ordering::Equal,
    }
}

fn reference_sort(mut rows: Vec<Vec<Value>>, descending: [bool; 3]) -> Vec<Vec<Value>> {
    rows.sort_by(|a, b| {
        (0..3)
            .map(|c| {
                let ordering = compare(&a[c], &b[c]);
                if descending[c] {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    rows
}

fn row(k: Option<i64>, s: Option<&str>, x: f64) -> Vec<Value> {
    vec![
        k.map_or(Value::Null, Value::Int64),
        s.map_or(Value::Null, |s| Value::Utf8(s.into())),
        Value::Float64(x),
    ]
}

/// Rows from small domains: many nulls and exact duplicates.
fn input_rows(max: usize) -> impl Strategy<Value = Vec<Vec<Value>>> {
    prop::collection::vec(
        (
            prop::option::weighted(0.8, -15i64..15),
            prop::option::weighted(0.9, prop::sample::select(vec!["a", "b", "bb", "é", ""])),
            prop::sample::select(vec![-1.5, -0.0, 0.0, 2.0, f64::INFINITY]),
        ),
        0..max,
    )
    .prop_map(|rows| rows.into_iter().map(|(k, s, x)| row(k, s, x)).collect())
}

/// `n` rows drawn deterministically from the same small domains.
fn fixed_rows(n: usize) -> Vec<Vec<Value>> {
    let words = ["a", "b", "bb", "é", "", "zz"];
    (0..n as u64)
        .map(|i| {
            let r = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
            let k = (r % 7 != 0).then_some((r % 101) as i64 - 50);
            let s = (r % 11 != 0).then_some(words[(r >> 8) as usize % words.len()]);
            row(k, s, ((r >> 16) % 5) as f64 - 2.0)
        })
        .collect()
}

/// Files this process has open.
fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_sort_over_many_runs_orders_like_the_reference(
        input in input_rows(1500),
        per_batch in 1usize..12,
        budget in 60u64..1500,
        descending in any::<[bool; 3]>(),
    ) {
        let _serial = serial();
        let mut op = Sort::new(&keys(descending), &schema(), Some(budget)).unwrap();
        let got = rows(&run(&mut op, &batches(&schema(), &input, per_batch)));
        prop_assert_eq!(got, reference_sort(input, descending));
    }
}

#[test]
fn a_sort_of_more_than_fan_in_squared_runs_orders_like_the_reference() {
    let _serial = serial();
    let input = fixed_rows(40_000);
    let descending = [true, false, true];
    let dir = tempfile::tempdir().unwrap();
    let mut op = Sort::new(&keys(descending), &schema(), Some(400)).unwrap();
    op.open(&context(dir.path())).unwrap();
    let mut out = Vec::new();
    let (mut seen, mut held, mut most_held, mut largest_drop) = (HashSet::new(), 0, 0, 0);
    for batch in batches(&schema(), &input, 8) {
        op.process(0, &Rows::of_batch(&batch), &mut out).unwrap();
        let files = files_in(dir.path());
        largest_drop = largest_drop.max(held as i64 + 1 - files.len() as i64);
        held = files.len();
        most_held = most_held.max(held);
        seen.extend(files);
    }
    op.end_input(0, &mut out).unwrap();
    op.close().unwrap();

    assert!(
        seen.len() > MERGE_FAN_IN * MERGE_FAN_IN,
        "{} runs",
        seen.len()
    );
    // One spill completing a level-0 and then a level-1 merge: two levels.
    assert!(
        largest_drop >= 2 * (MERGE_FAN_IN as i64 - 1),
        "{largest_drop}"
    );
    // Runs kept on disk are bounded by levels, not by runs spilled.
    assert!(most_held < 3 * MERGE_FAN_IN, "{most_held} runs held");
    assert!(files_in(dir.path()).is_empty(), "spill files were left");
    assert_eq!(rows(&out), reference_sort(input, descending));
}

/// Samples the open-file count while batches are emitted, and keeps rows.
struct Sampling {
    batches: Vec<Batch>,
    most_open: usize,
}

impl Emit for Sampling {
    fn emit(&mut self, batch: Batch) -> Result<(), OperatorError> {
        self.most_open = self.most_open.max(open_files());
        self.batches.emit(batch)
    }
}

#[test]
fn open_files_stay_bounded_by_the_fan_in_however_many_runs() {
    let _serial = serial();
    let input = fixed_rows(20_000);
    let descending = [false; 3];
    let dir = tempfile::tempdir().unwrap();
    let baseline = open_files();

    // A thread polls the count too, to catch merges inside `process`.
    let done = Arc::new(AtomicBool::new(false));
    let polled = Arc::new(AtomicUsize::new(0));
    let poller = {
        let (done, polled) = (done.clone(), polled.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                polled.fetch_max(open_files(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };

    let mut op = Sort::new(&keys(descending), &schema(), Some(300)).unwrap();
    op.open(&context(dir.path())).unwrap();
    let mut out = Sampling {
        batches: Vec::new(),
        most_open: 0,
    };
    let mut seen = HashSet::new();
    for batch in batches(&schema(), &input, 5) {
        op.process(0, &Rows::of_batch(&batch), &mut out).unwrap();
        out.most_open = out.most_open.max(open_files());
        seen.extend(files_in(dir.path()));
    }
    op.end_input(0, &mut out).unwrap();
    op.close().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.join().unwrap();

    assert!(seen.len() >= 500, "only {} runs", seen.len());
    let most_open = out
        .most_open
        .max(polled.load(std::sync::atomic::Ordering::Relaxed));
    // The fan-in's readers and one writer, and the poller's own listing.
    assert!(
        most_open <= baseline + MERGE_FAN_IN + 3,
        "{most_open} files open, {baseline} before the sort"
    );
    assert!(files_in(dir.path()).is_empty(), "spill files were left");
    assert_eq!(rows(&out.batches), reference_sort(input, descending));
}

/// Fails after `after` batches.
struct Failing {
    after: usize,
}

impl Emit for Failing {
    fn emit(&mut self, _: Batch) -> Result<(), OperatorError> {
        if self.after == 0 {
            return Err(OperatorError::OutputClosed("gone".into()));
        }
        self.after -= 1;
        Ok(())
    }
}

#[test]
fn spill_files_are_deleted_when_the_output_fails_mid_merge_or_the_sort_is_dropped() {
    let _serial = serial();
    let input = fixed_rows(30_000);
    let dir = tempfile::tempdir().unwrap();
    let mut op = Sort::new(&keys([false; 3]), &schema(), Some(2000)).unwrap();
    op.open(&context(dir.path())).unwrap();
    let mut out = Failing { after: 1 };
    for batch in batches(&schema(), &input, 50) {
        op.process(0, &Rows::of_batch(&batch), &mut out).unwrap();
    }
    assert!(!files_in(dir.path()).is_empty(), "the sort spilled nothing");
    let err = op.end_input(0, &mut out).unwrap_err();
    assert!(matches!(err, OperatorError::OutputClosed(_)), "{err}");
    op.close().unwrap();
    assert!(files_in(dir.path()).is_empty(), "spill files were left");

    // Dropped while holding runs, without `end_input` or `close`.
    let mut op = Sort::new(&keys([false; 3]), &schema(), Some(2000)).unwrap();
    op.open(&context(dir.path())).unwrap();
    for batch in batches(&schema(), &input, 50) {
        op.process(0, &Rows::of_batch(&batch), &mut Vec::new())
            .unwrap();
    }
    assert!(!files_in(dir.path()).is_empty(), "the sort spilled nothing");
    drop(op);
    assert!(files_in(dir.path()).is_empty(), "spill files were left");
}

#[test]
fn a_run_lost_from_disk_fails_naming_its_file() {
    let _serial = serial();
    let input = fixed_rows(5_000);
    let dir = tempfile::tempdir().unwrap();
    let mut op = Sort::new(&keys([false; 3]), &schema(), Some(2000)).unwrap();
    op.open(&context(dir.path())).unwrap();
    let mut out = Vec::new();
    for batch in batches(&schema(), &input, 50) {
        op.process(0, &Rows::of_batch(&batch), &mut out).unwrap();
    }
    let lost = files_in(dir.path());
    assert!(!lost.is_empty(), "the sort spilled nothing");
    for name in &lost {
        std::fs::remove_file(dir.path().join(name)).unwrap();
    }
    match op.end_input(0, &mut out).unwrap_err() {
        OperatorError::Io { path, .. } => assert!(
            lost.iter().any(|name| path.ends_with(name.as_str())),
            "{path} is none of {lost:?}"
        ),
        other => panic!("not an I/O error: {other}"),
    }
    op.close().unwrap();
}

#[test]
fn a_spill_directory_that_is_gone_fails_naming_the_file() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let mut op = Sort::new(&keys([false; 3]), &schema(), Some(100)).unwrap();
    op.open(&context(&missing)).unwrap();
    let err = batches(&schema(), &fixed_rows(100), 10)
        .iter()
        .find_map(|b| op.process(0, &Rows::of_batch(b), &mut Vec::new()).err())
        .expect("the sort spills over 100 bytes");
    match err {
        OperatorError::Io { action, path, .. } => {
            assert_eq!(action, "creating spill file");
            assert!(path.starts_with(&*missing.to_string_lossy()), "{path}");
        }
        other => panic!("not an I/O error: {other}"),
    }
}
