//! The scheduler's side of an epoch, pure: the subtasks' contributions
//! merged ([`crate::EpochStep::merge`]), the model updated, and the params
//! of the next epoch (or "finished") with the epoch's summary row.

use faro_runtime::catalogue::EpochOutcome;
use faro_runtime::data::{Batch, BatchBuilder, Value};
use faro_runtime::kernels::views;
use serde::Serialize;

use super::fold::model_of;
use super::{summary_schema, Algorithm, Contribution, TrainParams, TrainState, INIT_SAMPLE_ROWS};
use super::{TrainDefinition, PARTIAL_COLUMN};
use crate::{
    EpochStep, Features, KMeans, KMeansModel, LinearModel, LinearRegression, LogisticModel,
    LogisticRegression,
};

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

impl TrainDefinition {
    pub(super) fn next(
        &self,
        params: &TrainParams,
        collected: &[Batch],
    ) -> Result<EpochOutcome, String> {
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
