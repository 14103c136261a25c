//! The stateless operators and the simplest sinks: `generate`, `filter`,
//! `project`, `union`, `blackhole` and `collect`.

use std::sync::{Arc, Mutex};

use crate::data::{Batch, Column, ColumnData, Schema};
use crate::expr::{EvalContext, Expr};
use crate::kernels::take::{selected, take_batch};
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows, Source};
use crate::spec::operators::{GenerateParams, NamedExpr};
use crate::spec::validate::generate_input_schema;

/// Compiles `columns` against `input` into expressions and the output
/// schema (validation already proved they compile).
pub fn compile_columns(
    columns: &[NamedExpr],
    input: &Schema,
) -> Result<(Vec<Expr>, Schema), OperatorError> {
    let exprs = columns
        .iter()
        .map(|c| Expr::compile(&c.expr, input))
        .collect::<Result<Vec<_>, _>>()?;
    let fields = columns
        .iter()
        .zip(&exprs)
        .map(|(c, e)| e.field(&c.name))
        .collect();
    Ok((exprs, Schema::new(fields)))
}

/// `generate`: the subtask's share of `rows` rows.
pub struct Generate {
    params: GenerateParams,
    exprs: Vec<Expr>,
    schema: Schema,
    next: u64,
    end: u64,
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
        })
    }
}

impl Source for Generate {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let rows = u128::from(self.params.rows);
        let (s, p) = (
            u128::from(context.subtask),
            u128::from(context.parallelism.max(1)),
        );
        self.next = (rows * s / p) as u64;
        self.end = (rows * (s + 1) / p) as u64;
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        if self.next >= self.end {
            return Ok(None);
        }
        let count = (self.end - self.next).min(self.params.batch_rows.max(1) as u64);
        let first = self.next;
        self.next += count;
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
        Ok(Some(Batch::new(
            self.schema.clone(),
            count as usize,
            columns,
        )?))
    }
}

/// `filter`: keeps rows where the predicate is true.
pub struct Filter {
    predicate: Expr,
    schema: Schema,
}

impl Filter {
    /// A filter of `input` rows by `predicate`.
    pub fn new(predicate: &str, input: &Schema) -> Result<Self, OperatorError> {
        Ok(Self {
            predicate: Expr::compile(predicate, input)?,
            schema: input.clone(),
        })
    }
}

impl Operator for Filter {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let keep = self
            .predicate
            .eval_selection(&rows.input(EvalContext::default()))?;
        let indices = selected(&keep);
        if indices.is_empty() {
            return Ok(());
        }
        out.emit(take_batch(&self.schema, &rows.columns, &indices)?)
    }
}

/// `project`: new columns from expressions.
pub struct Project {
    exprs: Vec<Expr>,
    schema: Schema,
}

impl Project {
    /// A projection of `input` rows to `columns`.
    pub fn new(columns: &[NamedExpr], input: &Schema) -> Result<Self, OperatorError> {
        let (exprs, schema) = compile_columns(columns, input)?;
        Ok(Self { exprs, schema })
    }
}

impl Operator for Project {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let input = rows.input(EvalContext::default());
        let columns = self
            .exprs
            .iter()
            .map(|e| e.eval_column(&input))
            .collect::<Result<Vec<_>, _>>()?;
        out.emit(Batch::new(self.schema.clone(), rows.rows, columns)?)
    }
}

/// `explode`: one row per whitespace-separated word of a text column,
/// the other columns repeated.
pub struct Explode {
    column: usize,
    output: Schema,
}

impl Explode {
    /// Splits column `column` of `input` rows into `output` rows.
    pub fn new(column: &str, input: &Schema, output: &Schema) -> Result<Self, OperatorError> {
        let column = input
            .index_of(column)
            .ok_or_else(|| OperatorError::BadInput(format!("no column {column}")))?;
        Ok(Self {
            column,
            output: output.clone(),
        })
    }
}

impl Operator for Explode {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let crate::data::ValuesView::Utf8(text) = rows.columns[self.column].values else {
            return Err(OperatorError::BadInput(
                "explode needs a text column".into(),
            ));
        };
        let mut indices = Vec::new();
        let mut offsets = vec![0u32];
        let mut data = Vec::new();
        for row in 0..rows.rows {
            if rows.columns[self.column].is_null(row) {
                continue;
            }
            for word in text.value(row).split_whitespace() {
                indices.push(row as u32);
                data.extend_from_slice(word.as_bytes());
                offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
            }
        }
        if indices.is_empty() {
            return Ok(());
        }
        let mut words = Some(Column {
            validity: None,
            data: ColumnData::Utf8 { offsets, data },
        });
        let columns = rows
            .columns
            .iter()
            .enumerate()
            .map(|(c, view)| {
                if c == self.column {
                    words
                        .take()
                        .unwrap_or_else(|| crate::kernels::take::take(view, &indices))
                } else {
                    crate::kernels::take::take(view, &indices)
                }
            })
            .collect();
        out.emit(Batch::new(self.output.clone(), indices.len(), columns)?)
    }
}

/// `union` (and any pass-through): every input batch, unchanged.
pub struct Union {
    schema: Schema,
}

impl Union {
    /// A union of inputs of `schema`.
    pub fn new(schema: &Schema) -> Self {
        Self {
            schema: schema.clone(),
        }
    }
}

impl Operator for Union {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        out.emit(rows.to_batch(&self.schema)?)
    }
}

/// `blackhole`: counts and discards.
#[derive(Debug, Default)]
pub struct Blackhole {
    /// Rows discarded.
    pub rows: u64,
}

impl Operator for Blackhole {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        self.rows += rows.rows as u64;
        Ok(())
    }
}

/// Where `collect` sinks put their rows, shared with whoever runs the job.
pub type Collected = Arc<Mutex<CollectBuffer>>;

/// How much of its `collect` rows a job's runner keeps: a scheduler keeps
/// a bounded result per job, so its workers need not ship more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeepLimit {
    /// Rows kept.
    pub rows: usize,
    /// Bytes of column buffers kept.
    pub bytes: usize,
}

/// The rows `collect` sinks hand over, up to a [`KeepLimit`]; what is
/// beyond it is counted against the sink's own limit but not kept.
#[derive(Debug, Default)]
pub struct CollectBuffer {
    /// What was kept, in arrival order.
    pub batches: Vec<Batch>,
    /// Whether rows were dropped for the keep limit.
    pub truncated: bool,
    keep: Option<KeepLimit>,
    rows: usize,
    bytes: usize,
}

impl CollectBuffer {
    /// A buffer keeping at most `keep` (everything if `None`).
    pub fn new(keep: Option<KeepLimit>) -> Collected {
        Arc::new(Mutex::new(Self {
            keep,
            ..Self::default()
        }))
    }

    /// Keeps `batch`, or the part of it that fits.
    fn offer(&mut self, batch: Batch) -> Result<(), OperatorError> {
        let Some(keep) = self.keep else {
            self.batches.push(batch);
            return Ok(());
        };
        let bytes = batch.buffer_bytes();
        let room = keep.rows.saturating_sub(self.rows);
        if self.bytes + bytes > keep.bytes || room == 0 {
            self.truncated = true;
            return Ok(());
        }
        let batch = if batch.num_rows() > room {
            self.truncated = true;
            let first: Vec<u32> = (0..room as u32).collect();
            take_batch(batch.schema(), &crate::kernels::views(&batch), &first)?
        } else {
            batch
        };
        self.rows += batch.num_rows();
        self.bytes += bytes;
        self.batches.push(batch);
        Ok(())
    }

    /// Takes what was kept, and whether anything was dropped.
    pub fn take(collected: &Collected) -> (Vec<Batch>, bool) {
        let mut buffer = collected.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut buffer.batches), buffer.truncated)
    }
}

/// `collect`: keeps up to `limit` rows for the caller.
pub struct Collect {
    schema: Schema,
    limit: usize,
    held: usize,
    into: Collected,
}

impl Collect {
    /// A sink of `input` rows into `into`, failing beyond `limit` rows.
    pub fn new(input: &Schema, limit: usize, into: Collected) -> Self {
        Self {
            schema: input.clone(),
            limit,
            held: 0,
            into,
        }
    }
}

impl Operator for Collect {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        self.held += rows.rows;
        if self.held > self.limit {
            return Err(OperatorError::TooManyRows {
                operator: "collect".into(),
                limit: self.limit,
            });
        }
        let batch = rows.to_batch(&self.schema)?;
        self.into
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .offer(batch)
    }
}
