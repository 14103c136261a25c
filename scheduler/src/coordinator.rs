//! The checkpoint coordinator's decisions, without I/O: which checkpoint
//! to start, whose acknowledgements it waits for, when it is complete,
//! abandoned or timed out, and which complete checkpoints to keep. The
//! driver does the talking (triggers, completion notices, deleting old
//! checkpoints) and the recording.
//!
//! One checkpoint is in flight at a time, as Flink's default
//! (`max-concurrent-checkpoints: 1`). A checkpoint waits for every task
//! of the region under the attempt it was triggered for: an
//! acknowledgement from another attempt (a restarted task's predecessor)
//! is ignored, a task that could not store its state declines it, and one
//! that takes longer than the timeout is abandoned. Ids only grow, also
//! across restores and scheduler restarts.
//!
//! Checkpoints go on after tasks finish, as Flink's FLIP-147: a task whose
//! input had ended before the checkpoint, or ends before its barrier
//! reaches it, has sent everything it ever will, and its consumers'
//! state holds all of it. It is recorded as *finished* in the checkpoint
//! instead of acknowledging, and a restore ends it at once.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use faro_runtime::checkpoint::{CheckpointAck, TaskCheckpointStats};
use serde::{Deserialize, Serialize};

/// A complete checkpoint, as the job's history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// Its id.
    pub id: u64,
    /// When it was triggered (ms since the epoch).
    pub triggered_ms: u64,
    /// Milliseconds from trigger to the last acknowledgement.
    pub duration_ms: u64,
    /// Bytes of state over all tasks.
    pub bytes: u64,
    /// The longest barrier alignment of any task (unaligned: the longest
    /// time from a task's first barrier to the last in-flight message).
    pub alignment_ms: u64,
    /// In-flight bytes stored (an unaligned checkpoint's overtaken data).
    #[serde(default)]
    pub in_flight_bytes: u64,
    /// The longest synchronous (on the task's loop) part of any task.
    pub sync_ms: u64,
    /// Tasks that acknowledged.
    pub tasks: u32,
    /// The oldest earlier checkpoint whose files it points into (an
    /// incremental checkpoint's unchanged parts), which must be kept
    /// while it is.
    #[serde(default)]
    pub shared_from: Option<u64>,
    /// Tasks (chain, subtask) that had finished by this checkpoint: a
    /// restore from it ends them at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finished: Vec<(usize, u32)>,
}

/// A checkpoint waiting for acknowledgements.
#[derive(Debug)]
struct Pending {
    id: u64,
    started: Instant,
    /// Whether its barriers overtake data (no alignment to time out).
    unaligned: bool,
    triggered_ms: u64,
    /// The attempt each task must acknowledge from.
    expected: HashMap<(usize, u32), u32>,
    acked: HashMap<(usize, u32), TaskCheckpointStats>,
    /// Tasks finished before it, and those expected that ended before its
    /// barrier reached them.
    finished: BTreeSet<(usize, u32)>,
}

impl Pending {
    /// Expected tasks that acknowledged or ended.
    fn settled(&self) -> usize {
        let ended = self.expected.keys().filter(|t| self.finished.contains(t));
        self.acked.len() + ended.count()
    }
}

/// What an acknowledgement meant.
#[derive(Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// Not for the checkpoint in flight or its attempts.
    Ignored,
    /// Counted; others are still missing.
    Waiting,
    /// The last one: the checkpoint is complete.
    Completed(CheckpointRecord),
    /// A task could not take its part: the checkpoint is abandoned.
    Declined {
        /// The checkpoint.
        id: u64,
        /// The task's reason.
        reason: String,
    },
}

/// The coordinator of one job's checkpoints.
#[derive(Debug)]
pub struct Coordinator {
    next: u64,
    pending: Option<Pending>,
}

impl Coordinator {
    /// Ids start after `last` (the highest id the job used before).
    pub fn new(last: u64) -> Self {
        Self {
            next: last + 1,
            pending: None,
        }
    }

    /// The checkpoint in flight, if any.
    pub fn pending(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.id)
    }

    /// Starts the next checkpoint over `tasks` (chain, subtask, attempt),
    /// the running tasks, unless one is in flight; `finished` are those
    /// whose input had ended already.
    pub fn trigger(
        &mut self,
        tasks: &[(usize, u32, u32)],
        finished: &[(usize, u32)],
        now: Instant,
        now_ms: u64,
        unaligned: bool,
    ) -> Option<u64> {
        if self.pending.is_some() || tasks.is_empty() {
            return None;
        }
        let id = self.next;
        self.next += 1;
        self.pending = Some(Pending {
            id,
            started: now,
            unaligned,
            triggered_ms: now_ms,
            expected: tasks.iter().map(|&(c, s, a)| ((c, s), a)).collect(),
            acked: HashMap::new(),
            finished: finished.iter().copied().collect(),
        });
        Some(id)
    }

    /// Task (`chain`, `subtask`) under `attempt` ended, the last
    /// checkpoint it took part in being `snapshotted`. If that is before
    /// the one in flight, its barrier never reached the task, which
    /// counts as finished; otherwise its acknowledgement is on the way.
    pub fn finished(
        &mut self,
        (chain, subtask): (usize, u32),
        attempt: u32,
        snapshotted: u64,
        now: Instant,
    ) -> AckOutcome {
        let Some(pending) = self.pending.as_mut() else {
            return AckOutcome::Ignored;
        };
        let task = (chain, subtask);
        if pending.expected.get(&task) != Some(&attempt)
            || snapshotted >= pending.id
            || pending.acked.contains_key(&task)
        {
            return AckOutcome::Ignored;
        }
        pending.finished.insert(task);
        self.complete_if_settled(now)
    }

    /// Takes one task's acknowledgement.
    pub fn ack(&mut self, ack: &CheckpointAck, now: Instant) -> AckOutcome {
        let Some(pending) = self.pending.as_mut() else {
            return AckOutcome::Ignored;
        };
        let task = (ack.chain, ack.subtask);
        if ack.checkpoint != pending.id || pending.expected.get(&task) != Some(&ack.attempt) {
            return AckOutcome::Ignored;
        }
        let stats = match &ack.outcome {
            Ok(stats) => *stats,
            Err(reason) => {
                let id = pending.id;
                self.pending = None;
                return AckOutcome::Declined {
                    id,
                    reason: reason.clone(),
                };
            }
        };
        pending.acked.insert(task, stats);
        self.complete_if_settled(now)
    }

    /// Completes the checkpoint in flight if every expected task has
    /// acknowledged or ended.
    fn complete_if_settled(&mut self, now: Instant) -> AckOutcome {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.settled() < p.expected.len())
        {
            return AckOutcome::Waiting;
        }
        let Some(done) = self.pending.take() else {
            return AckOutcome::Ignored;
        };
        let stats = done.acked.values();
        AckOutcome::Completed(CheckpointRecord {
            id: done.id,
            triggered_ms: done.triggered_ms,
            duration_ms: now.saturating_duration_since(done.started).as_millis() as u64,
            bytes: stats.clone().map(|s| s.bytes).sum(),
            alignment_ms: stats.clone().map(|s| s.alignment_ms).max().unwrap_or(0),
            in_flight_bytes: stats.clone().map(|s| s.in_flight_bytes).sum(),
            sync_ms: stats.clone().map(|s| s.sync_ms).max().unwrap_or(0),
            tasks: done.acked.len() as u32,
            shared_from: stats.filter_map(|s| s.shared_from).min(),
            finished: done.finished.into_iter().collect(),
        })
    }

    /// Abandons the checkpoint in flight if it has run past `timeout`;
    /// returns its id.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Option<u64> {
        let late = self
            .pending
            .as_ref()
            .is_some_and(|p| now.saturating_duration_since(p.started) > timeout);
        late.then(|| self.abandon()).flatten()
    }

    /// Abandons the aligned checkpoint in flight if its alignment has run
    /// past `limit` (Flink's aligned checkpoint timeout, decided here for
    /// the whole checkpoint): the next one should be unaligned. Returns
    /// its id.
    pub fn past_alignment(&mut self, now: Instant, limit: Duration) -> Option<u64> {
        let late = self
            .pending
            .as_ref()
            .is_some_and(|p| !p.unaligned && now.saturating_duration_since(p.started) >= limit);
        late.then(|| self.abandon()).flatten()
    }

    /// When the aligned checkpoint in flight (if any) reaches `limit`.
    pub fn alignment_deadline(&self, limit: Duration) -> Option<Instant> {
        let pending = self.pending.as_ref().filter(|p| !p.unaligned)?;
        Some(pending.started + limit)
    }

    /// Abandons the checkpoint in flight (its tasks are restarting);
    /// returns its id.
    pub fn abandon(&mut self) -> Option<u64> {
        self.pending.take().map(|p| p.id)
    }
}

/// Of the complete checkpoints `complete` (oldest first, each with the
/// oldest earlier checkpoint its files point into), those to delete so
/// that the newest `retain` are kept, and every one whose files a kept
/// one may point into.
pub fn beyond_retention(complete: &[(u64, Option<u64>)], retain: u32) -> Vec<u64> {
    let keep = (retain as usize).max(1);
    let cut = complete.len().saturating_sub(keep);
    let pointed_into = complete[cut..].iter().filter_map(|&(_, from)| from).min();
    complete[..cut]
        .iter()
        .map(|&(id, _)| id)
        .filter(|&id| pointed_into.is_none_or(|from| id < from))
        .collect()
}

#[cfg(test)]
mod alignment_tests {
    use super::*;

    #[test]
    fn an_aligned_checkpoint_past_its_alignment_limit_gives_way_an_unaligned_one_never() {
        let tasks = [(0, 0, 0)];
        let now = Instant::now();
        let limit = Duration::from_millis(100);
        let mut c = Coordinator::new(0);
        assert_eq!(c.trigger(&tasks, &[], now, 0, false), Some(1));
        assert_eq!(c.alignment_deadline(limit), Some(now + limit));
        assert_eq!(c.past_alignment(now + limit / 2, limit), None);
        assert_eq!(c.past_alignment(now + limit, limit), Some(1));
        assert_eq!(c.trigger(&tasks, &[], now + limit, 0, true), Some(2));
        assert_eq!(c.alignment_deadline(limit), None);
        assert_eq!(c.past_alignment(now + limit * 10, limit), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(checkpoint: u64, chain: usize, subtask: u32, attempt: u32) -> CheckpointAck {
        CheckpointAck {
            job: "j".into(),
            chain,
            subtask,
            attempt,
            checkpoint,
            outcome: Ok(TaskCheckpointStats {
                bytes: 10,
                alignment_ms: u64::from(subtask),
                sync_ms: 1,
                async_ms: 2,
                in_flight_bytes: 3,
                shared_from: (subtask > 0).then_some(u64::from(subtask)),
            }),
        }
    }

    #[test]
    fn a_checkpoint_completes_once_every_task_of_its_attempts_acknowledged() {
        let now = Instant::now();
        let mut c = Coordinator::new(4);
        let tasks = [(0, 0, 1), (0, 1, 1), (1, 0, 1)];
        assert_eq!(c.trigger(&tasks, &[], now, 1_000, false), Some(5));
        assert_eq!(
            c.trigger(&tasks, &[], now, 1_000, false),
            None,
            "one at a time"
        );
        assert_eq!(c.ack(&ack(5, 0, 0, 1), now), AckOutcome::Waiting);
        assert_eq!(
            c.ack(&ack(5, 0, 1, 0), now),
            AckOutcome::Ignored,
            "old attempt"
        );
        assert_eq!(
            c.ack(&ack(4, 0, 1, 1), now),
            AckOutcome::Ignored,
            "old checkpoint"
        );
        assert_eq!(c.ack(&ack(5, 0, 1, 1), now), AckOutcome::Waiting);
        let later = now + Duration::from_millis(30);
        let AckOutcome::Completed(record) = c.ack(&ack(5, 1, 0, 1), later) else {
            panic!("not complete");
        };
        assert_eq!(
            (
                record.id,
                record.bytes,
                record.tasks,
                record.alignment_ms,
                record.duration_ms
            ),
            (5, 30, 3, 1, 30)
        );
        assert_eq!(
            record.shared_from,
            Some(1),
            "the oldest any task points into"
        );
        assert_eq!(c.pending(), None);
        assert_eq!(c.trigger(&tasks, &[], later, 2_000, false), Some(6));
    }

    #[test]
    fn a_decline_or_a_timeout_abandons_it_and_ids_keep_growing() {
        let now = Instant::now();
        let mut c = Coordinator::new(0);
        let tasks = [(0, 0, 0), (0, 1, 0)];
        assert_eq!(c.trigger(&tasks, &[], now, 0, false), Some(1));
        let mut declined = ack(1, 0, 1, 0);
        declined.outcome = Err("disk full".into());
        assert_eq!(
            c.ack(&declined, now),
            AckOutcome::Declined {
                id: 1,
                reason: "disk full".into()
            }
        );
        assert_eq!(c.trigger(&tasks, &[], now, 0, false), Some(2));
        let timeout = Duration::from_secs(1);
        assert_eq!(c.expire(now + timeout, timeout), None);
        assert_eq!(c.expire(now + timeout * 2, timeout), Some(2));
        assert_eq!(c.trigger(&tasks, &[], now, 0, false), Some(3));
        assert_eq!(c.abandon(), Some(3));
        assert_eq!(c.ack(&ack(3, 0, 0, 0), now), AckOutcome::Ignored);
    }

    #[test]
    fn a_task_that_ends_before_its_barrier_counts_as_finished_one_after_must_acknowledge() {
        let now = Instant::now();
        let mut c = Coordinator::new(0);
        // (0, 0) ended before the trigger; the source (1, 0) and the
        // consumers (2, 0), (2, 1) run.
        let running = [(1, 0, 0), (2, 0, 0), (2, 1, 0)];
        assert_eq!(c.trigger(&running, &[(0, 0)], now, 0, false), Some(1));
        assert_eq!(c.ack(&ack(1, 1, 0, 0), now), AckOutcome::Waiting);
        // (2, 0) ends having taken part: its acknowledgement still counts.
        assert_eq!(c.finished((2, 0), 0, 1, now), AckOutcome::Ignored);
        // An attempt the checkpoint does not wait for.
        assert_eq!(c.finished((2, 1), 3, 0, now), AckOutcome::Ignored);
        assert_eq!(c.ack(&ack(1, 2, 0, 0), now), AckOutcome::Waiting);
        // (2, 1) ends before the barrier reached it.
        let AckOutcome::Completed(record) = c.finished((2, 1), 0, 0, now) else {
            panic!("not complete");
        };
        assert_eq!(record.finished, [(0, 0), (2, 1)]);
        assert_eq!(record.tasks, 2, "tasks that acknowledged");
        // Nothing in flight: an ended task changes nothing.
        assert_eq!(c.finished((1, 0), 0, 1, now), AckOutcome::Ignored);
    }

    #[test]
    fn retention_keeps_the_newest() {
        let whole = |ids: &[u64]| ids.iter().map(|&id| (id, None)).collect::<Vec<_>>();
        assert_eq!(beyond_retention(&whole(&[1, 2, 3, 4, 5]), 3), [1, 2]);
        assert!(beyond_retention(&whole(&[1, 2]), 3).is_empty());
        assert_eq!(
            beyond_retention(&whole(&[1, 2]), 0),
            [1],
            "at least one is kept"
        );
        // Incremental: 5 points into 2's files (and so maybe into 3's and
        // 4's), so only 1 goes.
        let shared = [
            (1, None),
            (2, None),
            (3, Some(2)),
            (4, Some(2)),
            (5, Some(2)),
        ];
        assert_eq!(beyond_retention(&shared, 1), [1]);
        let rebased = [(1, None), (2, None), (3, Some(2)), (4, None), (5, Some(4))];
        assert_eq!(beyond_retention(&rebased, 1), [1, 2, 3]);
    }
}
