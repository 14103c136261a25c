//! The one `faro` binary: every Faro process and every client command.
//!
//! Each subcommand maps to a part of the map in `docs/architecture.md`.

mod commands;
mod exit;
mod memory;
mod metrics_http;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Faro: a shuffle-centric batch and stream dataflow engine.
#[derive(Parser, Debug)]
#[command(
    name = "faro",
    version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("FARO_GIT_REVISION"), ")"),
    about
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How logs are written to stderr: for people (text) or for log
    /// collectors (json, one object per line, with the task span's job,
    /// vertex, subtask and attempt).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a cluster identity: CA, certificate, key and cluster secret.
    Identity(commands::identity::IdentityArgs),
    /// Run a standalone shuffle service node.
    ShuffleService(Box<commands::shuffle_service::ShuffleServiceArgs>),
    /// Run the scheduler and its REST API.
    Scheduler(Box<commands::scheduler::SchedulerArgs>),
    /// Run a worker that executes tasks in its slots.
    Worker(Box<commands::worker::WorkerArgs>),
    /// Run scheduler, worker and shuffle service in one process and keep serving.
    Local(commands::local::LocalArgs),
    /// Run one job on an embedded cluster and print its result.
    Run(commands::run::RunArgs),
    /// Submit a job spec to a scheduler.
    Submit(commands::client::SubmitArgs),
    /// List the scheduler's jobs.
    Jobs(commands::client::JobsArgs),
    /// Show one job's status: a summary, or the whole record with --json.
    Status(commands::client::StatusArgs),
    /// Cancel a job.
    Cancel(commands::client::JobArgs),
    /// Take a savepoint of a checkpointed job (and stop it with --stop).
    Savepoint(commands::client::SavepointArgs),
    /// Run SQL: from -e, a file (-f) or an interactive prompt.
    Sql(commands::sql::SqlArgs),
    /// Print a shell completion script: `faro completions bash > /etc/bash_completion.d/faro`.
    Completions(commands::completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Operators of crates above the runtime, for every process that
    // validates specs (scheduler, `faro run`, `faro local`) or runs them.
    faro_ml::register();
    // Long-running processes log their life; one-shot commands only
    // errors — a failure is said once, in the one line `main` prints — and
    // RUST_LOG asks for more.
    let one_shot = matches!(
        cli.command,
        Command::Run(_)
            | Command::Identity(_)
            | Command::Submit(_)
            | Command::Jobs(_)
            | Command::Status(_)
            | Command::Cancel(_)
            | Command::Savepoint(_)
            | Command::Sql(_)
            | Command::Completions(_)
    );
    let default_level = if one_shot { "error" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_level.into());
    // Colour only for a person at a terminal: a log file or a pipe would
    // get escape codes.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    if !one_shot {
        memory::return_freed_memory_periodically();
    }
    let result = match &cli.command {
        Command::Identity(args) => commands::identity::run(args),
        Command::ShuffleService(args) => commands::shuffle_service::run(args),
        Command::Scheduler(args) => commands::scheduler::run(args),
        Command::Worker(args) => commands::worker::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Local(args) => commands::local::run(args),
        Command::Submit(args) => commands::client::submit(args),
        Command::Jobs(args) => commands::client::jobs(args),
        Command::Status(args) => commands::client::status(args),
        Command::Cancel(args) => commands::client::cancel(args),
        Command::Savepoint(args) => commands::client::savepoint(args),
        Command::Sql(args) => commands::sql::run(args),
        Command::Completions(args) => {
            commands::completions::print(args, &mut <Cli as clap::CommandFactory>::command())
        }
    };
    match result {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(error) => {
            // Errors quote what users and jobs wrote (names, values).
            eprintln!(
                "faro: {}",
                commands::run::printable_lines(&format!("{error:#}"))
            );
            ExitCode::from(exit::code_of(&error))
        }
    }
}
