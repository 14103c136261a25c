//! faro-ml: iterative training algorithms, shaped for the engine to run.
//!
//! Every algorithm is an [`EpochStep`]: a local fold of each partition
//! into a model-sized partial, a merge of partials, and an update that
//! makes the next model — so an epoch runs as one pass over partitioned
//! data with one small exchange, the shape of Spark's `treeAggregate` and
//! of a Flink ML iteration body. The algorithms are pure computation on
//! [`Features`] (no I/O); model files and `predict` are the edges that
//! touch files. The iteration construct that feeds the model back each
//! epoch, caches the training data in the shuffle service and reports
//! progress belongs to the plan, runtime and scheduler (see
//! `docs/architecture.md`).
//!
//! - [`features`]: numeric or vector columns as a checked dense matrix.
//! - [`epoch`]: the [`EpochStep`] contract and [`fit_local`], the loop
//!   over in-memory partitions the engine's distributed loop must match.
//! - [`kmeans`]: k-means++ initialization and Lloyd epochs.
//! - [`linear`]: least squares with an L2 penalty, in one epoch.
//! - [`logistic`]: binary and multinomial logistic regression by L-BFGS,
//!   an epoch per evaluation of the loss and its gradient.
//! - [`model_file`]: trained models as JSON files (`faro-model/1`).
//! - [`predict`]: the operator that applies a model file in any job,
//!   added to the runtime's catalogue by [`register`].
//! - [`seeded`]: the seeded random stream initializations draw from.
//! - [`standardize`]: feature moments in one epoch, scaling, and models
//!   trained on scaled features turned back into the original units.
//! - [`train`]: the operator of a training job, whose region the
//!   scheduler runs once per epoch over the cached input.

mod dot;
pub mod epoch;
mod error;
pub mod features;
pub mod kmeans;
pub mod linear;
pub mod logistic;
pub mod model_file;
pub mod predict;
pub mod seeded;
pub mod standardize;
pub mod train;

pub use epoch::{fit_local, Epoch, EpochStep};
pub use error::MlError;
pub use features::Features;
pub use kmeans::{KMeans, KMeansModel, KMeansPartial};
pub use linear::{LinearModel, LinearPartial, LinearRegression};
pub use logistic::{LogisticModel, LogisticPartial, LogisticRegression};
pub use standardize::{Moments, Scaling};

/// Adds faro-ml's operators (`predict`, `train`) to the runtime's catalogue; call
/// once at start, before specs are validated (calling again is harmless).
pub fn register() {
    faro_runtime::catalogue::register(&predict::PredictDefinition);
    faro_runtime::catalogue::register(&train::TrainDefinition);
}
