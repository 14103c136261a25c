"""Issue 14's ML benchmark: KMeans (k = 10, at most 20 iterations) and
logistic regression (L-BFGS, at most 100 iterations) on 1M x 20 rows,
trained by Faro, scikit-learn and Spark MLlib on the same Parquet files in
one run, a few rounds each, on this machine's two cores.

Every model is scored here, the same way (numpy): KMeans by its inertia
on all the rows, logistic regression by its accuracy on the 200,000
held-out rows. Times:
- Faro: the whole `faro run` (process start, reading Parquet, caching in
  the shuffle service, every epoch, saving the model), and the sum of its
  epochs as the job reports them;
- scikit-learn: `fit` on arrays already in memory, and reading the Parquet
  file into those arrays;
- Spark: `fit` on a cached DataFrame, and reading + caching it (JVM start
  left out).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn pyarrow pyspark
    /tmp/venv/bin/python bench/ml/make_data.py /tmp/faro-ml
    /tmp/venv/bin/python bench/ml/side_by_side.py --faro target/release/faro --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
import pyarrow.parquet as pq

DATA = "/tmp/faro-ml"
HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = [f"f{j}" for j in range(20)]


def load(name):
    table = pq.read_table(os.path.join(DATA, name))
    x = np.column_stack([table.column(f).to_numpy() for f in FEATURES])
    y = table.column("label").to_numpy() if "label" in table.column_names else None
    return x, y


def inertia(x, centers):
    centers = np.asarray(centers)
    total = 0.0
    for start in range(0, len(x), 100_000):
        block = x[start : start + 100_000]
        d = (block**2).sum(1)[:, None] - 2 * block @ centers.T + (centers**2).sum(1)[None, :]
        total += np.maximum(d.min(1), 0).sum()
    return total


def accuracy(x, y, intercept, weights):
    return float((((x @ np.asarray(weights) + intercept) > 0).astype(int) == y).mean())


def faro(binary, spec):
    started = time.perf_counter()
    out = subprocess.run(
        [binary, "run", os.path.join(HERE, spec), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    return wall, json.loads(out.stdout), out.stderr


def epoch_seconds(stderr):
    """The epochs' durations `faro run` prints ("train: epoch 3 done in
    58 ms, ..."), summed, in seconds."""
    total = 0.0
    for line in stderr.splitlines():
        if ": epoch " in line and " done in " in line:
            total += float(line.split(" done in ")[1].split(" ms")[0]) / 1000
    return total


def run_faro(binary, x_blobs, x_test, y_test):
    wall, rows, stderr = faro(binary, "kmeans_parquet.yaml")
    with open(os.path.join(DATA, "kmeans.model.json")) as f:
        centers = json.load(f)["centers"]
    kmeans = dict(
        wall=wall,
        epochs_s=epoch_seconds(stderr),
        iterations=len(rows) - 1,
        inertia=inertia(x_blobs, centers),
    )
    wall, rows, stderr = faro(binary, "logistic_parquet.yaml")
    with open(os.path.join(DATA, "logistic.model.json")) as f:
        coefficients = json.load(f)["coefficients"][0]
    _, scored, _ = faro(binary, "logistic_accuracy.yaml")
    logistic = dict(
        wall=wall,
        epochs_s=epoch_seconds(stderr),
        iterations=len(rows) - 1,
        accuracy=accuracy(x_test, y_test, coefficients[0], coefficients[1:]),
        faro_accuracy=scored[0]["correct"] / scored[0]["rows"],
    )
    return kmeans, logistic


def run_sklearn(x_blobs, x_train, y_train, x_test, y_test):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    load("blobs.parquet")
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    model = KMeans(n_clusters=10, n_init=1, max_iter=20, tol=1e-4, random_state=1).fit(x_blobs)
    kmeans = dict(
        fit=time.perf_counter() - started,
        read=read_s,
        iterations=model.n_iter_,
        inertia=inertia(x_blobs, model.cluster_centers_),
    )
    started = time.perf_counter()
    load("classes_train.parquet")
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    model = LogisticRegression(max_iter=100).fit(x_train, y_train)
    logistic = dict(
        fit=time.perf_counter() - started,
        read=read_s,
        iterations=int(model.n_iter_[0]),
        accuracy=accuracy(x_test, y_test, model.intercept_[0], model.coef_[0]),
    )
    return kmeans, logistic


def run_spark(spark, x_blobs, x_test, y_test):
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import VectorAssembler

    assembler = VectorAssembler(inputCols=FEATURES, outputCol="features")

    def cached(name, columns):
        started = time.perf_counter()
        frame = assembler.transform(spark.read.parquet(os.path.join(DATA, name)))
        frame = frame.select(*columns).cache()
        frame.count()
        return frame, time.perf_counter() - started

    points, read_s = cached("blobs.parquet", ["features"])
    started = time.perf_counter()
    model = KMeans(k=10, maxIter=20, tol=1e-4, seed=1).fit(points)
    kmeans = dict(
        fit=time.perf_counter() - started,
        read=read_s,
        iterations=model.summary.numIter,
        inertia=inertia(x_blobs, model.clusterCenters()),
    )
    points.unpersist()
    rows, read_s = cached("classes_train.parquet", ["features", "label"])
    started = time.perf_counter()
    model = LogisticRegression(maxIter=100, regParam=1 / 800_000).fit(rows)
    logistic = dict(
        fit=time.perf_counter() - started,
        read=read_s,
        iterations=model.summary.totalIterations,
        accuracy=accuracy(x_test, y_test, model.intercept, model.coefficients.toArray()),
    )
    rows.unpersist()
    return kmeans, logistic


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--faro", default="target/release/faro")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    x_blobs, _ = load("blobs.parquet")
    x_train, y_train = load("classes_train.parquet")
    x_test, y_test = load("classes_test.parquet")
    spark = None
    if not args.skip_spark:
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.driver.memory", "8g")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
    results = {"faro": ([], []), "sklearn": ([], []), "spark": ([], [])}
    for round_ in range(args.rounds):
        for name in results:
            if name == "spark" and spark is None:
                continue
            if name == "faro":
                k, l = run_faro(args.faro, x_blobs, x_test, y_test)
            elif name == "sklearn":
                k, l = run_sklearn(x_blobs, x_train, y_train, x_test, y_test)
            else:
                k, l = run_spark(spark, x_blobs, x_test, y_test)
            results[name][0].append(k)
            results[name][1].append(l)
            print(f"round {round_} {name}: kmeans {k}\n    logistic {l}", flush=True)
    print(json.dumps(results, indent=1))
    print("\n| engine | KMeans: time | iterations | inertia | LR: time | iterations | test accuracy |")
    print("|---|---|---|---|---|---|---|")
    for name, (k, l) in results.items():
        if not k:
            continue
        if name == "faro":
            k_time = f"{median(k, 'wall'):.2f} s whole job ({median(k, 'epochs_s'):.2f} s in epochs)"
            l_time = f"{median(l, 'wall'):.2f} s whole job ({median(l, 'epochs_s'):.2f} s in epochs)"
        else:
            k_time = f"{median(k, 'fit'):.2f} s fit (+{median(k, 'read'):.2f} s read)"
            l_time = f"{median(l, 'fit'):.2f} s fit (+{median(l, 'read'):.2f} s read)"
        print(
            f"| {name} | {k_time} | {median(k, 'iterations'):.0f} | {median(k, 'inertia'):.6e} "
            f"| {l_time} | {median(l, 'iterations'):.0f} | {median(l, 'accuracy'):.4f} |"
        )


if __name__ == "__main__":
    main()
