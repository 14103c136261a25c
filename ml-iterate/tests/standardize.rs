//! Standardization as users would check it: the moments of any split of
//! the rows are the plainly computed mean and standard deviation (a
//! constant feature keeps scale 1); a logistic regression on features of
//! wildly different scales converges in far fewer epochs once
//! standardized, and a logistic or linear model turned back into the
//! original units predicts on raw rows what it predicted on scaled ones.

use faro_ml::seeded::Seeded;
use faro_ml::{fit_local, EpochStep, Features, LinearModel, LinearRegression};
use faro_ml::{LogisticModel, LogisticRegression, Moments, Scaling};

/// Rows of (a, 1000·b, c + 5000, 7) with a, b, c uniform in ±1, labelled
/// by a noisy line through a, b and c.
fn skewed(rows: usize, seed: u64) -> Features {
    let mut random = Seeded::new(seed);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..rows {
        let [a, b, c] = [0, 1, 2].map(|_| random.next_f64() * 2.0 - 1.0);
        let z = 0.3 + 2.0 * a - 1.5 * b + c;
        let p = 1.0 / (1.0 + (-z).exp());
        labels.push(f64::from(u8::from(random.next_f64() < p)));
        values.extend([a, 1000.0 * b, c + 5000.0, 7.0]);
    }
    Features::new(4, values)
        .unwrap()
        .with_labels(labels)
        .unwrap()
}

fn moments(rows: &Features, parts: usize) -> Scaling {
    let epochs = fit_local(
        &Moments,
        Scaling::identity(rows.dim()),
        &rows.partitions(parts),
        1,
    );
    epochs.unwrap().remove(0).model
}

#[test]
fn moments_of_any_split_are_the_plain_mean_and_deviation() {
    let rows = skewed(2_000, 1);
    let n = rows.rows() as f64;
    for f in 0..4 {
        let column: Vec<f64> = (0..rows.rows()).map(|r| rows.row(r)[f]).collect();
        let mean = column.iter().sum::<f64>() / n;
        let sd = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        for parts in [1, 3, 8] {
            let scaling = moments(&rows, parts);
            assert!((scaling.means[f] - mean).abs() <= 1e-12 * mean.abs().max(1.0));
            let expected = if sd > 0.0 { sd } else { 1.0 };
            assert!(
                (scaling.scales[f] - expected).abs() <= 1e-9 * expected,
                "{f} {parts}"
            );
        }
    }
    assert_eq!(moments(&rows, 2).scales[3], 1.0, "a constant feature");
}

#[test]
fn standardized_logistic_regression_converges_sooner_and_turns_back_exactly() {
    let rows = skewed(5_000, 2);
    let step = LogisticRegression::new(2, 0.0, 1e-6).unwrap();
    let train = |rows: &Features| {
        let epochs = fit_local(&step, LogisticModel::zero(4, 2), &rows.partitions(2), 500).unwrap();
        let last = epochs.last().unwrap();
        (last.model.clone(), last.converged, epochs.len())
    };
    let scaling = moments(&rows, 2);
    let scaled_rows = scaling.apply(&rows).unwrap();
    let (scaled, converged, scaled_epochs) = train(&scaled_rows);
    assert!(converged, "standardized: {scaled_epochs} epochs");
    let (_, _, raw_epochs) = train(&rows);
    assert!(
        scaled_epochs * 2 < raw_epochs,
        "{scaled_epochs} epochs standardized, {raw_epochs} raw"
    );
    // Turned back, it predicts on raw rows what it predicted on scaled ones.
    let back = scaled.unscaled(&scaling);
    for r in 0..rows.rows() {
        let (p, q) = (
            scaled.probabilities(scaled_rows.row(r)),
            back.probabilities(rows.row(r)),
        );
        assert!((p[1] - q[1]).abs() < 1e-9, "row {r}: {p:?} vs {q:?}");
    }
    assert!(back.accuracy > 0.7, "{}", back.accuracy);
}

#[test]
fn a_linear_model_turned_back_predicts_the_same_on_raw_rows() {
    let rows = skewed(1_000, 3);
    let scaling = moments(&rows, 1);
    let scaled_rows = scaling.apply(&rows).unwrap();
    let step = LinearRegression::new(0.5).unwrap();
    let mut partial = step.empty(&LinearModel::zero(4));
    step.local(&LinearModel::zero(4), &scaled_rows, &mut partial)
        .unwrap();
    let model = step.update(&LinearModel::zero(4), partial).unwrap().model;
    let back = model.unscaled(&scaling);
    for r in 0..rows.rows() {
        let (a, b) = (model.predict(scaled_rows.row(r)), back.predict(rows.row(r)));
        assert!(
            (a - b).abs() < 1e-6 * (1.0 + a.abs()),
            "row {r}: {a} vs {b}"
        );
    }
}
