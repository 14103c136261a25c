//! When a rolling `files` sink finishes its part and starts the next, and
//! what its parts are called: pure, so every rule is tested without files
//! or clocks.
//!
//! A part is finished when it holds `max_rows` rows, when it has grown to
//! `max_bytes` bytes (the row that reaches the limit is its last, so a
//! part exceeds it by at most one row), when `interval_ms` has passed
//! since its first row, on a checkpoint barrier and at end of input — the
//! rolling policy of Flink's `FileSink`. Parts are named
//! `part-SUBTASK-SEQ.EXT` (a sink without rolling writes one
//! `part-SUBTASK.EXT`), five digits each, so name order is write order.

use serde::{Deserialize, Serialize};

/// `rolling`: when a `files` sink's part is finished (any subset; none
/// set: on checkpoint barriers and at end of input only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollingParams {
    /// Rows a part holds at most.
    #[serde(default)]
    pub max_rows: Option<u64>,
    /// Bytes after which a part takes no more rows.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Milliseconds after its first row when a part is finished (checked
    /// when a batch or a watermark arrives).
    #[serde(default)]
    pub interval_ms: Option<u64>,
}

impl RollingParams {
    /// Why these limits cannot be used, if they cannot (a zero limit
    /// would finish every part before it held a row).
    pub fn problem(&self) -> Option<String> {
        [
            ("max_rows", self.max_rows),
            ("max_bytes", self.max_bytes),
            ("interval_ms", self.interval_ms),
        ]
        .into_iter()
        .find(|(_, limit)| *limit == Some(0))
        .map(|(name, _)| format!("rolling.{name} must be at least 1"))
    }

    /// Whether a part holding `rows` rows in `bytes` bytes is full.
    pub fn full(&self, rows: u64, bytes: u64) -> bool {
        self.max_rows.is_some_and(|max| rows >= max)
            || self.max_bytes.is_some_and(|max| bytes >= max)
    }

    /// Whether a part whose first row came `age_ms` ago is due.
    pub fn due(&self, age_ms: u64) -> bool {
        self.interval_ms.is_some_and(|interval| age_ms >= interval)
    }
}

/// A part's final name: `part-SUBTASK.EXT`, or `part-SUBTASK-SEQ.EXT`
/// for the `seq`-th part of a rolling sink.
pub fn part_name(subtask: u32, seq: Option<u64>, extension: &str) -> String {
    match seq {
        None => format!("part-{subtask:05}.{extension}"),
        Some(seq) => format!("part-{subtask:05}-{seq:05}.{extension}"),
    }
}

/// The subtask (and sequence number, for a rolled part) of a finished
/// part called `name` with extension `extension`; `None` for any other
/// file (an in-progress part among them).
pub fn parse_part_name(name: &str, extension: &str) -> Option<(u32, Option<u64>)> {
    let stem = name
        .strip_prefix("part-")?
        .strip_suffix(extension)?
        .strip_suffix('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match stem.split_once('-') {
        None if digits(stem) => Some((stem.parse().ok()?, None)),
        Some((subtask, seq)) if digits(subtask) && digits(seq) => {
            Some((subtask.parse().ok()?, Some(seq.parse().ok()?)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_full_at_either_limit_and_due_after_the_interval() {
        let rows = RollingParams {
            max_rows: Some(3),
            ..Default::default()
        };
        assert!(!rows.full(2, u64::MAX));
        assert!(rows.full(3, 0));
        let bytes = RollingParams {
            max_bytes: Some(100),
            ..Default::default()
        };
        assert!(!bytes.full(u64::MAX, 99));
        assert!(bytes.full(1, 100));
        let both = RollingParams {
            max_rows: Some(10),
            max_bytes: Some(100),
            interval_ms: Some(500),
        };
        assert!(both.full(10, 1) && both.full(1, 150) && !both.full(9, 99));
        assert!(!both.due(499) && both.due(500));
        let none = RollingParams::default();
        assert!(!none.full(u64::MAX, u64::MAX) && !none.due(u64::MAX));
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        assert_eq!(RollingParams::default().problem(), None);
        let zero = RollingParams {
            max_rows: Some(5),
            interval_ms: Some(0),
            ..Default::default()
        };
        assert_eq!(
            zero.problem().as_deref(),
            Some("rolling.interval_ms must be at least 1")
        );
    }

    #[test]
    fn part_names_read_back_and_sort_in_write_order() {
        assert_eq!(part_name(3, None, "csv"), "part-00003.csv");
        assert_eq!(part_name(3, Some(12), "jsonl"), "part-00003-00012.jsonl");
        for (subtask, seq) in [(0, None), (7, Some(0)), (4095, Some(123_456))] {
            let name = part_name(subtask, seq, "txt");
            assert_eq!(
                parse_part_name(&name, "txt"),
                Some((subtask, seq)),
                "{name}"
            );
        }
        let mut names: Vec<String> = [10, 2, 9, 1]
            .iter()
            .map(|&s| part_name(0, Some(s), "csv"))
            .collect();
        names.sort();
        assert_eq!(names[0], "part-00000-00001.csv");
        assert_eq!(names[3], "part-00000-00010.csv");
        for other in [
            "part-00000-00001.csv.inprogress-0",
            "part-00000.jsonl",
            "part-.csv",
            "part-1-.csv",
            "part-a-1.csv",
            "part-1-2-3.csv",
            "data.csv",
            ".part-00000.csv",
        ] {
            assert_eq!(parse_part_name(other, "csv"), None, "{other}");
        }
    }
}
