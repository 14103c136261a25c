//! The one `faro` binary: every Faro process and every client command.
//!
//! Each subcommand maps to a part of the map in `docs/architecture.md`.
//! A subcommand whose part is not built yet says so in one line and exits
//! with status 2, so scripts can tell "not there yet" from a failed run.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Faro: a shuffle-centric batch and stream dataflow engine.
#[derive(Parser, Debug)]
#[command(name = "faro", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a standalone shuffle service node.
    ShuffleService,
    /// Run the scheduler and its REST API.
    Scheduler,
    /// Run a worker that executes tasks in its slots.
    Worker,
    /// Run scheduler, worker and shuffle service in one process and keep serving.
    Local,
    /// Run one job on an embedded cluster and print its result.
    Run {
        /// The job spec (JSON or YAML).
        job: String,
    },
    /// Submit a job spec to a scheduler.
    Submit {
        /// The job spec (JSON or YAML).
        job: String,
    },
    /// List the scheduler's jobs.
    Jobs,
    /// Show one job's status.
    Status {
        /// The job id.
        id: String,
    },
    /// Cancel a job.
    Cancel {
        /// The job id.
        id: String,
    },
}

impl Command {
    /// The part of Faro that serves this command, while it is not built yet.
    fn missing_part(&self) -> &'static str {
        match self {
            Command::ShuffleService => "the shuffle service",
            Command::Scheduler
            | Command::Submit { .. }
            | Command::Jobs
            | Command::Status { .. }
            | Command::Cancel { .. } => "the scheduler and its REST API",
            Command::Worker => "the worker runtime",
            Command::Local | Command::Run { .. } => "the embedded cluster",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "faro: {} is not built yet in this version",
        cli.command.missing_part()
    );
    ExitCode::from(2)
}
