//! Trained models saved as files and applied by `predict` in jobs: each
//! kind's file reads back equal, and a batch job and a streaming job over
//! the same rows predict what the trained model itself predicts; a
//! missing, truncated, mistyped or misshapen file, a file outside the
//! worker's read roots and a non-numeric feature column are each refused
//! with the reason.

use std::path::Path;

use faro_ml::model_file::ModelFile;
use faro_ml::LogisticRegression;
use faro_ml::{fit_local, Features, KMeans, LinearModel, LinearRegression, LogisticModel};
use faro_runtime::access::AccessPolicy;
use faro_runtime::data::Value;
use faro_runtime::kernels::views;
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;

const ROWS: i64 = 600;

/// Row `i`'s features, as the generated job computes them.
fn x(i: i64) -> [f64; 2] {
    [(i % 17 - 8) as f64, ((i * 7) % 13 - 6) as f64]
}

fn training(label: impl Fn([f64; 2]) -> f64) -> Features {
    let rows: Vec<[f64; 2]> = (0..ROWS).map(x).collect();
    let labels = rows.iter().map(|r| label(*r)).collect();
    Features::new(2, rows.concat())
        .unwrap()
        .with_labels(labels)
        .unwrap()
}

/// `generate` → `predict` (params `predict`) → `collect`, in `mode`.
fn job(mode: &str, predict: &str) -> JobSpec {
    JobSpec::parse(&format!(
        r#"{{"mode": "{mode}", "vertices": [
          {{"id": "rows", "operator": "generate", "parallelism": 2, "params": {{"rows": {ROWS}, "batch_rows": 64,
             "columns": [{{"name": "i", "expr": "i"}}, {{"name": "x", "expr": "i % 17 - 8"}},
                         {{"name": "y", "expr": "(i * 7) % 13 - 6"}}, {{"name": "name", "expr": "'r'"}}]}}}},
          {{"id": "model", "operator": "predict", "parallelism": 2, "params": {predict}}},
          {{"id": "out", "operator": "collect"}}],
         "edges": [{{"from": "rows", "to": "model", "partitioning": "forward"}},
                   {{"from": "model", "to": "out", "partitioning": "rebalance"}}]}}"#
    ))
    .unwrap()
}

/// The job's predictions by row `i`, or its error.
async fn predictions(spec: &JobSpec, dir: &Path) -> Result<Vec<(i64, Value)>, String> {
    faro_ml::register();
    let job = validate(spec).map_err(|e| e.to_string())?;
    let worker = Worker::start(2, None)
        .unwrap()
        .with_access(AccessPolicy::new(&[dir.to_path_buf()], &[]).unwrap());
    // Tests run at once in this process, and their workers share the
    // spill root: one job's cleanup must not meet another's directories.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let env = JobEnv {
        job_id: format!("predict-{run}"),
        shuffle: None,
        max_frame: 1 << 20,
    };
    let output = run_job(&job, &[&worker], &env)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for batch in &output.collected {
        let columns = views(batch);
        for r in 0..batch.num_rows() {
            let Value::Int64(i) = columns[0].value(r) else {
                panic!("i is an integer")
            };
            out.push((i, columns[4].value(r)));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

fn params(path: &Path, kind: &str) -> String {
    format!(
        r#"{{"model": "{}", "kind": "{kind}", "features": ["x", "y"]}}"#,
        path.display()
    )
}

/// Saves `file`, checks it reads back equal, and runs it in both modes.
async fn applied(file: &ModelFile, kind: &str) -> Vec<(i64, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{kind}.json"));
    file.save(&path).unwrap();
    assert_eq!(&ModelFile::load(&path).unwrap(), file);
    let batch = predictions(&job("batch", &params(&path, kind)), dir.path()).await;
    let streaming = predictions(&job("streaming", &params(&path, kind)), dir.path()).await;
    let batch = batch.unwrap();
    assert_eq!(batch.len(), ROWS as usize);
    assert_eq!(Ok(&batch), streaming.as_ref(), "one model, both modes");
    batch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_model_predicts_in_jobs_what_it_predicts_itself() {
    let features = vec!["x".to_string(), "y".to_string()];

    let rows = training(|_| 0.0);
    let kmeans = KMeans::new(4, 1e-6, 3).unwrap();
    let epochs = fit_local(
        &kmeans,
        kmeans.init(&rows).unwrap(),
        std::slice::from_ref(&rows),
        30,
    )
    .unwrap();
    let centers = epochs.last().unwrap().model.clone();
    let assigned = centers.assign(&rows);
    for (i, value) in applied(&ModelFile::kmeans(features.clone(), &centers), "kmeans").await {
        assert_eq!(
            value,
            Value::Int64(assigned[i as usize].0 as i64),
            "row {i}"
        );
    }

    let rows = training(|[a, b]| 3.0 + 2.0 * a - b);
    let step = LinearRegression::new(0.0).unwrap();
    let linear = fit_local(&step, LinearModel::zero(2), std::slice::from_ref(&rows), 1).unwrap()[0]
        .model
        .clone();
    for (i, value) in applied(&ModelFile::linear(features.clone(), "y", &linear), "linear").await {
        let Value::Float64(v) = value else {
            panic!("a linear prediction is f64")
        };
        assert!((v - linear.predict(&x(i))).abs() < 1e-9, "row {i}");
    }

    let rows = training(|[a, b]| f64::from(u8::from(a + 0.5 * b > 1.0)));
    let step = LogisticRegression::new(2, 1e-2, 1e-8).unwrap();
    let epochs = fit_local(
        &step,
        LogisticModel::zero(2, 2),
        std::slice::from_ref(&rows),
        200,
    )
    .unwrap();
    let logistic = epochs.last().unwrap().model.clone();
    let file = ModelFile::logistic(features.clone(), "label", &logistic);
    for (i, value) in applied(&file, "logistic").await {
        let p = logistic.probabilities(&x(i));
        assert_eq!(value, Value::Int64(i64::from(p[1] > p[0])), "row {i}");
    }
    assert!(logistic.accuracy > 0.95);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_model_files_and_features_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let run = |params: String| {
        let dir = dir.path().to_path_buf();
        async move { predictions(&job("batch", &params), &dir).await.unwrap_err() }
    };
    let missing = dir.path().join("missing.json");
    let error = run(params(&missing, "kmeans")).await;
    assert!(error.contains("missing.json: reading"), "{error}");

    let linear = ModelFile::linear(
        vec!["x".into(), "y".into()],
        "y",
        &LinearModel {
            weights: vec![1.0, 2.0],
            intercept: 0.0,
        },
    );
    let path = dir.path().join("linear.json");
    linear.save(&path).unwrap();
    let error = run(params(&path, "kmeans")).await;
    assert!(
        error.contains("holds a linear model, and the vertex says kmeans"),
        "{error}"
    );

    let text = std::fs::read_to_string(&path).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let error = run(params(&cut, "linear")).await;
    assert!(error.contains("cut.json: EOF while parsing"), "{error}");

    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, text.replace("2.0", "2.0, 7.0")).unwrap();
    let error = run(params(&odd, "linear")).await;
    assert!(
        error.contains("3 weights (and intercept 0) for 2 features"),
        "{error}"
    );

    let one = dir.path().join("one.json");
    let single = ModelFile::linear(vec!["x".into()], "y", &LinearModel::zero(1));
    single.save(&one).unwrap();
    let error = run(params(&one, "linear")).await;
    assert!(
        error.contains("has 1 features (x), and the columns x, y give 2"),
        "{error}"
    );

    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("linear.json");
    linear.save(&elsewhere).unwrap();
    let error = run(params(&elsewhere, "linear")).await;
    assert!(
        error.contains("refused: it resolves to")
            || error.contains("outside what this worker allows"),
        "{error}"
    );

    let error = run(format!(
        r#"{{"model": "{}", "kind": "linear", "features": ["x", "name"]}}"#,
        path.display()
    ))
    .await;
    assert!(error.contains("feature column \"name\" is utf8"), "{error}");
}
