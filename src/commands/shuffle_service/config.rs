//! The shuffle node's settings: from `--config FILE` (TOML), overridden by
//! command-line flags, checked as a whole before anything starts, so a bad
//! deployment fails at once with the name of the setting that is wrong.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use faro_shuffle::storage::{Durability, IoPreference};
use faro_shuffle::tier::TierConfig;
use serde::Deserialize;

/// `--io` values and the `io` setting.
#[derive(clap::ValueEnum, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IoChoice {
    /// io_uring when the kernel allows it, else `write(2)`.
    #[default]
    Auto,
    /// io_uring or fail.
    Uring,
    /// Plain `write(2)`.
    Std,
}

impl From<IoChoice> for IoPreference {
    fn from(choice: IoChoice) -> Self {
        match choice {
            IoChoice::Auto => IoPreference::Auto,
            IoChoice::Uring => IoPreference::Uring,
            IoChoice::Std => IoPreference::Std,
        }
    }
}

/// `--durability` values and the `durability` setting: what a commit
/// waits for before a map attempt's output is visible.
#[derive(clap::ValueEnum, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityChoice {
    /// Handed to the kernel, not synced: survives the service being
    /// killed, not the machine failing (Spark's and Celeborn's promise).
    #[default]
    Written,
    /// Synced to disk (`fdatasync`): survives the machine failing too.
    Synced,
    /// Held in memory (within `memory_budget_mb`, on disk beyond it), not
    /// logged: survives nothing but the service running on; its producers
    /// re-run when it restarts.
    Memory,
}

impl From<DurabilityChoice> for Durability {
    fn from(choice: DurabilityChoice) -> Self {
        match choice {
            DurabilityChoice::Written => Durability::Written,
            DurabilityChoice::Synced => Durability::Synced,
            DurabilityChoice::Memory => Durability::Memory,
        }
    }
}

/// The memory tier's default budget: what `durability = "memory"` holds
/// in memory before writing to disk.
pub const DEFAULT_MEMORY_BUDGET_MB: u64 = 2048;

/// The config file: every setting optional, unknown keys refused.
#[derive(Deserialize, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See [`NodeConfig::listen`].
    pub listen: Option<SocketAddr>,
    /// See [`NodeConfig::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`NodeConfig::metrics`].
    pub metrics: Option<SocketAddr>,
    /// See [`NodeConfig::cert`].
    pub cert: Option<PathBuf>,
    /// See [`NodeConfig::key`].
    pub key: Option<PathBuf>,
    /// See [`NodeConfig::ca`].
    pub ca: Option<PathBuf>,
    /// See [`NodeConfig::secret_file`].
    pub secret_file: Option<PathBuf>,
    /// See [`NodeConfig::loopback`].
    pub loopback: Option<bool>,
    /// See [`NodeConfig::io`].
    pub io: Option<IoChoice>,
    /// See [`NodeConfig::durability`].
    pub durability: Option<DurabilityChoice>,
    /// See [`NodeConfig::memory_budget_mb`].
    pub memory_budget_mb: Option<u64>,
    /// See [`NodeConfig::job_ttl_secs`].
    pub job_ttl_secs: Option<u64>,
    /// See [`NodeConfig::tier`].
    pub tier: Option<TierConfig>,
}

impl FileConfig {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }
}

/// Every setting of a node, resolved.
#[derive(Debug, PartialEq)]
pub struct NodeConfig {
    /// UDP address to serve QUIC on.
    pub listen: SocketAddr,
    /// Directory of partition files and commit logs.
    pub data_dir: PathBuf,
    /// Address of the HTTP server for `/metrics` and `/healthz`, if any.
    pub metrics: Option<SocketAddr>,
    /// This node's certificate chain (PEM).
    pub cert: PathBuf,
    /// This node's private key (PEM).
    pub key: PathBuf,
    /// The cluster CA (PEM).
    pub ca: PathBuf,
    /// File holding the cluster secret.
    pub secret_file: PathBuf,
    /// Loopback transport tuning.
    pub loopback: bool,
    /// Write path.
    pub io: IoChoice,
    /// What a commit waits for.
    pub durability: DurabilityChoice,
    /// MiB of frames the memory tier holds (for `durability = "memory"`).
    pub memory_budget_mb: u64,
    /// Seconds without a heartbeat before a job's data is deleted.
    pub job_ttl_secs: u64,
    /// Object-store tier, if any.
    pub tier: Option<TierConfig>,
}

/// The default QUIC address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:7077";

impl NodeConfig {
    /// Merges flags (`flags`, all optional) over the file, over defaults.
    pub fn resolve(flags: FileConfig, file: FileConfig) -> anyhow::Result<Self> {
        fn required<T>(flag: Option<T>, file: Option<T>, name: &str) -> anyhow::Result<T> {
            flag.or(file).with_context(|| {
                format!(
                    "missing --{} (or `{name}` in the config file)",
                    name.replace('_', "-")
                )
            })
        }
        let listen = match flags.listen.or(file.listen) {
            Some(listen) => listen,
            None => DEFAULT_LISTEN.parse()?,
        };
        let job_ttl_secs = flags.job_ttl_secs.or(file.job_ttl_secs).unwrap_or(1800);
        anyhow::ensure!(job_ttl_secs > 0, "job_ttl_secs must be at least 1");
        Ok(Self {
            listen,
            data_dir: required(flags.data_dir, file.data_dir, "data_dir")?,
            metrics: flags.metrics.or(file.metrics),
            cert: required(flags.cert, file.cert, "cert")?,
            key: required(flags.key, file.key, "key")?,
            ca: required(flags.ca, file.ca, "ca")?,
            secret_file: required(flags.secret_file, file.secret_file, "secret_file")?,
            loopback: flags.loopback.or(file.loopback).unwrap_or(false),
            io: flags.io.or(file.io).unwrap_or_default(),
            durability: flags.durability.or(file.durability).unwrap_or_default(),
            memory_budget_mb: (flags.memory_budget_mb)
                .or(file.memory_budget_mb)
                .unwrap_or(DEFAULT_MEMORY_BUDGET_MB),
            job_ttl_secs,
            tier: flags.tier.or(file.tier),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        listen = "127.0.0.1:7100"
        data_dir = "/var/lib/faro"
        metrics = "127.0.0.1:9100"
        cert = "n.crt"
        key = "n.key"
        ca = "ca.crt"
        secret_file = "secret"
        io = "std"
        durability = "synced"
        job_ttl_secs = 60

        [tier]
        scheme = "fs"
        options = { root = "/mnt/tier" }
    "#;

    #[test]
    fn a_full_file_resolves_and_flags_win() {
        let flags = FileConfig {
            io: Some(IoChoice::Uring),
            ..FileConfig::default()
        };
        let config = NodeConfig::resolve(flags, FileConfig::parse(FULL).unwrap()).unwrap();
        assert_eq!(config.io, IoChoice::Uring);
        assert_eq!(config.durability, DurabilityChoice::Synced);
        assert_eq!(
            config.listen,
            "127.0.0.1:7100".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(config.job_ttl_secs, 60);
        let tier = config.tier.unwrap();
        assert_eq!(
            (tier.scheme.as_str(), tier.options["root"].as_str()),
            ("fs", "/mnt/tier")
        );
    }

    #[test]
    fn unknown_keys_and_missing_settings_are_named() {
        let error = FileConfig::parse("data_dir = \"/d\"\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("listen_addr"), "{error:#}");
        let error = NodeConfig::resolve(
            FileConfig::default(),
            FileConfig::parse("data_dir = \"/d\"").unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "missing --cert (or `cert` in the config file)"
        );
        let error = FileConfig::parse("io = \"fast\"").unwrap_err();
        assert!(format!("{error:#}").contains("fast"), "{error:#}");
    }
}
