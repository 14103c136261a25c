//! `window`: an aggregate per window and group, emitted when the window
//! is complete — or, in a batch job, when the input ends. This file owns
//! the operator's face: its catalogue definition (output schema and
//! checks), its output columns, and [`WindowAggregate`], which runs one
//! of the two kinds of window state:
//!
//! - aligned windows (tumbling, hopping, cumulating: [`super::aligned`]),
//!   by event time or by the wall clock at arrival (`processing_time`);
//! - session windows (event time only: [`super::sessions`]).
//!
//! Either way a window's result is exactly the batch aggregate of its
//! rows, so one spec gives the same answer in both modes.
//!
//! Output: `window_start`, `window_end` (timestamps), the group keys, the
//! aggregates. A row whose windows have all fired (its time plus the
//! allowed lateness at or behind the watermark; for sessions, and touching
//! no open session) is late: dropped and counted. Rows with a null time
//! are dropped and counted the same way. Known limits: a late row does not
//! update a fired window (no retractions yet); each open aligned window
//! has the aggregate's memory budget, while all open sessions share one
//! and fail beyond it. Wall-clock windows fire on the operator's timer
//! once the clock passes their end, input or not. Aligned windows are
//! checkpointed (their groups' state, watermark and late count);
//! sessions are not yet, so a job with them cannot have checkpoints.

use super::aligned::{wall_clock_ms, AlignedWindows};
use super::sessions::SessionWindows;
use super::{WindowKind, WindowParams};
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, Column, ColumnData, DataType, Field, Schema};
use crate::message::Watermark;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::aggregate::{Aggregate, AggregateMode, AggregateShape};
use crate::spec::SpecError;

fn bounds_fields() -> [Field; 2] {
    [
        Field::new("window_start", DataType::Timestamp),
        Field::new("window_end", DataType::Timestamp),
    ]
}

/// `batch` (keys and aggregates) as `output` rows of window
/// `[start, end)`.
pub(super) fn with_bounds(
    output: &Schema,
    start: i64,
    end: i64,
    batch: &Batch,
) -> Result<Batch, OperatorError> {
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
    Ok(Batch::new(output.clone(), rows, columns)?)
}

enum Windows {
    Aligned(Box<AlignedWindows>),
    Session(Box<SessionWindows>),
}

/// The running `window` operator.
pub struct WindowAggregate {
    windows: Windows,
}

impl WindowAggregate {
    /// A window aggregate of `params` over rows of `input`.
    pub fn new(params: &WindowParams, input: &Schema) -> Result<Self, OperatorError> {
        Self::with_clock(params, input, wall_clock_ms)
    }

    /// As [`Self::new`], with processing time read from `wall` (ms since
    /// the epoch), so tests can move the clock.
    pub fn with_clock(
        params: &WindowParams,
        input: &Schema,
        wall: fn() -> i64,
    ) -> Result<Self, OperatorError> {
        params
            .check()
            .map_err(|error| OperatorError::BadInput(error.to_string()))?;
        let probe = Aggregate::new(&params.aggregate(), input, AggregateMode::Complete)?;
        let mut fields = bounds_fields().to_vec();
        fields.extend(probe.output_schema().fields);
        let output = Schema::new(fields);
        let windows = match (params.assigner(), params.window) {
            (Some(assigner), _) => Windows::Aligned(Box::new(AlignedWindows::new(
                params, assigner, input, output, wall,
            )?)),
            (None, WindowKind::Session { gap_ms }) => Windows::Session(Box::new(
                SessionWindows::new(params, gap_ms, input, output)?,
            )),
            (None, _) => return Err(OperatorError::BadInput("an unknown window kind".into())),
        };
        Ok(Self { windows })
    }

    /// Makes its snapshots incremental (a checkpointed job's): aligned
    /// windows track the groups they change.
    pub fn incremental(mut self) -> Self {
        if let Windows::Aligned(windows) = self.windows {
            self.windows = Windows::Aligned(Box::new(windows.incremental()));
        }
        self
    }

    fn windows(&self) -> &dyn Operator {
        match &self.windows {
            Windows::Aligned(w) => w.as_ref(),
            Windows::Session(w) => w.as_ref(),
        }
    }

    fn inner(&mut self) -> &mut dyn Operator {
        match &mut self.windows {
            Windows::Aligned(w) => w.as_mut(),
            Windows::Session(w) => w.as_mut(),
        }
    }
}

impl Operator for WindowAggregate {
    fn timer(&self) -> Option<std::time::Instant> {
        self.windows().timer()
    }

    fn on_timer(&mut self, out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.inner().on_timer(out)
    }

    fn late_rows(&self) -> u64 {
        self.windows().late_rows()
    }

    fn state_bytes(&self) -> u64 {
        self.windows().state_bytes()
    }

    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.inner().open(context)
    }

    fn process(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        self.inner().process(input, rows, out)
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.inner().on_watermark(watermark, out)
    }

    fn end_input(&mut self, input: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.inner().end_input(input, out)?;
        if self.late_rows() > 0 {
            tracing::info!(late_rows = self.late_rows(), "window dropped late rows");
        }
        Ok(())
    }

    fn snapshot_parts(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
    ) -> Result<Option<crate::state::parts::StateSnapshot>, OperatorError> {
        self.inner().snapshot_parts(checkpoint, since)
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        self.inner().restore_state(state)
    }

    fn restore_rescaled(
        &mut self,
        from: &crate::checkpoint::Rescaled<'_>,
    ) -> Result<(), OperatorError> {
        self.inner().restore_rescaled(from)
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.inner().close()
    }
}

/// The catalogue's `window`.
pub struct WindowDefinition;

impl OperatorDefinition for WindowDefinition {
    type Params = WindowParams;

    fn name(&self) -> &'static str {
        "window"
    }

    /// Aligned windows snapshot their groups' state, sessions one state
    /// row per open session.
    fn checkpointable(&self, _: &WindowParams) -> bool {
        true
    }

    fn output_schema(
        &self,
        params: &WindowParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        params
            .check()
            .map_err(|e| context.bad_params(e.to_string()))?;
        if let Some(time) = &params.time {
            context.timestamp_column(
                &input,
                time,
                "time",
                "a window's time must be a timestamp",
            )?;
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
        let mut windows = WindowAggregate::new(&params, &context.input(0))?;
        if context.checkpointing() {
            windows = windows.incremental();
        }
        Ok(Built::Operator(Box::new(windows)))
    }
}
