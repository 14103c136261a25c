//! The access flags of the commands that run jobs on an embedded worker
//! (`faro run`, `faro local`): which directories jobs may read and write,
//! and which Kafka brokers they may reach. Without flags, the current
//! directory and the temp directory, for both, and any broker on this
//! machine's loopback — the working set of someone running jobs on their
//! own machine. A worker process takes the same flags, but allows nothing
//! until given some (see `faro worker`).

use std::path::PathBuf;

use anyhow::Context;
use faro_runtime::access::AccessPolicy;

/// `--allow-read`, `--allow-write` and `--allow-kafka`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct JobAccessArgs {
    /// A directory jobs may read under (repeat for more) [default: the
    /// current directory and the temp directory].
    #[arg(long = "allow-read", value_name = "DIR")]
    allow_read: Vec<PathBuf>,
    /// A directory jobs may write under (repeat for more) [default: the
    /// current directory and the temp directory].
    #[arg(long = "allow-write", value_name = "DIR")]
    allow_write: Vec<PathBuf>,
    /// A Kafka broker jobs may connect to, as they name it (repeat for
    /// more); brokers on this machine's loopback are always allowed.
    #[arg(long = "allow-kafka", value_name = "HOST:PORT")]
    allow_kafka: Vec<String>,
}

impl JobAccessArgs {
    /// The policy these flags ask for.
    pub fn policy(&self) -> anyhow::Result<AccessPolicy> {
        let defaults = || -> anyhow::Result<Vec<PathBuf>> {
            Ok(vec![
                std::env::current_dir().context("the current directory")?,
                std::env::temp_dir(),
            ])
        };
        let read = match self.allow_read.is_empty() {
            true => defaults()?,
            false => self.allow_read.clone(),
        };
        let write = match self.allow_write.is_empty() {
            true => defaults()?,
            false => self.allow_write.clone(),
        };
        Ok(policy(&read, &write)?.with_kafka(self.allow_kafka.clone(), true))
    }
}

/// The policy of `read` and `write` roots, each of which must exist.
pub fn policy(read: &[PathBuf], write: &[PathBuf]) -> anyhow::Result<AccessPolicy> {
    AccessPolicy::new(read, write).context("an --allow-read or --allow-write directory")
}
