//! `faro-bench`: Faro's benchmark runner. This file owns only the command
//! line: it parses arguments and dispatches to the benchmark modules.

mod batch;
mod checkpoint;
mod nexmark;
mod nexmark_gen;
mod nexmark_queries;
mod nexmark_steady;
mod rusage;
mod shuffle;
mod sort;
mod sql_planning;
mod transport;

use clap::{Parser, Subcommand};

/// Faro's data generators and benchmark runner.
#[derive(Debug, Parser)]
#[command(name = "faro-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The benchmarks this binary runs.
#[derive(Debug, Subcommand)]
enum Command {
    /// Building, archiving and validated in-place access of columnar
    /// batches shaped like Nexmark bids.
    Batch(batch::BatchArgs),
    /// Full against incremental checkpoints of a continuous aggregate
    /// over millions of keys: snapshot, write and restore.
    Checkpoint(checkpoint::CheckpointArgs),
    /// The Nexmark events Faro's `nexmark` source generates, as JSON
    /// lines in the suite's nested person/auction/bid shape, for other
    /// engines to read the same input.
    NexmarkGen(nexmark_gen::NexmarkGenArgs),
    /// One Nexmark query of `bench/nexmark` on a fresh embedded cluster:
    /// events/s, CPU seconds, output rows, peak RSS, as a JSON line.
    Nexmark(nexmark_queries::NexmarkArgs),
    /// One Nexmark query at a steady event rate for a long while, with
    /// checkpoints: memory, checkpoint sizes and event-time-to-emit
    /// latency sampled as it runs.
    NexmarkSteady(nexmark_steady::SteadyArgs),
    /// Push, commit, fetch and verify against running shuffle nodes.
    Shuffle(shuffle::ShuffleArgs),
    /// Write a throw-away TLS identity (cert.pem, key.pem, ca.pem) and a
    /// cluster secret into a directory, for local benchmark clusters.
    Identity {
        /// Where to write the files.
        #[arg(long)]
        dir: std::path::PathBuf,
    },
    /// How long SQL scripts take to parse and plan into job specs.
    SqlPlanning(sql_planning::SqlPlanningArgs),
    /// The `sort` operator over far more rows than its memory budget:
    /// hundreds of spilled runs, merged.
    Sort(sort::SortArgs),
    /// Throughput between two processes over one QUIC connection on
    /// loopback: Faro's credit-based channels against raw quinn.
    Transport(transport::TransportArgs),
    /// The receiving process of the transport benchmark (spawned by
    /// `transport`, not meant to be run by hand).
    #[command(hide = true)]
    TransportReceiver(transport::ReceiverArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Batch(args) => batch::run(&args),
        Command::Checkpoint(args) => checkpoint::run(&args),
        Command::Nexmark(args) => nexmark_queries::run(&args),
        Command::NexmarkGen(args) => nexmark_gen::run(&args),
        Command::NexmarkSteady(args) => nexmark_steady::run(&args),
        Command::Shuffle(args) => shuffle::run(&args),
        Command::Sort(args) => sort::run(&args),
        Command::SqlPlanning(args) => sql_planning::run(&args),
        Command::Identity { dir } => shuffle::write_identity(&dir),
        Command::Transport(args) => transport::run(&args),
        Command::TransportReceiver(args) => transport::run_receiver(&args),
    }
}
