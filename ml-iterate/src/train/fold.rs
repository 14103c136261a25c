//! One subtask's side of an epoch: the `train` operator. It folds its
//! rows under the model the params carry (or, in KMeans' epoch 0, keeps
//! its bottom-k sample), and at the end of its input hands the result to
//! the scheduler as one collected row.

use std::path::Path;

use faro_runtime::access::Access;
use faro_runtime::data::{BatchBuilder, DataType, Schema, Value};
use faro_runtime::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use faro_runtime::operators::basic::{Collect, Collected};
use serde::Serialize;

use super::{partial_schema, Algorithm, Contribution, TrainParams, INIT_SAMPLE_ROWS};
use crate::model_file::ModelFile;
use crate::seeded::Seeded;
use crate::{
    EpochStep, Features, KMeans, KMeansModel, LinearModel, LinearRegression, LogisticModel,
    LogisticRegression, MlError,
};

/// An epoch's fold in progress, whatever the algorithm.
trait Fold: Send {
    /// Folds `rows` in.
    fn fold(&mut self, rows: &Features) -> Result<(), MlError>;
    /// The partial, as JSON.
    fn finish(&self) -> Result<serde_json::Value, MlError>;
}

/// [`Fold`] for one algorithm's step, model and partial.
struct Folding<S: EpochStep> {
    step: S,
    model: S::Model,
    partial: S::Partial,
}

impl<S> Fold for Folding<S>
where
    S: EpochStep + Send,
    S::Model: Send,
    S::Partial: Serialize + Send,
{
    fn fold(&mut self, rows: &Features) -> Result<(), MlError> {
        self.step.local(&self.model, rows, &mut self.partial)
    }

    fn finish(&self) -> Result<serde_json::Value, MlError> {
        let value =
            serde_json::to_value(&self.partial).map_err(|e| MlError::BadParams(e.to_string()))?;
        // JSON has no infinity: serde_json writes an overflowed sum as
        // null, which the merge would meet as a puzzle. Said here instead.
        if holds_null(&value) {
            return Err(MlError::BadParams(
                "the fit diverged: this subtask's sums overflowed the largest double; \
                 scale the features (or the label) down"
                    .into(),
            ));
        }
        Ok(value)
    }
}

/// Whether `value` holds a null anywhere (a partial never does, unless a
/// number in it was not finite).
fn holds_null(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Array(items) => items.iter().any(holds_null),
        serde_json::Value::Object(members) => members.values().any(holds_null),
        _ => false,
    }
}

fn folding<S>(step: S, model: S::Model) -> Box<dyn Fold>
where
    S: EpochStep + Send + 'static,
    S::Model: Send,
    S::Partial: Serialize + Send,
{
    let partial = step.empty(&model);
    Box::new(Folding {
        step,
        model,
        partial,
    })
}

pub(super) fn model_of<M: serde::de::DeserializeOwned>(
    model: &serde_json::Value,
) -> Result<M, MlError> {
    serde_json::from_value(model.clone())
        .map_err(|e| MlError::BadParams(format!("the fed-back model: {e}")))
}

/// What one subtask does this epoch.
enum Work {
    /// KMeans' epoch 0: keep a sample.
    Sample,
    /// Fold the rows under the current model.
    Fold(Box<dyn Fold>),
    /// Training has finished: the model file was written at open.
    Nothing,
}

/// The work `params` ask for, for rows of `dim` features.
fn work(params: &TrainParams, dim: usize) -> Result<Work, MlError> {
    let state = params.state.as_ref();
    if state.is_some_and(|s| s.finished) {
        return Ok(Work::Nothing);
    }
    Ok(match (&params.algorithm, state) {
        (Algorithm::Kmeans { .. }, None) => Work::Sample,
        (Algorithm::Kmeans { k, tolerance, seed }, Some(state)) => Work::Fold(folding(
            KMeans::new(*k, *tolerance, *seed)?,
            model_of::<KMeansModel>(&state.model)?,
        )),
        (Algorithm::Linear { l2 }, state) => {
            let model = match state {
                Some(s) => model_of(&s.model)?,
                None => LinearModel::zero(dim),
            };
            Work::Fold(folding(LinearRegression::new(*l2)?, model))
        }
        (
            Algorithm::Logistic {
                classes,
                l2,
                tolerance,
            },
            state,
        ) => {
            let model = match state {
                Some(s) => model_of(&s.model)?,
                None => LogisticModel::zero(dim, *classes),
            };
            let step = LogisticRegression::new(*classes, *l2, *tolerance)?;
            Work::Fold(folding(step, model))
        }
    })
}

/// Features per row of `features` in `schema` (a vector column's width).
fn dim_of(schema: &Schema, features: &[String]) -> usize {
    let vector = match features {
        [one] => schema
            .index_of(one)
            .and_then(|i| match schema.fields[i].data_type {
                DataType::Vector { dim, .. } => Some(dim as usize),
                _ => None,
            }),
        _ => None,
    };
    vector.unwrap_or(features.len())
}

/// The `train` operator: one subtask's fold of one epoch.
pub struct Train {
    params: TrainParams,
    input: Schema,
    work: Work,
    /// The sampled rows: the `sample_limit` smallest hashes (a max-heap
    /// of (hash, row)).
    sample: std::collections::BinaryHeap<(u64, Vec<u64>)>,
    seed: u64,
    sample_limit: usize,
    sink: Collect,
    /// The last batch's feature memory, filled again by the next.
    scratch: Vec<f64>,
}

fn bad(error: impl std::fmt::Display) -> OperatorError {
    OperatorError::BadInput(error.to_string())
}

impl Train {
    /// The operator of one subtask of a vertex of `params`, over rows of
    /// `input`, handing its contribution to `collected`.
    pub fn new(
        params: TrainParams,
        input: Schema,
        collected: Collected,
    ) -> Result<Self, OperatorError> {
        let work = work(&params, dim_of(&input, &params.features)).map_err(bad)?;
        Ok(Self {
            params,
            input,
            work,
            sample: std::collections::BinaryHeap::new(),
            scratch: Vec::new(),
            seed: 0,
            sample_limit: 1,
            sink: Collect::new(&partial_schema(), usize::MAX, collected),
        })
    }

    fn features(&mut self, rows: &Rows<'_>) -> Result<Features, MlError> {
        let buffer = std::mem::take(&mut self.scratch);
        match &self.params.label {
            Some(label) => {
                Features::from_rows_labelled_in(rows, &self.params.features, label, buffer)
            }
            None => Features::from_rows_in(rows, &self.params.features, buffer),
        }
    }

    /// Bottom-k sampling of KMeans' init rows by a seeded hash of their
    /// values: which rows are kept does not depend on order or placement.
    fn sample(&mut self, rows: &Features) {
        for r in 0..rows.rows() {
            let bits: Vec<u64> = rows.row(r).iter().map(|v| v.to_bits()).collect();
            let hash = bits
                .iter()
                .fold(self.seed, |h, b| Seeded::new(h ^ b).next_u64());
            if self.sample.len() < self.sample_limit {
                self.sample.push((hash, bits));
            } else if self.sample.peek().is_some_and(|(top, _)| hash < *top) {
                self.sample.pop();
                self.sample.push((hash, bits));
            }
        }
    }

    /// What this subtask hands over at the end of its input.
    fn contribution(&mut self) -> Result<Option<Contribution>, MlError> {
        Ok(match &self.work {
            Work::Nothing => None,
            Work::Sample => {
                let kept = std::mem::take(&mut self.sample).into_vec();
                Some(Contribution::Sample {
                    dim: dim_of(&self.input, &self.params.features),
                    hashes: kept.iter().map(|(h, _)| *h).collect(),
                    values: kept
                        .iter()
                        .flat_map(|(_, row)| row.iter().map(|b| f64::from_bits(*b)))
                        .collect(),
                })
            }
            Work::Fold(fold) => Some(Contribution::Partial(fold.finish()?)),
        })
    }
}

impl Operator for Train {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.seed = match self.params.algorithm {
            Algorithm::Kmeans { seed, .. } => seed,
            _ => 0,
        };
        // At least a few rows per cluster, so k beyond the sample is
        // never refused while the input has the rows.
        let wanted = match self.params.algorithm {
            Algorithm::Kmeans { k, .. } => INIT_SAMPLE_ROWS.max(k.saturating_mul(4)),
            _ => INIT_SAMPLE_ROWS,
        };
        // Every subtask keeps as many as all together need: the union's
        // smallest are then the input's smallest, however it was split.
        self.sample_limit = wanted;
        let Some(state) = self.params.state.as_ref().filter(|s| s.finished) else {
            return Ok(());
        };
        if context.subtask != 0 {
            return Ok(());
        }
        let path = context
            .access
            .check(Path::new(&self.params.model_file), Access::Write)?;
        let features = self.params.features.clone();
        let label = self.params.label.clone().unwrap_or_default();
        let file = match &self.params.algorithm {
            Algorithm::Kmeans { .. } => {
                ModelFile::kmeans(features, &model_of(&state.model).map_err(bad)?)
            }
            Algorithm::Linear { .. } => {
                ModelFile::linear(features, &label, &model_of(&state.model).map_err(bad)?)
            }
            Algorithm::Logistic { .. } => {
                ModelFile::logistic(features, &label, &model_of(&state.model).map_err(bad)?)
            }
        };
        file.save(&path).map_err(bad)
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        if matches!(self.work, Work::Nothing) || rows.rows == 0 {
            return Ok(());
        }
        let features = self.features(rows).map_err(bad)?;
        match &mut self.work {
            Work::Sample => self.sample(&features),
            Work::Fold(fold) => fold.fold(&features).map_err(bad)?,
            Work::Nothing => {}
        }
        self.scratch = features.into_values();
        Ok(())
    }

    fn end_input(&mut self, _: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        let Some(contribution) = self.contribution().map_err(bad)? else {
            return Ok(());
        };
        let text = serde_json::to_string(&contribution).map_err(bad)?;
        let mut builder = BatchBuilder::new(partial_schema(), 1);
        builder.push_row(&[Value::Utf8(text)])?;
        let batch = builder.finish()?;
        self.sink.process(0, &Rows::of_batch(&batch), out)
    }
}
