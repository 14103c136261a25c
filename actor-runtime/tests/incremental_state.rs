//! Incremental checkpoints of a continuous aggregate: after a batch that
//! touches two keys of five thousand, its snapshot appends those two
//! groups' rows to at most two key groups and calls the rest unchanged;
//! restored, sums still know how many values they hold, so retractions
//! after a restore answer as before it; stored through the task's
//! bookkeeping into real checkpoint files, read back whole across two
//! checkpoints, it restores an aggregate that answers exactly as the
//! original does; and a damaged or missing parts file of the older
//! checkpoint is an error naming the file, never a partial restore. An
//! open window of a checkpointed job does the same: two changed keys of
//! five thousand append to at most two key groups of it, and the window
//! restored from both snapshots fires exactly as the original.

use crate::operator_support;

use std::collections::BTreeMap;

use faro_runtime::checkpoint::increments::{Increments, LaidOut};
use faro_runtime::checkpoint::reading::read_task_state;
use faro_runtime::checkpoint::{CheckpointStorage, TaskState};
use faro_runtime::operator::{Operator, Rows};
use faro_runtime::operators::aggregate::{
    AggregateFunction, AggregateParams, AggregateSpec, ContinuousAggregate,
};
use faro_runtime::operators::window::{WindowAggregate, WindowParams};
use faro_runtime::state::parts::{Part, StateSnapshot};
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value};
use operator_support::{rows, sorted};

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("k", DataType::Int64),
        Field::new("v", DataType::Int64),
    ])
}

fn params() -> AggregateParams {
    let spec = |name: &str, function, expr: Option<&str>| AggregateSpec {
        name: name.into(),
        function,
        expr: expr.map(str::to_string),
    };
    AggregateParams {
        group_by: vec!["k".into()],
        aggregates: vec![
            spec("rows", AggregateFunction::Count, None),
            spec("total", AggregateFunction::Sum, Some("v")),
            spec("mean", AggregateFunction::Avg, Some("v")),
            spec("top", AggregateFunction::Max, Some("v")),
        ],
        memory_bytes: None,
    }
}

fn batch(keys: impl Iterator<Item = i64>) -> Batch {
    let keys: Vec<i64> = keys.collect();
    let mut builder = BatchBuilder::new(schema(), keys.len());
    for k in keys {
        builder
            .push_row(&[Value::Int64(k), Value::Int64(k * 3 + 1)])
            .unwrap();
    }
    builder.finish().unwrap()
}

fn aggregate() -> ContinuousAggregate {
    aggregate_of(&params())
}

fn aggregate_of(params: &AggregateParams) -> ContinuousAggregate {
    let mut operator = ContinuousAggregate::new(params, &schema()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    operator
        .open(&operator_support::context(dir.path()))
        .unwrap();
    operator
}

fn feed(operator: &mut ContinuousAggregate, batch: &Batch) -> Vec<Vec<Value>> {
    let mut out: Vec<Batch> = Vec::new();
    operator
        .process(0, &Rows::of_batch(batch), &mut out)
        .unwrap();
    sorted(rows(&out))
}

/// A snapshot's parts, by id.
type Parts = Vec<(u32, Part)>;

fn parts_of(snapshot: Option<StateSnapshot>) -> Parts {
    match snapshot {
        Some(StateSnapshot::Parts(parts)) => parts,
        other => panic!("not in parts: {other:?}"),
    }
}

/// The state a restore reads after two snapshots, the first whole and
/// the second relative to it: per part, its new bytes, or the first
/// snapshot's followed by what was appended.
fn joined(first: &[(u32, Part)], second: &[(u32, Part)]) -> Vec<u8> {
    let earlier: BTreeMap<u32, &Part> = first.iter().map(|(id, p)| (*id, p)).collect();
    let mut whole = Vec::new();
    for (id, part) in second {
        if let Part::Changed(bytes) = part {
            whole.extend_from_slice(bytes);
            continue;
        }
        let Part::Changed(stored) = earlier[id] else {
            panic!("part {id} of the first snapshot is not whole")
        };
        whole.extend_from_slice(stored);
        if let Part::Appended(bytes) = part {
            whole.extend_from_slice(bytes);
        }
    }
    whole
}

/// The original after 5000 keys (checkpoint 1) and two more rows
/// (checkpoint 2, relative to 1), and both snapshots.
fn two_snapshots() -> (ContinuousAggregate, Parts, Parts) {
    let mut original = aggregate();
    feed(&mut original, &batch(0..5000));
    let first = parts_of(original.snapshot_parts(1, None).unwrap());
    feed(&mut original, &batch([7, 4242].into_iter()));
    let second = parts_of(original.snapshot_parts(2, Some(1)).unwrap());
    (original, first, second)
}

#[test]
fn after_a_small_batch_only_the_key_groups_it_touched_have_bytes() {
    let (mut original, first, second) = two_snapshots();
    assert!(first.len() > 100, "5000 keys fill most of 128 key groups");
    assert!(first.iter().all(|(_, p)| matches!(p, Part::Changed(_))));
    let written: Vec<(u32, usize)> = second
        .iter()
        .filter_map(|(id, p)| match p {
            Part::Appended(bytes) => Some((*id, bytes.len())),
            Part::Unchanged => None,
            Part::Changed(_) => panic!("key group {id} written whole for one row"),
        })
        .collect();
    assert!(
        (1..=2).contains(&written.len()),
        "two keys touch at most two key groups: {written:?}"
    );
    assert_eq!(second.len(), first.len(), "every key group still has state");
    let whole = joined(&first, &second);
    let mut restored = aggregate();
    restored.restore_state(&whole).unwrap();
    // Both retract and re-add every group's value the same way.
    let next = batch((0..5000).step_by(7));
    assert_eq!(feed(&mut restored, &next), feed(&mut original, &next));
}

#[test]
fn a_restored_sum_takes_retractions_as_the_original_does() {
    // Over a changelog: no max, which cannot take retractions.
    let mut retractable = params();
    retractable.aggregates.retain(|a| a.name != "top");
    let aggregate = || aggregate_of(&retractable);
    let mut original = aggregate();
    let inserts = batch((0..50).chain(0..50));
    feed(&mut original, &inserts);
    let saved = parts_of(original.snapshot_parts(1, None).unwrap());
    let mut whole = Vec::new();
    for (_, part) in saved {
        let Part::Changed(bytes) = part else {
            panic!("a first snapshot is whole")
        };
        whole.extend_from_slice(&bytes);
    }
    let mut restored = aggregate();
    restored.restore_state(&whole).unwrap();
    // Take one of each key's two rows back out: sums keep the other's
    // value (not null, not restarted).
    let kinds = vec![faro_runtime::RowKind::Delete; 50];
    let retract = batch(0..50).with_kinds(&kinds).unwrap();
    let out = feed(&mut restored, &retract);
    assert_eq!(out, feed(&mut original, &retract));
    assert!(
        out.iter().any(|row| row.contains(&Value::Int64(3 * 7 + 1))),
        "{out:?}"
    );
}

fn window_schema() -> Schema {
    Schema::new(vec![
        Field::new("ts", DataType::Timestamp),
        Field::new("k", DataType::Int64),
        Field::new("v", DataType::Int64),
    ])
}

fn window() -> WindowAggregate {
    let params: WindowParams = serde_json::from_value(serde_json::json!({
        "time": "ts", "window": {"tumbling": {"size_ms": 86_400_000}},
        "group_by": ["k"],
        "aggregates": [{"name": "n", "function": "count"},
                       {"name": "top", "function": "max", "expr": "v"}]}))
    .unwrap();
    let mut operator = WindowAggregate::new(&params, &window_schema())
        .unwrap()
        .incremental();
    let dir = tempfile::tempdir().unwrap();
    operator
        .open(&operator_support::context(dir.path()))
        .unwrap();
    operator
}

fn window_rows(keys: impl Iterator<Item = i64>) -> Batch {
    let keys: Vec<i64> = keys.collect();
    let mut builder = BatchBuilder::new(window_schema(), keys.len());
    for k in keys {
        builder
            .push_row(&[
                Value::Timestamp(1_000 + k),
                Value::Int64(k),
                Value::Int64(k * 7),
            ])
            .unwrap();
    }
    builder.finish().unwrap()
}

#[test]
fn an_open_window_appends_only_the_key_groups_a_batch_touched() {
    let mut original = window();
    let mut out: Vec<Batch> = Vec::new();
    let first_rows = window_rows(0..5000);
    original
        .process(0, &Rows::of_batch(&first_rows), &mut out)
        .unwrap();
    let first = parts_of(original.snapshot_parts(1, None).unwrap());
    assert!(first.len() > 100, "a header and most of 128 key groups");
    let more = window_rows([7, 4242].into_iter());
    original
        .process(0, &Rows::of_batch(&more), &mut out)
        .unwrap();
    let second = parts_of(original.snapshot_parts(2, Some(1)).unwrap());
    let written: Vec<u32> = second
        .iter()
        .filter(|(_, p)| *p != Part::Unchanged)
        .map(|&(id, _)| id)
        .collect();
    assert_eq!(written[0], 0, "the header is always written");
    assert!(
        (2..=3).contains(&written.len()),
        "the header and at most two key groups: {written:?}"
    );
    let whole = joined(&first, &second);
    let mut restored = window();
    restored.restore_state(&whole).unwrap();
    let fire = |operator: &mut WindowAggregate| {
        let mut fired: Vec<Batch> = Vec::new();
        operator.end_input(0, &mut fired).unwrap();
        sorted(rows(&fired))
    };
    let expected = fire(&mut original);
    assert_eq!(expected.len(), 5000);
    assert_eq!(fire(&mut restored), expected);
}

/// A window's snapshot with every part whole, as bytes.
fn whole_window(operator: &mut WindowAggregate, checkpoint: u64) -> Vec<u8> {
    let mut whole = Vec::new();
    for (id, part) in parts_of(operator.snapshot_parts(checkpoint, None).unwrap()) {
        let Part::Changed(bytes) = part else {
            panic!("part {id} of a full snapshot is not whole")
        };
        whole.extend_from_slice(&bytes);
    }
    whole
}

#[test]
fn a_window_restored_at_another_parallelism_keeps_its_groups_in_later_snapshots() {
    // Two old subtasks' windows, taken together by one new subtask.
    let mut olds = [window(), window()];
    let mut out: Vec<Batch> = Vec::new();
    for (old, keys) in olds.iter_mut().zip([0..2500, 2500..5000]) {
        old.process(0, &Rows::of_batch(&window_rows(keys)), &mut out)
            .unwrap();
    }
    let states: Vec<(u32, Vec<u8>)> = olds
        .iter_mut()
        .enumerate()
        .map(|(i, old)| (i as u32, whole_window(old, 1)))
        .collect();
    let mut rescaled = window();
    rescaled
        .restore_rescaled(&faro_runtime::checkpoint::Rescaled {
            states: &states,
            from_parallelism: 2,
            subtask: 0,
            parallelism: 1,
            keys: None,
        })
        .unwrap();
    // Its next checkpoint holds every restored group.
    let again = whole_window(&mut rescaled, 2);
    let mut restored = window();
    restored.restore_state(&again).unwrap();
    let mut fired: Vec<Batch> = Vec::new();
    restored.end_input(0, &mut fired).unwrap();
    assert_eq!(rows(&fired).len(), 5000);
}

fn write(dir: &std::path::Path, checkpoint: u64, laid_out: LaidOut) {
    let chk = dir.join(format!("j/chk-{checkpoint:010}"));
    std::fs::create_dir_all(&chk).unwrap();
    let state = TaskState {
        slots: 2,
        blobs: laid_out.whole,
        manifests: laid_out.manifests,
        in_flight: None,
    };
    std::fs::write(chk.join("000-00000.parts"), laid_out.parts_file).unwrap();
    std::fs::write(chk.join("000-00000.state"), state.encode()).unwrap();
}

#[tokio::test]
async fn stored_across_two_checkpoints_it_reads_back_whole_or_names_the_damage() {
    let (mut original, first, second) = two_snapshots();
    let store = tempfile::tempdir().unwrap();
    let mut increments = Increments::default();
    let laid_out = increments
        .lay_out(1, None, vec![(1, StateSnapshot::Parts(first))])
        .unwrap();
    let full = laid_out.parts_file.len();
    write(store.path(), 1, laid_out);
    increments.completed(1);
    assert_eq!(increments.since(), Some(1));
    let laid_out = increments
        .lay_out(2, Some(1), vec![(1, StateSnapshot::Parts(second))])
        .unwrap();
    assert_eq!(laid_out.shared_from, Some(1));
    assert!(
        laid_out.parts_file.len() * 20 < full,
        "{} bytes written of {full}",
        laid_out.parts_file.len()
    );
    write(store.path(), 2, laid_out);

    let dir = store.path().join("j/chk-0000000002");
    let dir = dir.to_str().unwrap();
    let name = CheckpointStorage::task_file(0, 0);
    let read = read_task_state(dir, &name).await.unwrap();
    assert!(read.state.manifests.is_empty());
    let mut restored = aggregate();
    restored.restore_state(&read.state.blobs[&1]).unwrap();
    let next = batch((0..5000).step_by(3));
    assert_eq!(feed(&mut restored, &next), feed(&mut original, &next));

    // The older checkpoint's parts, damaged, then gone.
    let older = store.path().join("j/chk-0000000001/000-00000.parts");
    let mut bytes = std::fs::read(&older).unwrap();
    bytes[full / 2] ^= 0x10;
    std::fs::write(&older, &bytes).unwrap();
    let error = read_task_state(dir, &name).await.unwrap_err();
    assert!(
        error.contains("chk-0000000001/000-00000.parts") && error.contains("checksum"),
        "{error}"
    );
    std::fs::remove_file(&older).unwrap();
    let error = read_task_state(dir, &name).await.unwrap_err();
    assert!(error.contains("chk-0000000001"), "{error}");
}
