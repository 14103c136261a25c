//! `follow`'s params and catalogue definition: a source of the files that
//! appear in a directory, of a declared schema and format (checked as
//! `read` checks them), always unbounded, with optional event time.

use serde::{Deserialize, Serialize};

use super::Follow;
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::Schema;
use crate::operator::OperatorError;
use crate::operators::basic::EventTimeParams;
use crate::operators::read::{declared_schema, CsvOptions, FileFormat};
use crate::spec::SpecError;

/// How often a directory is listed when its params give no `poll_ms`.
pub const DEFAULT_POLL_MS: u64 = 1000;

/// The longest `poll_ms` taken (a day): beyond it a typo, not a wish.
pub const MAX_POLL_MS: u64 = 24 * 60 * 60 * 1000;

fn default_poll_ms() -> u64 {
    DEFAULT_POLL_MS
}

/// `follow`: rows from the files that appear in a local directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowParams {
    /// The directory to follow (files directly in it; not its
    /// subdirectories).
    pub path: String,
    /// The files' format.
    pub format: FileFormat,
    /// The columns to read and their types.
    pub schema: Schema,
    /// Milliseconds between listings of the directory.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// The timestamp column watermarks follow; none, no watermarks.
    #[serde(default)]
    pub event_time: Option<EventTimeParams>,
    /// Rows per produced batch.
    #[serde(default = "crate::spec::limits::default_batch_rows")]
    pub batch_rows: usize,
    /// How CSV files are laid out (csv only).
    #[serde(default, skip_serializing_if = "CsvOptions::is_default")]
    pub csv: CsvOptions,
}

/// The catalogue's `follow`.
pub struct FollowDefinition;

impl OperatorDefinition for FollowDefinition {
    type Params = FollowParams;

    fn name(&self) -> &'static str {
        "follow"
    }

    fn is_source(&self) -> bool {
        true
    }

    /// A directory may always get another file: a job that follows one
    /// streams.
    fn is_unbounded(&self, _: &FollowParams) -> bool {
        true
    }

    fn output_schema(
        &self,
        params: &FollowParams,
        context: &SchemaContext<'_>,
        _: &[Schema],
    ) -> Result<Schema, SpecError> {
        if !params.format.is_lines() {
            return Err(context.bad_params(
                "follow reads files line by line (csv, json_lines, text); read Parquet with `read`",
            ));
        }
        params
            .csv
            .check(params.format)
            .map_err(|e| context.bad_params(e))?;
        let schema = declared_schema(params.format, &params.schema, params.batch_rows, context)?;
        if !(1..=MAX_POLL_MS).contains(&params.poll_ms) {
            return Err(context.bad_params(format!(
                "poll_ms must be between 1 and {MAX_POLL_MS} (got {})",
                params.poll_ms
            )));
        }
        if let Some(event_time) = &params.event_time {
            event_time.check(context, &schema)?;
        }
        Ok(schema)
    }

    fn build(
        &self,
        params: &FollowParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let follow = Follow::new(params.clone(), &context.step.vertex)?;
        Ok(Built::Source(Box::new(follow)))
    }
}
