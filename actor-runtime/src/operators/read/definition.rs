//! The catalogue's `read`: a source of files whose schema the spec
//! declares, so its output schema is that declaration, checked.

use super::Read;
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{DataType, Schema};
use crate::operator::OperatorError;
use crate::spec::limits;
use crate::spec::operators::{FileFormat, ReadParams};
use crate::spec::SpecError;

/// The catalogue's `read`.
pub struct ReadDefinition;

impl OperatorDefinition for ReadDefinition {
    type Params = ReadParams;

    fn name(&self) -> &'static str {
        "read"
    }

    fn is_source(&self) -> bool {
        true
    }

    fn output_schema(
        &self,
        params: &ReadParams,
        context: &SchemaContext<'_>,
        _: &[Schema],
    ) -> Result<Schema, SpecError> {
        limits::check_batch_rows(context.vertex(), params.batch_rows)?;
        let one_text =
            matches!(params.schema.fields.as_slice(), [f] if f.data_type == DataType::Utf8);
        if params.format == FileFormat::Text && !one_text {
            return Err(context.schema_error("text files are read into exactly one utf8 column"));
        }
        context.unique(params.schema.clone())
    }

    fn build(&self, params: &ReadParams, _: &BuildContext<'_>) -> Result<Built, OperatorError> {
        Ok(Built::Source(Box::new(Read::new(params.clone()))))
    }
}
