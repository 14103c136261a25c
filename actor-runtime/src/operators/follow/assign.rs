//! Which files of a followed directory a subtask reads, and when: pure
//! rules over file names, so every one is tested without a file system.
//!
//! - A name is a *candidate* once it is complete: producers write under a
//!   name that says "not yet" and rename the file into place when done.
//!   Hidden names (`.x`, Flink's `.part-….inprogress.…`), names starting
//!   with `_` (Spark's `_temporary`, `_SUCCESS`) and in-progress parts
//!   (Faro's own `part-….inprogress-N`) are never read.
//! - Each candidate belongs to exactly one subtask: a stable hash of its
//!   name (FNV-1a, the same in every process and build) modulo the
//!   parallelism, so every file is read by one subtask whichever lists it
//!   first, without the subtasks talking to each other.
//! - A subtask takes its new candidates in name order, each once.

use std::collections::HashSet;

/// Whether a file called `name` is complete and meant to be read: the
/// rule `read` lists a directory by.
pub fn is_candidate(name: &str) -> bool {
    crate::operators::read::is_data_file(name)
}

/// A hash of `name` that every process and build agrees on (FNV-1a,
/// 64 bits): `std`'s hasher is seeded per process, which would send a
/// file to different subtasks on different workers.
pub fn stable_hash(name: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The subtask (of `parallelism`) that reads the file called `name`.
pub fn owner(name: &str, parallelism: u32) -> u32 {
    (stable_hash(name) % u64::from(parallelism.max(1))) as u32
}

/// The names in `listing` that subtask `subtask` of `parallelism` has
/// yet to read, in name order, each recorded in `taken` so a later
/// listing does not offer it again.
pub fn take_new<'a>(
    listing: impl IntoIterator<Item = &'a str>,
    taken: &mut HashSet<String>,
    subtask: u32,
    parallelism: u32,
) -> Vec<String> {
    let mut new: Vec<String> = listing
        .into_iter()
        .filter(|name| is_candidate(name) && owner(name, parallelism) == subtask)
        .filter(|name| !taken.contains(*name))
        .map(str::to_string)
        .collect();
    new.sort();
    new.dedup();
    taken.extend(new.iter().cloned());
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_being_written_are_not_candidates() {
        for name in ["a.csv", "part-00000-00003.jsonl", "2024-01-01.txt", "x"] {
            assert!(is_candidate(name), "{name}");
        }
        for name in [
            "",
            ".a.csv",
            ".part-1.inprogress.5f3a",
            "_SUCCESS",
            "_temporary",
            "part-00000.csv.inprogress-0",
            "part-00001-00002.jsonl.inprogress-3",
        ] {
            assert!(!is_candidate(name), "{name}");
        }
    }

    #[test]
    fn the_hash_is_fixed_so_every_process_assigns_alike() {
        // FNV-1a's published test vectors.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn every_file_has_exactly_one_owner_and_the_owners_are_spread() {
        let names: Vec<String> = (0..1000).map(|i| format!("file-{i:04}.csv")).collect();
        for parallelism in [1, 2, 3, 7] {
            let mut per_subtask = vec![0usize; parallelism as usize];
            let mut all = Vec::new();
            for subtask in 0..parallelism {
                let mut taken = HashSet::new();
                let mine = take_new(
                    names.iter().map(String::as_str),
                    &mut taken,
                    subtask,
                    parallelism,
                );
                per_subtask[subtask as usize] = mine.len();
                all.extend(mine);
            }
            all.sort();
            assert_eq!(all, names, "parallelism {parallelism}: each file once");
            let fair = 1000 / parallelism as usize;
            assert!(
                per_subtask.iter().all(|&n| n > fair / 2),
                "parallelism {parallelism}: {per_subtask:?}"
            );
        }
        assert_eq!(owner("x", 0), 0, "no parallelism counts as one");
    }

    #[test]
    fn new_files_come_in_name_order_and_each_only_once() {
        let mut taken = HashSet::new();
        let first = take_new(["b.csv", "a.csv", ".c.csv", "a.csv"], &mut taken, 0, 1);
        assert_eq!(first, ["a.csv", "b.csv"]);
        // `.c.csv` renamed into place; the others listed again.
        let second = take_new(["c.csv", "b.csv", "a.csv", "0.csv"], &mut taken, 0, 1);
        assert_eq!(second, ["0.csv", "c.csv"], "late names still come, once");
        assert!(take_new(["a.csv", "c.csv"], &mut taken, 0, 1).is_empty());
    }
}
