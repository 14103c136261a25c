//! Dividing skewed partitions (Spark's adaptive skew join, Celeborn's
//! split reads): before a region whose chains read blocking edges runs,
//! the driver looks at how many bytes each map wrote to each partition
//! (the sizes map tasks report, Spark's `MapStatus`). A partition far
//! larger than its edge's median is cut into pieces by map range, and the
//! pieces beyond the first go to the least loaded other subtasks, which
//! also read the same partition of the chain's other inputs whole: each
//! row of the divided side meets every row it could match, once.
//!
//! The subtask count does not change (nor does anything downstream: each
//! subtask still writes its own output), so a subtask given a piece reads
//! it beside its own partition. That is correct because partitions of a
//! hash or range edge hold disjoint keys, and only for consumers that say
//! an input may be divided (`OperatorDefinition::divisible_input`).
//!
//! Pure: sizes in, pieces out.

use std::ops::Range;

use faro_runtime::deploy::ShufflePiece;
use faro_runtime::spec::SkewSpec;

/// One blocking input of a consumer chain, in its head's input order.
#[derive(Debug, Clone)]
pub struct InputSizes {
    /// The exchange.
    pub exchange: usize,
    /// Whether a partition of it may be divided among subtasks.
    pub divisible: bool,
    /// Bytes each map wrote to each partition, `bytes[map][partition]`
    /// (a map that reported nothing counts as having written nothing).
    pub bytes: Vec<Vec<u64>>,
}

impl InputSizes {
    fn totals(&self, partitions: usize) -> Vec<u64> {
        let mut totals = vec![0; partitions];
        for map in &self.bytes {
            for (total, bytes) in totals.iter_mut().zip(map) {
                *total += bytes;
            }
        }
        totals
    }
}

/// A partition the plan divides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    /// Which input (position in the chain's inputs) is divided.
    pub input: usize,
    /// The partition.
    pub partition: u32,
    /// Its bytes on that input.
    pub bytes: u64,
    /// The map ranges of its pieces, in order.
    pub pieces: Vec<Range<u32>>,
    /// The subtask reading each piece (the first is the partition's own).
    pub subtasks: Vec<u32>,
}

/// What a consumer chain's subtasks read, once skew is taken into
/// account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkewPlan {
    /// The partitions divided; empty when none is skewed.
    pub divisions: Vec<Division>,
    /// What each subtask reads of the blocking inputs, by subtask; empty
    /// when nothing is divided (every subtask reads its own partitions).
    pub pieces: Vec<Vec<ShufflePiece>>,
}

/// Divides the skewed partitions of `inputs` (all the blocking inputs of
/// a chain of `parallelism` subtasks, one partition each) as `skew` says.
pub fn plan(skew: &SkewSpec, parallelism: u32, inputs: &[InputSizes]) -> SkewPlan {
    let partitions = parallelism as usize;
    if !skew.enabled || partitions < 2 || inputs.is_empty() {
        return SkewPlan::default();
    }
    let totals: Vec<Vec<u64>> = inputs.iter().map(|i| i.totals(partitions)).collect();
    let medians: Vec<u64> = totals.iter().map(|t| median(t)).collect();
    let skewed = |i: usize, p: usize| {
        let bytes = totals[i][p];
        bytes > skew.min_bytes && bytes > medians[i].saturating_mul(u64::from(skew.factor))
    };
    // At most one input divided per partition: its largest skewed side.
    let mut chosen: Vec<(usize, usize)> = (0..partitions)
        .filter_map(|p| {
            (0..inputs.len())
                .filter(|&i| inputs[i].divisible && skewed(i, p))
                .max_by_key(|&i| totals[i][p])
                .map(|i| (i, p))
        })
        .collect();
    chosen.sort_by_key(|&(i, p)| std::cmp::Reverse(totals[i][p]));
    let mut load: Vec<u64> = (0..partitions)
        .map(|p| totals.iter().map(|t| t[p]).sum())
        .collect();
    let mut divisions = Vec::new();
    for (i, p) in chosen {
        let normal: Vec<u64> = (0..partitions)
            .filter(|&q| !skewed(i, q))
            .map(|q| totals[i][q])
            .collect();
        let mean = normal.iter().sum::<u64>() / normal.len().max(1) as u64;
        let target = mean.max(skew.min_bytes / u64::from(skew.factor)).max(1);
        let wanted = totals[i][p].div_ceil(target).min(partitions as u64) as usize;
        let column: Vec<u64> = inputs[i]
            .bytes
            .iter()
            .map(|map| map.get(p).copied().unwrap_or(0))
            .collect();
        let pieces = map_ranges(&column, wanted);
        if pieces.len() < 2 {
            continue;
        }
        // The partition's own subtask keeps the first piece; each other
        // piece goes to the least loaded subtask holding none of it.
        let others: u64 = (0..inputs.len())
            .filter(|&j| j != i)
            .map(|j| totals[j][p])
            .sum();
        let mut subtasks = vec![p as u32];
        load[p] = load[p] - totals[i][p] + piece_bytes(&column, &pieces[0]);
        for piece in &pieces[1..] {
            let Some(s) = (0..partitions)
                .filter(|s| !subtasks.contains(&(*s as u32)))
                .min_by_key(|&s| (load[s], s))
            else {
                break;
            };
            load[s] += piece_bytes(&column, piece) + others;
            subtasks.push(s as u32);
        }
        // (Never short of subtasks, as there are no more pieces than
        // subtasks; were it, the last one given takes the rest.)
        let mut pieces = pieces;
        if let (Some(last), Some(end)) =
            (subtasks.len().checked_sub(1), pieces.last().map(|r| r.end))
        {
            pieces.truncate(last + 1);
            pieces[last].end = end;
        }
        divisions.push(Division {
            input: i,
            partition: p as u32,
            bytes: totals[i][p],
            pieces,
            subtasks,
        });
    }
    if divisions.is_empty() {
        return SkewPlan::default();
    }
    let pieces = (0..parallelism)
        .map(|s| subtask_pieces(s, inputs, &divisions))
        .collect();
    SkewPlan { divisions, pieces }
}

/// What subtask `s` reads: its own partition of every input (only the
/// first piece of a divided one), then each piece it was given, with the
/// same partition of the other inputs whole.
fn subtask_pieces(s: u32, inputs: &[InputSizes], divisions: &[Division]) -> Vec<ShufflePiece> {
    let mut pieces = Vec::new();
    let own = divisions.iter().find(|d| d.partition == s);
    for (i, input) in inputs.iter().enumerate() {
        let maps = own.filter(|d| d.input == i).map(|d| d.pieces[0].clone());
        pieces.push(ShufflePiece {
            exchange: input.exchange,
            partition: s,
            maps,
        });
    }
    for division in divisions {
        let Some(at) = (division.subtasks.iter().skip(1)).position(|&t| t == s) else {
            continue;
        };
        for (i, input) in inputs.iter().enumerate() {
            let maps = (i == division.input).then(|| division.pieces[at + 1].clone());
            pieces.push(ShufflePiece {
                exchange: input.exchange,
                partition: division.partition,
                maps,
            });
        }
    }
    pieces
}

/// Cuts maps `0..bytes.len()` into at most `wanted` contiguous ranges of
/// about equal bytes, none empty of maps or (but for a lone range) of
/// bytes.
fn map_ranges(bytes: &[u64], wanted: usize) -> Vec<Range<u32>> {
    let total: u64 = bytes.iter().sum();
    let maps = bytes.len() as u32;
    if wanted < 2 || maps < 2 || total == 0 {
        return std::iter::once(0..maps).collect();
    }
    let mut ranges = Vec::new();
    let (mut start, mut taken) = (0u32, 0u64);
    for (m, &b) in (0u32..).zip(bytes) {
        let cut = total * (ranges.len() as u64 + 1) / wanted as u64;
        // A map whose middle lies past the cut starts the next range.
        if ranges.len() + 1 < wanted && m > start && 2 * taken + b > 2 * cut {
            ranges.push(start..m);
            start = m;
        }
        taken += b;
    }
    ranges.push(start..maps);
    // A piece of no bytes would only make its subtask read the other
    // inputs' partition for nothing: it joins its neighbour.
    let mut merged: Vec<Range<u32>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if piece_bytes(bytes, last) == 0 || piece_bytes(bytes, &range) == 0 => {
                last.end = range.end;
            }
            _ => merged.push(range),
        }
    }
    merged
}

fn piece_bytes(column: &[u64], maps: &Range<u32>) -> u64 {
    column[maps.start as usize..maps.end as usize].iter().sum()
}

fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(min_bytes: u64) -> SkewSpec {
        SkewSpec {
            enabled: true,
            factor: 5,
            min_bytes,
        }
    }

    /// `maps` maps writing `per_map[p]` bytes each to partition `p`.
    fn input(exchange: usize, divisible: bool, maps: usize, per_map: &[u64]) -> InputSizes {
        InputSizes {
            exchange,
            divisible,
            bytes: vec![per_map.to_vec(); maps],
        }
    }

    /// Every (partition, map) of `input` read exactly once, over all
    /// subtasks.
    fn reads_each_map_once(plan: &SkewPlan, exchange: usize, maps: u32, partitions: u32) {
        for p in 0..partitions {
            let mut seen = vec![0; maps as usize];
            for piece in plan.pieces.iter().flatten() {
                if piece.exchange == exchange && piece.partition == p {
                    for m in piece.maps.clone().unwrap_or(0..maps) {
                        seen[m as usize] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "partition {p}: {seen:?}");
        }
    }

    #[test]
    fn a_hot_partition_of_a_join_side_is_cut_by_map_and_the_other_side_read_whole_by_each_piece() {
        let hot = [10, 10, 400, 10];
        let left = input(0, true, 8, &hot);
        let right = input(1, false, 4, &[5, 5, 5, 5]);
        let plan = plan(&spec(100), 4, &[left, right]);
        assert_eq!(plan.divisions.len(), 1);
        let division = &plan.divisions[0];
        assert_eq!((division.input, division.partition), (0, 2));
        assert_eq!(
            division.subtasks[0], 2,
            "the partition's own subtask keeps a piece"
        );
        assert!(division.pieces.len() >= 3, "{division:?}");
        reads_each_map_once(&plan, 0, 8, 4);
        // Each subtask holding a piece of partition 2 reads the right
        // side's partition 2 whole, and only those do.
        for (s, pieces) in plan.pieces.iter().enumerate() {
            let whole_right_2 = pieces
                .iter()
                .filter(|p| p.exchange == 1 && p.partition == 2 && p.maps.is_none())
                .count();
            let holds = division.subtasks.contains(&(s as u32));
            assert_eq!(whole_right_2, usize::from(holds), "subtask {s}");
        }
    }

    #[test]
    fn nothing_is_divided_below_the_threshold_or_the_factor_or_when_the_side_is_not_divisible() {
        let hot = [10, 10, 400, 10];
        assert_eq!(
            plan(&spec(5000), 4, &[input(0, true, 8, &hot)]),
            SkewPlan::default()
        );
        let mild = [100, 100, 400, 100];
        assert_eq!(
            plan(&spec(10), 4, &[input(0, true, 8, &mild)]),
            SkewPlan::default()
        );
        assert_eq!(
            plan(&spec(10), 4, &[input(0, false, 8, &hot)]),
            SkewPlan::default()
        );
        let off = SkewSpec {
            enabled: false,
            ..spec(10)
        };
        assert_eq!(
            plan(&off, 4, &[input(0, true, 8, &hot)]),
            SkewPlan::default()
        );
    }

    #[test]
    fn one_map_holding_the_whole_partition_cannot_be_cut() {
        let mut single = input(0, true, 4, &[1, 1, 0, 1]);
        single.bytes[3][2] = 1000;
        assert_eq!(plan(&spec(10), 4, &[single]), SkewPlan::default());
    }

    #[test]
    fn map_ranges_cover_every_map_once_in_about_equal_bytes() {
        assert_eq!(map_ranges(&[10; 8], 4), vec![0..2, 2..4, 4..6, 6..8]);
        assert_eq!(map_ranges(&[0, 0, 30, 0, 30, 0], 2), vec![0..4, 4..6]);
        assert_eq!(map_ranges(&[5; 3], 8), vec![0..1, 1..2, 2..3]);
        assert_eq!(map_ranges(&[5], 4), vec![0..1]);
        assert_eq!(map_ranges(&[0, 0, 0, 9], 4), vec![0..4]);
        assert_eq!(map_ranges(&[9, 0, 0, 9, 0], 4), vec![0..3, 3..5]);
    }

    #[test]
    fn the_larger_skewed_side_of_a_partition_is_the_one_divided() {
        let left = input(0, true, 4, &[10, 300, 10, 10]);
        let right = input(1, true, 4, &[10, 500, 10, 10]);
        let plan = plan(&spec(100), 4, &[left, right]);
        assert_eq!(plan.divisions.len(), 1);
        let division = &plan.divisions[0];
        assert_eq!(division.input, 1);
        reads_each_map_once(&plan, 1, 4, 4);
        let left_1_whole = plan
            .pieces
            .iter()
            .flatten()
            .filter(|p| p.exchange == 0 && p.partition == 1 && p.maps.is_none())
            .count();
        assert_eq!(left_1_whole, division.subtasks.len());
    }
}
