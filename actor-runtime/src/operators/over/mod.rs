//! `over_aggregate`: SQL's aggregate over a frame of rows,
//! `AVG(x) OVER (PARTITION BY p ORDER BY t ROWS BETWEEN n PRECEDING AND
//! CURRENT ROW)`. Each input row comes out with its columns and, for each
//! aggregate, its value over that row and the `n` before it in its
//! partition's order (ties ordered by the rows' columns).
//!
//! In a streaming job it takes a changelog, which Flink's OVER window
//! cannot (so Nexmark q6 runs here): a row inserted or retracted changes
//! its own frame and the next `n` rows', and the operator emits those
//! changes (`+I`, `-D`, `-U`/`+U`) after each batch, so applied in order
//! its output is always the query over the rows so far. A row arriving
//! out of order is placed where it belongs, never dropped. In a batch job
//! it emits every row once, at the end of its input.
//!
//! State ([`frame`]): every row of every partition, encoded, within
//! `memory_bytes` or `OverBudget`; checkpointed as those rows, split by
//! partition key when rescaled. Limits: only `ROWS` frames ending at the
//! current row; `COUNT`, `SUM`, `AVG`, `MIN`, `MAX` over integer,
//! double (and, for `COUNT`/`MIN`/`MAX`, timestamp) columns; a frame's
//! aggregates are recomputed from its rows (cost `n` per changed
//! position), which suits the short frames such windows have.

pub mod frame;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::sort::order_key::order_key;
use super::sort::{key_columns, SortKey};
use crate::catalogue::{BuildContext, Built, OperatorDefinition, OperatorState, SchemaContext};
use crate::checkpoint::{saved_rows, Rescaled};
use crate::data::{BatchBuilder, ColumnView, DataType, Field, RowKind, Schema, ValuesView};
use crate::kernels::row_codec::RowCodec;
use crate::kernels::rows::{encode_key, KeyColumn};
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::spec::SpecError;
use frame::{Change, FrameError, Function, Number, Partition};

/// One aggregate of an `over_aggregate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverCall {
    /// `count`, `sum`, `avg`, `min` or `max`.
    pub function: String,
    /// The column aggregated; none: `COUNT(*)`.
    #[serde(default)]
    pub column: Option<String>,
    /// The output column.
    #[serde(rename = "as")]
    pub name: String,
}

/// `over_aggregate`'s params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverParams {
    /// Columns whose values make a partition; none: one partition.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// The order of each partition's rows.
    pub order_by: Vec<SortKey>,
    /// Rows before the current one in its frame.
    pub preceding: usize,
    /// The aggregates, each an output column after the input's.
    pub aggregates: Vec<OverCall>,
    /// Bytes of rows it may hold; over it the job fails `OverBudget`.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// Frames longer than this are refused: each changed row recomputes up to
/// this many frames of this many rows.
pub const MAX_PRECEDING: usize = 10_000;

fn function(call: &OverCall) -> Option<Function> {
    Some(match call.function.as_str() {
        "count" => Function::Count,
        "sum" => Function::Sum,
        "avg" => Function::Avg,
        "min" => Function::Min,
        "max" => Function::Max,
        _ => return None,
    })
}

/// The output column of `call` over `input`, or why there is none.
fn output_field(call: &OverCall, input: &Schema) -> Result<Field, String> {
    let function = function(call).ok_or_else(|| {
        format!(
            "unknown OVER aggregate {:?} (count, sum, avg, min, max)",
            call.function
        )
    })?;
    let data_type = match &call.column {
        None if function == Function::Count => return Ok(Field::new(&call.name, DataType::Int64)),
        None => return Err(format!("{} needs a column", call.function)),
        Some(column) => input
            .fields
            .iter()
            .find(|f| &f.name == column)
            .map(|f| f.data_type)
            .ok_or_else(|| format!("no column {column:?}"))?,
    };
    let fits = match function {
        Function::Count => true,
        Function::Sum | Function::Avg => matches!(data_type, DataType::Int64 | DataType::Float64),
        Function::Min | Function::Max => matches!(
            data_type,
            DataType::Int64 | DataType::Float64 | DataType::Timestamp
        ),
    };
    if !fits {
        return Err(format!("{} of a {data_type} column", call.function));
    }
    Ok(match function {
        Function::Count => Field::new(&call.name, DataType::Int64),
        Function::Avg => Field::nullable(&call.name, DataType::Float64),
        _ => Field::nullable(&call.name, data_type),
    })
}

/// The catalogue's `over_aggregate`.
pub struct OverAggregateDefinition;

impl OperatorDefinition for OverAggregateDefinition {
    type Params = OverParams;

    fn name(&self) -> &'static str {
        "over_aggregate"
    }

    fn output_schema(
        &self,
        params: &OverParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        for column in params
            .partition_by
            .iter()
            .chain(params.order_by.iter().map(|k| &k.column))
        {
            context.column(&input, column)?;
        }
        if params.order_by.is_empty() {
            return Err(context.bad_params("an OVER frame of rows needs ORDER BY"));
        }
        if params.preceding > MAX_PRECEDING {
            return Err(context.bad_params(format!(
                "preceding is {}, at most {MAX_PRECEDING}",
                params.preceding
            )));
        }
        let mut fields = input.fields.clone();
        for call in &params.aggregates {
            fields.push(output_field(call, &input).map_err(|e| context.bad_params(e))?);
        }
        context.unique(Schema::new(fields))
    }

    fn checkpointable(&self, _: &OverParams) -> bool {
        true
    }

    /// Streaming, its output is a changelog (a row arriving changes the
    /// frames after it), and it takes one.
    fn changelog(&self, _: &OverParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        Ok(context.streaming())
    }

    fn state(&self, _: &OverParams, inputs: &[Schema]) -> Option<OperatorState> {
        Some(OperatorState::Rows {
            schema: inputs.first().cloned().unwrap_or_default(),
        })
    }

    fn build(
        &self,
        params: &OverParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let over = OverAggregate::new(
            params,
            &context.input(0),
            &context.step.output,
            context.budget(params.memory_bytes),
            context.changelog(),
        )?;
        Ok(Built::Operator(Box::new(over)))
    }
}

/// `over_aggregate` running (see the module docs).
pub struct OverAggregate {
    input: Schema,
    output: Schema,
    codec: RowCodec,
    keys: Vec<KeyColumn>,
    partition_by: Vec<usize>,
    /// Each aggregate and the position of its input among a row's inputs.
    functions: Vec<(Function, usize)>,
    /// The column each aggregate reads (`None`: `COUNT(*)`).
    arguments: Vec<Option<usize>>,
    preceding: usize,
    continuous: bool,
    budget: u64,
    partitions: BTreeMap<Box<[u8]>, Partition>,
    bytes: u64,
    order: Vec<u8>,
    partition: Vec<u8>,
}

impl OverAggregate {
    /// An `over_aggregate` of `input` rows into `output` rows; emitting a
    /// changelog after each batch when `continuous`, else everything at
    /// the end.
    pub fn new(
        params: &OverParams,
        input: &Schema,
        output: &Schema,
        budget: u64,
        continuous: bool,
    ) -> Result<Self, OperatorError> {
        let column = |name: &String| {
            input.index_of(name).ok_or_else(|| {
                OperatorError::BadInput(format!("over_aggregate: no column {name:?}"))
            })
        };
        let mut functions = Vec::new();
        let mut arguments = Vec::new();
        for (i, call) in params.aggregates.iter().enumerate() {
            let f = function(call).ok_or_else(|| {
                OperatorError::BadInput(format!("over_aggregate: unknown {:?}", call.function))
            })?;
            functions.push((f, i));
            arguments.push(call.column.as_ref().map(column).transpose()?);
        }
        Ok(Self {
            input: input.clone(),
            output: output.clone(),
            codec: RowCodec::new(input.fields.iter().map(|f| f.data_type).collect()),
            keys: key_columns(&params.order_by, input)?,
            partition_by: params
                .partition_by
                .iter()
                .map(column)
                .collect::<Result<_, _>>()?,
            functions,
            arguments,
            preceding: params.preceding,
            continuous,
            budget,
            partitions: BTreeMap::new(),
            bytes: 0,
            order: Vec::new(),
            partition: Vec::new(),
        })
    }

    /// The values row `row`'s aggregates read.
    fn inputs(&self, columns: &[ColumnView<'_>], row: usize) -> Box<[Number]> {
        self.arguments
            .iter()
            .map(|argument| match argument {
                None => Number::Int(1),
                Some(c) if columns[*c].is_null(row) => Number::Null,
                Some(c) => match columns[*c].values {
                    ValuesView::Int64(v) | ValuesView::Timestamp(v) => Number::Int(v[row]),
                    ValuesView::Float64(v) => Number::Float(v[row]),
                    _ => Number::Null,
                },
            })
            .collect()
    }

    /// Inserts or retracts every row of `rows`, noting the order keys
    /// each partition saw change.
    fn absorb(
        &mut self,
        rows: &Rows<'_>,
        touched: &mut BTreeMap<Box<[u8]>, BTreeSet<Box<[u8]>>>,
    ) -> Result<(), OperatorError> {
        let of: Vec<&ColumnView<'_>> = self
            .partition_by
            .iter()
            .map(|&c| &rows.columns[c])
            .collect();
        for row in 0..rows.rows {
            self.order.clear();
            order_key(&self.keys, &rows.columns, row, &mut self.order);
            self.partition.clear();

            encode_key(&of, row, &mut self.partition);
            let inputs = self.inputs(&rows.columns, row);
            if !self.partitions.contains_key(&self.partition[..]) {
                let key = self.partition[..].into();
                self.partitions.insert(key, Partition::default());
            }
            let Some(partition) = self.partitions.get_mut(&self.partition[..]) else {
                continue;
            };
            if rows.kind(row).is_retraction() {
                let freed = partition.retract(&self.order).map_err(|_| {
                    OperatorError::not_held("over_aggregate: the changelog", rows, row)
                })?;
                self.bytes = self.bytes.saturating_sub(freed as u64);
            } else {
                let codec = &self.codec;
                let added = partition.insert(&self.order, || {
                    let mut bytes = Vec::new();
                    codec.encode(&rows.columns, row, &mut bytes);
                    (Arc::from(bytes), inputs)
                });
                self.bytes += added as u64;
            }
            touched
                .entry(self.partition[..].into())
                .or_default()
                .insert(self.order[..].into());
        }
        if self.bytes > self.budget {
            return Err(OperatorError::OverBudget {
                operator: "over_aggregate".into(),
                budget: self.budget,
                detail: format!(
                    "the rows of {} partitions of an OVER window, which keeps every row (a \
                     retraction or a late row changes the frames after it)",
                    self.partitions.len()
                ),
            });
        }
        Ok(())
    }

    /// Emits `changes` as one batch (a changelog when continuous).
    fn emit(&self, changes: &[Change], out: &mut dyn Emit) -> Result<(), OperatorError> {
        if changes.is_empty() {
            return Ok(());
        }
        let width = self.codec.width();
        let mut builder = BatchBuilder::new(self.output.clone(), changes.len());
        for change in changes {
            self.codec.decode(&change.row, &mut builder, 0)?;
            for (i, value) in change.values.iter().enumerate() {
                let column = builder.column(width + i);
                match *value {
                    Number::Null => column.push_null()?,
                    Number::Int(x) => column.push_i64(x)?,
                    Number::Float(x) => column.push_f64(x)?,
                }
            }
        }
        let batch = builder.finish()?;
        if self.continuous {
            let kinds: Vec<RowKind> = changes.iter().map(|c| c.kind).collect();
            out.emit(batch.with_kinds(&kinds)?)
        } else {
            out.emit(batch)
        }
    }

    /// Takes back saved rows (every held row, one per copy) and marks
    /// their aggregates as shown.
    fn restore_rows(&mut self, rows: &Rows<'_>) -> Result<(), OperatorError> {
        let mut touched = BTreeMap::new();
        self.absorb(rows, &mut touched)?;
        for partition in touched.keys() {
            if let Some(p) = self.partitions.get_mut(partition) {
                p.settle(self.preceding, &self.functions)
                    .map_err(frame_error)?;
            }
        }
        Ok(())
    }
}

fn frame_error(error: FrameError) -> OperatorError {
    OperatorError::BadInput(match error {
        FrameError::NotHeld => "over_aggregate: a retraction of a row it does not hold".into(),
        FrameError::Overflow => "over_aggregate: an integer SUM passed 64 bits".into(),
    })
}

impl Operator for OverAggregate {
    fn process(
        &mut self,
        _input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let mut touched = BTreeMap::new();
        self.absorb(rows, &mut touched)?;
        if !self.continuous {
            return Ok(());
        }
        let mut changes = Vec::new();
        for (key, changed) in touched {
            let Some(partition) = self.partitions.get_mut(&key) else {
                continue;
            };
            let changed: Vec<Box<[u8]>> = changed.into_iter().collect();
            partition
                .changes(&changed, self.preceding, &self.functions, &mut changes)
                .map_err(frame_error)?;
            if partition.is_empty() {
                self.partitions.remove(&key);
            }
        }
        self.emit(&changes, out)
    }

    fn end_input(&mut self, _input: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        if self.continuous {
            return Ok(());
        }
        let mut changes = Vec::new();
        for partition in self.partitions.values_mut() {
            partition
                .everything(self.preceding, &self.functions, &mut changes)
                .map_err(frame_error)?;
        }
        for chunk in changes.chunks(8192) {
            self.emit(chunk, out)?;
        }
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        let rows: Vec<&[u8]> = self
            .partitions
            .values()
            .flat_map(Partition::rows)
            .map(|row| &row[..])
            .collect();
        let batch = self.codec.to_batch(&self.input, rows.into_iter())?;
        Ok(Some(batch.to_bytes().to_vec()))
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        let batch = saved_rows(state, &self.input, "over_aggregate state")?;
        self.restore_rows(&Rows::of_batch(&batch))
    }

    fn restore_rescaled(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        let keyed = !self.partition_by.is_empty();
        for (old, bytes) in from.states {
            let batch = saved_rows(bytes, &self.input, "over_aggregate state")?;
            if let Some(share) = from.share(*old, batch, keyed, "over_aggregate state")? {
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
