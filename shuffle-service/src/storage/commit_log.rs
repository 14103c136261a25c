//! The commit log of one shuffle: one fixed-size, checksummed entry per
//! committed map attempt, appended (and synced, when the store's
//! durability asks) before the commit becomes visible. Replayed on open to rebuild the [`super::CommitBook`];
//! a torn last entry (a crash mid-append) is cut off.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const ENTRY_LEN: usize = 16;
const MAGIC: [u8; 4] = *b"FRCM";

/// An open commit log.
#[derive(Debug)]
pub struct CommitLog {
    file: File,
    path: PathBuf,
}

fn encode(map: u32, attempt: u32) -> [u8; ENTRY_LEN] {
    let mut entry = [0u8; ENTRY_LEN];
    entry[0..4].copy_from_slice(&MAGIC);
    entry[4..8].copy_from_slice(&map.to_le_bytes());
    entry[8..12].copy_from_slice(&attempt.to_le_bytes());
    let crc = crc32c::crc32c(&entry[0..12]);
    entry[12..16].copy_from_slice(&crc.to_le_bytes());
    entry
}

fn decode(entry: &[u8]) -> Option<(u32, u32)> {
    let word =
        |at: usize| u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]]);
    (entry.len() == ENTRY_LEN && entry[0..4] == MAGIC && word(12) == crc32c::crc32c(&entry[0..12]))
        .then(|| (word(4), word(8)))
}

impl CommitLog {
    /// Opens (creating if needed) the log at `path` and returns it with the
    /// commits it holds, in order. Entries after the first invalid one are
    /// a torn append and are truncated away.
    pub fn open(path: &Path) -> std::io::Result<(Self, Vec<(u32, u32)>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let commits: Vec<(u32, u32)> = bytes.chunks(ENTRY_LEN).map_while(decode).collect();
        let valid = (commits.len() * ENTRY_LEN) as u64;
        if valid < bytes.len() as u64 {
            tracing::warn!(path = %path.display(), kept = commits.len(), cut = bytes.len() as u64 - valid, "truncating a torn commit log tail");
            file.set_len(valid)?;
            file.sync_data()?;
        }
        Ok((
            Self {
                file,
                path: path.to_path_buf(),
            },
            commits,
        ))
    }

    /// Appends a commit (written whole in one call, so a killed process
    /// leaves it whole or absent) and, when `sync`, waits until it is on
    /// disk.
    pub fn append(&mut self, map: u32, attempt: u32, sync: bool) -> std::io::Result<()> {
        self.file.write_all(&encode(map, attempt))?;
        if sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_survive_reopening_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commits.log");
        let (mut log, commits) = CommitLog::open(&path).unwrap();
        assert!(commits.is_empty());
        log.append(1, 0, true).unwrap();
        log.append(2, 3, false).unwrap();
        drop(log);
        // A crash in the middle of a third append.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&encode(3, 1)[..9]).unwrap();
        drop(file);

        let (mut log, commits) = CommitLog::open(&path).unwrap();
        assert_eq!(commits, vec![(1, 0), (2, 3)]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 32);
        log.append(3, 1, true).unwrap();
        let (_, commits) = CommitLog::open(&path).unwrap();
        assert_eq!(commits, vec![(1, 0), (2, 3), (3, 1)]);
    }
}
