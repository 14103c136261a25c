//! The shuffle node's Prometheus metrics: counters and histograms updated
//! as work happens, and gauges of what the node holds, filled in from its
//! state when scraped (so they can never drift from it).
//!
//! Every name starts with `faro_shuffle_`; the process-wide ones with
//! `faro_process_`. The registry is the node's own, so several nodes in one
//! process (tests, embedded mode) do not collide.

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::protocol::NodeStats;

/// The node's metrics and the registry that exports them.
#[derive(Clone)]
pub struct ShuffleMetrics {
    registry: Registry,
    /// Payload bytes stored.
    pub bytes_pushed: IntCounter,
    /// Frames stored.
    pub frames_pushed: IntCounter,
    /// Payload bytes served to readers.
    pub bytes_fetched: IntCounter,
    /// Commit requests by outcome (`committed`, `already_committed`, `lost`).
    pub commits: IntCounterVec,
    /// Requests refused (bad token, full disk, unknown shuffle, …).
    pub refused: IntCounter,
    /// Seconds from a push channel's first frame to its last stored.
    pub push_seconds: Histogram,
    /// Seconds to serve a whole fetch.
    pub fetch_seconds: Histogram,
    /// Seconds to make a map attempt durable and visible.
    pub commit_seconds: Histogram,
    /// Copies to the object-store tier by result (`ok`, `failed`).
    pub tier_uploads: IntCounterVec,
    /// Bytes copied to the object-store tier.
    pub tier_uploaded_bytes: IntCounter,
    /// Frames served from the object-store tier.
    pub tier_reads: IntCounter,
    /// Partitions read in place by a worker in the same process.
    pub in_process_reads: IntCounter,
    /// Pushes taken as calls from a worker in the same process.
    pub in_process_pushes: IntCounter,
    /// Open QUIC connections.
    pub connections: IntGauge,
    /// Channels being served.
    pub active_channels: IntGauge,
    io_path: IntGaugeVec,
    held: HeldGauges,
}

/// Gauges refreshed from [`NodeStats`] at scrape time.
#[derive(Clone)]
struct HeldGauges {
    shuffles: IntGauge,
    partitions: IntGauge,
    bytes_stored: IntGauge,
    memory_bytes: IntGauge,
    memory_budget: IntGauge,
    receive_buffers: IntGauge,
    open_fds: IntGauge,
    cpu_seconds: prometheus::Gauge,
    peak_rss: IntGauge,
}

/// Builds a metric and registers it in `registry`. Both only fail on a
/// bad or clashing definition: a programming error, caught by each
/// process's metrics tests, so it panics. Every Faro process's metrics
/// module uses it.
pub fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.unwrap_or_else(|error| panic!("invalid metric definition: {error}"));
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|error| panic!("metric registered twice: {error}"));
    metric
}

fn latency(name: &str, help: &str) -> prometheus::Result<Histogram> {
    // 100 µs … ~100 s, doubling: a small control call to a long stream.
    Histogram::with_opts(
        HistogramOpts::new(name, help).buckets(exponential_buckets(1e-4, 2.0, 21)?),
    )
}

impl ShuffleMetrics {
    /// Fresh metrics in a registry of their own; `io_path` names the write
    /// path in use (`io_uring` or `std`).
    pub fn new(io_path: &str) -> Self {
        let r = Registry::new();
        let counter = |name: &str, help: &str| registered(&r, IntCounter::new(name, help));
        let gauge = |name: &str, help: &str| registered(&r, IntGauge::new(name, help));
        let metrics = Self {
            bytes_pushed: counter("faro_shuffle_bytes_pushed_total", "Payload bytes stored"),
            frames_pushed: counter("faro_shuffle_frames_pushed_total", "Frames stored"),
            bytes_fetched: counter("faro_shuffle_bytes_fetched_total", "Payload bytes served"),
            commits: registered(
                &r,
                IntCounterVec::new(
                    Opts::new("faro_shuffle_commits_total", "Commit requests by outcome"),
                    &["outcome"],
                ),
            ),
            refused: counter("faro_shuffle_refused_total", "Requests refused"),
            push_seconds: registered(
                &r,
                latency("faro_shuffle_push_seconds", "Duration of push streams"),
            ),
            fetch_seconds: registered(
                &r,
                latency("faro_shuffle_fetch_seconds", "Duration of fetch streams"),
            ),
            commit_seconds: registered(
                &r,
                latency("faro_shuffle_commit_seconds", "Duration of commits"),
            ),
            tier_uploads: registered(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "faro_shuffle_tier_uploads_total",
                        "Shuffle copies to the object store by result",
                    ),
                    &["result"],
                ),
            ),
            tier_uploaded_bytes: counter(
                "faro_shuffle_tier_uploaded_bytes_total",
                "Bytes copied to the object store",
            ),
            tier_reads: counter(
                "faro_shuffle_tier_read_frames_total",
                "Frames served from the object store",
            ),
            in_process_reads: counter(
                "faro_shuffle_in_process_reads_total",
                "Partitions read in place by a worker in the same process",
            ),
            in_process_pushes: counter(
                "faro_shuffle_in_process_pushes_total",
                "Pushes taken as calls from a worker in the same process",
            ),
            connections: gauge("faro_shuffle_connections", "Open QUIC connections"),
            active_channels: gauge("faro_shuffle_active_channels", "Channels being served"),
            io_path: registered(
                &r,
                IntGaugeVec::new(
                    Opts::new("faro_shuffle_io_path", "Write path in use (1 = in use)"),
                    &["path"],
                ),
            ),
            held: HeldGauges {
                shuffles: gauge("faro_shuffle_shuffles", "Shuffles held"),
                partitions: gauge(
                    "faro_shuffle_partitions",
                    "Partition files held open for appending",
                ),
                bytes_stored: gauge("faro_shuffle_bytes_stored", "Bytes of records on disk"),
                memory_bytes: gauge(
                    "faro_shuffle_memory_bytes",
                    "Bytes of frames held in the memory tier",
                ),
                memory_budget: gauge(
                    "faro_shuffle_memory_budget_bytes",
                    "The most the memory tier may hold (0: no memory tier)",
                ),
                receive_buffers: gauge(
                    "faro_shuffle_receive_buffers_in_use",
                    "Receive buffers holding frames",
                ),
                open_fds: gauge("faro_process_open_fds", "Open file descriptors"),
                cpu_seconds: registered(
                    &r,
                    prometheus::Gauge::new(
                        "faro_process_cpu_seconds",
                        "User and system CPU time used",
                    ),
                ),
                peak_rss: gauge(
                    "faro_process_peak_resident_memory_bytes",
                    "Peak resident memory (VmHWM)",
                ),
            },
            registry: r,
        };
        metrics.io_path.with_label_values(&[io_path]).set(1);
        for outcome in ["committed", "already_committed", "lost"] {
            metrics.commits.with_label_values(&[outcome]);
        }
        for result in ["ok", "failed"] {
            metrics.tier_uploads.with_label_values(&[result]);
        }
        metrics
    }

    /// Uploads that succeeded and failed so far.
    pub fn tier_upload_counts(&self) -> (u64, u64) {
        (
            self.tier_uploads.with_label_values(&["ok"]).get(),
            self.tier_uploads.with_label_values(&["failed"]).get(),
        )
    }

    /// The Prometheus text exposition of every metric, with the held
    /// gauges set from `stats`.
    pub fn render(&self, stats: &NodeStats) -> String {
        let held = &self.held;
        let set =
            |gauge: &IntGauge, value: u64| gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        set(&held.shuffles, stats.shuffles as u64);
        set(&held.partitions, stats.open_partition_files as u64);
        set(&held.bytes_stored, stats.stored_bytes);
        set(&held.memory_bytes, stats.memory_bytes);
        set(&held.memory_budget, stats.memory_budget_bytes);
        set(&held.receive_buffers, stats.receive_buffers_in_use as u64);
        set(&held.open_fds, stats.open_fds as u64);
        set(&held.peak_rss, stats.peak_rss_bytes);
        held.cpu_seconds.set(stats.cpu_millis as f64 / 1000.0);
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| format!("# cannot encode metrics: {error}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exported_with_its_value() {
        let metrics = ShuffleMetrics::new("io_uring");
        metrics.bytes_pushed.inc_by(4096);
        metrics.commits.with_label_values(&["lost"]).inc();
        metrics.push_seconds.observe(0.002);
        let stats = NodeStats {
            stored_bytes: 123,
            memory_bytes: 45,
            shuffles: 2,
            ..NodeStats::default()
        };
        let text = metrics.render(&stats);
        for line in [
            "faro_shuffle_bytes_pushed_total 4096",
            "faro_shuffle_commits_total{outcome=\"lost\"} 1",
            "faro_shuffle_commits_total{outcome=\"committed\"} 0",
            "faro_shuffle_push_seconds_count 1",
            "faro_shuffle_io_path{path=\"io_uring\"} 1",
            "faro_shuffle_bytes_stored 123",
            "faro_shuffle_memory_bytes 45",
            "faro_shuffle_memory_budget_bytes 0",
            "faro_shuffle_shuffles 2",
            "faro_shuffle_tier_uploads_total{result=\"ok\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn two_nodes_in_one_process_do_not_collide() {
        let a = ShuffleMetrics::new("std");
        let b = ShuffleMetrics::new("std");
        a.frames_pushed.inc();
        assert!(b
            .render(&NodeStats::default())
            .contains("faro_shuffle_frames_pushed_total 0"));
    }
}
