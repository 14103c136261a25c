//! `train`: an iterative training job's vertex. The scheduler runs its
//! region once per epoch (see `docs/architecture.md`, *ML*): each subtask
//! folds its partition of the cached input — the blocking edge into it,
//! committed once in the shuffle service — into a partial under the
//! current model and hands it over as one collected row; between epochs
//! the catalogue's `after_epoch` hook merges the partials, updates the
//! model ([`crate::EpochStep`]) and feeds it back through the vertex's
//! params (`state`), which the scheduler records with the job so a
//! restarted one goes on from the last epoch. When the model has
//! converged, or `max_epochs` have run, one last run has subtask 0 write
//! the model file (under the worker's write roots) for `predict`. The
//! job's result is one row per epoch: its number, loss and whether it
//! converged.
//!
//! - this file: the params, and what crosses between the two sides;
//! - [`fold`]: the operator, one subtask's side of an epoch;
//! - [`update`]: the scheduler's side, merging and updating (pure);
//! - [`definition`]: the catalogue entry that joins them.
//!
//! KMeans spends epoch 0 on its initial centers: each subtask keeps the
//! rows whose seeded hash is smallest (bottom-k sampling), and k-means++
//! runs on the smallest of their union — the same sample whichever
//! subtask a row reached and in whatever order, so one seed gives one
//! model.
//!
//! Known limit: the final save reads the cached input once more.

use faro_runtime::data::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

mod definition;
mod fold;
mod update;

pub use definition::TrainDefinition;
pub use fold::Train;

/// Rows of the input KMeans' init samples (at least four per cluster).
pub const INIT_SAMPLE_ROWS: usize = 20_000;

/// The column a subtask's partial crosses to the scheduler in.
pub(crate) const PARTIAL_COLUMN: &str = "train_partial";

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
pub(crate) enum Contribution {
    /// KMeans' epoch 0: a sample of the rows, each with its hash.
    Sample {
        dim: usize,
        values: Vec<f64>,
        hashes: Vec<u64>,
    },
    /// A fold's partial, as JSON of the algorithm's partial type.
    Partial(serde_json::Value),
}

/// The schema of the one row a subtask hands over.
pub(crate) fn partial_schema() -> Schema {
    Schema::new(vec![Field::new(PARTIAL_COLUMN, DataType::Utf8)])
}

/// The schema of the job's result rows, one per epoch: its number, the
/// algorithm's loss (inertia, RMSE, log-loss; none for KMeans' init
/// epoch), a logistic model's training accuracy, and whether it has
/// converged.
pub(crate) fn summary_schema(algorithm: &Algorithm) -> Schema {
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
