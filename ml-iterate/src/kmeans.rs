//! KMeans: Lloyd's algorithm from k-means++ centers, as epoch steps.
//!
//! - **Init** ([`KMeans::init`]): greedy k-means++ on a sample of the
//!   rows, as scikit-learn does it — the first center a seeded uniform
//!   pick, each next one the best (least total squared distance) of
//!   `2 + ln k` candidates drawn with probability proportional to the
//!   squared distance to the nearest center so far. The seed fixes it.
//! - **Epoch**: each partition assigns its rows to their nearest center
//!   and sums them per center ([`KMeansPartial`]: sums, counts, squared
//!   distances); merged, the sums over the counts are the new centers.
//!   The loss is the inertia (the sum of squared distances to the centers
//!   the epoch started from). It has converged when the centers moved, in
//!   all, less than `tolerance` times the mean variance of the sample's
//!   features (scikit-learn's `tol`).
//! - **Kernel**: the distances of a block of rows to every center come
//!   from one matrix product, `|x|² − 2·x·c + |c|²`, with the dot products
//!   from `matrixmultiply`'s dgemm (a SIMD microkernel) over blocks of
//!   [`BLOCK_ROWS`] rows that stay in cache.
//!
//! Known limits: a center that loses all its rows stays where it was
//! (scikit-learn moves it to a far point); init samples are the caller's
//! to draw.

use crate::epoch::add_into;
use crate::seeded::Seeded;
use crate::{Epoch, EpochStep, Features, MlError};

/// Rows whose distances are computed as one matrix product.
pub const BLOCK_ROWS: usize = 1024;

/// KMeans' parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeans {
    /// Clusters.
    pub k: usize,
    /// Convergence: the centers' total squared move, relative to the mean
    /// variance of the features.
    pub tolerance: f64,
    /// Seeds the initial centers.
    pub seed: u64,
}

/// A KMeans model: `k` centers of `dim` features, row after row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeansModel {
    /// Features per center.
    pub dim: usize,
    /// The centers.
    pub centers: Vec<f64>,
    /// The total squared move under which an epoch has converged.
    pub shift_limit: f64,
}

impl KMeansModel {
    /// Clusters.
    pub fn k(&self) -> usize {
        self.centers.len() / self.dim.max(1)
    }

    /// Center `c`.
    pub fn center(&self, c: usize) -> &[f64] {
        &self.centers[c * self.dim..(c + 1) * self.dim]
    }

    /// Each row's nearest center and its squared distance to it.
    pub fn assign(&self, rows: &Features) -> Vec<(usize, f64)> {
        let mut out = Vec::with_capacity(rows.rows());
        let mut scratch = Vec::new();
        for block in rows.values().chunks(BLOCK_ROWS * self.dim) {
            nearest(block, self, &mut scratch, &mut out);
        }
        out
    }
}

/// One partition's sums for an epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeansPartial {
    /// Per center, the sum of its rows.
    pub sums: Vec<f64>,
    /// Per center, its rows.
    pub counts: Vec<u64>,
    /// Squared distances of the rows to their centers, summed.
    pub inertia: f64,
}

impl KMeans {
    /// Checked parameters.
    pub fn new(k: usize, tolerance: f64, seed: u64) -> Result<Self, MlError> {
        if k == 0 {
            return Err(MlError::BadParams("k must be at least 1".into()));
        }
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(MlError::BadParams(format!(
                "tolerance must be a number of at least 0, got {tolerance}"
            )));
        }
        Ok(Self { k, tolerance, seed })
    }

    /// Initial centers by greedy k-means++ on `sample`.
    pub fn init(&self, sample: &Features) -> Result<KMeansModel, MlError> {
        let (n, dim) = (sample.rows(), sample.dim());
        if self.k > n {
            return Err(MlError::BadParams(format!(
                "k = {} is more than the {n} rows to cluster",
                self.k
            )));
        }
        let mut random = Seeded::new(self.seed);
        let trials = 2 + (self.k as f64).ln() as usize;
        let mut centers = sample.row(random.below(n)).to_vec();
        let mut closest: Vec<f64> = (0..n)
            .map(|i| squared(sample.row(i), &centers[..dim]))
            .collect();
        let mut potential: f64 = closest.iter().sum();
        for _ in 1..self.k {
            let mut best: Option<(f64, usize, Vec<f64>)> = None;
            for _ in 0..trials {
                let candidate = draw(&closest, potential, &mut random);
                let row = sample.row(candidate);
                let updated: Vec<f64> = (0..n)
                    .map(|i| closest[i].min(squared(sample.row(i), row)))
                    .collect();
                let total: f64 = updated.iter().sum();
                if best.as_ref().is_none_or(|(b, _, _)| total < *b) {
                    best = Some((total, candidate, updated));
                }
            }
            let Some((total, candidate, updated)) = best else {
                break;
            };
            centers.extend_from_slice(sample.row(candidate));
            closest = updated;
            potential = total;
        }
        Ok(KMeansModel {
            dim,
            centers,
            shift_limit: self.tolerance * mean_variance(sample),
        })
    }
}

/// A row drawn with probability proportional to `weights` (uniformly
/// when every weight is 0: all rows sit on centers already).
fn draw(weights: &[f64], total: f64, random: &mut Seeded) -> usize {
    if total <= 0.0 {
        return random.below(weights.len());
    }
    let mut target = random.next_f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len() - 1
}

/// The mean over features of their variance in `rows`.
fn mean_variance(rows: &Features) -> f64 {
    let (n, dim) = (rows.rows() as f64, rows.dim());
    let mut total = 0.0;
    for f in 0..dim {
        let mean = (0..rows.rows()).map(|i| rows.row(i)[f]).sum::<f64>() / n;
        total += (0..rows.rows())
            .map(|i| (rows.row(i)[f] - mean).powi(2))
            .sum::<f64>()
            / n;
    }
    total / dim as f64
}

/// `|a − b|²`.
pub fn squared(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `dots = block · centersᵀ` (`rows × k`), by dgemm.
fn dot_products(block: &[f64], rows: usize, model: &KMeansModel, dots: &mut Vec<f64>) {
    let (dim, k) = (model.dim, model.k());
    dots.clear();
    dots.resize(rows * k, 0.0);
    assert!(block.len() >= rows * dim && model.centers.len() >= k * dim);
    // SAFETY: `block` holds `rows × dim` values row-major (strides dim, 1),
    // the centers `k × dim` row-major, read as their transpose `dim × k`
    // (strides 1, dim), and `dots` `rows × k` (strides k, 1): every index
    // dgemm touches is inside its slice, as the assertion above checks,
    // and `dots` does not alias the inputs.
    unsafe {
        matrixmultiply::dgemm(
            rows,
            dim,
            k,
            1.0,
            block.as_ptr(),
            dim as isize,
            1,
            model.centers.as_ptr(),
            1,
            dim as isize,
            0.0,
            dots.as_mut_ptr(),
            k as isize,
            1,
        );
    }
}

/// Appends the nearest center of each row of `block` and its squared
/// distance to `out`.
fn nearest(block: &[f64], model: &KMeansModel, dots: &mut Vec<f64>, out: &mut Vec<(usize, f64)>) {
    let (dim, k) = (model.dim, model.k());
    let rows = block.len() / dim;
    dot_products(block, rows, model, dots);
    let norms: Vec<f64> = (0..k).map(|c| norm(model.center(c))).collect();
    for r in 0..rows {
        let x = &block[r * dim..(r + 1) * dim];
        let own = norm(x);
        let mut best = (0, f64::INFINITY);
        for (c, dot) in dots[r * k..(r + 1) * k].iter().enumerate() {
            let d = own - 2.0 * dot + norms[c];
            if d < best.1 {
                best = (c, d);
            }
        }
        // Rounding can take a tiny distance below zero.
        out.push((best.0, best.1.max(0.0)));
    }
}

/// `|x|²`.
fn norm(x: &[f64]) -> f64 {
    crate::dot::dot(x, x)
}

impl EpochStep for KMeans {
    type Model = KMeansModel;
    type Partial = KMeansPartial;

    fn empty(&self, model: &KMeansModel) -> KMeansPartial {
        KMeansPartial {
            sums: vec![0.0; model.centers.len()],
            counts: vec![0; model.k()],
            inertia: 0.0,
        }
    }

    fn local(
        &self,
        model: &KMeansModel,
        rows: &Features,
        partial: &mut KMeansPartial,
    ) -> Result<(), MlError> {
        if rows.dim() != model.dim {
            return Err(MlError::Shape(format!(
                "rows of {} features for centers of {}",
                rows.dim(),
                model.dim
            )));
        }
        let dim = model.dim;
        let mut dots = Vec::new();
        let mut nearest_of = Vec::with_capacity(BLOCK_ROWS);
        for block in rows.values().chunks(BLOCK_ROWS * dim) {
            nearest_of.clear();
            nearest(block, model, &mut dots, &mut nearest_of);
            for (r, &(c, distance)) in nearest_of.iter().enumerate() {
                let sum = &mut partial.sums[c * dim..(c + 1) * dim];
                for (s, x) in sum.iter_mut().zip(&block[r * dim..(r + 1) * dim]) {
                    *s += x;
                }
                partial.counts[c] += 1;
                partial.inertia += distance;
            }
        }
        Ok(())
    }

    fn merge(&self, into: &mut KMeansPartial, other: KMeansPartial) {
        add_into(&mut into.sums, &other.sums);
        add_into(&mut into.counts, &other.counts);
        into.inertia += other.inertia;
    }

    fn update(
        &self,
        model: &KMeansModel,
        merged: KMeansPartial,
    ) -> Result<Epoch<KMeansModel>, MlError> {
        let dim = model.dim;
        let mut next = model.clone();
        for (c, &count) in merged.counts.iter().enumerate() {
            if count > 0 {
                let sum = &merged.sums[c * dim..(c + 1) * dim];
                for (out, s) in next.centers[c * dim..(c + 1) * dim].iter_mut().zip(sum) {
                    *out = s / count as f64;
                }
            }
        }
        let shift = squared(&next.centers, &model.centers);
        Ok(Epoch {
            model: next,
            loss: merged.inertia,
            converged: shift <= model.shift_limit,
        })
    }
}
