//! Partitioners: which consumer subtask gets which rows of a batch, for
//! every partitioning of an edge. Pure decisions; the exchange does the
//! sending. A hash edge of a streaming job routes through key groups
//! ([`crate::state::key_group`]): a key goes to the subtask owning its
//! group, where its keyed state is, at any parallelism. A range edge
//! hands each consumer its rows of a batch in key order: the consumer is
//! almost always a sort, whose copy-out then reads each frame it holds
//! front to back instead of jumping about in it.

use crate::data::{Batch, ColumnView, Schema};
use crate::kernels::hash::{hash_rows, partition_of};
use crate::kernels::rows::{compare_rows, order_positions, KeyColumn};
use crate::kernels::views;
use crate::operator::Rows;
use crate::spec::Partitioning;
use crate::state::key_group::subtask_of_hash;

/// Where a batch goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The whole batch to one consumer.
    One(u32),
    /// The whole batch to every consumer.
    All,
    /// Rows split: `rows[c]` are the positions consumer `c` gets (on a
    /// range edge, in the order of the range keys).
    Split(Vec<Vec<u32>>),
}

/// Range boundaries: `consumers - 1` key rows, ascending; consumer `c`
/// gets rows above boundary `c - 1` and up to boundary `c`.
#[derive(Debug, Clone)]
pub struct RangeBounds {
    bounds: Batch,
    keys: Vec<KeyColumn>,
}

impl RangeBounds {
    /// Boundaries splitting `sample` (rows of the exchange's schema) into
    /// `consumers` ranges of about equal size. Every producer computes the
    /// same bounds from the same sample.
    pub fn from_sample(
        sample: &Batch,
        keys: &[usize],
        consumers: u32,
    ) -> Result<Self, crate::data::BatchError> {
        let key_columns: Vec<KeyColumn> = keys
            .iter()
            .map(|&column| KeyColumn {
                column,
                descending: false,
            })
            .collect();
        let columns = views(sample);
        let mut order: Vec<u32> = (0..sample.num_rows() as u32).collect();
        order.sort_by(|&a, &b| {
            compare_rows(&key_columns, &columns, a as usize, &columns, b as usize)
        });
        let n = order.len();
        let picks: Vec<u32> = (1..consumers as usize)
            .filter(|_| n > 0)
            .map(|c| order[(c * n / consumers as usize).min(n - 1)])
            .collect();
        let bounds = crate::kernels::take::take_batch(sample.schema(), &columns, &picks)?;
        Ok(Self {
            bounds,
            keys: key_columns,
        })
    }

    /// The consumer of row `row` of `columns`.
    fn consumer(
        &self,
        bound_columns: &[ColumnView<'_>],
        columns: &[ColumnView<'_>],
        row: usize,
    ) -> u32 {
        // The first boundary not below the row.
        let (mut lo, mut hi) = (0usize, self.bounds.num_rows());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if compare_rows(&self.keys, bound_columns, mid, columns, row).is_lt() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo as u32
    }

    /// The schema of the bounds (the exchange's).
    pub fn schema(&self) -> &Schema {
        self.bounds.schema()
    }
}

/// Routes batches of one producer subtask over an exchange.
#[derive(Debug)]
pub struct Partitioner {
    partitioning: Partitioning,
    keys: Vec<usize>,
    consumers: u32,
    producer: u32,
    next: u32,
    range: Option<RangeBounds>,
    key_groups: Option<u32>,
}

impl Partitioner {
    /// A partitioner for producer subtask `producer`. `keys` are the
    /// key positions of hash and range partitioning.
    pub fn new(
        partitioning: Partitioning,
        keys: Vec<usize>,
        consumers: u32,
        producer: u32,
    ) -> Self {
        Self {
            partitioning,
            keys,
            consumers: consumers.max(1),
            // Producers start round-robin at different consumers.
            next: producer % consumers.max(1),
            producer,
            range: None,
            key_groups: None,
        }
    }

    /// Routes hash partitioning through `key_groups` groups (a streaming
    /// job's) instead of straight by hash.
    pub fn with_key_groups(mut self, key_groups: Option<u32>) -> Self {
        self.key_groups = key_groups;
        self
    }

    /// Sets range boundaries (needed before routing a range edge).
    pub fn set_range(&mut self, bounds: RangeBounds) {
        self.range = Some(bounds);
    }

    /// Where `rows` go.
    pub fn route(&mut self, rows: &Rows<'_>) -> Route {
        if self.consumers == 1 {
            return Route::One(0);
        }
        match &self.partitioning {
            Partitioning::Forward => Route::One(self.producer % self.consumers),
            Partitioning::Broadcast => Route::All,
            Partitioning::Rebalance => {
                let target = self.next;
                self.next = (self.next + 1) % self.consumers;
                Route::One(target)
            }
            Partitioning::Hash(_) => {
                let keys: Vec<&ColumnView<'_>> =
                    self.keys.iter().map(|&k| &rows.columns[k]).collect();
                let mut split = vec![Vec::new(); self.consumers as usize];
                let consumer = |hash| match self.key_groups {
                    Some(groups) => subtask_of_hash(hash, groups, self.consumers),
                    None => partition_of(hash, self.consumers),
                };
                for (row, hash) in hash_rows(&keys, rows.rows).into_iter().enumerate() {
                    split[consumer(hash) as usize].push(row as u32);
                }
                Route::Split(split)
            }
            Partitioning::Range(_) => {
                let mut split = vec![Vec::new(); self.consumers as usize];
                match &self.range {
                    None => split[0] = (0..rows.rows as u32).collect(),
                    Some(range) => {
                        let bound_columns = views(&range.bounds);
                        for row in 0..rows.rows {
                            let c = range.consumer(&bound_columns, &rows.columns, row);
                            split[c.min(self.consumers - 1) as usize].push(row as u32);
                        }
                        // Each consumer's rows in key order: its sort then
                        // gathers from every frame front to back, so the
                        // frames' lines and pages are reused, not missed
                        // once a row each (40 % of the reduce's time on 1 GB).
                        for positions in &mut split {
                            order_positions(&range.keys, &rows.columns, positions);
                        }
                    }
                }
                Route::Split(split)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchBuilder, DataType, Field, Value};

    fn batch(values: &[i64]) -> Batch {
        let schema = Schema::new(vec![Field::new("k", DataType::Int64)]);
        let mut builder = BatchBuilder::new(schema, values.len());
        for v in values {
            builder.push_row(&[Value::Int64(*v)]).unwrap();
        }
        builder.finish().unwrap()
    }

    #[test]
    fn hash_sends_equal_keys_to_one_consumer() {
        let b = batch(&[1, 2, 3, 1, 2, 3, 7]);
        let mut p = Partitioner::new(Partitioning::Hash(vec!["k".into()]), vec![0], 3, 0);
        let Route::Split(split) = p.route(&Rows::of_batch(&b)) else {
            panic!()
        };
        let owner = |row: u32| split.iter().position(|rows| rows.contains(&row)).unwrap();
        assert_eq!(owner(0), owner(3));
        assert_eq!(owner(1), owner(4));
        assert_eq!(split.iter().map(Vec::len).sum::<usize>(), 7);
    }

    #[test]
    fn key_groups_send_each_key_to_the_subtask_owning_its_group() {
        use crate::kernels::hash::hash_rows;
        use crate::state::key_group::key_group_of;
        use crate::state::KeyGroupRange;
        let values: Vec<i64> = (0..2_000).collect();
        let b = batch(&values);
        let hashes = hash_rows(&[&views(&b)[0]], b.num_rows());
        for (groups, consumers) in [(128, 3), (128, 7), (10, 10), (7, 2)] {
            let key = Partitioning::Hash(vec!["k".into()]);
            let mut p = Partitioner::new(key, vec![0], consumers, 0).with_key_groups(Some(groups));
            let Route::Split(split) = p.route(&Rows::of_batch(&b)) else {
                panic!("a hash edge splits")
            };
            for (subtask, rows) in split.iter().enumerate() {
                let owned = KeyGroupRange::of_subtask(groups, consumers, subtask as u32);
                assert!(!rows.is_empty(), "{groups} groups, {consumers} subtasks");
                for &row in rows {
                    let group = key_group_of(hashes[row as usize], groups);
                    assert!(owned.contains(group), "group {group} sent to {subtask}");
                }
            }
            // Straight hashing would have sent some keys elsewhere: the
            // routing is not the same function under another name.
            let mut direct = Partitioner::new(Partitioning::Hash(vec!["k".into()]), vec![0], 3, 0);
            if consumers == 3 {
                assert_ne!(direct.route(&Rows::of_batch(&b)), Route::Split(split));
            }
        }
    }

    #[test]
    fn rebalance_rotates_and_forward_keeps_the_index() {
        let b = batch(&[1]);
        let mut p = Partitioner::new(Partitioning::Rebalance, vec![], 3, 1);
        let targets: Vec<Route> = (0..4).map(|_| p.route(&Rows::of_batch(&b))).collect();
        assert_eq!(
            targets,
            [Route::One(1), Route::One(2), Route::One(0), Route::One(1)]
        );
        let mut f = Partitioner::new(Partitioning::Forward, vec![], 3, 2);
        assert_eq!(f.route(&Rows::of_batch(&b)), Route::One(2));
        let mut all = Partitioner::new(Partitioning::Broadcast, vec![], 3, 0);
        assert_eq!(all.route(&Rows::of_batch(&b)), Route::All);
    }

    #[test]
    fn range_splits_at_sampled_quantiles_in_order() {
        let sample = batch(&(0..100).rev().collect::<Vec<_>>());
        let bounds = RangeBounds::from_sample(&sample, &[0], 4).unwrap();
        let mut p = Partitioner::new(Partitioning::Range(vec!["k".into()]), vec![0], 4, 0);
        p.set_range(bounds);
        let data = batch(&[-5, 10, 30, 60, 99, 200, 25]);
        let Route::Split(split) = p.route(&Rows::of_batch(&data)) else {
            panic!()
        };
        let consumer_of = |row: u32| split.iter().position(|rows| rows.contains(&row)).unwrap();
        let consumers: Vec<usize> = (0..7).map(consumer_of).collect();
        assert_eq!(
            consumers,
            [0, 0, 1, 2, 3, 3, 0],
            "a boundary value goes below it"
        );
    }

    #[test]
    fn range_hands_each_consumer_its_rows_in_key_order() {
        let schema = Schema::new(vec![Field::new("k", DataType::Utf8)]);
        // Keys sharing their first eight bytes, so prefixes tie.
        let keys = [
            "prefix00-c",
            "a",
            "prefix00-a",
            "zz",
            "m",
            "prefix00-b",
            "b",
            "y",
        ];
        let mut builder = BatchBuilder::new(schema, keys.len());
        for key in keys {
            builder.push_row(&[Value::Utf8(key.into())]).unwrap();
        }
        let data = builder.finish().unwrap();
        let bounds = RangeBounds::from_sample(&data, &[0], 2).unwrap();
        let mut p = Partitioner::new(Partitioning::Range(vec!["k".into()]), vec![0], 2, 0);
        p.set_range(bounds);
        let Route::Split(split) = p.route(&Rows::of_batch(&data)) else {
            panic!()
        };
        let routed: Vec<Vec<&str>> = split
            .iter()
            .map(|rows| rows.iter().map(|&r| keys[r as usize]).collect())
            .collect();
        let mut all: Vec<&str> = routed.concat();
        assert_eq!(all.len(), keys.len());
        all.sort_unstable();
        assert_eq!(
            routed.concat(),
            all,
            "consumers in range order, rows in key order"
        );
        assert!(routed.iter().all(|rows| !rows.is_empty()));
    }
}
