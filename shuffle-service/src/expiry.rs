//! When a job's shuffle data may go: a job whose owner (the scheduler)
//! stopped heartbeating for longer than the TTL is expired and its files
//! removed, so a crashed scheduler cannot fill the disks. Pure bookkeeping;
//! the server's sweeper acts on it.
//!
//! Every request of a job counts as a heartbeat. Jobs found on disk at
//! start get a full TTL from start, so a restarted node does not delete
//! data whose owner is alive but has not spoken yet.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Last sign of life per job.
#[derive(Debug, Clone)]
pub struct ExpiryBook {
    ttl: Duration,
    last_seen: HashMap<String, Instant>,
}

impl ExpiryBook {
    /// Jobs expire `ttl` after their last heartbeat.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last_seen: HashMap::new(),
        }
    }

    /// Changes the TTL; jobs already tracked keep their last heartbeat.
    pub fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    /// The TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The job showed a sign of life at `now`.
    pub fn touch(&mut self, job: &str, now: Instant) {
        self.last_seen.insert(job.to_string(), now);
    }

    /// Forgets a job (deleted).
    pub fn forget(&mut self, job: &str) {
        self.last_seen.remove(job);
    }

    /// Removes and returns the jobs silent for longer than the TTL.
    pub fn take_expired(&mut self, now: Instant) -> Vec<String> {
        let ttl = self.ttl;
        let expired: Vec<String> = self
            .last_seen
            .iter()
            .filter(|(_, &seen)| now.saturating_duration_since(seen) > ttl)
            .map(|(job, _)| job.clone())
            .collect();
        for job in &expired {
            self.last_seen.remove(job);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_silent_jobs_expire_and_only_once() {
        let start = Instant::now();
        let mut book = ExpiryBook::new(Duration::from_secs(10));
        book.touch("a", start);
        book.touch("b", start);
        book.touch("b", start + Duration::from_secs(8));
        assert!(
            book.take_expired(start + Duration::from_secs(10))
                .is_empty(),
            "exactly the TTL is not over it"
        );
        assert_eq!(
            book.take_expired(start + Duration::from_secs(11)),
            vec!["a".to_string()]
        );
        assert!(book
            .take_expired(start + Duration::from_secs(12))
            .is_empty());
        assert_eq!(
            book.take_expired(start + Duration::from_secs(19)),
            vec!["b".to_string()]
        );
    }

    #[test]
    fn forgotten_jobs_never_expire() {
        let start = Instant::now();
        let mut book = ExpiryBook::new(Duration::from_secs(1));
        book.touch("a", start);
        book.forget("a");
        assert!(book.take_expired(start + Duration::from_secs(5)).is_empty());
    }
}
