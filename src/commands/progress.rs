//! A running job's progress on a terminal, as `faro run` and `faro submit
//! --wait` draw it on stderr: a line for the job (elapsed, tasks done, an
//! estimate of what is left) and a bar per vertex — tasks done of its
//! parallelism, tasks running, rows in and out, bytes, the rate rows
//! arrive at; a streaming job's rows/s and watermark instead of an
//! estimate.
//!
//! Fed with the job's record as the scheduler keeps it (`faro submit
//! --wait` reads it over REST, `faro run` keeps one from the embedded
//! cluster's progress steps) and drawn by indicatif, only when stderr is
//! a terminal: a pipe or a log file gets nothing extra. The estimate is
//! the tasks still to run at the pace tasks have finished so far: rough
//! for a job of few long tasks, nothing for a streaming one.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use std::sync::{Arc, Mutex};

use faro_runtime::plan::Plan;
use faro_runtime::spec::ValidJob;
use faro_scheduler::graph::{job_graph, JobGraph};
use faro_scheduler::jobs::{now_ms, AttemptState, JobRecord, JobState};
use faro_scheduler::Embedded;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::status_view::{bytes, duration};

/// The bars of one job.
pub struct LiveProgress {
    multi: MultiProgress,
    job: ProgressBar,
    vertices: Vec<ProgressBar>,
    started: Instant,
    previous: Option<(Instant, Vec<u64>)>,
}

/// What one vertex has done, from a record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VertexProgress {
    /// Subtasks whose last attempt finished.
    pub done: u64,
    /// Attempts running.
    pub running: u64,
    /// Rows its heads took in (or produced, for sources).
    pub rows_in: u64,
    /// Rows it shipped.
    pub rows_out: u64,
    /// Bytes it shipped.
    pub bytes_out: u64,
    /// The slowest running attempt's watermark.
    pub watermark_ms: Option<i64>,
}

/// Each vertex's progress in `record`, in `graph`'s order.
pub fn vertex_progress(graph: &JobGraph, record: &JobRecord) -> Vec<VertexProgress> {
    graph
        .vertices
        .iter()
        .map(|vertex| {
            let mut progress = VertexProgress::default();
            for task in record.tasks.iter().filter(|t| t.chain == vertex.chain) {
                let Some(last) = task.attempts.last() else {
                    continue;
                };
                progress.rows_in += last.rows_in;
                progress.rows_out += last.rows_out;
                progress.bytes_out += last.bytes_out;
                match last.state {
                    AttemptState::Finished => progress.done += 1,
                    AttemptState::Running => {
                        progress.running += 1;
                        if let Some(w) = last.watermark_ms {
                            progress.watermark_ms =
                                Some(progress.watermark_ms.map_or(w, |m: i64| m.min(w)));
                        }
                    }
                    _ => {}
                }
            }
            progress
        })
        .collect()
}

/// A count as a person reads it: `950`, `12.3k`, `4.56M`.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}M", n as f64 / 1e6),
        _ => format!("{:.2}G", n as f64 / 1e9),
    }
}

/// What is left, at the pace tasks have finished: `None` before the first
/// task ends or once all have.
pub fn estimate_left(elapsed: Duration, done: u64, total: u64) -> Option<Duration> {
    if done == 0 || done >= total {
        return None;
    }
    Some(elapsed.mul_f64((total - done) as f64 / done as f64))
}

impl LiveProgress {
    /// Bars for `graph`, or `None` when stderr is not a terminal.
    pub fn start(graph: &JobGraph) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let job = multi.add(ProgressBar::new_spinner());
        job.set_style(ProgressStyle::with_template("{spinner} {msg}").ok()?);
        let style =
            ProgressStyle::with_template("  {prefix:<28!} {bar:20} {pos:>3}/{len:<3} {msg}")
                .ok()?
                .progress_chars("█▌ ");
        let vertices = graph
            .vertices
            .iter()
            .map(|vertex| {
                let bar = multi.add(ProgressBar::new(u64::from(vertex.parallelism)));
                bar.set_style(style.clone());
                bar.set_prefix(vertex.name.clone());
                bar
            })
            .collect();
        Some(Self {
            multi,
            job,
            vertices,
            started: Instant::now(),
            previous: None,
        })
    }

    /// Draws `record` (of the job `graph` describes).
    pub fn update(&mut self, graph: &JobGraph, record: &JobRecord) {
        let now = Instant::now();
        let progress = vertex_progress(graph, record);
        let rows: Vec<u64> = progress.iter().map(|p| p.rows_in).collect();
        let rates: Vec<Option<f64>> = match &self.previous {
            Some((then, before)) if now > *then => {
                let seconds = (now - *then).as_secs_f64();
                rows.iter()
                    .zip(before)
                    .map(|(n, b)| Some(n.saturating_sub(*b) as f64 / seconds))
                    .collect()
            }
            _ => vec![None; rows.len()],
        };
        // Rates over at least half a second, so they do not flicker.
        if self
            .previous
            .as_ref()
            .is_none_or(|(then, _)| now - *then >= Duration::from_millis(500))
        {
            self.previous = Some((now, rows));
        }
        // The job's line first: whichever bar changes next draws them all.
        let done: u64 = progress.iter().map(|p| p.done).sum();
        let total: u64 = graph
            .vertices
            .iter()
            .map(|v| u64::from(v.parallelism))
            .sum();
        let elapsed = self.started.elapsed();
        let mut line = format!(
            "{} {} · {} · {done}/{total} tasks",
            record.name,
            serde_json::to_value(record.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            duration(elapsed.as_millis() as u64),
        );
        if !record.streaming {
            if let Some(left) = estimate_left(elapsed, done, total) {
                line.push_str(&format!(
                    " · about {} left",
                    duration(left.as_millis() as u64)
                ));
            }
        }
        self.job.set_message(line);
        self.job.tick();
        for (bar, (p, rate)) in self.vertices.iter().zip(progress.iter().zip(&rates)) {
            bar.set_position(p.done);
            let mut parts = vec![format!(
                "rows in {} · out {} · {}",
                count(p.rows_in),
                count(p.rows_out),
                bytes(p.bytes_out)
            )];
            if p.running > 0 {
                parts.push(format!("{} running", p.running));
            }
            if let Some(rate) = rate.filter(|_| p.running > 0) {
                parts.push(format!("{}/s", count(rate.round() as u64)));
            }
            if let Some(w) = p.watermark_ms {
                let at = jiff::Timestamp::from_millisecond(w)
                    .map(|t| t.strftime("%H:%M:%S").to_string())
                    .unwrap_or_default();
                parts.push(format!("watermark {at}"));
            }
            bar.set_message(parts.join(" · "));
        }
    }

    /// Takes the bars off the terminal (the result prints after them).
    pub fn finish(self) {
        for bar in &self.vertices {
            bar.finish_and_clear();
        }
        self.job.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// A job `faro run` runs in this process, watched: its record kept from
/// the embedded cluster's progress steps, with its running attempts' rows
/// so far, drawn as [`LiveProgress`].
pub struct Watched {
    record: Arc<Mutex<JobRecord>>,
    graph: JobGraph,
    bars: LiveProgress,
}

fn lock(record: &Mutex<JobRecord>) -> std::sync::MutexGuard<'_, JobRecord> {
    record
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Watched {
    /// Starts watching `job` (run as `job_id` on `cluster`), or `None`
    /// when stderr is not a terminal.
    pub fn start(cluster: &Embedded, job_id: &str, job: &ValidJob) -> Option<Self> {
        let graph = job_graph(&Plan::new(job));
        let bars = LiveProgress::start(&graph)?;
        let names: Vec<String> = graph.vertices.iter().map(|v| v.name.clone()).collect();
        let record = Arc::new(Mutex::new(JobRecord {
            state: JobState::Running,
            started_ms: Some(now_ms()),
            ..JobRecord::queued(
                job_id.to_string(),
                job.name.clone(),
                job.streaming,
                now_ms(),
            )
        }));
        let kept = record.clone();
        cluster.watch_progress(Some(Arc::new(move |step| {
            lock(&kept).apply(step, &names, now_ms());
        })));
        Some(Self {
            record,
            graph,
            bars,
        })
    }

    /// Draws where the job has got to, its running attempts' rows as
    /// `cluster`'s workers count them now.
    pub fn draw(&mut self, cluster: &Embedded, job_id: &str) {
        let mut record = lock(&self.record).clone();
        record.show_progress(&cluster.cluster().workers.progress(job_id));
        self.bars.update(&self.graph, &record);
    }

    /// Stops watching and takes the bars off the terminal.
    pub fn finish(self, cluster: &Embedded) {
        cluster.watch_progress(None);
        self.bars.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_tasks_left_at_the_pace_so_far() {
        let ten = Duration::from_secs(10);
        assert_eq!(estimate_left(ten, 0, 4), None);
        assert_eq!(estimate_left(ten, 1, 4), Some(Duration::from_secs(30)));
        assert_eq!(estimate_left(ten, 4, 4), None);
    }

    #[test]
    fn counts_read_short() {
        assert_eq!(count(950), "950");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(4_560_000), "4.56M");
    }
}
