//! How many rows a producer routed to each consumer, and how many it had
//! routed when it sent each recent checkpoint barrier: what approximate
//! failover reports as possibly lost when a consumer restarts from a
//! checkpoint while its producers run on (they do not rewind, so what
//! they sent it after that checkpoint's barrier is missing from its
//! restored state). Pure bookkeeping, no I/O.

use std::collections::VecDeque;

/// Barriers remembered: far more than checkpoints in flight at once, and
/// a consumer restored from an older one is charged every row instead.
const REMEMBERED: usize = 16;

/// Rows routed per consumer, at each recent barrier and in all.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    rows: Vec<u64>,
    at_barriers: VecDeque<(u64, Vec<u64>)>,
    reported: Vec<u64>,
}

impl Delivered {
    /// Nothing routed yet to any of `consumers`.
    pub fn new(consumers: usize) -> Self {
        Self {
            rows: vec![0; consumers],
            at_barriers: VecDeque::new(),
            reported: vec![0; consumers],
        }
    }

    /// `rows` more went (or were dropped on their way) to `consumer`.
    pub fn add(&mut self, consumer: usize, rows: usize) {
        if let Some(n) = self.rows.get_mut(consumer) {
            *n += rows as u64;
        }
    }

    /// Barrier `checkpoint` went to every consumer after what was routed
    /// so far.
    pub fn barrier(&mut self, checkpoint: u64) {
        if self.at_barriers.len() == REMEMBERED {
            self.at_barriers.pop_front();
        }
        self.at_barriers.push_back((checkpoint, self.rows.clone()));
    }

    /// The rows `consumer` was sent after barrier `restored_from` (all of
    /// them when it restored nothing, or a checkpoint too old to be
    /// remembered), less those an earlier restart already reported; they
    /// count as reported from now on.
    pub fn lost_since(&mut self, consumer: usize, restored_from: Option<u64>) -> u64 {
        let Some(&now) = self.rows.get(consumer) else {
            return 0;
        };
        let at_barrier = restored_from
            .and_then(|id| self.at_barriers.iter().find(|(b, _)| *b == id))
            .and_then(|(_, rows)| rows.get(consumer).copied())
            .unwrap_or(0);
        let reported = std::mem::replace(&mut self.reported[consumer], now);
        now.saturating_sub(at_barrier.max(reported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_consumer_is_charged_what_it_was_sent_after_its_checkpoint() {
        let mut d = Delivered::new(2);
        d.add(0, 10);
        d.add(1, 5);
        d.barrier(1);
        d.add(0, 7);
        d.barrier(2);
        d.add(0, 3);
        d.add(1, 4);
        assert_eq!(d.lost_since(0, Some(1)), 10, "7 + 3 after barrier 1");
        assert_eq!(d.lost_since(1, Some(2)), 4);
    }

    #[test]
    fn nothing_restored_or_a_forgotten_checkpoint_charges_everything() {
        let mut d = Delivered::new(1);
        d.add(0, 3);
        for id in 1..=(REMEMBERED as u64 + 1) {
            d.barrier(id);
        }
        d.add(0, 2);
        assert_eq!(d.lost_since(0, Some(1)), 5, "barrier 1 was forgotten");
        let mut d = Delivered::new(1);
        d.add(0, 4);
        assert_eq!(d.lost_since(0, None), 4);
    }

    #[test]
    fn a_second_restart_from_the_same_checkpoint_is_not_charged_twice() {
        let mut d = Delivered::new(1);
        d.barrier(1);
        d.add(0, 6);
        assert_eq!(d.lost_since(0, Some(1)), 6);
        d.add(0, 2);
        assert_eq!(d.lost_since(0, Some(1)), 2, "only what came since");
        assert_eq!(d.lost_since(3, Some(1)), 0, "no such consumer");
    }
}
