//! The catalogue's `train`: its schema checks (features, label,
//! parameters; the blocking input is the validator's, through
//! `cached_input`), its build, and the `after_epoch` hook.

use faro_runtime::catalogue::{
    column_index, BuildContext, Built, EpochOutcome, OperatorDefinition, SchemaContext,
};
use faro_runtime::data::{Batch, DataType, Schema};
use faro_runtime::operator::OperatorError;
use faro_runtime::spec::SpecError;

use super::fold::Train;
use super::{summary_schema, Algorithm, TrainParams};
use crate::{KMeans, LinearRegression, LogisticRegression};

/// The catalogue's `train`.
pub struct TrainDefinition;

impl OperatorDefinition for TrainDefinition {
    type Params = TrainParams;

    fn name(&self) -> &'static str {
        "train"
    }

    fn is_sink(&self) -> bool {
        true
    }

    /// The input is read once per epoch: it must come through a blocking
    /// edge, committed once to the shuffle service.
    fn cached_input(&self) -> bool {
        true
    }

    fn output_schema(
        &self,
        params: &TrainParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        crate::features::check_columns(context, &input, &params.features)?;
        let supervised = !matches!(params.algorithm, Algorithm::Kmeans { .. });
        match (&params.label, supervised) {
            (None, true) => return Err(context.bad_params("this algorithm needs a label column")),
            (Some(label), _) => {
                let index = column_index(context.vertex(), &input, label)?;
                if !matches!(
                    input.fields[index].data_type,
                    DataType::Int64 | DataType::Float64
                ) {
                    return Err(context.schema_error(format!(
                        "label column {label:?} is {}; a label is a number",
                        input.fields[index].data_type
                    )));
                }
            }
            (None, false) => {}
        }
        if params.max_epochs == 0 {
            return Err(context.bad_params("max_epochs must be at least 1"));
        }
        let checked = match &params.algorithm {
            Algorithm::Kmeans { k, tolerance, seed } => {
                KMeans::new(*k, *tolerance, *seed).map(|_| ())
            }
            Algorithm::Linear { l2 } => LinearRegression::new(*l2).map(|_| ()),
            Algorithm::Logistic {
                classes,
                l2,
                tolerance,
            } => LogisticRegression::new(*classes, *l2, *tolerance).map(|_| ()),
        };
        checked.map_err(|e| context.bad_params(e.to_string()))?;
        Ok(summary_schema(&params.algorithm))
    }

    fn build(
        &self,
        params: &TrainParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let train = Train::new(params.clone(), context.input(0), context.collected.clone())?;
        Ok(Built::Operator(Box::new(train)))
    }

    fn after_epoch(
        &self,
        params: &TrainParams,
        collected: &[Batch],
    ) -> Option<Result<EpochOutcome, String>> {
        if params.state.as_ref().is_some_and(|s| s.finished) {
            return Some(Ok(EpochOutcome {
                epoch: None,
                loss: None,
                next: None,
                summary: Vec::new(),
            }));
        }
        Some(self.next(params, collected))
    }
}
