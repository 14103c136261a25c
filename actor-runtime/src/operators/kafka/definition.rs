//! `kafka` and `kafka_sink`: their params and catalogue definitions. The
//! schema checks are `read`'s and `files`'s (a record's value is one JSON
//! object, or one text column), plus what a broker address and a topic
//! name may be.

use serde::{Deserialize, Serialize};

use super::{KafkaSink, KafkaSource};
use crate::catalogue::{column_index, BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{with_op_field, Schema};
use crate::operator::OperatorError;
use crate::operators::basic::EventTimeParams;
use crate::operators::read::{declared_schema, FileFormat};
use crate::spec::SpecError;

/// How a record's value holds a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    /// One JSON object, a member per column (missing members are null).
    #[default]
    Json,
    /// UTF-8 text: the row's single utf8 column (sink: the columns
    /// joined by tabs).
    Text,
}

impl RecordFormat {
    fn as_file_format(self) -> FileFormat {
        match self {
            Self::Json => FileFormat::JsonLines,
            Self::Text => FileFormat::Text,
        }
    }
}

/// Where a source starts in each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartOffset {
    /// The oldest record the broker still keeps.
    #[default]
    Earliest,
    /// The records produced after the source opens.
    Latest,
}

/// `kafka`: rows from the records of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaParams {
    /// Bootstrap brokers, `HOST:PORT` (the worker must allow them).
    pub brokers: Vec<String>,
    /// The topic; its partitions are split among the subtasks.
    pub topic: String,
    /// How each record's value holds a row.
    #[serde(default)]
    pub format: RecordFormat,
    /// The columns to read and their types.
    pub schema: Schema,
    /// Where reading starts.
    #[serde(default)]
    pub start: StartOffset,
    /// Read what each partition holds when the source opens, then end: a
    /// bounded source (a batch job may read it). Unset, the source follows
    /// the topic for ever and its job streams.
    #[serde(default)]
    pub bounded: bool,
    /// The timestamp column watermarks follow, per partition; none, no
    /// watermarks.
    #[serde(default)]
    pub event_time: Option<EventTimeParams>,
    /// Rows per produced batch, at most.
    #[serde(default = "crate::spec::limits::default_batch_rows")]
    pub batch_rows: usize,
}

/// `kafka_sink`: rows written as records of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkParams {
    /// Bootstrap brokers, `HOST:PORT` (the worker must allow them).
    pub brokers: Vec<String>,
    /// The topic, which must exist.
    pub topic: String,
    /// How each record's value holds a row.
    #[serde(default)]
    pub format: RecordFormat,
    /// Columns whose values make the record key; rows of one key go to
    /// one partition, in order. None: no key, batches spread round-robin.
    #[serde(default)]
    pub key: Vec<String>,
    /// Write a changelog's rows with their kind in an `op` member (`+I`,
    /// `-U`, `+U`, `-D`); a changelog input is refused without it.
    #[serde(default)]
    pub changelog: bool,
}

/// Checks bootstrap broker addresses and a topic name as Kafka takes them.
fn check_target(
    context: &SchemaContext<'_>,
    brokers: &[String],
    topic: &str,
) -> Result<(), SpecError> {
    if brokers.is_empty() {
        return Err(context.bad_params("brokers must name at least one HOST:PORT"));
    }
    for broker in brokers {
        let port = broker
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
            return Err(context.bad_params(format!("broker {broker:?} is not HOST:PORT")));
        }
    }
    // Kafka's own rule for topic names.
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || topic.len() > 249 || !topic.chars().all(legal) || topic == "." {
        return Err(context.bad_params(format!(
            "topic {topic:?} is not a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')"
        )));
    }
    Ok(())
}

/// The catalogue's `kafka`.
pub struct KafkaDefinition;

impl OperatorDefinition for KafkaDefinition {
    type Params = KafkaParams;

    fn name(&self) -> &'static str {
        "kafka"
    }

    fn is_source(&self) -> bool {
        true
    }

    fn is_unbounded(&self, params: &KafkaParams) -> bool {
        !params.bounded
    }

    fn output_schema(
        &self,
        params: &KafkaParams,
        context: &SchemaContext<'_>,
        _: &[Schema],
    ) -> Result<Schema, SpecError> {
        check_target(context, &params.brokers, &params.topic)?;
        let format = params.format.as_file_format();
        let schema = declared_schema(format, &params.schema, params.batch_rows, context)?;
        if let Some(event_time) = &params.event_time {
            event_time.check(context, &schema)?;
        }
        Ok(schema)
    }

    fn build(
        &self,
        params: &KafkaParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let source = KafkaSource::new(params.clone(), &context.step.vertex);
        Ok(Built::Source(Box::new(source)))
    }
}

/// The catalogue's `kafka_sink`.
pub struct KafkaSinkDefinition;

impl OperatorDefinition for KafkaSinkDefinition {
    type Params = KafkaSinkParams;

    fn name(&self) -> &'static str {
        "kafka_sink"
    }

    fn is_sink(&self) -> bool {
        true
    }

    fn output_schema(
        &self,
        params: &KafkaSinkParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        check_target(context, &params.brokers, &params.topic)?;
        let input = inputs.first().cloned().unwrap_or_default();
        for key in &params.key {
            column_index(context.vertex(), &input, key)?;
        }
        if params.changelog {
            if params.format == RecordFormat::Text {
                return Err(context.bad_params("a changelog is written as json, not text"));
            }
            context.unique(with_op_field(&input))?;
        }
        Ok(input)
    }

    /// A changelog is written only when the sink says `changelog: true`.
    fn changelog(
        &self,
        params: &KafkaSinkParams,
        context: &SchemaContext<'_>,
    ) -> Result<bool, String> {
        if context.changelog_input(0) && !params.changelog {
            return Err(
                "its rows update and retract earlier ones; say `changelog: true` to write each \
                 row's kind in an `op` member (+I, -U, +U, -D)"
                    .into(),
            );
        }
        Ok(false)
    }

    fn build(
        &self,
        params: &KafkaSinkParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let sink = KafkaSink::new(params.clone(), context.input(0), &context.step.vertex);
        Ok(Built::Operator(Box::new(sink)))
    }
}
