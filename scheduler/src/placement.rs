//! Where subtasks run: pure decisions over the workers that are alive and
//! their slots, no I/O.
//!
//! Slots are shared across chains, as in Flink: a slot holds one subtask
//! of each chain of a region, so a chain of parallelism p needs p slots.
//! Subtask `s` of every chain lands on the same worker (forward edges stay
//! local), and no worker gets more subtasks of a chain than it has slots
//! while the cluster has free slots; a chain wider than the cluster is
//! spread in proportion to slots (the tasks of a slot then take turns).

/// A worker as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSlots {
    /// The worker's id (its data address).
    pub id: String,
    /// Its slots.
    pub slots: usize,
}

/// The worker of each subtask `0..parallelism`.
pub fn place_chain(parallelism: u32, workers: &[WorkerSlots]) -> Vec<String> {
    let mut load = vec![0usize; workers.len()];
    (0..parallelism)
        .filter_map(|_| {
            let w = least_loaded(workers, &load, &[])?;
            load[w] += 1;
            Some(workers[w].id.clone())
        })
        .collect()
}

/// The worker for a re-run subtask: the least loaded by `placed` (the
/// workers the chain's other subtasks hold), avoiding `avoid` when any
/// other worker is alive.
pub fn replace_subtask(placed: &[String], workers: &[WorkerSlots], avoid: &str) -> Option<String> {
    let load: Vec<usize> = workers
        .iter()
        .map(|w| placed.iter().filter(|p| **p == w.id).count())
        .collect();
    least_loaded(workers, &load, &[avoid])
        .or_else(|| least_loaded(workers, &load, &[]))
        .map(|w| workers[w].id.clone())
}

/// The worker with the lowest load per slot (first on ties), skipping
/// `avoid`.
fn least_loaded(workers: &[WorkerSlots], load: &[usize], avoid: &[&str]) -> Option<usize> {
    (0..workers.len())
        .filter(|&w| !avoid.contains(&workers[w].id.as_str()))
        // Compare load/slots as cross products: exact, no floats.
        .min_by(|&a, &b| {
            let (sa, sb) = (workers[a].slots.max(1), workers[b].slots.max(1));
            (load[a] * sb).cmp(&(load[b] * sa))
        })
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

    fn count(placed: &[String], id: &str) -> usize {
        placed.iter().filter(|p| *p == id).count()
    }

    #[test]
    fn no_worker_exceeds_its_slots_while_slots_are_free() {
        let w = workers(&[1, 3, 2]);
        for parallelism in 1..=6 {
            let placed = place_chain(parallelism, &w);
            assert_eq!(placed.len(), parallelism as usize);
            for worker in &w {
                assert!(count(&placed, &worker.id) <= worker.slots, "{placed:?}");
            }
        }
    }

    #[test]
    fn wider_chains_spread_by_slots() {
        let placed = place_chain(12, &workers(&[1, 2]));
        assert_eq!(count(&placed, "w0"), 4);
        assert_eq!(count(&placed, "w1"), 8);
    }

    #[test]
    fn equal_parallelism_colocates_subtasks() {
        let w = workers(&[2, 2]);
        assert_eq!(place_chain(4, &w), place_chain(4, &w));
    }

    #[test]
    fn a_rerun_avoids_the_failed_worker_unless_it_is_alone() {
        let w = workers(&[2, 2]);
        let placed = vec!["w0".to_string(), "w1".into(), "w0".into()];
        assert_eq!(replace_subtask(&placed, &w, "w1").as_deref(), Some("w0"));
        assert_eq!(replace_subtask(&placed, &w, "w0").as_deref(), Some("w1"));
        let alone = workers(&[2]);
        assert_eq!(
            replace_subtask(&placed, &alone, "w0").as_deref(),
            Some("w0")
        );
        assert_eq!(replace_subtask(&placed, &[], "w0"), None);
    }
}
