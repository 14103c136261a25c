//! `generate`, the source that needs no input files: rows computed from
//! their index, split over the subtasks; its params and its catalogue
//! definition.
//!
//! Bounded (`rows: N`), subtask *s* of *p* makes a contiguous share of
//! the rows. Unbounded (`rows: null`), it makes blocks of `batch_rows`
//! rows in turn with the other subtasks (block *k* of subtask *s* holds
//! rows from `(k·p + s)·batch_rows`), for ever, at most
//! `rows_per_second` over all subtasks if given. With `event_time`, a
//! streaming job's generator reports watermarks from that timestamp
//! column ([`crate::event_time`]).

use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, Column, ColumnData, DataType, Field, Schema, ValuesView};
use crate::event_time::{SplitWatermarks, WatermarkStrategy};
use crate::expr::{EvalContext, Expr};
use crate::message::Watermark;
use crate::operator::{OperatorContext, OperatorError, Rows, Source};
use crate::spec::limits;
use crate::spec::SpecError;

use super::project::{columns_schema, compile_columns, NamedExpr};

/// `generate`: `rows` rows whose columns are expressions over the row
/// index `i` (and seeded `random()` / `random_int(lo, hi)`), split over
/// the subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateParams {
    /// Rows in all, over all subtasks; `null` for an unbounded stream
    /// (the field must be there either way).
    #[serde(deserialize_with = "present_or_null")]
    pub rows: Option<u64>,
    /// Rows per second over all subtasks (unset: as fast as taken).
    #[serde(default)]
    pub rows_per_second: Option<u64>,
    /// The timestamp column watermarks follow, in a streaming job.
    #[serde(default)]
    pub event_time: Option<EventTimeParams>,
    /// The columns.
    pub columns: Vec<NamedExpr>,
    /// Seed of the random functions.
    #[serde(default)]
    pub seed: u64,
    /// Rows per produced batch.
    #[serde(default = "crate::spec::limits::default_batch_rows")]
    pub batch_rows: usize,
}

/// Where a source's event time is and how its watermark follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTimeParams {
    /// The timestamp column.
    pub column: String,
    /// How far out of order rows may come (0: in order).
    #[serde(default)]
    pub max_out_of_orderness_ms: i64,
    /// Processing time without a row after which the source no longer
    /// holds event time back.
    #[serde(default)]
    pub idle_timeout_ms: Option<u64>,
}

impl EventTimeParams {
    /// Flink's two strategies: monotonous when rows come in order (a
    /// delay of 0), bounded out-of-orderness otherwise.
    pub(crate) fn strategy(&self) -> WatermarkStrategy {
        match self.max_out_of_orderness_ms {
            0 => WatermarkStrategy::Monotonous,
            delay => WatermarkStrategy::BoundedOutOfOrderness {
                max_delay_ms: delay,
            },
        }
    }

    /// Checks the column (a timestamp of `schema`) and the delay; returns
    /// the column's position.
    pub fn check(&self, context: &SchemaContext<'_>, schema: &Schema) -> Result<usize, SpecError> {
        let index = context.timestamp_column(
            schema,
            &self.column,
            "event_time",
            "a watermark needs a timestamp column",
        )?;
        if self.max_out_of_orderness_ms < 0 {
            return Err(context.bad_params("max_out_of_orderness_ms must not be negative"));
        }
        Ok(index)
    }
}

fn present_or_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(deserializer)
}

/// The schema `generate`'s expressions see: the row index.
pub fn generate_input_schema() -> Schema {
    Schema::new(vec![Field::new("i", DataType::Int64)])
}

/// `generate`: the subtask's share of the rows.
pub struct Generate {
    params: GenerateParams,
    exprs: Vec<Expr>,
    schema: Schema,
    next: u64,
    end: u64,
    /// Unbounded: the next block, and how many subtasks take turns.
    block: u64,
    subtask: u64,
    parallelism: u64,
    produced: u64,
    started: Instant,
    /// Set in a streaming job with `event_time`: the column and its
    /// watermarks.
    event_time: Option<(usize, SplitWatermarks)>,
}

impl Generate {
    /// A generator of `params`.
    pub fn new(params: GenerateParams) -> Result<Self, OperatorError> {
        let (exprs, schema) = compile_columns(&params.columns, &generate_input_schema())?;
        Ok(Self {
            params,
            exprs,
            schema,
            next: 0,
            end: 0,
            block: 0,
            subtask: 0,
            parallelism: 1,
            produced: 0,
            started: Instant::now(),
            event_time: None,
        })
    }

    /// Reports watermarks from `event_time` (a streaming job).
    fn streaming(mut self, vertex: &str) -> Result<Self, OperatorError> {
        if let Some(event_time) = &self.params.event_time {
            let index = event_time
                .check(&SchemaContext::new(vertex), &self.schema)
                .map_err(|e| OperatorError::BadInput(e.to_string()))?;
            let strategy = event_time.strategy();
            let watermarks = SplitWatermarks::new(strategy, event_time.idle_timeout_ms, 1, 0);
            self.event_time = Some((index, watermarks));
        }
        Ok(self)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The next rows to make: `(first, count)`, or `None` when done.
    fn next_rows(&mut self) -> Option<(u64, u64)> {
        let per_batch = self.params.batch_rows.max(1) as u64;
        if self.params.rows.is_none() {
            let block = self
                .block
                .checked_mul(self.parallelism)?
                .checked_add(self.subtask)?;
            self.block += 1;
            return Some((block.checked_mul(per_batch)?, per_batch));
        }
        if self.next >= self.end {
            return None;
        }
        let count = (self.end - self.next).min(per_batch);
        let first = self.next;
        self.next += count;
        Some((first, count))
    }
}

impl Source for Generate {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let (s, p) = (
            u128::from(context.subtask),
            u128::from(context.parallelism.max(1)),
        );
        if let Some(rows) = self.params.rows {
            let rows = u128::from(rows);
            self.next = (rows * s / p) as u64;
            self.end = (rows * (s + 1) / p) as u64;
        }
        self.subtask = s as u64;
        self.parallelism = p as u64;
        self.started = Instant::now();
        Ok(())
    }

    fn ready_at(&self) -> Option<Instant> {
        let rate = self.params.rows_per_second.filter(|&r| r > 0)?;
        // This subtask's share of the rate: its rows so far are due at
        // produced / (rate / p) seconds.
        let seconds = self.produced as f64 * self.parallelism as f64 / rate as f64;
        Some(self.started + Duration::from_secs_f64(seconds.min(1e12)))
    }

    fn watermark(&mut self) -> Option<Watermark> {
        let now = self.now_ms();
        let (_, watermarks) = self.event_time.as_mut()?;
        watermarks.poll(now)
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        let Some((first, count)) = self.next_rows() else {
            return Ok(None);
        };
        self.produced += count;
        let index = Batch::new(
            generate_input_schema(),
            count as usize,
            vec![Column {
                validity: None,
                data: ColumnData::Int64((first as i64..(first + count) as i64).collect()),
            }],
        )?;
        let rows = Rows::of_batch(&index);
        let context = EvalContext {
            seed: self.params.seed,
            first_row: first,
        };
        let columns = self
            .exprs
            .iter()
            .map(|e| e.eval_column(&rows.input(context)))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = Batch::new(self.schema.clone(), count as usize, columns)?;
        let now = self.now_ms();
        if let Some((index, watermarks)) = &mut self.event_time {
            if let Some(ValuesView::Timestamp(times)) = batch.column(*index).map(|c| c.values) {
                if let Some(&latest) = times.iter().max() {
                    watermarks.observe(0, latest, now);
                }
            }
        }
        Ok(Some(batch))
    }
}

/// The catalogue's `generate`.
pub struct GenerateDefinition;

impl OperatorDefinition for GenerateDefinition {
    type Params = GenerateParams;

    fn name(&self) -> &'static str {
        "generate"
    }

    fn is_source(&self) -> bool {
        true
    }

    fn is_unbounded(&self, params: &GenerateParams) -> bool {
        params.rows.is_none()
    }

    fn output_schema(
        &self,
        params: &GenerateParams,
        context: &SchemaContext<'_>,
        _: &[Schema],
    ) -> Result<Schema, SpecError> {
        limits::check_batch_rows(context.vertex(), params.batch_rows)?;
        limits::check_columns(context.vertex(), params.columns.len())?;
        let schema = columns_schema(context, &params.columns, &generate_input_schema())?;
        if let Some(event_time) = &params.event_time {
            event_time.check(context, &schema)?;
        }
        Ok(schema)
    }

    fn build(
        &self,
        params: &GenerateParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let generate = Generate::new(params.clone())?;
        let generate = if context.step.streaming {
            generate.streaming(&context.step.vertex)?
        } else {
            generate
        };
        Ok(Built::Source(Box::new(generate)))
    }
}
