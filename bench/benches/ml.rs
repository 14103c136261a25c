//! One epoch's local fold over 1M rows of 20 features, the shape of the
//! issue's benchmark, as every subtask runs it on its partition, against
//! the bytes it scans: KMeans (k = 10) and logistic regression (one
//! evaluation of the loss and gradient, two classes).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faro_ml::seeded::Seeded;
use faro_ml::{EpochStep, Features, KMeans, LogisticModel, LogisticRegression};

fn kmeans_epoch(c: &mut Criterion) {
    let (rows, dim) = (1_000_000, 20);
    let mut random = Seeded::new(1);
    let values: Vec<f64> = (0..rows * dim).map(|_| random.next_f64() * 10.0).collect();
    let features = Features::new(dim, values).expect("finite features");
    let kmeans = KMeans::new(10, 1e-4, 7).expect("valid params");
    let sample = Features::new(dim, features.values()[..10_000 * dim].to_vec()).expect("sample");
    let model = kmeans.init(&sample).expect("k-means++");
    let mut group = c.benchmark_group("kmeans");
    group.sample_size(10);
    group.throughput(Throughput::Bytes((rows * dim * 8) as u64));
    group.bench_function("epoch 1M x 20, k=10", |b| {
        b.iter(|| {
            let mut partial = kmeans.empty(&model);
            kmeans
                .local(&model, &features, &mut partial)
                .expect("an epoch");
            partial.inertia
        })
    });
    group.finish();
}

fn logistic_epoch(c: &mut Criterion) {
    let (rows, dim) = (1_000_000, 20);
    let mut random = Seeded::new(2);
    let values: Vec<f64> = (0..rows * dim)
        .map(|_| random.next_f64() * 2.0 - 1.0)
        .collect();
    let labels: Vec<f64> = (0..rows)
        .map(|r| f64::from(u8::from(values[r * dim] > 0.0)))
        .collect();
    let features = Features::new(dim, values)
        .and_then(|f| f.with_labels(labels))
        .expect("finite features");
    let step = LogisticRegression::new(2, 1e-4, 1e-6).expect("valid params");
    let mut model = LogisticModel::zero(dim, 2);
    model.point.iter_mut().for_each(|w| *w = 0.1);
    let mut group = c.benchmark_group("logistic");
    group.sample_size(10);
    group.throughput(Throughput::Bytes((rows * dim * 8) as u64));
    group.bench_function("epoch 1M x 20, binary", |b| {
        b.iter(|| {
            let mut partial = step.empty(&model);
            step.local(&model, &features, &mut partial)
                .expect("an epoch");
            partial.loss
        })
    });
    group.finish();
}

criterion_group!(benches, kmeans_epoch, logistic_epoch);
criterion_main!(benches);
