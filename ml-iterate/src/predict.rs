//! `predict`: applies a saved model ([`crate::model_file`]) to every row
//! of a batch or streaming job, adding one column — the nearest center
//! (i64) of a KMeans model, the fitted value (f64) of a linear one, the
//! most likely class (i64) of a logistic one. Rows keep their kinds, so a
//! changelog stays one.
//!
//! The model's kind is a param (`kind`) so that the output schema is
//! known when the spec is validated, before any worker reads the file;
//! the file is read when the task opens, under the worker's read roots,
//! and must hold that kind and as many features as the `features`
//! columns give. Its catalogue entry is [`PredictDefinition`], registered
//! by [`crate::register`].

use std::path::Path;
use std::sync::Arc;

use faro_runtime::access::Access;
use faro_runtime::catalogue::{
    pass_changelog, BuildContext, Built, OperatorDefinition, SchemaContext,
};
use faro_runtime::data::{Batch, ColumnBuilder, DataType, Field, RowKind, Schema};
use faro_runtime::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use faro_runtime::spec::SpecError;
use serde::{Deserialize, Serialize};

use crate::model_file::ModelFile;
use crate::Features;

/// The kinds of model `predict` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A KMeans model: the nearest center's index.
    Kmeans,
    /// A linear regression: the fitted value.
    Linear,
    /// A logistic regression: the most likely class.
    Logistic,
}

impl ModelKind {
    fn name(self) -> &'static str {
        match self {
            Self::Kmeans => "kmeans",
            Self::Linear => "linear",
            Self::Logistic => "logistic",
        }
    }

    fn output_type(self) -> DataType {
        match self {
            Self::Linear => DataType::Float64,
            Self::Kmeans | Self::Logistic => DataType::Int64,
        }
    }
}

fn prediction() -> String {
    "prediction".into()
}

/// `predict`'s params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictParams {
    /// The model file.
    pub model: String,
    /// The kind of model it must hold.
    pub kind: ModelKind,
    /// The input columns that are the model's features, in its order
    /// (numbers, or one vector column).
    pub features: Vec<String>,
    /// The added column's name.
    #[serde(default = "prediction")]
    pub output: String,
}

/// The `predict` operator.
pub struct Predict {
    params: PredictParams,
    input: Schema,
    output: Schema,
    model: Option<Arc<ModelFile>>,
}

impl Operator for Predict {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let path = context
            .access
            .check(Path::new(&self.params.model), Access::Read)?;
        let model = ModelFile::load(&path).map_err(|e| OperatorError::BadInput(e.to_string()))?;
        if model.model.kind() != self.params.kind.name() {
            return Err(OperatorError::BadInput(format!(
                "{}: model file {} holds a {} model, and the vertex says {}",
                context.vertex,
                self.params.model,
                model.model.kind(),
                self.params.kind.name()
            )));
        }
        self.model = Some(Arc::new(model));
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let Some(model) = &self.model else {
            return Err(OperatorError::BadInput(
                "predict ran before it opened".into(),
            ));
        };
        let batch = rows.to_batch(&self.input)?;
        let features = Features::from_batch(&batch, &self.params.features)
            .map_err(|e| OperatorError::BadInput(e.to_string()))?;
        if features.rows() > 0 && features.dim() != model.features.len() {
            return Err(OperatorError::BadInput(format!(
                "model file {} has {} features ({}), and the columns {} give {}",
                self.params.model,
                model.features.len(),
                model.features.join(", "),
                self.params.features.join(", "),
                features.dim()
            )));
        }
        let field = Field::new(self.params.output.clone(), self.params.kind.output_type());
        let mut column = ColumnBuilder::new(field, rows.rows);
        for value in model.predict(&features) {
            match self.params.kind {
                ModelKind::Linear => column.push_f64(value)?,
                ModelKind::Kmeans | ModelKind::Logistic => column.push_i64(value as i64)?,
            }
        }
        let mut columns = batch.columns().to_vec();
        columns.push(column.finish());
        let predicted = Batch::new(self.output.clone(), rows.rows, columns)?;
        let kinds: Option<Vec<RowKind>> = rows
            .kinds
            .map(|k| (0..rows.rows).map(|i| k.get(i)).collect());
        out.emit(match kinds {
            Some(kinds) => predicted.with_kinds(&kinds)?,
            None => predicted,
        })
    }
}

/// The catalogue's `predict`.
pub struct PredictDefinition;

impl OperatorDefinition for PredictDefinition {
    type Params = PredictParams;

    fn name(&self) -> &'static str {
        "predict"
    }

    fn output_schema(
        &self,
        params: &PredictParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        crate::features::check_columns(context, &input, &params.features)?;
        let mut fields = input.fields.clone();
        fields.push(Field::new(params.output.clone(), params.kind.output_type()));
        context.unique(Schema::new(fields))
    }

    /// Each row is kept with its kind.
    fn changelog(&self, _: &PredictParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        pass_changelog(context)
    }

    fn build(
        &self,
        params: &PredictParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let input = context.input(0);
        let mut fields = input.fields.clone();
        fields.push(Field::new(params.output.clone(), params.kind.output_type()));
        Ok(Built::Operator(Box::new(Predict {
            params: params.clone(),
            input,
            output: Schema::new(fields),
            model: None,
        })))
    }
}
