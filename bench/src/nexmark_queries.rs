//! `faro-bench nexmark`: one Nexmark query of `bench/nexmark` (its
//! `qN.sql` after the shared `tables.sql`) planned by `faro-sql` and run
//! on a fresh embedded cluster, timed; prints one JSON line.
//!
//! The query's `${EVENTS}` is `--events`; `${SIDE_INPUT}` (Q13) is a CSV
//! file of 10,000 keys written to a temporary directory. Events/s counts
//! every generated event (people, auctions and bids), as the suite does;
//! per core divides by the cores this process could use. A checkpointed
//! run also reports the checkpoints completed, the largest and the
//! slowest. Peak RSS is
//! this process's (`ru_maxrss`): run one query per process, as
//! `bench/nexmark.sh` does.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use faro_runtime::access::AccessPolicy;
use faro_runtime::spec::{validate, JobSpec};
use faro_scheduler::Embedded;
use faro_sql::{Outcome, Session};

use crate::rusage::Meter;

/// Options of `faro-bench nexmark`.
#[derive(Debug, clap::Args)]
pub struct NexmarkArgs {
    /// The query: q0 … q23.
    #[arg(long)]
    query: String,
    /// Events generated (people, auctions and bids together).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Subtasks per vertex (and slots of the embedded worker).
    #[arg(long, default_value_t = 2)]
    parallelism: u32,
    /// `streaming` or `batch`.
    #[arg(long, default_value = "streaming")]
    mode: String,
    /// Checkpoint every this many milliseconds (streaming only).
    #[arg(long)]
    checkpoint_ms: Option<u64>,
    /// Where the queries are.
    #[arg(long, default_value = "bench/nexmark")]
    queries: PathBuf,
}

/// The script `faro-bench nexmark` runs for `args`, with the side input
/// at `side_input`.
fn script(args: &NexmarkArgs, side_input: &Path) -> Result<String> {
    let settings = Settings {
        queries: &args.queries,
        query: &args.query,
        mode: &args.mode,
        parallelism: args.parallelism,
        checkpoint_ms: args.checkpoint_ms,
        events: args.events,
        table_options: "",
    };
    settings.script(side_input)
}

/// What a Nexmark script is made of.
pub(crate) struct Settings<'a> {
    /// Where the queries are.
    pub queries: &'a Path,
    /// The query: q0 … q23.
    pub query: &'a str,
    /// `streaming` or `batch`.
    pub mode: &'a str,
    /// Subtasks per vertex.
    pub parallelism: u32,
    /// Checkpoint interval, if any.
    pub checkpoint_ms: Option<u64>,
    /// Events over all three tables.
    pub events: u64,
    /// More options of every `nexmark` table (`, 'key' = 'value'`…).
    pub table_options: &'a str,
}

impl Settings<'_> {
    /// `tables.sql` and `qN.sql` after the settings, filled in, with
    /// Q13's side input at `side_input`.
    pub(crate) fn script(&self, side_input: &Path) -> Result<String> {
        let read = |name: &str| {
            let path = self.queries.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let mut text = format!(
            "SET 'execution.runtime-mode' = '{}';\nSET 'parallelism.default' = '{}';\n",
            self.mode, self.parallelism
        );
        if let Some(ms) = self.checkpoint_ms {
            text.push_str(&format!(
                "SET 'execution.checkpointing.interval' = '{ms} ms';\n"
            ));
        }
        text.push_str(&read("tables.sql")?);
        text.push_str(&read(&format!("{}.sql", self.query))?);
        let events = format!("'events' = '{}'{}", self.events, self.table_options);
        Ok(text
            .replace("'events' = '${EVENTS}'", &events)
            .replace("${SIDE_INPUT}", &side_input.display().to_string()))
    }
}

/// Q13's side table: keys 0..10,000, each with a short text value.
pub(crate) fn write_side_input(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("side_input.csv");
    let mut text = String::from("key,value\n");
    for key in 0..10_000 {
        text.push_str(&format!("{key},side-{}\n", key * 7 % 1000));
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The job `text` (a Nexmark script for `query`) plans, its last.
pub(crate) fn planned_job(text: &str, parallelism: u32, query: &str) -> Result<JobSpec> {
    let outcomes = Session::new(parallelism)
        .execute(text)
        .map_err(|error| anyhow::anyhow!("{}", error.pointed(text)))?;
    match outcomes
        .into_iter()
        .rev()
        .find(|o| matches!(o, Outcome::Job(_)))
    {
        Some(Outcome::Job(job)) => Ok(job.spec),
        _ => bail!("{query} plans no job"),
    }
}

/// Runs one query and prints its JSON line.
pub fn run(args: &NexmarkArgs) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let side_input = write_side_input(dir.path())?;
    let text = script(args, &side_input)?;
    let spec = planned_job(&text, args.parallelism, &args.query)?;
    let valid = validate(&spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let access = AccessPolicy::new(&[dir.path().to_path_buf()], &[])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _context = runtime.enter();
    // Slots are logical; every task of a streaming job runs at once.
    let cluster = Embedded::start(64, None, access)?;
    let meter = Meter::start()?;
    let output = runtime
        .block_on(cluster.run(&args.query, &valid))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.query))?;
    let took = meter.stop()?;
    let rows: u64 = output.reports.iter().map(|r| r.rows_sunk).sum();
    let seconds = took.wall.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let rate = args.events as f64 / seconds;
    println!(
        "{{\"query\":\"{}\",\"mode\":\"{}\",\"parallelism\":{},\"checkpoint_ms\":{},\
         \"events\":{},\"seconds\":{:.3},\"events_per_second\":{:.0},\
         \"events_per_second_per_core\":{:.0},\"cpu_seconds\":{:.3},\"output_rows\":{},\
         \"peak_rss_mb\":{:.1},\"checkpoints\":{},\"checkpoint_bytes_max\":{},\
         \"checkpoint_ms_max\":{}}}",
        args.query,
        args.mode,
        args.parallelism,
        args.checkpoint_ms
            .map_or("null".into(), |ms| ms.to_string()),
        args.events,
        seconds,
        rate,
        rate / cores,
        took.cpu.as_secs_f64(),
        rows,
        crate::rusage::peak_rss_bytes()? as f64 / (1 << 20) as f64,
        output.checkpoints.len(),
        output
            .checkpoints
            .iter()
            .map(|c| c.bytes)
            .max()
            .unwrap_or(0),
        output
            .checkpoints
            .iter()
            .map(|c| c.duration_ms)
            .max()
            .unwrap_or(0),
    );
    Ok(())
}
