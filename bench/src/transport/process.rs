//! The two processes of a run: the parent (sender) spawns this binary as
//! `transport-receiver`, and the two talk over the child's stdout.
//!
//! Child protocol, one line each on stdout:
//!
//! ```text
//! listening <socket address>          once bound
//! done <bytes> <frames> <cpu nanos>   once every channel has ended
//! ```
//!
//! After `done` the child waits for the parent to close the connection, so
//! the last acknowledgements reach the sender, then exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use faro_transport::{LocalCa, PemPaths, TlsConfig};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

use super::{faro, raw_quinn, Mode, ReceiverArgs, RunResult, Workload};
use crate::rusage::Measurement;

/// How long a receiver waits, after reporting, for the sender to close.
pub const LINGER: Duration = Duration::from_secs(10);

/// What a sender reports about its side of a run.
#[derive(Debug)]
pub struct Sent {
    /// From the first send until the receiver confirmed the end.
    pub measurement: Measurement,
    /// Mode-specific detail for the progress line.
    pub note: String,
}

/// What a receiver reports about its side of a run.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Payload bytes received over all channels.
    pub bytes: u64,
    /// Frames received over all channels.
    pub frames: u64,
    /// CPU time of the receiving process while it received.
    pub cpu: Duration,
}

/// The parent's side: one TLS identity for both processes, written to a
/// temporary directory the child loads it from.
pub struct Harness {
    tls: TlsConfig,
    pem: PemPaths,
    _dir: tempfile::TempDir,
    exe: PathBuf,
    timeout: Duration,
}

impl Harness {
    /// Issues the identity and writes its PEM files.
    pub fn new(timeout: Duration) -> Result<Self> {
        let identity = LocalCa::generate()
            .context("cannot generate a CA")?
            .issue(&["localhost"])
            .context("cannot issue a certificate")?;
        let dir = tempfile::tempdir().context("cannot create a directory for PEM files")?;
        let pem = identity
            .write_pem_files(dir.path())
            .context("cannot write PEM files")?;
        Ok(Self {
            tls: identity.tls_config(),
            pem,
            _dir: dir,
            exe: std::env::current_exe().context("cannot find this executable")?,
            timeout,
        })
    }

    /// One run: spawns the receiver, sends the workload, checks its report.
    pub async fn run(&self, mode: Mode, workload: &Workload) -> Result<RunResult> {
        let mut child = Command::new(&self.exe)
            .arg("transport-receiver")
            .args(["--mode", mode.name()])
            .args(["--channels", &workload.frames_per_channel.len().to_string()])
            .args(["--frame-size", &workload.frame_size.to_string()])
            .arg("--cert")
            .arg(&self.pem.cert)
            .arg("--key")
            .arg(&self.pem.key)
            .arg("--ca")
            .arg(&self.pem.ca)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot spawn the receiver process")?;
        let stdout = child
            .stdout
            .take()
            .context("the receiver has no stdout pipe")?;
        let mut lines = BufReader::new(stdout).lines();
        let outcome = tokio::time::timeout(self.timeout, self.transfer(mode, workload, &mut lines))
            .await
            .unwrap_or_else(|_| bail!("no result within {:?}", self.timeout));
        let result = match outcome {
            Ok(result) => result,
            Err(error) => {
                let _ = child.start_kill();
                return Err(error);
            }
        };
        let status = tokio::time::timeout(LINGER * 2, child.wait())
            .await
            .context("the receiver did not exit after reporting")?
            .context("cannot wait for the receiver")?;
        ensure!(status.success(), "the receiver exited with {status}");
        Ok(result)
    }

    async fn transfer(
        &self,
        mode: Mode,
        workload: &Workload,
        lines: &mut Lines<BufReader<ChildStdout>>,
    ) -> Result<RunResult> {
        let line = next_line(lines).await?;
        let addr: SocketAddr = line
            .strip_prefix("listening ")
            .and_then(|addr| addr.parse().ok())
            .with_context(|| format!("expected `listening <address>`, got `{line}`"))?;
        let sent = match mode {
            Mode::Faro => faro::send(addr, &self.tls, workload).await?,
            Mode::QuinnDefault => raw_quinn::send(addr, &self.tls, workload).await?,
        };
        let received = parse_done(&next_line(lines).await?)?;
        ensure!(
            received.bytes == workload.total_bytes() && received.frames == workload.total_frames(),
            "sent {} bytes in {} frames, the receiver got {} bytes in {} frames",
            workload.total_bytes(),
            workload.total_frames(),
            received.bytes,
            received.frames
        );
        Ok(RunResult {
            bytes: received.bytes,
            wall: sent.measurement.wall,
            sender_cpu: sent.measurement.cpu,
            receiver_cpu: received.cpu,
            note: sent.note,
        })
    }
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> Result<String> {
    lines
        .next_line()
        .await
        .context("cannot read the receiver's output")?
        .context("the receiver exited early (see its stderr above)")
}

fn parse_done(line: &str) -> Result<Received> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let parsed = match fields.as_slice() {
        ["done", bytes, frames, cpu] => bytes
            .parse()
            .ok()
            .zip(frames.parse().ok())
            .zip(cpu.parse().ok()),
        _ => None,
    };
    let ((bytes, frames), cpu_nanos) = parsed
        .with_context(|| format!("expected `done <bytes> <frames> <cpu nanos>`, got `{line}`"))?;
    Ok(Received {
        bytes,
        frames,
        cpu: Duration::from_nanos(cpu_nanos),
    })
}

/// Tells the parent where to connect.
pub fn announce_listening(addr: SocketAddr) {
    println!("listening {addr}");
}

/// Tells the parent what arrived.
/// Joins the child's per-channel tasks (each returning bytes and frames),
/// stops `meter`, and announces the totals to the parent.
pub async fn finish_receiving(
    tasks: Vec<tokio::task::JoinHandle<Result<(u64, u64)>>>,
    meter: &crate::rusage::Meter,
) -> Result<()> {
    let mut received = Received {
        bytes: 0,
        frames: 0,
        cpu: Duration::ZERO,
    };
    for (channel, task) in tasks.into_iter().enumerate() {
        let (bytes, frames) = task
            .await
            .context("a receiving task panicked")?
            .with_context(|| format!("channel {channel} failed"))?;
        received.bytes += bytes;
        received.frames += frames;
    }
    received.cpu = meter.stop()?.cpu;
    announce_done(&received);
    Ok(())
}

fn announce_done(received: &Received) {
    println!(
        "done {} {} {}",
        received.bytes,
        received.frames,
        received.cpu.as_nanos()
    );
}

/// The child's side: loads the identity and receives in the given mode.
pub async fn receive(args: &ReceiverArgs) -> Result<()> {
    let tls = TlsConfig::from_pem_files(&args.cert, &args.key, &args.ca)
        .context("cannot load the TLS identity")?;
    match args.mode {
        Mode::Faro => faro::receive(&tls, args.channels, args.frame_size).await,
        Mode::QuinnDefault => raw_quinn::receive(&tls, args.channels, args.frame_size).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_line_round_trips() -> Result<()> {
        let received = parse_done("done 2147483648 32768 1500000000")?;
        assert_eq!(received.bytes, 2 << 30);
        assert_eq!(received.frames, 32768);
        assert_eq!(received.cpu, Duration::from_millis(1500));
        assert!(parse_done("done 1 2").is_err());
        Ok(())
    }
}
