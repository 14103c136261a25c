//! `CREATE TABLE`: a table's declared columns, its watermark and its
//! connector options, checked once when it is defined (so a bad option
//! is reported at its `CREATE TABLE`, not at the first query).

use std::collections::BTreeMap;

use faro_runtime::data::{DataType, Field};
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{ErrorKind, SqlError};
use crate::expression::interval_ms;
use crate::script::WatermarkClause;

/// A table defined by `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// Its name.
    pub name: String,
    /// Its columns as declared (nullable unless `NOT NULL`).
    pub columns: Vec<Field>,
    /// Its event time, if it declares a watermark.
    pub watermark: Option<Watermark>,
    /// Its `WITH` options, keys as written.
    pub options: BTreeMap<String, String>,
    /// Where its `CREATE TABLE` is.
    pub span: Span,
}

/// `WATERMARK FOR column AS column - INTERVAL …`: the event-time column
/// and how far behind the largest time seen the watermark stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The event-time column.
    pub column: String,
    /// Milliseconds of out-of-orderness allowed.
    pub delay_ms: i64,
}

impl TableDef {
    /// The table `create` defines, with its watermark clause.
    pub fn from_create(
        create: &sql::CreateTable,
        watermark: Option<&WatermarkClause>,
    ) -> Result<Self, SqlError> {
        let span = create.name.span();
        if create.query.is_some() {
            return Err(SqlError::unsupported(span, "CREATE TABLE … AS SELECT"));
        }
        let name = object_name(&create.name)?;
        let mut columns: Vec<Field> = Vec::with_capacity(create.columns.len());
        for column in &create.columns {
            let field_name = column.name.value.clone();
            if columns.iter().any(|c| c.name == field_name) {
                return Err(SqlError::invalid(
                    column.name.span,
                    format!("column {field_name:?} is declared twice"),
                ));
            }
            let not_null = column
                .options
                .iter()
                .any(|o| matches!(o.option, sql::ColumnOption::NotNull));
            columns.push(Field {
                name: field_name,
                data_type: data_type(&column.data_type, column.name.span)?,
                nullable: !not_null,
            });
        }
        if columns.is_empty() {
            return Err(SqlError::invalid(
                span,
                format!("table {name:?} has no columns"),
            ));
        }
        let watermark = watermark
            .map(|clause| Watermark::from_clause(clause, &columns))
            .transpose()?;
        let options = match &create.table_options {
            sql::CreateTableOptions::With(options) => with_options(options)?,
            sql::CreateTableOptions::None => BTreeMap::new(),
            other => {
                return Err(SqlError::unsupported(
                    span,
                    format!("table options {other}"),
                ))
            }
        };
        if !options.contains_key("connector") {
            return Err(SqlError::invalid(
                span,
                format!("table {name:?} needs a connector: WITH ('connector' = 'nexmark' | 'files' | 'generate' | 'kafka' | 'blackhole', …)"),
            ));
        }
        Ok(Self {
            name,
            columns,
            watermark,
            options,
            span,
        })
    }

    /// The connector's name.
    pub fn connector(&self) -> &str {
        self.options.get("connector").map_or("", String::as_str)
    }

    /// Option `key`, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

impl Watermark {
    fn from_clause(clause: &WatermarkClause, columns: &[Field]) -> Result<Self, SqlError> {
        let column = clause.column.value.clone();
        let field = columns.iter().find(|c| c.name == column).ok_or_else(|| {
            SqlError::new(
                ErrorKind::UnknownName,
                clause.column.span,
                format!("the watermark's column {column:?} is not declared"),
            )
        })?;
        if field.data_type != DataType::Timestamp {
            return Err(SqlError::new(
                ErrorKind::Type,
                clause.column.span,
                format!("the watermark's column {column:?} is not a TIMESTAMP"),
            ));
        }
        let is_column = |e: &sql::Expr| matches!(e, sql::Expr::Identifier(i) if i.value == column);
        let delay_ms = match &clause.expr {
            e if is_column(e) => 0,
            sql::Expr::BinaryOp {
                left,
                op: sql::BinaryOperator::Minus,
                right,
            } if is_column(left) => match right.as_ref() {
                sql::Expr::Interval(interval) => interval_ms(interval, right.span())?,
                other => {
                    return Err(SqlError::unsupported(
                        other.span(),
                        format!("a watermark delay of {other} (write INTERVAL 'n' SECOND)"),
                    ))
                }
            },
            other => {
                return Err(SqlError::unsupported(
                    clause.span,
                    format!("the watermark strategy {other} (write `{column} - INTERVAL …`)"),
                ))
            }
        };
        Ok(Self { column, delay_ms })
    }
}

/// A one-part table or view name.
pub fn object_name(name: &sql::ObjectName) -> Result<String, SqlError> {
    match name.0.as_slice() {
        [sql::ObjectNamePart::Identifier(ident)] => Ok(ident.value.clone()),
        _ => Err(SqlError::unsupported(
            name.span(),
            format!("the qualified name {name} (catalogs and databases)"),
        )),
    }
}

/// The column type a SQL type is stored as.
pub fn data_type(data_type: &sql::DataType, span: Span) -> Result<DataType, SqlError> {
    use sql::DataType as T;
    Ok(match data_type {
        T::BigInt(_)
        | T::Int(_)
        | T::Integer(_)
        | T::SmallInt(_)
        | T::TinyInt(_)
        | T::Int8(_)
        | T::Int64 => DataType::Int64,
        T::Double(_) | T::Float(_) | T::Float64 | T::Float8 | T::DoublePrecision | T::Real => {
            DataType::Float64
        }
        T::Varchar(_) | T::Text | T::String(_) | T::Char(_) | T::CharVarying(_) => DataType::Utf8,
        T::Bool | T::Boolean => DataType::Bool,
        T::Timestamp(_, _) | T::Datetime(_) => DataType::Timestamp,
        T::Bytea | T::Varbinary(_) | T::Binary(_) | T::Blob(_) => DataType::Binary,
        T::Custom(name, _) if name.to_string().eq_ignore_ascii_case("bytes") => DataType::Binary,
        T::Custom(name, _) if name.to_string().eq_ignore_ascii_case("timestamp_ltz") => {
            DataType::Timestamp
        }
        other => {
            return Err(SqlError::new(
                ErrorKind::Unsupported,
                span,
                format!(
                    "the type {other} is not supported (BIGINT, DOUBLE, STRING, BOOLEAN, \
                     TIMESTAMP(3) and BYTES are)"
                ),
            ))
        }
    })
}

/// `WITH ('key' = 'value', …)` as a map, every value a string.
fn with_options(options: &[sql::SqlOption]) -> Result<BTreeMap<String, String>, SqlError> {
    let mut map = BTreeMap::new();
    for option in options {
        let sql::SqlOption::KeyValue { key, value } = option else {
            return Err(SqlError::unsupported(
                option.span(),
                format!("the option {option}"),
            ));
        };
        let text = match value {
            sql::Expr::Value(v) => match &v.value {
                sql::Value::SingleQuotedString(s) | sql::Value::DoubleQuotedString(s) => s.clone(),
                sql::Value::Number(n, _) => n.clone(),
                sql::Value::Boolean(b) => b.to_string(),
                _ => return Err(option_value_error(key, value)),
            },
            _ => return Err(option_value_error(key, value)),
        };
        if map.insert(key.value.clone(), text).is_some() {
            return Err(SqlError::invalid(
                value.span(),
                format!("option {:?} is set twice", key.value),
            ));
        }
    }
    Ok(map)
}

fn option_value_error(key: &sql::Ident, value: &sql::Expr) -> SqlError {
    SqlError::invalid(
        value.span(),
        format!(
            "option {:?} must be a quoted string, not {value}",
            key.value
        ),
    )
}
