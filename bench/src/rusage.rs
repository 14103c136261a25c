//! CPU time of this process (`getrusage(RUSAGE_SELF)`, user + system, all
//! threads), a meter pairing it with wall-clock time, and the process's
//! peak resident memory.

use std::time::{Duration, Instant};

use anyhow::Result;

/// User plus system CPU time consumed so far by every thread of this process.
pub fn process_cpu() -> Result<Duration> {
    let usage = usage()?;
    Ok(timeval(usage.ru_utime) + timeval(usage.ru_stime))
}

fn usage() -> Result<libc::rusage> {
    // SAFETY: `rusage` is plain old data, for which all-zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for the call's duration.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(usage)
}

/// The most memory this process has held resident so far, in bytes.
pub fn peak_rss_bytes() -> Result<u64> {
    // Linux reports it in kibibytes.
    Ok(usage()?.ru_maxrss.max(0) as u64 * 1024)
}

/// Memory this process holds resident now, in bytes (Linux's
/// `/proc/self/statm`).
pub fn current_rss_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("/proc/self/statm has no resident size: {statm:?}"))?;
    // SAFETY: sysconf reads a constant of the running system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    Ok(pages * page)
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
}

/// Wall-clock and process CPU time elapsed over an interval.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time of the whole process (user + system).
    pub cpu: Duration,
}

/// Measures wall and CPU time from [`Meter::start`] to [`Meter::stop`].
pub struct Meter {
    wall: Instant,
    cpu: Duration,
}

impl Meter {
    /// Starts measuring now.
    pub fn start() -> Result<Self> {
        Ok(Self {
            cpu: process_cpu()?,
            wall: Instant::now(),
        })
    }

    /// Time elapsed since [`Meter::start`].
    pub fn stop(&self) -> Result<Measurement> {
        let wall = self.wall.elapsed();
        Ok(Measurement {
            wall,
            cpu: process_cpu()?.saturating_sub(self.cpu),
        })
    }
}
