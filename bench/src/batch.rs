//! Batch kernels: building, archiving, and validated in-place access of
//! columnar batches shaped like Nexmark bids, in GB/s and rows/s.
//!
//! Each kernel runs `--repeat` times and the median is reported. Bytes are
//! the archived size of the batches, so figures compare directly with the
//! memory and network bandwidth of the machine.

use std::time::{Duration, Instant};

use anyhow::Context;
use faro_runtime::{Batch, BatchView, Schema, ValuesView};
use rkyv::util::AlignedVec;

use crate::nexmark::{bid_schema, bids, fixed_width_bid_schema};

/// Arguments of `faro-bench batch`.
#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    /// Rows in total.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Rows per batch: the whole set in one batch, and typical exchange batches.
    #[arg(long, value_delimiter = ',', default_value = "1000000,8192")]
    batch_rows: Vec<usize>,
    /// Runs per kernel; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
}

struct Measurement {
    kernel: &'static str,
    schema: &'static str,
    batch_rows: usize,
    bytes: usize,
    rows: usize,
    time: Duration,
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time<T>(repeat: usize, mut run: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        std::hint::black_box(run()?);
        times.push(start.elapsed());
    }
    Ok(median(times))
}

fn build_all(schema: &Schema, rows: usize, batch_rows: usize) -> anyhow::Result<Vec<Batch>> {
    (0..rows)
        .step_by(batch_rows)
        .map(|first| Ok(bids(schema, first as u64, batch_rows.min(rows - first))?))
        .collect()
}

/// Reads every value a consumer of bids would: sums integers, measures text.
fn scan(view: &BatchView<'_>) -> u64 {
    let mut acc = 0u64;
    for column in view.columns() {
        match column.values {
            ValuesView::Int64(values) | ValuesView::Timestamp(values) => {
                acc = acc.wrapping_add(values.iter().fold(0i64, |a, &v| a.wrapping_add(v)) as u64)
            }
            ValuesView::Utf8(text) => {
                acc = acc.wrapping_add((0..column.len).map(|i| text.bytes(i).len() as u64).sum())
            }
            _ => {}
        }
    }
    acc
}

fn measure(
    args: &BatchArgs,
    schema_name: &'static str,
    schema: &Schema,
    batch_rows: usize,
) -> anyhow::Result<Vec<Measurement>> {
    let rows = args.rows;
    let batches = build_all(schema, rows, batch_rows)?;
    let archives: Vec<AlignedVec> = batches.iter().map(Batch::to_bytes).collect();
    let bytes: usize = archives.iter().map(|a| a.len()).sum();
    let row = |kernel, time| Measurement {
        kernel,
        schema: schema_name,
        batch_rows,
        bytes,
        rows,
        time,
    };

    let build = time(args.repeat, || build_all(schema, rows, batch_rows))?;
    let mut buffer = AlignedVec::with_capacity(archives.iter().map(|a| a.len()).max().unwrap_or(0));
    let archive = time(args.repeat, || {
        let mut total = 0;
        for batch in &batches {
            buffer = batch.write_into(std::mem::take(&mut buffer));
            total += buffer.len();
        }
        Ok(total)
    })?;
    let access = time(args.repeat, || {
        let mut columns = 0;
        for bytes in &archives {
            columns += BatchView::new(bytes)
                .context("validating a fresh archive")?
                .columns()
                .len();
        }
        Ok(columns)
    })?;
    let access_scan = time(args.repeat, || {
        let mut acc = 0u64;
        for bytes in &archives {
            acc = acc.wrapping_add(scan(
                &BatchView::new(bytes).context("validating a fresh archive")?,
            ));
        }
        Ok(acc)
    })?;
    Ok(vec![
        row("generate + build (typed pushes)", build),
        row("archive (rkyv, reused buffer)", archive),
        row("validated access", access),
        row("validated access + scan of every column", access_scan),
    ])
}

/// Runs the batch kernels and prints a markdown table.
pub fn run(args: &BatchArgs) -> anyhow::Result<()> {
    let schemas = [
        ("bid (7 columns)", bid_schema()),
        ("bid fixed-width (4 columns)", fixed_width_bid_schema()),
    ];
    println!("| kernel | schema | rows/batch | GB/s | M rows/s | µs per batch |");
    println!("|---|---|---|---|---|---|");
    for (name, schema) in &schemas {
        for &batch_rows in &args.batch_rows {
            for m in measure(args, name, schema, batch_rows)? {
                let secs = m.time.as_secs_f64();
                let batches = m.rows.div_ceil(m.batch_rows.max(1));
                println!(
                    "| {} | {} | {} | {:.2} | {:.1} | {:.3} |",
                    m.kernel,
                    m.schema,
                    m.batch_rows,
                    m.bytes as f64 / secs / 1e9,
                    m.rows as f64 / secs / 1e6,
                    secs * 1e6 / batches as f64
                );
            }
        }
    }
    Ok(())
}
