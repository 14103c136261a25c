//! Logistic regression as users would check it: on seeded data drawn from
//! a known binary model it converges near the truth, at a point where the
//! objective's gradient — computed plainly here — vanishes, with a loss no
//! plain gradient descent beats and the accuracy it reports; three classes
//! are told apart; any split of the rows trains the same model; and bad
//! labels, missing labels and features too large to train on are refused
//! with the reason.

use faro_ml::seeded::Seeded;
use faro_ml::{fit_local, Features, LogisticModel, LogisticRegression};

const TRUTH: [f64; 4] = [0.5, 1.5, -2.0, 0.7];

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `rows` rows of 3 uniform features in ±3, labelled 1 with probability
/// `σ(0.5 + 1.5a − 2b + 0.7c)`.
fn binary(rows: usize, seed: u64) -> Features {
    let mut random = Seeded::new(seed);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..rows {
        let x: Vec<f64> = (0..3).map(|_| random.next_f64() * 6.0 - 3.0).collect();
        let z = TRUTH[0] + x.iter().zip(&TRUTH[1..]).map(|(v, w)| v * w).sum::<f64>();
        labels.push(f64::from(u8::from(random.next_f64() < sigmoid(z))));
        values.extend(x);
    }
    Features::new(3, values)
        .unwrap()
        .with_labels(labels)
        .unwrap()
}

/// The penalized mean log-loss and its gradient at `point`, written out
/// plainly (two classes: one output; more: one per class).
fn objective(rows: &Features, classes: usize, l2: f64, point: &[f64]) -> (f64, Vec<f64>) {
    let dim = rows.dim();
    let labels = rows.labels().unwrap();
    let n = rows.rows() as f64;
    let (mut loss, mut gradient) = (0.0, vec![0.0; point.len()]);
    for (r, &label) in labels.iter().enumerate() {
        let x: Vec<f64> = std::iter::once(1.0)
            .chain(rows.row(r).iter().copied())
            .collect();
        let scores: Vec<f64> = point
            .chunks(dim + 1)
            .map(|w| w.iter().zip(&x).map(|(a, b)| a * b).sum())
            .collect();
        let residuals: Vec<f64> = if classes == 2 {
            let p = sigmoid(scores[0]);
            loss -= label * p.ln() + (1.0 - label) * (1.0 - p).ln();
            vec![p - label]
        } else {
            let total: f64 = scores.iter().map(|s| s.exp()).sum();
            loss -= (scores[label as usize].exp() / total).ln();
            (0..classes)
                .map(|k| scores[k].exp() / total - f64::from(u8::from(k == label as usize)))
                .collect()
        };
        for (k, residual) in residuals.iter().enumerate() {
            for (j, v) in x.iter().enumerate() {
                gradient[k * (dim + 1) + j] += residual * v / n;
            }
        }
    }
    loss /= n;
    for (i, w) in point.iter().enumerate() {
        if i % (dim + 1) != 0 {
            loss += 0.5 * l2 * w * w;
            gradient[i] += l2 * w;
        }
    }
    (loss, gradient)
}

fn train(step: &LogisticRegression, rows: &Features, parts: usize) -> (LogisticModel, usize) {
    let start = LogisticModel::zero(rows.dim(), step.classes);
    let epochs = fit_local(step, start, &rows.partitions(parts), 200).unwrap();
    let last = epochs.last().unwrap();
    assert!(last.converged, "{} epochs without converging", epochs.len());
    (last.model.clone(), epochs.len())
}

#[test]
fn a_binary_model_converges_near_the_truth_at_the_optimum() {
    let rows = binary(20_000, 3);
    let step = LogisticRegression::new(2, 1e-4, 1e-7).unwrap();
    let (model, epochs) = train(&step, &rows, 3);
    assert!(epochs < 100, "{epochs} epochs");
    let coefficients = model.coefficients();
    for (c, t) in coefficients.iter().zip(TRUTH) {
        assert!((c - t).abs() < 0.15, "{coefficients:?}");
    }
    let (loss, gradient) = objective(&rows, 2, 1e-4, coefficients);
    let largest = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(largest < 1e-6, "gradient {gradient:?}");
    // A plain gradient descent from zero gets no lower.
    let mut point = vec![0.0; 4];
    for _ in 0..1_000 {
        let (_, g) = objective(&rows, 2, 1e-4, &point);
        point.iter_mut().zip(&g).for_each(|(p, g)| *p -= 1.0 * g);
    }
    let (descended, _) = objective(&rows, 2, 1e-4, &point);
    assert!(loss <= descended + 1e-9, "{loss} vs {descended}");
    // The reported accuracy is the accuracy of the coefficients.
    let labels = rows.labels().unwrap();
    let right = (0..rows.rows())
        .filter(|&r| {
            let p = model.probabilities(rows.row(r));
            f64::from(u8::from(p[1] > p[0])) == labels[r]
        })
        .count();
    assert!((model.accuracy - right as f64 / rows.rows() as f64).abs() < 1e-12);
    assert!(model.accuracy > 0.8, "{}", model.accuracy);
}

#[test]
fn training_stops_once_steps_no_longer_lower_the_loss() {
    let rows = binary(20_000, 5);
    let accuracy = |model: &LogisticModel| {
        let labels = rows.labels().unwrap();
        (0..rows.rows())
            .filter(|&r| {
                let p = model.probabilities(rows.row(r));
                (p[1] > 0.5) == (labels[r] == 1.0)
            })
            .count()
    };
    let loose = LogisticRegression::new(2, 1e-4, 1e-4).unwrap();
    let tight = LogisticRegression::new(2, 1e-4, 1e-10).unwrap();
    let (stopped, early) = train(&loose, &rows, 2);
    let (optimal, late) = train(&tight, &rows, 2);
    assert!(early < late, "{early} epochs against {late}");
    let (a, b) = (accuracy(&stopped), accuracy(&optimal));
    assert!(a.abs_diff(b) <= 2, "{a} against {b} rows right");
}

#[test]
fn three_classes_are_told_apart_and_any_split_trains_the_same_model() {
    let mut random = Seeded::new(8);
    let centers = [[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]];
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for i in 0..3_000 {
        let c = i % 3;
        values.extend(centers[c].iter().map(|m| m + random.next_f64() * 4.0 - 2.0));
        labels.push(c as f64);
    }
    let rows = Features::new(2, values)
        .unwrap()
        .with_labels(labels)
        .unwrap();
    let step = LogisticRegression::new(3, 1e-3, 1e-8).unwrap();
    let (whole, _) = train(&step, &rows, 1);
    let (parted, _) = train(&step, &rows, 4);
    assert!(whole.accuracy > 0.99, "{}", whole.accuracy);
    for (a, b) in whole.coefficients().iter().zip(parted.coefficients()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let (_, gradient) = objective(&rows, 3, 1e-3, whole.coefficients());
    assert!(gradient.iter().all(|g| g.abs() < 1e-6), "{gradient:?}");
    let p = whole.probabilities(&[0.0, 5.0]);
    assert!(
        (p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p[2] > 0.9,
        "{p:?}"
    );
}

#[test]
fn bad_labels_missing_labels_and_huge_features_are_refused() {
    let step = LogisticRegression::new(2, 1e-4, 1e-6).unwrap();
    let run = |rows: Features| {
        fit_local(&step, LogisticModel::zero(rows.dim(), 2), &[rows], 50)
            .unwrap_err()
            .to_string()
    };
    let three = Features::new(1, vec![0.0, 1.0, 2.0])
        .unwrap()
        .with_labels(vec![0.0, 1.0, 2.0])
        .unwrap();
    assert_eq!(
        run(three),
        "label column \"label\": 2 in row 2 is not a class (0 to 1)"
    );
    let half = Features::new(1, vec![0.0])
        .unwrap()
        .with_labels(vec![0.5])
        .unwrap();
    assert!(run(half).contains("0.5 in row 0 is not a class"));
    assert_eq!(
        run(Features::new(1, vec![1.0]).unwrap()),
        "logistic regression needs a label column"
    );
    let huge = Features::new(1, vec![1e308; 10])
        .unwrap()
        .with_labels(vec![1.0; 10])
        .unwrap();
    assert!(run(huge).contains("the loss diverged"));
    assert!(LogisticRegression::new(1, 0.0, 1e-4).is_err());
    assert!(LogisticRegression::new(2, -1.0, 1e-4).is_err());
}
