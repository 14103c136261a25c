//! One module per `faro` subcommand that is built.

pub mod client;
pub mod cluster_config;
pub mod completions;
pub mod identity;
pub mod job_access;
pub mod live_rows;
pub mod local;
pub mod output;
pub mod progress;
pub mod run;
pub mod run_ui;
pub mod scheduler;
pub mod shuffle_service;
pub mod sql;
pub mod status_view;
pub mod worker;

/// Slots for an embedded worker: as asked, or one per core.
pub fn slots_or_cores(slots: Option<usize>) -> usize {
    slots.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
}

/// Reads and parses a job spec file (JSON or YAML).
pub fn load_spec(path: &std::path::Path) -> anyhow::Result<faro_runtime::spec::JobSpec> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::exit::Status::usage(format!("reading the job spec {}: {e}", path.display()))
    })?;
    faro_runtime::spec::JobSpec::parse(&text).with_context(|| format!("in {}", path.display()))
}
