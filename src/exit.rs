//! How `faro` ends, for scripts that run it: the exit status names the
//! kind of failure (the README's table):
//!
//! | status | when |
//! |---|---|
//! | 0 | success: the job finished, the command did what it was asked |
//! | 1 | the job failed, or the command could not do its work (a scheduler unreachable, a file unwritable) |
//! | 2 | bad usage or a bad spec: a wrong flag, a spec that does not parse or validate, a request the scheduler refused as malformed |
//! | 130 | interrupted: Ctrl-C stopped the job |
//!
//! The kind travels in the error's chain, as a [`Status`] or as the
//! runtime's own `SpecError`, so the code that fails need not know about
//! exit codes and `main` need not guess from messages.

use faro_runtime::spec::SpecError;

/// The exit status of success.
pub const SUCCESS: u8 = 0;
/// The exit status of a failed job or command.
pub const FAILED: u8 = 1;
/// The exit status of bad usage or a bad spec (clap's own, too).
pub const USAGE: u8 = 2;
/// The exit status of an interrupted run (128 + SIGINT, as shells say).
pub const INTERRUPTED: u8 = 130;

/// A failure whose kind decides the exit status.
#[derive(Debug)]
pub struct Status {
    code: u8,
    message: String,
}

impl Status {
    /// Bad usage or a bad spec.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: USAGE,
            message: message.into(),
        }
    }

    /// The job failed.
    pub fn job_failed(message: impl Into<String>) -> Self {
        Self {
            code: FAILED,
            message: message.into(),
        }
    }

    /// Ctrl-C stopped it.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self {
            code: INTERRUPTED,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Status {}

/// The exit status `error` calls for: the first kind found in its chain,
/// else [`FAILED`].
pub fn code_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(status) = cause.downcast_ref::<Status>() {
            return status.code;
        }
        if cause.downcast_ref::<SpecError>().is_some() {
            return USAGE;
        }
    }
    FAILED
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_kind_is_found_under_the_context_added_above_it() {
        let spec: anyhow::Result<()> =
            Err(SpecError::Malformed("no vertices".into())).context("in job.yaml");
        assert_eq!(code_of(&spec.unwrap_err()), USAGE);
        let failed: anyhow::Result<()> = Err(Status::job_failed("task 0 failed").into());
        let failed = failed.context("job \"x\"").unwrap_err();
        assert_eq!(code_of(&failed), FAILED);
        assert_eq!(format!("{failed:#}"), "job \"x\": task 0 failed");
        let stopped = anyhow::Error::from(Status::interrupted("stopped"));
        assert_eq!(code_of(&stopped), INTERRUPTED);
        assert_eq!(code_of(&anyhow::anyhow!("connection refused")), FAILED);
    }
}
