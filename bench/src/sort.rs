//! `faro-bench sort`: the `sort` operator over far more rows than its
//! memory budget, so it spills hundreds of runs and merges them. Rows are
//! an `i64` key drawn at random and a ~90-byte text payload, in batches as
//! an exchange would deliver them; the time covers buffering, spilling,
//! merging and emitting, not generating the input.

use std::path::PathBuf;

use anyhow::{ensure, Context};
use faro_runtime::kernels::views;
use faro_runtime::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use faro_runtime::operators::sort::{Sort, SortKey};
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, ValuesView};

use crate::nexmark::mix;
use crate::rusage::Meter;

/// Arguments of `faro-bench sort`.
#[derive(Debug, clap::Args)]
pub struct SortArgs {
    /// Rows to sort; one measurement per value.
    #[arg(long, value_delimiter = ',', default_value = "500000,2000000")]
    rows: Vec<usize>,
    /// The sort's memory budget in bytes (`memory_bytes`). A run is what
    /// was buffered when the budget was passed, so with the default batches
    /// (~100 KB each) a run holds two: ~250 runs for 0.5M rows, ~1000 for 2M.
    #[arg(long, default_value_t = 128 * 1024)]
    memory_bytes: u64,
    /// Rows per input batch.
    #[arg(long, default_value_t = 1024)]
    batch_rows: usize,
    /// Where the spill files go (default: a fresh temporary directory).
    #[arg(long)]
    spill_dir: Option<PathBuf>,
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("key", DataType::Int64),
        Field::new("payload", DataType::Utf8),
    ])
}

fn input(rows: usize, batch_rows: usize) -> anyhow::Result<Vec<Batch>> {
    let schema = schema();
    let pad = "x".repeat(64);
    (0..rows)
        .step_by(batch_rows.max(1))
        .map(|first| {
            let n = batch_rows.max(1).min(rows - first);
            let mut builder = BatchBuilder::new(schema.clone(), n);
            for i in first..first + n {
                let random = mix(i as u64);
                builder.column(0).push_i64(random as i64)?;
                builder
                    .column(1)
                    .push_str(&format!("payload-{i:016}-{pad}"))?;
            }
            Ok(builder.finish()?)
        })
        .collect()
}

/// Counts rows and checks that keys never descend, batch after batch.
struct Check {
    rows: usize,
    last: Option<i64>,
    ordered: bool,
}

impl Emit for Check {
    fn emit(&mut self, batch: Batch) -> Result<(), OperatorError> {
        if let Some(ValuesView::Int64(keys)) = views(&batch).first().map(|c| c.values) {
            for &key in keys {
                self.ordered &= self.last.is_none_or(|last| last <= key);
                self.last = Some(key);
            }
        }
        self.rows += batch.num_rows();
        Ok(())
    }
}

/// Sorts each size once and prints a markdown table.
pub fn run(args: &SortArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let spill_dir = args.spill_dir.clone().unwrap_or(temp.path().to_path_buf());
    let context = OperatorContext {
        vertex: "sort".into(),
        subtask: 0,
        parallelism: 1,
        attempt: 0,
        spill_dir,
        access: std::sync::Arc::new(faro_runtime::access::AccessPolicy::deny_all()),
    };
    let keys = [SortKey {
        column: "key".into(),
        descending: false,
    }];
    println!("| rows | input MB | budget KB | wall s | cpu s |");
    println!("|---|---|---|---|---|");
    for &rows in &args.rows {
        let batches = input(rows, args.batch_rows)?;
        let bytes: usize = batches.iter().map(|b| b.to_bytes().len()).sum();
        let mut op = Sort::new(&keys, &schema(), Some(args.memory_bytes))?;
        let mut out = Check {
            rows: 0,
            last: None,
            ordered: true,
        };
        let meter = Meter::start()?;
        op.open(&context)?;
        for batch in &batches {
            op.process(0, &Rows::of_batch(batch), &mut out)
                .context("sorting")?;
        }
        op.end_input(0, &mut out).context("merging")?;
        op.close()?;
        let time = meter.stop()?;
        ensure!(out.rows == rows, "sorted {} of {rows} rows", out.rows);
        ensure!(out.ordered, "the output is out of order");
        println!(
            "| {rows} | {:.0} | {} | {:.2} | {:.2} |",
            bytes as f64 / 1e6,
            args.memory_bytes / 1024,
            time.wall.as_secs_f64(),
            time.cpu.as_secs_f64()
        );
    }
    Ok(())
}
