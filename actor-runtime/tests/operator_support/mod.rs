//! Shared helpers for operator tests: running an operator over batches
//! and reading results back as rows.

#![allow(dead_code)]

use faro_runtime::kernels::views;
use faro_runtime::operator::{Operator, OperatorContext, Rows};
use faro_runtime::{Batch, BatchBuilder, Schema, Value};

/// A `read` of `params`, restored from `state` if given, opened as
/// subtask 0 of 1 with reading allowed under `dir`.
pub fn open_read(
    params: faro_runtime::operators::read::ReadParams,
    state: Option<&[u8]>,
    dir: &std::path::Path,
) -> faro_runtime::operators::read::Read {
    use faro_runtime::operator::Source;
    let mut read = faro_runtime::operators::read::Read::new(params);
    if let Some(state) = state {
        read.restore_state(state).unwrap();
    }
    let mut context = context(dir);
    context.access = std::sync::Arc::new(
        faro_runtime::access::AccessPolicy::new(&[dir.to_path_buf()], &[]).unwrap(),
    );
    read.open(&context).unwrap();
    read
}

/// A context whose spill files go to `dir`.
pub fn context(dir: &std::path::Path) -> OperatorContext {
    OperatorContext {
        vertex: "test".into(),
        subtask: 0,
        parallelism: 1,
        attempt: 0,
        spill_dir: dir.to_path_buf(),
        access: std::sync::Arc::new(faro_runtime::access::AccessPolicy::deny_all()),
    }
}

/// Runs `operator` over `inputs` (input 0) to the end; returns its output.
pub fn run(operator: &mut dyn Operator, inputs: &[Batch]) -> Vec<Batch> {
    run_inputs(operator, &[inputs])
}

/// Runs `operator` over several inputs, each read to its end in turn.
pub fn run_inputs(operator: &mut dyn Operator, inputs: &[&[Batch]]) -> Vec<Batch> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    operator.open(&context(dir.path())).unwrap();
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    if let Some(first) = operator.input_preference() {
        order.retain(|&i| i != first);
        order.insert(0, first);
    }
    for input in order {
        for batch in inputs[input] {
            operator
                .process(input, &Rows::of_batch(batch), &mut out)
                .unwrap();
        }
        operator.end_input(input, &mut out).unwrap();
    }
    operator.close().unwrap();
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 0, "spill files were left behind");
    out
}

/// Every row of `batches`, as values.
pub fn rows(batches: &[Batch]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns = views(batch);
        for i in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c.value(i)).collect());
        }
    }
    rows
}

/// Batches of `schema` holding `rows`, `per_batch` rows each.
pub fn batches(schema: &Schema, rows: &[Vec<Value>], per_batch: usize) -> Vec<Batch> {
    rows.chunks(per_batch.max(1))
        .map(|chunk| {
            let mut builder = BatchBuilder::new(schema.clone(), chunk.len());
            for row in chunk {
                builder.push_row(row).unwrap();
            }
            builder.finish().unwrap()
        })
        .collect()
}

/// A total order on rows for comparing unordered results.
pub fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    rows
}
