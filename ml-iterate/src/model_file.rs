//! Model files: a trained model as one JSON object, so a training job's
//! result can be kept, read by people and other tools, and applied by
//! `predict` in any later job. The format (version `faro-model/1`):
//!
//! ```json
//! {"format": "faro-model/1", "kind": "kmeans", "features": ["x", "y"],
//!  "centers": [[0.5, 1.0], [4.0, -2.0]]}
//! {"format": "faro-model/1", "kind": "linear", "features": ["x", "y"],
//!  "label": "price", "intercept": 3.0, "weights": [2.0, -1.0]}
//! {"format": "faro-model/1", "kind": "logistic", "features": ["x", "y"],
//!  "label": "class", "classes": 2, "coefficients": [[0.5, 1.5, -2.0]]}
//! ```
//!
//! `features` name the input columns in the order the numbers use (one
//! vector column may stand for all). A logistic model has one row of
//! coefficients (intercept first) for two classes, else one per class.
//! Loading checks every shape and that every number is finite, so a
//! hand-edited or truncated file is an error naming the file, not a wrong
//! prediction. Saving writes a temporary file and renames it into place.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Features, KMeansModel, LinearModel, LogisticModel, MlError};

/// The format this version writes and reads.
pub const FORMAT: &str = "faro-model/1";

/// What a model file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`FORMAT`].
    pub format: String,
    /// The feature columns, in the order of the model's numbers.
    pub features: Vec<String>,
    /// The label column it was trained on (supervised models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The model.
    #[serde(flatten)]
    pub model: Trained,
}

/// A trained model, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trained {
    /// KMeans' centers.
    Kmeans {
        /// One row of features per cluster.
        centers: Vec<Vec<f64>>,
    },
    /// A linear regression.
    Linear {
        /// The intercept.
        intercept: f64,
        /// One weight per feature.
        weights: Vec<f64>,
    },
    /// A logistic regression.
    Logistic {
        /// Classes (`0..classes`).
        classes: usize,
        /// Per output, the intercept then one weight per feature.
        coefficients: Vec<Vec<f64>>,
    },
}

impl Trained {
    /// The kind, as files and `predict` name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Kmeans { .. } => "kmeans",
            Self::Linear { .. } => "linear",
            Self::Logistic { .. } => "logistic",
        }
    }
}

impl ModelFile {
    /// A KMeans model over `features`.
    pub fn kmeans(features: Vec<String>, model: &KMeansModel) -> Self {
        let centers = (0..model.k()).map(|c| model.center(c).to_vec()).collect();
        Self::of(features, None, Trained::Kmeans { centers })
    }

    /// A linear model of `label` over `features`.
    pub fn linear(features: Vec<String>, label: &str, model: &LinearModel) -> Self {
        let trained = Trained::Linear {
            intercept: model.intercept,
            weights: model.weights.clone(),
        };
        Self::of(features, Some(label.to_string()), trained)
    }

    /// A logistic model of `label` over `features` (its coefficients).
    pub fn logistic(features: Vec<String>, label: &str, model: &LogisticModel) -> Self {
        let coefficients = model
            .coefficients()
            .chunks(model.dim + 1)
            .map(<[f64]>::to_vec)
            .collect();
        let trained = Trained::Logistic {
            classes: model.classes,
            coefficients,
        };
        Self::of(features, Some(label.to_string()), trained)
    }

    fn of(features: Vec<String>, label: Option<String>, model: Trained) -> Self {
        Self {
            format: FORMAT.to_string(),
            features,
            label,
            model,
        }
    }

    /// Writes the file at `path` (through a temporary file beside it).
    pub fn save(&self, path: &Path) -> Result<(), MlError> {
        let failed = |reason: String| MlError::ModelFile {
            path: path.display().to_string(),
            reason,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| failed(e.to_string()))?;
        let partial = path.with_extension("json.inprogress");
        std::fs::write(&partial, text).map_err(|e| failed(format!("writing: {e}")))?;
        std::fs::rename(&partial, path).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            failed(format!("renaming into place: {e}"))
        })
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, MlError> {
        let failed = |reason: String| MlError::ModelFile {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(format!("reading: {e}")))?;
        let file: Self = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
        file.check().map_err(failed)?;
        Ok(file)
    }

    /// Why the file cannot be trusted, if it cannot.
    fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "format {:?}, this Faro reads {FORMAT:?}",
                self.format
            ));
        }
        let dim = self.features.len();
        if dim == 0 {
            return Err("no features".into());
        }
        let rows: Vec<&Vec<f64>> = match &self.model {
            Trained::Kmeans { centers } => {
                if centers.is_empty() {
                    return Err("no centers".into());
                }
                shaped(centers, dim, "a center")?;
                centers.iter().collect()
            }
            Trained::Linear { intercept, weights } => {
                if weights.len() != dim || !intercept.is_finite() {
                    return Err(format!(
                        "{} weights (and intercept {intercept}) for {dim} features",
                        weights.len()
                    ));
                }
                vec![weights]
            }
            Trained::Logistic {
                classes,
                coefficients,
            } => {
                let outputs = if *classes == 2 { 1 } else { *classes };
                if *classes < 2 || coefficients.len() != outputs {
                    return Err(format!(
                        "{} rows of coefficients for {classes} classes (want {outputs})",
                        coefficients.len()
                    ));
                }
                shaped(coefficients, dim + 1, "a row of coefficients")?;
                coefficients.iter().collect()
            }
        };
        if rows.iter().any(|r| r.iter().any(|v| !v.is_finite())) {
            return Err("a number that is not finite".into());
        }
        Ok(())
    }

    /// The prediction for each row of `rows`: the nearest center, the
    /// fitted value, or the most likely class.
    pub fn predict(&self, rows: &Features) -> Vec<f64> {
        let dot = |w: &[f64], x: &[f64]| w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        (0..rows.rows())
            .map(|r| {
                let x = rows.row(r);
                match &self.model {
                    Trained::Kmeans { centers } => {
                        let distance = |c: &Vec<f64>| crate::kmeans::squared(c, x);
                        let nearest = (0..centers.len()).min_by(|&a, &b| {
                            distance(&centers[a]).total_cmp(&distance(&centers[b]))
                        });
                        nearest.unwrap_or(0) as f64
                    }
                    Trained::Linear { intercept, weights } => intercept + dot(weights, x),
                    Trained::Logistic { coefficients, .. } => {
                        let scores: Vec<f64> = coefficients
                            .iter()
                            .map(|c| c[0] + dot(&c[1..], x))
                            .collect();
                        match scores.as_slice() {
                            [one] => f64::from(u8::from(*one > 0.0)),
                            many => (0..many.len())
                                .max_by(|&a, &b| many[a].total_cmp(&many[b]))
                                .unwrap_or(0) as f64,
                        }
                    }
                }
            })
            .collect()
    }
}

/// Checks that every row of `rows` has `width` numbers.
fn shaped(rows: &[Vec<f64>], width: usize, what: &str) -> Result<(), String> {
    match rows.iter().position(|r| r.len() != width) {
        Some(i) => Err(format!(
            "{what} ({i}) has {} numbers, not {width}",
            rows[i].len()
        )),
        None => Ok(()),
    }
}
