//! What the scheduler and worker processes share in configuration: the
//! TLS identity every QUIC peer presents, the bearer token of their HTTP
//! endpoints, reading a `--config` TOML file whose keys are the flags'
//! names, and merging the two (a flag wins).

use std::path::{Path, PathBuf};

use anyhow::Context;
use faro_scheduler::auth::{ApiAccess, ApiToken};
use faro_transport::{TlsConfig, TransportOptions};
use serde::de::DeserializeOwned;

/// Reads and parses a TOML config file; unknown keys are errors (the
/// types deny them).
pub fn load_file<T: DeserializeOwned + Default>(path: Option<&Path>) -> anyhow::Result<T> {
    let Some(path) = path else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
}

/// A setting from the flag, else the file, else an error naming both.
pub fn required<T>(flag: Option<T>, file: Option<T>, name: &str) -> anyhow::Result<T> {
    flag.or(file).with_context(|| {
        format!(
            "missing --{} (or `{name}` in the config file)",
            name.replace('_', "-")
        )
    })
}

/// Loads the process's TLS identity.
pub fn identity(cert: &Path, key: &Path, ca: &Path) -> anyhow::Result<TlsConfig> {
    TlsConfig::from_pem_files(cert, key, ca).context("loading the TLS identity")
}

/// Transport tuning: loopback (every peer on this machine) or default.
pub fn transport(loopback: bool) -> TransportOptions {
    if loopback {
        TransportOptions::loopback()
    } else {
        TransportOptions::default()
    }
}

/// The paths of a TLS identity, resolved.
#[derive(Debug, Clone)]
pub struct IdentityPaths {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// Cluster CA (PEM).
    pub ca: PathBuf,
}

impl IdentityPaths {
    /// Loads the identity.
    pub fn load(&self) -> anyhow::Result<TlsConfig> {
        identity(&self.cert, &self.key, &self.ca)
    }
}

/// Who may call a process's HTTP endpoints: requests must carry the token
/// given (`--token`, `FARO_TOKEN`, or the first line of `--token-file`),
/// unless `insecure` (`--insecure-no-auth`) opens them to anyone. Where
/// `needed` (a cluster's REST API, a worker's `/metrics`), starting with
/// neither is refused, so an open API is always a choice.
pub fn api_access(
    token: Option<String>,
    token_file: Option<&Path>,
    insecure: bool,
    needed: bool,
) -> anyhow::Result<ApiAccess> {
    let token = match (token, token_file) {
        (Some(token), _) => Some(ApiToken::new(&token).context("--token (or FARO_TOKEN)")?),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading the API token {}", file.display()))?;
            Some(ApiToken::new(&text).with_context(|| format!("in {}", file.display()))?)
        }
        (None, None) => None,
    };
    match (token, insecure) {
        (Some(_), true) => {
            anyhow::bail!("both an API token and --insecure-no-auth are set; choose one")
        }
        (Some(token), false) => Ok(ApiAccess::Token(token)),
        (None, true) => Ok(ApiAccess::Open),
        (None, false) if needed => anyhow::bail!(
            "the HTTP API needs a bearer token: set --token-file FILE (or `token_file` in the \
             config file, --token, FARO_TOKEN), or pass --insecure-no-auth to serve it to \
             anyone who can reach it"
        ),
        (None, false) => Ok(ApiAccess::Open),
    }
}
