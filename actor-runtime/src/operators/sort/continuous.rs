//! The partitioned `top_n`: the best `limit` rows of each partition
//! (`partition_by`), optionally numbered (`rank`) — SQL's `ROW_NUMBER()
//! OVER (PARTITION BY … ORDER BY …)` cut at `rn <= limit`, which is also
//! how deduplication (`limit` 1) is written.
//!
//! In a streaming job it is continuous, as Flink's retracting Rank: after
//! *each input batch* it emits, per partition the batch touched, the
//! change to that partition's best rows as a changelog — `-D` of each row
//! that left them (pushed out, retracted upstream, or moved to another
//! rank when numbered), then `+I` of each that entered. Applied in order,
//! its output is after every batch the best rows so far. In a batch job it
//! emits each partition's best rows once, at the end of its input.
//!
//! It consumes changelogs: an input `-U`/`-D` removes one copy of an equal
//! row (all columns), and if that row was shown the next best takes its
//! place. So over a changelog it keeps *every* row of a partition (the
//! replacement can be any of them); over input that only grows it keeps
//! just each partition's best `limit`, since nothing can bring back a row
//! that fell below them. A retraction of a row it does not hold is an
//! error, not a silent skip. Ties are broken by a fixed order of whole
//! rows (see [`super::ranking`]).
//!
//! Partitions live in a hash index over a dense vector: a batch finds a
//! row's partition with one hash and lists the partitions it touched by
//! number, in the order it first touched them.
//!
//! Limits: rows are held in memory (no spilling), within the
//! `memory_bytes` budget or `OverBudget`; numbered, a row entering at rank
//! 1 renumbers — deletes and inserts — every row shown below it (as in
//! Flink, leave `rank` out where the number is not needed).

use indexmap::IndexMap;

use super::key_columns;
use super::order_key::sort_key;
use super::ranking::Ranking;
use super::SortKey;
use crate::checkpoint::{saved_rows, Rescaled};
use crate::data::{BatchBuilder, ColumnView, DataType, Field, RowKind, Schema};
use crate::kernels::row_codec::RowCodec;
use crate::kernels::rows::{encode_key, KeyColumn};
use crate::operator::{Emit, Operator, OperatorError, Rows};

/// How a partitioned `top_n` is asked to run.
pub struct RankingSpec<'a> {
    /// Sort keys, most significant first.
    pub keys: &'a [SortKey],
    /// The columns whose values make a partition.
    pub partition_by: &'a [String],
    /// Rows kept per partition.
    pub limit: usize,
    /// The name of a 1-based row number column to append, if any.
    pub rank: Option<&'a str>,
    /// Bytes it may hold.
    pub budget: u64,
    /// Emit changes after every batch (streaming) rather than the best
    /// rows at the end (batch).
    pub continuous: bool,
    /// Its input may retract rows (so every row must be kept).
    pub retracting: bool,
}

/// `top_n` per partition, continuous or at the end of input.
pub struct ContinuousTopN {
    input: Schema,
    output: Schema,
    keys: Vec<KeyColumn>,
    partition_by: Vec<usize>,
    limit: usize,
    ranked: bool,
    budget: u64,
    continuous: bool,
    retracting: bool,
    partitions: IndexMap<Box<[u8]>, Partition, foldhash::fast::RandomState>,
    codec: RowCodec,
    bytes: u64,
    /// The current row's entry (sort keys, then values), reused.
    entry: Vec<u8>,
    /// The current row's partition key, reused.
    partition: Vec<u8>,
}

/// One partition's ranking, and whether the batch being absorbed touched
/// it.
struct Partition {
    ranking: Ranking,
    touched: bool,
}

/// A changelog batch being built from rankings' changes.
struct Changes<'a> {
    builder: BatchBuilder,
    kinds: Vec<RowKind>,
    codec: &'a RowCodec,
    ranked: bool,
}

impl<'a> Changes<'a> {
    fn new(output: &Schema, codec: &'a RowCodec, ranked: bool, rows: usize) -> Self {
        Self {
            builder: BatchBuilder::new(output.clone(), rows),
            kinds: Vec::with_capacity(rows),
            codec,
            ranked,
        }
    }

    /// Adds one changed row: its values, kind and rank.
    fn push(&mut self, kind: RowKind, values: &[u8], rank: usize) -> Result<(), OperatorError> {
        self.codec.decode(values, &mut self.builder, 0)?;
        if self.ranked {
            let width = self.codec.width();
            self.builder.column(width).push_i64(rank as i64)?;
        }
        self.kinds.push(kind);
        Ok(())
    }

    /// Emits the batch, as a changelog when `continuous`.
    fn emit(self, continuous: bool, out: &mut dyn Emit) -> Result<(), OperatorError> {
        if self.kinds.is_empty() {
            return Ok(());
        }
        let batch = self.builder.finish()?;
        if continuous {
            out.emit(batch.with_kinds(&self.kinds)?)
        } else {
            out.emit(batch)
        }
    }
}

impl ContinuousTopN {
    /// The output schema of a `top_n` over `input`: the input's columns,
    /// then the rank's when numbered.
    pub fn output_schema(input: &Schema, rank: Option<&str>) -> Schema {
        let mut fields = input.fields.clone();
        if let Some(rank) = rank {
            fields.push(Field::new(rank, DataType::Int64));
        }
        Schema::new(fields)
    }

    /// The best `spec.limit` rows of each partition of `input`.
    pub fn new(spec: &RankingSpec<'_>, input: &Schema) -> Result<Self, OperatorError> {
        let partition_by = spec
            .partition_by
            .iter()
            .map(|name| {
                input.index_of(name).ok_or_else(|| {
                    OperatorError::BadInput(format!("top_n: no partition column {name}"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            input: input.clone(),
            output: Self::output_schema(input, spec.rank),
            keys: key_columns(spec.keys, input)?,
            partition_by,
            limit: spec.limit,
            ranked: spec.rank.is_some(),
            budget: spec.budget,
            continuous: spec.continuous,
            retracting: spec.retracting,
            partitions: IndexMap::default(),
            codec: RowCodec::new(input.fields.iter().map(|f| f.data_type).collect()),
            bytes: 0,
            entry: Vec::new(),
            partition: Vec::new(),
        })
    }

    fn over_budget(&self) -> OperatorError {
        let distinct: usize = self.partitions.values().map(|p| p.ranking.distinct()).sum();
        let kept = if self.retracting {
            "which over a changelog keeps every row (one that leaves the top is replaced by the next)"
        } else {
            "which keeps the best rows of each partition"
        };
        OperatorError::OverBudget {
            operator: "top_n".into(),
            budget: self.budget,
            detail: format!(
                "{distinct} distinct rows in {} partitions of a top_n, {kept} and cannot spill; \
                 give it more memory_bytes, or filter or aggregate before it",
                self.partitions.len()
            ),
        }
    }

    /// Takes `rows` into their partitions' rankings, and lists in
    /// `touched` each partition whose best rows they may have changed.
    fn absorb(&mut self, rows: &Rows<'_>, touched: &mut Vec<usize>) -> Result<(), OperatorError> {
        let of: Vec<&ColumnView<'_>> = self
            .partition_by
            .iter()
            .map(|&c| &rows.columns[c])
            .collect();
        for row in 0..rows.rows {
            self.entry.clear();
            sort_key(&self.keys, &rows.columns, row, &mut self.entry);
            let sort_len = self.entry.len();
            self.codec.encode(&rows.columns, row, &mut self.entry);
            self.partition.clear();
            encode_key(&of, row, &mut self.partition);
            // Looked up before inserting, so a row of a partition held
            // already allocates no key.
            let index = match self.partitions.get_index_of(&self.partition[..]) {
                Some(index) => index,
                None => {
                    let partition = Partition {
                        ranking: Ranking::new(self.retracting),
                        touched: false,
                    };
                    self.partitions
                        .insert_full(self.partition[..].into(), partition)
                        .0
                }
            };
            let Some((_, partition)) = self.partitions.get_index_mut(index) else {
                continue;
            };
            let ranking = &mut partition.ranking;
            if !ranking.reaches_top(&self.entry, self.limit) {
                if !self.retracting {
                    // Input that only grows: a row below the best can
                    // never enter them.
                    continue;
                }
            } else if !partition.touched {
                partition.touched = true;
                touched.push(index);
            }
            let before = ranking.bytes();
            if rows.kind(row).is_retraction() {
                if ranking.retract(&self.entry).is_err() {
                    return Err(OperatorError::not_held("top_n: the changelog", rows, row));
                }
            } else {
                ranking.insert(&self.entry, sort_len);
            }
            self.bytes = (self.bytes + ranking.bytes()).saturating_sub(before);
        }
        Ok(())
    }

    /// Brings the partitions `touched` up to date: their changes emitted
    /// (continuous), rows below the best pruned (input that only grows),
    /// empty ones forgotten.
    fn settle(&mut self, touched: Vec<usize>, out: &mut dyn Emit) -> Result<(), OperatorError> {
        let mut changes = Changes::new(&self.output, &self.codec, self.ranked, touched.len());
        let mut empty = Vec::new();
        for &index in &touched {
            let Some((_, partition)) = self.partitions.get_index_mut(index) else {
                continue;
            };
            partition.touched = false;
            let ranking = &mut partition.ranking;
            let before = ranking.bytes();
            if self.continuous {
                ranking.changes(self.limit, self.ranked, |kind, values, rank| {
                    changes.push(kind, values, rank)
                })?;
            }
            if !self.retracting {
                ranking.prune(self.limit);
            }
            self.bytes = (self.bytes + ranking.bytes()).saturating_sub(before);
            if ranking.is_empty() {
                empty.push(index);
            }
        }
        // Highest first: removing one moves the last partition into its
        // place, and the last is never one still to remove.
        empty.sort_unstable_by(|a, b| b.cmp(a));
        for index in empty {
            self.partitions.swap_remove_index(index);
        }
        changes.emit(self.continuous, out)
    }

    /// Takes back saved rows (every held row, one per copy).
    fn restore_rows(&mut self, rows: &Rows<'_>) -> Result<(), OperatorError> {
        let mut touched = Vec::new();
        self.absorb(rows, &mut touched)?;
        for index in touched {
            if let Some((_, partition)) = self.partitions.get_index_mut(index) {
                partition.touched = false;
                partition.ranking.settle(self.limit);
            }
        }
        Ok(())
    }
}

impl Operator for ContinuousTopN {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let mut touched = Vec::new();
        self.absorb(rows, &mut touched)?;
        self.settle(touched, out)?;
        if self.bytes > self.budget {
            return Err(self.over_budget());
        }
        Ok(())
    }

    fn end_input(&mut self, _: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        if self.continuous {
            return Ok(());
        }
        let rows = self.partitions.len().saturating_mul(self.limit.min(16));
        let mut changes = Changes::new(&self.output, &self.codec, self.ranked, rows);
        for partition in self.partitions.values_mut() {
            partition
                .ranking
                .changes(self.limit, self.ranked, |kind, values, rank| {
                    changes.push(kind, values, rank)
                })?;
        }
        changes.emit(false, out)
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        let mut rows = Vec::new();
        for partition in self.partitions.values() {
            partition.ranking.rows(&mut rows);
        }
        let batch = self.codec.to_batch(&self.input, rows.into_iter())?;
        Ok(Some(batch.to_bytes().to_vec()))
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        let batch = saved_rows(state, &self.input, "top_n state")?;
        self.restore_rows(&Rows::of_batch(&batch))
    }

    fn restore_rescaled(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        let keyed = !self.partition_by.is_empty();
        for (old, bytes) in from.states {
            let batch = saved_rows(bytes, &self.input, "top_n state")?;
            if let Some(share) = from.share(*old, batch, keyed, "top_n state")? {
                self.restore_rows(&Rows::of_batch(&share))?;
            }
        }
        Ok(())
    }

    fn state_bytes(&self) -> u64 {
        self.bytes
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.partitions.clear();
        Ok(())
    }
}
