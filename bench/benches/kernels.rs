//! Criterion benchmarks of the compute kernels the 10×-Spark targets rest
//! on (`../shared/BASELINES.md`): expression evaluation, hash aggregation
//! with 1M distinct keys, sorting 10M rows of 100 bytes, and hash
//! partitioning. Run: `cargo bench -p faro-bench --bench kernels`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use faro_runtime::exchange::partition::{Partitioner, Route};
use faro_runtime::expr::{EvalContext, Expr};
use faro_runtime::kernels::take::take_batch;
use faro_runtime::operator::{Operator, OperatorContext, Rows, Source};
use faro_runtime::operators::aggregate::{
    Aggregate, AggregateFunction, AggregateMode, AggregateParams, AggregateSpec,
};
use faro_runtime::operators::basic::{Generate, GenerateParams};
use faro_runtime::operators::sort::{Sort, SortKey};
use faro_runtime::spec::columns;
use faro_runtime::spec::Partitioning;
use faro_runtime::Batch;

fn context() -> OperatorContext {
    OperatorContext {
        vertex: "bench".into(),
        subtask: 0,
        parallelism: 1,
        attempt: 0,
        spill_dir: std::env::temp_dir(),
        access: std::sync::Arc::new(faro_runtime::access::AccessPolicy::deny_all()),
    }
}

fn generate(rows: u64, exprs: &[(&str, &str)]) -> Vec<Batch> {
    let mut source = Generate::new(GenerateParams {
        rows: Some(rows),
        columns: columns(exprs),
        seed: 7,
        batch_rows: 8192,
        rows_per_second: None,
        event_time: None,
    })
    .expect("valid columns");
    source.open(&context()).expect("opens");
    let mut batches = Vec::new();
    while let Some(batch) = source.next_batch().expect("generates") {
        batches.push(batch);
    }
    batches
}

fn rows(batches: &[Batch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

fn expressions(c: &mut Criterion) {
    let bids = generate(
        1 << 20,
        &[
            ("auction", "random_int(0, 10000)"),
            ("price", "random_int(1, 100000)"),
            ("channel", "CASE WHEN i % 4 = 0 THEN 'web' ELSE 'app' END"),
        ],
    );
    let schema = bids[0].schema().clone();
    let mut group = c.benchmark_group("expression");
    group.throughput(Throughput::Elements(rows(&bids)));
    for text in [
        "price * 0.908",
        "auction % 123 = 0 AND channel <> 'x'",
        "CASE WHEN price > 50000 THEN 'high' WHEN price > 1000 THEN 'mid' ELSE 'low' END",
    ] {
        let expr = Expr::compile(text, &schema).expect("compiles");
        group.bench_function(text, |b| {
            b.iter(|| {
                for batch in &bids {
                    let rows = Rows::of_batch(batch);
                    std::hint::black_box(
                        expr.eval_column(&rows.input(EvalContext::default()))
                            .expect("evaluates"),
                    );
                }
            })
        });
    }
    group.finish();
}

fn aggregation(c: &mut Criterion) {
    // 4M rows over 1M distinct keys: GROUP BY key SUM(val), COUNT(*).
    let input = generate(4 << 20, &[("key", "i % 1000000"), ("val", "i")]);
    let schema = input[0].schema().clone();
    let params = AggregateParams {
        group_by: vec!["key".into()],
        aggregates: vec![
            AggregateSpec {
                name: "total".into(),
                function: AggregateFunction::Sum,
                expr: Some("val".into()),
            },
            AggregateSpec {
                name: "n".into(),
                function: AggregateFunction::Count,
                expr: None,
            },
        ],
        memory_bytes: None,
    };
    let mut group = c.benchmark_group("hash_aggregate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows(&input)));
    group.bench_function("4M rows, 1M keys, sum+count", |b| {
        b.iter_batched(
            || Aggregate::new(&params, &schema, AggregateMode::Complete).expect("valid"),
            |mut op| {
                let mut out = Vec::new();
                for batch in &input {
                    op.process(0, &Rows::of_batch(batch), &mut out)
                        .expect("aggregates");
                }
                op.end_input(0, &mut out).expect("emits");
                assert_eq!(rows(&out), 1_000_000);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn sorting(c: &mut Criterion) {
    // 10M rows of 100 bytes: a 10-byte random key and a 90-byte payload.
    let input = generate(
        10_000_000,
        &[
            ("key", "substr(CAST(random_int(1000000000, 9999999999) AS VARCHAR), 1, 10)"),
            ("payload", "concat('payload-', CAST(i AS VARCHAR), '-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')"),
        ],
    );
    let schema = input[0].schema().clone();
    let keys = [SortKey {
        column: "key".into(),
        descending: false,
    }];
    let mut group = c.benchmark_group("sort");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows(&input)));
    group.bench_function("10M rows x 100 B", |b| {
        b.iter_batched(
            || Sort::new(&keys, &schema, None).expect("valid"),
            |mut op| {
                let mut out = Vec::new();
                op.open(&context()).expect("opens");
                for batch in &input {
                    op.process(0, &Rows::of_batch(batch), &mut out)
                        .expect("buffers");
                }
                op.end_input(0, &mut out).expect("sorts");
                assert_eq!(rows(&out), 10_000_000);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn partitioning(c: &mut Criterion) {
    let input = generate(1 << 20, &[("key", "random_int(0, 1000000)"), ("val", "i")]);
    let schema = input[0].schema().clone();
    let mut group = c.benchmark_group("partition");
    group.throughput(Throughput::Elements(rows(&input)));
    group.bench_function("hash, 8 consumers, route + split", |b| {
        let mut partitioner =
            Partitioner::new(Partitioning::Hash(vec!["key".into()]), vec![0], 8, 0);
        b.iter(|| {
            for batch in &input {
                let rows = Rows::of_batch(batch);
                if let Route::Split(split) = partitioner.route(&rows) {
                    for part in split.iter().filter(|p| !p.is_empty()) {
                        std::hint::black_box(
                            take_batch(&schema, &rows.columns, part).expect("splits"),
                        );
                    }
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, expressions, aggregation, sorting, partitioning);
criterion_main!(benches);
