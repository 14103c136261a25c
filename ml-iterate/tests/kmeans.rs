//! KMeans as users would check it: on seeded blobs its epochs match a
//! naive Lloyd's loop step by step and find the blobs; any split of the
//! rows into partitions gives the same model and inertia never rises from
//! one epoch to the next (proptest); one seed, one model; and features
//! from batches are refused, naming the column and row, when they are not
//! numbers, null, NaN or infinite, or fewer rows than `k`.

use faro_ml::seeded::Seeded;
use faro_ml::{fit_local, Features, KMeans, KMeansModel, MlError};
use faro_runtime::data::{Batch, BatchBuilder, DataType, Field, Schema, Value, VectorElement};
use proptest::prelude::*;

/// `per_blob` points around each of `centers`, with unit Gaussian noise.
fn blobs(centers: &[Vec<f64>], per_blob: usize, seed: u64) -> Features {
    let mut random = Seeded::new(seed);
    let mut gaussian = move || {
        // Box–Muller.
        let (u, v) = (random.next_f64().max(f64::MIN_POSITIVE), random.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let dim = centers[0].len();
    let mut values = Vec::new();
    for i in 0..per_blob * centers.len() {
        let center = &centers[i % centers.len()];
        values.extend(center.iter().map(|c| c + gaussian()));
    }
    Features::new(dim, values).unwrap()
}

/// Lloyd's algorithm written out plainly: per epoch the inertia under
/// the current centers and the centers after.
fn naive_lloyd(rows: &Features, model: &KMeansModel, epochs: usize) -> Vec<(f64, Vec<f64>)> {
    let (k, dim) = (model.k(), model.dim);
    let mut centers = model.centers.clone();
    let mut out = Vec::new();
    for _ in 0..epochs {
        let mut sums = vec![0.0; k * dim];
        let mut counts = vec![0usize; k];
        let mut inertia = 0.0;
        for i in 0..rows.rows() {
            let x = rows.row(i);
            let distance = |c: usize| -> f64 {
                (0..dim)
                    .map(|f| (x[f] - centers[c * dim + f]).powi(2))
                    .sum()
            };
            let best = (0..k)
                .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
                .unwrap();
            inertia += distance(best);
            counts[best] += 1;
            for f in 0..dim {
                sums[best * dim + f] += x[f];
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                for f in 0..dim {
                    centers[c * dim + f] = sums[c * dim + f] / counts[c] as f64;
                }
            }
        }
        out.push((inertia, centers.clone()));
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn epochs_over_partitions_match_a_naive_lloyd_and_find_the_blobs() {
    let truth = vec![
        vec![-8.0, 0.0, 3.0],
        vec![0.0, 9.0, -4.0],
        vec![7.0, -6.0, 0.0],
        vec![6.0, 6.0, 6.0],
    ];
    let rows = blobs(&truth, 500, 11);
    let kmeans = KMeans::new(4, 1e-4, 42).unwrap();
    let init = kmeans.init(&rows).unwrap();
    let epochs = fit_local(&kmeans, init.clone(), &rows.partitions(3), 50).unwrap();
    let last = epochs.last().unwrap();
    assert!(last.converged, "well-separated blobs converge in 50 epochs");
    let reference = naive_lloyd(&rows, &init, epochs.len());
    for (epoch, (inertia, centers)) in epochs.iter().zip(&reference) {
        assert!(close(epoch.loss, *inertia), "{} vs {inertia}", epoch.loss);
        assert!(epoch
            .model
            .centers
            .iter()
            .zip(centers)
            .all(|(a, b)| close(*a, *b)));
    }
    // Each true center has a found one within the noise.
    for center in &truth {
        let nearest = (0..4)
            .map(|c| faro_ml::kmeans::squared(last.model.center(c), center))
            .fold(f64::INFINITY, f64::min);
        assert!(nearest < 0.1, "{center:?}: {nearest}");
    }
    // Inertia per row near the noise's variance (3 unit dimensions).
    let per_row = epochs.last().unwrap().loss / rows.rows() as f64;
    assert!((2.5..3.5).contains(&per_row), "{per_row}");
}

#[test]
fn one_seed_gives_one_model_and_the_initial_centers_are_distinct_rows() {
    let rows = blobs(&[vec![0.0, 0.0], vec![5.0, 5.0], vec![0.0, 9.0]], 40, 3);
    let kmeans = KMeans::new(6, 1e-4, 9).unwrap();
    let (a, b) = (kmeans.init(&rows).unwrap(), kmeans.init(&rows).unwrap());
    assert_eq!(a, b);
    let other = KMeans::new(6, 1e-4, 10).unwrap().init(&rows).unwrap();
    assert_ne!(a.centers, other.centers, "another seed, other centers");
    for c in 0..6 {
        assert!((0..rows.rows()).any(|i| rows.row(i) == a.center(c)));
        for d in 0..c {
            assert_ne!(a.center(c), a.center(d));
        }
    }
    let run = |model: KMeansModel| fit_local(&kmeans, model, &rows.partitions(2), 30).unwrap();
    assert_eq!(run(a), run(b));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_gives_the_same_epochs_and_inertia_never_rises(
        values in proptest::collection::vec(-100i32..100, 2..240),
        dim in 1usize..4,
        k in 1usize..5,
        parts in 1usize..6,
        seed in any::<u64>(),
    ) {
        let rows = values.len() / dim;
        prop_assume!(rows >= k);
        let values: Vec<f64> = values[..rows * dim].iter().map(|&v| f64::from(v) / 4.0).collect();
        let rows = Features::new(dim, values).unwrap();
        let kmeans = KMeans::new(k, 0.0, seed).unwrap();
        let init = kmeans.init(&rows).unwrap();
        let whole = fit_local(&kmeans, init.clone(), std::slice::from_ref(&rows), 15).unwrap();
        let parted = fit_local(&kmeans, init, &rows.partitions(parts), 15).unwrap();
        prop_assert_eq!(whole.len(), parted.len());
        for (a, b) in whole.iter().zip(&parted) {
            prop_assert!(close(a.loss, b.loss), "{} vs {}", a.loss, b.loss);
            prop_assert!(a.model.centers.iter().zip(&b.model.centers).all(|(x, y)| close(*x, *y)));
        }
        for pair in whole.windows(2) {
            prop_assert!(pair[1].loss <= pair[0].loss * (1.0 + 1e-12) + 1e-9);
        }
    }
}

fn batch(fields: Vec<Field>, rows: &[Vec<Value>]) -> Batch {
    let mut builder = BatchBuilder::new(Schema::new(fields), rows.len());
    for row in rows {
        builder.push_row(row).unwrap();
    }
    builder.finish().unwrap()
}

fn features(batch: &Batch, columns: &[&str]) -> Result<Features, MlError> {
    let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    Features::from_batch(batch, &columns)
}

#[test]
fn numeric_and_vector_columns_give_the_same_features() {
    let numeric = batch(
        vec![
            Field::new("x", DataType::Float64),
            Field::new("n", DataType::Int64),
        ],
        &[
            vec![Value::Float64(1.5), Value::Int64(2)],
            vec![Value::Float64(-3.0), Value::Int64(7)],
        ],
    );
    let vector = DataType::Vector {
        element: VectorElement::F64,
        dim: 2,
    };
    let packed = batch(
        vec![Field::new("v", vector)],
        &[
            vec![Value::F64Vector(vec![1.5, 2.0])],
            vec![Value::F64Vector(vec![-3.0, 7.0])],
        ],
    );
    let expected = Features::new(2, vec![1.5, 2.0, -3.0, 7.0]).unwrap();
    assert_eq!(features(&numeric, &["x", "n"]).unwrap(), expected);
    assert_eq!(features(&packed, &["v"]).unwrap(), expected);
}

#[test]
fn bad_features_and_params_are_named() {
    let rows = batch(
        vec![
            Field::new("x", DataType::Float64),
            Field::new("name", DataType::Utf8),
            Field::nullable("maybe", DataType::Float64),
        ],
        &[
            vec![
                Value::Float64(1.0),
                Value::Utf8("a".into()),
                Value::Float64(1.0),
            ],
            vec![
                Value::Float64(f64::NAN),
                Value::Utf8("b".into()),
                Value::Null,
            ],
        ],
    );
    let error = |columns: &[&str]| features(&rows, columns).unwrap_err().to_string();
    assert_eq!(
        error(&["x"]),
        "feature column \"x\" holds NaN in row 1; features must be finite"
    );
    assert!(
        error(&["name"]).starts_with("feature column \"name\" is utf8; features must be numbers")
    );
    assert_eq!(
        error(&["maybe"]),
        "feature column \"maybe\" is null in row 1"
    );
    assert_eq!(error(&["label"]), "no feature column \"label\"");
    let infinite = Features::new(2, vec![0.0, f64::INFINITY])
        .unwrap_err()
        .to_string();
    assert!(infinite.contains("holds inf in row 0"), "{infinite}");

    let two = Features::new(1, vec![1.0, 2.0]).unwrap();
    let error = KMeans::new(3, 1e-4, 1).unwrap().init(&two).unwrap_err();
    assert_eq!(
        error.to_string(),
        "k = 3 is more than the 2 rows to cluster"
    );
    assert!(KMeans::new(0, 1e-4, 1).is_err());
    assert!(KMeans::new(2, f64::NAN, 1).is_err());
}
