"""The training data of the side-by-side ML benchmark, as Parquet, so
Faro, scikit-learn and Spark MLlib read the same rows:

- blobs.parquet: 1,000,000 rows x 20 float64 features (f0..f19), ten
  overlapping blobs (scikit-learn's make_blobs, cluster_std 6: Lloyd's
  iterations keep moving for about twenty epochs);
- classes_train.parquet / classes_test.parquet: 800,000 / 200,000 rows of
  20 features and a 0/1 `label` (make_classification, 10 informative and 5
  redundant features, 1 % of labels flipped).

Row groups of 131,072 rows, so Faro's `read` shares a file out across
subtasks. Needs scikit-learn and pyarrow (a venv, not CI):

    python3 bench/ml/make_data.py /tmp/faro-ml
"""

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import make_blobs, make_classification

ROW_GROUP = 131_072


def write(path, features, label=None):
    columns = {f"f{j}": features[:, j] for j in range(features.shape[1])}
    if label is not None:
        columns["label"] = label.astype(np.int64)
    pq.write_table(pa.table(columns), path, row_group_size=ROW_GROUP)


def main(out):
    os.makedirs(out, exist_ok=True)
    x, _ = make_blobs(
        n_samples=1_000_000, n_features=20, centers=10, cluster_std=6.0, random_state=42
    )
    write(os.path.join(out, "blobs.parquet"), x)
    x, y = make_classification(
        n_samples=1_000_000,
        n_features=20,
        n_informative=10,
        n_redundant=5,
        flip_y=0.01,
        random_state=42,
    )
    write(os.path.join(out, "classes_train.parquet"), x[:800_000], y[:800_000])
    write(os.path.join(out, "classes_test.parquet"), x[800_000:], y[800_000:])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/faro-ml")
