//! A worker's Prometheus metrics: what each task did (labelled by job,
//! vertex and subtask, as Flink labels its task metrics), and the
//! worker's own slots and attempts.
//!
//! Tasks update their counters as batches and watermarks move
//! ([`TaskMetrics`]), so a scrape during a job sees it progress. A job's series outlive it for the next
//! [`RETAINED_JOBS`] jobs, so a scrape a little after a short job still
//! sees its final values, while a long-lived worker's series stay bounded.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use faro_shuffle::metrics::registered;
use prometheus::{
    exponential_buckets, CounterVec, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Finished jobs whose task series a worker keeps.
pub const RETAINED_JOBS: usize = 16;

mod task;

pub use task::{ProgressSnapshot, TaskMetrics, TaskProgress};

const TASK_LABELS: [&str; 3] = ["job", "vertex", "subtask"];

/// How an attempt ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It ran to its end.
    Finished,
    /// It failed (or could not be deployed).
    Failed,
    /// It was cancelled (the scheduler gave up on it or its job).
    Cancelled,
}

impl AttemptOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One worker's metrics and the registry that exports them.
pub struct WorkerMetrics {
    registry: Registry,
    records_in: IntCounterVec,
    records_out: IntCounterVec,
    bytes_in: IntCounterVec,
    bytes_out: IntCounterVec,
    backpressure: CounterVec,
    credits: IntGaugeVec,
    shuffle_pushed: IntCounterVec,
    shuffle_fetched: IntCounterVec,
    shuffle_fetched_early: IntCounterVec,
    late_records: IntCounterVec,
    state_bytes: IntGaugeVec,
    watermark: GaugeVec,
    attempts: IntCounterVec,
    attempt_seconds: Histogram,
    restore_seconds: Histogram,
    restored_bytes: prometheus::IntCounter,
    fetch_moves: prometheus::IntCounter,
    running: IntGauge,
    slots: IntGauge,
    /// Jobs with series, oldest first.
    jobs: Mutex<VecDeque<JobSeries>>,
}

/// A job and the (vertex, subtask) label pairs its series use.
type JobSeries = (String, Vec<(String, String)>);

impl WorkerMetrics {
    /// Fresh metrics for a worker with `slots` slots.
    pub fn new(slots: usize) -> Self {
        let r = Registry::new();
        let per_task = |name: &str, help: &str| {
            registered(&r, IntCounterVec::new(Opts::new(name, help), &TASK_LABELS))
        };
        let metrics = Self {
            records_in: per_task(
                "faro_task_records_in_total",
                "Records a task's head consumed (or its source produced)",
            ),
            records_out: per_task(
                "faro_task_records_out_total",
                "Records a task shipped downstream",
            ),
            bytes_in: per_task(
                "faro_task_bytes_in_total",
                "Bytes of batches a task consumed (or its source produced)",
            ),
            bytes_out: per_task(
                "faro_task_bytes_out_total",
                "Bytes of batches a task shipped downstream",
            ),
            backpressure: registered(
                &r,
                CounterVec::new(
                    Opts::new(
                        "faro_task_backpressure_seconds_total",
                        "Seconds a task waited for its consumers' credit",
                    ),
                    &TASK_LABELS,
                ),
            ),
            credits: registered(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "faro_task_credits_outstanding",
                        "Credits a task's receivers granted it and it has not used yet",
                    ),
                    &TASK_LABELS,
                ),
            ),
            shuffle_pushed: per_task(
                "faro_task_shuffle_bytes_pushed_total",
                "Bytes a task pushed to the shuffle service (every replica counted)",
            ),
            shuffle_fetched: per_task(
                "faro_task_shuffle_bytes_fetched_total",
                "Bytes a task fetched from the shuffle service",
            ),
            shuffle_fetched_early: per_task(
                "faro_task_shuffle_bytes_fetched_early_total",
                "Bytes a task read from hybrid edges while some of the edge's maps were still producing",
            ),
            late_records: per_task(
                "faro_task_late_records_total",
                "Rows a task dropped for arriving behind its watermark (past allowed lateness)",
            ),
            state_bytes: registered(
                &r,
                IntGaugeVec::new(
                    Opts::new("faro_task_state_bytes", "Bytes of keyed state a task holds"),
                    &TASK_LABELS,
                ),
            ),
            watermark: registered(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "faro_task_watermark_timestamp_seconds",
                        "Event time a task's watermark has reached (Unix seconds; lag = time() - this)",
                    ),
                    &TASK_LABELS,
                ),
            ),
            attempts: registered(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "faro_worker_attempts_total",
                        "Task attempts this worker ran, by how they ended",
                    ),
                    &["job", "vertex", "subtask", "outcome"],
                ),
            ),
            attempt_seconds: registered(
                &r,
                // 1 ms … ~17 min, doubling.
                exponential_buckets(1e-3, 2.0, 21).and_then(|buckets| {
                    Histogram::with_opts(
                        HistogramOpts::new(
                            "faro_worker_attempt_seconds",
                            "Duration of task attempts on this worker",
                        )
                        .buckets(buckets),
                    )
                }),
            ),
            restore_seconds: registered(
                &r,
                // 1 ms … ~17 min, doubling.
                exponential_buckets(1e-3, 2.0, 21).and_then(|buckets| {
                    Histogram::with_opts(
                        HistogramOpts::new(
                            "faro_worker_checkpoint_restore_seconds",
                            "Time a task took to read its checkpointed state and hand it to its operators",
                        )
                        .buckets(buckets),
                    )
                }),
            ),
            restored_bytes: registered(
                &r,
                prometheus::IntCounter::new(
                    "faro_worker_checkpoint_restored_bytes_total",
                    "Bytes of checkpointed state tasks on this worker read to restore",
                ),
            ),
            fetch_moves: registered(
                &r,
                prometheus::IntCounter::new(
                    "faro_worker_shuffle_fetch_moves_total",
                    "Shuffle fetches that moved to another replica mid-partition (node failed or silent)",
                ),
            ),
            running: registered(
                &r,
                IntGauge::new("faro_worker_running_attempts", "Attempts running now"),
            ),
            slots: registered(&r, IntGauge::new("faro_worker_slots", "Task slots")),
            registry: r,
            jobs: Mutex::new(VecDeque::new()),
        };
        metrics.slots.set(slots as i64);
        metrics
    }

    /// The counters of one task, created (at zero) if new.
    pub fn task(&self, job: &str, vertex: &str, subtask: u32) -> TaskMetrics {
        let subtask = subtask.to_string();
        self.remember(job, vertex, &subtask);
        let labels = [job, vertex, subtask.as_str()];
        TaskMetrics {
            records_in: self.records_in.with_label_values(&labels),
            records_out: self.records_out.with_label_values(&labels),
            bytes_in: self.bytes_in.with_label_values(&labels),
            bytes_out: self.bytes_out.with_label_values(&labels),
            backpressure: self.backpressure.with_label_values(&labels),
            credits: self.credits.with_label_values(&labels),
            shuffle_pushed: self.shuffle_pushed.with_label_values(&labels),
            shuffle_fetched: self.shuffle_fetched.with_label_values(&labels),
            shuffle_fetched_early: self.shuffle_fetched_early.with_label_values(&labels),
            late_records: self.late_records.with_label_values(&labels),
            state_bytes: self.state_bytes.with_label_values(&labels),
            watermark: (self.watermark.clone(), labels.map(str::to_string)),
            restores: (self.restore_seconds.clone(), self.restored_bytes.clone()),
            fetch_moves: self.fetch_moves.clone(),
            progress: TaskProgress::default(),
        }
    }

    fn remember(&self, job: &str, vertex: &str, subtask: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let pair = (vertex.to_string(), subtask.to_string());
        match jobs.iter_mut().find(|(j, _)| j == job) {
            Some((_, pairs)) => {
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
            None => {
                jobs.push_back((job.to_string(), vec![pair]));
                while jobs.len() > RETAINED_JOBS {
                    if let Some((old, pairs)) = jobs.pop_front() {
                        self.drop_series(&old, &pairs);
                    }
                }
            }
        }
    }

    fn drop_series(&self, job: &str, pairs: &[(String, String)]) {
        for (vertex, subtask) in pairs {
            let labels = [job, vertex.as_str(), subtask.as_str()];
            for vec in [
                &self.records_in,
                &self.records_out,
                &self.bytes_in,
                &self.bytes_out,
                &self.shuffle_pushed,
                &self.shuffle_fetched,
                &self.shuffle_fetched_early,
                &self.late_records,
            ] {
                let _ = vec.remove_label_values(&labels);
            }
            let _ = self.backpressure.remove_label_values(&labels);
            let _ = self.watermark.remove_label_values(&labels);
            let _ = self.credits.remove_label_values(&labels);
            let _ = self.state_bytes.remove_label_values(&labels);
            for outcome in [
                AttemptOutcome::Finished,
                AttemptOutcome::Failed,
                AttemptOutcome::Cancelled,
            ] {
                let _ = self.attempts.remove_label_values(&[
                    job,
                    vertex.as_str(),
                    subtask.as_str(),
                    outcome.label(),
                ]);
            }
        }
    }

    /// Counts an attempt that started.
    pub fn attempt_started(&self) {
        self.running.inc();
    }

    /// Counts an attempt that ended after `elapsed`.
    pub fn attempt_ended(
        &self,
        job: &str,
        vertex: &str,
        subtask: u32,
        outcome: AttemptOutcome,
        elapsed: Duration,
    ) {
        self.running.dec();
        self.attempt_seconds.observe(elapsed.as_secs_f64());
        self.attempts
            .with_label_values(&[job, vertex, &subtask.to_string(), outcome.label()])
            .inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| format!("# encoding failed: {error}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    #[test]
    fn task_counters_carry_job_vertex_and_subtask() {
        let metrics = WorkerMetrics::new(4);
        let task = metrics.task("j1", "agg", 1);
        task.batch_in(10, 800);
        task.batch_out(3, 240);
        task.shuffle_pushed(100);
        task.backpressured(Duration::from_millis(1500));
        let text = metrics.render();
        assert!(
            !text.contains("faro_task_watermark"),
            "none before the first"
        );
        task.set_watermark(1_700_000_000_500);
        task.late(2);
        metrics.attempt_started();
        metrics.attempt_ended(
            "j1",
            "agg",
            1,
            AttemptOutcome::Finished,
            Duration::from_secs(2),
        );
        let text = metrics.render();
        let labels = r#"{job="j1",subtask="1",vertex="agg"}"#;
        assert_eq!(
            value(&text, &format!("faro_task_records_in_total{labels}")),
            Some(10.0)
        );
        assert_eq!(
            value(&text, &format!("faro_task_bytes_out_total{labels}")),
            Some(240.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("faro_task_shuffle_bytes_pushed_total{labels}")
            ),
            Some(100.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("faro_task_backpressure_seconds_total{labels}")
            ),
            Some(1.5)
        );
        assert_eq!(
            value(
                &text,
                r#"faro_worker_attempts_total{job="j1",outcome="finished",subtask="1",vertex="agg"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("faro_task_watermark_timestamp_seconds{labels}")
            ),
            Some(1_700_000_000.5)
        );
        assert_eq!(
            value(&text, &format!("faro_task_late_records_total{labels}")),
            Some(2.0)
        );
        assert_eq!(value(&text, "faro_worker_running_attempts"), Some(0.0));
        assert_eq!(value(&text, "faro_worker_slots"), Some(4.0));
        assert_eq!(value(&text, "faro_worker_attempt_seconds_count"), Some(1.0));
    }

    #[test]
    fn a_rerun_adds_to_the_same_series() {
        let metrics = WorkerMetrics::new(1);
        metrics.task("j", "v", 0).batch_in(5, 5);
        metrics.task("j", "v", 0).batch_in(5, 5);
        let text = metrics.render();
        assert_eq!(
            value(
                &text,
                r#"faro_task_records_in_total{job="j",subtask="0",vertex="v"}"#
            ),
            Some(10.0)
        );
    }

    #[test]
    fn only_the_latest_jobs_keep_their_series() {
        let metrics = WorkerMetrics::new(1);
        for j in 0..RETAINED_JOBS + 2 {
            metrics.task(&format!("job{j}"), "v", 0).batch_in(1, 1);
            metrics.attempt_ended(
                &format!("job{j}"),
                "v",
                0,
                AttemptOutcome::Failed,
                Duration::ZERO,
            );
        }
        let text = metrics.render();
        assert!(!text.contains(r#"job="job0""#), "{text}");
        assert!(!text.contains(r#"job="job1""#));
        assert!(text.contains(r#"job="job2""#));
        assert!(text.contains(&format!(r#"job="job{}""#, RETAINED_JOBS + 1)));
    }
}
