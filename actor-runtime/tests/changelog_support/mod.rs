//! Shared by the changelog tests: applying a changelog to a table, and
//! running a job to read what its `collect` sink got.

#![allow(dead_code)]

use std::collections::BTreeMap;

use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;
use faro_runtime::{Batch, RowKind, Value};

use crate::operator_support::{rows, sorted};

/// Applies a changelog's rows to `table` in order; a retraction must
/// remove a row the table holds.
pub fn apply(table: &mut Vec<Vec<Value>>, kind: RowKind, row: Vec<Value>) {
    if kind.is_retraction() {
        let at = table.iter().position(|r| *r == row);
        let at = at.unwrap_or_else(|| panic!("{kind} of {row:?}, which the table does not hold"));
        table.swap_remove(at);
    } else {
        table.push(row);
    }
}

/// Applies every row of `batches` to `table`, in order.
pub fn apply_batches(table: &mut Vec<Vec<Value>>, batches: &[Batch]) {
    for batch in batches {
        for (i, row) in rows(std::slice::from_ref(batch)).into_iter().enumerate() {
            apply(table, batch.kind(i), row);
        }
    }
}

/// What the `collect` sink of job `spec`, run on one worker as `id`, got.
pub async fn collected(spec: &JobSpec, id: &str) -> Vec<Batch> {
    let job = validate(spec).unwrap();
    let worker = Worker::start(4, None).unwrap();
    let env = JobEnv {
        job_id: id.into(),
        shuffle: None,
        max_frame: faro_transport::TransportOptions::default().buffer_size,
    };
    run_job(&job, &[&worker], &env).await.unwrap().collected
}

/// The table a collected changelog (its `op` column first) leaves, and how
/// many rows of each kind it had.
pub fn applied(batches: &[Batch]) -> (Vec<Vec<Value>>, BTreeMap<RowKind, usize>) {
    let mut table = Vec::new();
    let mut kinds = BTreeMap::new();
    for row in rows(batches) {
        let Value::Utf8(op) = &row[0] else {
            panic!("no op column: {row:?}")
        };
        let kind = RowKind::parse_short(op).unwrap();
        *kinds.entry(kind).or_insert(0) += 1;
        apply(&mut table, kind, row[1..].to_vec());
    }
    (sorted(table), kinds)
}
