//! Session windows of one key: each row opens `[ts, ts + gap)`, and
//! windows that overlap or touch merge (Flink's rule), so a session ends
//! after `gap` without a row. Pure: the session operator
//! ([`super::sessions`]) keeps one sorted list per key and merges the
//! state of the windows this reports as merged.

use super::assign::Window;

/// Where a row landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMerge {
    /// The key's session that now holds the row.
    pub window: Window,
    /// Sessions that existed before and are now part of `window` (their
    /// state merges into its state); empty if the row opened a new one or
    /// fell inside an existing one, which is then `window` itself when
    /// unchanged.
    pub merged: Vec<Window>,
}

/// Adds a row at `ts` to a key's `sessions` (sorted by start, disjoint),
/// merging every session the row's `[ts, ts + gap)` overlaps or touches.
pub fn add(sessions: &mut Vec<Window>, ts: i64, gap: i64) -> SessionMerge {
    let mut window = Window {
        start: ts,
        end: ts.saturating_add(gap),
    };
    let first = sessions.partition_point(|s| s.end < window.start);
    let mut last = first;
    while last < sessions.len() && sessions[last].start <= window.end {
        last += 1;
    }
    let merged: Vec<Window> = sessions.drain(first..last).collect();
    for s in &merged {
        window.start = window.start.min(s.start);
        window.end = window.end.max(s.end);
    }
    sessions.insert(first, window);
    let merged = if merged.len() == 1 && merged[0] == window {
        // Fell inside an existing session: nothing changes shape.
        Vec::new()
    } else {
        merged
    };
    SessionMerge { window, merged }
}

/// Whether a row at `ts` would merge into one of `sessions` (sorted,
/// disjoint): a row whose own window has fired may still join a session
/// that has not, as Flink decides lateness after merging.
pub fn touches(sessions: &[Window], ts: i64, gap: i64) -> bool {
    let first = sessions.partition_point(|s| s.end < ts);
    sessions
        .get(first)
        .is_some_and(|s| s.start <= ts.saturating_add(gap))
}

/// The session of `sessions` (sorted, disjoint, as [`add`] keeps them)
/// that holds a row at `ts`.
pub fn containing(sessions: &[Window], ts: i64) -> Option<Window> {
    let at = sessions.partition_point(|s| s.end <= ts);
    sessions.get(at).filter(|s| s.start <= ts).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, end: i64) -> Window {
        Window { start, end }
    }

    #[test]
    fn rows_within_the_gap_share_a_session_and_a_bridge_merges_two() {
        let mut s = Vec::new();
        assert_eq!(
            add(&mut s, 0, 10),
            SessionMerge {
                window: w(0, 10),
                merged: vec![]
            }
        );
        assert_eq!(
            add(&mut s, 30, 10),
            SessionMerge {
                window: w(30, 40),
                merged: vec![]
            }
        );
        assert_eq!(
            add(&mut s, 5, 10),
            SessionMerge {
                window: w(0, 15),
                merged: vec![w(0, 10)]
            }
        );
        assert_eq!(s, [w(0, 15), w(30, 40)]);
        let bridge = add(&mut s, 15, 15);
        assert_eq!(bridge.window, w(0, 40));
        assert_eq!(
            bridge.merged,
            [w(0, 15), w(30, 40)],
            "touching sessions merge"
        );
        assert_eq!(s, [w(0, 40)]);
        assert_eq!(
            add(&mut s, 1, 10),
            SessionMerge {
                window: w(0, 40),
                merged: vec![]
            }
        );
    }

    #[test]
    fn sessions_match_a_reference_that_sorts_the_rows() {
        // Rows in a scrambled order give the same sessions as sorted rows
        // cut wherever the gap between neighbours is more than `gap`.
        let gap = 7;
        let rows: Vec<i64> = (0..200).map(|i| (i * 37 % 101) * 3 + (i % 5)).collect();
        let mut sessions = Vec::new();
        for &ts in &rows {
            add(&mut sessions, ts, gap);
        }
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        let mut expected: Vec<Window> = Vec::new();
        for ts in sorted {
            match expected.last_mut() {
                Some(last) if ts <= last.end => last.end = last.end.max(ts + gap),
                _ => expected.push(w(ts, ts + gap)),
            }
        }
        assert_eq!(sessions, expected);
        for &ts in &rows {
            let holder = containing(&sessions, ts).unwrap();
            assert!(holder.start <= ts && ts < holder.end);
        }
        assert_eq!(containing(&sessions, -1), None);
    }

    #[test]
    fn a_row_touches_a_session_it_would_merge_into() {
        let sessions = [w(10, 20), w(40, 50)];
        assert!(touches(&sessions, 0, 10), "[0, 10) touches [10, 20)");
        assert!(!touches(&sessions, -1, 10));
        assert!(touches(&sessions, 20, 5), "starts at the end of [10, 20)");
        assert!(!touches(&sessions, 21, 5));
        assert!(touches(&sessions, 35, 5));
        assert!(!touches(&sessions, 51, 100));
        assert!(!touches(&[], 0, 10));
    }
}
