"""Writes the Parquet files `actor-runtime/tests/parquet.rs` reads, with
pyarrow (another writer than Faro's own), so the tests check that files
made elsewhere read correctly. Run from this directory:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pyarrow
    /tmp/venv/bin/python make_fixtures.py

The files are committed; rerunning this rewrites them with the same rows.
Made with pyarrow 26.0.1.
"""

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 10


def mixed_table():
    utc = dt.timezone.utc
    return pa.table(
        {
            "id": pa.array(range(ROWS), pa.int32()),
            "name": pa.array([None if i % 4 == 1 else f"n{i}é" for i in range(ROWS)]),
            "price": pa.array([None if i % 3 == 2 else i * 1.5 for i in range(ROWS)]),
            "ok": pa.array([None if i == 5 else i % 2 == 0 for i in range(ROWS)]),
            "at": pa.array(
                [dt.datetime(2026, 1, 1, 0, 0, i, 250_000, tzinfo=utc) for i in range(ROWS)],
                pa.timestamp("us", tz="UTC"),
            ),
            "day": pa.array([dt.date(2026, 1, 1 + i) for i in range(ROWS)], pa.date32()),
            "count": pa.array([10**12 + i for i in range(ROWS)], pa.int64()),
            "score": pa.array([i / 4 for i in range(ROWS)], pa.float32()),
            "features": pa.array(
                [None if i == 7 else [float(i), i + 0.5, -float(i)] for i in range(ROWS)],
                pa.list_(pa.float64()),
            ),
            "unread": pa.array([b"x" * 100] * ROWS, pa.binary()),
        }
    )


def main():
    table = mixed_table()
    # Three row groups (4 + 4 + 2 rows), snappy and dictionaries: pyarrow's
    # defaults.
    pq.write_table(table, "mixed.parquet", row_group_size=4)
    # The same rows as version-2 data pages, plain-encoded, uncompressed.
    pq.write_table(
        table,
        "mixed_v2_plain.parquet",
        row_group_size=3,
        data_page_version="2.0",
        use_dictionary=False,
        compression="none",
    )
    # Other codecs: gzip and lz4 are read; zstd is not built in.
    pq.write_table(table, "gzip.parquet", compression="gzip")
    pq.write_table(table, "lz4.parquet", compression="lz4")
    pq.write_table(table, "zstd.parquet", compression="zstd")
    # Vectors of uneven length: row 2 has two numbers.
    ragged = pa.table(
        {"features": pa.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0]])}
    )
    pq.write_table(ragged, "ragged.parquet")


if __name__ == "__main__":
    main()
