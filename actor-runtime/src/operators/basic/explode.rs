//! `explode`: one row per whitespace-separated word of a text column; its
//! params and its catalogue definition.

use serde::{Deserialize, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, Column, ColumnData, DataType, Field, Schema};
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::spec::SpecError;

/// `explode`: one row per whitespace-separated word of a text column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplodeParams {
    /// The text column to split.
    pub column: String,
    /// The name of the output column holding each word (default: the
    /// same name).
    #[serde(default, rename = "as")]
    pub into: Option<String>,
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
        // Sized once: the words are at most the text they come from.
        let text_bytes = text.raw().data_len();
        let mut indices = Vec::with_capacity(text_bytes / 4);
        let mut offsets = Vec::with_capacity(text_bytes / 4 + 1);
        offsets.push(0u32);
        let mut data = Vec::with_capacity(text_bytes);
        let mut push = |row: usize, word: &[u8]| {
            indices.push(row as u32);
            data.extend_from_slice(word);
            offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
        };
        for row in 0..rows.rows {
            if rows.columns[self.column].is_null(row) {
                continue;
            }
            for_each_word(text.value(row), |word| push(row, word));
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
        // SAFETY: each word is a piece of a checked line cut at whitespace
        // (an ASCII line at ASCII bytes, any other by `split_whitespace`),
        // so at character boundaries; the other columns are `take`n.
        let batch =
            unsafe { Batch::from_copied_values(self.output.clone(), indices.len(), columns) }?;
        out.emit(batch)
    }
}

/// Calls `f` with each word of `line`, as `str::split_whitespace` finds
/// them; ASCII text (most text) is split by bytes, without decoding it
/// character by character.
fn for_each_word(line: &str, mut f: impl FnMut(&[u8])) {
    if line.is_ascii() {
        // The ASCII characters `char::is_whitespace` accepts.
        let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r');
        for word in line.as_bytes().split(space).filter(|w| !w.is_empty()) {
            f(word);
        }
    } else {
        for word in line.split_whitespace() {
            f(word.as_bytes());
        }
    }
}

/// The catalogue's `explode`.
pub struct ExplodeDefinition;

impl OperatorDefinition for ExplodeDefinition {
    type Params = ExplodeParams;

    /// Each row on its own.
    fn divisible_input(&self, _: &ExplodeParams, _: usize) -> bool {
        true
    }

    /// Stateless: each batch on its own.
    fn checkpointable(&self, _: &ExplodeParams) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "explode"
    }

    fn output_schema(
        &self,
        params: &ExplodeParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        let index = context.column(&input, &params.column)?;
        if input.fields[index].data_type != DataType::Utf8 {
            return Err(context.schema_error(format!(
                "explode needs a utf8 column, {} is {}",
                params.column, input.fields[index].data_type
            )));
        }
        let mut fields = input.fields;
        fields[index] = Field::new(
            params.into.as_deref().unwrap_or(&params.column),
            DataType::Utf8,
        );
        context.unique(Schema::new(fields))
    }

    fn build(
        &self,
        params: &ExplodeParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let explode = Explode::new(&params.column, &context.input(0), &context.step.output)?;
        Ok(Built::Operator(Box::new(explode)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn words_are_those_split_whitespace_finds(
            line in prop_oneof![
                "[ab\\t\\n\\r\\x0B\\x0C\\x1F ]{0,40}",
                "[ab\\t\\n\\r\\x0B\\x0C \\u{e9}\\u{2003}\\u{85}]{0,40}",
            ]
        ) {
            let mut words: Vec<String> = Vec::new();
            for_each_word(&line, |w| words.push(String::from_utf8(w.to_vec()).unwrap()));
            let want: Vec<&str> = line.split_whitespace().collect();
            prop_assert_eq!(words, want);
        }
    }
}
