//! The transport benchmark: throughput between two processes on loopback
//! over one QUIC connection, for Faro's credit-based channels and for raw
//! quinn with default settings.
//!
//! This module owns the command-line arguments, the run matrix, the
//! workload (frame counts and payloads, shared by both modes) and the
//! result table. [`process`] runs one transfer across two processes;
//! [`faro`] and [`raw_quinn`] move the bytes.

mod faro;
mod process;
mod raw_quinn;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use clap::{Args, ValueEnum};

/// Which transport carries the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Faro's transport: credit-based channels, loopback options.
    Faro,
    /// quinn 0.11 with default transport and endpoint settings, one
    /// bidirectional stream per channel, no credits.
    QuinnDefault,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Faro => "faro",
            Mode::QuinnDefault => "quinn-default",
        }
    }
}

/// Arguments of `faro-bench transport`.
#[derive(Debug, Args)]
pub struct TransportArgs {
    /// Channels (streams) per connection, each driven by its own task.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 16])]
    channels: Vec<usize>,
    /// Frame payload sizes in bytes (suffixes KiB, MiB, GiB allowed).
    #[arg(long, value_delimiter = ',', value_parser = parse_size, default_values = ["65536", "1048576"])]
    frame_sizes: Vec<u64>,
    /// Bytes sent per run, over all channels (suffixes KiB, MiB, GiB allowed).
    #[arg(long, value_parser = parse_size, default_value = "2GiB")]
    bytes: u64,
    /// Transports to measure.
    #[arg(long, value_delimiter = ',', value_enum, default_values = ["faro", "quinn-default"])]
    modes: Vec<Mode>,
    /// Runs per combination; the table shows medians.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// A run that takes longer than this many seconds fails.
    #[arg(long, default_value_t = 300)]
    run_timeout: u64,
}

/// Arguments of the hidden `transport-receiver` subcommand (the child).
#[derive(Debug, Args)]
pub struct ReceiverArgs {
    /// Transport to receive with.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Channels the sender will open.
    #[arg(long)]
    channels: usize,
    /// Largest frame payload in bytes.
    #[arg(long)]
    frame_size: usize,
    /// PEM certificate of this process.
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key of this process.
    #[arg(long)]
    key: PathBuf,
    /// PEM certificate of the CA both peers chain to.
    #[arg(long)]
    ca: PathBuf,
}

/// What one run sends: how many frames of which size on each channel.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Payload size of every frame.
    pub frame_size: usize,
    /// Frames to send on each channel; its length is the channel count.
    pub frames_per_channel: Vec<u64>,
}

impl Workload {
    fn new(total_bytes: u64, frame_size: u64, channels: usize) -> Result<Self> {
        ensure!(channels > 0, "--channels must be at least 1");
        ensure!(
            frame_size >= 8,
            "frame size {frame_size} is below 8 bytes (the sequence tag)"
        );
        let frames = total_bytes.div_ceil(frame_size);
        ensure!(
            frames >= channels as u64,
            "{total_bytes} bytes in {frame_size}-byte frames is fewer frames than {channels} channels"
        );
        let base = frames / channels as u64;
        let extra = (frames % channels as u64) as usize;
        Ok(Self {
            frame_size: usize::try_from(frame_size).context("frame size does not fit in memory")?,
            frames_per_channel: (0..channels).map(|i| base + u64::from(i < extra)).collect(),
        })
    }

    /// Bytes the run sends over all channels.
    pub fn total_bytes(&self) -> u64 {
        self.total_frames() * self.frame_size as u64
    }

    /// Frames the run sends over all channels.
    pub fn total_frames(&self) -> u64 {
        self.frames_per_channel.iter().sum()
    }
}

/// Distinct payloads the sender cycles through; frame `n` of a channel
/// carries payload `n % PAYLOAD_RING`, tagged with that index.
pub const PAYLOAD_RING: u64 = 4;

/// The payloads a sender cycles through, built once and shared (cloning a
/// `Bytes` only bumps a reference count, so sending allocates nothing).
pub fn payload_ring(frame_size: usize) -> Vec<Bytes> {
    (0..PAYLOAD_RING)
        .map(|tag| {
            let mut payload = vec![0xA5u8; frame_size];
            payload[..8].copy_from_slice(&tag.to_le_bytes());
            Bytes::from(payload)
        })
        .collect()
}

/// Checks the tag of frame `n` of a channel: touches the received bytes so
/// nothing is optimized away and catches reordering or misframing.
pub fn check_frame(frame: &[u8], n: u64) -> Result<()> {
    let tag = frame
        .get(..8)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(u64::from_le_bytes)
        .with_context(|| format!("frame {n} has only {} bytes", frame.len()))?;
    ensure!(
        tag == n % PAYLOAD_RING,
        "frame {n} carries tag {tag}, expected {}",
        n % PAYLOAD_RING
    );
    Ok(())
}

/// A short summary of a connection's quinn counters for the progress line:
/// path MTU, packets sent and lost, congestion events, send syscalls.
pub fn path_note(conn: &quinn::Connection) -> String {
    let stats = conn.stats();
    format!(
        "mtu {} ({} probes, {} lost, {} black holes), sent {} pkts in {} sendmsg, lost {} pkts ({} MB), {} congestion events",
        stats.path.current_mtu,
        stats.path.sent_plpmtud_probes,
        stats.path.lost_plpmtud_probes,
        stats.path.black_holes_detected,
        stats.path.sent_packets,
        stats.udp_tx.ios,
        stats.path.lost_packets,
        stats.path.lost_bytes / 1_000_000,
        stats.path.congestion_events
    )
}

/// The multi-threaded runtime both processes use: two workers.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")
}

/// Runs `faro-bench transport`: every combination, then the table.
pub fn run(args: &TransportArgs) -> Result<()> {
    ensure!(args.repeat > 0, "--repeat must be at least 1");
    let runtime = runtime()?;
    let harness = process::Harness::new(Duration::from_secs(args.run_timeout))?;
    let mut rows = Vec::new();
    for &mode in &args.modes {
        for &channels in &args.channels {
            for &frame_size in &args.frame_sizes {
                let workload = Workload::new(args.bytes, frame_size, channels)?;
                let mut runs = Vec::with_capacity(args.repeat);
                for attempt in 1..=args.repeat {
                    let run = runtime
                        .block_on(harness.run(mode, &workload))
                        .with_context(|| {
                            format!(
                                "{} run {attempt}: {channels} channels, {} frames",
                                mode.name(),
                                size_label(frame_size)
                            )
                        })?;
                    eprintln!(
                        "{} ch={channels} frame={} run {attempt}/{}: {:.2} GB/s, {:.2} s, sender {:.2} CPU-s, receiver {:.2} CPU-s{}",
                        mode.name(),
                        size_label(frame_size),
                        args.repeat,
                        run.gb_per_s(),
                        run.wall.as_secs_f64(),
                        run.sender_cpu.as_secs_f64(),
                        run.receiver_cpu.as_secs_f64(),
                        run.note
                    );
                    runs.push(run);
                }
                rows.push(Row {
                    mode,
                    channels,
                    frame_size,
                    runs,
                });
            }
        }
    }
    print_table(args, &rows);
    Ok(())
}

/// Runs the hidden `transport-receiver` subcommand.
pub fn run_receiver(args: &ReceiverArgs) -> Result<()> {
    if args.channels == 0 || args.frame_size < 8 {
        bail!("receiver needs at least 1 channel and 8-byte frames");
    }
    runtime()?.block_on(process::receive(args))
}

/// The outcome of one run, as the parent saw it.
#[derive(Debug)]
pub struct RunResult {
    /// Bytes the receiver confirmed.
    pub bytes: u64,
    /// From the first send until the receiver confirmed the end.
    pub wall: Duration,
    /// Sender (parent) CPU over the same interval.
    pub sender_cpu: Duration,
    /// Receiver (child) CPU while it received.
    pub receiver_cpu: Duration,
    /// Mode-specific detail for the progress line.
    pub note: String,
}

impl RunResult {
    fn gb(&self) -> f64 {
        self.bytes as f64 / 1e9
    }

    fn gb_per_s(&self) -> f64 {
        self.gb() / self.wall.as_secs_f64()
    }
}

struct Row {
    mode: Mode,
    channels: usize,
    frame_size: u64,
    runs: Vec<RunResult>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn print_table(args: &TransportArgs, rows: &[Row]) {
    println!(
        "\ntransport: {} bytes per run, {} runs per row, medians (GB = 1e9 bytes)\n",
        args.bytes, args.repeat
    );
    println!("| mode | channels | frame | GB/s (median) | sender CPU-s/GB | receiver CPU-s/GB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        let per_gb = |cpu: fn(&RunResult) -> Duration| {
            median(
                row.runs
                    .iter()
                    .map(|run| cpu(run).as_secs_f64() / run.gb())
                    .collect(),
            )
        };
        println!(
            "| {} | {} | {} | {:.2} | {:.3} | {:.3} |",
            row.mode.name(),
            row.channels,
            size_label(row.frame_size),
            median(row.runs.iter().map(RunResult::gb_per_s).collect()),
            per_gb(|run| run.sender_cpu),
            per_gb(|run| run.receiver_cpu),
        );
    }
}

/// `65536` as `64 KiB`, `1048576` as `1 MiB`; other sizes in bytes.
fn size_label(bytes: u64) -> String {
    for (unit, name) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} B")
}

/// Parses a byte count: a plain integer or one with a KiB/MiB/GiB suffix.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a byte count"))?;
    let unit: u64 = match suffix.trim() {
        "" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => return Err(format!("unknown size suffix `{other}` (use KiB, MiB, GiB)")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("2GB").is_err());
        assert_eq!(size_label(65536), "64 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(size_label(1000), "1000 B");
    }

    #[test]
    fn workload_spreads_frames_over_channels() -> Result<()> {
        let workload = Workload::new(10 * 1024, 1024, 3)?;
        assert_eq!(workload.frames_per_channel, vec![4, 3, 3]);
        assert_eq!(workload.total_bytes(), 10 * 1024);
        Ok(())
    }

    #[test]
    fn frames_are_tagged_in_a_ring() -> Result<()> {
        let ring = payload_ring(64);
        for n in 0..8 {
            check_frame(&ring[(n % PAYLOAD_RING) as usize], n)?;
        }
        assert!(check_frame(&ring[1], 0).is_err());
        Ok(())
    }
}
