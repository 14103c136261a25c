//! Deciding that a worker process is gone: the I/O around the pure
//! detector of [`crate::detector`].
//!
//! Every half heartbeat interval the registry asks the detector about each
//! remote worker's silence. A suspect is probed (`ToWorker::Probe` on its
//! control connection) before it is lost, so a scheduler that was itself
//! stalled — its expiry check running before the heartbeats queued in its
//! socket — does not re-run healthy work; an answered probe counts as a
//! sign of life, which also widens the spread the detector allows that
//! worker. A closed connection, and silence past the ceiling, lose the
//! worker at once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faro_shuffle::metrics::registered;
use faro_transport::rpc;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry, TextEncoder};

use super::{lock, Link, WorkerEntry, Workers};
use crate::control::ToWorker;

/// What the failure detector did, as Prometheus series appended to each
/// scrape of the scheduler's `/metrics`.
pub struct DetectorMetrics {
    detection: Histogram,
    lost: IntCounterVec,
    suspicions: IntCounterVec,
}

impl DetectorMetrics {
    pub(super) fn new() -> Self {
        let detection = Histogram::with_opts(
            HistogramOpts::new(
                "faro_scheduler_worker_loss_detection_seconds",
                "Silence of a worker (since its last heartbeat) when it was declared lost",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0]),
        );
        let lost = IntCounterVec::new(
            Opts::new(
                "faro_scheduler_workers_lost_total",
                "Workers declared lost, by what showed it (connection, heartbeat)",
            ),
            &["signal"],
        );
        let suspicions = IntCounterVec::new(
            Opts::new(
                "faro_scheduler_worker_suspicions_total",
                "Silent workers probed, by outcome (confirmed: lost; cleared: it answered)",
            ),
            &["outcome"],
        );
        let (detection, lost, suspicions) = (valid(detection), valid(lost), valid(suspicions));
        for signal in ["connection", "heartbeat"] {
            lost.with_label_values(&[signal]).inc_by(0);
        }
        for outcome in ["confirmed", "cleared"] {
            suspicions.with_label_values(&[outcome]).inc_by(0);
        }
        Self {
            detection,
            lost,
            suspicions,
        }
    }

    /// The series in Prometheus' text format.
    pub fn render(&self) -> String {
        let registry = Registry::new();
        registered(&registry, Ok(self.detection.clone()));
        registered(&registry, Ok(self.lost.clone()));
        registered(&registry, Ok(self.suspicions.clone()));
        TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap_or_default()
    }
}

/// A metric defined from constants, which only a bug could make invalid.
fn valid<M>(metric: prometheus::Result<M>) -> M {
    metric.unwrap_or_else(|error| panic!("invalid metric definition: {error}"))
}

impl Workers {
    pub(super) fn lose(&self, entry: &Arc<WorkerEntry>, why: &str, signal: &str) {
        let mut entries = lock(&self.entries);
        let before = entries.len();
        entries.retain(|e| !Arc::ptr_eq(e, entry));
        let removed = entries.len() != before;
        drop(entries);
        if removed {
            let silence = lock(&entry.arrivals).silence(Instant::now());
            tracing::warn!(worker = %entry.id, why, silent_ms = silence.as_millis() as u64, "worker lost");
            self.metrics.detection.observe(silence.as_secs_f64());
            self.metrics.lost.with_label_values(&[signal]).inc();
        }
        entry.mark_lost();
        self.changed.notify_waiters();
    }

    /// Judges every remote worker's silence now: loses those past the
    /// ceiling, probes the suspects.
    fn check(self: &Arc<Self>) {
        let now = Instant::now();
        let remote: Vec<Arc<WorkerEntry>> = lock(&self.entries)
            .iter()
            .filter(|e| !e.is_local())
            .cloned()
            .collect();
        for entry in remote {
            let arrivals = lock(&entry.arrivals).clone();
            let silence = arrivals.silence(now);
            if silence >= self.detection.ceiling {
                let why = format!("no heartbeat for {} ms", silence.as_millis());
                self.lose(&entry, &why, "heartbeat");
            } else if arrivals.suspect(now, &self.detection)
                && !entry.probing.swap(true, Ordering::AcqRel)
            {
                let phi = arrivals.phi(now, &self.detection);
                tokio::spawn(probe(Arc::downgrade(self), entry, silence, phi));
            }
        }
    }

    /// Checks heartbeats for as long as the registry lives.
    pub fn spawn_expiry(self: &Arc<Self>) {
        let workers = Arc::downgrade(self);
        let tick =
            (self.detection.interval / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                match workers.upgrade() {
                    Some(workers) => workers.check(),
                    None => return,
                }
            }
        });
    }
}

/// Asks a suspect whether it is alive; loses it if it does not answer in
/// time.
async fn probe(
    workers: std::sync::Weak<Workers>,
    entry: Arc<WorkerEntry>,
    silence: Duration,
    phi: f64,
) {
    let Link::Remote(connection) = &entry.link else {
        return;
    };
    let Some(patience) = workers.upgrade().map(|w| w.detection.probe) else {
        return;
    };
    let request = serde_json::to_vec(&ToWorker::Probe).unwrap_or_default();
    let answered = matches!(
        tokio::time::timeout(patience, rpc::call(connection, &request)).await,
        Ok(Ok(_))
    );
    entry.probing.store(false, Ordering::Release);
    let Some(workers) = workers.upgrade() else {
        return;
    };
    if answered {
        tracing::info!(worker = %entry.id, silent_ms = silence.as_millis() as u64, phi, "a suspected worker answered its probe");
        lock(&entry.arrivals).heartbeat(Instant::now());
        workers
            .metrics
            .suspicions
            .with_label_values(&["cleared"])
            .inc();
    } else {
        let why = format!(
            "silent for {} ms (phi {phi:.1}) and no answer to a probe within {} ms",
            silence.as_millis(),
            patience.as_millis()
        );
        workers
            .metrics
            .suspicions
            .with_label_values(&["confirmed"])
            .inc();
        workers.lose(&entry, &why, "heartbeat");
    }
}
