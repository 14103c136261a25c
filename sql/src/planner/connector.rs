//! Tables as sources and sinks: a `CREATE TABLE`'s connector and options
//! become the source vertex that scans it (`nexmark`, `read`, `generate`,
//! `kafka`) or the sink vertex an `INSERT INTO` writes through (`files`,
//! `kafka_sink`, `blackhole`). Options are checked against what each
//! connector knows, naming the table.

use faro_runtime::data::{DataType, Field, Schema};
use faro_runtime::expr::Expr;
use faro_runtime::spec::Partitioning;
use serde_json::{json, Map, Value};
use sqlparser::tokenizer::Span;

use super::Planner;
use crate::error::{did_you_mean, ErrorKind, SqlError};
use crate::expression::quote;
use crate::graph::{Input, Relation};
use crate::scope::Scope;
use crate::table::TableDef;

/// Options each connector reads (besides `connector`).
const NEXMARK_OPTIONS: &[&str] = &[
    "table",
    "events",
    "rate",
    "seed",
    "real-time",
    "base-time-ms",
];
const FILES_OPTIONS: &[&str] = &[
    "path",
    "format",
    "sink.mode",
    "csv.header",
    "csv.field-delimiter",
    "csv.quote-character",
    "csv.null-literal",
    "csv.multi-line",
];

/// The CSV layout options of a files table (read and written alike; a
/// writer refuses `multi-line`), with the `read` and `files` param each
/// sets.
const CSV_OPTIONS: &[(&str, &str)] = &[
    ("csv.header", "header"),
    ("csv.field-delimiter", "delimiter"),
    ("csv.quote-character", "quote"),
    ("csv.null-literal", "null_value"),
    ("csv.multi-line", "multi_line"),
];
const GENERATE_OPTIONS: &[&str] = &["rows", "rows-per-second", "seed"];

impl Planner<'_> {
    /// The source vertex reading `table`, its columns qualified by
    /// `qualifier`.
    pub(super) fn scan(
        &mut self,
        table: &TableDef,
        qualifier: &str,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let (operator, params, rows, produced) = match table.connector() {
            "nexmark" => self.nexmark(table, span)?,
            "files" => files_source(table, self.graph.streaming(), span)?,
            "kafka" => super::kafka::source(table, self.graph.streaming(), span)?,
            "generate" => self.generate(table, span)?,
            "blackhole" => {
                return Err(SqlError::invalid(
                    span,
                    format!(
                        "table {:?} is a blackhole: it can only be written",
                        table.name
                    ),
                ))
            }
            other => return Err(unknown_connector(table, other)),
        };
        let (vertex, schema, changelog) = self.graph.add(
            &table.name,
            operator,
            params,
            self.settings.parallelism,
            &[],
            span,
        )?;
        let mut relation = Relation {
            vertex,
            scope: Scope::of(&schema, Some(qualifier)),
            parallelism: self.settings.parallelism,
            changelog,
            time: table.watermark.as_ref().map(|w| w.column.clone()),
            proctime: None,
            rows,
        };
        let names = |fields: &[Field]| fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        // What the query reads of the declared columns, in their order (a
        // `nexmark` source leaves out the ones it never names).
        let made = names(&produced);
        let declared: Vec<Field> = table
            .columns
            .iter()
            .filter(|c| table.connector() != "nexmark" || made.contains(&c.name))
            .cloned()
            .collect();
        if made != names(&declared) {
            // The source makes more (or other) columns than declared: keep
            // the declared ones, in their order.
            let columns: Vec<(String, String)> = declared
                .iter()
                .map(|c| (c.name.clone(), quote(&c.name)))
                .collect();
            relation = self.project(&relation, &columns, span)?;
            relation.scope = relation.scope.requalified(qualifier);
        }
        Ok(relation)
    }

    fn nexmark(&self, table: &TableDef, span: Span) -> Result<Source, SqlError> {
        check_options(table, NEXMARK_OPTIONS, span)?;
        let kind = table.option("table").unwrap_or(&table.name).to_lowercase();
        let (share, schema) = match kind.as_str() {
            "bid" | "bids" => (46, faro_runtime::nexmark::bid_schema()),
            "auction" | "auctions" => (3, faro_runtime::nexmark::auction_schema()),
            "person" | "persons" | "people" => (1, faro_runtime::nexmark::person_schema()),
            other => {
                return Err(SqlError::invalid(
                    span,
                    format!(
                        "nexmark has tables bid, auction and person, not {other:?} (set 'table')"
                    ),
                ))
            }
        };
        let mut params = Map::new();
        params.insert(
            "table".into(),
            json!(kind.trim_end_matches('s').replace("people", "person")),
        );
        let events = number_option(table, "events", span)?;
        if events.is_none() && !self.graph.streaming() {
            return Err(SqlError::invalid(
                span,
                format!(
                    "a batch query needs a bounded table: set 'events' on {:?}",
                    table.name
                ),
            ));
        }
        if let Some(events) = events {
            params.insert("events".into(), json!(events));
        }
        for (key, param) in [
            ("rate", "rate"),
            ("seed", "seed"),
            ("base-time-ms", "base_time_ms"),
        ] {
            if let Some(n) = number_option(table, key, span)? {
                params.insert(param.into(), json!(n));
            }
        }
        // Paced: each event emitted when its event time comes, counted
        // from the source's start, as a live stream would be.
        match table.option("real-time").map(str::trim) {
            None | Some("false") => {}
            Some("true") => {
                params.insert("real_time".into(), json!(true));
            }
            Some(other) => {
                return Err(SqlError::invalid(
                    span,
                    format!(
                        "option \"real-time\" of {:?} is 'true' or 'false', not {other:?}",
                        table.name
                    ),
                ))
            }
        }
        if let Some(w) = &table.watermark {
            if w.column != "date_time" {
                return Err(SqlError::invalid(
                    table.span,
                    "a nexmark table's watermark follows date_time, the generator's event time",
                ));
            }
        }
        check_declared(table, &schema, "nexmark's", span)?;
        let kept = self.read_columns(table);
        let width = schema.fields.len();
        let produced: Vec<Field> = schema
            .fields
            .into_iter()
            .filter(|f| kept.contains(&f.name))
            .collect();
        if produced.len() < width {
            params.insert(
                "columns".into(),
                json!(produced.iter().map(|f| &f.name).collect::<Vec<_>>()),
            );
        }
        Ok((
            "nexmark",
            Value::Object(params),
            events.map(|e| e * share / 50),
            produced,
        ))
    }

    /// The declared columns of `table` the `SELECT` being planned can
    /// read (see `Planner::referenced`): those it names anywhere, and
    /// the event-time column; all of them under `*`. A source need not
    /// build the rest. Never none: a query that names no column (a
    /// `COUNT(*)`) still gets one, for its rows.
    fn read_columns(&self, table: &TableDef) -> Vec<String> {
        let declared = table.columns.iter().map(|c| c.name.clone());
        let Some(words) = &self.referenced else {
            return declared.collect();
        };
        let time = table.watermark.as_ref().map(|w| w.column.as_str());
        let kept: Vec<String> = declared
            .clone()
            .filter(|name| words.contains(&name.to_lowercase()) || Some(name.as_str()) == time)
            .collect();
        if kept.is_empty() {
            return declared.take(1).collect();
        }
        kept
    }

    fn generate(&self, table: &TableDef, span: Span) -> Result<Source, SqlError> {
        let field_options = |key: &String| key.starts_with("fields.") && key.ends_with(".expr");
        let known: Vec<&str> = GENERATE_OPTIONS.to_vec();
        for key in table
            .options
            .keys()
            .filter(|k| *k != "connector" && !field_options(k))
        {
            if !known.contains(&key.as_str()) {
                return Err(unknown_option(table, key, &known, span));
            }
        }
        let rows = number_option(table, "rows", span)?;
        if rows.is_none() && !self.graph.streaming() {
            return Err(SqlError::invalid(
                span,
                format!(
                    "a batch query needs a bounded table: set 'rows' on {:?}",
                    table.name
                ),
            ));
        }
        let input = Schema::new(vec![Field::new("i", DataType::Int64)]);
        let mut columns = Vec::new();
        for column in &table.columns {
            let key = format!("fields.{}.expr", column.name);
            let text = table.option(&key).ok_or_else(|| {
                SqlError::invalid(
                    table.span,
                    format!("generated column {:?} needs its expression: '{key}' = 'i % 100' (over the row number i)", column.name),
                )
            })?;
            let compiled = Expr::compile(text, &input)
                .map_err(|e| SqlError::new(ErrorKind::Type, table.span, format!("'{key}': {e}")))?;
            let expr = if compiled.data_type() == column.data_type {
                text.to_string()
            } else {
                format!("CAST(({text}) AS {})", cast_name(&column.data_type))
            };
            columns.push(json!({"name": column.name, "expr": expr}));
        }
        let mut params = json!({"rows": rows, "columns": columns});
        if let Some(seed) = number_option(table, "seed", span)? {
            params["seed"] = json!(seed);
        }
        if let Some(rate) = number_option(table, "rows-per-second", span)? {
            params["rows_per_second"] = json!(rate);
        }
        if let Some(w) = &table.watermark {
            params["event_time"] =
                json!({"column": w.column, "max_out_of_orderness_ms": w.delay_ms});
        }
        Ok(("generate", params, rows, table.columns.clone()))
    }

    /// The sink vertex writing `relation` into `table`.
    pub(super) fn sink(
        &mut self,
        table: &TableDef,
        relation: &Relation,
        overwrite: bool,
        span: Span,
    ) -> Result<String, SqlError> {
        let (operator, params) = match table.connector() {
            "files" => {
                check_options(table, FILES_OPTIONS, span)?;
                let (path, format) = path_and_format(table, span)?;
                let csv = csv_params(table, format, span)?;
                let mode = match (overwrite, table.option("sink.mode")) {
                    (true, _) | (_, Some("overwrite")) => "overwrite",
                    (false, None | Some("error")) => "error",
                    (false, Some(other)) => {
                        return Err(SqlError::invalid(
                            span,
                            format!("'sink.mode' is 'error' or 'overwrite', not {other:?}"),
                        ))
                    }
                };
                let mut params = json!({"path": path, "format": format, "mode": mode});
                if relation.changelog {
                    params["changelog"] = json!(true);
                }
                if !csv.is_empty() {
                    params["csv"] = Value::Object(csv);
                }
                ("files", params)
            }
            "blackhole" => ("blackhole", json!({})),
            "kafka" => super::kafka::sink(table, relation, span)?,
            other if ["nexmark", "generate"].contains(&other) => {
                return Err(SqlError::invalid(
                    span,
                    format!("table {:?} ({other}) can only be read", table.name),
                ))
            }
            other => return Err(unknown_connector(table, other)),
        };
        let input = Input {
            from: relation,
            partitioning: Partitioning::Forward,
        };
        let (vertex, _, _) = self.graph.add(
            &format!("{}_sink", table.name),
            operator,
            params,
            relation.parallelism,
            &[input],
            span,
        )?;
        Ok(vertex)
    }
}

/// A source: operator, params, rows if known, and the columns it makes.
pub(super) type Source = (&'static str, Value, Option<u64>, Vec<Field>);

fn files_source(table: &TableDef, streaming: bool, span: Span) -> Result<Source, SqlError> {
    check_options(table, FILES_OPTIONS, span)?;
    if streaming && table.watermark.is_some() {
        return Err(SqlError::unsupported(
            table.span,
            "a watermark on a files table in a streaming query (files emit no event time)",
        ));
    }
    let (path, format) = path_and_format(table, span)?;
    let schema = Schema::new(table.columns.clone());
    let mut params = json!({"path": path, "format": format, "schema": schema});
    let csv = csv_params(table, format, span)?;
    if !csv.is_empty() {
        params["csv"] = Value::Object(csv);
    }
    Ok(("read", params, None, table.columns.clone()))
}

/// The `read` param `csv` a files table's csv options make (empty when
/// it has none); they are for csv tables only.
fn csv_params(table: &TableDef, format: &str, span: Span) -> Result<Map<String, Value>, SqlError> {
    let mut csv = Map::new();
    for (option, param) in CSV_OPTIONS {
        let Some(value) = table.option(option) else {
            continue;
        };
        if format != "csv" {
            return Err(SqlError::invalid(
                span,
                format!("{option:?} is for a 'csv' files table, not a {format:?} one"),
            ));
        }
        let value = match *param {
            "header" | "multi_line" => match value.to_lowercase().as_str() {
                "true" => json!(true),
                "false" => json!(false),
                _ => {
                    return Err(SqlError::invalid(
                        span,
                        format!("{option:?} is 'true' or 'false', not {value:?}"),
                    ))
                }
            },
            _ => json!(value),
        };
        csv.insert(param.to_string(), value);
    }
    Ok(csv)
}

/// Checks that each declared column is one of `schema`'s, of its type.
fn check_declared(
    table: &TableDef,
    schema: &Schema,
    what: &str,
    span: Span,
) -> Result<(), SqlError> {
    for c in &table.columns {
        let field = schema
            .fields
            .iter()
            .find(|f| f.name == c.name)
            .ok_or_else(|| {
                let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
                SqlError::new(
                    ErrorKind::UnknownName,
                    table.span,
                    format!(
                        "{:?} is not a column of {what} {} table{}; it has {}",
                        c.name,
                        table.option("table").unwrap_or(&table.name),
                        did_you_mean(&c.name, names.iter().copied()),
                        names.join(", ")
                    ),
                )
            })?;
        if field.data_type != c.data_type {
            return Err(SqlError::new(
                ErrorKind::Type,
                span,
                format!(
                    "column {:?} is {:?} in {what} table, declared {:?}",
                    c.name, field.data_type, c.data_type
                ),
            ));
        }
    }
    Ok(())
}

fn path_and_format(table: &TableDef, span: Span) -> Result<(String, &'static str), SqlError> {
    let path = table.option("path").ok_or_else(|| {
        SqlError::invalid(span, format!("files table {:?} needs a 'path'", table.name))
    })?;
    let format = match table.option("format").map(str::to_lowercase).as_deref() {
        Some("csv") => "csv",
        Some("json") | Some("json-lines") | Some("jsonl") => "json_lines",
        Some("parquet") => "parquet",
        Some("text") | Some("raw") => "text",
        other => {
            return Err(SqlError::invalid(
                span,
                format!(
                    "files table {:?} needs a 'format' of 'csv', 'json', 'parquet' or 'text'{}",
                    table.name,
                    other.map(|o| format!(", not {o:?}")).unwrap_or_default()
                ),
            ))
        }
    };
    Ok((path.to_string(), format))
}

pub(super) fn check_options(table: &TableDef, known: &[&str], span: Span) -> Result<(), SqlError> {
    match table
        .options
        .keys()
        .find(|k| *k != "connector" && !known.contains(&k.as_str()))
    {
        Some(key) => Err(unknown_option(table, key, known, span)),
        None => Ok(()),
    }
}

fn unknown_option(table: &TableDef, key: &str, known: &[&str], span: Span) -> SqlError {
    SqlError::invalid(
        span,
        format!(
            "the {} connector has no option {key:?}{}; it reads {}",
            table.connector(),
            did_you_mean(key, known.iter().copied()),
            known.join(", ")
        ),
    )
}

fn unknown_connector(table: &TableDef, connector: &str) -> SqlError {
    let known = ["nexmark", "files", "generate", "kafka", "blackhole"];
    SqlError::new(
        ErrorKind::UnknownName,
        table.span,
        format!(
            "table {:?} has an unknown connector {connector:?}{}; the connectors are {}",
            table.name,
            did_you_mean(connector, known),
            known.join(", ")
        ),
    )
}

fn number_option(table: &TableDef, key: &str, span: Span) -> Result<Option<u64>, SqlError> {
    table
        .option(key)
        .map(|text| {
            text.trim().replace('_', "").parse::<u64>().map_err(|_| {
                SqlError::invalid(
                    span,
                    format!(
                        "option {key:?} of {:?} is a number, not {text:?}",
                        table.name
                    ),
                )
            })
        })
        .transpose()
}

/// The engine's name of a type, in a cast.
pub(super) fn cast_name(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Int64 => "BIGINT",
        DataType::Float64 => "DOUBLE",
        DataType::Bool => "BOOLEAN",
        DataType::Timestamp => "TIMESTAMP",
        _ => "VARCHAR",
    }
}

#[cfg(test)]
mod tests {
    use crate::{Outcome, Session};

    /// The `nexmark` vertex's params of a streaming scan of a bid table
    /// with `options`, or the planner's error.
    fn nexmark_params(options: &str) -> Result<serde_json::Value, String> {
        let text = format!(
            "SET 'execution.runtime-mode' = 'streaming';
             CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3))
               WITH ('connector' = 'nexmark'{options});
             CREATE TABLE out (auction BIGINT) WITH ('connector' = 'blackhole');
             INSERT INTO out SELECT auction FROM bid;"
        );
        let outcomes = Session::new(1).execute(&text).map_err(|e| e.to_string())?;
        let job = outcomes.into_iter().find_map(|o| match o {
            Outcome::Job(job) => Some(job),
            _ => None,
        });
        let spec = job.ok_or("no job")?.spec;
        let source = spec.vertices.iter().find(|v| v.operator == "nexmark");
        Ok(source.ok_or("no nexmark vertex")?.params.clone())
    }

    #[test]
    fn a_csv_table_is_read_and_written_as_its_options_lay_it_out() {
        let table = "CREATE TABLE t (a BIGINT, b STRING) WITH ('connector' = 'files', \
                     'path' = '/tmp/t', 'format' = 'csv', 'csv.header' = 'false', \
                     'csv.field-delimiter' = ';', 'csv.quote-character' = '''', \
                     'csv.null-literal' = 'NA', 'csv.multi-line' = 'true');";
        let outcomes = Session::new(1)
            .execute(&format!("{table} SELECT a, b FROM t;"))
            .unwrap();
        let Some(Outcome::Job(job)) = outcomes.into_iter().last() else {
            panic!("no job");
        };
        let read = job.spec.vertices.iter().find(|v| v.operator == "read");
        assert_eq!(
            read.unwrap().params["csv"],
            serde_json::json!({"header": false, "delimiter": ";", "quote": "'", "null_value": "NA",
                               "multi_line": true})
        );
        let written = "CREATE TABLE w (a BIGINT, b STRING) WITH ('connector' = 'files', \
                       'path' = '/tmp/w', 'format' = 'csv', 'csv.header' = 'false', \
                       'csv.field-delimiter' = ';', 'csv.null-literal' = 'NA');";
        let outcomes = Session::new(1)
            .execute(&format!(
                "{written} CREATE TABLE s (a BIGINT) WITH ('connector' = 'files', \
                 'path' = '/tmp/s', 'format' = 'json'); INSERT INTO w SELECT a, 'x' FROM s;"
            ))
            .unwrap();
        let Some(Outcome::Job(job)) = outcomes.into_iter().last() else {
            panic!("no job");
        };
        let sink = job.spec.vertices.iter().find(|v| v.operator == "files");
        assert_eq!(
            sink.unwrap().params["csv"],
            serde_json::json!({"header": false, "delimiter": ";", "null_value": "NA"})
        );
        let error = Session::new(1)
            .execute(&format!(
                "{table} CREATE TABLE s (a BIGINT) WITH ('connector' = 'files', \
                 'path' = '/tmp/s', 'format' = 'json'); INSERT INTO t SELECT a, 'x' FROM s;"
            ))
            .unwrap_err()
            .to_string();
        assert!(error.contains("multi_line is for reading"), "{error}");
    }

    #[test]
    fn a_nexmark_table_can_be_paced_to_the_wall_clock() {
        let params =
            nexmark_params(", 'rate' = '5000', 'real-time' = 'true', 'base-time-ms' = '1000'")
                .unwrap();
        assert_eq!(params["real_time"], true);
        assert_eq!(params["rate"], 5000);
        assert_eq!(params["base_time_ms"], 1000);
        assert!(nexmark_params("").unwrap().get("real_time").is_none());
        assert_eq!(
            params["columns"],
            serde_json::json!(["auction"]),
            "the source builds only what the query reads"
        );
        let error = nexmark_params(", 'real-time' = 'yes'").unwrap_err();
        assert!(
            error.contains("is 'true' or 'false', not \"yes\""),
            "{error}"
        );
    }
}
