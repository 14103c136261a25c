//! Which files a job may touch on a worker. A job is code a user sends;
//! without a bound it could read anything the worker's account can (its
//! TLS key, `/etc/shadow`) and return it as a result, or write anywhere.
//! So a worker reads only under its *read roots* and writes only under its
//! *write roots* (`--allow-read DIR`, `--allow-write DIR`); a worker
//! started with none allows no file access at all.
//!
//! A path is checked after it is resolved — made absolute, `..` and every
//! symbolic link followed — so neither `../../etc` nor a link inside an
//! allowed directory leads out of it; a `read` of a directory checks each
//! file it lists. Object stores other than the local file system (and the
//! in-process `memory` store) are refused: a store's credentials are the
//! worker's, not the job's.
//!
//! A job may name network services too: the Kafka brokers a `kafka`
//! source or sink connects to must be ones the worker allows
//! (`--allow-kafka HOST:PORT`, or every broker on this machine's loopback
//! for `faro run` and `faro local`), so a job cannot probe or feed the
//! worker's network at will.
//!
//! Known limits: the check and the open are two steps, so a file swapped
//! for a link between them (by someone who can write inside a root) is
//! not caught; a Kafka client is sent on from the bootstrap broker it was
//! allowed to the brokers that one advertises, which are not checked.

use std::path::{Component, Path, PathBuf};

use crate::operator::OperatorError;

/// The roots a worker's jobs may read and write under (canonical paths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    read: Vec<PathBuf>,
    write: Vec<PathBuf>,
    kafka: Vec<String>,
    kafka_loopback: bool,
}

/// Read or write, for checks and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading a file or listing a directory.
    Read,
    /// Creating or replacing files.
    Write,
}

impl Access {
    fn verb(self) -> &'static str {
        match self {
            Self::Read => "reading",
            Self::Write => "writing",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Self::Read => "--allow-read",
            Self::Write => "--allow-write",
        }
    }
}

/// Whether `path` (resolved) lies under one of `roots` (resolved).
pub fn within(roots: &[PathBuf], path: &Path) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

/// `path` made absolute with every link and `..` resolved. A path that
/// does not exist yet resolves through its nearest existing ancestor; its
/// missing part may not hold `..`.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(resolved) => {
                let mut resolved = resolved;
                for part in missing.iter().rev() {
                    resolved.push(part);
                }
                return Ok(resolved);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let name = match existing.components().next_back() {
                    Some(Component::Normal(name)) => name.to_owned(),
                    _ => return Err(error),
                };
                missing.push(name);
                existing = existing.parent().ok_or(error)?;
            }
            Err(error) => return Err(error),
        }
    }
}

impl AccessPolicy {
    /// No file access at all (a worker started without roots).
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Reads under `read`, writes under `write`; each root must exist.
    pub fn new(read: &[PathBuf], write: &[PathBuf]) -> std::io::Result<Self> {
        let roots = |dirs: &[PathBuf]| -> std::io::Result<Vec<PathBuf>> {
            dirs.iter()
                .map(|dir| {
                    dir.canonicalize().map_err(|e| {
                        std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()))
                    })
                })
                .collect()
        };
        Ok(Self {
            read: roots(read)?,
            write: roots(write)?,
            ..Self::default()
        })
    }

    /// Also allows the Kafka brokers `brokers` (each `HOST:PORT`, as jobs
    /// name them) and, with `loopback`, any broker on this machine.
    pub fn with_kafka(mut self, brokers: Vec<String>, loopback: bool) -> Self {
        self.kafka = brokers;
        self.kafka_loopback = loopback;
        self
    }

    /// Checks that a job may connect to each of `brokers`; otherwise an
    /// error naming the first broker refused and what is allowed.
    pub fn check_kafka(&self, brokers: &[String]) -> Result<(), OperatorError> {
        let Some(refused) = brokers.iter().find(|b| !self.allows_broker(b)) else {
            return Ok(());
        };
        let allowed = match (self.kafka.is_empty(), self.kafka_loopback) {
            (true, false) => "this worker allows no Kafka brokers".to_string(),
            (true, true) => "this worker allows only brokers on its loopback".to_string(),
            (false, loopback) => format!(
                "this worker allows {}{}",
                self.kafka.join(", "),
                if loopback { " and its loopback" } else { "" }
            ),
        };
        Err(OperatorError::AccessDenied {
            action: "connecting to",
            path: format!("Kafka broker {refused}"),
            reason: format!("{allowed} (start it with --allow-kafka HOST:PORT)"),
        })
    }

    fn allows_broker(&self, broker: &str) -> bool {
        if self.kafka.iter().any(|b| b == broker) {
            return true;
        }
        let host = broker.rsplit_once(':').map_or(broker, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.kafka_loopback
            && (host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback()))
    }

    /// What `faro run` and `faro local` allow: the current directory and
    /// the temporary directory, for reading and writing.
    pub fn working_directory() -> std::io::Result<Self> {
        let dirs = [std::env::current_dir()?, std::env::temp_dir()];
        Self::new(&dirs, &dirs)
    }

    /// The roots for `access`.
    pub fn roots(&self, access: Access) -> &[PathBuf] {
        match access {
            Access::Read => &self.read,
            Access::Write => &self.write,
        }
    }

    /// `path` resolved, if a job may `access` it; otherwise an error
    /// naming the path and what is allowed.
    pub fn check(&self, path: &Path, access: Access) -> Result<PathBuf, OperatorError> {
        let roots = self.roots(access);
        let refuse = |reason: String| OperatorError::AccessDenied {
            action: access.verb(),
            path: path.display().to_string(),
            reason,
        };
        if roots.is_empty() {
            return Err(refuse(format!(
                "this worker allows no file {} (start it with {} DIR)",
                if access == Access::Read {
                    "reads"
                } else {
                    "writes"
                },
                access.flag()
            )));
        }
        let resolved = resolve(path).map_err(OperatorError::io(access.verb(), path.display()))?;
        if within(roots, &resolved) {
            return Ok(resolved);
        }
        let allowed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        Err(refuse(format!(
            "{}outside what this worker allows ({}: {})",
            if resolved != path {
                format!("it resolves to {}, ", resolved.display())
            } else {
                String::new()
            },
            access.flag(),
            allowed.join(", ")
        )))
    }

    /// Checks an opendal store a job names: the local file system is
    /// checked at `root` joined with `path`; the in-process `memory` store
    /// is always allowed; any other is refused.
    pub fn check_store(
        &self,
        scheme: &str,
        root: Option<&str>,
        path: &str,
        access: Access,
    ) -> Result<(), OperatorError> {
        match scheme {
            "memory" => Ok(()),
            "fs" => {
                let full = Path::new(root.unwrap_or("/")).join(path.trim_start_matches('/'));
                self.check(&full, access).map(|_| ())
            }
            other => Err(OperatorError::AccessDenied {
                action: access.verb(),
                path: format!("{other}://{path}"),
                reason: format!(
                    "store {other:?} is not open to jobs on this worker (only fs under its roots, and memory)"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_compares_whole_components() {
        let roots = [PathBuf::from("/data/in")];
        assert!(within(&roots, Path::new("/data/in/x.csv")));
        assert!(within(&roots, Path::new("/data/in")));
        assert!(!within(&roots, Path::new("/data/input/x.csv")));
        assert!(!within(&roots, Path::new("/data")));
        assert!(!within(&[], Path::new("/data/in")));
    }

    #[test]
    fn links_and_dots_are_followed_before_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("inside");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), inside.join("link")).unwrap();
        let roots = [inside.clone()];
        let policy = AccessPolicy::new(&roots, &roots).unwrap();
        assert!(policy.check(&inside.join("link"), Access::Read).is_err());
        let dotted = inside.join("..").join("outside").join("secret");
        let error = policy.check(&dotted, Access::Read).unwrap_err().to_string();
        assert!(
            error.contains("outside what this worker allows (--allow-read:"),
            "{error}"
        );
        // Not yet existing output resolves through its existing parent.
        let out = policy
            .check(&inside.join("new/dir/part-0.csv"), Access::Write)
            .unwrap();
        assert!(out.starts_with(inside.canonicalize().unwrap()));
        assert!(policy
            .check(&inside.join("new/../../outside/x"), Access::Write)
            .is_err());
    }

    #[test]
    fn a_worker_without_roots_allows_nothing_and_says_how_to() {
        let error = AccessPolicy::deny_all()
            .check(Path::new("/etc/passwd"), Access::Read)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "reading /etc/passwd refused: this worker allows no file reads (start it with --allow-read DIR)"
        );
        let error = AccessPolicy::deny_all()
            .check_store("s3", None, "bucket/key", Access::Read)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not open to jobs"), "{error}");
    }

    #[test]
    fn kafka_brokers_are_allowed_by_name_or_by_loopback() {
        let brokers = |list: &[&str]| list.iter().map(|b| b.to_string()).collect::<Vec<_>>();
        let error = AccessPolicy::deny_all()
            .check_kafka(&brokers(&["127.0.0.1:9092"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "connecting to Kafka broker 127.0.0.1:9092 refused: this worker allows no Kafka \
             brokers (start it with --allow-kafka HOST:PORT)"
        );
        let named = AccessPolicy::deny_all().with_kafka(brokers(&["kafka-1:9092"]), false);
        assert!(named.check_kafka(&brokers(&["kafka-1:9092"])).is_ok());
        let error = named
            .check_kafka(&brokers(&["kafka-1:9092", "kafka-1:9093"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("broker kafka-1:9093 refused: this worker allows kafka-1:9092"));
        let local = AccessPolicy::deny_all().with_kafka(Vec::new(), true);
        for ok in [
            "localhost:9092",
            "127.0.0.1:1",
            "127.3.2.1:9092",
            "[::1]:9092",
        ] {
            assert!(local.check_kafka(&brokers(&[ok])).is_ok(), "{ok}");
        }
        for refused in ["10.0.0.1:9092", "localhost.example.com:9092", "[::2]:1"] {
            assert!(
                local.check_kafka(&brokers(&[refused])).is_err(),
                "{refused}"
            );
        }
    }
}
