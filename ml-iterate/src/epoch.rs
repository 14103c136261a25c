//! The shape every iterative algorithm here takes, so the engine can run
//! any of them the same way: an epoch is a **local** fold of each
//! subtask's partition into a partial result, a **merge** of the partials
//! (associative and commutative, so they can combine in any order and
//! tree), and an **update** that turns the merged partial into the next
//! model and a loss — Spark's `treeAggregate` per iteration, the body of a
//! Flink ML iteration. The model is what the engine broadcasts to every
//! subtask at the start of an epoch and carries to the next.
//!
//! [`fit_local`] runs the loop over partitions held in memory: the
//! reference the engine's distributed loop must agree with, and what the
//! tests and the algorithms' own checks use.

use crate::{Features, MlError};

/// One epoch's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch<M> {
    /// The model for the next epoch (the result, if this was the last).
    pub model: M,
    /// The loss the epoch measured (inertia, log-loss, …).
    pub loss: f64,
    /// Whether the model has stopped changing by the algorithm's test.
    pub converged: bool,
}

/// An algorithm as epochs of local folds, a merge and an update.
///
/// Contract: `merge` is associative and commutative (up to floating-point
/// rounding), and `local` depends only on the model and its rows, so the
/// partials of any split of the rows merge to the same result. Known
/// limit: partials are held whole in memory (they are model-sized: sums
/// per center, a gradient), not spilled.
pub trait EpochStep {
    /// What the epochs improve and the engine broadcasts.
    type Model: Clone;
    /// One partition's contribution to an epoch.
    type Partial;

    /// The partial of no rows.
    fn empty(&self, model: &Self::Model) -> Self::Partial;

    /// Folds `rows` into `partial`, under `model`.
    fn local(
        &self,
        model: &Self::Model,
        rows: &Features,
        partial: &mut Self::Partial,
    ) -> Result<(), MlError>;

    /// Folds `other` into `into`.
    fn merge(&self, into: &mut Self::Partial, other: Self::Partial);

    /// The next model from the merged partial of every row.
    fn update(
        &self,
        model: &Self::Model,
        merged: Self::Partial,
    ) -> Result<Epoch<Self::Model>, MlError>;
}

/// Runs `step` from `model` over `partitions` for at most `max_epochs`,
/// stopping early once an epoch converges; returns every epoch's outcome
/// (the last holds the trained model).
pub fn fit_local<S: EpochStep>(
    step: &S,
    mut model: S::Model,
    partitions: &[Features],
    max_epochs: usize,
) -> Result<Vec<Epoch<S::Model>>, MlError> {
    let mut epochs = Vec::new();
    for _ in 0..max_epochs {
        let mut merged = step.empty(&model);
        for rows in partitions {
            let mut partial = step.empty(&model);
            step.local(&model, rows, &mut partial)?;
            step.merge(&mut merged, partial);
        }
        let epoch = step.update(&model, merged)?;
        model = epoch.model.clone();
        let converged = epoch.converged;
        epochs.push(epoch);
        if converged {
            break;
        }
    }
    Ok(epochs)
}

/// Adds `other` into `into`, element by element: most partials merge
/// their sums this way.
pub(crate) fn add_into<T: std::ops::AddAssign + Copy>(into: &mut [T], other: &[T]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a += *b;
    }
}
