//! Logistic regression, binary and multinomial, with an L2 penalty,
//! trained by L-BFGS on full-batch gradients — one epoch per evaluation
//! of the loss and its gradient, which is the part that scans the data.
//!
//! - **Objective**: the mean log-loss over the rows plus `l2 / 2 · |W|²`
//!   (the intercepts are not penalized). With two classes the model is one
//!   weight vector and a sigmoid; with more, one per class and a softmax.
//!   (scikit-learn's `C` is `1 / (l2 · rows)`.)
//! - **Epoch**: every partition sums, at the model's current point, its
//!   rows' log-loss, gradient and correct predictions
//!   ([`LogisticPartial`]); merged, [`Lbfgs`] in the model decides the
//!   next point to evaluate.
//! - **L-BFGS** (the update, no I/O): the two-loop recursion over the last
//!   [`MEMORY`] steps gives a direction; a backtracking line search takes
//!   the first step length (1, then shorter) with sufficient decrease
//!   (Armijo). An evaluation that fails it shortens the step to the
//!   minimum of the parabola through what is known (between a tenth and a
//!   half of it) and the next epoch evaluates there; one that passes is accepted and the step and
//!   gradient change join the memory. It has converged when the largest
//!   gradient component is under `tolerance` (scikit-learn's `tol`), when
//!   an accepted step lowers the loss by less than [`PROGRESS_PER_TOLERANCE`]
//!   × `tolerance` of it (Spark MLlib's rule: with the default tolerance
//!   of 1e-4 that is 1e-7, a tenth of Spark's default; past it the
//!   model's predictions no longer change), or when no step decreases the
//!   loss any more.
//!
//! Features of very different scales slow L-BFGS down: standardize them
//! first ([`crate::standardize`]) and turn the trained coefficients back
//! with [`crate::Scaling::unscale`]. Known limit: classes are the numbers
//! `0..classes`.

use crate::epoch::add_into;
use crate::{Epoch, EpochStep, Features, MlError};

/// Steps L-BFGS remembers.
pub const MEMORY: usize = 10;

/// Armijo's sufficient-decrease constant.
const SUFFICIENT_DECREASE: f64 = 1e-4;

/// Halvings of a step before the line search gives up.
const MAX_HALVINGS: u32 = 40;

/// An accepted step that lowers the loss by less than this many
/// tolerances' worth of it (a fraction `1e-3 × tolerance`) ends training:
/// the optimum is reached as far as the model's predictions can tell.
pub const PROGRESS_PER_TOLERANCE: f64 = 1e-3;

/// Logistic regression's parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticRegression {
    /// Classes; labels are `0..classes`.
    pub classes: usize,
    /// The L2 penalty on the weights.
    pub l2: f64,
    /// Convergence: the largest gradient component.
    pub tolerance: f64,
}

/// L-BFGS' state between epochs.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Lbfgs {
    /// The last accepted point, its loss and gradient.
    accepted: Option<(Vec<f64>, f64, Vec<f64>)>,
    /// The search direction from the accepted point.
    direction: Vec<f64>,
    /// The step length being tried.
    step: f64,
    halvings: u32,
    /// Past steps `s` and gradient changes `y`, oldest first.
    memory: Vec<(Vec<f64>, Vec<f64>)>,
}

/// A logistic model and where training is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticModel {
    /// Features per row.
    pub dim: usize,
    /// Classes.
    pub classes: usize,
    /// The point the next epoch evaluates: per output (one for two
    /// classes, else one per class) an intercept then `dim` weights.
    pub point: Vec<f64>,
    /// L-BFGS' state.
    pub search: Lbfgs,
    /// Accuracy on the training rows at the last accepted point.
    pub accuracy: f64,
}

/// One partition's sums at the model's point.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticPartial {
    /// Summed log-loss.
    pub loss: f64,
    /// Summed gradient of the log-loss.
    pub gradient: Vec<f64>,
    /// Rows predicted right.
    pub correct: u64,
    /// Rows.
    pub rows: u64,
}

impl LogisticModel {
    /// A model at zero for `dim` features and `classes` classes.
    pub fn zero(dim: usize, classes: usize) -> Self {
        let outputs = if classes == 2 { 1 } else { classes };
        Self {
            dim,
            classes,
            point: vec![0.0; outputs * (dim + 1)],
            search: Lbfgs::default(),
            accuracy: 0.0,
        }
    }

    /// The trained coefficients: the last accepted point (the start,
    /// before any epoch).
    pub fn coefficients(&self) -> &[f64] {
        self.search
            .accepted
            .as_ref()
            .map_or(&self.point, |(p, _, _)| p)
    }

    /// This model with its coefficients for features scaled by `scaling`
    /// turned into coefficients for the original features.
    pub fn unscaled(&self, scaling: &crate::Scaling) -> Self {
        let coefficients = scaling.unscale(self.coefficients());
        Self {
            dim: self.dim,
            classes: self.classes,
            point: coefficients.clone(),
            search: Lbfgs {
                accepted: self
                    .search
                    .accepted
                    .as_ref()
                    .map(|(_, loss, _)| (coefficients, *loss, Vec::new())),
                ..Lbfgs::default()
            },
            accuracy: self.accuracy,
        }
    }

    /// Each class' probability for `x`, at the coefficients.
    pub fn probabilities(&self, x: &[f64]) -> Vec<f64> {
        let mut scores = Vec::new();
        scores_at(self.coefficients(), self.dim, x, &mut scores);
        probabilities(&scores, self.classes)
    }
}

/// The binary fold: one weight vector, a sigmoid, one exponential a row.
/// Kept apart from the general (softmax) fold because it is the common
/// case and the hot loop: the dot product vectorizes ([`crate::dot`]),
/// and the class, the loss and the residual all come from the one score.
fn local_binary(
    point: &[f64],
    rows: &Features,
    labels: &[f64],
    partial: &mut LogisticPartial,
) -> Result<(), MlError> {
    let (bias, weights) = (point[0], &point[1..]);
    let (intercept, gradient) = partial.gradient.split_at_mut(1);
    let (mut loss, mut bias_gradient, mut correct) = (0.0, 0.0, 0u64);
    for (r, &y) in labels.iter().enumerate() {
        if y != 0.0 && y != 1.0 {
            return Err(MlError::Label {
                column: "label".into(),
                reason: format!("{y} in row {r} is not a class (0 to 1)"),
            });
        }
        let x = rows.row(r);
        let z = bias + crate::dot::dot(weights, x);
        let e = (-z.abs()).exp();
        let p = if z >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        // log(1 + e^z) − y·z, without overflow.
        loss += z.max(0.0) + e.ln_1p() - y * z;
        correct += u64::from((z >= 0.0) == (y == 1.0));
        let residual = p - y;
        bias_gradient += residual;
        for (g, v) in gradient.iter_mut().zip(x) {
            *g += residual * v;
        }
    }
    partial.loss += loss;
    intercept[0] += bias_gradient;
    partial.correct += correct;
    partial.rows += labels.len() as u64;
    Ok(())
}

/// Each output's score `b + w·x` at `point`.
fn scores_at(point: &[f64], dim: usize, x: &[f64], scores: &mut Vec<f64>) {
    scores.clear();
    for row in point.chunks(dim + 1) {
        scores.push(row[0] + row[1..].iter().zip(x).map(|(w, v)| w * v).sum::<f64>());
    }
}

/// Class probabilities from scores (a sigmoid for two classes).
fn probabilities(scores: &[f64], classes: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(classes);
    probabilities_into(scores, classes, &mut out);
    out
}

/// [`probabilities`] into a buffer kept across rows.
fn probabilities_into(scores: &[f64], classes: usize, out: &mut Vec<f64>) {
    out.clear();
    if classes == 2 {
        let p = 1.0 / (1.0 + (-scores[0]).exp());
        out.extend([1.0 - p, p]);
        return;
    }
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    out.extend(scores.iter().map(|s| (s - top).exp()));
    let total: f64 = out.iter().sum();
    out.iter_mut().for_each(|e| *e /= total);
}

impl LogisticRegression {
    /// Checked parameters.
    pub fn new(classes: usize, l2: f64, tolerance: f64) -> Result<Self, MlError> {
        if classes < 2 {
            return Err(MlError::BadParams(format!(
                "classes must be at least 2, got {classes}"
            )));
        }
        for (name, value) in [("l2", l2), ("tolerance", tolerance)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(MlError::BadParams(format!(
                    "{name} must be a number of at least 0, got {value}"
                )));
            }
        }
        Ok(Self {
            classes,
            l2,
            tolerance,
        })
    }

    /// The penalized mean loss and its gradient from merged sums at `point`.
    fn objective(&self, point: &[f64], dim: usize, merged: &LogisticPartial) -> (f64, Vec<f64>) {
        let n = merged.rows.max(1) as f64;
        let mut loss = merged.loss / n;
        let mut gradient: Vec<f64> = merged.gradient.iter().map(|g| g / n).collect();
        for (i, (w, g)) in point.iter().zip(gradient.iter_mut()).enumerate() {
            if i % (dim + 1) != 0 {
                loss += 0.5 * self.l2 * w * w;
                *g += self.l2 * w;
            }
        }
        (loss, gradient)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Lbfgs {
    /// The quasi-Newton direction `−H·gradient` (two-loop recursion).
    fn descent(&self, gradient: &[f64]) -> Vec<f64> {
        let mut q = gradient.to_vec();
        let mut alphas = Vec::with_capacity(self.memory.len());
        for (s, y) in self.memory.iter().rev() {
            let alpha = dot(s, &q) / dot(y, s);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= alpha * yi;
            }
            alphas.push(alpha);
        }
        if let Some((s, y)) = self.memory.last() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y), alpha) in self.memory.iter().zip(alphas.into_iter().rev()) {
            let beta = dot(y, &q) / dot(y, s);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (alpha - beta) * si;
            }
        }
        q.iter().map(|v| -v).collect()
    }
}

impl EpochStep for LogisticRegression {
    type Model = LogisticModel;
    type Partial = LogisticPartial;

    fn empty(&self, model: &LogisticModel) -> LogisticPartial {
        LogisticPartial {
            loss: 0.0,
            gradient: vec![0.0; model.point.len()],
            correct: 0,
            rows: 0,
        }
    }

    fn local(
        &self,
        model: &LogisticModel,
        rows: &Features,
        partial: &mut LogisticPartial,
    ) -> Result<(), MlError> {
        let dim = model.dim;
        if rows.dim() != dim {
            return Err(MlError::Shape(format!(
                "rows of {} features for a model of {dim}",
                rows.dim()
            )));
        }
        let labels = rows
            .labels()
            .ok_or_else(|| MlError::BadParams("logistic regression needs a label column".into()))?;
        if model.classes == 2 {
            return local_binary(&model.point, rows, labels, partial);
        }
        let (mut scores, mut p, mut residuals) = (Vec::new(), Vec::new(), Vec::new());
        for (r, &label) in labels.iter().enumerate() {
            let class = label as usize;
            if label.fract() != 0.0 || label < 0.0 || class >= model.classes {
                return Err(MlError::Label {
                    column: "label".into(),
                    reason: format!(
                        "{label} in row {r} is not a class (0 to {})",
                        model.classes - 1
                    ),
                });
            }
            let x = rows.row(r);
            scores_at(&model.point, dim, x, &mut scores);
            probabilities_into(&scores, model.classes, &mut p);
            let predicted = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]));
            partial.correct += u64::from(predicted == Some(class));
            // Per output: the loss's derivative by its score.
            residuals.clear();
            if model.classes == 2 {
                let z = scores[0];
                let y = class as f64;
                // log(1 + e^z) − y·z, without overflow.
                partial.loss += z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z;
                residuals.push(p[1] - y);
            } else {
                partial.loss += -p[class].max(f64::MIN_POSITIVE).ln();
                residuals
                    .extend((0..model.classes).map(|k| p[k] - f64::from(u8::from(k == class))));
            }
            for (out, &residual) in partial.gradient.chunks_mut(dim + 1).zip(&residuals) {
                out[0] += residual;
                for (g, v) in out[1..].iter_mut().zip(x) {
                    *g += residual * v;
                }
            }
        }
        partial.rows += labels.len() as u64;
        Ok(())
    }

    fn merge(&self, into: &mut LogisticPartial, other: LogisticPartial) {
        into.loss += other.loss;
        add_into(&mut into.gradient, &other.gradient);
        into.correct += other.correct;
        into.rows += other.rows;
    }

    fn update(
        &self,
        model: &LogisticModel,
        merged: LogisticPartial,
    ) -> Result<Epoch<LogisticModel>, MlError> {
        if merged.rows == 0 {
            return Err(MlError::BadParams("no rows to fit".into()));
        }
        let (loss, gradient) = self.objective(&model.point, model.dim, &merged);
        if !loss.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
            return Err(MlError::BadParams(
                "the loss diverged (features too large: scale them, or raise l2)".into(),
            ));
        }
        let accuracy = merged.correct as f64 / merged.rows as f64;
        let mut next = model.clone();
        let search = &mut next.search;
        let accept = match &search.accepted {
            None => true,
            Some((_, f, g)) => {
                loss <= f + SUFFICIENT_DECREASE * search.step * dot(g, &search.direction)
            }
        };
        if !accept {
            search.halvings += 1;
            let (base, best, _) = search.accepted.clone().unwrap_or_default();
            if search.halvings > MAX_HALVINGS {
                // No step along the direction lowers the loss: at the
                // optimum as far as doubles can tell.
                next.point = base;
                return Ok(Epoch {
                    model: next,
                    loss: best,
                    converged: true,
                });
            }
            // The step that minimizes the parabola through the loss at 0
            // (value and slope) and at the rejected step, kept between a
            // tenth and a half of it (Nocedal & Wright's backtracking by
            // interpolation: usually one retry, where halving takes several).
            let slope = search
                .accepted
                .as_ref()
                .map_or(0.0, |(_, _, g)| dot(g, &search.direction));
            let tried = search.step;
            let curvature = 2.0 * (loss - best - slope * tried);
            let minimum = match curvature > 0.0 {
                true => -slope * tried * tried / curvature,
                false => tried / 2.0,
            };
            search.step = minimum.clamp(0.1 * tried, 0.5 * tried);
            next.point = base
                .iter()
                .zip(&search.direction)
                .map(|(p, d)| p + search.step * d)
                .collect();
            return Ok(Epoch {
                model: next,
                loss: best,
                converged: false,
            });
        }
        if let Some((old_point, _, old_gradient)) = &search.accepted {
            let s: Vec<f64> = model
                .point
                .iter()
                .zip(old_point)
                .map(|(a, b)| a - b)
                .collect();
            let y: Vec<f64> = gradient
                .iter()
                .zip(old_gradient)
                .map(|(a, b)| a - b)
                .collect();
            // Only curvature that keeps the inverse Hessian positive.
            if dot(&s, &y) > 1e-10 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
                search.memory.push((s, y));
                if search.memory.len() > MEMORY {
                    search.memory.remove(0);
                }
            }
        }
        next.accuracy = accuracy;
        let largest = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let stalled = search.accepted.as_ref().is_some_and(|(_, before, _)| {
            before - loss < PROGRESS_PER_TOLERANCE * self.tolerance * loss.abs()
        });
        search.accepted = Some((model.point.clone(), loss, gradient.clone()));
        if largest <= self.tolerance || stalled {
            return Ok(Epoch {
                model: next,
                loss,
                converged: true,
            });
        }
        search.direction = search.descent(&gradient);
        // The first step is scaled to move about one unit.
        search.step = match search.memory.is_empty() {
            true => 1.0 / dot(&gradient, &gradient).sqrt().max(1.0),
            false => 1.0,
        };
        search.halvings = 0;
        next.point = model
            .point
            .iter()
            .zip(&search.direction)
            .map(|(p, d)| p + search.step * d)
            .collect();
        Ok(Epoch {
            model: next,
            loss,
            converged: false,
        })
    }
}
