//! The k-way merge of sorted runs into one sorted stream of batches.
//!
//! A binary heap holds the runs by their head row, so each output row costs
//! about 2·log2(runs) key comparisons, whatever the number of runs. Each
//! run's current batch is read in place from its archive and checked once
//! when it is read, not once per row: checking text columns is linear in
//! their bytes. Equal keys come out in run order, so the output does not
//! depend on anything but the runs.

use std::cmp::Ordering;

use rkyv::util::AlignedVec;
use yoke::{Yoke, Yokeable};

use crate::data::{Batch, BatchError, BatchView, ColumnBuilder, ColumnView, Schema};
use crate::kernels::rows::{append_value, compare_rows, KeyColumn};
use crate::operator::OperatorError;
use crate::operators::spill::{SpillFile, SpillReader};

use super::OUTPUT_ROWS;

/// The checked columns of one archived batch, borrowed from the archive.
#[derive(Yokeable)]
struct Columns<'a> {
    columns: Vec<ColumnView<'a>>,
    rows: usize,
}

fn check(bytes: &AlignedVec) -> Result<Columns<'_>, BatchError> {
    let view = BatchView::new(bytes)?;
    Ok(Columns {
        rows: view.num_rows(),
        columns: view.columns().to_vec(),
    })
}

/// A batch together with the archive its columns borrow from, so it can be
/// kept while other runs move on.
type HeadBatch = Yoke<Columns<'static>, Box<AlignedVec>>;

/// A run being merged: its reader (closed once the run is exhausted), its
/// current batch and the row of it to be merged next.
struct Head {
    reader: Option<SpillReader>,
    batch: HeadBatch,
    row: usize,
}

impl Head {
    /// Opens `file` at its first row; `None` if it holds none.
    fn open(file: SpillFile) -> Result<Option<Self>, OperatorError> {
        let mut reader = file.open()?;
        Ok(next_batch(&mut reader)?.map(|batch| Self {
            reader: Some(reader),
            batch,
            row: 0,
        }))
    }

    fn columns(&self) -> &[ColumnView<'_>] {
        &self.batch.get().columns
    }

    /// Moves to the next row, reading the next batch at the end of this
    /// one; false once the run is exhausted.
    fn advance(&mut self) -> Result<bool, OperatorError> {
        self.row += 1;
        if self.row < self.batch.get().rows {
            return Ok(true);
        }
        let Some(reader) = &mut self.reader else {
            return Ok(false);
        };
        match next_batch(reader)? {
            Some(batch) => {
                self.batch = batch;
                self.row = 0;
                Ok(true)
            }
            None => {
                // Closes (and deletes) the run now rather than when the
                // whole merge ends.
                self.reader = None;
                Ok(false)
            }
        }
    }
}

/// The next batch of `reader` that has rows, or `None` at the end.
fn next_batch(reader: &mut SpillReader) -> Result<Option<HeadBatch>, OperatorError> {
    while let Some(bytes) = reader.next_archive()? {
        let batch = HeadBatch::try_attach_to_cart(Box::new(bytes), check).map_err(|e| {
            OperatorError::BadInput(format!(
                "spill file {} is corrupt: {e}",
                reader.path().display()
            ))
        })?;
        if batch.get().rows > 0 {
            return Ok(Some(batch));
        }
    }
    Ok(None)
}

/// Whether head `a` goes before head `b`: by key, then by run.
fn before(keys: &[KeyColumn], heads: &[Head], a: usize, b: usize) -> bool {
    let (x, y) = (&heads[a], &heads[b]);
    compare_rows(keys, x.columns(), x.row, y.columns(), y.row).then(a.cmp(&b)) == Ordering::Less
}

/// Restores the heap order below `at` in a min-heap of head positions.
fn sift_down(heap: &mut [usize], mut at: usize, before: impl Fn(usize, usize) -> bool) {
    loop {
        let left = 2 * at + 1;
        if left >= heap.len() {
            return;
        }
        let right = left + 1;
        let child = if right < heap.len() && before(heap[right], heap[left]) {
            right
        } else {
            left
        };
        if !before(heap[child], heap[at]) {
            return;
        }
        heap.swap(at, child);
        at = child;
    }
}

/// Output rows being collected into one batch.
struct Output<'s> {
    schema: &'s Schema,
    builders: Vec<ColumnBuilder>,
    rows: usize,
}

impl<'s> Output<'s> {
    fn new(schema: &'s Schema) -> Self {
        Self {
            schema,
            builders: Self::builders(schema),
            rows: 0,
        }
    }

    fn builders(schema: &Schema) -> Vec<ColumnBuilder> {
        schema
            .fields
            .iter()
            .map(|f| ColumnBuilder::new(f.clone(), OUTPUT_ROWS))
            .collect()
    }

    fn push(&mut self, columns: &[ColumnView<'_>], row: usize) -> Result<(), OperatorError> {
        for (builder, column) in self.builders.iter_mut().zip(columns) {
            append_value(builder, column, row)?;
        }
        self.rows += 1;
        Ok(())
    }

    fn take(&mut self) -> Result<Batch, OperatorError> {
        let builders = std::mem::replace(&mut self.builders, Self::builders(self.schema));
        let rows = std::mem::take(&mut self.rows);
        let columns = builders.into_iter().map(ColumnBuilder::finish).collect();
        Ok(Batch::new(self.schema.clone(), rows, columns)?)
    }
}

/// Merges `runs` (each sorted by `keys`, rows of `schema`) into batches of
/// at most [`OUTPUT_ROWS`] rows handed to `sink` in key order. Every run is
/// open until it is exhausted and deleted then; all of them are deleted on
/// failure too.
pub(super) fn merge(
    schema: &Schema,
    keys: &[KeyColumn],
    runs: Vec<SpillFile>,
    sink: &mut dyn FnMut(Batch) -> Result<(), OperatorError>,
) -> Result<(), OperatorError> {
    let mut heads = Vec::with_capacity(runs.len());
    for file in runs {
        heads.extend(Head::open(file)?);
    }
    let mut heap: Vec<usize> = (0..heads.len()).collect();
    for at in (0..heap.len() / 2).rev() {
        sift_down(&mut heap, at, |a, b| before(keys, &heads, a, b));
    }
    let mut output = Output::new(schema);
    while let Some(&top) = heap.first() {
        let head = &mut heads[top];
        output.push(head.columns(), head.row)?;
        if output.rows == OUTPUT_ROWS {
            sink(output.take()?)?;
        }
        if !head.advance()? {
            heap.swap_remove(0);
        }
        sift_down(&mut heap, 0, |a, b| before(keys, &heads, a, b));
    }
    if output.rows > 0 {
        sink(output.take()?)?;
    }
    Ok(())
}
