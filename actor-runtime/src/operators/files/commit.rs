//! Exactly-once output for a checkpointed job's `files` sink: the sink
//! side of a two-phase commit.
//!
//! A finished part is renamed to `.pending-NAME` (hidden: readers,
//! `follow` and Faro's own listing skip names starting with `.`), not to
//! its name. At a checkpoint barrier the parts pending since the last
//! one are *pre-committed* under that checkpoint and listed in the sink's
//! snapshot; when the coordinator says the checkpoint is complete they
//! are committed — renamed to their names. A restored sink commits what
//! its checkpoint lists (the completion may never have reached it),
//! then removes its own pending and in-progress files that no complete
//! checkpoint covers: rows after the checkpoint are written again, so
//! nothing is visible twice and nothing half-written is visible at all.
//! Renames are atomic on one file system, and committing an already
//! committed part changes nothing, so a commit may be repeated.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::rolling::parse_part_name;
use crate::operator::OperatorError;

/// The hidden name a finished part waits under until it is committed.
pub fn pending_name(name: &str) -> String {
    format!(".pending-{name}")
}

/// Parts finished but not yet visible, by the checkpoint that covers
/// them; with the next part's sequence number, the sink's snapshot.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commits {
    /// The next rolled part's sequence number.
    pub next_seq: u64,
    /// Finished since the last barrier.
    pub pending: Vec<String>,
    /// Pre-committed at a barrier, by checkpoint.
    pub precommitted: BTreeMap<u64, Vec<String>>,
}

impl Commits {
    /// The parts pending now belong to `checkpoint`.
    pub fn precommit(&mut self, checkpoint: u64) {
        let parts = std::mem::take(&mut self.pending);
        if !parts.is_empty() {
            self.precommitted
                .entry(checkpoint)
                .or_default()
                .extend(parts);
        }
    }

    /// The snapshot's bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a snapshot back.
    pub fn decode(bytes: &[u8]) -> Result<Self, OperatorError> {
        serde_json::from_slice(bytes)
            .map_err(|e| OperatorError::BadInput(format!("files sink state: {e}")))
    }

    /// Commits every part pre-committed at `checkpoint` or before.
    pub fn commit_through(&mut self, dir: &Path, checkpoint: u64) -> Result<(), OperatorError> {
        while let Some(entry) = self.precommitted.first_entry() {
            if *entry.key() > checkpoint {
                break;
            }
            for name in entry.get() {
                commit(dir, name)?;
            }
            entry.remove();
        }
        Ok(())
    }

    /// Commits everything finished (the input has ended).
    pub fn commit_all(&mut self, dir: &Path) -> Result<(), OperatorError> {
        self.precommit(u64::MAX);
        self.commit_through(dir, u64::MAX)
    }
}

/// Makes the pending part `name` visible under its name. A part already
/// committed (by an earlier attempt, or an earlier call) is left as it
/// is; one that is neither pending nor committed is lost output, an
/// error naming it.
fn commit(dir: &Path, name: &str) -> Result<(), OperatorError> {
    let (pending, done) = (dir.join(pending_name(name)), dir.join(name));
    match std::fs::rename(&pending, &done) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && done.exists() => Ok(()),
        Err(e) => Err(OperatorError::io("committing", pending.display())(e)),
    }
}

/// Removes `subtask`'s pending and in-progress parts in `dir`: what a
/// restored attempt writes again.
pub fn remove_uncommitted(dir: &Path, subtask: u32, extension: &str) -> Result<(), OperatorError> {
    let entries = std::fs::read_dir(dir).map_err(OperatorError::io("listing", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let part = match name.strip_prefix(".pending-") {
            Some(part) => part,
            None => match name.split_once(".inprogress-") {
                Some((part, _)) => part,
                None => continue,
            },
        };
        if parse_part_name(part, extension).is_some_and(|(s, _)| s == subtask) {
            let path = dir.join(&name);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(OperatorError::io("removing", path.display())(e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn parts_become_visible_only_when_their_checkpoint_completes() {
        let dir = tempfile::tempdir().unwrap();
        let mut commits = Commits::default();
        for (name, checkpoint) in [("part-00000-00000.csv", 1), ("part-00000-00001.csv", 2)] {
            std::fs::write(dir.path().join(pending_name(name)), name).unwrap();
            commits.pending.push(name.into());
            commits.precommit(checkpoint);
        }
        commits.commit_through(dir.path(), 1).unwrap();
        assert_eq!(
            names(dir.path()),
            [".pending-part-00000-00001.csv", "part-00000-00000.csv"]
        );
        // Repeating a commit (a restore after the completion) is harmless.
        let restored = Commits::decode(&commits.encode()).unwrap();
        assert_eq!(restored, commits);
        let mut again = Commits {
            precommitted: BTreeMap::from([(1, vec!["part-00000-00000.csv".into()])]),
            ..Commits::default()
        };
        again.commit_through(dir.path(), 1).unwrap();
        commits.commit_all(dir.path()).unwrap();
        assert_eq!(
            names(dir.path()),
            ["part-00000-00000.csv", "part-00000-00001.csv"]
        );
        let mut lost = Commits {
            precommitted: BTreeMap::from([(3, vec!["part-00000-00009.csv".into()])]),
            ..Commits::default()
        };
        let error = lost.commit_through(dir.path(), 3).unwrap_err();
        assert!(error.to_string().contains("part-00000-00009"), "{error}");
    }

    #[test]
    fn a_restored_subtask_removes_only_its_own_uncommitted_parts() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            ".pending-part-00001-00004.csv",
            "part-00001-00005.csv.inprogress-2",
            ".pending-part-00000-00004.csv",
            "part-00001-00003.csv",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        remove_uncommitted(dir.path(), 1, "csv").unwrap();
        assert_eq!(
            names(dir.path()),
            [
                ".pending-part-00000-00004.csv",
                "notes.txt",
                "part-00001-00003.csv"
            ]
        );
    }
}
