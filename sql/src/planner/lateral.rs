//! Rows split into words: Flink's table-function join,
//! `… CROSS JOIN LATERAL TABLE(words(expr)) AS t(word)` (or `, LATERAL
//! TABLE(…)`, or `CROSS JOIN UNNEST(words(expr)) AS t(word)`), onto the
//! `explode` operator: one row per whitespace-separated word, the row's
//! other columns repeated. The text is copied into a column of its own
//! first, so the row keeps the column it came from.

use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use super::{Planner, Projected};
use crate::error::{ErrorKind, SqlError};
use crate::expression::{function_name, plain_arguments, Resolver};
use crate::graph::{Input, Relation};
use crate::scope::{fresh_name, ColumnRef};

/// The table functions a lateral join may call.
const TABLE_FUNCTIONS: &[&str] = &["words"];

/// A `words(expr)` call with the name its column gets.
pub struct WordsCall<'q> {
    argument: &'q sql::Expr,
    qualifier: Option<String>,
    column: String,
    span: Span,
}

impl<'q> WordsCall<'q> {
    /// The call `factor` makes, if it is a lateral table function.
    pub fn read(factor: &'q sql::TableFactor) -> Result<Option<Self>, SqlError> {
        let span = factor.span();
        let (call, alias) = match factor {
            sql::TableFactor::Function {
                lateral: true,
                name,
                args,
                alias,
                ..
            } if name.to_string().eq_ignore_ascii_case("table") => match args.as_slice() {
                [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e))] => (e, alias),
                _ => return Err(SqlError::invalid(span, "LATERAL TABLE takes one call")),
            },
            sql::TableFactor::UNNEST {
                array_exprs,
                alias,
                with_offset: false,
                with_ordinality: false,
                ..
            } => match array_exprs.as_slice() {
                [e] => (e, alias),
                _ => return Err(SqlError::unsupported(span, "UNNEST of several arrays")),
            },
            _ => return Ok(None),
        };
        let sql::Expr::Function(function) = call else {
            return Err(SqlError::unsupported(
                call.span(),
                format!("the table function {call} (words(text) splits text into words)"),
            ));
        };
        let name = function_name(function);
        if !TABLE_FUNCTIONS.contains(&name.as_str()) {
            return Err(SqlError::new(
                ErrorKind::UnknownName,
                call.span(),
                format!(
                    "unknown table function {name:?}{}; words(text) splits text into words",
                    crate::error::did_you_mean(&name, TABLE_FUNCTIONS.iter().copied())
                ),
            ));
        }
        let argument = match plain_arguments(function, call.span())?.as_slice() {
            [one] => *one,
            _ => {
                return Err(SqlError::invalid(
                    call.span(),
                    "words takes one text argument",
                ))
            }
        };
        let qualifier = alias.as_ref().map(|a| a.name.value.clone());
        let column = match alias.as_ref().map(|a| a.columns.as_slice()) {
            Some([one]) => one.name.value.clone(),
            None | Some([]) => "word".to_string(),
            Some(_) => {
                return Err(SqlError::invalid(
                    span,
                    "words gives one column: AS t(word)",
                ))
            }
        };
        Ok(Some(Self {
            argument,
            qualifier,
            column,
            span,
        }))
    }
}

impl Planner<'_> {
    /// `input` with one row per word of `call`'s text.
    pub(super) fn words(
        &mut self,
        input: Relation,
        call: &WordsCall<'_>,
    ) -> Result<Relation, SqlError> {
        let (text, compiled) =
            self.compile(&Resolver::plain(&input.scope, "words()"), call.argument)?;
        if compiled.data_type() != faro_runtime::data::DataType::Utf8 {
            return Err(SqlError::new(
                ErrorKind::Type,
                call.argument.span(),
                format!(
                    "words() splits text, and {} is {:?}",
                    call.argument,
                    compiled.data_type()
                ),
            ));
        }
        let taken: Vec<&str> = input.scope.internal_names().collect();
        let word = fresh_name(&call.column, taken.into_iter());
        if let Some(split) = self.unused_column(&input, call.argument) {
            return self.explode(input, split, word, call);
        }
        let copy = Projected {
            name: word.clone(),
            qualifier: call.qualifier.clone(),
            expr: text,
        };
        let copied = self.project_keeping(&input, &input.scope.columns, vec![copy], call.span)?;
        let split = copied.scope.columns.len() - 1;
        self.explode(copied, split, word, call)
    }

    /// The position of the column `argument` names in `input`, if it is a
    /// plain column the enclosing `SELECT` uses nowhere else: it can be
    /// split in place rather than copied first.
    fn unused_column(&self, input: &Relation, argument: &sql::Expr) -> Option<usize> {
        let parts = match argument {
            sql::Expr::Identifier(i) => vec![i.clone()],
            sql::Expr::CompoundIdentifier(parts) => parts.clone(),
            _ => return None,
        };
        let column = input.scope.resolve(&parts).ok()?;
        let used = self.used.as_ref()?;
        if used.contains(&column.name.to_lowercase()) {
            return None;
        }
        input
            .scope
            .columns
            .iter()
            .position(|c| c.internal == column.internal)
    }

    /// `explode` of column `split` of `input` into `word`, which takes its
    /// place.
    fn explode(
        &mut self,
        input: Relation,
        split: usize,
        word: String,
        call: &WordsCall<'_>,
    ) -> Result<Relation, SqlError> {
        let column = input.scope.columns[split].internal.clone();
        let params = json!({"column": column, "as": word});
        let forward = Input {
            from: &input,
            partitioning: faro_runtime::spec::Partitioning::Forward,
        };
        let (vertex, schema, changelog) = self.graph.add(
            "words",
            "explode",
            params,
            input.parallelism,
            &[forward],
            call.span,
        )?;
        let mut scope = input.scope.clone();
        scope.columns[split] = ColumnRef {
            qualifier: call.qualifier.clone(),
            name: call.column.clone(),
            internal: word,
            data_type: faro_runtime::data::DataType::Utf8,
            nullable: schema.fields.get(split).is_some_and(|f| f.nullable),
        };
        Ok(Relation {
            vertex,
            scope,
            changelog,
            rows: None,
            ..input
        })
    }
}
