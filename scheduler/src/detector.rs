//! When a silent worker is suspected of being dead: a phi accrual failure
//! detector (Hayashibara et al., as Akka and Cassandra use it), pure — the
//! caller brings the clock.
//!
//! A fixed heartbeat timeout must be long enough for the worst pause a
//! healthy worker ever shows, so it makes every real failure wait that
//! long (Faro's was 10 s, Flink's is 50 s). The accrual detector instead
//! learns how regularly each worker's heartbeats arrive and says how
//! unlikely the current silence is: φ = −log₁₀ P(a heartbeat this late).
//! A worker whose heartbeats come every 100 ms like clockwork is suspected
//! after about half a second; one on a loaded machine, whose arrivals
//! spread, gets proportionally more room. A suspicion is then confirmed by
//! a direct probe before anything is re-run (see [`crate::workers`]), and a
//! ceiling (`heartbeat_timeout`) loses a worker whatever φ says.
//!
//! Known limit: the arrival history is learnt per connection, so a worker
//! that just registered is judged on the configured interval alone (its
//! standard deviation taken as half the interval) until it has sent a few
//! heartbeats.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the scheduler judges silence, with defaults chosen for a LAN or one
/// machine (see [`Detection::default`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// How often workers heartbeat.
    pub interval: Duration,
    /// Suspect a worker once φ reaches this (8: a false suspicion about
    /// once in 10⁸ heartbeats, if arrivals were as regular as learnt).
    pub phi: f64,
    /// A pause a healthy worker may take on top of its usual spread (a
    /// scheduling hiccup), added to the learnt mean.
    pub pause: Duration,
    /// How long a suspected worker has to answer a probe.
    pub probe: Duration,
    /// A worker silent this long is lost, whatever φ says.
    pub ceiling: Duration,
}

impl Default for Detection {
    /// 100 ms heartbeats, φ ≥ 8, a 200 ms pause allowed, a 250 ms probe,
    /// a 10 s ceiling: a killed worker is suspected about 0.6 s after its
    /// last heartbeat and lost 0.25 s later. A healthy worker is lost
    /// falsely only if it misses both its heartbeats and a probe for that
    /// long: a process stopped (SIGSTOP, swapping) or a runtime blocked
    /// for ~0.9 s. Loaded machines should raise `pause`.
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(100),
            phi: 8.0,
            pause: Duration::from_millis(200),
            probe: Duration::from_millis(250),
            ceiling: Duration::from_secs(10),
        }
    }
}

impl Detection {
    /// A fixed timeout only (the accrual detector off): what tests of a
    /// deliberately slow cluster, or an in-process worker, want.
    pub fn fixed(timeout: Duration) -> Self {
        Self {
            interval: (timeout / 4).max(Duration::from_millis(10)),
            phi: f64::INFINITY,
            pause: Duration::ZERO,
            probe: Duration::from_millis(250),
            ceiling: timeout,
        }
    }
}

/// Heartbeat inter-arrival times learnt for one worker.
const WINDOW: usize = 100;

/// One worker's heartbeat history.
#[derive(Debug, Clone)]
pub struct Arrivals {
    last: Instant,
    intervals: VecDeque<f64>,
    sum: f64,
    squares: f64,
}

impl Arrivals {
    /// A worker first heard from at `now`, expected every `interval`.
    pub fn new(now: Instant, interval: Duration) -> Self {
        // Seeded as Akka does: two arrivals around the expected interval,
        // so the first judgements use mean = interval, spread = interval/2.
        let mean = interval.as_secs_f64() * 1000.0;
        let mut arrivals = Self {
            last: now,
            intervals: VecDeque::with_capacity(WINDOW),
            sum: 0.0,
            squares: 0.0,
        };
        arrivals.record(mean - mean / 2.0);
        arrivals.record(mean + mean / 2.0);
        arrivals
    }

    fn record(&mut self, ms: f64) {
        if self.intervals.len() == WINDOW {
            if let Some(old) = self.intervals.pop_front() {
                self.sum -= old;
                self.squares -= old * old;
            }
        }
        self.intervals.push_back(ms);
        self.sum += ms;
        self.squares += ms * ms;
    }

    /// A heartbeat (or any other sign of life) arrived at `now`.
    pub fn heartbeat(&mut self, now: Instant) {
        let ms = now.saturating_duration_since(self.last).as_secs_f64() * 1000.0;
        self.last = now;
        self.record(ms);
    }

    /// How long it has been silent at `now`.
    pub fn silence(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last)
    }

    /// φ of the silence at `now`: −log₁₀ of the probability that a
    /// heartbeat arrives this late or later, under a normal distribution
    /// of the learnt intervals (mean raised by `pause`, spread at least
    /// half the interval).
    pub fn phi(&self, now: Instant, detection: &Detection) -> f64 {
        let n = self.intervals.len().max(1) as f64;
        let mean = self.sum / n + detection.pause.as_secs_f64() * 1000.0;
        let variance = (self.squares / n - (self.sum / n).powi(2)).max(0.0);
        let floor = detection.interval.as_secs_f64() * 1000.0 / 2.0;
        let spread = variance.sqrt().max(floor).max(1.0);
        let silent = self.silence(now).as_secs_f64() * 1000.0;
        phi(silent, mean, spread)
    }

    /// Whether the silence at `now` makes the worker suspect: φ reached
    /// the threshold, or the silence reached the ceiling.
    pub fn suspect(&self, now: Instant, detection: &Detection) -> bool {
        self.silence(now) >= detection.ceiling || self.phi(now, detection) >= detection.phi
    }
}

/// φ for a silence of `t` given the intervals' `mean` and `spread`, with
/// the logistic approximation of the normal tail Akka uses (within 0.1 of
/// the exact φ where it matters, and never infinite).
fn phi(t: f64, mean: f64, spread: f64) -> f64 {
    let y = (t - mean) / spread;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    let tail = if t > mean {
        e / (1.0 + e)
    } else {
        1.0 - 1.0 / (1.0 + e)
    };
    if tail <= 0.0 {
        // The tail underflowed: the silence is beyond any doubt.
        f64::MAX
    } else {
        -tail.log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// `count` heartbeats every `every` (with `jitter` added to odd ones),
    /// from `start`; returns the last arrival.
    fn beats(
        arrivals: &mut Arrivals,
        start: Instant,
        count: u32,
        every: u64,
        jitter: u64,
    ) -> Instant {
        let mut at = start;
        for i in 0..count {
            at += ms(every + if i % 2 == 1 { jitter } else { 0 });
            arrivals.heartbeat(at);
        }
        at
    }

    /// The first silence at which the worker is suspect, to the millisecond.
    fn suspected_after(arrivals: &Arrivals, last: Instant, d: &Detection) -> Duration {
        (0..=60_000)
            .map(ms)
            .find(|&t| arrivals.suspect(last + t, d))
            .unwrap_or(ms(60_000))
    }

    #[test]
    fn regular_heartbeats_are_suspected_about_half_a_second_after_they_stop() {
        let d = Detection::default();
        let start = Instant::now();
        let mut arrivals = Arrivals::new(start, d.interval);
        let last = beats(&mut arrivals, start, 200, 100, 0);
        let after = suspected_after(&arrivals, last, &d);
        assert!(after >= ms(450) && after <= ms(700), "{after:?}");
        // Not suspected within twice the interval plus the pause.
        assert!(!arrivals.suspect(last + ms(400), &d));
    }

    #[test]
    fn irregular_heartbeats_get_proportionally_more_room() {
        let d = Detection::default();
        let start = Instant::now();
        let mut steady = Arrivals::new(start, d.interval);
        let steady_last = beats(&mut steady, start, 200, 100, 0);
        let mut loaded = Arrivals::new(start, d.interval);
        let loaded_last = beats(&mut loaded, start, 200, 100, 400);
        let calm = suspected_after(&steady, steady_last, &d);
        let busy = suspected_after(&loaded, loaded_last, &d);
        assert!(busy > calm * 2, "steady {calm:?}, loaded {busy:?}");
    }

    #[test]
    fn the_ceiling_loses_a_worker_whatever_phi_says() {
        let d = Detection {
            phi: f64::INFINITY,
            ..Detection::fixed(ms(1000))
        };
        let start = Instant::now();
        let mut arrivals = Arrivals::new(start, d.interval);
        let last = beats(&mut arrivals, start, 10, 250, 0);
        assert!(!arrivals.suspect(last + ms(999), &d));
        assert!(arrivals.suspect(last + ms(1000), &d));
    }

    #[test]
    fn phi_grows_with_silence_and_never_overflows() {
        let d = Detection::default();
        let start = Instant::now();
        let mut arrivals = Arrivals::new(start, d.interval);
        let last = beats(&mut arrivals, start, 50, 100, 0);
        let values: Vec<f64> = [0, 100, 300, 500, 1000, 100_000]
            .iter()
            .map(|&t| arrivals.phi(last + ms(t), &d))
            .collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
        assert!(values[0] < 1.0);
        assert!(values.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn the_window_forgets_old_intervals() {
        let d = Detection::default();
        let start = Instant::now();
        let mut arrivals = Arrivals::new(start, d.interval);
        // A slow past, then a long steady present: judged on the present.
        let mid = beats(&mut arrivals, start, 50, 1000, 0);
        let last = beats(&mut arrivals, mid, WINDOW as u32, 100, 0);
        assert!(suspected_after(&arrivals, last, &d) <= ms(700));
    }
}
