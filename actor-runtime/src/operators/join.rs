//! `hash_join`: builds a hash table of the right input (input 1), then
//! probes it with the left input (input 0). The task reads the build side
//! to its end first ([`Operator::input_preference`]), so probe batches
//! wait upstream under backpressure instead of in this operator's memory.
//! That is a batch job's; a streaming one's is a [`RegularJoin`].
//!
//! A full outer join also marks which build rows matched, and once the
//! probe side ends emits every build row that never did, the left side
//! null. So it must see every probe row: its build side is hashed, never
//! broadcast (each broadcast copy would emit the unmatched rows again).
//!
//! Null keys never match (SQL). The build side must fit its memory
//! budget: over it, the join fails with a message saying so, rather than
//! spilling (a grace hash join is future work).
//!
//! Its params are [`JoinParams`]; its catalogue entry,
//! [`HashJoinDefinition`], also says which incoming
//! edge is which side (the spec names the left and right vertices) and
//! what a joined row looks like.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, OperatorState, SchemaContext};
use crate::data::{Batch, BatchError, Column, ColumnBuilder, ColumnView, Field, Schema};
use crate::expr::ExprError;
use crate::kernels::rows::{append_value, encode_key};
use crate::kernels::take::take;
use crate::kernels::views;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::operators::regular_join::RegularJoin;
use crate::spec::SpecError;

/// Join kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    /// Matching pairs only.
    Inner,
    /// Every left row, with nulls where nothing matches.
    Left,
    /// Every row of both sides, with nulls where nothing matches.
    Full,
}

impl JoinKind {
    /// Whether every left row appears, matched or not.
    pub fn keeps_left(self) -> bool {
        matches!(self, Self::Left | Self::Full)
    }

    /// Whether every right row appears, matched or not.
    pub fn keeps_right(self) -> bool {
        self == Self::Full
    }
}

/// `hash_join`: builds a hash table of the right input, probes it with
/// the left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinParams {
    /// The vertex feeding the probe (left) side.
    pub left: String,
    /// The vertex feeding the build (right) side.
    pub right: String,
    /// Left key columns.
    pub left_keys: Vec<String>,
    /// Right key columns, pairwise with `left_keys`.
    pub right_keys: Vec<String>,
    /// Inner, left or full.
    #[serde(default = "inner")]
    pub kind: JoinKind,
    /// Bytes the build side may take; over it the join fails clearly.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

fn inner() -> JoinKind {
    JoinKind::Inner
}

const PROBE: usize = 0;
const BUILD: usize = 1;

/// The `hash_join` operator.
pub struct HashJoin {
    kind: JoinKind,
    left_keys: Vec<usize>,
    right_keys: Vec<usize>,
    right_schema: Schema,
    output: Schema,
    budget: Option<u64>,
    build: Vec<Batch>,
    build_bytes: u64,
    table: HashMap<Box<[u8]>, Vec<(u32, u32)>>,
    /// Per build batch, which rows matched a probe row (full joins only).
    matched: Vec<Vec<bool>>,
    buffer: Vec<u8>,
}

/// The positions of the key columns `names` in `schema` (shared with the
/// streaming joins, which resolve their keys the same way).
pub(crate) fn indexes(names: &[String], schema: &Schema) -> Result<Vec<usize>, OperatorError> {
    names
        .iter()
        .map(|n| {
            schema
                .index_of(n)
                .ok_or_else(|| OperatorError::BadInput(format!("no join key column {n}")))
        })
        .collect()
}

impl HashJoin {
    /// A join of `left` and `right` rows into `output` rows.
    pub fn new(
        params: &JoinParams,
        left: &Schema,
        right: &Schema,
        output: &Schema,
    ) -> Result<Self, OperatorError> {
        Ok(Self {
            kind: params.kind,
            left_keys: indexes(&params.left_keys, left)?,
            right_keys: indexes(&params.right_keys, right)?,
            right_schema: right.clone(),
            output: output.clone(),
            budget: params.memory_bytes,
            build: Vec::new(),
            build_bytes: 0,
            table: HashMap::new(),
            matched: Vec::new(),
            buffer: Vec::new(),
        })
    }

    fn add_build(&mut self, rows: &Rows<'_>) -> Result<(), OperatorError> {
        let batch = rows.to_batch(&self.right_schema)?;
        let b = self.build.len() as u32;
        let columns = views(&batch);
        let keys: Vec<_> = self.right_keys.iter().map(|&k| &columns[k]).collect();
        for row in 0..batch.num_rows() {
            if keys.iter().any(|k| k.is_null(row)) {
                continue;
            }
            self.buffer.clear();
            encode_key(&keys, row, &mut self.buffer);
            self.build_bytes += self.buffer.len() as u64 + 24;
            self.table
                .entry(self.buffer.clone().into_boxed_slice())
                .or_default()
                .push((b, row as u32));
        }
        self.build_bytes += batch
            .columns()
            .iter()
            .map(|c| match &c.data {
                crate::data::ColumnData::Utf8 { data, .. }
                | crate::data::ColumnData::Binary { data, .. } => data.len() + 4 * batch.num_rows(),
                _ => 8 * batch.num_rows(),
            } as u64)
            .sum::<u64>();
        drop(columns);
        if self.kind.keeps_right() {
            self.matched.push(vec![false; batch.num_rows()]);
        }
        self.build.push(batch);
        if let Some(budget) = self.budget.filter(|b| self.build_bytes > *b) {
            return Err(OperatorError::OverBudget {
                operator: "hash_join".into(),
                budget,
                detail: format!(
                    "its build (right) side holds {} bytes after {} batches; give it more memory or put the smaller input on the right",
                    self.build_bytes,
                    self.build.len()
                ),
            });
        }
        Ok(())
    }

    fn probe(&mut self, rows: &Rows<'_>, out: &mut dyn Emit) -> Result<(), OperatorError> {
        let keys: Vec<_> = self.left_keys.iter().map(|&k| &rows.columns[k]).collect();
        let mut left_rows: Vec<u32> = Vec::new();
        let mut matches: Vec<Option<(u32, u32)>> = Vec::new();
        for row in 0..rows.rows {
            let found = if keys.iter().any(|k| k.is_null(row)) {
                None
            } else {
                self.buffer.clear();
                encode_key(&keys, row, &mut self.buffer);
                self.table.get(self.buffer.as_slice())
            };
            match found {
                Some(hits) => {
                    for &hit in hits {
                        left_rows.push(row as u32);
                        matches.push(Some(hit));
                        if let Some(seen) = self.matched.get_mut(hit.0 as usize) {
                            seen[hit.1 as usize] = true;
                        }
                    }
                }
                None if self.kind.keeps_left() => {
                    left_rows.push(row as u32);
                    matches.push(None);
                }
                None => {}
            }
        }
        if left_rows.is_empty() {
            return Ok(());
        }
        let mut columns: Vec<_> = rows.columns.iter().map(|c| take(c, &left_rows)).collect();
        let build_views: Vec<_> = self.build.iter().map(views).collect();
        let sources: Vec<&[ColumnView<'_>]> = build_views.iter().map(Vec::as_slice).collect();
        let right_fields = &self.output.fields[rows.columns.len()..];
        for (c, field) in right_fields.iter().enumerate() {
            columns.push(gather(field, &sources, c, &matches)?);
        }
        out.emit(Batch::new(self.output.clone(), left_rows.len(), columns)?)
    }

    /// A full join's build rows that no probe row matched, the left side
    /// null.
    fn unmatched(&mut self, out: &mut dyn Emit) -> Result<(), OperatorError> {
        let left_width = self.output.fields.len() - self.right_schema.fields.len();
        for (batch, seen) in self.build.iter().zip(&self.matched) {
            let rows: Vec<u32> = (0..seen.len() as u32)
                .filter(|&r| !seen[r as usize])
                .collect();
            if rows.is_empty() {
                continue;
            }
            let mut columns: Vec<Column> = self.output.fields[..left_width]
                .iter()
                .map(|field| {
                    let mut nulls = ColumnBuilder::new(field.clone(), rows.len());
                    for _ in &rows {
                        nulls.push_null()?;
                    }
                    Ok(nulls.finish())
                })
                .collect::<Result<_, BatchError>>()?;
            columns.extend(views(batch).iter().map(|c| take(c, &rows)));
            out.emit(Batch::new(self.output.clone(), rows.len(), columns)?)?;
        }
        self.matched.clear();
        Ok(())
    }
}

impl Operator for HashJoin {
    fn input_preference(&self) -> Option<usize> {
        Some(BUILD)
    }

    fn process(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        match input {
            BUILD => self.add_build(rows),
            PROBE => self.probe(rows, out),
            other => Err(OperatorError::BadInput(format!(
                "hash_join has no input {other}"
            ))),
        }
    }

    fn end_input(&mut self, input: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        if input == PROBE && self.kind.keeps_right() {
            return self.unmatched(out);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.table.clear();
        self.build.clear();
        Ok(())
    }
}

/// Which of `from` (the vertices feeding `vertex`) are the join's `left`
/// and `right` inputs, in that order.
pub(crate) fn order_sides(
    vertex: &str,
    left: &str,
    right: &str,
    from: &[&str],
) -> Result<Vec<usize>, SpecError> {
    let find = |side: &str| {
        from.iter()
            .position(|&f| f == side)
            .ok_or_else(|| SpecError::BadParams {
                vertex: vertex.to_string(),
                message: format!("no edge from {side:?} into this join"),
            })
    };
    let (left, right) = (find(left)?, find(right)?);
    if left == right {
        return Err(SpecError::BadParams {
            vertex: vertex.to_string(),
            message: "left and right must be different inputs".into(),
        });
    }
    Ok(vec![left, right])
}

/// A join's two input schemas, left then right.
pub(crate) fn sides<'s>(
    context: &SchemaContext<'_>,
    inputs: &'s [Schema],
) -> Result<(&'s Schema, &'s Schema), SpecError> {
    match inputs {
        [left, right] => Ok((left, right)),
        _ => Err(context.schema_error("a join takes a left and a right input")),
    }
}

/// Checks that the key columns exist, pair up and have equal types.
pub(crate) fn check_keys(
    context: &SchemaContext<'_>,
    left: &Schema,
    right: &Schema,
    left_keys: &[String],
    right_keys: &[String],
) -> Result<(), SpecError> {
    if left_keys.len() != right_keys.len() || left_keys.is_empty() {
        return Err(
            context.schema_error("left_keys and right_keys must be non-empty and of equal length")
        );
    }
    for (l, r) in left_keys.iter().zip(right_keys) {
        let lt = left.fields[context.column(left, l)?].data_type;
        let rt = right.fields[context.column(right, r)?].data_type;
        if lt != rt {
            return Err(context.expr_error(ExprError::TypeMismatch {
                message: format!("join key {l} is {lt} but {r} is {rt}"),
            }));
        }
    }
    Ok(())
}

/// A joined row's fields: the left's, then the right's; a side that may
/// be missing from a row (the other side of an outer join) is nullable.
pub(crate) fn joined_fields(
    left: &Schema,
    right: &Schema,
    left_nullable: bool,
    right_nullable: bool,
) -> Vec<Field> {
    let mut fields = Vec::with_capacity(left.fields.len() + right.fields.len());
    for (schema, nullable) in [(left, left_nullable), (right, right_nullable)] {
        for field in &schema.fields {
            let mut field = field.clone();
            field.nullable |= nullable;
            fields.push(field);
        }
    }
    fields
}

/// Column `column` of the rows `picks` names, as (source, row) in
/// `sources` (null where a pick is `None`), typed as `field`.
pub(crate) fn gather(
    field: &Field,
    sources: &[&[ColumnView<'_>]],
    column: usize,
    picks: &[Option<(u32, u32)>],
) -> Result<Column, BatchError> {
    let mut builder = ColumnBuilder::new(field.clone(), picks.len());
    for pick in picks {
        match pick {
            Some((source, row)) => append_value(
                &mut builder,
                &sources[*source as usize][column],
                *row as usize,
            )?,
            None => builder.push_null()?,
        }
    }
    Ok(builder.finish())
}

/// The catalogue's `hash_join`.
pub struct HashJoinDefinition;

impl OperatorDefinition for HashJoinDefinition {
    type Params = JoinParams;

    /// A side may be divided when the join emits none of its rows
    /// unmatched: each row then finds its matches in the other side's
    /// whole partition on its own. An inner join's either side, a left
    /// join's probe side, neither side of a full join.
    fn divisible_input(&self, join: &JoinParams, input: usize) -> bool {
        match input {
            0 => !join.kind.keeps_right(),
            1 => !join.kind.keeps_left(),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        "hash_join"
    }

    fn inputs(&self) -> (usize, usize) {
        (2, 2)
    }

    fn order_inputs(
        &self,
        vertex: &str,
        join: &JoinParams,
        from: &[&str],
    ) -> Result<Vec<usize>, SpecError> {
        order_sides(vertex, &join.left, &join.right, from)
    }

    fn output_schema(
        &self,
        join: &JoinParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let (left, right) = sides(context, inputs)?;
        check_keys(context, left, right, &join.left_keys, &join.right_keys)?;
        let fields = joined_fields(left, right, join.kind.keeps_right(), join.kind.keeps_left());
        context.unique(Schema::new(fields))
    }

    /// In a streaming job ([`RegularJoin`]) it takes changelogs, and emits
    /// one when an input is one or it is an outer join (a later match
    /// replaces a padded row).
    fn changelog(&self, join: &JoinParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        if !context.streaming() {
            // A batch job has no changelogs; nothing to take or emit.
            return Ok(false);
        }
        Ok(context.any_changelog_input() || join.kind != JoinKind::Inner)
    }

    /// Streaming, the [`RegularJoin`] snapshots both sides' rows; a
    /// batch job takes no checkpoints.
    fn checkpointable(&self, _: &JoinParams) -> bool {
        true
    }

    fn state(&self, join: &JoinParams, inputs: &[Schema]) -> Option<OperatorState> {
        let schema = inputs.get(BUILD)?.clone();
        let keys = indexes(&join.right_keys, &schema).ok()?;
        Some(OperatorState::BuildSide {
            input: BUILD,
            schema,
            keys,
        })
    }

    fn build(&self, join: &JoinParams, context: &BuildContext<'_>) -> Result<Built, OperatorError> {
        let params = JoinParams {
            memory_bytes: Some(context.budget(join.memory_bytes)),
            ..join.clone()
        };
        let (left, right) = (context.input(PROBE), context.input(BUILD));
        if context.step.streaming {
            // Neither input may end, so neither can be built first.
            let budget = context.budget(join.memory_bytes);
            let join = RegularJoin::new(&params, &left, &right, &context.step.output, budget)?;
            return Ok(Built::Operator(Box::new(join)));
        }
        let join = HashJoin::new(&params, &left, &right, &context.step.output)?;
        Ok(Built::Operator(Box::new(join)))
    }
}
