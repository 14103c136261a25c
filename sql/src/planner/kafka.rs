//! Kafka tables, as Flink's Kafka connector declares them: `'topic'`,
//! `'properties.bootstrap.servers'`, `'format'` (`json`, or `raw` for one
//! text column), `'scan.startup.mode'` (`earliest-offset`,
//! `latest-offset`), `'scan.bounded.mode' = 'latest-offset'` (read what
//! the topic holds, then end: what a batch query needs) and, written,
//! `'key.fields'` (`a;b`: rows of one key go to one partition, in order).
//! The `kafka` source and `kafka_sink` operators do the work.

use faro_runtime::data::Schema;
use serde_json::{json, Value};
use sqlparser::tokenizer::Span;

use super::connector::{check_options, Source};
use crate::error::SqlError;
use crate::graph::Relation;
use crate::table::TableDef;

/// Options a Kafka table reads.
const OPTIONS: &[&str] = &[
    "topic",
    "properties.bootstrap.servers",
    "format",
    "scan.startup.mode",
    "scan.bounded.mode",
    "key.fields",
];

/// The `kafka` source reading `table`.
pub(super) fn source(table: &TableDef, streaming: bool, span: Span) -> Result<Source, SqlError> {
    check_options(table, OPTIONS, span)?;
    let (brokers, topic, format) = target(table, span)?;
    let start = match table.option("scan.startup.mode") {
        None | Some("earliest-offset") => "earliest",
        Some("latest-offset") => "latest",
        Some(other) => {
            return Err(SqlError::invalid(
                span,
                format!(
                    "'scan.startup.mode' is 'earliest-offset' or 'latest-offset', not {other:?}"
                ),
            ))
        }
    };
    let bounded = match table.option("scan.bounded.mode") {
        None | Some("unbounded") => false,
        Some("latest-offset") => true,
        Some(other) => {
            return Err(SqlError::invalid(
                span,
                format!("'scan.bounded.mode' is 'latest-offset' or 'unbounded', not {other:?}"),
            ))
        }
    };
    if !bounded && !streaming {
        return Err(SqlError::invalid(
            span,
            format!(
                "a batch query needs a bounded table: set 'scan.bounded.mode' = 'latest-offset' on {:?}",
                table.name
            ),
        ));
    }
    let mut params = json!({
        "brokers": brokers, "topic": topic, "format": format,
        "schema": Schema::new(table.columns.clone()), "start": start, "bounded": bounded,
    });
    if let Some(w) = &table.watermark {
        params["event_time"] = json!({"column": w.column, "max_out_of_orderness_ms": w.delay_ms});
    }
    Ok(("kafka", params, None, table.columns.clone()))
}

/// The `kafka_sink` writing `relation` into `table`.
pub(super) fn sink(
    table: &TableDef,
    relation: &Relation,
    span: Span,
) -> Result<(&'static str, Value), SqlError> {
    check_options(table, OPTIONS, span)?;
    let (brokers, topic, format) = target(table, span)?;
    let key: Vec<String> = table
        .option("key.fields")
        .map(|fields| {
            fields
                .split(';')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut params = json!({"brokers": brokers, "topic": topic, "format": format, "key": key});
    if relation.changelog {
        params["changelog"] = json!(true);
    }
    Ok(("kafka_sink", params))
}

/// Brokers, topic and record format.
fn target(table: &TableDef, span: Span) -> Result<(Vec<String>, String, &'static str), SqlError> {
    let missing =
        |key: &str| SqlError::invalid(span, format!("kafka table {:?} needs '{key}'", table.name));
    let topic = table
        .option("topic")
        .ok_or_else(|| missing("topic"))?
        .to_string();
    let brokers: Vec<String> = table
        .option("properties.bootstrap.servers")
        .ok_or_else(|| missing("properties.bootstrap.servers"))?
        .split(',')
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    let format = match table.option("format") {
        None | Some("json") => "json",
        Some("raw") => "text",
        Some(other) => {
            return Err(SqlError::invalid(
                span,
                format!("a kafka table's 'format' is 'json' or 'raw', not {other:?}"),
            ))
        }
    };
    Ok((brokers, topic, format))
}
