//! The receive buffer pool: the one place receive memory comes from.
//!
//! A pool has a fixed number of equally sized buffers. It hands out two
//! things that are kept apart on purpose:
//!
//! - **permits**, the accounting: a channel reserves exclusive permits when
//!   it opens and borrows floating ones against its sender's backlog (see
//!   [`crate::credit`]). Credit is only ever granted against a permit.
//!   Exclusive and floating permits come from separate regions, as in
//!   Flink, so busy channels borrowing floating buffers can never make a
//!   new channel fail to open: that fails only when the exclusive region
//!   is too small for the channels asked of it.
//! - **memory**: a received frame is read into a buffer taken from the pool
//!   and recycled when the consumer drops the frame. Buffers are allocated
//!   on first use and then reused, because first-touching fresh memory costs
//!   more than the network does.
//!
//! Since every frame needs a permit and every permit is one buffer, the
//! memory the pool ever allocates is bounded by `capacity × buffer_size`.
//! Buffers are 16-byte aligned so rkyv archives can be read in place.
//!
//! A pool that has held no frame for a while gives its idle buffers back
//! to the allocator, keeping a few warm ([`BufferPool::trim_idle`], run by
//! the endpoint): a burst of traffic must not keep its peak memory for the
//! life of the process. While traffic flows nothing is freed, so the
//! buffers are not touched afresh for every frame.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::TransportError;

/// A fixed set of reusable receive buffers and the permits to hold them.
#[derive(Debug)]
pub struct BufferPool {
    buffer_size: usize,
    capacity: usize,
    exclusive_capacity: usize,
    state: Mutex<PoolState>,
    permits_returned: Notify,
}

#[derive(Debug)]
struct PoolState {
    free_exclusive: usize,
    free_floating: usize,
    free_memory: Vec<Box<[u128]>>,
    allocated: usize,
    in_use: usize,
    peak_in_use: usize,
    /// Since when no buffer has held a frame (`None` while one does).
    idle_since: Option<Instant>,
}

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Size of every buffer in bytes.
    pub buffer_size: usize,
    /// Buffers the pool may ever hold.
    pub capacity: usize,
    /// Exclusive permits not reserved by any channel.
    pub free_exclusive: usize,
    /// Floating permits not borrowed by any channel.
    pub free_floating: usize,
    /// Buffers allocated so far (never more than `capacity`).
    pub allocated: usize,
    /// Buffers currently holding a received frame.
    pub in_use: usize,
    /// The most buffers that ever held frames at once.
    pub peak_in_use: usize,
}

impl PoolStats {
    /// Bytes of buffer memory allocated.
    pub fn allocated_bytes(&self) -> usize {
        self.allocated * self.buffer_size
    }
}

impl BufferPool {
    /// A pool of `capacity` buffers of `buffer_size` bytes each, of which
    /// `floating` are lent as floating credit and the rest reserved as
    /// exclusive credit.
    pub fn new(capacity: usize, floating: usize, buffer_size: usize) -> Self {
        let floating = floating.min(capacity);
        Self {
            buffer_size,
            capacity,
            exclusive_capacity: capacity - floating,
            state: Mutex::new(PoolState {
                free_exclusive: capacity - floating,
                free_floating: floating,
                free_memory: Vec::new(),
                allocated: 0,
                in_use: 0,
                peak_in_use: 0,
                idle_since: Some(Instant::now()),
            }),
            permits_returned: Notify::new(),
        }
    }

    /// Size of every buffer, and so the largest frame a receiver accepts.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            buffer_size: self.buffer_size,
            capacity: self.capacity,
            free_exclusive: state.free_exclusive,
            free_floating: state.free_floating,
            allocated: state.allocated,
            in_use: state.in_use,
            peak_in_use: state.peak_in_use,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding this lock cannot leave the counters torn
        // (each update is a single statement), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves `needed` permits at once, or none.
    pub fn reserve_exclusive(&self, needed: usize) -> Result<(), TransportError> {
        let mut state = self.lock();
        if state.free_exclusive < needed {
            return Err(TransportError::PoolExhausted {
                needed,
                free: state.free_exclusive,
                capacity: self.exclusive_capacity,
            });
        }
        state.free_exclusive -= needed;
        Ok(())
    }

    /// Borrows up to `wanted` floating permits; returns how many it got.
    pub fn borrow_floating(&self, wanted: usize) -> usize {
        let mut state = self.lock();
        let granted = wanted.min(state.free_floating);
        state.free_floating -= granted;
        granted
    }

    /// Returns a closed channel's exclusive permits.
    pub fn return_exclusive(&self, permits: usize) {
        self.lock().free_exclusive += permits;
    }

    /// Returns floating permits and wakes channels waiting for them.
    pub fn return_floating(&self, permits: usize) {
        if permits == 0 {
            return;
        }
        self.lock().free_floating += permits;
        self.permits_returned.notify_waiters();
    }

    /// Resolves the next time a floating permit is returned to the pool.
    pub(crate) fn permits_returned(&self) -> tokio::sync::futures::Notified<'_> {
        self.permits_returned.notified()
    }

    /// Takes a buffer to read a frame into. Callers hold a permit for it,
    /// so the pool never allocates more than `capacity` buffers.
    pub(crate) fn take_buffer(&self) -> Result<Box<[u128]>, TransportError> {
        let mut state = self.lock();
        let buffer = match state.free_memory.pop() {
            Some(buffer) => buffer,
            None if state.allocated < self.capacity => {
                state.allocated += 1;
                vec![0u128; self.buffer_size.div_ceil(16)].into_boxed_slice()
            }
            None => {
                return Err(TransportError::PoolExhausted {
                    needed: 1,
                    free: 0,
                    capacity: self.capacity,
                })
            }
        };
        state.in_use += 1;
        state.peak_in_use = state.peak_in_use.max(state.in_use);
        state.idle_since = None;
        Ok(buffer)
    }

    /// Gives a buffer back for reuse.
    pub(crate) fn recycle(&self, buffer: Box<[u128]>) {
        let mut state = self.lock();
        state.in_use = state.in_use.saturating_sub(1);
        state.free_memory.push(buffer);
        if state.in_use == 0 {
            state.idle_since = Some(Instant::now());
        }
    }

    /// Frees the idle buffers beyond `keep` if no buffer has held a frame
    /// for `idle_for`; returns how many were freed.
    pub fn trim_idle(&self, idle_for: Duration, keep: usize) -> usize {
        let mut state = self.lock();
        let idle = state
            .idle_since
            .is_some_and(|since| since.elapsed() >= idle_for);
        if !idle || state.free_memory.len() <= keep {
            return 0;
        }
        let freed = state.free_memory.len() - keep;
        state.free_memory.truncate(keep);
        state.allocated -= freed;
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_reservation_is_all_or_nothing() {
        let pool = BufferPool::new(5, 2, 64);
        pool.reserve_exclusive(2).unwrap();
        let err = pool.reserve_exclusive(2).unwrap_err();
        assert!(
            err.to_string()
                .contains("needs 2 exclusive buffers, 1 of 3 are free"),
            "{err}"
        );
        assert_eq!(pool.stats().free_exclusive, 1);
    }

    #[test]
    fn borrowed_floating_buffers_never_block_a_new_channel() {
        let pool = BufferPool::new(6, 2, 64);
        pool.reserve_exclusive(2).unwrap();
        assert_eq!(pool.borrow_floating(10), 2, "the floating region, no more");
        pool.reserve_exclusive(2).unwrap();
        assert!(pool.reserve_exclusive(1).is_err());
    }

    #[test]
    fn memory_is_reused_and_bounded() {
        let pool = BufferPool::new(2, 0, 100);
        let a = pool.take_buffer().unwrap();
        let b = pool.take_buffer().unwrap();
        assert!(
            pool.take_buffer().is_err(),
            "a third buffer would exceed the pool"
        );
        assert!(a.len() * 16 >= 100);
        pool.recycle(a);
        let c = pool.take_buffer().unwrap();
        pool.recycle(b);
        pool.recycle(c);
        let stats = pool.stats();
        assert_eq!(
            (stats.allocated, stats.in_use, stats.peak_in_use),
            (2, 0, 2)
        );
    }

    #[test]
    fn an_idle_pool_gives_back_all_but_a_warm_few() {
        let pool = BufferPool::new(8, 0, 100);
        let taken: Vec<_> = (0..6).map(|_| pool.take_buffer().unwrap()).collect();
        let mut taken = taken.into_iter();
        let held = taken.next().unwrap();
        for buffer in taken {
            pool.recycle(buffer);
        }
        assert_eq!(
            pool.trim_idle(Duration::ZERO, 2),
            0,
            "a frame is still held"
        );
        pool.recycle(held);
        assert_eq!(
            pool.trim_idle(Duration::from_secs(60), 2),
            0,
            "not idle long enough"
        );
        assert_eq!(pool.trim_idle(Duration::ZERO, 2), 4);
        assert_eq!(pool.stats().allocated, 2);
        let again: Vec<_> = (0..8).map(|_| pool.take_buffer().unwrap()).collect();
        assert_eq!(again.len(), 8, "freed buffers can be allocated again");
    }

    #[test]
    fn floating_borrow_is_capped_by_the_floating_region() {
        let pool = BufferPool::new(4, 1, 64);
        pool.reserve_exclusive(3).unwrap();
        assert_eq!(pool.borrow_floating(5), 1);
        pool.return_floating(1);
        assert_eq!(pool.stats().free_floating, 1);
    }
}
