//! Event time at the sources: how a source split turns the timestamps it
//! reads into watermarks, and how a source subtask with several splits
//! combines theirs. Pure: the caller passes the timestamps it saw and the
//! processing time, so every rule is tested without a clock.
//!
//! - [`WatermarkStrategy`]: `monotonous` (timestamps never go back: the
//!   watermark is the largest seen, less one) or
//!   `bounded_out_of_orderness` (rows may be up to `max_delay_ms` late:
//!   the largest seen less the delay, less one) — Flink's two built-in
//!   strategies, with its "less one" so that a row exactly at the
//!   watermark is not late.
//! - [`SplitWatermarks`]: one generator per split; the subtask's watermark
//!   is the smallest of its active splits'. A split that has produced no
//!   row for `idle_timeout_ms` of processing time is idle and stops
//!   holding the others back, until it produces again. Without a timeout a
//!   silent split holds the watermark where it is: documented, never a
//!   hang of anything but event time.

use crate::message::Watermark;

/// How a split's watermark follows the timestamps it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatermarkStrategy {
    /// Timestamps arrive in order.
    Monotonous,
    /// Timestamps may arrive up to this many milliseconds out of order.
    BoundedOutOfOrderness {
        /// The largest lateness tolerated, in milliseconds.
        max_delay_ms: i64,
    },
}

impl WatermarkStrategy {
    /// The watermark after seeing `max_timestamp` as the largest event
    /// time so far.
    pub fn watermark_for(&self, max_timestamp: i64) -> Watermark {
        let delay = match self {
            Self::Monotonous => 0,
            Self::BoundedOutOfOrderness { max_delay_ms } => *max_delay_ms,
        };
        Watermark(max_timestamp.saturating_sub(delay).saturating_sub(1))
    }
}

/// Whether a row at `timestamp` is late: behind the watermark by more
/// than `allowed_lateness_ms` (such rows are dropped and counted).
pub fn is_late(timestamp: i64, watermark: Watermark, allowed_lateness_ms: i64) -> bool {
    timestamp.saturating_add(allowed_lateness_ms) <= watermark.0
}

#[derive(Debug, Clone, Copy)]
struct Split {
    max_timestamp: Option<i64>,
    last_active_ms: u64,
}

/// The watermark of a source subtask reading several splits.
#[derive(Debug, Clone)]
pub struct SplitWatermarks {
    strategy: WatermarkStrategy,
    idle_timeout_ms: Option<u64>,
    splits: Vec<Split>,
    emitted: Watermark,
}

impl SplitWatermarks {
    /// `splits` splits, all active as of `now_ms` (processing time).
    pub fn new(
        strategy: WatermarkStrategy,
        idle_timeout_ms: Option<u64>,
        splits: usize,
        now_ms: u64,
    ) -> Self {
        let split = Split {
            max_timestamp: None,
            last_active_ms: now_ms,
        };
        Self {
            strategy,
            idle_timeout_ms,
            splits: vec![split; splits],
            emitted: Watermark::MIN,
        }
    }

    /// Split `split` produced rows whose largest event time is
    /// `max_timestamp`, at `now_ms`.
    pub fn observe(&mut self, split: usize, max_timestamp: i64, now_ms: u64) {
        if let Some(state) = self.splits.get_mut(split) {
            state.max_timestamp = Some(
                state
                    .max_timestamp
                    .map_or(max_timestamp, |m| m.max(max_timestamp)),
            );
            state.last_active_ms = now_ms;
        }
    }

    /// Split `split` is done: it no longer holds the watermark back.
    pub fn finish(&mut self, split: usize) {
        if split < self.splits.len() {
            self.splits.remove(split);
        }
    }

    fn idle(&self, split: &Split, now_ms: u64) -> bool {
        self.idle_timeout_ms
            .is_some_and(|timeout| now_ms.saturating_sub(split.last_active_ms) >= timeout)
    }

    /// Whether every split is idle (or done): downstream should not wait
    /// for this subtask's event time.
    pub fn all_idle(&self, now_ms: u64) -> bool {
        self.splits.iter().all(|s| self.idle(s, now_ms))
    }

    /// The subtask's watermark at `now_ms`, if it advanced since the last
    /// call: the smallest over active splits. A split that has read no row
    /// and is not idle holds it at the minimum.
    pub fn poll(&mut self, now_ms: u64) -> Option<Watermark> {
        let mut lowest: Option<Watermark> = None;
        for split in self.splits.iter().filter(|s| !self.idle(s, now_ms)) {
            let mark = match split.max_timestamp {
                Some(max) => self.strategy.watermark_for(max),
                None => Watermark::MIN,
            };
            lowest = Some(lowest.map_or(mark, |l| l.min(mark)));
        }
        let lowest = lowest?;
        (lowest > self.emitted).then(|| {
            self.emitted = lowest;
            lowest
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDED: WatermarkStrategy =
        WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 100 };

    #[test]
    fn strategies_trail_the_largest_timestamp_by_their_delay_and_one() {
        assert_eq!(
            WatermarkStrategy::Monotonous.watermark_for(1000),
            Watermark(999)
        );
        assert_eq!(BOUNDED.watermark_for(1000), Watermark(899));
        assert_eq!(BOUNDED.watermark_for(i64::MIN), Watermark::MIN);
    }

    #[test]
    fn lateness_is_relative_to_the_watermark_and_the_allowance() {
        let watermark = Watermark(1000);
        assert!(!is_late(1001, watermark, 0));
        assert!(
            is_late(1000, watermark, 0),
            "at the watermark: its window may be gone"
        );
        assert!(!is_late(1000, watermark, 1));
        assert!(is_late(500, watermark, 500));
    }

    #[test]
    fn the_slowest_active_split_holds_the_watermark() {
        let mut w = SplitWatermarks::new(BOUNDED, None, 2, 0);
        w.observe(0, 1000, 1);
        assert_eq!(w.poll(1), None, "split 1 has read nothing");
        w.observe(1, 500, 2);
        assert_eq!(w.poll(2), Some(Watermark(399)));
        w.observe(1, 300, 3);
        assert_eq!(w.poll(3), None, "an earlier row does not move it back");
        w.observe(1, 2000, 4);
        assert_eq!(w.poll(4), Some(Watermark(899)));
        w.finish(0);
        assert_eq!(w.poll(5), Some(Watermark(1899)));
    }

    #[test]
    fn an_idle_split_stops_holding_the_others_back_until_it_reads_again() {
        let mut w = SplitWatermarks::new(WatermarkStrategy::Monotonous, Some(1000), 2, 0);
        w.observe(0, 5000, 100);
        assert_eq!(w.poll(100), None, "split 1 active, nothing read");
        assert_eq!(w.poll(999), None);
        assert_eq!(w.poll(1000), Some(Watermark(4999)), "split 1 idle");
        assert!(!w.all_idle(1000));
        w.observe(1, 3000, 1500);
        assert_eq!(w.poll(1500), None, "active again, behind: no step back");
        w.observe(1, 7000, 1600);
        w.observe(0, 8000, 1600);
        assert_eq!(w.poll(1600), Some(Watermark(6999)));
        assert!(w.all_idle(2600));
    }

    #[test]
    fn without_a_timeout_a_silent_split_holds_event_time() {
        let mut w = SplitWatermarks::new(WatermarkStrategy::Monotonous, None, 2, 0);
        w.observe(0, 5000, 0);
        assert_eq!(w.poll(u64::MAX), None);
        assert!(!w.all_idle(u64::MAX));
    }
}
