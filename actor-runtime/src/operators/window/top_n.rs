//! `window_top_n`: the best `n` rows per window and partition — Flink's
//! "hottest items per window" — over rows that carry `window_start` and
//! `window_end`, as `window` emits them. A window is complete once the
//! watermark reaches its last millisecond (plus the allowed lateness,
//! which should match the `window` upstream); it is then emitted in
//! partition and rank order and forgotten. In a batch job every window
//! is emitted at end of input.
//!
//! Rows are ordered as `top_n` orders them (the shared
//! [`compare_rows`]: nulls first, NaN last); ties keep no particular
//! order and the optional rank column numbers rows 1, 2, … within their
//! partition (ROW_NUMBER, not RANK). Each open window holds its rows, cut
//! back to the best `n` per partition whenever they pile up; beyond the
//! memory budget the operator fails (`OverBudget`). A row of a window
//! already emitted is late: dropped and counted.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, OperatorState, SchemaContext};
use crate::data::{Batch, Column, ColumnData, ColumnView, DataType, Field, Schema, ValuesView};
use crate::kernels::rows::{compare_rows, KeyColumn};
use crate::kernels::take::{concat, take_batch};
use crate::kernels::views;
use crate::message::Watermark;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::operators::sort::{key_columns, SortKey};
use crate::spec::SpecError;

/// Rows a window may gather beyond what its last cut kept before it is
/// cut again.
const SLACK_ROWS: usize = 8192;

/// `window_top_n`'s params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowTopNParams {
    /// Columns that split a window's rows into rankings of their own.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// The order, best first, most significant key first.
    pub order_by: Vec<SortKey>,
    /// Rows kept per window and partition.
    pub n: usize,
    /// Name of a column numbering the kept rows 1, 2, … (none: no column).
    #[serde(default)]
    pub rank: Option<String>,
    /// As the upstream `window`'s: how long after its end rows of a
    /// window may still come.
    #[serde(default)]
    pub allowed_lateness_ms: i64,
    /// Bytes of rows all open windows may hold.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// One open window's rows.
#[derive(Default)]
struct Held {
    batches: Vec<Batch>,
    rows: usize,
    /// Rows the last cut kept: the next cut waits for this many more.
    kept: usize,
    bytes: u64,
}

/// The running operator.
pub struct WindowTopN {
    schema: Schema,
    output: Schema,
    start: usize,
    end: usize,
    /// Partition columns, then the order: one sort groups partitions
    /// and ranks within them.
    keys: Vec<KeyColumn>,
    partitions: usize,
    n: usize,
    rank: bool,
    lateness: i64,
    watermark: Watermark,
    open: BTreeMap<(i64, i64), Held>,
    bytes: u64,
    budget: u64,
    late_rows: u64,
}

impl WindowTopN {
    /// The best rows of `params` per window over rows of `input`.
    pub fn new(params: &WindowTopNParams, input: &Schema) -> Result<Self, OperatorError> {
        let column = |name: &str| {
            input
                .index_of(name)
                .ok_or_else(|| OperatorError::BadInput(format!("no column {name}")))
        };
        let mut keys: Vec<KeyColumn> = params
            .partition_by
            .iter()
            .map(|p| {
                column(p).map(|column| KeyColumn {
                    column,
                    descending: false,
                })
            })
            .collect::<Result<_, _>>()?;
        keys.extend(key_columns(&params.order_by, input)?);
        let mut output = input.clone();
        if let Some(rank) = &params.rank {
            output
                .fields
                .push(Field::new(rank.clone(), DataType::Int64));
        }
        Ok(Self {
            schema: input.clone(),
            output,
            start: column("window_start")?,
            end: column("window_end")?,
            keys,
            partitions: params.partition_by.len(),
            n: params.n,
            rank: params.rank.is_some(),
            lateness: params.allowed_lateness_ms.max(0),
            watermark: Watermark::MIN,
            open: BTreeMap::new(),
            bytes: 0,
            budget: params.memory_bytes.unwrap_or(u64::MAX),
            late_rows: 0,
        })
    }

    fn is_due(&self, end: i64) -> bool {
        end.saturating_sub(1).saturating_add(self.lateness) <= self.watermark.0
    }

    /// The best `n` rows per partition of `held`, in partition and rank
    /// order, with each row's rank.
    fn best(&self, held: &Held) -> Result<(Batch, Vec<i64>), OperatorError> {
        let all = concat(&self.schema, &held.batches)?;
        let columns = views(&all);
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        order
            .sort_by(|&a, &b| compare_rows(&self.keys, &columns, a as usize, &columns, b as usize));
        let partition = &self.keys[..self.partitions];
        let (mut picks, mut ranks) = (Vec::new(), Vec::new());
        let mut rank = 0i64;
        for (i, &row) in order.iter().enumerate() {
            let same = i > 0
                && compare_rows(
                    partition,
                    &columns,
                    order[i - 1] as usize,
                    &columns,
                    row as usize,
                ) == Ordering::Equal;
            rank = if same { rank + 1 } else { 1 };
            if rank <= self.n as i64 {
                picks.push(row);
                ranks.push(rank);
            }
        }
        Ok((take_batch(&self.schema, &columns, &picks)?, ranks))
    }

    /// Cuts window `key`'s rows back to its best, within the budget.
    fn cut(&mut self, key: (i64, i64)) -> Result<(), OperatorError> {
        let Some(held) = self.open.get(&key) else {
            return Ok(());
        };
        let (kept, _) = self.best(held)?;
        let bytes = kept.buffer_bytes() as u64;
        self.bytes = self.bytes.saturating_sub(held.bytes) + bytes;
        let rows = kept.num_rows();
        self.open.insert(
            key,
            Held {
                batches: vec![kept],
                rows,
                kept: rows,
                bytes,
            },
        );
        if self.bytes > self.budget {
            return Err(OperatorError::OverBudget {
                operator: "window_top_n".into(),
                budget: self.budget,
                detail: format!(
                    "the best {} rows per partition of {} open windows; lower n",
                    self.n,
                    self.open.len()
                ),
            });
        }
        Ok(())
    }

    /// Emits and drops every complete window (all at end of input).
    fn fire(&mut self, all: bool, out: &mut dyn Emit) -> Result<(), OperatorError> {
        while let Some((&(end, start), _)) = self.open.first_key_value() {
            if !all && !self.is_due(end) {
                break;
            }
            let Some(held) = self.open.remove(&(end, start)) else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(held.bytes);
            let (best, ranks) = self.best(&held)?;
            let mut columns = best.columns().to_vec();
            if self.rank {
                columns.push(Column {
                    validity: None,
                    data: ColumnData::Int64(ranks),
                });
            }
            out.emit(Batch::new(self.output.clone(), best.num_rows(), columns)?)?;
        }
        Ok(())
    }
}

fn timestamps<'a>(column: &ColumnView<'a>) -> Result<&'a [i64], OperatorError> {
    match column.values {
        ValuesView::Timestamp(values) => Ok(values),
        _ => Err(OperatorError::BadInput(
            "window bounds are not timestamps".into(),
        )),
    }
}

impl Operator for WindowTopN {
    fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn state_bytes(&self) -> u64 {
        self.bytes
    }

    fn process(
        &mut self,
        _input: usize,
        rows: &Rows<'_>,
        _out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let (starts, ends) = (&rows.columns[self.start], &rows.columns[self.end]);
        let (start_values, end_values) = (timestamps(starts)?, timestamps(ends)?);
        let mut per_window: BTreeMap<(i64, i64), Vec<u32>> = BTreeMap::new();
        for row in 0..rows.rows {
            if starts.is_null(row) || ends.is_null(row) || self.is_due(end_values[row]) {
                self.late_rows += 1;
                continue;
            }
            let key = (end_values[row], start_values[row]);
            per_window.entry(key).or_default().push(row as u32);
        }
        for (key, picks) in per_window {
            let batch = take_batch(&self.schema, &rows.columns, &picks)?;
            let bytes = batch.buffer_bytes() as u64;
            self.bytes += bytes;
            let held = self.open.entry(key).or_default();
            held.rows += batch.num_rows();
            held.bytes += bytes;
            held.batches.push(batch);
            if held.rows > held.kept.saturating_mul(2) + SLACK_ROWS || self.bytes > self.budget {
                self.cut(key)?;
            }
        }
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.watermark = self.watermark.max(watermark);
        self.fire(false, out)?;
        Ok(Some(watermark))
    }

    fn end_input(&mut self, _input: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.fire(true, out)?;
        if self.late_rows > 0 {
            tracing::info!(late_rows = self.late_rows, "window_top_n dropped late rows");
        }
        Ok(())
    }
}

/// The catalogue's `window_top_n`.
pub struct WindowTopNDefinition;

impl OperatorDefinition for WindowTopNDefinition {
    type Params = WindowTopNParams;

    fn name(&self) -> &'static str {
        "window_top_n"
    }

    fn output_schema(
        &self,
        params: &WindowTopNParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let mut input = inputs.first().cloned().unwrap_or_default();
        let why = "window_top_n ranks the rows of windows a `window` emits";
        for bound in ["window_start", "window_end"] {
            context.timestamp_column(&input, bound, bound, why)?;
        }
        for name in params
            .partition_by
            .iter()
            .chain(params.order_by.iter().map(|k| &k.column))
        {
            let at = context.column(&input, name)?;
            if let DataType::Vector { .. } = input.fields[at].data_type {
                return Err(context.bad_params(format!("vector column {name:?} has no order")));
            }
        }
        if params.n == 0 {
            return Err(context.bad_params("n must be at least 1"));
        }
        if params.allowed_lateness_ms < 0 {
            return Err(context.bad_params("allowed_lateness_ms must not be negative"));
        }
        if let Some(rank) = &params.rank {
            input.fields.push(Field::new(rank.clone(), DataType::Int64));
        }
        context.unique(input)
    }

    fn state(&self, _: &WindowTopNParams, inputs: &[Schema]) -> Option<OperatorState> {
        Some(OperatorState::Rows {
            schema: inputs.first().cloned().unwrap_or_default(),
        })
    }

    fn build(
        &self,
        params: &WindowTopNParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let params = WindowTopNParams {
            memory_bytes: Some(context.budget(params.memory_bytes)),
            ..params.clone()
        };
        let top_n = WindowTopN::new(&params, &context.input(0))?;
        Ok(Built::Operator(Box::new(top_n)))
    }
}
