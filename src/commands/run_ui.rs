//! `faro run JOB --ui`: the job runs on the embedded cluster behind the
//! scheduler, whose REST API and web UI serve while it runs — and after it
//! ends, until Ctrl-C, so a person can look at what happened (a failure
//! most of all). The result is printed as `faro run` prints it; a
//! streaming job's rows once it is stopped, not as they come.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use faro_runtime::spec::JobSpec;
use faro_scheduler::auth::ApiAccess;
use faro_scheduler::jobs::JobState;
use faro_scheduler::service::SchedulerConfig;

use super::shuffle_service::shutdown_signal;
use crate::exit::Status;

/// Runs `spec` with the UI on `listen`; the job's failure is the error.
pub fn run(
    spec: JobSpec,
    listen: SocketAddr,
    slots: usize,
    access: faro_runtime::access::AccessPolicy,
    json: bool,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // The UI reads the API with no token: it listens on loopback, or
        // where the user asked it to (their choice, as with `faro local
        // --insecure-no-auth`).
        let served = super::local::serve(
            listen,
            None,
            slots,
            access,
            ApiAccess::Open,
            SchedulerConfig::default(),
        )?;
        let scheduler = served.scheduler.clone();
        let started = Instant::now();
        let id = scheduler.submit(spec).context("submitting the job")?;
        eprintln!(
            "faro run: the web UI is on http://{}/#/jobs/{id}",
            served.address
        );
        let mut interrupted = false;
        let state = tokio::select! {
            state = ended(&scheduler, &id) => state?,
            stop = shutdown_signal() => {
                stop?;
                scheduler.cancel(&id)?;
                interrupted = true;
                JobState::Cancelled
            }
        };
        let job = scheduler.job(&id)?;
        let elapsed = started.elapsed().as_secs_f64();
        if let Some(result) = scheduler.result(&id)? {
            let result = serde_json::to_value(result)?;
            super::client::print_rows(&result, json);
        }
        let outcome = match state {
            JobState::Finished => Ok(()),
            _ if interrupted => Err(Status::interrupted(format!("job {id} stopped")).into()),
            _ => Err(Status::job_failed(format!(
                "job {id} {}: {}",
                serde_json::to_value(state)?.as_str().unwrap_or_default(),
                job.error.as_deref().unwrap_or("no reason given")
            ))
            .into()),
        };
        if interrupted {
            // Ctrl-C while it ran: the user wants out, not the UI.
            return outcome;
        }
        eprintln!(
            "job {:?} {} after {elapsed:.2} s; the web UI stays up at http://{}/ until Ctrl-C",
            job.name,
            serde_json::to_value(state)?.as_str().unwrap_or_default(),
            served.address
        );
        shutdown_signal().await?;
        outcome
    })
}

/// Waits for job `id` to end; its final state.
async fn ended(scheduler: &faro_scheduler::Scheduler, id: &str) -> anyhow::Result<JobState> {
    loop {
        let state = scheduler.job(id)?.state;
        if state.is_terminal() {
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
