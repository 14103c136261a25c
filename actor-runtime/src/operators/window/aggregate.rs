//! `window`: an aggregate per event-time window (tumbling, hopping or
//! cumulating) and group, emitted when the watermark passes the window's
//! end — or, in a batch job, when the input ends. Each open window keeps
//! an incremental [`Aggregate`] (the batch accumulators, spilling as they
//! do), so a window's result is exactly the batch aggregate of its rows:
//! one spec gives the same answer in both modes.
//!
//! Output: `window_start`, `window_end` (timestamps), the group keys, the
//! aggregates. A row whose windows have all fired (its time plus the
//! allowed lateness at or behind the watermark) is late: dropped and
//! counted. Rows with a null time are dropped and counted the same way.
//! Known limits: a late row does not update a fired window (no
//! retractions yet); each open window has the aggregate's memory budget.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::assign::{Assigner, Window};
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, Column, ColumnData, DataType, Field, Schema, ValuesView};
use crate::kernels::take::take_batch;
use crate::message::Watermark;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::aggregate::{
    Aggregate, AggregateMode, AggregateParams, AggregateShape, AggregateSpec,
};
use crate::spec::SpecError;

/// The window kind, in a spec: `{"tumbling": {"size_ms": 60000}}`,
/// `{"hopping": {"size_ms": …, "slide_ms": …}}` or
/// `{"cumulating": {"max_size_ms": …, "step_ms": …}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowKind {
    /// Consecutive windows.
    Tumbling {
        /// Window length.
        size_ms: i64,
    },
    /// Overlapping windows starting every `slide_ms`.
    Hopping {
        /// Window length.
        size_ms: i64,
        /// Distance between starts (divides the size).
        slide_ms: i64,
    },
    /// Windows growing by `step_ms` up to `max_size_ms`.
    Cumulating {
        /// The largest window.
        max_size_ms: i64,
        /// Growth per window (divides the largest).
        step_ms: i64,
    },
}

/// `window`'s params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowParams {
    /// The event-time column (a timestamp).
    pub time: String,
    /// The windows.
    pub window: WindowKind,
    /// Shift of window starts from the epoch.
    #[serde(default)]
    pub offset_ms: i64,
    /// Group keys within a window (none: one group per window).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// The aggregates, as `aggregate` takes them.
    pub aggregates: Vec<AggregateSpec>,
    /// How long after its end a window waits for late rows before firing.
    #[serde(default)]
    pub allowed_lateness_ms: i64,
    /// Bytes of state per open window before spilling.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

impl WindowParams {
    fn assigner(&self) -> Assigner {
        let offset = self.offset_ms;
        match self.window {
            WindowKind::Tumbling { size_ms } => Assigner::Tumbling {
                size: size_ms,
                offset,
            },
            WindowKind::Hopping { size_ms, slide_ms } => Assigner::Hopping {
                size: size_ms,
                slide: slide_ms,
                offset,
            },
            WindowKind::Cumulating {
                max_size_ms,
                step_ms,
            } => Assigner::Cumulating {
                max_size: max_size_ms,
                step: step_ms,
                offset,
            },
        }
    }

    fn aggregate(&self) -> AggregateParams {
        AggregateParams {
            group_by: self.group_by.clone(),
            aggregates: self.aggregates.clone(),
            memory_bytes: self.memory_bytes,
        }
    }
}

fn bounds_fields() -> [Field; 2] {
    [
        Field::new("window_start", DataType::Timestamp),
        Field::new("window_end", DataType::Timestamp),
    ]
}

/// The running operator.
pub struct WindowAggregate {
    assigner: Assigner,
    time: usize,
    params: AggregateParams,
    input: Schema,
    output: Schema,
    lateness: i64,
    watermark: Watermark,
    open: BTreeMap<(i64, i64), Aggregate>,
    context: Option<OperatorContext>,
    late_rows: u64,
}

impl WindowAggregate {
    /// A window aggregate of `params` over rows of `input`.
    pub fn new(params: &WindowParams, input: &Schema) -> Result<Self, OperatorError> {
        let time = input
            .index_of(&params.time)
            .ok_or_else(|| OperatorError::BadInput(format!("no time column {}", params.time)))?;
        let aggregate = params.aggregate();
        let probe = Aggregate::new(&aggregate, input, AggregateMode::Complete)?;
        let mut fields = bounds_fields().to_vec();
        fields.extend(probe.output_schema().fields);
        Ok(Self {
            assigner: params.assigner(),
            time,
            params: aggregate,
            input: input.clone(),
            output: Schema::new(fields),
            lateness: params.allowed_lateness_ms.max(0),
            watermark: Watermark::MIN,
            open: BTreeMap::new(),
            context: None,
            late_rows: 0,
        })
    }

    /// Rows dropped as late (or without a time) so far.
    pub fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn fired(&self, window: &Window) -> bool {
        window.max_timestamp().saturating_add(self.lateness) <= self.watermark.0
    }

    /// Emits and drops every window the watermark has passed (all of
    /// them at end of input), earliest end first.
    fn fire(&mut self, all: bool, out: &mut dyn Emit) -> Result<(), OperatorError> {
        while let Some((&(end, start), _)) = self.open.first_key_value() {
            let window = Window { start, end };
            if !all && !self.fired(&window) {
                break;
            }
            let Some(mut aggregate) = self.open.remove(&(end, start)) else {
                break;
            };
            let mut results: Vec<Batch> = Vec::new();
            aggregate.end_input(0, &mut results)?;
            aggregate.close()?;
            for batch in results {
                let rows = batch.num_rows();
                let mut columns = vec![
                    Column {
                        validity: None,
                        data: ColumnData::Timestamp(vec![start; rows]),
                    },
                    Column {
                        validity: None,
                        data: ColumnData::Timestamp(vec![end; rows]),
                    },
                ];
                columns.extend(batch.columns().iter().cloned());
                out.emit(Batch::new(self.output.clone(), rows, columns)?)?;
            }
        }
        Ok(())
    }
}

impl Operator for WindowAggregate {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.context = Some(context.clone());
        Ok(())
    }

    fn process(
        &mut self,
        _input: usize,
        rows: &Rows<'_>,
        _out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let column = &rows.columns[self.time];
        let ValuesView::Timestamp(times) = column.values else {
            return Err(OperatorError::BadInput(
                "the window's time column is not a timestamp".into(),
            ));
        };
        let mut per_window: BTreeMap<(i64, i64), Vec<u32>> = BTreeMap::new();
        let mut windows = Vec::with_capacity(self.assigner.windows_per_row());
        for (row, &ts) in times.iter().enumerate().take(rows.rows) {
            if column.validity.is_some_and(|v| !v.get(row)) {
                self.late_rows += 1;
                continue;
            }
            windows.clear();
            self.assigner.assign(ts, &mut windows);
            let mut placed = false;
            for window in windows.iter().filter(|w| !self.fired(w)) {
                per_window
                    .entry((window.end, window.start))
                    .or_default()
                    .push(row as u32);
                placed = true;
            }
            self.late_rows += u64::from(!placed);
        }
        for (key, picks) in per_window {
            let batch = take_batch(&self.input, &rows.columns, &picks)?;
            let aggregate = match self.open.entry(key) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => {
                    let mut aggregate =
                        Aggregate::new(&self.params, &self.input, AggregateMode::Complete)?;
                    if let Some(context) = &self.context {
                        aggregate.open(context)?;
                    }
                    entry.insert(aggregate)
                }
            };
            let mut early: Vec<Batch> = Vec::new();
            aggregate.process(0, &Rows::of_batch(&batch), &mut early)?;
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
            tracing::info!(late_rows = self.late_rows, "window dropped late rows");
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        let mut first = None;
        for (_, mut aggregate) in std::mem::take(&mut self.open) {
            if let Err(error) = aggregate.close() {
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// The catalogue's `window`.
pub struct WindowDefinition;

impl OperatorDefinition for WindowDefinition {
    type Params = WindowParams;

    fn name(&self) -> &'static str {
        "window"
    }

    fn output_schema(
        &self,
        params: &WindowParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        let bad = |message: String| context.bad_params(message);
        context.timestamp_column(
            &input,
            &params.time,
            "time",
            "a window's time must be a timestamp",
        )?;
        params.assigner().check().map_err(|e| bad(e.to_string()))?;
        if params.allowed_lateness_ms < 0 {
            return Err(bad("allowed_lateness_ms must not be negative".into()));
        }
        let shape = AggregateShape::new(context.place(), &params.aggregate(), &input)?;
        let mut fields = bounds_fields().to_vec();
        fields.extend(shape.output_schema().fields.iter().cloned());
        context.unique(Schema::new(fields))
    }

    fn build(
        &self,
        params: &WindowParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let params = WindowParams {
            memory_bytes: Some(context.budget(params.memory_bytes)),
            ..params.clone()
        };
        Ok(Built::Operator(Box::new(WindowAggregate::new(
            &params,
            &context.input(0),
        )?)))
    }
}
