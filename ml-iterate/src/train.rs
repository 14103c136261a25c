//! `train`: an iterative training job's vertex. The scheduler runs its
//! region once per epoch (see `docs/architecture.md`, *ML*): each subtask
//! folds its partition of the cached input — the blocking edge into it,
//! committed once in the shuffle service — into a partial under the
//! current model and hands it over as one collected row; between epochs
//! the catalogue's `after_epoch` hook merges the partials, updates the
//! model ([`EpochStep`]) and feeds it back through the vertex's params
//! (`state`). When the model has converged, or `max_epochs` have run, one
//! last run has subtask 0 write the model file (under the worker's write
//! roots) for `predict`. The job's result is one row per epoch: its
//! number, loss and whether it converged.
//!
//! KMeans spends epoch 0 on its initial centers: each subtask keeps the
//! rows whose seeded hash is smallest (bottom-k sampling), and k-means++
//! runs on the smallest of their union — the same sample whichever
//! subtask a row reached and in whatever order, so one seed gives one
//! model.
//!
//! Known limits: the model is carried in the spec the scheduler holds, so
//! a restarted scheduler starts training over (its input stays cached);
//! the final save reads the cached input once more.

use std::path::Path;

use faro_runtime::access::Access;
use faro_runtime::catalogue::{
    column_index, BuildContext, Built, EpochOutcome, OperatorDefinition, SchemaContext,
};
use faro_runtime::data::{Batch, BatchBuilder, DataType, Field, Schema, Value};
use faro_runtime::kernels::views;
use faro_runtime::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use faro_runtime::operators::basic::Collect;
use faro_runtime::spec::SpecError;
use serde::{Deserialize, Serialize};

use crate::model_file::ModelFile;
use crate::seeded::Seeded;
use crate::{
    EpochStep, Features, KMeans, KMeansModel, LinearModel, LinearRegression, LogisticModel,
    LogisticRegression, MlError,
};

/// Rows of the input KMeans' init samples (at least four per cluster).
pub const INIT_SAMPLE_ROWS: usize = 20_000;

/// The column a subtask's partial crosses to the scheduler in.
const PARTIAL_COLUMN: &str = "train_partial";

fn twenty() -> usize {
    20
}

fn kmeans_tolerance() -> f64 {
    1e-4
}

fn two() -> usize {
    2
}

fn logistic_l2() -> f64 {
    1e-4
}

fn logistic_tolerance() -> f64 {
    1e-6
}

/// Which algorithm trains, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Algorithm {
    /// KMeans.
    Kmeans {
        /// Clusters.
        k: usize,
        /// Convergence (see [`KMeans`]).
        #[serde(default = "kmeans_tolerance")]
        tolerance: f64,
        /// Seeds the sample and k-means++.
        #[serde(default)]
        seed: u64,
    },
    /// Least squares with an L2 penalty.
    Linear {
        /// The penalty.
        #[serde(default)]
        l2: f64,
    },
    /// Logistic regression by L-BFGS.
    Logistic {
        /// Classes, `0..classes`.
        #[serde(default = "two")]
        classes: usize,
        /// The penalty.
        #[serde(default = "logistic_l2")]
        l2: f64,
        /// Convergence: the largest gradient component.
        #[serde(default = "logistic_tolerance")]
        tolerance: f64,
    },
}

/// Where training is, as the scheduler feeds it back between epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainState {
    /// The epoch about to run.
    pub epoch: usize,
    /// The current model (the algorithm's model type, as JSON).
    pub model: serde_json::Value,
    /// Training has finished: this run saves the model file.
    #[serde(default)]
    pub finished: bool,
}

/// `train`'s params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The feature columns (numbers, or one vector column).
    pub features: Vec<String>,
    /// The label column (the regressions).
    #[serde(default)]
    pub label: Option<String>,
    /// Epochs at most.
    #[serde(default = "twenty")]
    pub max_epochs: usize,
    /// Where the trained model is written (a model file).
    pub model_file: String,
    /// Set by the scheduler between epochs; a spec leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TrainState>,
}

/// One subtask's contribution to an epoch, as it crosses to the scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Contribution {
    /// KMeans' epoch 0: a sample of the rows, each with its hash.
    Sample {
        dim: usize,
        values: Vec<f64>,
        hashes: Vec<u64>,
    },
    /// A fold's partial, as JSON of the algorithm's partial type.
    Partial(serde_json::Value),
}

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
        serde_json::to_value(&self.partial).map_err(|e| MlError::BadParams(e.to_string()))
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

fn model_of<M: serde::de::DeserializeOwned>(model: &serde_json::Value) -> Result<M, MlError> {
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
}

fn bad(error: impl std::fmt::Display) -> OperatorError {
    OperatorError::BadInput(error.to_string())
}

impl Train {
    fn features(&self, batch: &Batch) -> Result<Features, MlError> {
        match &self.params.label {
            Some(label) => Features::from_batch_labelled(batch, &self.params.features, label),
            None => Features::from_batch(batch, &self.params.features),
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
        let batch = rows.to_batch(&self.input)?;
        let features = self.features(&batch).map_err(bad)?;
        match &mut self.work {
            Work::Sample => self.sample(&features),
            Work::Fold(fold) => fold.fold(&features).map_err(bad)?,
            Work::Nothing => {}
        }
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

fn partial_schema() -> Schema {
    Schema::new(vec![Field::new(PARTIAL_COLUMN, DataType::Utf8)])
}

/// The schema of the job's result rows, one per epoch: its number, the
/// algorithm's loss (inertia, RMSE, log-loss; none for KMeans' init
/// epoch), a logistic model's training accuracy, and whether it has
/// converged.
fn summary_schema(algorithm: &Algorithm) -> Schema {
    let loss = match algorithm {
        Algorithm::Kmeans { .. } => "inertia",
        Algorithm::Linear { .. } => "rmse",
        Algorithm::Logistic { .. } => "log_loss",
    };
    let mut fields = vec![
        Field::new("epoch", DataType::Int64),
        Field::nullable(loss, DataType::Float64),
    ];
    if matches!(algorithm, Algorithm::Logistic { .. }) {
        fields.push(Field::new("accuracy", DataType::Float64));
    }
    fields.push(Field::new("converged", DataType::Bool));
    Schema::new(fields)
}

/// The contributions in the region's collected rows.
fn contributions(collected: &[Batch]) -> Result<Vec<Contribution>, String> {
    let mut out = Vec::new();
    for batch in collected {
        if batch.schema().fields.len() != 1 || batch.schema().fields[0].name != PARTIAL_COLUMN {
            continue;
        }
        let columns = views(batch);
        for r in 0..batch.num_rows() {
            let Value::Utf8(text) = columns[0].value(r) else {
                return Err("a partial that is not text".into());
            };
            out.push(serde_json::from_str(&text).map_err(|e| format!("a partial: {e}"))?);
        }
    }
    Ok(out)
}

/// Merges `contributions` under `step` and updates `model`.
fn merged<S>(
    step: &S,
    model: S::Model,
    contributions: Vec<Contribution>,
) -> Result<crate::Epoch<S::Model>, String>
where
    S: EpochStep,
    S::Partial: serde::de::DeserializeOwned,
{
    let mut total = step.empty(&model);
    for contribution in contributions {
        let Contribution::Partial(value) = contribution else {
            return Err("a sample where a partial belongs".into());
        };
        let partial: S::Partial =
            serde_json::from_value(value).map_err(|e| format!("a partial: {e}"))?;
        step.merge(&mut total, partial);
    }
    step.update(&model, total).map_err(|e| e.to_string())
}

impl TrainParams {
    /// The next epoch's params after `collected`, and the epoch's summary
    /// (loss `None` for KMeans' init epoch).
    fn after(&self, collected: &[Batch]) -> Result<(TrainState, Summary), String> {
        let contributions = contributions(collected)?;
        if contributions.is_empty() {
            return Err("no subtask handed over its part of the epoch".into());
        }
        let epoch = self.state.as_ref().map_or(0, |s| s.epoch);
        let (model, loss, accuracy, converged) = match (&self.algorithm, &self.state) {
            (Algorithm::Kmeans { k, tolerance, seed }, None) => {
                let step = KMeans::new(*k, *tolerance, *seed).map_err(|e| e.to_string())?;
                let mut dim = 1;
                let mut rows: Vec<(u64, Vec<f64>)> = Vec::new();
                for contribution in contributions {
                    if let Contribution::Sample {
                        dim: d,
                        values,
                        hashes,
                    } = contribution
                    {
                        dim = d.max(1);
                        rows.extend(
                            hashes
                                .into_iter()
                                .zip(values.chunks(dim).map(<[f64]>::to_vec)),
                        );
                    }
                }
                // The input's smallest hashes, in hash order: the same
                // sample, in the same order, however the rows were split.
                rows.sort_by(|a, b| {
                    a.0.cmp(&b.0).then_with(|| {
                        a.1.iter()
                            .map(|v| v.to_bits())
                            .cmp(b.1.iter().map(|v| v.to_bits()))
                    })
                });
                rows.truncate(INIT_SAMPLE_ROWS.max(k.saturating_mul(4)));
                let values: Vec<f64> = rows.into_iter().flat_map(|(_, row)| row).collect();
                let sample = Features::new(dim, values).map_err(|e| e.to_string())?;
                let model = step.init(&sample).map_err(|e| e.to_string())?;
                (to_json(&model)?, None, None, false)
            }
            (Algorithm::Kmeans { k, tolerance, seed }, Some(state)) => {
                let step = KMeans::new(*k, *tolerance, *seed).map_err(|e| e.to_string())?;
                let model: KMeansModel = model_of(&state.model).map_err(|e| e.to_string())?;
                let next = merged(&step, model, contributions)?;
                (to_json(&next.model)?, Some(next.loss), None, next.converged)
            }
            (Algorithm::Linear { l2 }, state) => {
                let step = LinearRegression::new(*l2).map_err(|e| e.to_string())?;
                let model = match state {
                    Some(s) => model_of(&s.model).map_err(|e| e.to_string())?,
                    None => LinearModel::zero(partial_len(&contributions, "xty") - 1),
                };
                let next = merged(&step, model, contributions)?;
                (to_json(&next.model)?, Some(next.loss), None, next.converged)
            }
            (
                Algorithm::Logistic {
                    classes,
                    l2,
                    tolerance,
                },
                state,
            ) => {
                let step = LogisticRegression::new(*classes, *l2, *tolerance)
                    .map_err(|e| e.to_string())?;
                let model = match state {
                    Some(s) => model_of(&s.model).map_err(|e| e.to_string())?,
                    None => {
                        let outputs = if *classes == 2 { 1 } else { *classes };
                        let width = partial_len(&contributions, "gradient") / outputs;
                        LogisticModel::zero(width.saturating_sub(1), *classes)
                    }
                };
                let next = merged(&step, model, contributions)?;
                let accuracy = next.model.accuracy;
                (
                    to_json(&next.model)?,
                    Some(next.loss),
                    Some(accuracy),
                    next.converged,
                )
            }
        };
        let finished = converged || epoch + 1 >= self.max_epochs;
        let state = TrainState {
            epoch: epoch + 1,
            model,
            finished,
        };
        let summary = Summary {
            loss,
            accuracy,
            converged,
        };
        Ok((state, summary))
    }
}

fn to_json(model: &impl Serialize) -> Result<serde_json::Value, String> {
    serde_json::to_value(model).map_err(|e| e.to_string())
}

/// The length of array `field` in the first partial (a zero model's
/// width, at the first epoch of a regression).
fn partial_len(contributions: &[Contribution], field: &str) -> usize {
    contributions
        .iter()
        .find_map(|c| match c {
            Contribution::Partial(value) => value.get(field)?.as_array().map(Vec::len),
            Contribution::Sample { .. } => None,
        })
        .unwrap_or(1)
}

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
        if params.features.is_empty() {
            return Err(context.bad_params("features must name at least one column"));
        }
        for name in &params.features {
            let index = column_index(context.vertex(), &input, name)?;
            let numeric = match input.fields[index].data_type {
                DataType::Int64 | DataType::Float64 => true,
                DataType::Vector { .. } => params.features.len() == 1,
                _ => false,
            };
            if !numeric {
                return Err(context.schema_error(format!(
                    "feature column {name:?} is {}; features must be numbers or one vector column",
                    input.fields[index].data_type
                )));
            }
        }
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
        let input = context.input(0);
        let work = work(params, dim_of(&input, &params.features)).map_err(bad)?;
        Ok(Built::Operator(Box::new(Train {
            params: params.clone(),
            input,
            work,
            sample: std::collections::BinaryHeap::new(),
            seed: 0,
            sample_limit: 1,
            sink: Collect::new(&partial_schema(), usize::MAX, context.collected.clone()),
        })))
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

impl TrainDefinition {
    fn next(&self, params: &TrainParams, collected: &[Batch]) -> Result<EpochOutcome, String> {
        let epoch = params.state.as_ref().map_or(0, |s| s.epoch);
        let (state, summary) = params.after(collected)?;
        let mut next = params.clone();
        next.state = Some(state);
        let mut row = vec![
            Value::Int64(epoch as i64),
            summary.loss.map_or(Value::Null, Value::Float64),
        ];
        if matches!(params.algorithm, Algorithm::Logistic { .. }) {
            row.push(Value::Float64(summary.accuracy.unwrap_or(0.0)));
        }
        row.push(Value::Bool(summary.converged));
        let mut builder = BatchBuilder::new(summary_schema(&params.algorithm), 1);
        builder.push_row(&row).map_err(|e| e.to_string())?;
        let loss = summary.loss;
        let summary = builder.finish().map_err(|e| e.to_string())?;
        Ok(EpochOutcome {
            epoch: Some(epoch as u64),
            loss,
            next: Some(serde_json::to_value(&next).map_err(|e| e.to_string())?),
            summary: vec![summary],
        })
    }
}

/// One epoch, as the job's result shows it.
struct Summary {
    loss: Option<f64>,
    accuracy: Option<f64>,
    converged: bool,
}
