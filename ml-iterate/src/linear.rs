//! Linear regression: least squares with an L2 penalty (ridge), in one
//! epoch. Each partition sums its rows' `XᵀX` and `Xᵀy` (with a leading
//! column of ones for the intercept, which is not penalized), `yᵀy` and
//! its row count; merged, the normal equations `(XᵀX + λI′) w = Xᵀy` are
//! solved by a Cholesky factorization. The loss is the RMSE over the
//! training rows, computed from the same sums. A block of rows adds to
//! `XᵀX` as one matrix product (dgemm), as KMeans' distances do.
//!
//! Known limits: the normal equations square the features' condition
//! number, so nearly collinear features without a penalty lose digits;
//! exactly collinear ones without `l2` are refused as singular.

use crate::epoch::add_into;
use crate::{Epoch, EpochStep, Features, MlError};

/// Rows added to `XᵀX` as one product.
const BLOCK_ROWS: usize = 1024;

/// Linear regression's parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearRegression {
    /// The L2 penalty on the weights (not the intercept).
    pub l2: f64,
}

/// A linear model: `y ≈ intercept + weights · x`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearModel {
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
}

impl LinearModel {
    /// A model of `dim` features that predicts 0 (where training starts).
    pub fn zero(dim: usize) -> Self {
        Self {
            weights: vec![0.0; dim],
            intercept: 0.0,
        }
    }

    /// This model, trained on features scaled by `scaling`, for the
    /// original features.
    pub fn unscaled(&self, scaling: &crate::Scaling) -> Self {
        let coefficients: Vec<f64> = std::iter::once(self.intercept)
            .chain(self.weights.iter().copied())
            .collect();
        let original = scaling.unscale(&coefficients);
        Self {
            intercept: original[0],
            weights: original[1..].to_vec(),
        }
    }

    /// The prediction for `x`.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.intercept + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }
}

/// One partition's sums.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearPartial {
    /// `XᵀX` of the rows with a leading 1, `(d+1)²`, row-major.
    pub xtx: Vec<f64>,
    /// `Xᵀy`, `d+1`.
    pub xty: Vec<f64>,
    /// `yᵀy`.
    pub yty: f64,
    /// Rows.
    pub rows: u64,
}

impl LinearRegression {
    /// Checked parameters.
    pub fn new(l2: f64) -> Result<Self, MlError> {
        if !(l2.is_finite() && l2 >= 0.0) {
            return Err(MlError::BadParams(format!(
                "l2 must be a number of at least 0, got {l2}"
            )));
        }
        Ok(Self { l2 })
    }
}

impl EpochStep for LinearRegression {
    type Model = LinearModel;
    type Partial = LinearPartial;

    fn empty(&self, model: &LinearModel) -> LinearPartial {
        let n = model.weights.len() + 1;
        LinearPartial {
            xtx: vec![0.0; n * n],
            xty: vec![0.0; n],
            yty: 0.0,
            rows: 0,
        }
    }

    fn local(
        &self,
        model: &LinearModel,
        rows: &Features,
        partial: &mut LinearPartial,
    ) -> Result<(), MlError> {
        let dim = model.weights.len();
        if rows.dim() != dim {
            return Err(MlError::Shape(format!(
                "rows of {} features for a model of {dim}",
                rows.dim()
            )));
        }
        let labels = rows
            .labels()
            .ok_or_else(|| MlError::BadParams("linear regression needs a label column".into()))?;
        let n = dim + 1;
        let mut block = Vec::with_capacity(BLOCK_ROWS * n);
        for (chunk, y) in rows
            .values()
            .chunks(BLOCK_ROWS * dim)
            .zip(labels.chunks(BLOCK_ROWS))
        {
            block.clear();
            for (x, &y) in chunk.chunks(dim).zip(y) {
                block.push(1.0);
                block.extend_from_slice(x);
                for (s, v) in partial.xty.iter_mut().zip(std::iter::once(&1.0).chain(x)) {
                    *s += v * y;
                }
                partial.yty += y * y;
            }
            add_gram(&block, y.len(), n, &mut partial.xtx);
        }
        partial.rows += labels.len() as u64;
        Ok(())
    }

    fn merge(&self, into: &mut LinearPartial, other: LinearPartial) {
        add_into(&mut into.xtx, &other.xtx);
        add_into(&mut into.xty, &other.xty);
        into.yty += other.yty;
        into.rows += other.rows;
    }

    fn update(
        &self,
        model: &LinearModel,
        merged: LinearPartial,
    ) -> Result<Epoch<LinearModel>, MlError> {
        let n = model.weights.len() + 1;
        if merged.rows == 0 {
            return Err(MlError::BadParams("no rows to fit".into()));
        }
        if let Some(i) = (1..n).find(|&i| !merged.xtx[i * n + i].is_finite()) {
            return Err(MlError::BadParams(format!(
                "the fit diverged: the squares of feature {} (counting from 0 in `features`) \
                 sum past the largest double; scale the features down",
                i - 1
            )));
        }
        if !merged.yty.is_finite() {
            return Err(MlError::BadParams(
                "the fit diverged: the squares of the label sum past the largest double; \
                 scale the label down"
                    .into(),
            ));
        }
        let mut a = merged.xtx.clone();
        for i in 1..n {
            a[i * n + i] += self.l2;
        }
        let w = cholesky_solve(a, &merged.xty, n).ok_or_else(|| {
            MlError::BadParams(
                "the normal equations are singular (collinear or constant features); set l2 > 0"
                    .into(),
            )
        })?;
        // SSE = yᵀy − 2wᵀXᵀy + wᵀXᵀXw, from the sums.
        let xtxw: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| merged.xtx[i * n + j] * w[j]).sum())
            .collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let sse = (merged.yty - 2.0 * dot(&w, &merged.xty) + dot(&w, &xtxw)).max(0.0);
        let rmse = (sse / merged.rows as f64).sqrt();
        if !rmse.is_finite() || w.iter().any(|v| !v.is_finite()) {
            return Err(MlError::BadParams(
                "the fit diverged (the features' scale overflows the normal equations)".into(),
            ));
        }
        Ok(Epoch {
            model: LinearModel {
                intercept: w[0],
                weights: w[1..].to_vec(),
            },
            loss: rmse,
            converged: true,
        })
    }
}

/// `gram += blockᵀ · block` for `rows` rows of `n` values, by dgemm.
fn add_gram(block: &[f64], rows: usize, n: usize, gram: &mut [f64]) {
    assert!(block.len() >= rows * n && gram.len() >= n * n);
    // SAFETY: `block` is `rows × n` row-major, read as its transpose
    // `n × rows` (strides 1, n) and as itself (strides n, 1); `gram` is
    // `n × n` row-major (strides n, 1) and does not alias `block`; the
    // assertion above bounds every index dgemm touches.
    unsafe {
        matrixmultiply::dgemm(
            n,
            rows,
            n,
            1.0,
            block.as_ptr(),
            1,
            n as isize,
            block.as_ptr(),
            n as isize,
            1,
            1.0,
            gram.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Solves `a x = b` for a symmetric positive definite `a` (`n × n`,
/// row-major); `None` when it is not (numerically) positive definite.
fn cholesky_solve(mut a: Vec<f64>, b: &[f64], n: usize) -> Option<Vec<f64>> {
    let scale = (0..n).map(|i| a[i * n + i].abs()).fold(0.0, f64::max);
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= scale * 1e-12 {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    // L y = b, then Lᵀ x = y.
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[i * n + k] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[k * n + i] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    Some(y)
}
