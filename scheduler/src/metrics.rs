//! The scheduler's Prometheus metrics, computed from the job records when
//! scraped (so they can never drift from what `GET /v1/jobs` says, and a
//! restarted scheduler reports the same totals).
//!
//! Cluster-wide series: jobs by state, workers alive, task attempts and
//! re-runs by cause. Per job (labels `job`, and `vertex`/`subtask` for
//! tasks), for unfinished jobs and the latest [`RETAINED_JOBS`] finished
//! ones: its state, each subtask's attempts and its re-runs by cause; for
//! a training job, its last epoch, loss and the epochs' durations
//! (`faro_iteration_epoch`, `faro_iteration_loss`,
//! `faro_iteration_epoch_seconds`).

use faro_shuffle::metrics::registered;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::jobs::{JobRecord, JobState};

/// Finished jobs whose per-job series the scheduler exports.
pub const RETAINED_JOBS: usize = 50;

const STATES: [(JobState, &str); 5] = [
    (JobState::Queued, "queued"),
    (JobState::Running, "running"),
    (JobState::Finished, "finished"),
    (JobState::Failed, "failed"),
    (JobState::Cancelled, "cancelled"),
];

fn state_label(state: JobState) -> &'static str {
    STATES
        .iter()
        .find(|(s, _)| *s == state)
        .map_or("unknown", |(_, label)| label)
}

/// Renders the scheduler's metrics for `jobs` and `workers` alive.
pub fn render(jobs: &[JobRecord], workers: usize) -> String {
    let r = Registry::new();
    let jobs_by_state = registered(
        &r,
        IntGaugeVec::new(
            Opts::new("faro_scheduler_jobs", "Jobs by state"),
            &["state"],
        ),
    );
    let workers_alive = registered(&r, IntGauge::new("faro_scheduler_workers", "Workers alive"));
    let reruns = registered(
        &r,
        IntCounterVec::new(
            Opts::new(
                "faro_scheduler_reruns_total",
                "Work run again after failures, by cause",
            ),
            &["cause"],
        ),
    );
    let attempts = registered(
        &r,
        IntCounter::new(
            "faro_scheduler_task_attempts_total",
            "Task attempts deployed",
        ),
    );
    let job_state = registered(
        &r,
        IntGaugeVec::new(
            Opts::new("faro_job_state", "1 for the job's current state"),
            &["job", "state"],
        ),
    );
    let job_attempts = registered(
        &r,
        IntCounterVec::new(
            Opts::new(
                "faro_job_task_attempts_total",
                "Attempts deployed for each subtask of a job",
            ),
            &["job", "vertex", "subtask"],
        ),
    );
    let job_reruns = registered(
        &r,
        IntCounterVec::new(
            Opts::new("faro_job_reruns_total", "A job's re-runs, by cause"),
            &["job", "cause"],
        ),
    );

    let epoch = registered(
        &r,
        IntGaugeVec::new(
            Opts::new(
                "faro_iteration_epoch",
                "A training job's last finished epoch",
            ),
            &["job"],
        ),
    );
    let loss = registered(
        &r,
        GaugeVec::new(
            Opts::new(
                "faro_iteration_loss",
                "A training job's loss at its last epoch",
            ),
            &["job"],
        ),
    );
    let epoch_seconds = registered(
        &r,
        HistogramVec::new(
            HistogramOpts::new(
                "faro_iteration_epoch_seconds",
                "How long a training job's epochs took",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0]),
            &["job"],
        ),
    );

    workers_alive.set(workers as i64);
    for (_, label) in STATES {
        jobs_by_state.with_label_values(&[label]).set(0);
    }
    for cause in ["task_failed", "worker_lost", "partition_lost"] {
        reruns.with_label_values(&[cause]).inc_by(0);
    }
    for job in jobs {
        jobs_by_state
            .with_label_values(&[state_label(job.state)])
            .inc();
        for (cause, n) in causes(job) {
            reruns.with_label_values(&[cause]).inc_by(n);
        }
        let deployed: usize = job.tasks.iter().map(|t| t.attempts.len()).sum();
        attempts.inc_by(deployed as u64);
    }
    for job in exported(jobs) {
        for (state, label) in STATES {
            job_state
                .with_label_values(&[&job.id, label])
                .set(i64::from(state == job.state));
        }
        for task in &job.tasks {
            job_attempts
                .with_label_values(&[&job.id, &task.vertex, &task.subtask.to_string()])
                .inc_by(task.attempts.len() as u64);
        }
        for (cause, n) in causes(job) {
            job_reruns.with_label_values(&[&job.id, cause]).inc_by(n);
        }
        if let Some(last) = job.epochs.last() {
            epoch.with_label_values(&[&job.id]).set(last.epoch as i64);
            if let Some(value) = job.epochs.iter().rev().find_map(|e| e.loss) {
                loss.with_label_values(&[&job.id]).set(value);
            }
            for e in &job.epochs {
                epoch_seconds
                    .with_label_values(&[&job.id])
                    .observe(e.duration_ms as f64 / 1000.0);
            }
        }
    }
    checkpoint_series(&r, &exported(jobs));
    TextEncoder::new()
        .encode_to_string(&r.gather())
        .unwrap_or_else(|error| format!("# encoding failed: {error}\n"))
}

/// A checkpointed job's checkpoints: how many completed, were abandoned
/// or found unusable, restores, and the last one's duration, size and
/// alignment (Flink's `lastCheckpoint*` gauges).
fn checkpoint_series(r: &Registry, jobs: &[&JobRecord]) {
    let counted = registered(
        r,
        IntCounterVec::new(
            Opts::new(
                "faro_checkpoints_total",
                "A job's checkpoints by outcome (completed, abandoned, unusable on restore)",
            ),
            &["job", "outcome"],
        ),
    );
    let restores = registered(
        r,
        IntCounterVec::new(
            Opts::new(
                "faro_checkpoint_restores_total",
                "Times a job was restored from a checkpoint",
            ),
            &["job"],
        ),
    );
    let lost = registered(
        r,
        IntCounterVec::new(
            Opts::new(
                "faro_records_possibly_lost_total",
                "Rows neighbours sent tasks that approximate failover restarted alone, after the checkpoint they restored",
            ),
            &["job"],
        ),
    );
    let last =
        |name: &str, help: &str| registered(r, GaugeVec::new(Opts::new(name, help), &["job"]));
    let duration = last(
        "faro_checkpoint_last_duration_seconds",
        "Trigger to last acknowledgement of a job's newest complete checkpoint",
    );
    let size = last(
        "faro_checkpoint_last_size_bytes",
        "State bytes of a job's newest complete checkpoint",
    );
    let alignment = last(
        "faro_checkpoint_last_alignment_seconds",
        "Longest barrier alignment of any task in a job's newest complete checkpoint",
    );
    for job in jobs {
        let history = &job.checkpoints;
        let Some(newest) = history.completed.last() else {
            continue;
        };
        let outcomes = [
            (
                "completed",
                history.completed_total.max(history.completed.len() as u64),
            ),
            ("abandoned", history.abandoned),
            ("unusable", history.unusable.len() as u64),
        ];
        for (outcome, n) in outcomes {
            counted.with_label_values(&[&job.id, outcome]).inc_by(n);
        }
        restores
            .with_label_values(&[&job.id])
            .inc_by(history.restores.len() as u64);
        lost.with_label_values(&[&job.id])
            .inc_by(job.reruns.records_possibly_lost);
        duration
            .with_label_values(&[&job.id])
            .set(newest.duration_ms as f64 / 1000.0);
        size.with_label_values(&[&job.id]).set(newest.bytes as f64);
        alignment
            .with_label_values(&[&job.id])
            .set(newest.alignment_ms as f64 / 1000.0);
    }
}

fn causes(job: &JobRecord) -> [(&'static str, u64); 3] {
    [
        ("task_failed", u64::from(job.reruns.task_failures)),
        ("worker_lost", u64::from(job.reruns.lost_workers)),
        ("partition_lost", u64::from(job.reruns.lost_partitions)),
    ]
}

/// The jobs with per-job series: every unfinished one and the latest
/// finished ones.
fn exported(jobs: &[JobRecord]) -> Vec<&JobRecord> {
    let mut finished: Vec<&JobRecord> = jobs.iter().filter(|j| j.state.is_terminal()).collect();
    finished.sort_by_key(|j| std::cmp::Reverse(j.finished_ms.unwrap_or(j.submitted_ms)));
    finished.truncate(RETAINED_JOBS);
    jobs.iter()
        .filter(|j| !j.state.is_terminal())
        .chain(finished)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{AttemptState, AttemptStatus, Reruns, TaskStatus};

    fn job(id: &str, state: JobState, finished_ms: u64, attempts: usize) -> JobRecord {
        JobRecord {
            id: id.into(),
            name: "t".into(),
            state,
            submitted_ms: 0,
            started_ms: Some(0),
            finished_ms: state.is_terminal().then_some(finished_ms),
            error: None,
            vertices: vec![],
            tasks: vec![TaskStatus {
                vertex: "src->map".into(),
                chain: 0,
                subtask: 1,
                attempts: (0..attempts)
                    .map(|attempt| AttemptStatus {
                        state: AttemptState::Finished,
                        finished_ms: Some(1),
                        ..AttemptStatus::running(attempt as u32, "w".into(), 0)
                    })
                    .collect(),
            }],
            reruns: Reruns {
                task_failures: attempts.saturating_sub(1) as u32,
                ..Reruns::default()
            },
            done_regions: vec![],
            streaming: false,
            epochs: Vec::new(),
            iteration: None,
            divided: Vec::new(),
            checkpoints: Default::default(),
        }
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    #[test]
    fn jobs_attempts_and_reruns_are_counted_per_job_and_in_total() {
        let jobs = vec![
            job("a", JobState::Finished, 10, 2),
            job("b", JobState::Running, 0, 1),
        ];
        let text = render(&jobs, 3);
        assert_eq!(
            value(&text, r#"faro_scheduler_jobs{state="finished"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&text, r#"faro_scheduler_jobs{state="failed"}"#),
            Some(0.0)
        );
        assert_eq!(value(&text, "faro_scheduler_workers"), Some(3.0));
        assert_eq!(
            value(&text, "faro_scheduler_task_attempts_total"),
            Some(3.0)
        );
        assert_eq!(
            value(&text, r#"faro_scheduler_reruns_total{cause="task_failed"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"faro_job_task_attempts_total{job="a",subtask="1",vertex="src->map"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(&text, r#"faro_job_state{job="b",state="running"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&text, r#"faro_job_state{job="b",state="queued"}"#),
            Some(0.0)
        );
        assert_eq!(
            value(
                &text,
                r#"faro_job_reruns_total{cause="task_failed",job="a"}"#
            ),
            Some(1.0)
        );
    }

    #[test]
    fn only_the_latest_finished_jobs_have_series_of_their_own() {
        let mut jobs: Vec<JobRecord> = (0..RETAINED_JOBS + 1)
            .map(|i| job(&format!("old{i}"), JobState::Finished, i as u64, 1))
            .collect();
        jobs.push(job("live", JobState::Running, 0, 1));
        let text = render(&jobs, 0);
        assert!(!text.contains(r#"job="old0""#));
        assert!(text.contains(r#"job="old1""#));
        assert!(text.contains(r#"job="live""#));
        assert_eq!(
            value(&text, "faro_scheduler_task_attempts_total"),
            Some((RETAINED_JOBS + 2) as f64),
            "totals still count every job"
        );
    }

    #[test]
    fn a_checkpointed_job_exports_its_checkpoint_counts_and_newest_checkpoint() {
        let mut streaming = job("job-s", JobState::Running, 0, 1);
        let record = |id, duration_ms, bytes| crate::coordinator::CheckpointRecord {
            id,
            triggered_ms: 0,
            duration_ms,
            bytes,
            alignment_ms: 250,
            in_flight_bytes: 0,
            sync_ms: 1,
            tasks: 4,
            shared_from: None,
            finished: Vec::new(),
        };
        streaming.checkpoints.completed = vec![record(3, 100, 10), record(5, 1500, 4096)];
        streaming.checkpoints.completed_total = 4;
        streaming.checkpoints.abandoned = 1;
        streaming.checkpoints.unusable = vec![4];
        streaming.checkpoints.restores = vec![4, 3];
        streaming.reruns.records_possibly_lost = 17;
        let text = render(&[streaming, job("job-b", JobState::Finished, 1, 1)], 1);
        let series = |name: &str| value(&text, name);
        let completed = r#"faro_checkpoints_total{job="job-s",outcome="completed"}"#;
        assert_eq!(series(completed), Some(4.0), "{text}");
        let abandoned = r#"faro_checkpoints_total{job="job-s",outcome="abandoned"}"#;
        assert_eq!(series(abandoned), Some(1.0));
        let unusable = r#"faro_checkpoints_total{job="job-s",outcome="unusable"}"#;
        assert_eq!(series(unusable), Some(1.0));
        let restores = r#"faro_checkpoint_restores_total{job="job-s"}"#;
        assert_eq!(series(restores), Some(2.0));
        let lost = r#"faro_records_possibly_lost_total{job="job-s"}"#;
        assert_eq!(series(lost), Some(17.0));
        let duration = r#"faro_checkpoint_last_duration_seconds{job="job-s"}"#;
        assert_eq!(series(duration), Some(1.5));
        let size = r#"faro_checkpoint_last_size_bytes{job="job-s"}"#;
        assert_eq!(series(size), Some(4096.0));
        let alignment = r#"faro_checkpoint_last_alignment_seconds{job="job-s"}"#;
        assert_eq!(series(alignment), Some(0.25));
        // A job without checkpoints has no such series.
        assert!(!text.contains(r#"job="job-b",outcome"#), "{text}");
    }
}
