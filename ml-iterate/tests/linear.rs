//! Linear regression as users would check it: on seeded data from a
//! known line it finds the coefficients and an RMSE at the noise's level;
//! it equals the normal equations solved plainly (with and without a
//! penalty) and any split of the rows gives the same model; and missing
//! labels, collinear features without a penalty and bad labels are
//! refused with the reason.

// The reference is written with plain index loops on purpose: it should
// read like the textbook, not like the code it checks.
#![allow(clippy::needless_range_loop)]

use faro_ml::seeded::Seeded;
use faro_ml::{fit_local, EpochStep, Features, LinearModel, LinearRegression};
use faro_runtime::data::{BatchBuilder, DataType, Field, Schema, Value};

const TRUTH: [f64; 3] = [2.0, -1.0, 0.5];
const INTERCEPT: f64 = 3.0;

/// `rows` rows of 3 uniform features and `y = 3 + 2a − b + c/2 + noise`
/// (noise uniform in ±`noise`·√3, standard deviation `noise`).
fn line(rows: usize, noise: f64, seed: u64) -> Features {
    let mut random = Seeded::new(seed);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..rows {
        let x: Vec<f64> = (0..3).map(|_| random.next_f64() * 10.0 - 5.0).collect();
        let e = (random.next_f64() * 2.0 - 1.0) * noise * 3f64.sqrt();
        labels.push(INTERCEPT + x.iter().zip(TRUTH).map(|(v, w)| v * w).sum::<f64>() + e);
        values.extend(x);
    }
    Features::new(3, values)
        .unwrap()
        .with_labels(labels)
        .unwrap()
}

fn fit(l2: f64, rows: &Features, parts: usize) -> (LinearModel, f64) {
    let step = LinearRegression::new(l2).unwrap();
    let epochs = fit_local(
        &step,
        LinearModel::zero(rows.dim()),
        &rows.partitions(parts),
        5,
    )
    .unwrap();
    assert_eq!(epochs.len(), 1, "a closed form converges in one epoch");
    (epochs[0].model.clone(), epochs[0].loss)
}

/// The normal equations built with plain loops and solved by Gaussian
/// elimination with partial pivoting.
fn plain(rows: &Features, l2: f64) -> Vec<f64> {
    let n = rows.dim() + 1;
    let labels = rows.labels().unwrap();
    let mut a = vec![vec![0.0; n + 1]; n];
    for r in 0..rows.rows() {
        let x: Vec<f64> = std::iter::once(1.0)
            .chain(rows.row(r).iter().copied())
            .collect();
        for i in 0..n {
            for j in 0..n {
                a[i][j] += x[i] * x[j];
            }
            a[i][n] += x[i] * labels[r];
        }
    }
    for (i, row) in a.iter_mut().enumerate().skip(1) {
        row[i] += l2;
    }
    for c in 0..n {
        let pivot = (c..n)
            .max_by(|&p, &q| a[p][c].abs().total_cmp(&a[q][c].abs()))
            .unwrap();
        a.swap(c, pivot);
        for r in 0..n {
            if r != c {
                let f = a[r][c] / a[c][c];
                for k in c..=n {
                    a[r][k] -= f * a[c][k];
                }
            }
        }
    }
    (0..n).map(|i| a[i][n] / a[i][i]).collect()
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn it_finds_the_line_and_the_noise() {
    let rows = line(20_000, 0.1, 5);
    let (model, rmse) = fit(0.0, &rows, 3);
    assert!((model.intercept - INTERCEPT).abs() < 0.01, "{model:?}");
    for (w, t) in model.weights.iter().zip(TRUTH) {
        assert!((w - t).abs() < 0.01, "{model:?}");
    }
    assert!((0.09..0.11).contains(&rmse), "{rmse}");
    // The RMSE from the sums is the RMSE of the predictions.
    let labels = rows.labels().unwrap();
    let direct = ((0..rows.rows())
        .map(|r| (model.predict(rows.row(r)) - labels[r]).powi(2))
        .sum::<f64>()
        / rows.rows() as f64)
        .sqrt();
    assert!(close(rmse, direct, 1e-6), "{rmse} vs {direct}");
}

#[test]
fn it_equals_the_plain_normal_equations_for_any_split() {
    let rows = line(3_000, 2.0, 9);
    for l2 in [0.0, 50.0] {
        let expected = plain(&rows, l2);
        for parts in [1, 4, 7] {
            let (model, _) = fit(l2, &rows, parts);
            assert!(close(model.intercept, expected[0], 1e-9), "{l2} {parts}");
            for (w, e) in model.weights.iter().zip(&expected[1..]) {
                assert!(close(*w, *e, 1e-9), "{l2} {parts}: {w} vs {e}");
            }
        }
    }
    // The penalty shrinks the weights, not the intercept's role.
    let (free, _) = fit(0.0, &rows, 1);
    let (shrunk, _) = fit(1e6, &rows, 1);
    let size = |m: &LinearModel| m.weights.iter().map(|w| w * w).sum::<f64>();
    assert!(size(&shrunk) < size(&free) / 10.0);
}

#[test]
fn missing_labels_collinear_features_and_bad_labels_are_refused() {
    let step = LinearRegression::new(0.0).unwrap();
    let unlabelled = Features::new(1, vec![1.0, 2.0]).unwrap();
    let mut partial = step.empty(&LinearModel::zero(1));
    let error = step
        .local(&LinearModel::zero(1), &unlabelled, &mut partial)
        .unwrap_err();
    assert_eq!(error.to_string(), "linear regression needs a label column");

    // The second feature is twice the first.
    let values: Vec<f64> = (0..50)
        .flat_map(|i| [f64::from(i), 2.0 * f64::from(i)])
        .collect();
    let labels: Vec<f64> = (0..50).map(f64::from).collect();
    let collinear = Features::new(2, values)
        .unwrap()
        .with_labels(labels)
        .unwrap();
    let run = |l2| {
        let step = LinearRegression::new(l2).unwrap();
        fit_local(
            &step,
            LinearModel::zero(2),
            std::slice::from_ref(&collinear),
            1,
        )
    };
    let error = run(0.0).unwrap_err().to_string();
    assert!(error.contains("singular"), "{error}");
    assert!(run(1.0).is_ok(), "a penalty makes it solvable");
    assert!(LinearRegression::new(-1.0).is_err());

    let schema = Schema::new(vec![
        Field::new("x", DataType::Float64),
        Field::new("y", DataType::Float64),
        Field::new("name", DataType::Utf8),
    ]);
    let mut builder = BatchBuilder::new(schema, 2);
    builder
        .push_row(&[
            Value::Float64(1.0),
            Value::Float64(2.0),
            Value::Utf8("a".into()),
        ])
        .unwrap();
    builder
        .push_row(&[
            Value::Float64(2.0),
            Value::Float64(f64::INFINITY),
            Value::Utf8("b".into()),
        ])
        .unwrap();
    let batch = builder.finish().unwrap();
    let labelled = |label: &str| {
        Features::from_batch_labelled(&batch, &["x".to_string()], label)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        labelled("price"),
        "label column \"price\": not in the input"
    );
    assert_eq!(
        labelled("name"),
        "label column \"name\": is utf8; labels must be numbers"
    );
    assert_eq!(
        labelled("y"),
        "label column \"y\": holds inf in row 1; labels must be finite"
    );
}
