//! `faro-bench checkpoint`: full against incremental checkpoints of large
//! keyed state — a continuous aggregate, or (`--window`) an open one-day
//! window (a count and a sum per key over millions of keys) — through the
//! path a task takes — the operator's snapshot in key
//! group parts, the task's part bookkeeping, the state and parts files
//! written through the checkpoint store — and the restore that reads
//! them back across checkpoints. Each round first changes `touched` keys
//! drawn at random, then takes an incremental checkpoint; a full one of
//! the same state is taken beside it for comparison. Input generation is
//! not timed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use faro_runtime::checkpoint::increments::{Increments, LaidOut};
use faro_runtime::checkpoint::reading::read_task_state;
use faro_runtime::checkpoint::{CheckpointStorage, TaskState};
use faro_runtime::operator::{Operator, OperatorContext, Rows};
use faro_runtime::operators::aggregate::{
    AggregateFunction, AggregateParams, AggregateSpec, ContinuousAggregate,
};
use faro_runtime::operators::window::{WindowAggregate, WindowKind, WindowParams};
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value};

use crate::nexmark::mix;

/// Arguments of `faro-bench checkpoint`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// Keys (groups) in the aggregate's state.
    #[arg(long, default_value_t = 2_000_000)]
    keys: usize,
    /// Keys changed before each incremental checkpoint; one round per
    /// value.
    #[arg(long, value_delimiter = ',', default_value = "100,10000,100000")]
    touched: Vec<usize>,
    /// Where the checkpoints go (default: a fresh temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the state in an open one-day tumbling window instead of a
    /// continuous aggregate.
    #[arg(long)]
    window: bool,
    /// With `--window`: only time taking the keys in, with the window
    /// tracking its changes (as in a checkpointed job) and without.
    #[arg(long)]
    ingest_only: bool,
}

const JOB: &str = "bench";

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("ts", DataType::Timestamp),
        Field::new("k", DataType::Int64),
        Field::new("v", DataType::Int64),
    ])
}

/// The operator holding the state, unopened.
fn subject(window: bool) -> anyhow::Result<Box<dyn Operator>> {
    subject_tracking(window, true)
}

/// The operator holding the state, unopened; a window tracks its
/// changes if `tracking`.
fn subject_tracking(window: bool, tracking: bool) -> anyhow::Result<Box<dyn Operator>> {
    if !window {
        return Ok(Box::new(ContinuousAggregate::new(&params(), &schema())?));
    }
    let aggregate = params();
    let params = WindowParams {
        time: Some("ts".into()),
        processing_time: false,
        window: WindowKind::Tumbling {
            size_ms: 86_400_000,
        },
        offset_ms: 0,
        group_by: aggregate.group_by,
        aggregates: aggregate.aggregates,
        allowed_lateness_ms: 0,
        memory_bytes: None,
    };
    let windows = WindowAggregate::new(&params, &schema())?;
    Ok(match tracking {
        true => Box::new(windows.incremental()),
        false => Box::new(windows),
    })
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
            spec("n", AggregateFunction::Count, None),
            spec("total", AggregateFunction::Sum, Some("v")),
        ],
        memory_bytes: None,
    }
}

fn batch(keys: &[i64]) -> anyhow::Result<Batch> {
    let mut builder = BatchBuilder::new(schema(), keys.len());
    for &k in keys {
        builder.push_row(&[
            Value::Timestamp(1_000),
            Value::Int64(k),
            Value::Int64(k & 1023),
        ])?;
    }
    Ok(builder.finish()?)
}

/// Where the operator runs: one subtask, spilling under `spill`.
fn context(spill: &std::path::Path) -> OperatorContext {
    OperatorContext {
        vertex: "state".into(),
        subtask: 0,
        parallelism: 1,
        attempt: 0,
        spill_dir: spill.to_path_buf(),
        access: std::sync::Arc::new(faro_runtime::access::AccessPolicy::deny_all()),
    }
}

fn feed(operator: &mut dyn Operator, keys: &[i64]) -> anyhow::Result<()> {
    for chunk in keys.chunks(65_536) {
        let mut out: Vec<Batch> = Vec::new();
        operator.process(0, &Rows::of_batch(&batch(chunk)?), &mut out)?;
    }
    Ok(())
}

/// One checkpoint taken and written: its timings and bytes.
struct Taken {
    snapshot: Duration,
    write: Duration,
    bytes: usize,
}

async fn take(
    operator: &mut dyn Operator,
    increments: &mut Increments,
    storage: &CheckpointStorage,
    checkpoint: u64,
    since: Option<u64>,
) -> anyhow::Result<Taken> {
    let started = Instant::now();
    let snapshot = operator
        .snapshot_parts(checkpoint, since)?
        .context("the aggregate keeps state")?;
    let laid_out: LaidOut = increments
        .lay_out(checkpoint, since, vec![(1, snapshot)])
        .map_err(anyhow::Error::msg)?;
    let state = TaskState {
        slots: 2,
        blobs: laid_out.whole,
        manifests: laid_out.manifests,
        in_flight: None,
    }
    .encode();
    let snapshot = started.elapsed();
    let started = Instant::now();
    let bytes = state.len() + laid_out.parts_file.len();
    storage
        .write(
            &CheckpointStorage::parts_path(JOB, checkpoint, 0, 0)?,
            laid_out.parts_file,
        )
        .await?;
    storage
        .write(&CheckpointStorage::task_path(JOB, checkpoint, 0, 0)?, state)
        .await?;
    Ok(Taken {
        snapshot,
        write: started.elapsed(),
        bytes,
    })
}

/// Reads checkpoint `checkpoint` back and restores a fresh operator.
async fn restore(root: &str, checkpoint: u64, window: bool) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let dir = format!(
        "{root}/{}",
        CheckpointStorage::checkpoint_dir(JOB, checkpoint)?
    );
    let read = read_task_state(&dir, &CheckpointStorage::task_file(0, 0))
        .await
        .map_err(anyhow::Error::msg)?;
    let mut operator = subject(window)?;
    operator.restore_state(read.state.blobs.get(&1).context("no state")?)?;
    Ok((started.elapsed(), read.bytes))
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn mb(bytes: usize) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// Runs the benchmark and prints one line per checkpoint.
pub fn run(args: &CheckpointArgs) -> anyhow::Result<()> {
    ensure!(args.keys > 0, "--keys must be positive");
    if args.ingest_only {
        return ingest(args);
    }
    let temp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or(temp.path().to_path_buf());
    let root = root
        .to_str()
        .context("a directory named in UTF-8")?
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let storage = CheckpointStorage::new(&root)?;
    let mut operator = subject(args.window)?;
    let operator = operator.as_mut();
    let temp_spill = tempfile::tempdir()?;
    operator.open(&context(temp_spill.path()))?;
    let keys: Vec<i64> = (0..args.keys as i64).collect();
    feed(operator, &keys)?;
    let held = if args.window {
        "an open window"
    } else {
        "a continuous aggregate"
    };
    println!("{} keys in {held}; checkpoints under {root}", args.keys);
    println!("| checkpoint | keys changed | kind | snapshot (on the loop) | write | bytes | restore (read + rebuild) |");
    println!("|---|---|---|---|---|---|---|");
    let mut increments = Increments::default();
    let mut full = Increments::default();
    let mut checkpoint = 1;
    let first = runtime.block_on(take(operator, &mut increments, &storage, 1, None))?;
    increments.completed(1);
    let (restored, _) = runtime.block_on(restore(&root, 1, args.window))?;
    print_row(checkpoint, 0, "full", &first, restored);
    let mut seed = 7;
    for &touched in &args.touched {
        let changed: Vec<i64> = (0..touched)
            .map(|_| {
                seed = mix(seed);
                (seed % args.keys as u64) as i64
            })
            .collect();
        feed(operator, &changed)?;
        checkpoint += 1;
        let since = increments.since();
        let taken =
            runtime.block_on(take(operator, &mut increments, &storage, checkpoint, since))?;
        increments.completed(checkpoint);
        let (restored, _) = runtime.block_on(restore(&root, checkpoint, args.window))?;
        let kind = if since.is_some() {
            "incremental"
        } else {
            "full (rebased)"
        };
        print_row(checkpoint, touched, kind, &taken, restored);
        // The same state, written whole, beside it.
        checkpoint += 1;
        let whole = runtime.block_on(take(operator, &mut full, &storage, checkpoint, None))?;
        let (restored, _) = runtime.block_on(restore(&root, checkpoint, args.window))?;
        print_row(checkpoint, touched, "full", &whole, restored);
    }
    Ok(())
}

/// Times taking `--keys` keys into a window, tracking and not, three
/// times each, alternated.
fn ingest(args: &CheckpointArgs) -> anyhow::Result<()> {
    let keys: Vec<i64> = (0..args.keys as i64).collect();
    let spill = tempfile::tempdir()?;
    for round in 0..3 {
        for tracking in [false, true] {
            let mut operator = subject_tracking(true, tracking)?;
            operator.open(&context(spill.path()))?;
            let started = Instant::now();
            feed(operator.as_mut(), &keys)?;
            println!(
                "round {round}: {} keys into a window, tracking {tracking}: {}",
                args.keys,
                ms(started.elapsed())
            );
        }
    }
    Ok(())
}

fn print_row(checkpoint: u64, touched: usize, kind: &str, taken: &Taken, restored: Duration) {
    println!(
        "| {checkpoint} | {touched} | {kind} | {} | {} | {} | {} |",
        ms(taken.snapshot),
        ms(taken.write),
        mb(taken.bytes),
        ms(restored)
    );
}
