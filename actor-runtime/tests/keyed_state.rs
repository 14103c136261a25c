//! Keyed state: bounded by its budget, snapshotted per key group, and
//! restored at another parallelism with every key where the exchange now
//! routes it.

use faro_runtime::kernels::hash::hash_rows;
use faro_runtime::kernels::views;
use faro_runtime::state::key_group::subtask_of_hash;
use faro_runtime::state::{KeyGroupRange, KeyedSnapshot, KeyedState, StateError};
use faro_runtime::{BatchBuilder, DataType, Field, Schema, Value};

const GROUPS: u32 = 128;

/// Keys 0..n with their row hashes, as an exchange computes them.
fn keys(n: i64) -> Vec<(Vec<u8>, u64)> {
    let schema = Schema::new(vec![Field::new("k", DataType::Int64)]);
    let mut builder = BatchBuilder::new(schema, n as usize);
    for k in 0..n {
        builder.push_row(&[Value::Int64(k)]).unwrap();
    }
    let batch = builder.finish().unwrap();
    let columns = views(&batch);
    let hashes = hash_rows(&[&columns[0]], n as usize);
    (0..n)
        .map(|k| (k.to_le_bytes().to_vec(), hashes[k as usize]))
        .collect()
}

fn states(parallelism: u32, budget: usize) -> Vec<KeyedState<(i64, Vec<u8>)>> {
    (0..parallelism)
        .map(|s| {
            let range = KeyGroupRange::of_subtask(GROUPS, parallelism, s);
            KeyedState::new("counts", GROUPS, range, budget)
        })
        .collect()
}

#[test]
fn state_restored_at_another_parallelism_is_where_the_exchange_routes_each_key() {
    let keys = keys(5000);
    let mut before = states(2, usize::MAX);
    for (i, (key, hash)) in keys.iter().enumerate() {
        let owner = subtask_of_hash(*hash, GROUPS, 2) as usize;
        before[owner]
            .update(key, *hash, |_| Some((i as i64, vec![i as u8; i % 7])))
            .unwrap();
    }
    assert_eq!(before.iter().map(KeyedState::len).sum::<usize>(), 5000);
    let snapshots: Vec<KeyedSnapshot> = before
        .iter()
        .map(|s| KeyedSnapshot::decode(&s.snapshot().encode()).unwrap())
        .collect();

    for parallelism in [1u32, 3, 5, 128] {
        let mut after = states(parallelism, usize::MAX);
        for state in &mut after {
            for snapshot in &snapshots {
                state.restore(snapshot).unwrap();
            }
        }
        assert_eq!(after.iter().map(KeyedState::len).sum::<usize>(), 5000);
        for (i, (key, hash)) in keys.iter().enumerate() {
            let owner = subtask_of_hash(*hash, GROUPS, parallelism) as usize;
            assert_eq!(
                after[owner].get(key, *hash),
                Some(&(i as i64, vec![i as u8; i % 7])),
                "key {i} at parallelism {parallelism}"
            );
        }
    }
}

#[test]
fn passing_the_budget_is_an_error_naming_it_and_changes_nothing() {
    let keys = keys(1000);
    let mut state = states(1, 10_000).pop().unwrap();
    let mut held = 0;
    let error = loop {
        let (key, hash) = &keys[held];
        match state.update(key, *hash, |_| Some((1, vec![0; 100]))) {
            Ok(()) => held += 1,
            Err(error) => break error,
        }
    };
    assert!(held > 10 && held < 100, "{held} keys in 10 kB");
    assert_eq!(
        error,
        StateError::OverBudget {
            state: "counts".into(),
            budget: 10_000,
            keys: held
        }
    );
    assert_eq!(state.len(), held);
    assert!(state.bytes() <= 10_000);
    assert!(state.get(&keys[held].0, keys[held].1).is_none());
    // Removing and shrinking always fit.
    let (key, hash) = &keys[0];
    state.update(key, *hash, |_| None).unwrap();
    assert_eq!(state.len(), held - 1);
    let message = faro_runtime::operator::OperatorError::from(error).to_string();
    assert!(
        message.contains("memory budget of 10000 bytes"),
        "{message}"
    );
}

#[test]
fn a_key_routed_to_the_wrong_subtask_is_refused() {
    let keys = keys(100);
    let mut two = states(2, usize::MAX);
    let (key, hash) = keys
        .iter()
        .find(|(_, hash)| subtask_of_hash(*hash, GROUPS, 2) == 1)
        .unwrap();
    let error = two[0]
        .update(key, *hash, |_| Some((1, vec![])))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("reached the subtask owning groups 0..64"),
        "{error}"
    );
}

#[test]
fn a_corrupt_blob_is_an_error_not_a_wrong_state() {
    let keys = keys(10);
    let mut state = states(1, usize::MAX).pop().unwrap();
    for (key, hash) in &keys {
        state
            .update(key, *hash, |_| Some((7, b"seven".to_vec())))
            .unwrap();
    }
    let mut snapshot = state.snapshot();
    let blob = snapshot.groups.values_mut().next().unwrap();
    blob.truncate(blob.len() - 1);
    let mut fresh = states(1, usize::MAX).pop().unwrap();
    assert!(matches!(
        fresh.restore(&snapshot),
        Err(StateError::Corrupt(_))
    ));
}
