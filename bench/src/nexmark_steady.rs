//! `faro-bench nexmark-steady`: one Nexmark query held at a steady event
//! rate for a long while, with checkpoints — the benchmark's long run.
//!
//! The `nexmark` tables are paced to the wall clock (`'real-time'`), the
//! first event's time being the run's start, so an event's time is the
//! moment it is due. The query's sink becomes a live `collect`, and each
//! emitted row's `--latency-column` (a timestamp: a window's end, an
//! event's own time) is compared with the wall clock as the row reaches
//! this process: event time to emit. Every `--sample-seconds` one JSON
//! line reports resident memory, rows out, checkpoints completed with
//! the last one's size and duration, and the latency percentiles of the
//! rows emitted in that interval; a summary line closes the run.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use faro_runtime::access::AccessPolicy;
use faro_runtime::data::ValuesView;
use faro_runtime::kernels::views;
use faro_runtime::spec::validate;
use faro_runtime::Batch;
use faro_scheduler::coordinator::CheckpointRecord;
use faro_scheduler::Embedded;

use crate::nexmark_queries::{planned_job, write_side_input, Settings};
use crate::rusage::{current_rss_bytes, peak_rss_bytes};

/// Options of `faro-bench nexmark-steady`.
#[derive(Debug, clap::Args)]
pub struct SteadyArgs {
    /// The query: q0 … q23.
    #[arg(long)]
    query: String,
    /// Events per second over the three tables, held steady.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// How long the stream lasts.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// The output column whose time each row's latency is measured from.
    #[arg(long)]
    latency_column: String,
    /// Subtasks per vertex.
    #[arg(long, default_value_t = 2)]
    parallelism: u32,
    /// Checkpoint every this many milliseconds.
    #[arg(long, default_value_t = 10_000)]
    checkpoint_ms: u64,
    /// Seconds between sample lines.
    #[arg(long, default_value_t = 30)]
    sample_seconds: u64,
    /// Where the queries are.
    #[arg(long, default_value = "bench/nexmark")]
    queries: PathBuf,
}

/// What the run has seen so far.
#[derive(Default)]
struct Seen {
    rows: u64,
    /// Milliseconds from event time to emit, of rows since the last sample.
    latencies: Vec<i64>,
    /// The same, of every row: how many rows took each millisecond
    /// (the last bucket: that long or longer), so memory stays flat.
    all: Vec<u64>,
    checkpoints: Vec<CheckpointRecord>,
    /// Why a row's latency could not be read, if one could not.
    problem: Option<String>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The `q`-th quantile of sorted `values` (nearest rank).
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    let last = sorted.len().checked_sub(1)?;
    Some(sorted[((last as f64) * q).round() as usize])
}

/// `"name":{"p50":…,"p99":…,"max":…}` of `values`, in milliseconds.
fn percentiles(name: &str, values: &mut [i64]) -> String {
    values.sort_unstable();
    let at = |q| quantile(values, q).map_or("null".to_string(), |v| v.to_string());
    format!(
        "\"{name}\":{{\"rows\":{},\"p50\":{},\"p99\":{},\"max\":{}}}",
        values.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Takes one emitted batch's rows into `seen`.
fn take(seen: &mut Seen, batch: &Batch, column: &str) {
    let now = now_ms();
    seen.rows += batch.num_rows() as u64;
    let Some(at) = batch.schema().index_of(column) else {
        seen.problem = Some(format!("the output has no column {column:?}"));
        return;
    };
    let columns = views(batch);
    let ValuesView::Timestamp(times) = columns[at].values else {
        seen.problem = Some(format!("{column:?} is not a timestamp"));
        return;
    };
    for (row, &time) in times.iter().enumerate().take(batch.num_rows()) {
        if !columns[at].is_null(row) {
            let latency = now - time;
            seen.latencies.push(latency);
            if seen.all.is_empty() {
                seen.all = vec![0; LONGEST_MS + 1];
            }
            seen.all[(latency.max(0) as usize).min(LONGEST_MS)] += 1;
        }
    }
}

/// Longest latency told apart in the whole run's histogram.
const LONGEST_MS: usize = 120_000;

/// `"name":{…}` of the whole run's histogram, as [`percentiles`] says it.
fn histogram_percentiles(name: &str, counts: &[u64]) -> String {
    let rows: u64 = counts.iter().sum();
    let at = |q: f64| {
        let rank = ((rows.saturating_sub(1)) as f64 * q).round() as u64;
        let mut below = 0;
        for (ms, &n) in counts.iter().enumerate() {
            below += n;
            if n > 0 && below > rank {
                return ms.to_string();
            }
        }
        "null".to_string()
    };
    format!(
        "\"{name}\":{{\"rows\":{rows},\"p50\":{},\"p99\":{},\"max\":{}}}",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// One sample line, and the interval's latencies forgotten.
fn sample(seen: &mut Seen, started: Instant) -> Result<String> {
    let last = seen.checkpoints.last();
    let line = format!(
        "{{\"elapsed_s\":{:.0},\"rss_mb\":{:.1},\"rows_out\":{},\"checkpoints\":{},\
         \"last_checkpoint_bytes\":{},\"last_checkpoint_ms\":{},{}}}",
        started.elapsed().as_secs_f64(),
        current_rss_bytes()? as f64 / (1 << 20) as f64,
        seen.rows,
        seen.checkpoints.len(),
        last.map_or(0, |c| c.bytes),
        last.map_or(0, |c| c.duration_ms),
        percentiles("latency_ms", &mut seen.latencies),
    );
    seen.latencies.clear();
    Ok(line)
}

/// Runs the query at the rate for the time asked, printing samples.
pub fn run(args: &SteadyArgs) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let side_input = write_side_input(dir.path())?;
    let options = format!(
        ", 'rate' = '{}', 'real-time' = 'true', 'base-time-ms' = '{}'",
        args.rate,
        now_ms()
    );
    let text = Settings {
        queries: &args.queries,
        query: &args.query,
        mode: "streaming",
        parallelism: args.parallelism,
        checkpoint_ms: Some(args.checkpoint_ms),
        events: args.rate.saturating_mul(args.seconds),
        table_options: &options,
    }
    .script(&side_input)?;
    let mut spec = planned_job(&text, args.parallelism, &args.query)?;
    let sink = spec
        .vertices
        .iter_mut()
        .find(|v| v.operator == "blackhole")
        .context("the query writes to no blackhole table")?;
    sink.operator = "collect".into();
    sink.params = serde_json::json!({});
    let valid = validate(&spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let access = AccessPolicy::new(&[dir.path().to_path_buf()], &[])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _context = runtime.enter();
    let mut cluster = Embedded::start(64, None, access)?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorded = seen.clone();
    cluster.on_checkpoint(move |record| {
        if let Ok(mut seen) = recorded.lock() {
            seen.checkpoints.push(record.clone());
        }
    });
    let (live, mut rows) = tokio::sync::mpsc::channel::<Batch>(64);
    let reading = seen.clone();
    let column = args.latency_column.clone();
    runtime.spawn(async move {
        while let Some(batch) = rows.recv().await {
            if let Ok(mut seen) = reading.lock() {
                take(&mut seen, &batch, &column);
            }
        }
    });
    let started = Instant::now();
    let sampling = seen.clone();
    let every = Duration::from_secs(args.sample_seconds.max(1));
    let sampler = runtime.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let line = match sampling.lock() {
                Ok(mut seen) => sample(&mut seen, started),
                Err(_) => return,
            };
            match line {
                Ok(line) => println!("{line}"),
                Err(error) => eprintln!("sampling: {error:#}"),
            }
        }
    });
    let output = runtime
        .block_on(cluster.run_until(&args.query, &valid, Some(live), std::future::pending()))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.query))?;
    sampler.abort();
    let seen = seen
        .lock()
        .map_err(|_| anyhow::anyhow!("a sampler panicked"))?;
    if let Some(problem) = &seen.problem {
        bail!("{}: {problem}", args.query);
    }
    let sizes: Vec<u64> = output.checkpoints.iter().map(|c| c.bytes).collect();
    let durations: Vec<u64> = output.checkpoints.iter().map(|c| c.duration_ms).collect();
    let all = histogram_percentiles("latency_ms", &seen.all);
    println!(
        "{{\"query\":\"{}\",\"rate\":{},\"seconds\":{:.1},\"events\":{},\"rows_out\":{},\
         \"checkpoints\":{},\"checkpoint_bytes_min\":{},\"checkpoint_bytes_max\":{},\
         \"checkpoint_ms_max\":{},\"peak_rss_mb\":{:.1},{all}}}",
        args.query,
        args.rate,
        started.elapsed().as_secs_f64(),
        args.rate.saturating_mul(args.seconds),
        seen.rows,
        output.checkpoints.len(),
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
        durations.iter().max().unwrap_or(&0),
        peak_rss_bytes()? as f64 / (1 << 20) as f64,
    );
    Ok(())
}
