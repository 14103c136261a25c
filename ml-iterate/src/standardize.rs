//! Feature standardization: each feature shifted by its mean and divided
//! by its standard deviation, so the optimizers see features of one
//! scale (L-BFGS on features a thousand times apart needs far more
//! epochs). The moments take one epoch of their own ([`Moments`]): each
//! partition's count, means and squared deviations, merged by Chan's
//! parallel formula (stable where summing `x²` would cancel); the
//! [`Scaling`] then applies to rows, and a model trained on scaled rows
//! is turned back into one for the original features
//! ([`Scaling::unscale`]), so model files and `predict` never see the
//! scaling. A constant feature is only shifted (its scale stays 1).
//!
//! As with scikit-learn's `StandardScaler` before a penalized model, the
//! L2 penalty then applies to the scaled weights.

use crate::{Epoch, EpochStep, Features, MlError};

/// The epoch step that measures each feature's mean and spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Moments;

/// Per feature: the shift and the divisor.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Each feature's mean.
    pub means: Vec<f64>,
    /// Each feature's standard deviation (1 for a constant feature).
    pub scales: Vec<f64>,
}

/// One partition's moments.
#[derive(Debug, Clone, PartialEq)]
pub struct MomentsPartial {
    /// Rows.
    pub rows: u64,
    /// Per feature, the mean.
    pub means: Vec<f64>,
    /// Per feature, the summed squared deviation from the mean.
    pub deviations: Vec<f64>,
}

impl Scaling {
    /// No scaling, for `dim` features.
    pub fn identity(dim: usize) -> Self {
        Self {
            means: vec![0.0; dim],
            scales: vec![1.0; dim],
        }
    }

    /// `rows` scaled (labels kept).
    pub fn apply(&self, rows: &Features) -> Result<Features, MlError> {
        let dim = self.means.len();
        if rows.dim() != dim {
            return Err(MlError::Shape(format!(
                "rows of {} features for a scaling of {dim}",
                rows.dim()
            )));
        }
        let values = rows
            .values()
            .chunks(dim)
            .flat_map(|x| {
                x.iter()
                    .zip(&self.means)
                    .zip(&self.scales)
                    .map(|((v, m), s)| (v - m) / s)
            })
            .collect();
        let scaled = Features::new(dim, values)?;
        match rows.labels() {
            Some(labels) => scaled.with_labels(labels.to_vec()),
            None => Ok(scaled),
        }
    }

    /// Coefficients for scaled features — rows of an intercept then one
    /// weight per feature — as coefficients for the original features:
    /// `w' = w / s`, `b' = b − Σ w·m / s`.
    pub fn unscale(&self, coefficients: &[f64]) -> Vec<f64> {
        let dim = self.means.len();
        coefficients
            .chunks(dim + 1)
            .flat_map(|row| {
                let weights: Vec<f64> = row[1..]
                    .iter()
                    .zip(&self.scales)
                    .map(|(w, s)| w / s)
                    .collect();
                let shift: f64 = weights.iter().zip(&self.means).map(|(w, m)| w * m).sum();
                std::iter::once(row[0] - shift).chain(weights)
            })
            .collect()
    }
}

impl EpochStep for Moments {
    type Model = Scaling;
    type Partial = MomentsPartial;

    fn empty(&self, model: &Scaling) -> MomentsPartial {
        let dim = model.means.len();
        MomentsPartial {
            rows: 0,
            means: vec![0.0; dim],
            deviations: vec![0.0; dim],
        }
    }

    fn local(
        &self,
        model: &Scaling,
        rows: &Features,
        partial: &mut MomentsPartial,
    ) -> Result<(), MlError> {
        if rows.dim() != model.means.len() {
            return Err(MlError::Shape(format!(
                "rows of {} features for a scaling of {}",
                rows.dim(),
                model.means.len()
            )));
        }
        // Welford, row by row.
        for x in rows.values().chunks(rows.dim()) {
            partial.rows += 1;
            let n = partial.rows as f64;
            for ((v, mean), dev) in x
                .iter()
                .zip(&mut partial.means)
                .zip(&mut partial.deviations)
            {
                let delta = v - *mean;
                *mean += delta / n;
                *dev += delta * (v - *mean);
            }
        }
        Ok(())
    }

    fn merge(&self, into: &mut MomentsPartial, other: MomentsPartial) {
        let (a, b) = (into.rows as f64, other.rows as f64);
        if other.rows == 0 {
            return;
        }
        let n = a + b;
        for f in 0..into.means.len() {
            let delta = other.means[f] - into.means[f];
            into.means[f] += delta * b / n;
            into.deviations[f] += other.deviations[f] + delta * delta * a * b / n;
        }
        into.rows += other.rows;
    }

    fn update(&self, _: &Scaling, merged: MomentsPartial) -> Result<Epoch<Scaling>, MlError> {
        if merged.rows == 0 {
            return Err(MlError::BadParams("no rows to standardize".into()));
        }
        let n = merged.rows as f64;
        let scales = merged
            .deviations
            .iter()
            .map(|d| match (d / n).sqrt() {
                s if s > 0.0 && s.is_finite() => s,
                _ => 1.0,
            })
            .collect();
        Ok(Epoch {
            model: Scaling {
                means: merged.means,
                scales,
            },
            loss: 0.0,
            converged: true,
        })
    }
}
