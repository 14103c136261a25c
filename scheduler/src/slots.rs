//! Slots as one pool shared by every job, so a burst of submissions queues
//! for the cluster instead of piling hundreds of tasks onto its cores (and
//! hundreds of connections onto its shuffle nodes at once).
//!
//! A region asks for as many slots as its widest chain has subtasks (slot
//! sharing, as in Flink: a slot holds one subtask of each chain of the
//! region) — or every slot of the cluster, when it is wider than that —
//! and holds them until it ends. Requests are granted in the order they
//! were made: a wide region at the head is not overtaken by narrower ones
//! behind it, so none waits for ever. A job holds one region's slots at a
//! time and gives them back before asking for its next region's, so jobs
//! cannot deadlock waiting for each other.
//!
//! [`SlotBook`] is the pure bookkeeping; [`SlotPool`] waits on it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::placement::WorkerSlots;
use crate::workers::Workers;

/// Who holds which slots, and who waits.
#[derive(Debug, Default)]
pub struct SlotBook {
    used: BTreeMap<String, usize>,
    queue: VecDeque<u64>,
    next_ticket: u64,
}

impl SlotBook {
    /// Joins the queue; the ticket says where.
    pub fn enqueue(&mut self) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue.push_back(ticket);
        ticket
    }

    /// Leaves the queue without a grant.
    pub fn withdraw(&mut self, ticket: u64) {
        self.queue.retain(|t| *t != ticket);
    }

    /// Slots in use on `worker`.
    pub fn used(&self, worker: &str) -> usize {
        self.used.get(worker).copied().unwrap_or(0)
    }

    /// Grants `ticket` `need` slots (or all of the cluster's, if it has
    /// fewer) if it is first in line and they are free: the slots taken
    /// per worker, most free first. `None` means wait.
    pub fn try_grant(
        &mut self,
        ticket: u64,
        need: usize,
        workers: &[WorkerSlots],
    ) -> Option<Vec<WorkerSlots>> {
        if self.queue.front() != Some(&ticket) {
            return None;
        }
        let total: usize = workers.iter().map(|w| w.slots).sum();
        let want = need.min(total);
        let mut free: Vec<(usize, &WorkerSlots)> = workers
            .iter()
            .map(|w| (w.slots.saturating_sub(self.used(&w.id)), w))
            .filter(|(free, _)| *free > 0)
            .collect();
        if free.iter().map(|(f, _)| f).sum::<usize>() < want {
            return None;
        }
        free.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let mut left = want;
        let mut grant = Vec::new();
        for (free, worker) in free {
            if left == 0 {
                break;
            }
            let take = free.min(left);
            left -= take;
            *self.used.entry(worker.id.clone()).or_insert(0) += take;
            grant.push(WorkerSlots {
                id: worker.id.clone(),
                slots: take,
            });
        }
        self.queue.pop_front();
        Some(grant)
    }

    /// Gives `grant`'s slots back.
    pub fn release(&mut self, grant: &[WorkerSlots]) {
        for slots in grant {
            if let Some(used) = self.used.get_mut(&slots.id) {
                *used = used.saturating_sub(slots.slots);
                if *used == 0 {
                    self.used.remove(&slots.id);
                }
            }
        }
    }
}

/// The cluster's slots, granted to regions in turn.
pub struct SlotPool {
    book: Mutex<SlotBook>,
    freed: Notify,
}

/// Slots a region holds until dropped.
pub struct SlotGrant {
    pool: Arc<SlotPool>,
    slots: Vec<WorkerSlots>,
}

impl SlotGrant {
    /// The slots granted, per worker.
    pub fn slots(&self) -> &[WorkerSlots] {
        &self.slots
    }
}

impl Drop for SlotGrant {
    fn drop(&mut self) {
        lock(&self.pool.book).release(&self.slots);
        self.pool.freed.notify_waiters();
    }
}

/// A place in the queue, given up if dropped before its grant (a job
/// cancelled while it waited).
struct Ticket<'a> {
    pool: &'a SlotPool,
    number: u64,
    granted: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.granted {
            lock(&self.pool.book).withdraw(self.number);
            self.pool.freed.notify_waiters();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How often a waiting request looks again even if nothing was freed:
/// workers joining add slots without freeing any.
const RECHECK: Duration = Duration::from_millis(200);

impl SlotPool {
    /// An empty pool (its size is whatever slots the workers have).
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            book: Mutex::new(SlotBook::default()),
            freed: Notify::new(),
        })
    }

    /// Waits for `need` slots of `workers` (all of them if fewer), in
    /// turn after every earlier request.
    pub async fn acquire(self: &Arc<Self>, need: usize, workers: &Workers) -> SlotGrant {
        let mut ticket = Ticket {
            pool: self,
            number: lock(&self.book).enqueue(),
            granted: false,
        };
        loop {
            let freed = self.freed.notified();
            let granted = lock(&self.book).try_grant(ticket.number, need, &workers.slots());
            if let Some(slots) = granted {
                ticket.granted = true;
                // The next in line may fit in what is left.
                self.freed.notify_waiters();
                return SlotGrant {
                    pool: self.clone(),
                    slots,
                };
            }
            let _ = tokio::time::timeout(RECHECK, freed).await;
        }
    }

    /// Slots held per worker now (for status and tests).
    pub fn used(&self, worker: &str) -> usize {
        lock(&self.book).used(worker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers(slots: &[usize]) -> Vec<WorkerSlots> {
        slots
            .iter()
            .enumerate()
            .map(|(i, &slots)| WorkerSlots {
                id: format!("w{i}"),
                slots,
            })
            .collect()
    }

    fn taken(grant: &[WorkerSlots]) -> usize {
        grant.iter().map(|g| g.slots).sum()
    }

    #[test]
    fn grants_go_in_order_and_only_from_free_slots() {
        let cluster = workers(&[2, 2]);
        let mut book = SlotBook::default();
        let (a, b, c) = (book.enqueue(), book.enqueue(), book.enqueue());
        assert!(book.try_grant(b, 1, &cluster).is_none(), "b is not first");
        let first = book.try_grant(a, 3, &cluster).unwrap();
        assert_eq!(taken(&first), 3);
        assert!(
            book.try_grant(b, 2, &cluster).is_none(),
            "only 1 slot is free"
        );
        book.release(&first);
        let second = book.try_grant(b, 2, &cluster).unwrap();
        assert_eq!(second.len(), 1, "most free first: one worker holds both");
        let third = book.try_grant(c, 2, &cluster).unwrap();
        assert_eq!(taken(&third), 2);
        assert_eq!(book.used("w0") + book.used("w1"), 4);
    }

    #[test]
    fn a_region_wider_than_the_cluster_waits_for_all_of_it() {
        let cluster = workers(&[1, 2]);
        let mut book = SlotBook::default();
        let small = book.enqueue();
        let held = book.try_grant(small, 1, &cluster).unwrap();
        let wide = book.enqueue();
        assert!(book.try_grant(wide, 8, &cluster).is_none());
        let narrow = book.enqueue();
        assert!(
            book.try_grant(narrow, 1, &cluster).is_none(),
            "the wide one is not overtaken"
        );
        book.release(&held);
        assert_eq!(taken(&book.try_grant(wide, 8, &cluster).unwrap()), 3);
    }

    #[test]
    fn a_withdrawn_request_lets_the_next_one_through() {
        let cluster = workers(&[1]);
        let mut book = SlotBook::default();
        let (a, b) = (book.enqueue(), book.enqueue());
        book.withdraw(a);
        assert_eq!(taken(&book.try_grant(b, 1, &cluster).unwrap()), 1);
    }

    #[tokio::test]
    async fn waiting_requests_are_served_as_slots_come_back() {
        let pool = SlotPool::new();
        let registry = Workers::new(crate::detector::Detection::fixed(Duration::from_secs(60)));
        let worker = Arc::new(faro_runtime::worker::Worker::start(2, None).unwrap());
        registry.add_local(worker.clone());
        let id = worker.id();
        let first = pool.acquire(2, &registry).await;
        assert_eq!(pool.used(&id), 2);
        let waiting = {
            let (pool, registry) = (pool.clone(), registry.clone());
            tokio::spawn(async move { pool.acquire(1, &registry).await.slots().to_vec() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "no slot is free");
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(taken(&second), 1);
        assert_eq!(pool.used(&id), 0, "the grant was dropped with its task");
    }
}
