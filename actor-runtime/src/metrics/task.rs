//! One task's series: cheap handles into the worker's metric vectors,
//! counted into by the task loop and its exchanges.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{Counter, GaugeVec, IntCounter, IntGauge};

use super::WorkerMetrics;

/// One task's counters. Cloning shares them; the default counts into
/// nothing (a task run outside a worker's metrics, as in unit tests).
#[derive(Clone)]
pub struct TaskMetrics {
    pub(super) records_in: IntCounter,
    pub(super) records_out: IntCounter,
    pub(super) bytes_in: IntCounter,
    pub(super) bytes_out: IntCounter,
    pub(super) backpressure: Counter,
    pub(super) credits: IntGauge,
    pub(super) shuffle_pushed: IntCounter,
    pub(super) shuffle_fetched: IntCounter,
    pub(super) shuffle_fetched_early: IntCounter,
    pub(super) late_records: IntCounter,
    pub(super) state_bytes: IntGauge,
    /// The series appears with the task's first watermark: a batch task
    /// has none, and a zero would read as 1970.
    pub(super) watermark: (GaugeVec, [String; 3]),
    /// The worker's restore duration and bytes (not per task: a restore
    /// is rare, and its time matters across the worker).
    pub(super) restores: (prometheus::Histogram, IntCounter),
    /// The worker's count of shuffle fetches that moved replica.
    pub(super) fetch_moves: IntCounter,
    /// This attempt's own counts and watermark, for status displays (the
    /// series above are per subtask, shared by its attempts).
    pub(super) progress: TaskProgress,
}

/// What a running task and the worker running it share: how far the task
/// has got — rows and bytes, time spent waiting for its consumers, the
/// watermark (for `faro status` and the web UI while it runs) — and
/// whether its job is being stopped (so a failure that stopping causes,
/// such as a neighbour gone first, counts as the stop it is, not as a
/// fault).
#[derive(Clone, Debug)]
pub struct TaskProgress(Arc<ProgressCells>);

#[derive(Debug)]
struct ProgressCells {
    watermark_ms: AtomicI64,
    stopping: AtomicBool,
    rows_in: AtomicU64,
    rows_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    backpressure_us: AtomicU64,
    late_records: AtomicU64,
}

impl Default for TaskProgress {
    fn default() -> Self {
        Self(Arc::new(ProgressCells {
            watermark_ms: AtomicI64::new(i64::MIN),
            stopping: AtomicBool::new(false),
            rows_in: AtomicU64::new(0),
            rows_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            backpressure_us: AtomicU64::new(0),
            late_records: AtomicU64::new(0),
        }))
    }
}

/// A running attempt's progress at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgressSnapshot {
    /// Rows its head consumed or produced so far.
    pub rows_in: u64,
    /// Rows it shipped so far.
    pub rows_out: u64,
    /// Bytes its head consumed or produced so far.
    pub bytes_in: u64,
    /// Bytes it shipped so far.
    pub bytes_out: u64,
    /// Time it waited for its consumers' credit, in milliseconds.
    pub backpressure_ms: u64,
    /// Event time it has reached, if it has had a watermark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_ms: Option<i64>,
    /// Rows it dropped for arriving after their window closed.
    #[serde(default)]
    pub late_records: u64,
}

impl TaskProgress {
    /// Where the task has got to now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let cells = &self.0;
        ProgressSnapshot {
            rows_in: cells.rows_in.load(Ordering::Relaxed),
            rows_out: cells.rows_out.load(Ordering::Relaxed),
            bytes_in: cells.bytes_in.load(Ordering::Relaxed),
            bytes_out: cells.bytes_out.load(Ordering::Relaxed),
            backpressure_ms: cells.backpressure_us.load(Ordering::Relaxed) / 1000,
            watermark_ms: self.watermark_ms(),
            late_records: cells.late_records.load(Ordering::Relaxed),
        }
    }

    /// The task's watermark (event-time ms), if it has had one.
    pub fn watermark_ms(&self) -> Option<i64> {
        Some(self.0.watermark_ms.load(Ordering::Relaxed)).filter(|&w| w != i64::MIN)
    }

    /// Whether the task's job is being stopped.
    pub fn stopping(&self) -> bool {
        self.0.stopping.load(Ordering::Acquire)
    }

    /// Says the task's job is being stopped (before any of its tasks is).
    pub fn stop(&self) {
        self.0.stopping.store(true, Ordering::Release);
    }
}

impl Default for TaskMetrics {
    fn default() -> Self {
        WorkerMetrics::new(0).task("", "", 0)
    }
}

impl TaskMetrics {
    /// Counts a batch the task's head took in.
    pub fn batch_in(&self, rows: usize, bytes: usize) {
        self.records_in.inc_by(rows as u64);
        self.bytes_in.inc_by(bytes as u64);
        let cells = &self.progress.0;
        cells.rows_in.fetch_add(rows as u64, Ordering::Relaxed);
        cells.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts a restore from a checkpoint: how long and how many bytes.
    pub fn restored(&self, took: Duration, bytes: usize) {
        self.restores.0.observe(took.as_secs_f64());
        self.restores.1.inc_by(bytes as u64);
    }

    /// Counts a batch the task shipped.
    pub fn batch_out(&self, rows: usize, bytes: usize) {
        self.records_out.inc_by(rows as u64);
        self.bytes_out.inc_by(bytes as u64);
        let cells = &self.progress.0;
        cells.rows_out.fetch_add(rows as u64, Ordering::Relaxed);
        cells.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Adds time the task waited for its consumers.
    pub fn backpressured(&self, waited: Duration) {
        if !waited.is_zero() {
            self.backpressure.inc_by(waited.as_secs_f64());
            let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
            self.progress
                .0
                .backpressure_us
                .fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// Sets the credit the task's outputs hold unused.
    pub fn set_credits(&self, credits: u64) {
        self.credits.set(i64::try_from(credits).unwrap_or(i64::MAX));
    }

    /// Counts bytes pushed to the shuffle service.
    pub fn shuffle_pushed(&self, bytes: usize) {
        self.shuffle_pushed.inc_by(bytes as u64);
    }

    /// Counts bytes fetched from the shuffle service.
    pub fn shuffle_fetched(&self, bytes: usize) {
        self.shuffle_fetched.inc_by(bytes as u64);
    }

    /// Counts bytes read from a hybrid edge while some of its maps were
    /// still producing (also counted as fetched).
    pub fn shuffle_fetched_early(&self, bytes: usize) {
        self.shuffle_fetched_early.inc_by(bytes as u64);
    }

    /// Counts a shuffle fetch that moved to another replica.
    pub fn shuffle_fetch_moved(&self) {
        self.fetch_moves.inc();
    }

    /// Where the task has got to (shared, for status displays).
    pub fn progress(&self) -> TaskProgress {
        self.progress.clone()
    }

    /// Records the task's watermark (event-time milliseconds).
    pub fn set_watermark(&self, watermark_ms: i64) {
        self.progress
            .0
            .watermark_ms
            .store(watermark_ms, Ordering::Relaxed);
        let (vec, labels) = &self.watermark;
        let labels: [&str; 3] = [&labels[0], &labels[1], &labels[2]];
        vec.with_label_values(&labels)
            .set(watermark_ms as f64 / 1000.0);
    }

    /// Counts rows dropped as late.
    pub fn late(&self, rows: usize) {
        self.late_records.inc_by(rows as u64);
        self.progress
            .0
            .late_records
            .fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Sets the bytes of keyed state the task holds.
    pub fn set_state_bytes(&self, bytes: usize) {
        self.state_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}
