//! faro-ml: iterative training algorithms, shaped for the engine to run.
//!
//! Every algorithm is an [`EpochStep`]: a local fold of each partition
//! into a model-sized partial, a merge of partials, and an update that
//! makes the next model — so an epoch runs as one pass over partitioned
//! data with one small exchange, the shape of Spark's `treeAggregate` and
//! of a Flink ML iteration body. What lives here is pure computation on
//! [`Features`] (no I/O); the iteration construct that feeds the model
//! back each epoch, caches the training data in the shuffle service and
//! reports progress lives in the plan, runtime and scheduler (see
//! `docs/architecture.md`).
//!
//! - [`features`]: numeric or vector columns as a checked dense matrix.
//! - [`epoch`]: the [`EpochStep`] contract and [`fit_local`], the loop
//!   over in-memory partitions the engine's distributed loop must match.
//! - [`kmeans`]: k-means++ initialization and Lloyd epochs.
//! - [`linear`]: least squares with an L2 penalty, in one epoch.
//! - [`logistic`]: binary and multinomial logistic regression by L-BFGS,
//!   an epoch per evaluation of the loss and its gradient.
//! - [`seeded`]: the seeded random stream initializations draw from.
//!
//! Not yet here: model files and the `predict` operator.

pub mod epoch;
mod error;
pub mod features;
pub mod kmeans;
pub mod linear;
pub mod logistic;
pub mod seeded;

pub use epoch::{fit_local, Epoch, EpochStep};
pub use error::MlError;
pub use features::Features;
pub use kmeans::{KMeans, KMeansModel, KMeansPartial};
pub use linear::{LinearModel, LinearPartial, LinearRegression};
pub use logistic::{LogisticModel, LogisticPartial, LogisticRegression};
